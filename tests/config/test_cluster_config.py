"""The `cluster` section: absent by default (one process), its defaults, the address forms, its mistakes."""

from __future__ import annotations

import pytest

from gunwatch.config import ConfigError
from gunwatch.config.cluster import ClusterSettings, ray_endpoint, with_cluster_address
from gunwatch.events.store.leases import DEFAULT_LEASE_S

ONE_CAMERA = "cameras: {lobby: {url: a.mp4}}\n"
ADDRESS_PROBLEM = ("cluster.address: must be HOST:PORT (the head's GCS port, as `ray start --head --port`), "
                   "ray://HOST:PORT or auto, such as 10.0.0.10:6379")


def test_without_the_section_the_site_runs_in_one_process(parse) -> None:
    assert parse(ONE_CAMERA).cluster is None


def test_defaults(parse) -> None:
    cluster = parse(ONE_CAMERA + "cluster: {address: '10.0.0.10:6379'}").cluster
    assert cluster is not None
    assert cluster.model_dump() == {
        "address": "10.0.0.10:6379", "namespace": "gunwatch", "shared_evidence": True, "lease_s": 15.0,
        "camera_cpus": 0.25, "detector_cpus": 1.0, "max_cameras_per_node": None, "restart_bound_s": 60.0}
    assert not cluster.client


def test_the_default_lease_is_the_stores_default() -> None:
    assert ClusterSettings.model_fields["lease_s"].default == DEFAULT_LEASE_S


def test_every_field_set(parse) -> None:
    cluster = parse(ONE_CAMERA + """cluster:
      address: ray://gw-head.school.org:10001
      namespace: district-7
      shared_evidence: false
      lease_s: 10
      camera_cpus: 0.5
      detector_cpus: 2
      max_cameras_per_node: 12
      restart_bound_s: 30
    """).cluster
    assert cluster == ClusterSettings(address="ray://gw-head.school.org:10001", namespace="district-7",
                                      shared_evidence=False, lease_s=10, camera_cpus=0.5, detector_cpus=2,
                                      max_cameras_per_node=12, restart_bound_s=30)
    assert cluster.client


@pytest.mark.parametrize(("address", "endpoint"), [
    ("127.0.0.1:6379", ("127.0.0.1", 6379)),
    ("gw-head:6379", ("gw-head", 6379)),
    ("gw-head.school.org:65535", ("gw-head.school.org", 65535)),
    ("ray://10.0.0.10:10001", ("10.0.0.10", 10001)),
    ("[fd00::10]:6379", ("fd00::10", 6379)),
    ("ray://[::1]:10001", ("::1", 10001)),
    ("auto", None),
])
def test_the_address_forms(parse, address: str, endpoint: tuple[str, int] | None) -> None:
    cluster = parse(ONE_CAMERA + f"cluster: {{address: '{address}'}}").cluster
    assert cluster is not None and cluster.address == address
    assert ray_endpoint(address) == endpoint


@pytest.mark.parametrize("address", ["", "gw-head", "6379", ":6379", "gw-head:", "gw-head:port", "gw-head:0",
                                     "gw-head:65536", "http://gw-head:6379", "ray://", "ray://gw-head",
                                     "gw head:6379", "fd00::10:6379", "AUTO"])
def test_addresses_refused(problems, address: str) -> None:
    assert problems(ONE_CAMERA + f"cluster: {{address: '{address}'}}") == [f"site.yaml: {ADDRESS_PROBLEM}"]


@pytest.mark.parametrize(("section", "problem"), [
    ("{}", "cluster.address: required"),
    ("{lease_s: 20}", "cluster.address: required"),
    ("{address: 'h:1', leases: 5}", "cluster.leases: unknown key (did you mean 'lease_s'?)"),
    ("{address: 'h:1', lease_s: 0}", "cluster.lease_s: must be >= 1, got 0"),
    ("{address: 'h:1', camera_cpus: -0.25}", "cluster.camera_cpus: must be >= 0, got -0.25"),
    ("{address: 'h:1', detector_cpus: .inf}", "cluster.detector_cpus: must be a finite number"),
    ("{address: 'h:1', max_cameras_per_node: 0}", "cluster.max_cameras_per_node: must be >= 1, got 0"),
    ("{address: 'h:1', namespace: 'my site'}",
     "cluster.namespace: a name may hold only letters, digits, '_' and '-'"),
    ("{address: 'h:1', shared_evidence: maybe}", "cluster.shared_evidence: must be true or false"),
    ("{address: 'h:1', lease_s: 60}", "cluster.restart_bound_s: must be longer than lease_s (60 s): a lost "
                                      "node's cameras move only once their leases expire"),
    ("[h:1]", "cluster: must be a mapping of keys to values"),
])
def test_mistakes_name_their_key(problems, section: str, problem: str) -> None:
    assert problems(ONE_CAMERA + f"cluster: {section}") == [f"site.yaml: {problem}"]


def test_the_command_line_address_makes_a_cluster_site(parse) -> None:
    site = parse(ONE_CAMERA)
    clustered = with_cluster_address(site, "10.0.0.10:6379")
    assert clustered.cluster == ClusterSettings(address="10.0.0.10:6379")
    assert site.cluster is None  # the site given is left as it was
    assert clustered.cameras == site.cameras


def test_the_command_line_address_overrides_the_files_and_keeps_the_rest(parse) -> None:
    site = parse(ONE_CAMERA + "cluster: {address: 'auto', lease_s: 10, max_cameras_per_node: 4}")
    clustered = with_cluster_address(site, "ray://gw-head:10001")
    assert clustered.cluster == ClusterSettings(address="ray://gw-head:10001", lease_s=10, max_cameras_per_node=4)


def test_a_bad_command_line_address_names_the_option(parse) -> None:
    with pytest.raises(ConfigError) as caught:
        with_cluster_address(parse(ONE_CAMERA), "gw-head")
    assert [str(problem) for problem in caught.value.problems] == [
        f"--cluster: {ADDRESS_PROBLEM.removeprefix('cluster.address: ')}"]
