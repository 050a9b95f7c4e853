"""The claim loop: completion, retries, failures, the background thread."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError

from sidecar.clock import SystemClock
from sidecar.errors import SidecarError
from sidecar.store import Store
from sidecar.worker import Worker, describe_error, retry_after_seconds

T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


class SteppingClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class RateLimited(SidecarError):
    code = "rate_limited"
    transient = True

    def __init__(self, retry_after: float) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


def add(store: Store, ticket_id: int, at: datetime = T0) -> None:
    store.add_event(
        ticket_id=ticket_id,
        kind="trigger",
        payload={"ticket_id": ticket_id},
        actor_id=None,
        dedupe_keys=[],
        received_at=at,
    )


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock(T0)


def test_run_once_hands_each_ticket_its_events_and_completes_them(store, clock):
    for ticket_id in [1, 2, 1]:
        add(store, ticket_id)
    seen: dict[int, int] = {}
    worker = Worker(store, lambda t, events: seen.update({t: len(events)}), clock=clock)

    assert worker.run_once() == 3

    assert seen == {1: 2, 2: 1}
    assert store.inbox_counts() == {"done": 3}
    assert worker.run_once() == 0


def test_one_bad_ticket_does_not_stop_the_batch(store, clock):
    add(store, 1)
    add(store, 2)

    def handler(ticket_id, events):
        if ticket_id == 1:
            raise ValueError("ticket 1 is broken")

    Worker(store, handler, clock=clock).run_once()

    assert [e.ticket_id for e in store.list_events("done")] == [2]
    [retry] = store.list_events("retry")
    assert (retry.ticket_id, retry.attempts, retry.last_error) == (1, 1, "ValueError")


def test_retry_after_hint_delays_the_next_attempt(store, clock):
    add(store, 1)
    calls = []

    def handler(ticket_id, events):
        calls.append(ticket_id)
        if len(calls) == 1:
            raise RateLimited(retry_after=120)

    worker = Worker(store, handler, clock=clock)
    worker.run_once()
    clock.advance(seconds=119)
    assert worker.run_once() == 0

    clock.advance(seconds=1)
    assert worker.run_once() == 1
    assert store.inbox_counts() == {"done": 1}


def test_permanent_errors_fail_after_max_attempts(store, clock):
    add(store, 1)

    def handler(ticket_id, events):
        raise KeyError("missing")

    worker = Worker(store, handler, clock=clock, max_attempts=3)
    for _ in range(5):
        worker.run_once()
        clock.advance(hours=1)

    [failed] = store.list_events("failed")
    assert failed.attempts == 3


def test_transient_errors_are_retried_longer(store, clock):
    add(store, 1)

    def handler(ticket_id, events):
        raise RateLimited(retry_after=1)

    worker = Worker(
        store, handler, clock=clock, max_attempts=3, max_transient_attempts=6
    )
    for _ in range(4):
        worker.run_once()
        clock.advance(hours=1)

    [retry] = store.list_events("retry")
    assert retry.attempts == 4
    assert retry.last_error == "RateLimited[rate_limited]: rate limited"


def test_custom_transient_predicate(store, clock):
    add(store, 1)

    def handler(ticket_id, events):
        raise TimeoutError

    worker = Worker(
        store,
        handler,
        clock=clock,
        max_attempts=1,
        is_transient=lambda e: isinstance(e, TimeoutError),
    )
    worker.run_once()

    assert store.inbox_counts() == {"retry": 1}


@pytest.mark.parametrize(
    ("error", "seconds"),
    [
        (RateLimited(30), 30.0),
        (RateLimited(0), 0.0),
        (ValueError(), 0.0),
        (RateLimited(True), 0.0),
    ],
    ids=["hint", "zero", "no-hint", "bool-is-no-hint"],
)
def test_retry_after_seconds(error, seconds):
    assert retry_after_seconds(error) == seconds


def test_describe_error_keeps_vendor_messages_out():
    assert describe_error(RuntimeError("customer wrote: my data is gone")) == (
        "RuntimeError"
    )


def _wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_background_thread_handles_new_events_and_stops(store):
    handled: list[int] = []
    worker = Worker(
        store,
        lambda t, events: handled.append(t),
        clock=SystemClock(),
        poll_interval=0.01,
    )

    worker.start()
    add(store, 5, at=datetime.now(UTC))
    assert _wait_until(lambda: handled == [5])
    worker.stop(timeout=5)

    assert not worker.running
    assert store.inbox_counts() == {"done": 1}


class FlakyStore:
    """Fails the first claims as a locked or unreachable database would."""

    def __init__(self, store: Store, failures: int) -> None:
        self.store = store
        self.failures = failures

    def claim_batch(self, **kwargs):
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("SELECT", {}, Exception("database is locked"))

        return self.store.claim_batch(**kwargs)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_store_errors_do_not_kill_the_loop(store):
    add(store, 5, at=datetime.now(UTC))
    handled: list[int] = []
    worker = Worker(
        FlakyStore(store, failures=3),
        lambda t, events: handled.append(t),
        clock=SystemClock(),
        poll_interval=0.01,
    )

    worker.start()
    assert _wait_until(lambda: handled == [5])
    worker.stop(timeout=5)

    assert not worker.running


def test_two_workers_on_two_processes_handle_each_event_once(any_store):
    for index in range(60):
        add(any_store, index % 20, at=datetime.now(UTC))
    other = Store(any_store.url)
    handled: list[int] = []
    lock = threading.Lock()

    def handler(ticket_id, events):
        with lock:
            handled.extend(e.id for e in events)

    workers = [
        Worker(s, handler, clock=SystemClock(), poll_interval=0.01, max_tickets=2)
        for s in (any_store, other)
    ]
    for worker in workers:
        worker.start()
    assert _wait_until(lambda: len(handled) >= 60)
    for worker in workers:
        worker.stop(timeout=5)
    other.dispose()

    assert sorted(handled) == sorted(set(handled))
    assert len(handled) == 60
    assert any_store.inbox_counts() == {"done": 60}
