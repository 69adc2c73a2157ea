"""The console's and /metrics' live view of a cluster: every node's cameras, asked of their agents at read time.

`gunwatch.service.live.LiveView` for the web server on the head: `cameras()` gathers each ready agent's rows
(an agent that does not answer within LIVE_TIMEOUT_S is left out of that read; the store still has its cameras'
health), `frame_jpeg(camera)` asks the agent running that camera for its newest picture. So one scrape of the
head's /metrics covers every node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gunwatch.service.live import CameraLive

if TYPE_CHECKING:
    from gunwatch.cluster.supervisor import Supervisor

LIVE_TIMEOUT_S = 2.0


class ClusterLiveView:
    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def cameras(self) -> list[CameraLive]:
        import ray

        agents = [agent for agent in dict(self.supervisor.agents).values() if agent.ready]
        calls = [agent.handle.live.remote() for agent in agents]
        ready, _ = ray.wait(calls, num_returns=len(calls), timeout=LIVE_TIMEOUT_S)
        rows: list[CameraLive] = []
        for ref in ready:
            try:
                rows += ray.get(ref)
            except Exception:  # lost meanwhile: the supervisor moves its cameras
                continue
        return sorted(rows, key=lambda row: row.camera)

    def frame_jpeg(self, camera: str) -> tuple[bytes, float] | None:
        import ray

        node = dict(self.supervisor.placement).get(camera)
        agent = dict(self.supervisor.agents).get(node) if node is not None else None
        if agent is None:
            return None
        try:
            return ray.get(agent.handle.frame_jpeg.remote(camera), timeout=LIVE_TIMEOUT_S)
        except Exception:
            return None
