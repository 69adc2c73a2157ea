"""The `cluster` section: run the site on a Ray cluster instead of in one process (docs/cluster.md).

    cluster:
      address: 10.0.0.10:6379     # the head's GCS (ray start --head --port 6379); ray://HOST:10001; or auto
      lease_s: 15
      max_cameras_per_node: 12

Without the section (and without `gunwatch watch --cluster ADDRESS`) the site runs in one process, as it
always did. Checks that need more than the file (PostgreSQL, the evidence share, a reachable cluster) are in
gunwatch.cluster.checks.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import Field, ValidationError, field_validator, model_validator

from gunwatch.config.base import Name, StrictModel
from gunwatch.config.errors import ConfigError, ConfigProblem, ReferenceProblems
from gunwatch.config.messages import validation_problems

if TYPE_CHECKING:
    from gunwatch.config.site import SiteConfig

AUTO = "auto"  # Ray's own lookup: $RAY_ADDRESS, or the cluster `ray start` began on this machine
CLIENT_SCHEME = "ray://"
# HOST:PORT, the host a name, an IPv4 address or an [IPv6] address in brackets.
_ENDPOINT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(?P<port>[0-9]{1,5})$")
ADDRESS_FORMS = "HOST:PORT (the head's GCS port, as `ray start --head --port`), ray://HOST:PORT or auto"
COMMAND_LINE = "--cluster"  # where an address given on the command line is reported from


class ClusterSettings(StrictModel):
    """Where the Ray cluster is, and what each camera and detector asks of it."""

    address: str = Field(
        description=f"the Ray cluster: {ADDRESS_FORMS} (Ray's lookup: $RAY_ADDRESS or the cluster of this node). "
                    "HOST:PORT joins as a driver on a node of the cluster; ray:// connects from any machine")
    namespace: Name = Field("gunwatch", description="the Ray namespace of gunwatch's actors: one per site")
    shared_evidence: bool = Field(
        True, description="evidence.folder is one share mounted at that same path on every node (NFS, CephFS...)")
    lease_s: float = Field(
        15.0, ge=1, le=600,
        description="a camera's lease in the store: a lost node's cameras move once it expires. It must exceed "
                    "the nodes' clock skew by far (keep them NTP-synced)")
    camera_cpus: float = Field(
        0.25, ge=0, le=64, description="Ray CPUs reserved for each camera (0: only max_cameras_per_node limits a node)")
    detector_cpus: float = Field(1.0, ge=0, le=256, description="Ray CPUs of each node's detector service")
    max_cameras_per_node: int | None = Field(
        None, ge=1, le=10_000, description="most cameras one node watches (default: as many as its CPUs hold)")
    restart_bound_s: float = Field(
        60.0, gt=0, le=3600,
        description="the most a lost node's cameras may take to run again on other nodes (longer than lease_s)")

    @field_validator("address")
    @classmethod
    def _ray_address(cls, address: str) -> str:
        address = address.strip()
        if address != AUTO and ray_endpoint(address) is None:
            raise ValueError(f"must be {ADDRESS_FORMS}, such as 10.0.0.10:6379")
        return address

    @model_validator(mode="after")
    def _bound_beyond_lease(self) -> ClusterSettings:
        # A lost node's cameras can move only once their leases expire: a shorter bound could never be kept.
        if self.restart_bound_s <= self.lease_s:
            raise ReferenceProblems([("restart_bound_s", f"must be longer than lease_s ({self.lease_s:g} s): a "
                                                         "lost node's cameras move only once their leases expire")])
        return self

    @property
    def client(self) -> bool:
        """Whether the address is a Ray Client one (ray://), usable from a machine that is not a node."""
        return self.address.startswith(CLIENT_SCHEME)


def ray_endpoint(address: str) -> tuple[str, int] | None:
    """(host, port) of a HOST:PORT or ray://HOST:PORT address, brackets off an IPv6 host; None when it is
    neither (auto, a typo)."""
    match = _ENDPOINT.match(address.removeprefix(CLIENT_SCHEME))
    if match is None or not 0 < int(match.group("port")) < 65536:
        return None
    return match.group("host").strip("[]"), int(match.group("port"))


def with_cluster_address(site: SiteConfig, address: str) -> SiteConfig:
    """The site with its cluster at `address` (`gunwatch watch --cluster ADDRESS`): the site's own cluster
    section with the address replaced, or the defaults. ConfigError naming --cluster for a bad address."""
    given = {} if site.cluster is None else site.cluster.model_dump(exclude={"address"}, exclude_unset=True)
    try:
        settings = ClusterSettings.model_validate({**given, "address": address})
    except ValidationError as error:
        raise ConfigError([ConfigProblem(COMMAND_LINE, problem.message)
                           for problem in validation_problems(error, COMMAND_LINE, ClusterSettings)]) from None
    return site.model_copy(update={"cluster": settings})
