"""The store on SQLite and PostgreSQL: inbox, clocks, alerts, cache, leases."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert

from sidecar.store import Store, backoff_seconds, clocks, due_clocks_query

T0 = datetime(2025, 1, 8, 10, 0, tzinfo=UTC)


def add(store: Store, ticket_id: int, *keys: str, at: datetime = T0) -> bool:
    return store.add_event(
        ticket_id=ticket_id,
        kind="ticket.created",
        payload={"ticket_id": ticket_id},
        actor_id=7,
        dedupe_keys=list(keys),
        received_at=at,
    )


def clock(metric: str, cycle: int = 1, **extra) -> dict:
    return {
        "metric": metric,
        "cycle": cycle,
        "state": "running",
        "started_at": T0,
        "target_seconds": 3600.0,
        "due_at": T0 + timedelta(hours=1),
        "next_check_at": T0 + timedelta(minutes=45),
        "severity": "P2",
        "tier": "gold",
        "calendar": "24x7",
        "data": {"posted": []},
        **extra,
    }


# -- inbox -------------------------------------------------------------------


def test_add_event_stores_the_event(any_store):
    assert add(any_store, 5158, "event:a") is True

    [event] = any_store.list_events("queued")
    assert (event.ticket_id, event.kind, event.actor_id) == (5158, "ticket.created", 7)
    assert event.payload == {"ticket_id": 5158}
    assert event.received_at == T0
    assert event.attempts == 0


def test_add_event_with_a_seen_key_stores_nothing(any_store):
    assert add(any_store, 1, "event:a", "invocation:x") is True

    assert add(any_store, 1, "event:b", "invocation:x") is False

    assert len(any_store.list_events("queued")) == 1
    # The rolled-back duplicate did not leave its new key behind.
    assert add(any_store, 1, "event:b") is True


def test_concurrent_deliveries_are_stored_once_each(any_store):
    # 16 threads deliver the same 40 events (shared keys), in different
    # orders, so the group commit sees duplicates inside and across batches.
    results: list[tuple[int, bool]] = []
    lock = threading.Lock()

    def deliver(seed: int) -> None:
        order = list(range(40))
        random.Random(seed).shuffle(order)
        for n in order:
            stored = add(any_store, n, f"event:{n}", f"invocation:{n}")
            with lock:
                results.append((n, stored))

    threads = [threading.Thread(target=deliver, args=(seed,)) for seed in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stored = sorted(n for n, ok in results if ok)
    assert stored == list(range(40))
    assert len(results) == 16 * 40
    assert sorted(e.ticket_id for e in any_store.list_events("queued")) == list(
        range(40)
    )


def test_add_event_without_keys_is_always_stored(any_store):
    assert add(any_store, 1) is True
    assert add(any_store, 1) is True

    assert any_store.inbox_counts() == {"queued": 2}


def test_naive_datetimes_are_refused(any_store):
    with pytest.raises(Exception, match="naive datetime"):
        add(any_store, 1, at=datetime(2025, 1, 1, 12, 0))


def test_datetimes_come_back_in_utc(any_store):
    plus_two = timezone(timedelta(hours=2))
    add(any_store, 1, at=datetime(2025, 1, 1, 12, 0, tzinfo=plus_two))

    [event] = any_store.list_events("queued")
    assert event.received_at == datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
    assert event.received_at.utcoffset() == timedelta(0)


def test_claim_coalesces_all_ready_events_of_a_ticket(any_store):
    for index, ticket_id in enumerate([1, 2, 1, 1]):
        add(any_store, ticket_id, f"event:{index}")

    batch = any_store.claim_batch(worker_id="w1", now=T0)

    assert sorted(batch) == [1, 2]
    assert [e.payload["ticket_id"] for e in batch[1]] == [1, 1, 1]
    assert [e.id for e in batch[1]] == sorted(e.id for e in batch[1])
    assert any_store.claim_batch(worker_id="w2", now=T0) == {}


def test_claim_respects_max_tickets_oldest_first(any_store):
    for ticket_id in [30, 10, 20]:
        add(any_store, ticket_id)

    batch = any_store.claim_batch(worker_id="w1", now=T0, max_tickets=2)

    assert sorted(batch) == [10, 30]


def test_ticket_under_a_live_lease_is_skipped_even_with_new_events(any_store):
    add(any_store, 1, "event:a")
    any_store.claim_batch(worker_id="w1", now=T0, lease_seconds=60)
    add(any_store, 1, "event:b")

    assert any_store.claim_batch(worker_id="w2", now=T0 + timedelta(seconds=30)) == {}


def test_expired_lease_is_reclaimed_and_counts_an_attempt(any_store):
    add(any_store, 1, "event:a")
    any_store.claim_batch(worker_id="w1", now=T0, lease_seconds=60)
    add(any_store, 1, "event:b")

    batch = any_store.claim_batch(worker_id="w2", now=T0 + timedelta(seconds=61))

    assert [(e.state, e.attempts) for e in batch[1]] == [("claimed", 1), ("claimed", 0)]


def test_completed_events_are_not_claimed_again(any_store):
    add(any_store, 1)
    batch = any_store.claim_batch(worker_id="w1", now=T0)

    any_store.complete([e.id for e in batch[1]], T0)

    assert any_store.claim_batch(worker_id="w1", now=T0 + timedelta(hours=1)) == {}
    assert any_store.inbox_counts() == {"done": 1}


def test_retry_later_backs_off_then_becomes_claimable(any_store):
    add(any_store, 1)
    [event] = any_store.claim_batch(worker_id="w1", now=T0)[1]

    any_store.retry_later([event.id], error="TimeoutError", now=T0)

    [retried] = any_store.list_events("retry")
    assert (retried.attempts, retried.last_error) == (1, "TimeoutError")
    assert any_store.claim_batch(worker_id="w1", now=T0 + timedelta(seconds=0.9)) == {}
    later = any_store.claim_batch(worker_id="w1", now=T0 + timedelta(seconds=2))
    assert [e.id for e in later[1]] == [event.id]


def test_retry_later_honours_a_minimum_delay(any_store):
    add(any_store, 1)
    [event] = any_store.claim_batch(worker_id="w1", now=T0)[1]

    any_store.retry_later([event.id], error="429", now=T0, min_delay=120)

    assert any_store.claim_batch(worker_id="w1", now=T0 + timedelta(seconds=119)) == {}
    assert any_store.claim_batch(worker_id="w1", now=T0 + timedelta(seconds=120))


def test_retry_past_max_attempts_fails_and_requeue_brings_it_back(any_store):
    add(any_store, 1)
    now = T0
    for _ in range(3):
        [event] = any_store.claim_batch(worker_id="w1", now=now)[1]
        any_store.retry_later([event.id], error="boom", now=now, max_attempts=3)
        now += timedelta(hours=1)

    assert any_store.inbox_counts() == {"failed": 1}
    assert any_store.requeue_failed(now) == 1
    [event] = any_store.list_events("queued")
    assert event.attempts == 0


def test_fail_keeps_the_error(any_store):
    add(any_store, 1)
    [event] = any_store.claim_batch(worker_id="w1", now=T0)[1]

    any_store.fail([event.id], error="ValueError: bad field", now=T0)

    [failed] = any_store.list_events("failed")
    assert failed.last_error == "ValueError: bad field"


def test_purge_done_deletes_old_done_events_and_their_keys(any_store):
    add(any_store, 1, "event:a")
    add(any_store, 2, "event:b")
    batch = any_store.claim_batch(worker_id="w1", now=T0)
    any_store.complete([e.id for e in batch[1]], T0)

    assert any_store.purge_done(T0 + timedelta(days=1)) == 1

    assert any_store.inbox_counts() == {"claimed": 1}
    assert add(any_store, 1, "event:a") is True


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [(1, 1, 2), (2, 2, 4), (5, 16, 32), (9, 256, 512), (10, 300, 600), (50, 300, 600)],
    ids=["first", "second", "fifth", "ninth", "capped", "far-past-cap"],
)
def test_backoff_is_exponential_with_jitter_and_capped(attempts, low, high):
    rng = random.Random(attempts)

    delays = [backoff_seconds(attempts, rng) for _ in range(200)]

    assert all(low <= d <= high for d in delays)
    assert len(set(delays)) > 1


def _drain(store: Store, name: str, seen: list, active: set, lock, clashes: list):
    for _ in range(500):
        batch = store.claim_batch(worker_id=name, now=datetime.now(UTC), max_tickets=3)
        if not batch:
            return

        with lock:
            clashes.extend(t for t in batch if t in active)
            active.update(batch)

        time.sleep(0.001)
        with lock:
            active.difference_update(batch)
            seen.extend(e.id for events in batch.values() for e in events)

        store.complete([e.id for es in batch.values() for e in es], datetime.now(UTC))


def test_two_concurrent_claimers_never_share_an_event_or_ticket(any_store):
    for index in range(120):
        add(any_store, index % 40, at=datetime.now(UTC))
    other = Store(any_store.url)
    seen: list[int] = []
    active: set[int] = set()
    clashes: list[int] = []
    lock = threading.Lock()

    threads = [
        threading.Thread(target=_drain, args=(s, n, seen, active, lock, clashes))
        for s, n in [(any_store, "w1"), (other, "w2")]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    other.dispose()

    assert len(seen) == 120
    assert len(set(seen)) == 120
    assert clashes == []


# -- tickets -----------------------------------------------------------------


def test_save_ticket_upserts(any_store):
    assert any_store.get_ticket(9) is None

    any_store.save_ticket(9, {"priority": "high"}, T0)
    any_store.save_ticket(9, {"priority": "urgent", "group_id": 77}, T0)

    assert any_store.get_ticket(9) == {"priority": "urgent", "group_id": 77}


# -- clocks ------------------------------------------------------------------


def test_replace_clocks_upserts_and_cancels_the_rest(any_store):
    any_store.replace_clocks(1, [clock("first_response"), clock("resolution")], T0)

    later = T0 + timedelta(minutes=5)
    any_store.replace_clocks(
        1, [clock("resolution", state="paused", due_at=None)], later
    )

    rows = {r["metric"]: r for r in any_store.clocks_for(1)}
    assert rows["first_response"]["state"] == "cancelled"
    assert rows["first_response"]["next_check_at"] is None
    assert rows["resolution"]["state"] == "paused"
    assert rows["resolution"]["due_at"] is None
    assert rows["resolution"]["data"] == {"posted": []}
    assert rows["resolution"]["updated_at"] == later


def test_replace_clocks_leaves_other_tickets_alone(any_store):
    any_store.replace_clocks(1, [clock("first_response")], T0)
    any_store.replace_clocks(2, [clock("first_response")], T0)

    any_store.replace_clocks(1, [], T0)

    assert any_store.clocks_for(2)[0]["state"] == "running"
    assert any_store.clocks_for(1)[0]["state"] == "cancelled"


def test_due_clocks_returns_due_rows_earliest_first(any_store):
    for ticket_id, minutes in [(1, 30), (2, 10), (3, 90), (4, 20)]:
        check = T0 + timedelta(minutes=minutes)
        any_store.replace_clocks(ticket_id, [clock("nr", next_check_at=check)], T0)
    any_store.replace_clocks(5, [clock("nr", next_check_at=None)], T0)

    due = any_store.due_clocks(T0 + timedelta(minutes=30))

    assert [r["ticket_id"] for r in due] == [2, 4, 1]
    assert due[0]["next_check_at"].tzinfo is not None
    assert len(any_store.due_clocks(T0 + timedelta(hours=2), limit=2)) == 2


def test_set_clock_next_check_moves_the_check_and_data(any_store):
    any_store.replace_clocks(1, [clock("first_response")], T0)

    any_store.set_clock_next_check(1, "first_response", 1, None, {"posted": ["75%"]})

    [row] = any_store.clocks_for(1)
    assert row["next_check_at"] is None
    assert row["data"] == {"posted": ["75%"]}
    assert any_store.due_clocks(T0 + timedelta(days=1)) == []


def test_due_clocks_query_uses_the_next_check_index(store):
    compiled = due_clocks_query(T0, 1000).compile(store.engine)
    params = tuple(str(compiled.params[name]) for name in compiled.positiontup)
    with store.engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()

    details = " ".join(str(row[-1]) for row in plan)
    assert "SEARCH clocks USING INDEX ix_clocks_next_check" in details
    assert "TEMP B-TREE" not in details


def _open_clock_rows(count: int, base: datetime) -> list[dict]:
    return [
        {
            "ticket_id": n,
            "metric": "resolution",
            "cycle": 1,
            "state": "running",
            "next_check_at": base + timedelta(seconds=n),
            "data": {},
            "updated_at": base,
        }
        for n in range(count)
    ]


def test_due_clocks_with_100k_open_clocks_returns_only_the_due(store):
    base = T0 + timedelta(days=1)
    with store.engine.begin() as conn:
        conn.execute(insert(clocks), _open_clock_rows(100_000, base))

    due = store.due_clocks(base + timedelta(seconds=9))

    assert len(due) == 10
    assert [row["next_check_at"] for row in due] == sorted(
        row["next_check_at"] for row in due
    )


# -- alerts ------------------------------------------------------------------


def record(store: Store, key: str = "123:first_response:1:breach") -> bool:
    return store.record_alert(
        key,
        ticket_id=123,
        metric="first_response",
        cycle=1,
        threshold="breach",
        due_at=T0,
        now=T0,
    )


def test_alert_is_recorded_once_across_two_stores(any_store):
    other = Store(any_store.url)

    assert record(any_store) is True
    assert record(other) is False
    assert record(any_store) is False
    other.dispose()


def test_racing_alert_recorders_have_exactly_one_winner(any_store):
    stores = [any_store, Store(any_store.url)]
    results: list[bool] = []

    def race(store: Store) -> None:
        for index in range(30):
            results.append(record(store, f"1:nr:{index}:warning"))

    threads = [threading.Thread(target=race, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stores[1].dispose()

    assert results.count(True) == 30
    assert len(results) == 60


def test_pending_alerts_until_posted(any_store):
    record(any_store, "1:fr:1:warning")
    record(any_store, "1:fr:1:breach")

    any_store.mark_alert_posted("1:fr:1:warning", T0)

    assert [a["key"] for a in any_store.pending_alerts()] == ["1:fr:1:breach"]
    posted = [a for a in any_store.alerts_for(123) if a["posted_at"] is not None]
    assert [a["key"] for a in posted] == ["1:fr:1:warning"]


def test_drop_alert_forgets_only_unposted_alerts(any_store):
    record(any_store, "1:fr:1:warning")
    record(any_store, "1:fr:1:breach")
    any_store.mark_alert_posted("1:fr:1:warning", T0)

    any_store.drop_alert("1:fr:1:warning")
    any_store.drop_alert("1:fr:1:breach")

    assert [a["key"] for a in any_store.alerts_for(123)] == ["1:fr:1:warning"]
    assert record(any_store, "1:fr:1:breach") is True


# -- CRM cache ---------------------------------------------------------------


def test_cache_put_and_get(any_store):
    assert any_store.cache_get("domain:acme.example") is None

    any_store.cache_put("domain:acme.example", {"tier": "silver"}, T0)
    any_store.cache_put("domain:acme.example", {"tier": "gold"}, T0 + timedelta(1))

    value, fetched_at = any_store.cache_get("domain:acme.example")
    assert value == {"tier": "gold"}
    assert fetched_at == T0 + timedelta(days=1)


# -- leases ------------------------------------------------------------------


def test_lease_is_exclusive_until_it_expires(any_store):
    other = Store(any_store.url)

    assert any_store.acquire_lease("sweep", "a", T0, ttl_seconds=30) is True
    assert other.acquire_lease("sweep", "b", T0 + timedelta(seconds=10), 30) is False
    assert any_store.acquire_lease("sweep", "a", T0 + timedelta(seconds=20), 30)
    assert other.acquire_lease("sweep", "b", T0 + timedelta(seconds=45), 30) is False
    assert other.acquire_lease("sweep", "b", T0 + timedelta(seconds=51), 30) is True
    other.dispose()


def test_release_lease_only_by_its_holder(any_store):
    any_store.acquire_lease("sweep", "a", T0, ttl_seconds=30)

    any_store.release_lease("sweep", "b")
    assert any_store.acquire_lease("sweep", "b", T0, ttl_seconds=30) is False

    any_store.release_lease("sweep", "a")
    assert any_store.acquire_lease("sweep", "b", T0, ttl_seconds=30) is True


# -- health ------------------------------------------------------------------


def test_sqlite_folder_is_created(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'var' / 'deep' / 'x.db'}")
    store.create_all()

    assert (tmp_path / "var" / "deep" / "x.db").is_file()
    store.dispose()


def test_ping(any_store, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    broken = Store(f"sqlite:///{tmp_path / 'a-file' / 'x.db'}")

    assert any_store.ping() is True
    assert broken.ping() is False
    broken.dispose()
