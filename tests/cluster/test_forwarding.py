"""The agent's forwarder to the alerts actor: in order, each item sent again until acknowledged, none lost."""

from __future__ import annotations

import threading
import time

from gunwatch.cluster.forwarding import Forwarder
from support.waiting import wait_until


class FlakyReceiver:
    """Refuses (False), then fails (an exception, as a restarting actor), then takes items; records every try."""

    def __init__(self, refusals: int, failures: int) -> None:
        self.refusals, self.failures = refusals, failures
        self.tries: list[object] = []
        self.handled: list[object] = []
        self.lock = threading.Lock()

    def send(self, item: object) -> bool:
        with self.lock:
            self.tries.append(item)
            if self.refusals:
                self.refusals -= 1
                return False
            if self.failures:
                self.failures -= 1
                raise ConnectionError("the alerts actor is restarting")
            self.handled.append(item)
            return True


def test_items_are_sent_again_until_acknowledged_and_arrive_in_order() -> None:
    receiver = FlakyReceiver(refusals=2, failures=2)
    forwarder = Forwarder(receiver.send, retry_first_s=0.01, retry_max_s=0.02).start()
    for item in range(5):
        forwarder.put(item)
    assert wait_until(lambda: receiver.handled == [0, 1, 2, 3, 4], timeout=30), receiver.tries
    assert receiver.tries[:5] == [0, 0, 0, 0, 0]  # the first item held the others back until it was handled
    assert forwarder.close(drain_s=5) and forwarder.sent == 5 and forwarder.pending == 0


def test_a_full_queue_makes_the_caller_wait_instead_of_dropping() -> None:
    gate = threading.Event()
    handled: list[object] = []

    def send(item: object) -> bool:
        gate.wait()
        handled.append(item)
        return True

    forwarder = Forwarder(send, capacity=2).start()
    forwarder.put("a")
    forwarder.put("b")
    third = threading.Thread(target=forwarder.put, args=("c",), daemon=True)
    third.start()
    assert wait_until(lambda: forwarder.pending == 2)
    assert third.is_alive()  # waits for room (the check after the queue filled: it cannot have put)
    gate.set()
    third.join(30)
    assert not third.is_alive()
    assert wait_until(lambda: handled == ["a", "b", "c"], timeout=30)
    assert forwarder.close(drain_s=5)


def test_close_says_when_items_were_left() -> None:
    forwarder = Forwarder(lambda item: False, retry_first_s=0.01, retry_max_s=0.02).start()
    forwarder.put("never")
    assert not forwarder.close(drain_s=0.1)


def test_it_says_since_when_the_oldest_item_waits() -> None:
    gate = threading.Event()
    forwarder = Forwarder(lambda item: gate.wait() or True).start()
    assert forwarder.waiting_since is None
    before = time.time()
    forwarder.put("first")
    after = time.time()
    forwarder.put("second")
    waiting = forwarder.waiting_since
    assert waiting is not None and before <= waiting <= after  # the first item's, while it waits
    gate.set()
    assert wait_until(lambda: forwarder.pending == 0, timeout=30)
    assert forwarder.waiting_since is None
    assert forwarder.close(drain_s=5)
