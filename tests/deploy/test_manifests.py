"""deploy/: every YAML document parses; every Kubernetes object validates against its schema as `kubectl apply`
does with strict field validation (RayCluster against KubeRay's CRD, the rest against Kubernetes' own, both
vendored under schemas/); and the objects agree with each other, with the site file they carry and with the
gunwatch they run: names, mount paths, ports, CPUs, variables, command-line options."""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import typer
import yaml
from referencing import Registry, Resource

from gunwatch.cli import app
from gunwatch.config.errors import ConfigError
from gunwatch.config.load import load_site_config, site_variable_names
from gunwatch.config.site import SiteConfig
from support.smtp_server import self_signed_tls
from support.systemd import verify
from support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERAY = DEPLOY / "kuberay"
RAY_VM = DEPLOY / "ray-vm"
SCHEMAS = Path(__file__).with_name("schemas")
CORE_SCHEMAS = "kubernetes-v1.34-strict.json"  # its name is also the URI the RayCluster schema refers to it by
OBJECT_META = f"{CORE_SCHEMAS}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
# Where docs/cluster.md installs gunwatch on the three machines, as deploy/ray-vm's units name it.
VM_VENV = "/opt/gunwatch/.venv"

Manifest = dict[str, Any]


# --- loading ---------------------------------------------------------------------------------------------

def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))


def kube_objects() -> list[tuple[str, Manifest]]:
    """Every document of deploy/kuberay, named `FILE: Kind/name`."""
    found = []
    for path in sorted(KUBERAY.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                name = document.get("metadata", {}).get("name")
                found.append((f"{path.relative_to(ROOT)}: {document.get('kind')}/{name}", document))
    return found


def the_object(kind: str, name: str | None = None) -> Manifest:
    matches = [o for _, o in kube_objects() if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(matches) == 1, f"deploy/kuberay should hold one {kind} {name or ''}, holds {len(matches)}"
    return matches[0]


def ray_cluster() -> Manifest:
    return the_object("RayCluster")


def ray_groups() -> list[tuple[str, Manifest]]:
    """The RayCluster's head group and worker groups, each with its name."""
    spec = ray_cluster()["spec"]
    return [("head", spec["headGroupSpec"])] + [(g["groupName"], g) for g in spec.get("workerGroupSpecs", [])]


def ray_container(group: Manifest) -> Manifest:
    return group["template"]["spec"]["containers"][0]  # KubeRay's Ray container is the first


def site_tree() -> Manifest:
    """The site file the ConfigMap carries, as YAML."""
    return yaml.safe_load(site_text())


def site_text() -> str:
    configmap = mounted_site_configmap()
    return configmap["data"][site_key()]


def watch_config_path() -> str:
    words = watch_invocation(" ".join(ray_container(ray_cluster()["spec"]["headGroupSpec"])["args"]))
    return option_value(words, "--config", "-c")


def mounted_site_configmap() -> Manifest:
    """The ConfigMap mounted where the head's watch reads its site file."""
    volume, _ = volume_at(ray_cluster()["spec"]["headGroupSpec"], watch_config_path())
    assert "configMap" in volume, f"the watch's --config {watch_config_path()} is not in a ConfigMap volume"
    return the_object("ConfigMap", volume["configMap"]["name"])


def site_key() -> str:
    _, mount = volume_at(ray_cluster()["spec"]["headGroupSpec"], watch_config_path())
    return mount.get("subPath") or Path(watch_config_path()).relative_to(mount["mountPath"]).as_posix()


def volume_at(group: Manifest, path: str) -> tuple[Manifest, Manifest]:
    """The volume and mount of the group's Ray container that `path` lies in."""
    container = ray_container(group)
    mounts = [m for m in container.get("volumeMounts", [])
              if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")]
    assert mounts, f"nothing is mounted at {path} in {container['name']}"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    volumes = {v["name"]: v for v in group["template"]["spec"].get("volumes", [])}
    assert mount["name"] in volumes, f"{container['name']} mounts a volume {mount['name']!r} the pod does not have"
    return volumes[mount["name"]], mount


SHELL_OPERATORS = {"&", "&&", ";", "|", "||", ">", "2>"}


def watch_invocation(script: str) -> list[str]:
    """The words of the `gunwatch watch ...` command in a shell script or a unit's ExecStart."""
    for line in script.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        for i in range(len(words) - 1):
            if Path(words[i]).name == "gunwatch" and words[i + 1] == "watch":
                rest = words[i + 2:]
                ends = [j for j, word in enumerate(rest) if word in SHELL_OPERATORS]
                return rest[:ends[0]] if ends else rest
    raise AssertionError(f"no `gunwatch watch` command in:\n{script}")


def option_value(words: list[str], *names: str) -> str:
    for i, word in enumerate(words):
        if word in names:
            return words[i + 1]
        for name in names:
            if word.startswith(f"{name}="):
                return word.split("=", 1)[1]
    raise AssertionError(f"no {' or '.join(names)} in {shlex.join(words)}")


def watch_options() -> set[str]:
    command = typer.main.get_command(app)
    watch = command.commands["watch"]  # type: ignore[attr-defined]  # a click Group
    return {option for param in watch.params for option in (*param.opts, *param.secondary_opts)}


def cpus(quantity: str | int | float) -> float:
    """A Kubernetes CPU quantity ("4", "500m", 2) in cores."""
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def unit_exec_start(path: Path) -> str:
    lines = [line for line in path.read_text().replace("\\\n", " ").splitlines() if line.startswith("ExecStart=")]
    return [line for line in lines if line != "ExecStart="][-1].removeprefix("ExecStart=")


# --- schemas ---------------------------------------------------------------------------------------------

# A resource quantity's grammar ("4", "500m", "8Gi"), as the CRD writes it: the vendored Kubernetes schemas
# accept any text, the API server does not.
QUANTITY = {"anyOf": [{"type": "number"}, {"type": "string", "pattern": (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$")}]}


@functools.cache
def registry() -> Registry:
    core = json.loads((SCHEMAS / CORE_SCHEMAS).read_text())
    core["$defs"]["io.k8s.apimachinery.pkg.api.resource.Quantity"] = QUANTITY
    return Registry().with_resource(CORE_SCHEMAS, Resource.from_contents(core))


@functools.cache
def core_kinds() -> dict[tuple[str, str], str]:
    """(apiVersion, kind) -> the definition's name, for the top-level kinds of the vendored Kubernetes schemas."""
    core = json.loads((SCHEMAS / CORE_SCHEMAS).read_text())
    kinds = {}
    for name, definition in core["$defs"].items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            kinds[(api_version, gvk["kind"])] = name
    return kinds


@functools.cache
def ray_cluster_schema() -> dict[str, Any]:
    crd = yaml.safe_load((SCHEMAS / "raycluster-v1.yaml").read_text())["openAPIV3Schema"]
    schema = strict(crd)
    # The API server checks a custom resource's metadata as every object's: ObjectMeta.
    schema["properties"]["metadata"] = {"$ref": OBJECT_META}
    schema["properties"]["apiVersion"]["enum"] = ["ray.io/v1"]
    schema["properties"]["kind"]["enum"] = ["RayCluster"]
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    return schema


def strict(schema: Any) -> Any:
    """A CRD's structural schema as strict field validation reads it: an object schema that lists its
    properties admits no other field unless it says so (additionalProperties, preserve-unknown-fields)."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {name: strict(sub) for name, sub in out["properties"].items()}
        if "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    for keyword in ("items", "additionalProperties", "not"):
        if isinstance(out.get(keyword), dict):
            out[keyword] = strict(out[keyword])
    for keyword in ("anyOf", "allOf", "oneOf"):
        if keyword in out:
            out[keyword] = strict(out[keyword])
    return out


def schema_for(manifest: Manifest) -> dict[str, Any]:
    api_version, kind = manifest.get("apiVersion"), manifest.get("kind")
    if (api_version, kind) == ("ray.io/v1", "RayCluster"):
        return ray_cluster_schema()
    name = core_kinds().get((api_version, kind))
    assert name is not None, (f"no schema for {api_version} {kind}: add its definition to ROOTS in "
                              "tests/deploy/schemas/refresh_kubernetes.py and run it")
    return {"$ref": f"{CORE_SCHEMAS}#/$defs/{name}"}


def validate(manifest: Manifest) -> None:
    validator = jsonschema.Draft202012Validator(schema_for(manifest), registry=registry())
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    if errors:
        raise jsonschema.ValidationError("\n".join(f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                                                   for e in errors))


# --- every document parses, every object validates -------------------------------------------------------

@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_document_parses(path: Path) -> None:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert documents, f"{path}: no YAML document"
    if path.is_relative_to(KUBERAY):
        for document in documents:
            assert isinstance(document, dict) and {"apiVersion", "kind", "metadata"} <= document.keys(), (
                f"{path}: every document is a Kubernetes object (apiVersion, kind, metadata)")


@pytest.mark.parametrize(("where", "manifest"), kube_objects(), ids=[w for w, _ in kube_objects()])
def test_every_kubernetes_object_validates(where: str, manifest: Manifest) -> None:
    try:
        validate(manifest)
    except jsonschema.ValidationError as error:
        pytest.fail(f"{where}:\n{error.message}")
    assert manifest["metadata"].get("namespace", "gunwatch") == "gunwatch" or manifest["kind"] == "Namespace"


def _worker(manifest: Manifest) -> Manifest:
    return manifest["spec"]["workerGroupSpecs"][0]


def _rename(mapping: Manifest, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


# (what is wrong, the object's kind, the change): each must make the validation fail.
MISTAKES: list[tuple[str, str, Callable[[Manifest], None]]] = [
    ("misspelled worker group field", "RayCluster", lambda m: _rename(_worker(m), "replicas", "replica")),
    ("replicas as text", "RayCluster", lambda m: _worker(m).__setitem__("replicas", "two")),
    ("num-cpus as a number (rayStartParams are strings)", "RayCluster",
     lambda m: _worker(m)["rayStartParams"].__setitem__("num-cpus", 4)),
    ("worker group without its name", "RayCluster", lambda m: _worker(m).pop("groupName")),
    ("misspelled field in the pod template", "RayCluster",
     lambda m: _rename(ray_container(_worker(m)), "volumeMounts", "volumeMount")),
    ("misspelled field in the head group", "RayCluster",
     lambda m: _rename(m["spec"]["headGroupSpec"], "rayStartParams", "rayStartParameters")),
    ("a CPU request that is no quantity", "RayCluster",
     lambda m: ray_container(_worker(m))["resources"]["requests"].__setitem__("cpu", "four")),
    ("misspelled metadata field", "RayCluster", lambda m: _rename(m["metadata"], "annotations", "annotation")),
    ("accessModes as text, not a list", "PersistentVolumeClaim",
     lambda m: m["spec"].__setitem__("accessModes", "ReadWriteMany")),
    ("service port as text", "Service", lambda m: m["spec"]["ports"][0].__setitem__("port", "https")),
    ("misspelled stringData", "Secret", lambda m: _rename(m, "stringData", "stringdata")),
    ("misspelled volumeClaimTemplates", "StatefulSet",
     lambda m: _rename(m["spec"], "volumeClaimTemplates", "volumeClaimTemplate")),
    ("a ConfigMap value that is not text", "ConfigMap", lambda m: m["data"].__setitem__("site.yaml", 3)),
    ("policyTypes as text", "NetworkPolicy", lambda m: m["spec"].__setitem__("policyTypes", "Ingress")),
]


@pytest.mark.parametrize(("mistake", "kind", "change"), MISTAKES, ids=[m for m, _, _ in MISTAKES])
def test_validation_rejects_a_wrong_manifest(mistake: str, kind: str, change: Callable[[Manifest], None]) -> None:
    original = next(o for _, o in kube_objects() if o["kind"] == kind)
    validate(original)  # what fails below is the mistake, not the manifest
    wrong = copy.deepcopy(original)
    change(wrong)
    with pytest.raises(jsonschema.ValidationError):
        validate(wrong)


# --- the objects agree with each other -------------------------------------------------------------------

def pod_templates() -> Iterator[tuple[str, Manifest]]:
    for group_name, group in ray_groups():
        yield f"RayCluster {group_name}", group["template"]["spec"]
    for _, manifest in kube_objects():
        if manifest["kind"] in ("StatefulSet", "Deployment"):
            yield f"{manifest['kind']} {manifest['metadata']['name']}", manifest["spec"]["template"]["spec"]


def test_everything_a_pod_refers_to_is_in_deploy() -> None:
    """Volumes (ConfigMap, Secret, PVC), env and envFrom name objects and keys that deploy/kuberay creates."""
    for where, pod in pod_templates():
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                the_object("ConfigMap", volume["configMap"]["name"])
            if "secret" in volume:
                the_object("Secret", volume["secret"]["secretName"])
            if "persistentVolumeClaim" in volume:
                the_object("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
        for container in pod["containers"]:
            for source in container.get("envFrom", []):
                for kind, ref in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                    if ref in source:
                        the_object(kind, source[ref]["name"])
            for variable in container.get("env", []):
                for kind, ref in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    selector = variable.get("valueFrom", {}).get(ref)
                    if selector:
                        held = data_of(the_object(kind, selector["name"]))
                        assert selector["key"] in held, (
                            f"{where}: {kind} {selector['name']} has no key {selector['key']}")


def data_of(manifest: Manifest) -> dict[str, str]:
    return {**manifest.get("data", {}), **manifest.get("stringData", {})}


def test_evidence_is_one_shared_volume_at_the_site_files_path() -> None:
    folder = site_tree()["evidence"]["folder"]
    claims = set()
    for group_name, group in ray_groups():
        volume, mount = volume_at(group, folder)
        assert mount["mountPath"] == folder, f"{group_name}: evidence mounted at {mount['mountPath']}, not {folder}"
        assert not mount.get("readOnly"), f"{group_name}: evidence mounted read-only"
        assert "persistentVolumeClaim" in volume, f"{group_name}: evidence is not on the shared volume claim"
        claims.add(volume["persistentVolumeClaim"]["claimName"])
    assert len(claims) == 1, f"head and workers mount different evidence volumes: {sorted(claims)}"
    claim = the_object("PersistentVolumeClaim", claims.pop())
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"], "every node writes evidence: ReadWriteMany"


def test_the_heads_backups_folder_is_a_volume_that_lasts() -> None:
    """The watch upgrades the store's schema only when a backup in store.backups holds it: the folder must
    outlive the pod, and be writable for `gunwatch backup`."""
    folder = site_tree()["store"]["backups"]
    volume, mount = volume_at(ray_cluster()["spec"]["headGroupSpec"], folder)
    assert mount["mountPath"] == folder and not mount.get("readOnly"), f"store.backups {folder} is not writable"
    assert "persistentVolumeClaim" in volume, f"store.backups {folder} is not on a persistent volume"


def test_the_supervisor_reads_the_site_configmap_as_it_changes() -> None:
    configmap = mounted_site_configmap()
    assert site_key() in configmap["data"], f"ConfigMap {configmap['metadata']['name']} has no {site_key()}"
    _, mount = volume_at(ray_cluster()["spec"]["headGroupSpec"], watch_config_path())
    # A subPath mount never sees the ConfigMap change: the supervisor would never reload the site file.
    assert "subPath" not in mount, "the site file is mounted with subPath"


def test_watch_command_uses_real_options() -> None:
    known = watch_options()
    commands = {"RayCluster head": " ".join(ray_container(ray_cluster()["spec"]["headGroupSpec"])["args"]),
                "ray-vm gunwatch.service.d": unit_exec_start(RAY_VM / "gunwatch.service.d" / "cluster.conf")}
    unknown = {where: {w.split("=")[0] for w in watch_invocation(script) if w.startswith("-")} - known
               for where, script in commands.items()}
    assert all(options <= {"--cluster"} for options in unknown.values()), f"not options of gunwatch watch: {unknown}"
    if any(unknown.values()):
        pytest.skip("`gunwatch watch` has no --cluster option yet (issue 16's runtime adds it)")


def test_cluster_address_agrees_with_the_site_file() -> None:
    head_words = watch_invocation(" ".join(ray_container(ray_cluster()["spec"]["headGroupSpec"])["args"]))
    assert option_value(head_words, "--cluster") == site_tree()["cluster"]["address"] == "auto"
    vm_site = yaml.safe_load((RAY_VM / "site.yaml").read_text())
    address = vm_site["cluster"]["address"]
    assert option_value(watch_invocation(unit_exec_start(RAY_VM / "gunwatch.service.d" / "cluster.conf")),
                        "--cluster") == address
    head = shlex.split(unit_exec_start(RAY_VM / "ray-head.service"))
    assert f"{option_value(head, '--node-ip-address')}:{option_value(head, '--port')}" == address
    assert option_value(shlex.split(unit_exec_start(RAY_VM / "ray-worker.service")), "--address") == address


def node_needs(cluster: Manifest) -> float:
    """Ray CPUs a node needs to hold its detector and max_cameras_per_node cameras."""
    return cluster["detector_cpus"] + cluster["max_cameras_per_node"] * cluster["camera_cpus"]


def test_every_ray_node_holds_a_detector_and_its_cameras() -> None:
    needs = node_needs(site_tree()["cluster"])
    for group_name, group in ray_groups():
        ray_cpus = float(group["rayStartParams"]["num-cpus"])
        assert ray_cpus >= needs, f"{group_name}: num-cpus {ray_cpus} < {needs} (detector + cameras)"
        resources = ray_container(group)["resources"]
        assert cpus(resources["requests"]["cpu"]) >= ray_cpus, f"{group_name}: Ray is promised more CPUs than the pod"
        assert cpus(resources["limits"]["cpu"]) >= cpus(resources["requests"]["cpu"]), group_name
    vm_needs = node_needs(yaml.safe_load((RAY_VM / "site.yaml").read_text())["cluster"])
    for unit in ("ray-head.service", "ray-worker.service"):
        ray_cpus = float(option_value(shlex.split(unit_exec_start(RAY_VM / unit)), "--num-cpus"))
        assert ray_cpus >= vm_needs, f"deploy/ray-vm/{unit}: --num-cpus {ray_cpus} < {vm_needs}"


def test_every_node_runs_the_same_image_and_ray_version() -> None:
    images = {ray_container(group)["image"] for _, group in ray_groups()}
    assert len(images) == 1, f"head and workers run different images: {sorted(images)}"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert "'.[cluster]'" in dockerfile, "the image installs gunwatch with the cluster extra"
    if "cluster" not in extras:
        pytest.skip("pyproject.toml has no cluster extra yet (issue 16's runtime adds it)")
    pins = [re.fullmatch(r"ray\[[^]]*\]==(\S+)", spec.replace(" ", "")) for spec in extras["cluster"]]
    versions = [m.group(1) for m in pins if m]
    assert versions == [ray_cluster()["spec"]["rayVersion"]], (
        f"rayVersion {ray_cluster()['spec']['rayVersion']} is not the cluster extra's Ray {versions}")


def test_console_service_leads_to_the_heads_console() -> None:
    service = the_object("Service", "gunwatch-console")
    cluster_name = ray_cluster()["metadata"]["name"]
    # The labels KubeRay gives the head pod (ray.io/cluster, ray.io/node-type).
    head_labels = {"ray.io/cluster": cluster_name, "ray.io/node-type": "head"}
    assert service["spec"]["selector"].items() <= head_labels.items(), "the Service selects no head pod"
    ports = {p["name"]: p["containerPort"] for p in ray_container(ray_cluster()["spec"]["headGroupSpec"])["ports"]}
    target = service["spec"]["ports"][0]["targetPort"]
    listen_port = int(site_tree()["console"]["listen"].rsplit(":", 1)[1])
    assert ports.get(target, target) == listen_port, (
        f"the Service leads to {target}, the console listens on {listen_port}")


def test_ray_ports_are_closed_to_all_but_the_clusters_pods() -> None:
    policy = the_object("NetworkPolicy", "gunwatch-ray")
    cluster_name = ray_cluster()["metadata"]["name"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {"ray.io/cluster": cluster_name}
    listen_port = int(site_tree()["console"]["listen"].rsplit(":", 1)[1])
    for rule in policy["spec"]["ingress"]:
        peers = rule.get("from")
        if peers is None:  # from anywhere: the console's port only
            assert [p["port"] for p in rule["ports"]] == [listen_port], rule
        else:
            assert peers == [{"podSelector": {"matchLabels": {"ray.io/cluster": cluster_name}}}], rule
    assert ray_cluster()["spec"]["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "127.0.0.1"


def test_every_site_variable_is_given() -> None:
    """Each ${NAME} of the site file is a key of a Secret the head loads, where the supervisor reads the file
    (the agents get the site from it); and of the VMs' env file."""
    names = set(variable_names_of(site_text()))
    assert names, "the site file should keep its secrets in ${NAME}s"
    given = set()
    for source in ray_container(ray_cluster()["spec"]["headGroupSpec"]).get("envFrom", []):
        if "secretRef" in source:
            given |= data_of(the_object("Secret", source["secretRef"]["name"])).keys()
    assert names <= given, f"the head has no value for {sorted(names - given)}"
    vm_names = set(variable_names_of((RAY_VM / "site.yaml").read_text()))
    vm_given = set(env_file(RAY_VM / "gunwatch.env.example"))
    assert vm_names <= vm_given, f"deploy/ray-vm/gunwatch.env.example lacks {sorted(vm_names - vm_given)}"


def variable_names_of(text: str) -> list[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:  # the loader's own reading of ${NAME}s
        file.write(text)
        file.flush()
        return site_variable_names(file.name)


def env_file(path: Path) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return {name: value for name, value in pairs}


def test_example_postgres_matches_the_store_url() -> None:
    url = urlsplit(data_of(the_object("Secret", "gunwatch-env"))["GUNWATCH_DB"])
    assert url.scheme == "postgresql", "cluster mode needs PostgreSQL"
    service = the_object("Service", "gunwatch-postgres")
    if url.hostname not in (service["metadata"]["name"], f"{service['metadata']['name']}.gunwatch.svc"):
        pytest.skip("the store is a managed PostgreSQL, not 40-postgres.yaml's")
    postgres = the_object("StatefulSet", "gunwatch-postgres")["spec"]["template"]["spec"]["containers"][0]
    env = {v["name"]: v for v in postgres["env"]}
    assert url.port == service["spec"]["ports"][0]["port"]
    assert url.username == env["POSTGRES_USER"]["value"] and url.path == f"/{env['POSTGRES_DB']['value']}"
    selector = env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert url.password == data_of(the_object("Secret", selector["name"]))[selector["key"]], (
        "GUNWATCH_DB's password is not the example PostgreSQL's")


def docs_commands() -> list[list[str]]:
    """The gunwatch commands docs/cluster.md shows (code blocks and `code`), as words after `gunwatch` (or the
    guide's `gw` function, which runs it)."""
    text = (ROOT / "docs" / "cluster.md").read_text()
    blocks = re.findall(r"```(?:sh|console)\n(.*?)```", text, flags=re.S)
    spans = re.findall(r"`([^`\n]*(?:\n[^`\n]+)?)`", re.sub(r"```.*?```", "", text, flags=re.S))
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()] + spans
    subcommands = typer.main.get_command(app).commands  # type: ignore[attr-defined]  # a click Group
    found = []
    for line in lines:
        words = line.removeprefix("$ ").split("#", 1)[0].split()
        # `gunwatch` is also the namespace and the user: a command is the word followed by a subcommand.
        for i, word in enumerate(words[:-1]):
            if (Path(word).name == "gunwatch" or (word == "gw" and i == 0)) and words[i + 1] in subcommands:
                found.append([w.strip("'\"") for w in words[i + 1:]])
                break
    return found


def test_the_guides_gunwatch_commands_exist_with_their_options() -> None:
    commands = docs_commands()
    assert len(commands) >= 10, commands  # the guide's watch, cluster status, config check, backup, user add...
    missing_cluster = False
    for words in commands:
        command: Any = typer.main.get_command(app)
        used = []
        while words and hasattr(command, "commands") and words[0] in command.commands:
            used.append(words[0])
            command = command.commands[words.pop(0)]
        if hasattr(command, "commands"):
            continue  # prose such as `gunwatch repository`, not a command line
        known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        unknown = {w.split("=")[0] for w in words if w.startswith("--")} - known
        missing_cluster |= unknown == {"--cluster"}
        assert unknown <= {"--cluster"}, f"docs/cluster.md: gunwatch {' '.join(used)} has no {sorted(unknown)}"
    if missing_cluster:
        pytest.skip("`gunwatch watch` has no --cluster option yet (issue 16's runtime adds it)")


# --- the site files load with gunwatch's own loader ------------------------------------------------------

def loadable_site(text: str, tls_folder: Path, tmp_path: Path, *, with_cluster: bool) -> Path:
    """The site file with its console certificate swapped for a real one made here (the loader reads both
    files), and without its cluster section when asked."""
    tree = yaml.safe_load(text)
    files = self_signed_tls(tmp_path)
    tls = tree["console"]["tls"]
    for key in ("cert", "key"):
        assert Path(tls[key]).parent == tls_folder, f"console.tls.{key} {tls[key]} is not in {tls_folder}"
    tree["console"]["tls"] = {"cert": str(files.cert), "key": str(files.key)}
    if not with_cluster:
        tree.pop("cluster")
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def kube_site(tmp_path: Path, *, with_cluster: bool) -> tuple[Path, dict[str, str]]:
    # The console's certificate is the TLS Secret's, where the head mounts it.
    volume, mount = volume_at(ray_cluster()["spec"]["headGroupSpec"], site_tree()["console"]["tls"]["cert"])
    tls_secret = the_object("Secret", volume["secret"]["secretName"])
    for key in ("cert", "key"):
        file = Path(site_tree()["console"]["tls"][key]).name
        assert file in data_of(tls_secret), f"Secret {tls_secret['metadata']['name']} has no {file}"
    environ = data_of(the_object("Secret", "gunwatch-env"))
    return loadable_site(site_text(), Path(mount["mountPath"]), tmp_path, with_cluster=with_cluster), environ


def vm_site(tmp_path: Path, *, with_cluster: bool) -> tuple[Path, dict[str, str]]:
    text = (RAY_VM / "site.yaml").read_text()
    folder = Path(yaml.safe_load(text)["console"]["tls"]["cert"]).parent
    return loadable_site(text, folder, tmp_path, with_cluster=with_cluster), env_file(RAY_VM / "gunwatch.env.example")


SITES = {"kuberay ConfigMap": kube_site, "ray-vm site.yaml": vm_site}


@pytest.mark.parametrize("which", SITES)
def test_site_file_loads_with_gunwatchs_loader(which: str, tmp_path: Path) -> None:
    path, environ = SITES[which](tmp_path, with_cluster=False)
    site = load_site_config(path, environ)
    assert urlsplit(site.store.url).scheme == "postgresql"
    assert site.console is not None and not site.console.loopback


@pytest.mark.parametrize("which", SITES)
def test_site_cluster_section_is_accepted(which: str, tmp_path: Path) -> None:
    path, environ = SITES[which](tmp_path, with_cluster=True)
    if "cluster" not in SiteConfig.model_fields:
        with pytest.raises(ConfigError) as refused:
            load_site_config(path, environ)
        assert all((p.key or "").startswith("cluster") for p in refused.value.problems), str(refused.value)
        pytest.skip("the site loader has no cluster section yet (issue 16's runtime adds it)")
    site = load_site_config(path, environ)
    cluster = site.cluster  # type: ignore[attr-defined]
    written = yaml.safe_load(path.read_text())["cluster"]
    for key, value in written.items():
        assert getattr(cluster, key) == value, f"cluster.{key}"


# --- the image and the machines' units -------------------------------------------------------------------

def test_dockerfile_copies_what_exists_and_the_context_keeps_it() -> None:
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    kept = [line.removeprefix("!") for line in (DEPLOY / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
            if line.startswith("!")]
    sources = [s for line in dockerfile.splitlines() if line.startswith("COPY ") for s in line.split()[1:-1]]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which the repository lacks"
        assert any(source.rstrip("/") == k.rstrip("/") for k in kept), f"the .dockerignore leaves out {source}"
    model = re.search(r"GUNWATCH_MODEL=(\S+)", dockerfile)
    assert model and model.group(1).removeprefix("/opt/gunwatch/") in sources, "GUNWATCH_MODEL names a copied model"


@pytest.mark.parametrize("unit", ["ray-head.service", "ray-worker.service"])
def test_ray_units_verify(unit: str, tmp_path: Path) -> None:
    # The units name the machines' venv; here the one this test runs in stands for it.
    text = (RAY_VM / unit).read_text().replace(VM_VENV, str(Path(sys.executable).parent.parent))
    (tmp_path / unit).write_text(text)
    assert verify(tmp_path / unit) == ""


# --- the head's command ----------------------------------------------------------------------------------
# The head container runs Ray and the supervisor side by side from a shell script. Run here with stand-ins for
# `ray` and `gunwatch` that log what they are asked to do: the script's own logic is what is tested.

STAND_IN_RAY = """#!/bin/bash
case "$1" in
  start) echo "ray started $$" >> "$STUB_LOG"
         trap 'echo "ray stopped" >> "$STUB_LOG"; exit 0' TERM
         while :; do sleep 0.05; done ;;
  health-check) grep -q "ray started" "$STUB_LOG" ;;
  *) exit 2 ;;
esac
"""
STAND_IN_GUNWATCH = """#!/bin/bash
echo "gunwatch $* (pid $$)" >> "$STUB_LOG"
trap 'echo "watch stopped" >> "$STUB_LOG"; exit 0' TERM
while :; do sleep 0.05; done
"""


class HeadScript:
    """The head container's script running under bash, with the stand-ins first on its PATH."""

    def __init__(self, folder: Path) -> None:
        bin_dir = folder / "bin"
        bin_dir.mkdir()
        for name, text in (("ray", STAND_IN_RAY), ("gunwatch", STAND_IN_GUNWATCH)):
            (bin_dir / name).write_text(text)
            (bin_dir / name).chmod(0o755)
        self.log = folder / "log"
        self.log.write_text("")
        container = ray_container(ray_cluster()["spec"]["headGroupSpec"])
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STUB_LOG": str(self.log),
               "KUBERAY_GEN_RAY_START_CMD": "ray start --head --block --port=6379"}
        # A session of its own: the stand-ins are killed with it at the end, whatever the script did.
        self.process = subprocess.Popen([*container["command"], *container["args"]], env=env, text=True,
                                        start_new_session=True)

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def logged(self, start: str) -> bool:
        return any(line.startswith(start) for line in self.lines())

    def pid_of(self, start: str) -> int:
        line = next(line for line in self.lines() if line.startswith(start))
        return int(re.findall(r"\d+", line)[-1])

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def head_script(tmp_path: Path) -> Iterator[HeadScript]:
    script = HeadScript(tmp_path)
    yield script
    script.close()


def test_head_runs_the_watch_once_ray_answers_and_stops_it_first(head_script: HeadScript) -> None:
    assert wait_until(lambda: head_script.logged("gunwatch "), timeout=60), head_script.lines()
    assert head_script.lines()[0].startswith("ray started"), "the watch started before Ray answered"
    expected = shlex.join(watch_invocation(" ".join(ray_container(ray_cluster()["spec"]["headGroupSpec"])["args"])))
    assert head_script.lines()[1].startswith(f"gunwatch watch {expected} (pid")
    head_script.process.send_signal(signal.SIGTERM)  # Kubernetes stopping the pod
    assert head_script.process.wait(timeout=60) == 0
    stops = [line for line in head_script.lines() if line.endswith("stopped")]
    assert stops == ["watch stopped", "ray stopped"], "the watch stops first (it closes its events), then Ray"


@pytest.mark.parametrize("dies", ["gunwatch ", "ray started"])
def test_head_ends_when_either_ray_or_the_watch_ends(head_script: HeadScript, dies: str) -> None:
    """So that Kubernetes restarts it: a head without its supervisor would look healthy with no camera watched."""
    assert wait_until(lambda: head_script.logged("gunwatch "), timeout=60), head_script.lines()
    os.kill(head_script.pid_of(dies), signal.SIGKILL)
    assert head_script.process.wait(timeout=60) != 0
