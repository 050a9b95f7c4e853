"""The sidecar's durable state: inbox, tickets, SLA clocks, alerts, CRM cache, leases.

SQLAlchemy 2 Core over SQLite (the embedded default, one file in WAL mode) or
PostgreSQL (several replicas sharing the work). The same statements run on
both. Every datetime goes in and comes out timezone-aware in UTC; SQLite keeps
them as naive UTC text that sorts in time order.

Concurrency rules:

- ``add_event`` is one transaction; a unique key table makes duplicates a no-op.
- ``claim_batch`` serialises claimers (``BEGIN IMMEDIATE`` on SQLite, a
  transaction-level advisory lock on PostgreSQL) and claims with a conditional
  UPDATE, so two workers never hold the same event or the same ticket.
- ``record_alert`` and ``acquire_lease`` rely on a primary key plus
  ``ON CONFLICT``, so exactly one caller wins across processes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 600.0
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Any constant works; it only has to be the same for every claimer.
_CLAIM_LOCK_KEY = 0x5649505F494E42


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in and out; stored as UTC (naive UTC text on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> Any:
        if value is None:
            return None

        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass UTC-aware")

        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None

        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)

        return value.astimezone(UTC)


_Id = BigInteger().with_variant(Integer, "sqlite")
_Json = JSON().with_variant(postgresql.JSONB(), "postgresql")

metadata = MetaData()

inbox = Table(
    "inbox",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("ticket_id", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("payload", _Json, nullable=False),
    Column("actor_id", BigInteger),
    Column("received_at", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False, default="queued"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),
    Column("claimed_by", String(128)),
    Column("lease_until", UTCDateTime),
    Column("last_error", Text, nullable=False, default=""),
    Column("updated_at", UTCDateTime),
    Index("ix_inbox_state_next", "state", "next_attempt_at"),
    Index("ix_inbox_ticket_state", "ticket_id", "state"),
)

inbox_keys = Table(
    "inbox_keys",
    metadata,
    Column("key", String(300), primary_key=True),
    Column(
        "event_id",
        _Id,
        ForeignKey("inbox.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)

tickets = Table(
    "tickets",
    metadata,
    Column("ticket_id", BigInteger, primary_key=True, autoincrement=False),
    Column("data", _Json, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

clocks = Table(
    "clocks",
    metadata,
    Column("ticket_id", BigInteger, primary_key=True, autoincrement=False),
    Column("metric", String(64), primary_key=True),
    Column("cycle", Integer, primary_key=True, autoincrement=False),
    Column("state", String(16), nullable=False),
    Column("started_at", UTCDateTime),
    Column("target_seconds", Float),
    Column("due_at", UTCDateTime),
    Column("next_check_at", UTCDateTime),
    Column("severity", String(8)),
    Column("tier", String(64)),
    Column("calendar", String(128)),
    Column("data", _Json, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(
        "ix_clocks_next_check",
        "next_check_at",
        sqlite_where=text("next_check_at IS NOT NULL"),
        postgresql_where=text("next_check_at IS NOT NULL"),
    ),
)

alerts = Table(
    "alerts",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("ticket_id", BigInteger, nullable=False, index=True),
    Column("metric", String(64), nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("threshold", String(64), nullable=False),
    Column("due_at", UTCDateTime),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("posted_at", UTCDateTime),
    Column("data", _Json, nullable=False),
    Index(
        "ix_alerts_pending",
        "recorded_at",
        sqlite_where=text("posted_at IS NULL"),
        postgresql_where=text("posted_at IS NULL"),
    ),
)

crm_cache = Table(
    "crm_cache",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("value", _Json, nullable=False),
    Column("fetched_at", UTCDateTime, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

CLOCK_FIELDS = (
    "state",
    "started_at",
    "target_seconds",
    "due_at",
    "next_check_at",
    "severity",
    "tier",
    "calendar",
)


@dataclass(frozen=True)
class InboxEvent:
    """One stored webhook event, as the worker sees it."""

    id: int
    ticket_id: int
    kind: str
    payload: dict
    actor_id: int | None
    received_at: datetime
    attempts: int
    state: str
    last_error: str


class _Duplicate(Exception):
    """A dedupe key was already taken; rolls the add_event transaction back."""


@dataclass
class _PendingEvent:
    row: dict[str, Any]
    keys: tuple[str, ...]
    stored: bool | None = None
    error: BaseException | None = None
    finished: bool = False


class _GroupCommit:
    """Writes the events of concurrent callers in one transaction.

    No thread of its own: a caller that finds nobody writing becomes the
    writer for one batch (everything queued, up to ``max_batch``), then wakes
    the others; a waiter whose event is still queued becomes the next writer.
    Under light load every batch holds one event, so latency is that of one
    insert; under heavy load the transaction and lock costs are shared.
    """

    def __init__(
        self, write: Callable[[Sequence[_PendingEvent]], None], max_batch: int = 64
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_PendingEvent] = []
        self._writing = False

    def submit(self, pending: _PendingEvent) -> bool:
        with self._cond:
            self._queue.append(pending)
            while not pending.finished:
                if self._writing:
                    self._cond.wait()
                else:
                    self._write_one_batch()

        if pending.error is not None:
            raise pending.error

        return bool(pending.stored)

    def _write_one_batch(self) -> None:
        # Called with the condition held; releases it while writing.
        self._writing = True
        batch = self._queue[: self._max_batch]
        del self._queue[: len(batch)]
        self._cond.release()
        try:
            self._write(batch)
        except BaseException as exc:  # noqa: BLE001 - handed to each waiter
            for pending in batch:
                pending.error = exc
        finally:
            self._cond.acquire()
            for pending in batch:
                pending.finished = True
            self._writing = False
            self._cond.notify_all()


_SQLITE_INSERT_EVENT = (
    "INSERT INTO inbox (ticket_id, kind, payload, actor_id, received_at, state,"
    " attempts, last_error, updated_at) VALUES (?, ?, ?, ?, ?, 'queued', 0, '', ?)"
)


def _sqlite_time(value: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime writes, for a UTC instant."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store; pass UTC-aware")

    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _write_batch_sqlite(cursor: Any, batch: Sequence[_PendingEvent]) -> None:
    cursor.execute("BEGIN IMMEDIATE")
    try:
        _insert_batch_sqlite(cursor, batch)
        cursor.execute("COMMIT")
    except BaseException:
        cursor.execute("ROLLBACK")
        raise


def _insert_batch_sqlite(cursor: Any, batch: Sequence[_PendingEvent]) -> None:
    wanted = [key for pending in batch for key in pending.keys]
    marks = ", ".join("?" * len(wanted))
    query = f"SELECT key FROM inbox_keys WHERE key IN ({marks})"  # noqa: S608
    taken = {row[0] for row in cursor.execute(query, wanted)} if wanted else set()
    key_rows = []
    for pending in batch:
        if taken.intersection(pending.keys):
            pending.stored = False
            continue
        taken.update(pending.keys)
        row = pending.row
        received = _sqlite_time(row["received_at"])
        cursor.execute(
            _SQLITE_INSERT_EVENT,
            (row["ticket_id"], row["kind"], json.dumps(row["payload"]),
             row["actor_id"], received, received),
        )  # fmt: skip
        key_rows += [(key, cursor.lastrowid) for key in pending.keys]
        pending.stored = True
    cursor.executemany("INSERT INTO inbox_keys (key, event_id) VALUES (?, ?)", key_rows)


def backoff_seconds(attempts: int, rng: random.Random | None = None) -> float:
    """Delay before retry number ``attempts``: exponential, capped, jittered.

    The jitter keeps the upper half of the window so a retry never comes much
    earlier than the exponential schedule, while spreading a burst of failures.
    """
    exponent = min(max(attempts - 1, 0), 30)
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**exponent)
    return ceiling * (rng or random).uniform(0.5, 1.0)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Driver-level autocommit, so the "begin" hook below decides how each
    # transaction starts (pysqlite's own BEGIN would be DEFERRED).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # Writers take the write lock up front: a deferred transaction that reads
    # and then writes can fail with SQLITE_BUSY without waiting.
    if conn.get_execution_options().get("vip_read_only"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _ensure_sqlite_folder(url: str) -> None:
    """A SQLite file's folder is created (``sqlite:///var/x.db`` needs var/)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (
        None,
        "",
        ":memory:",
    ):
        folder = os.path.dirname(parsed.database)
        if folder:
            # A folder that cannot be made shows up as a failing connection.
            with contextlib.suppress(OSError):
                os.makedirs(folder, exist_ok=True)


def _build_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)

    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if parsed.database in (None, "", ":memory:"):
        kwargs["poolclass"] = StaticPool

    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _event_from_row(row: Any) -> InboxEvent:
    return InboxEvent(
        id=row.id,
        ticket_id=row.ticket_id,
        kind=row.kind,
        payload=row.payload,
        actor_id=row.actor_id,
        received_at=row.received_at,
        attempts=row.attempts,
        state=row.state,
        last_error=row.last_error,
    )


def _claimable(now: datetime) -> Any:
    return or_(
        inbox.c.state == "queued",
        and_(inbox.c.state == "retry", inbox.c.next_attempt_at <= now),
        and_(inbox.c.state == "claimed", inbox.c.lease_until <= now),
    )


def due_clocks_query(now: datetime, limit: int) -> Any:
    """The sweep's query; ``next_check_at <= now`` lets the partial index serve it."""
    return (
        select(clocks)
        .where(clocks.c.next_check_at <= now)
        .order_by(clocks.c.next_check_at)
        .limit(limit)
    )


class _SQLiteWriterLock:
    """Queues writers of one SQLite file: threads on a lock, processes on flock.

    SQLite admits one writer at a time and its busy handler waits by sleeping
    in growing steps, which caps throughput when webhook threads and worker
    processes write at once. Blocking locks wake the next writer at once.
    """

    def __init__(self, database: str) -> None:
        self._thread_lock = threading.Lock()
        self._path = f"{database}.writelock"
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            # A forked child must not share the parent's open file (and lock).
            if self._fd is None or self._pid != os.getpid():
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError:
            # No lock file (read-only or missing directory): SQLite's own
            # locking still keeps writes safe, only slower under contention.
            pass

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


def _writer_lock(engine: Engine) -> AbstractContextManager[Any]:
    database = engine.url.database
    if engine.dialect.name != "sqlite":
        return nullcontext()

    if database in (None, "", ":memory:") or fcntl is None:
        return threading.Lock()

    return _SQLiteWriterLock(database)


class Store:
    """All persistent state of the sidecar behind one engine.

    One instance per process; it is thread-safe (each call uses its own
    pooled connection and transaction).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        _ensure_sqlite_folder(url)
        self.engine = _build_engine(url)
        self.dialect = self.engine.dialect.name
        self._read_engine = self.engine.execution_options(vip_read_only=True)
        self._write_lock = _writer_lock(self.engine)
        self._group = _GroupCommit(self._add_events)
        # Built once: the hot path (add_event) then reuses the compiled SQL.
        self._insert_event = inbox.insert()
        self._insert_key = (
            self._insert(inbox_keys)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(inbox_keys.c.key)
        )

    # -- lifecycle -----------------------------------------------------------

    def create_all(self) -> None:
        """Create missing tables and indexes (idempotent)."""
        metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self._read_engine.connect() as conn:
                conn.execute(select(1))
        except SQLAlchemyError as exc:
            # The driver's message can carry the URL; the class is enough here.
            logger.warning("store ping failed: %s", type(exc.orig or exc).__name__)
            return False

        return True

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._read_engine.connect() as conn:
            yield conn

    def _insert(self, table: Table) -> Any:
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        return dialect.insert(table)

    def _upsert(self, conn: Connection, table: Table, values: dict, keys: list) -> None:
        stmt = self._insert(table).values(**values)
        changes = {k: stmt.excluded[k] for k in values if k not in keys}
        conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changes))

    # -- inbox ---------------------------------------------------------------

    def add_event(
        self,
        *,
        ticket_id: int,
        kind: str,
        payload: dict,
        actor_id: int | None,
        dedupe_keys: Sequence[str],
        received_at: datetime,
    ) -> bool:
        """Store one event; False (and nothing stored) if any key was seen before.

        Durable when it returns: the webhook answers 2xx only after this.
        Concurrent callers share one transaction (group commit): each still
        returns only after the commit that holds its event.
        """
        row = {
            "ticket_id": ticket_id,
            "kind": kind,
            "payload": payload,
            "actor_id": actor_id,
            "received_at": received_at,
            "state": "queued",
            "attempts": 0,
            "last_error": "",
            "updated_at": received_at,
        }
        return self._group.submit(_PendingEvent(row, tuple(dict.fromkeys(dedupe_keys))))

    def _add_events(self, batch: Sequence[_PendingEvent]) -> None:
        """Write a batch in one transaction; on a race, one event at a time."""
        if self.dialect == "sqlite":
            self._add_events_sqlite(batch)
            return

        try:
            with self._write() as conn:
                self._insert_batch(conn, batch)
        except IntegrityError:
            # Another process took one of the keys after our look-up (possible
            # on PostgreSQL only); settle each event on its own.
            for pending in batch:
                pending.stored = self._add_one(pending)

    def _insert_batch(self, conn: Connection, batch: Sequence[_PendingEvent]) -> None:
        wanted = [key for pending in batch for key in pending.keys]
        taken = set(
            conn.execute(
                select(inbox_keys.c.key).where(inbox_keys.c.key.in_(wanted))
            ).scalars()
        )
        key_rows = []
        for pending in batch:
            if taken.intersection(pending.keys):
                pending.stored = False
                continue
            taken.update(pending.keys)
            result = conn.execute(self._insert_event, pending.row)
            event_id = result.inserted_primary_key[0]
            key_rows += [{"key": key, "event_id": event_id} for key in pending.keys]
            pending.stored = True
        if key_rows:
            conn.execute(inbox_keys.insert(), key_rows)

    def _add_events_sqlite(self, batch: Sequence[_PendingEvent]) -> None:
        # The webhook's hot path, on the driver connection: the same rows the
        # Core statements write, at a third of the cost per event. The write
        # lock is held, so the key look-up cannot race another writer.
        with self._write_lock:
            try:
                raw = self.engine.raw_connection()
                try:
                    _write_batch_sqlite(raw.cursor(), batch)
                finally:
                    raw.close()
            except sqlite3.Error as exc:
                raise OperationalError("add_event", None, exc) from exc

    def _add_one(self, pending: _PendingEvent) -> bool:
        try:
            with self._write() as conn:
                result = conn.execute(self._insert_event, pending.row)
                self._take_keys(conn, result.inserted_primary_key[0], pending.keys)
        except _Duplicate:
            return False

        return True

    def _take_keys(self, conn: Connection, event_id: int, keys: Sequence[str]) -> None:
        for key in keys:
            params = {"key": key, "event_id": event_id}
            if conn.execute(self._insert_key, params).first() is None:
                raise _Duplicate(key)

    def claim_batch(
        self,
        *,
        worker_id: str,
        now: datetime,
        lease_seconds: float = 60,
        max_tickets: int = 10,
    ) -> dict[int, list[InboxEvent]]:
        """Claim every ready event of up to ``max_tickets`` tickets, grouped by ticket.

        A ticket with an event under another worker's live lease is skipped, so
        one ticket is only ever worked on by one worker at a time.
        """
        lease_until = now + timedelta(seconds=lease_seconds)
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(_CLAIM_LOCK_KEY)))

            ticket_ids = self._ready_tickets(conn, now, max_tickets)
            if not ticket_ids:
                return {}

            rows = self._claim_rows(conn, ticket_ids, worker_id, now, lease_until)

        batch: dict[int, list[InboxEvent]] = defaultdict(list)
        for row in sorted(rows, key=lambda r: r.id):
            batch[row.ticket_id].append(_event_from_row(row))

        return dict(batch)

    def _ready_tickets(self, conn: Connection, now: datetime, limit: int) -> list[int]:
        busy = (
            select(inbox.c.ticket_id)
            .where(inbox.c.state == "claimed", inbox.c.lease_until > now)
            .scalar_subquery()
        )
        stmt = (
            select(inbox.c.ticket_id)
            .where(_claimable(now), inbox.c.ticket_id.not_in(busy))
            .group_by(inbox.c.ticket_id)
            .order_by(func.min(inbox.c.id))
            .limit(limit)
        )
        return list(conn.execute(stmt).scalars())

    def _claim_rows(
        self,
        conn: Connection,
        ticket_ids: list[int],
        worker_id: str,
        now: datetime,
        lease_until: datetime,
    ) -> list[Any]:
        # A claim whose lease ran out means the worker died mid-way: count it
        # as an attempt so a poison event cannot crash workers forever.
        stmt = (
            update(inbox)
            .where(inbox.c.ticket_id.in_(ticket_ids), _claimable(now))
            .values(
                state="claimed",
                claimed_by=worker_id,
                lease_until=lease_until,
                updated_at=now,
                attempts=inbox.c.attempts
                + case((inbox.c.state == "claimed", 1), else_=0),
            )
            .returning(*inbox.c)
        )
        return list(conn.execute(stmt))

    def complete(self, event_ids: Sequence[int], now: datetime) -> None:
        """Mark events done."""
        self._set_state(event_ids, now, state="done", last_error="")

    def fail(self, event_ids: Sequence[int], *, error: str, now: datetime) -> None:
        """Give up on events; they stay for inspection and ``requeue_failed``."""
        self._set_state(event_ids, now, state="failed", last_error=error[:2000])

    def _set_state(
        self, event_ids: Sequence[int], now: datetime, **values: Any
    ) -> None:
        if not event_ids:
            return

        stmt = (
            update(inbox)
            .where(inbox.c.id.in_(list(event_ids)))
            .values(claimed_by=None, lease_until=None, updated_at=now, **values)
        )
        with self._write() as conn:
            conn.execute(stmt)

    def retry_later(
        self,
        event_ids: Sequence[int],
        *,
        error: str,
        now: datetime,
        max_attempts: int = 8,
        min_delay: float = 0.0,
    ) -> None:
        """Count one more attempt and schedule the next, or fail past ``max_attempts``.

        ``min_delay`` (seconds) honours a Retry-After hint from the far side.
        """
        with self._write() as conn:
            rows = conn.execute(
                select(inbox.c.id, inbox.c.attempts).where(
                    inbox.c.id.in_(list(event_ids))
                )
            ).all()
            for event_id, attempts in rows:
                values = self._retry_values(attempts + 1, now, max_attempts, min_delay)
                values["last_error"] = error[:2000]
                conn.execute(
                    update(inbox).where(inbox.c.id == event_id).values(**values)
                )

    @staticmethod
    def _retry_values(
        attempts: int, now: datetime, max_attempts: int, min_delay: float
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            "attempts": attempts,
            "claimed_by": None,
            "lease_until": None,
            "updated_at": now,
        }
        if attempts >= max_attempts:
            return {**values, "state": "failed", "next_attempt_at": None}

        delay = max(backoff_seconds(attempts), min_delay)
        return {
            **values,
            "state": "retry",
            "next_attempt_at": now + timedelta(seconds=delay),
        }

    def list_events(self, state: str) -> list[InboxEvent]:
        """Events in one state, oldest first."""
        stmt = select(inbox).where(inbox.c.state == state).order_by(inbox.c.id)
        with self._read() as conn:
            return [_event_from_row(row) for row in conn.execute(stmt)]

    def requeue_failed(self, now: datetime) -> int:
        """Put every failed event back in the queue with a fresh attempt count."""
        stmt = (
            update(inbox)
            .where(inbox.c.state == "failed")
            .values(state="queued", attempts=0, next_attempt_at=None, updated_at=now)
        )
        with self._write() as conn:
            return conn.execute(stmt).rowcount

    def inbox_counts(self) -> dict[str, int]:
        """How many events are in each state."""
        stmt = select(inbox.c.state, func.count()).group_by(inbox.c.state)
        with self._read() as conn:
            return {state: count for state, count in conn.execute(stmt)}

    def purge_done(self, older_than: datetime) -> int:
        """Delete done events (and their dedupe keys) last touched before a time."""
        stmt = delete(inbox).where(
            inbox.c.state == "done", inbox.c.updated_at < older_than
        )
        with self._write() as conn:
            return conn.execute(stmt).rowcount

    # -- tickets -------------------------------------------------------------

    def get_ticket(self, ticket_id: int) -> dict | None:
        """The last decision/write saved for a ticket, or None."""
        stmt = select(tickets.c.data).where(tickets.c.ticket_id == ticket_id)
        with self._read() as conn:
            return conn.execute(stmt).scalar_one_or_none()

    def iter_tickets(self, batch: int = 1000) -> Iterator[tuple[int, dict]]:
        """Every saved ticket decision, by ticket id (for reports)."""
        last = -1
        while True:
            stmt = (
                select(tickets.c.ticket_id, tickets.c.data)
                .where(tickets.c.ticket_id > last)
                .order_by(tickets.c.ticket_id)
                .limit(batch)
            )
            with self._read() as conn:
                rows = conn.execute(stmt).all()
            if not rows:
                return
            yield from ((row.ticket_id, row.data) for row in rows)
            last = rows[-1].ticket_id

    def save_ticket(self, ticket_id: int, data: dict, now: datetime) -> None:
        values = {"ticket_id": ticket_id, "data": data, "updated_at": now}
        with self._write() as conn:
            self._upsert(conn, tickets, values, ["ticket_id"])

    # -- clocks --------------------------------------------------------------

    def replace_clocks(
        self, ticket_id: int, clocks_: Sequence[dict], now: datetime
    ) -> None:
        """Upsert a ticket's clocks; its other clocks become 'cancelled'."""
        keep = [(c["metric"], int(c["cycle"])) for c in clocks_]
        with self._write() as conn:
            for clock in clocks_:
                self._upsert(
                    conn,
                    clocks,
                    self._clock_values(ticket_id, clock, now),
                    [
                        "ticket_id",
                        "metric",
                        "cycle",
                    ],
                )

            self._cancel_other_clocks(conn, ticket_id, keep, now)

    @staticmethod
    def _clock_values(ticket_id: int, clock: dict, now: datetime) -> dict[str, Any]:
        values = {name: clock.get(name) for name in CLOCK_FIELDS}
        values.update(
            ticket_id=ticket_id,
            metric=clock["metric"],
            cycle=int(clock["cycle"]),
            data=clock.get("data") or {},
            updated_at=now,
        )
        return values

    def _cancel_other_clocks(
        self, conn: Connection, ticket_id: int, keep: list, now: datetime
    ) -> None:
        stmt = update(clocks).where(
            clocks.c.ticket_id == ticket_id, clocks.c.state != "cancelled"
        )
        for metric, cycle in keep:
            stmt = stmt.where(~and_(clocks.c.metric == metric, clocks.c.cycle == cycle))

        conn.execute(stmt.values(state="cancelled", next_check_at=None, updated_at=now))

    def due_clocks(self, now: datetime, limit: int = 1000) -> list[dict]:
        """Clocks whose next check is due, earliest first (index range scan)."""
        stmt = due_clocks_query(now, limit)
        with self._read() as conn:
            return [dict(row._mapping) for row in conn.execute(stmt)]

    def iter_clocks(self, batch: int = 1000) -> Iterator[dict]:
        """Every clock row, cancelled ones excluded (for reports)."""
        last: tuple[int, str, int] = (-1, "", -1)
        key = (clocks.c.ticket_id, clocks.c.metric, clocks.c.cycle)
        while True:
            stmt = (
                select(clocks)
                .where(clocks.c.state != "cancelled")
                .where(tuple_(*key) > tuple_(*last))
                .order_by(*key)
                .limit(batch)
            )
            with self._read() as conn:
                rows = [dict(row._mapping) for row in conn.execute(stmt)]
            if not rows:
                return
            yield from rows
            last = (rows[-1]["ticket_id"], rows[-1]["metric"], rows[-1]["cycle"])

    def clocks_for(self, ticket_id: int) -> list[dict]:
        stmt = (
            select(clocks)
            .where(clocks.c.ticket_id == ticket_id)
            .order_by(clocks.c.metric, clocks.c.cycle)
        )
        with self._read() as conn:
            return [dict(row._mapping) for row in conn.execute(stmt)]

    def set_clock_next_check(
        self,
        ticket_id: int,
        metric: str,
        cycle: int,
        next_check_at: datetime | None,
        data: dict | None = None,
    ) -> None:
        """Move a clock's next check (None: nothing to do); replace data if given."""
        values: dict[str, Any] = {"next_check_at": next_check_at}
        if data is not None:
            values["data"] = data

        stmt = (
            update(clocks)
            .where(
                clocks.c.ticket_id == ticket_id,
                clocks.c.metric == metric,
                clocks.c.cycle == cycle,
            )
            .values(**values)
        )
        with self._write() as conn:
            conn.execute(stmt)

    # -- alerts --------------------------------------------------------------

    def record_alert(
        self,
        key: str,
        *,
        ticket_id: int,
        metric: str,
        cycle: int,
        threshold: str,
        due_at: datetime,
        now: datetime,
        data: dict | None = None,
    ) -> bool:
        """Claim an alert key; True only for the first caller ever."""
        values = {
            "key": key,
            "ticket_id": ticket_id,
            "metric": metric,
            "cycle": cycle,
            "threshold": threshold,
            "due_at": due_at,
            "recorded_at": now,
            "data": data or {},
        }
        stmt = (
            self._insert(alerts)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(alerts.c.key)
        )
        with self._write() as conn:
            return conn.execute(stmt).first() is not None

    def mark_alert_posted(self, key: str, now: datetime) -> None:
        stmt = update(alerts).where(alerts.c.key == key).values(posted_at=now)
        with self._write() as conn:
            conn.execute(stmt)

    def alerts_for(self, ticket_id: int) -> list[dict]:
        stmt = (
            select(alerts)
            .where(alerts.c.ticket_id == ticket_id)
            .order_by(alerts.c.recorded_at, alerts.c.key)
        )
        with self._read() as conn:
            return [dict(row._mapping) for row in conn.execute(stmt)]

    def pending_alerts(self) -> list[dict]:
        """Alerts recorded but never posted (a crash in between): retry them."""
        stmt = (
            select(alerts)
            .where(alerts.c.posted_at.is_(None))
            .order_by(alerts.c.recorded_at, alerts.c.key)
        )
        with self._read() as conn:
            return [dict(row._mapping) for row in conn.execute(stmt)]

    def drop_alert(self, key: str) -> None:
        """Forget a pending alert (its clock paused or stopped); posted ones stay."""
        stmt = delete(alerts).where(alerts.c.key == key, alerts.c.posted_at.is_(None))
        with self._write() as conn:
            conn.execute(stmt)

    # -- CRM cache -----------------------------------------------------------

    def cache_get(self, key: str) -> tuple[dict, datetime] | None:
        stmt = select(crm_cache.c.value, crm_cache.c.fetched_at).where(
            crm_cache.c.key == key
        )
        with self._read() as conn:
            row = conn.execute(stmt).first()

        return None if row is None else (row.value, row.fetched_at)

    def cache_put(self, key: str, value: dict, fetched_at: datetime) -> None:
        values = {"key": key, "value": value, "fetched_at": fetched_at}
        with self._write() as conn:
            self._upsert(conn, crm_cache, values, ["key"])

    # -- leases --------------------------------------------------------------

    def acquire_lease(
        self, name: str, holder: str, now: datetime, ttl_seconds: float
    ) -> bool:
        """Take or renew a named lease; False while someone else holds it."""
        expires_at = now + timedelta(seconds=ttl_seconds)
        stmt = self._insert(leases).values(
            name=name, holder=holder, expires_at=expires_at
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": holder, "expires_at": expires_at},
            where=or_(leases.c.holder == holder, leases.c.expires_at <= now),
        ).returning(leases.c.holder)
        with self._write() as conn:
            return conn.execute(stmt).first() is not None

    def release_lease(self, name: str, holder: str) -> None:
        stmt = delete(leases).where(leases.c.name == name, leases.c.holder == holder)
        with self._write() as conn:
            conn.execute(stmt)
