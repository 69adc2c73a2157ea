"""`gunwatch bench store`: how many of the writes a site makes its store takes a second, by kind and writers.

What a running site writes, steady and bursty: lease renewals (cluster mode: every camera's, every
lease_s / 3: the steady load that grows with cameras; a node agent renews all of its cameras in one statement,
measured as "batched", where per second counts cameras renewed and the latency is per statement), event
versions (during a gun episode), fenced event versions (the same in cluster mode, the lease row share-locked
in each write) and health changes. Each kind runs for `seconds` on `threads` writers at once, every writer on
its own share of `cameras` synthetic cameras (as agents hold disjoint cameras), through the product's own
calls (`CameraLeases.renew` and `renew_all`, `EventStore.save_event`, `record_health`). The reference,
measured in the same run: `SELECT 1`, a round trip with no write and no commit to wait for. The result is a
ceiling for this store on this machine, for docs/scale.md's model: a site needs (cameras x writes per
camera-second) below it.

Run it on a scratch database: it leaves `bench-NNN` cameras, their leases and events behind.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
from sqlalchemy import text

from gunwatch.config.redact import redact_url
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.leases import CameraLease, CameraLeases

MAX_WRITERS = 15  # the store's connection pool (SQLAlchemy's 5 + 10 overflow): more would queue for a connection
KINDS = ("select 1 (reference)", "lease renewal", "lease renewal, batched", "event version", "fenced event version",
         "health change")
LEASE_TTL_S = 3600.0  # the bench's leases never lapse while it runs
# write(the writer's camera indexes, iteration) -> cameras written: one for every kind but the batched renewal,
# which renews all of the writer's cameras in one statement, as a node agent does.
Write = Callable[[list[int], int], int]


@dataclass(frozen=True)
class StoreBenchSettings:
    store: str
    threads: tuple[int, ...] = (1, 4, 12)
    seconds: float = 10.0
    cameras: int = 256

    def __post_init__(self) -> None:
        if not self.threads or min(self.threads) < 1 or max(self.threads) > MAX_WRITERS:
            raise ValueError(f"writers must be 1 to {MAX_WRITERS} (the store's connection pool), got {self.threads}")
        if self.seconds <= 0 or self.cameras < max(self.threads):
            raise ValueError("seconds must be > 0 and cameras at least the most threads (one share each)")


@dataclass(frozen=True)
class WriteRow:
    kind: str
    threads: int
    operations: int  # cameras written (a batched renewal counts each camera it renewed)
    seconds: float
    p50_ms: float
    p95_ms: float

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0

    def to_json_dict(self) -> dict[str, object]:
        return {**asdict(self), "per_second": self.per_second}


@dataclass(frozen=True)
class StoreBench:
    settings: StoreBenchSettings
    store: str  # redacted URL
    backend: str
    rows: list[WriteRow]

    def reference(self, threads: int) -> WriteRow | None:
        return next((row for row in self.rows if row.kind == KINDS[0] and row.threads == threads), None)

    def to_json_dict(self) -> dict[str, object]:
        return {"store": self.store, "backend": self.backend, "seconds": self.settings.seconds,
                "cameras": self.settings.cameras, "rows": [row.to_json_dict() for row in self.rows]}


class SyntheticSite:
    """`cameras` cameras with a lease each and an open event each, in the store, for the writers to rewrite."""

    def __init__(self, store: EventStore, cameras: int) -> None:
        self.store, self.leases = store, CameraLeases(store)
        run = uuid.uuid4().hex[:6]  # a second run on the same database takes new cameras
        self.names = [f"bench-{run}-{index:04d}" for index in range(cameras)]
        self.held: list[CameraLease] = []
        self.events: list[ThreatEvent] = []
        now = time.time()
        for name in self.names:
            lease = self.leases.acquire(name, f"bench-agent-{run}", "bench", LEASE_TTL_S)
            assert lease is not None, f"{name} is leased already"
            self.held.append(lease)
            event = ThreatEvent(name, "open", now, now, now, 0.7, (10.0, 10.0, 60.0, 60.0))
            store.save_event(event)
            self.events.append(event)

    def close(self) -> None:
        for lease in self.held:
            self.leases.release(lease)


def write_of(kind: str, site: SyntheticSite) -> Write:
    """`write(the writer's cameras, iteration)` for one kind; single writes take its cameras in turn."""
    store, leases = site.store, site.leases

    def select_one(_: int, __: int) -> None:
        with store.read_session() as session:
            session.execute(text("SELECT 1"))

    def renew(index: int, _: int) -> None:
        renewed = leases.renew(site.held[index], LEASE_TTL_S)
        assert renewed is not None, f"{site.names[index]}: the bench's lease was lost"

    def renew_all(mine: list[int], _: int) -> int:
        renewed = leases.renew_all([site.held[index] for index in mine], LEASE_TTL_S)
        assert all(renewed.values()), f"the bench's leases were lost: {renewed}"
        return len(renewed)

    def version(index: int, iteration: int, fenced: bool = False) -> None:
        event = replace(site.events[index], state="updated", max_score=0.7 + (iteration % 100) / 1000,
                        last_seen=time.time())
        store.save_event(event, fence=site.held[index] if fenced else None)

    def health(index: int, iteration: int) -> None:
        store.record_health(site.names[index], "online" if iteration % 2 else "stalled", "bench")

    def one(write: Callable[[int, int], None]) -> Write:
        def in_turn(mine: list[int], iteration: int) -> int:
            write(mine[iteration % len(mine)], iteration)
            return 1
        return in_turn

    writes: dict[str, Write] = {
        KINDS[0]: one(select_one), KINDS[1]: one(renew), KINDS[2]: renew_all, KINDS[3]: one(version),
        KINDS[4]: one(lambda index, iteration: version(index, iteration, fenced=True)), KINDS[5]: one(health)}
    return writes[kind]


def measure(write: Write, threads: int, cameras: int, seconds: float) -> tuple[int, float, list[float]]:
    """(cameras written, wall seconds, latencies of the calls in s): `threads` writers for `seconds`, writer t on
    cameras t, t + threads, ... A writer's failure stops the measurement and is raised."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    written = [0] * threads
    failures: list[BaseException] = []
    start, stop = threading.Barrier(threads + 1), threading.Event()

    def writer(number: int) -> None:
        mine = list(range(number, cameras, threads))
        start.wait()
        iteration = 0
        while not stop.is_set():
            began = time.perf_counter()
            try:
                written[number] += write(mine, iteration)
            except BaseException as error:  # raised again on the caller's thread
                failures.append(error)
                stop.set()
                return
            latencies[number].append(time.perf_counter() - began)
            iteration += 1

    workers = [threading.Thread(target=writer, args=(number,), daemon=True) for number in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    stop.wait(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - began
    if failures:
        raise failures[0]
    return sum(written), wall, [value for values in latencies for value in values]


def run_store_bench(settings: StoreBenchSettings, progress: Callable[[str], None] = lambda _: None) -> StoreBench:
    store = EventStore(settings.store)
    try:
        progress(f"store bench: {settings.cameras} cameras with a lease and an open event each")
        site = SyntheticSite(store, settings.cameras)
        rows = []
        for kind in KINDS:
            for threads in settings.threads:
                operations, wall, latencies = measure(write_of(kind, site), threads, settings.cameras,
                                                      settings.seconds)
                ms = 1000 * np.array(latencies) if latencies else np.array([np.nan])
                rows.append(WriteRow(kind, threads, operations, wall, float(np.percentile(ms, 50)),
                                     float(np.percentile(ms, 95))))
                progress(f"  {kind}, {threads} writers: {rows[-1].per_second:,.0f}/s")
        site.close()
        return StoreBench(settings, redact_url(settings.store), store.dialect, rows)
    finally:
        store.close()


def format_store_table(bench: StoreBench) -> str:
    header = f"{'write':<22} {'writers':>7} {'per s':>9} {'x ref':>6} {'p50 ms':>7} {'p95 ms':>7}"
    lines = [header, "-" * len(header)]
    for row in bench.rows:
        reference = bench.reference(row.threads)
        ratio = f"{row.per_second / reference.per_second:>6.2f}" if reference and reference.per_second else f"{'-':>6}"
        lines.append(f"{row.kind:<22} {row.threads:>7} {row.per_second:>9,.0f} {ratio} {row.p50_ms:>7.2f} "
                     f"{row.p95_ms:>7.2f}")
    lines.append(f"store {bench.store} ({bench.backend}); {bench.settings.cameras} synthetic cameras, "
                 f"{bench.settings.seconds:g} s per row; each writer on its own cameras; x ref = writes a second "
                 "over SELECT 1 round trips a second with as many writers, measured in the same run")
    return "\n".join(lines)
