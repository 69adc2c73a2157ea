"""The Ray actors of cluster mode, made from plain classes on first use: `import gunwatch` never needs ray.

Agents: one per node, pinned there (`NodeAffinitySchedulingStrategy(soft=False)`), never restarted by Ray
(the supervisor replaces a lost one and moves its cameras). The alerts host: named, on the head, restarted by
Ray for ever (`max_restarts=-1`, calls retried across restarts); it needs no CPU of its own (threads that wait).
"""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

from gunwatch.config.site import SiteConfig

ALERTS_ACTOR = "gunwatch-alerts"
AGENT_PREFIX = "gunwatch-agent-"
AGENT_CONCURRENCY = 8  # ping and status answer while an assign opens a camera
ALERTS_CONCURRENCY = 32  # every agent's hand-overs wait on the alert thread at once


def agent_name(node_id: str) -> str:
    """The agent's actor name and its lease holder id: one per node and incarnation (a replacement on the same
    node never renews the leases of the one it replaces)."""
    return f"{AGENT_PREFIX}{node_id[:12]}-{uuid.uuid4().hex[:6]}"


@cache
def _remote(kind: str) -> Any:
    import ray

    from gunwatch.cluster.agent import NodeAgent
    from gunwatch.cluster.alerts_host import AlertsHost

    return ray.remote({"agent": NodeAgent, "alerts": AlertsHost}[kind])


def start_agent(site: SiteConfig, node_id: str, name: str, namespace: str, lease_s: float, fence_s: float,
                cpus: float, with_alerts: bool, log_format: str = "text") -> Any:
    """The agent `name` of node `node_id` (its handle; it starts on that node or not at all), which stops its
    cameras when it has not heard from the supervisor for `fence_s`."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return _remote("agent").options(
        name=name, namespace=namespace, num_cpus=cpus, max_restarts=0, max_task_retries=0,
        max_concurrency=AGENT_CONCURRENCY, scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
    ).remote(site, name, lease_s, ALERTS_ACTOR if with_alerts else None, namespace, log_format, fence_s)


def start_alerts_host(site: SiteConfig, namespace: str, node_id: str, log_format: str = "text") -> Any:
    """The alerts actor on `node_id`, the head's (restarted there: without its head there is no Ray cluster, and
    Ray's soft affinity never chose a head without CPUs)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return _remote("alerts").options(
        name=ALERTS_ACTOR, namespace=namespace, num_cpus=0, max_restarts=-1, max_task_retries=-1,
        max_concurrency=ALERTS_CONCURRENCY, scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
    ).remote(site, log_format)
