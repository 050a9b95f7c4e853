"""How long one SLA sweep takes with many open clocks and 1,000 due.

Seeds 10,000 and then 100,000 open clocks, of which 1,000 are due for a
warning, and times ``Sweeper.run_once`` on each. What is measured is the
sweep's own work: the indexed query for due clocks, recomputing each due
ticket's clocks, recording and marking each alert, and storing the clocks
again. Zendesk is replaced by a counting stand-in (reads return a prepared
ticket, writes only count), so no network time is included.

SQLite runs on a temporary file; PostgreSQL runs too when
VIP_SIDECAR_TEST_DATABASE_URL is set (a scratch schema is created and dropped).

    python benchmarks/sweep.py [--open 10000 100000] [--due 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from rules.model import Comment, Requester, TicketFacts  # noqa: E402
from rules.sla import parse_sla_config  # noqa: E402
from sidecar.store import Store, clocks  # noqa: E402
from sidecar.sweep import Sweeper  # noqa: E402

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
PG_ENV = "VIP_SIDECAR_TEST_DATABASE_URL"


class CountingZendesk:
    """Stands in for the Zendesk connector: no I/O, counts the calls."""

    def __init__(self) -> None:
        created = NOW - timedelta(minutes=31)
        self.template = TicketFacts(
            id=0,
            subject="",
            description="",
            status="open",
            priority="high",
            type=None,
            tags=("vip",),
            group_id=None,
            assignee_id=None,
            requester=Requester(1),
            organization=None,
            created_at=created,
            updated_at=created,
            comments=(Comment(1, 1, created, True, "down"),),
        )
        self.reads = 0
        self.writes = 0

    def fetch_ticket(
        self, ticket_id: int, *, with_history: bool = False, with_people: bool = True
    ):
        self.reads += 1
        return replace(self.template, id=ticket_id)

    def update_ticket(self, ticket_id: int, *, updated_stamp, **_fields):
        self.writes += 1
        return updated_stamp + timedelta(seconds=1)


class FrozenClock:
    def now(self) -> datetime:
        return NOW


def seed(store: Store, open_count: int, due_count: int) -> None:
    """``open_count`` running first-response clocks; the first ``due_count``
    are due now (their 50 % warning passed a minute ago)."""
    started = NOW - timedelta(minutes=31)
    rows = []
    for ticket_id in range(1, open_count + 1):
        due = ticket_id <= due_count
        next_check = (
            NOW - timedelta(minutes=1)
            if due
            else NOW + timedelta(seconds=60 + ticket_id)
        )
        rows.append(
            {
                "ticket_id": ticket_id,
                "metric": "first_response",
                "cycle": 1,
                "state": "running",
                "started_at": started,
                "target_seconds": 3600.0,
                "due_at": started + timedelta(hours=1),
                "next_check_at": next_check,
                "severity": "P2",
                "tier": "enterprise",
                "calendar": "24x7",
                "data": {"round": 1},
                "updated_at": started,
            }
        )

    with store.engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(clocks), rows[start : start + 5000])


def measure(store: Store, open_count: int, due_count: int) -> dict:
    seed(store, open_count, due_count)
    zendesk = CountingZendesk()
    policy = parse_sla_config(None)
    sweeper = Sweeper(
        store, zendesk, policy_provider=lambda: policy, clock=FrozenClock()
    )

    query_started = time.perf_counter()
    found = len(store.due_clocks(NOW, limit=due_count))
    query = time.perf_counter() - query_started
    assert found == due_count

    started = time.perf_counter()
    result = sweeper.run_once()
    elapsed = time.perf_counter() - started
    if result["errors"] or result["warnings"] != due_count:
        # A run that failed tickets would look fast for the wrong reason.
        raise SystemExit(f"sweep did not post one alert per due clock: {result}")
    return {
        "open": open_count,
        "due": result["due"],
        "warnings": result["warnings"],
        "reads": zendesk.reads,
        "writes": zendesk.writes,
        "sweep_s": elapsed,
        "query_s": query,
    }


def sqlite_store(directory: str, name: str) -> Store:
    store = Store(f"sqlite:///{Path(directory) / name}")
    store.create_all()
    return store


def postgres_runs(url: str, sizes: list[int], due: int) -> list[dict]:
    admin = create_engine(url)
    results = []
    for size in sizes:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))

        separator = "&" if "?" in url else "?"
        store = Store(f"{url}{separator}options={quote(f'-csearch_path={schema}')}")
        try:
            store.create_all()
            results.append(measure(store, size, due))
        finally:
            store.dispose()
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))

    admin.dispose()
    return results


def report(backend: str, results: list[dict]) -> None:
    print(f"\n{backend}")
    print(
        f"{'open clocks':>12} {'due':>6} {'alerts':>7} {'sweep s':>9} "
        f"{'due query s':>12} {'zendesk reads/writes (stand-in)':>32}"
    )
    for row in results:
        print(
            f"{row['open']:>12,} {row['due']:>6,} {row['warnings']:>7,} "
            f"{row['sweep_s']:>9.3f} {row['query_s']:>12.4f} "
            f"{row['reads']:>16,} / {row['writes']:<,}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--due", type=int, default=1000)
    args = parser.parse_args()

    print(
        "SLA sweep benchmark: store work only (due-clock query, recompute, alert "
        "records, clock upserts); Zendesk replaced by a counting stand-in."
    )
    with tempfile.TemporaryDirectory() as directory:
        results = []
        for size in args.open:
            store = sqlite_store(directory, f"bench_{size}.db")
            results.append(measure(store, size, args.due))
            store.dispose()

        report("SQLite (file, WAL)", results)

    url = os.environ.get(PG_ENV)
    if url:
        report("PostgreSQL", postgres_runs(url, args.open, args.due))
    else:
        print(f"\nPostgreSQL skipped: set {PG_ENV} to include it.")


if __name__ == "__main__":
    main()
