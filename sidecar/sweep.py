"""The SLA sweep: finds due clocks, re-reads their tickets and posts each alert once.

Every checkpoint of a clock (the warnings, the breach, the re-notifications
after a breach) has an alert key ``ticket:metric:cycle:threshold`` that is
unique in the store: the sweep claims the key first (``record_alert``), then
writes one internal note carrying the marker ``[vip-sidecar alert <key>]``,
then marks the alert posted. A write that is retried after a crash first looks
for the marker on the ticket, so a note is never posted twice.

A clock's ``next_check_at`` is its next checkpoint not yet alerted; the store
answers ``next_check_at <= now`` from an index, so a sweep costs what is due,
not what is open. Each due ticket is re-read once and its clocks recomputed
with the current policy. When several checkpoints of one clock passed while
the sweep did not run, one alert is posted (the breach if it is among them)
and says how late it is; the others are recorded as covered by it.

Re-notifications stop at the policy's ``renotify_max`` per clock round: a
clock whose last allowed one is handled has no next check until its ticket
changes (the pipeline then stores it again).
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from time import perf_counter
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from connector.errors import NotFound, RateLimited, UpdateConflict
from rules.calendar import TWENTY_FOUR_SEVEN, Calendar, build_calendars
from rules.model import AccountFacts, TicketFacts
from rules.sla import (
    ClockState,
    SlaPolicy,
    checkpoints,
    compute_clocks,
    decide_calendar_name,
    evaluate_clock,
    find_metric_targets,
)
from sidecar import store as store_tables
from sidecar.clock import Clock

log = logging.getLogger(__name__)

# How many sweeps in a row must find a ticket missing before its clocks end.
NOT_FOUND_CONFIRMATIONS = 3
# Short, so that a passing 404 delays no warning by much.
NOT_FOUND_RECHECK = timedelta(seconds=15)

MARKER = "[vip-sidecar alert {key}]"
ACK = "ack"
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
# A policy change re-plans at most this many open clocks in one sweep.
_MAX_RESCHEDULE = 1_000_000
_COUNTS = ("due", "tickets", "warnings", "breaches", "renotified", "late", "errors")


def alert_threshold(clock: ClockState, name: str) -> str:
    """The threshold part of an alert key; later rounds of a metric get ``.rN``."""
    return name if clock.round == 1 else f"{name}.r{clock.round}"


def alert_key(ticket_id: int, clock: ClockState, name: str) -> str:
    return f"{ticket_id}:{clock.metric}:{clock.cycle}:{alert_threshold(clock, name)}"


def split_threshold(threshold: str) -> tuple[str, int]:
    name, _, suffix = threshold.partition(".r")
    return name, int(suffix) if suffix.isdigit() else 1


def _default_url(ticket_id: int) -> str:
    return f"ticket #{ticket_id}"


def make_chat_notifier(url: str) -> Callable[[dict], None]:
    """A notifier that sends a P1 page to a chat webhook through apprise
    (``slack://...``, ``msteams://...``, or any URL apprise accepts)."""
    with _quiet_apprise():
        import apprise

        client = apprise.Apprise()
        if not client.add(url):
            raise ValueError("chat URL is not one apprise understands")

    def notify(payload: dict) -> None:
        with _quiet_apprise():
            sent = client.notify(title=chat_title(payload), body=chat_body(payload))

        if not sent:
            raise RuntimeError("the chat webhook refused the message")

    return notify


@contextmanager
def _quiet_apprise() -> Iterator[None]:
    # apprise 2.x loads its plugins through the deprecated imghdr module on
    # Python 3.11/3.12; harmless, and not ours to fix.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*imghdr.*", category=DeprecationWarning
        )
        yield


def chat_title(payload: dict) -> str:
    what = "still breached" if payload["alert"].startswith("renotify") else "breached"
    return f"{payload['severity']} SLA {what}: ticket {payload['ticket_id']}"


def chat_body(payload: dict) -> str:
    value = payload.get("contract_value")
    contract = "-" if value is None else f"{value:,.0f}"
    metric = str(payload["metric"]).replace("_", " ")
    lines = [
        f"{metric} target breached at {payload.get('breached_at') or '-'}",
        f"Account: {payload.get('account') or '-'} (tier {payload.get('tier')})",
        f"Contract value: {contract}",
        f"Ticket: {payload['url']}",
    ]
    if payload.get("late_seconds"):
        lines.append(f"Sent {format_duration(payload['late_seconds'])} late.")

    return "\n".join(lines)


class Sweeper:
    """Keeps the store's clocks in step with tickets and posts due alerts."""

    def __init__(
        self,
        store: Any,
        zendesk: Any,
        *,
        policy_provider: Callable[[], SlaPolicy],
        calendars_provider: Callable[[], Mapping[str, Calendar]] | None = None,
        clock: Clock,
        notifier: Callable[[dict], None] | None = None,
        ticket_url: Callable[[int], str] = _default_url,
        batch_size: int = 1000,
        max_batches: int = 20,
        late_after_seconds: float = 120.0,
        retry_after_seconds: float = 60.0,
        conflict_retries: int = 3,
    ) -> None:
        self.store = store
        self.zendesk = zendesk
        self._policy_provider = policy_provider
        self._calendars_provider = calendars_provider
        self.clock = clock
        self.notifier = notifier
        self.ticket_url = ticket_url
        self.batch_size = batch_size
        self.max_batches = max_batches
        self.late_after = timedelta(seconds=late_after_seconds)
        self.retry_after = timedelta(seconds=retry_after_seconds)
        self.conflict_retries = conflict_retries
        self._seen_policy: tuple | None = None
        self._built_calendars: tuple[SlaPolicy, dict[str, Calendar]] | None = None
        self._chat: tuple[str, Callable[[dict], None]] | None = None

    # -- the pipeline's entry ------------------------------------------------

    def refresh_ticket(
        self,
        ticket: TicketFacts,
        *,
        tier: str | None,
        severity: str,
        account: AccountFacts | None,
        now: datetime,
    ) -> list[ClockState]:
        """Recompute a ticket's clocks after a decision and store them.

        Records acknowledgements and drops pending alerts of clocks that no
        longer count; posts nothing (that is the sweep's job).
        """
        policy, calendars = self._current()
        account_calendar = account.calendar if account else None
        clocks = self._compute(
            ticket, tier, severity, account_calendar, policy, calendars, now
        )

        alerts = self._alerts(ticket.id)
        clocks = self._settle(ticket.id, clocks, alerts, now)
        context = _Context(ticket, policy, severity, tier, {}, now, calendars)
        context.account_calendar = account_calendar
        self.store.replace_clocks(ticket.id, self._rows(context, clocks, alerts), now)
        return clocks

    # -- the sweep -----------------------------------------------------------

    def run_once(self) -> dict:
        """One sweep over the due clocks; returns counts and the time it took."""
        started = perf_counter()
        now = self.clock.now()
        counts: Counter[str] = Counter(dict.fromkeys(_COUNTS, 0))
        self._reschedule_on_policy_change(now)

        for _ in range(self.max_batches):
            due = self.store.due_clocks(now, limit=self.batch_size)
            counts["due"] += len(due)
            stopped = self._sweep_batch(due, now, counts)
            if stopped or len(due) < self.batch_size:
                break

        result: dict[str, Any] = {name: counts[name] for name in _COUNTS}
        result["seconds"] = round(perf_counter() - started, 4)
        log.info(
            "sla sweep: %d due, %d tickets, %d warnings, %d breaches, "
            "%d renotified, %d late, %d errors in %.3fs",
            *(result[name] for name in _COUNTS),
            result["seconds"],
        )
        return result

    def _sweep_batch(self, due: list[dict], now: datetime, counts: Counter) -> bool:
        """Handle one batch: plan every ticket, claim all alert keys at once,
        post, then mark and store in bulk. True when the sweep must stop."""
        by_ticket: dict[int, list[dict]] = defaultdict(list)
        for row in due:
            by_ticket[int(row["ticket_id"])].append(row)

        batch = _SqlBatch(self.store)
        metas, alerts = batch.tickets(by_ticket), batch.alerts(by_ticket)
        plans, stopped = self._plan_all(by_ticket, metas, alerts, now, counts)
        claimed = batch.claim([r for plan in plans for r in plan.records], now)

        posted: list[str] = []
        stopped = self._deliver_all(plans, claimed, posted, counts) or stopped
        batch.mark_posted(posted, now)

        done = set(posted)
        for plan in plans:
            plan.settle(claimed, done, now)

        batch.store_clocks(
            {p.ctx.ticket.id: self._rows(p.ctx, p.clocks, p.alerts) for p in plans},
            now,
        )
        return stopped

    def _plan_all(
        self,
        by_ticket: dict[int, list[dict]],
        metas: dict[int, dict],
        alerts: dict[int, dict[str, dict]],
        now: datetime,
        counts: Counter,
    ) -> tuple[list[_Plan], bool]:
        plans = []
        for ticket_id, rows in by_ticket.items():
            counts["tickets"] += 1
            try:
                plan = self._plan(
                    ticket_id, rows, metas.get(ticket_id), alerts[ticket_id], now
                )
            except Exception as exc:
                if self._failed(ticket_id, rows, exc, now, counts):
                    return plans, True
                continue

            if plan is not None:
                plans.append(plan)

        return plans, False

    def _deliver_all(
        self,
        plans: list[_Plan],
        claimed: set[str],
        posted: list[str],
        counts: Counter,
    ) -> bool:
        for index, plan in enumerate(plans):
            try:
                self._deliver(plan, claimed, posted, counts)
            except Exception as exc:
                rows = plan.due_rows
                if self._failed(plan.ctx.ticket.id, rows, exc, plan.ctx.now, counts):
                    # Later tickets keep their claimed alerts pending; the
                    # next sweep retries them.
                    for later in plans[index + 1 :]:
                        later.skip = True
                    return True

        return False

    def _failed(
        self,
        ticket_id: int,
        rows: list[dict],
        exc: Exception,
        now: datetime,
        counts: Counter,
    ) -> bool:
        """Log and postpone a failed ticket; True when the sweep must stop."""
        counts["errors"] += 1
        if isinstance(exc, RateLimited):
            log.warning("sla sweep: rate limited at ticket %s", ticket_id)
            wait = timedelta(seconds=max(exc.retry_after, 1.0))
            self._postpone(ticket_id, rows, now + wait)
            return True

        # One bad ticket never stops the sweep; the exception text may quote
        # vendor data, so only its type is logged.
        log.warning("sla sweep: ticket %s failed (%s)", ticket_id, type(exc).__name__)
        self._postpone(ticket_id, rows, now + self.retry_after)
        return False

    def _plan(
        self,
        ticket_id: int,
        rows: list[dict],
        meta: dict | None,
        alerts: dict[str, dict],
        now: datetime,
    ) -> _Plan | None:
        """Re-read the ticket, recompute its clocks and decide its alerts."""
        try:
            ticket = self.zendesk.fetch_ticket(
                ticket_id, with_history=True, with_people=False
            )
        except NotFound:
            return self._not_found(ticket_id, rows, now)

        policy, calendars = self._current()
        tier, severity, account = _ticket_meta(meta or {}, rows)
        clocks = self._compute(
            ticket, tier, severity, account.get("calendar"), policy, calendars, now
        )

        clocks = self._settle(ticket_id, clocks, alerts, now)
        plan = _Plan(_Context(ticket, policy, severity, tier, account, now, calendars))
        plan.clocks, plan.alerts, plan.due_rows = clocks, alerts, rows
        for clock in _latest_rounds(clocks):
            if clock.is_active:
                self._plan_clock(plan, clock)

        return plan

    def _plan_clock(self, plan: _Plan, clock: ClockState) -> None:
        ctx, alerts = plan.ctx, plan.alerts
        ticket_id = ctx.ticket.id
        points = checkpoints(
            clock, ctx.policy, severity=ctx.severity, calendars=ctx.calendars
        )
        for name, at in points:
            alert = alerts.get(alert_key(ticket_id, clock, name))
            if alert is not None and alert.get("posted_at") is None:
                plan.retries.append((clock, name, at))

        passed = _unhandled(ticket_id, clock, points, alerts, ctx.now)
        if not passed:
            return

        name, at = _pick(passed)
        main = alert_key(ticket_id, clock, name)
        plan.new.append((clock, name, at))
        plan.records.append(
            _record_row(ticket_id, clock, name, at, {"kind": _kind(name)})
        )
        for other, other_at in passed:
            if other != name:
                covered = {"covered_by": main}
                plan.records.append(
                    _record_row(ticket_id, clock, other, other_at, covered)
                )
                plan.covered.append(alert_key(ticket_id, clock, other))

    def _deliver(
        self,
        plan: _Plan,
        claimed: set[str],
        posted: list[str],
        counts: Counter,
    ) -> None:
        ctx = plan.ctx
        if plan.skip:
            return

        for clock, name, at in plan.retries:
            self._post(ctx, clock, name, at, counts)
            posted.append(alert_key(ctx.ticket.id, clock, name))

        posted.extend(key for key in plan.covered if key in claimed)
        for clock, name, at in plan.new:
            key = alert_key(ctx.ticket.id, clock, name)
            if key in claimed:
                self._post(ctx, clock, name, at, counts)
                posted.append(key)

    def _postpone(self, ticket_id: int, rows: list[dict], when: datetime) -> None:
        for row in rows:
            self.store.set_clock_next_check(
                ticket_id, row["metric"], int(row["cycle"]), when
            )

    def _not_found(self, ticket_id: int, rows: list[dict], now: datetime) -> None:
        """A 404 ends the clocks only when it repeats: Zendesk can answer 404
        for a moment (a new ticket not yet replicated, a passing fault)."""
        misses = 1 + max(
            int((row.get("data") or {}).get("not_found", 0)) for row in rows
        )
        if misses < NOT_FOUND_CONFIRMATIONS:
            log.warning(
                "sla sweep: ticket %s not found (%d of %d); checking again later",
                ticket_id,
                misses,
                NOT_FOUND_CONFIRMATIONS,
            )
            for row in rows:
                data = {**(row.get("data") or {}), "not_found": misses}
                self.store.set_clock_next_check(
                    ticket_id,
                    row["metric"],
                    row["cycle"],
                    now + NOT_FOUND_RECHECK,
                    data,
                )
            return None

        log.info("sla sweep: ticket %s is gone; its clocks end", ticket_id)
        self._forget(ticket_id, now)
        return None

    def _forget(self, ticket_id: int, now: datetime) -> None:
        for alert in self._alerts(ticket_id).values():
            if alert.get("posted_at") is None:
                self.store.drop_alert(alert["key"])

        self.store.replace_clocks(ticket_id, [], now)

    # -- computing -----------------------------------------------------------

    def _current(self) -> tuple[SlaPolicy, Mapping[str, Calendar]]:
        policy = self._policy_provider()
        if self._calendars_provider is not None:
            return policy, self._calendars_provider()

        if self._built_calendars is None or self._built_calendars[0] is not policy:
            self._built_calendars = (policy, build_calendars(policy.calendar_specs))

        return policy, self._built_calendars[1]

    def _compute(
        self,
        ticket: TicketFacts,
        tier: str | None,
        severity: str | None,
        account_calendar: str | None,
        policy: SlaPolicy,
        calendars: Mapping[str, Calendar],
        now: datetime,
    ) -> list[ClockState]:
        if not tier or not severity:
            return []

        if account_calendar and account_calendar not in calendars:
            log.warning(
                "ticket %s: account calendar is not configured; tier calendar used",
                ticket.id,
            )

        return compute_clocks(
            ticket,
            tier=tier,
            severity=severity,
            policy=policy,
            calendars=calendars,
            now=now,
            account_calendar=account_calendar,
        )

    def _alerts(self, ticket_id: int) -> dict[str, dict]:
        return {alert["key"]: alert for alert in self.store.alerts_for(ticket_id)}

    def _settle(
        self,
        ticket_id: int,
        clocks: list[ClockState],
        alerts: dict[str, dict],
        now: datetime,
    ) -> list[ClockState]:
        """Record new acknowledgements, apply stored ones, drop stale pending alerts."""
        settled = [self._acknowledged(ticket_id, c, alerts, now) for c in clocks]
        active = {
            (c.metric, c.cycle, c.round) for c in _latest_rounds(settled) if c.is_active
        }
        for key, alert in list(alerts.items()):
            name, round_ = split_threshold(alert["threshold"])
            if alert.get("posted_at") is not None or name == ACK:
                continue

            if (alert["metric"], int(alert["cycle"]), round_) not in active:
                log.info("ticket %s: pending alert dropped (clock ended)", ticket_id)
                self.store.drop_alert(key)
                del alerts[key]

        return settled

    def _acknowledged(
        self, ticket_id: int, clock: ClockState, alerts: dict, now: datetime
    ) -> ClockState:
        key = alert_key(ticket_id, clock, ACK)
        stored = alerts.get(key)
        if stored is not None:
            by = (stored.get("data") or {}).get("by", "unknown")
            return replace(clock, acknowledged_by=by, acknowledged_at=stored["due_at"])

        if clock.acknowledged_by is None or clock.breached_at is None:
            return clock

        data = {"by": clock.acknowledged_by}
        self._record(ticket_id, clock, ACK, clock.acknowledged_at or now, now, data)
        self.store.mark_alert_posted(key, now)
        alerts[key] = {"key": key, "threshold": ACK, "posted_at": now, "data": data}
        log.info("ticket %s: %s breach acknowledged", ticket_id, clock.metric)
        return clock

    def _record(
        self,
        ticket_id: int,
        clock: ClockState,
        name: str,
        at: datetime,
        now: datetime,
        data: dict | None = None,
    ) -> bool:
        return self.store.record_alert(
            alert_key(ticket_id, clock, name),
            ticket_id=ticket_id,
            metric=clock.metric,
            cycle=clock.cycle,
            threshold=alert_threshold(clock, name),
            due_at=at,
            now=now,
            data=data,
        )

    # -- alerting ------------------------------------------------------------

    def _post(
        self,
        ctx: _Context,
        clock: ClockState,
        name: str,
        at: datetime,
        counts: Counter,
    ) -> None:
        key = alert_key(ctx.ticket.id, clock, name)
        late = ctx.now - at if ctx.now - at > self.late_after else None
        note = compose_note(clock, name, at, key, ctx, late)
        breach = name == "breach"
        page = breach and ctx.severity == "P1"
        group = _escalation_group(ctx.policy, breach=breach, page=page)

        ctx.ticket = self._write(ctx, key, note, "urgent" if page else None, group)
        counts[_COUNTER[_kind(name)]] += 1
        counts["late"] += late is not None
        log.info("ticket %s: SLA %s posted for %s", ctx.ticket.id, name, clock.metric)

        if ctx.severity == "P1" and _kind(name) != "warning":
            self._notify(ctx, clock, name, late)

    def _write(
        self,
        ctx: _Context,
        key: str,
        note: str,
        priority: str | None,
        group_id: int | None,
    ) -> TicketFacts:
        """One safe update carrying the note; on conflict re-read and retry."""
        ticket = ctx.ticket
        marker = MARKER.format(key=key)
        for attempt in range(1, self.conflict_retries + 1):
            if any(marker in comment.body for comment in ticket.comments):
                return ticket

            tags = _with_tag(ticket.tags, ctx.tag_for(key))
            try:
                updated = self.zendesk.update_ticket(
                    ticket.id,
                    updated_stamp=ticket.updated_at,
                    tags=tags,
                    note=note,
                    priority=priority,
                    group_id=group_id,
                )
                return replace(ticket, updated_at=updated, tags=tuple(tags))
            except UpdateConflict:
                if attempt == self.conflict_retries:
                    raise

                log.warning("ticket %s: update conflict, re-reading", ticket.id)
                ticket = self.zendesk.fetch_ticket(
                    ticket.id, with_history=True, with_people=False
                )

        return ticket

    def _notifier_for(self, policy: SlaPolicy) -> Callable[[dict], None] | None:
        """The injected notifier, else one for the policy's chat URL (if any)."""
        if self.notifier is not None or not policy.chat_url:
            return self.notifier

        if self._chat is None or self._chat[0] != policy.chat_url:
            self._chat = (policy.chat_url, make_chat_notifier(policy.chat_url))

        return self._chat[1]

    def _notify(
        self, ctx: _Context, clock: ClockState, name: str, late: timedelta | None
    ) -> None:
        payload = {
            "ticket_id": ctx.ticket.id,
            "url": self.ticket_url(ctx.ticket.id),
            "account": ctx.account.get("name", ""),
            "tier": ctx.tier,
            "contract_value": ctx.account.get("contract_value"),
            "severity": ctx.severity,
            "metric": clock.metric,
            "alert": name,
            "breached_at": clock.breached_at.isoformat() if clock.breached_at else None,
            "late_seconds": late.total_seconds() if late else 0,
        }
        try:
            notifier = self._notifier_for(ctx.policy)
            if notifier is not None:
                notifier(payload)
        except Exception as exc:  # the note is the record; chat is best effort
            log.warning(
                "ticket %s: chat page failed (%s)", ctx.ticket.id, type(exc).__name__
            )

    # -- storing -------------------------------------------------------------

    def _rows(
        self, ctx: _Context, clocks: list[ClockState], alerts: dict[str, dict]
    ) -> list[dict]:
        rows = []
        for clock in _latest_rounds(clocks):
            points = checkpoints(
                clock, ctx.policy, severity=ctx.severity, calendars=ctx.calendars
            )
            handled = [
                name
                for name, _ in points
                if alert_key(ctx.ticket.id, clock, name) in alerts
            ]
            row = clock_row(
                clock,
                next_check_at=self._next_check(ctx, clock, points, alerts),
                tier=ctx.tier,
                severity=ctx.severity,
            )
            row["data"].update(handled=handled, account_calendar=ctx.account_calendar)
            rows.append(row)

        return rows

    def _next_check(
        self,
        ctx: _Context,
        clock: ClockState,
        points: list[tuple[str, datetime]],
        alerts: dict[str, dict],
    ) -> datetime | None:
        if not clock.is_active:
            return None

        for name, _ in points:
            alert = alerts.get(alert_key(ctx.ticket.id, clock, name))
            if alert is not None and alert.get("posted_at") is None:
                return ctx.now + self.retry_after

        upcoming = _unhandled(ctx.ticket.id, clock, points, alerts, _FAR_FUTURE)
        return upcoming[0][1] if upcoming else None

    # -- policy changes ------------------------------------------------------

    def _reschedule_on_policy_change(self, now: datetime) -> None:
        """After a policy or calendar change, bring forward the checks of open
        clocks whose next checkpoint moved earlier (no ticket is re-read here;
        the due ones are, by this very sweep)."""
        current = self._current()
        fingerprint = _fingerprint(*current)
        previous, self._seen_policy = self._seen_policy, fingerprint
        if previous is None or previous == fingerprint:
            return

        moves = []
        for row in self.store.due_clocks(_FAR_FUTURE, limit=_MAX_RESCHEDULE):
            when = _rescheduled(row, *current, now)
            if when is not None and when < row["next_check_at"]:
                moves.append((int(row["ticket_id"]), row["metric"], row["cycle"], when))

        _SqlBatch(self.store).move_checks(moves)
        log.info("sla policy changed: %d clock checks brought forward", len(moves))


class _Plan:
    """One due ticket within a batch: its clocks and the alerts to post."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.clocks: list[ClockState] = []
        self.alerts: dict[str, dict] = {}
        self.due_rows: list[dict] = []
        self.records: list[dict] = []
        self.covered: list[str] = []
        self.new: list[tuple[ClockState, str, datetime]] = []
        self.retries: list[tuple[ClockState, str, datetime]] = []
        self.skip = False

    def settle(self, claimed: set[str], posted: set[str], now: datetime) -> None:
        """Reflect what the batch claimed and posted in this ticket's alerts."""
        for record in self.records:
            if record["key"] in claimed:
                self.alerts[record["key"]] = {**record, "posted_at": None}

        for key, alert in self.alerts.items():
            if key in posted:
                alert["posted_at"] = now


def _record_row(
    ticket_id: int, clock: ClockState, name: str, at: datetime, data: dict
) -> dict:
    return {
        "key": alert_key(ticket_id, clock, name),
        "ticket_id": ticket_id,
        "metric": clock.metric,
        "cycle": clock.cycle,
        "threshold": alert_threshold(clock, name),
        "due_at": at,
        "data": data,
    }


class _SqlBatch:
    """Set-based reads and writes for one sweep batch, on the store's tables.

    One statement per step for the whole batch instead of several per ticket:
    the per-ticket store methods cost a transaction each, which is what made
    a 1,000-ticket sweep slow. Claiming keeps the store's rule: an alert key
    is inserted once (ON CONFLICT DO NOTHING); only the keys this batch
    inserted are posted.
    """

    _CHUNK = 500

    def __init__(self, store: Any) -> None:
        self.store = store

    def _insert(self, table: Any) -> Any:
        dialect = postgresql if self.store.dialect == "postgresql" else sqlite
        return dialect.insert(table)

    def tickets(self, ids: Iterable[int]) -> dict[int, dict]:
        result = {}
        for chunk in _chunks(list(ids), self._CHUNK):
            stmt = select(store_tables.tickets.c.ticket_id, store_tables.tickets.c.data)
            stmt = stmt.where(store_tables.tickets.c.ticket_id.in_(chunk))
            with self.store._read() as conn:
                result.update({row[0]: row[1] for row in conn.execute(stmt)})

        return result

    def alerts(self, ids: Iterable[int]) -> dict[int, dict[str, dict]]:
        table = store_tables.alerts
        result: dict[int, dict[str, dict]] = {ticket_id: {} for ticket_id in ids}
        for chunk in _chunks(list(result), self._CHUNK):
            stmt = select(table).where(table.c.ticket_id.in_(chunk))
            with self.store._read() as conn:
                for row in conn.execute(stmt):
                    alert = dict(row._mapping)
                    result[int(alert["ticket_id"])][alert["key"]] = alert

        return result

    def claim(self, records: list[dict], now: datetime) -> set[str]:
        if not records:
            return set()

        table = store_tables.alerts
        stmt = (
            self._insert(table)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(table.c.key)
        )
        rows = [{**record, "recorded_at": now} for record in records]
        with self.store._write() as conn:
            return {row[0] for row in conn.execute(stmt, rows)}

    def move_checks(self, moves: list[tuple[int, str, int, datetime]]) -> None:
        """Set ``next_check_at`` of many clocks in one transaction."""
        if not moves:
            return

        table = store_tables.clocks
        stmt = (
            update(table)
            .where(
                table.c.ticket_id == bindparam("b_ticket"),
                table.c.metric == bindparam("b_metric"),
                table.c.cycle == bindparam("b_cycle"),
            )
            .values(next_check_at=bindparam("b_when"))
        )
        params = [
            {"b_ticket": t, "b_metric": m, "b_cycle": int(c), "b_when": w}
            for t, m, c, w in moves
        ]
        with self.store._write() as conn:
            conn.execute(stmt, params)

    def mark_posted(self, keys: list[str], now: datetime) -> None:
        table = store_tables.alerts
        with self.store._write() as conn:
            for chunk in _chunks(keys, self._CHUNK):
                stmt = update(table).where(table.c.key.in_(chunk))
                conn.execute(stmt.values(posted_at=now))

    def store_clocks(self, by_ticket: dict[int, list[dict]], now: datetime) -> None:
        """Like ``replace_clocks`` for many tickets in one transaction: cancel
        their clocks, then upsert the current ones (which revives them)."""
        if not by_ticket:
            return

        table = store_tables.clocks
        values = [
            _clock_values(ticket_id, row, now)
            for ticket_id, rows in by_ticket.items()
            for row in rows
        ]
        upsert = self._insert(table)
        keys = ("ticket_id", "metric", "cycle")
        upsert = upsert.on_conflict_do_update(
            index_elements=list(keys),
            set_={
                c.name: upsert.excluded[c.name] for c in table.c if c.name not in keys
            },
        )
        with self.store._write() as conn:
            for chunk in _chunks(list(by_ticket), self._CHUNK):
                cancel = update(table).where(
                    table.c.ticket_id.in_(chunk), table.c.state != "cancelled"
                )
                conn.execute(
                    cancel.values(state="cancelled", next_check_at=None, updated_at=now)
                )

            if values:
                conn.execute(upsert, values)


def _clock_values(ticket_id: int, row: dict, now: datetime) -> dict:
    values = {name: row.get(name) for name in store_tables.CLOCK_FIELDS}
    values.update(
        ticket_id=ticket_id,
        metric=row["metric"],
        cycle=int(row["cycle"]),
        data=row.get("data") or {},
        updated_at=now,
    )
    return values


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Context:
    """What one ticket's alerts need while the sweep handles it."""

    def __init__(
        self,
        ticket: TicketFacts,
        policy: SlaPolicy,
        severity: str,
        tier: str | None,
        account: dict,
        now: datetime,
        calendars: Mapping[str, Calendar] | None = None,
    ) -> None:
        self.ticket = ticket
        self.policy = policy
        self.severity = severity
        self.tier = tier
        self.account = account
        self.now = now
        self.calendars = calendars
        self.account_calendar: str | None = account.get("calendar")

    def tag_for(self, key: str) -> str:
        name, _ = split_threshold(key.rsplit(":", 1)[-1])
        if _kind(name) == "warning":
            return self.policy.warning_tag

        return self.policy.breach_tag


_COUNTER = {"warning": "warnings", "breach": "breaches", "renotify": "renotified"}


def _kind(name: str) -> str:
    if name.startswith("warn"):
        return "warning"

    return "renotify" if name.startswith("renotify") else "breach"


def _pick(passed: list[tuple[str, datetime]]) -> tuple[str, datetime]:
    """The one alert to post for several passed checkpoints: the breach when it
    is among them (it has not been said yet), else the latest."""
    for name, at in passed:
        if name == "breach":
            return name, at

    return passed[-1]


def _unhandled(
    ticket_id: int,
    clock: ClockState,
    points: list[tuple[str, datetime]],
    alerts: Mapping[str, dict],
    until: datetime,
) -> list[tuple[str, datetime]]:
    """Checkpoints up to ``until`` later than the last one already recorded."""
    recorded = [
        at for name, at in points if alert_key(ticket_id, clock, name) in alerts
    ]
    after = max(recorded) if recorded else None
    return [
        (name, at)
        for name, at in points
        if at <= until
        and (after is None or at > after)
        and alert_key(ticket_id, clock, name) not in alerts
    ]


def _latest_rounds(clocks: Iterable[ClockState]) -> list[ClockState]:
    """One clock per metric and cycle: its latest round (the store's key)."""
    latest: dict[tuple[str, int], ClockState] = {}
    for clock in clocks:
        key = (clock.metric, clock.cycle)
        if key not in latest or clock.round > latest[key].round:
            latest[key] = clock

    return list(latest.values())


def _ticket_meta(meta: dict, rows: list[dict]) -> tuple[str | None, str, dict]:
    tier = meta.get("tier", rows[0].get("tier"))
    severity = meta.get("severity") or rows[0].get("severity") or "P3"
    account = meta.get("account") or {}
    return tier, str(severity), account


def _escalation_group(policy: SlaPolicy, *, breach: bool, page: bool) -> int | None:
    if page:
        return policy.management_group_id

    return policy.team_lead_group_id if breach else None


def _with_tag(tags: Sequence[str], tag: str) -> list[str]:
    return list(tags) if tag in tags else [*tags, tag]


# -- notes -------------------------------------------------------------------


def format_duration(seconds: float) -> str:
    """``1 h 05 min`` style; seconds only under a minute."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"

    hours, rest = divmod(seconds // 60, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h {rest:02d} min"

    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


def format_instant(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def compose_note(
    clock: ClockState,
    name: str,
    at: datetime,
    key: str,
    ctx: _Context,
    late: timedelta | None,
) -> str:
    """The internal note of one alert, ending with its marker line."""
    metric = clock.label.replace("_", " ")
    time_kind = "business time" if clock.business else "calendar time"
    target = f"{format_duration(clock.target_seconds)} of {time_kind}"
    where = f"{ctx.severity}, cycle {clock.cycle}, calendar {clock.calendar}"
    lines = [_headline(name, metric, clock, at, ctx)]
    lines.append(f"Target: {target} ({where}).")
    if name == "breach":
        lines.append(_escalation_line(ctx))

    if _kind(name) == "renotify":
        lines.append(_renotify_line(name, clock, ctx.policy))

    if _kind(name) != "warning":
        lines.append(
            f"Acknowledge with the tag {ctx.policy.ack_tag} or a private note "
            f"starting with {ctx.policy.ack_command}."
        )

    if late is not None:
        lines.append(
            f"Posted {format_duration(late.total_seconds())} late: the SLA sweep "
            "did not run at that time."
        )

    lines.append(MARKER.format(key=key))
    return "\n".join(lines)


def _headline(
    name: str, metric: str, clock: ClockState, at: datetime, ctx: _Context
) -> str:
    due = format_instant(clock.due_at)
    if name.startswith("warn"):
        return f"SLA warning: {name[4:]} % of the {metric} target used; due {due}."

    if name == "breach":
        return f"SLA breach: the {metric} target was due {due}."

    open_for = format_duration((ctx.now - (clock.breached_at or at)).total_seconds())
    return f"SLA breach still open after {open_for}: {metric} was due {due}."


def _renotify_line(name: str, clock: ClockState, policy: SlaPolicy) -> str:
    number = name.removeprefix("renotify")
    time_kind = "business time" if clock.business else "calendar time"
    if policy.renotify_max is None:
        return f"Re-notification {number}, repeated in {time_kind}."

    return f"Re-notification {number} of at most {policy.renotify_max} ({time_kind})."


def _escalation_line(ctx: _Context) -> str:
    if ctx.severity == "P1" and ctx.policy.management_group_id is not None:
        return "Escalated to the management group; priority set to urgent."

    if ctx.severity == "P1":
        return "Priority set to urgent; no management group is configured."

    if ctx.policy.team_lead_group_id is not None:
        return "Escalated to the team lead group."

    return "No team lead group is configured."


# -- store rows --------------------------------------------------------------


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat()


def _spans(spans: Iterable[tuple[datetime, datetime | None]]) -> list[list]:
    return [[_iso(start), _iso(end)] for start, end in spans]


def clock_row(
    clock: ClockState,
    *,
    next_check_at: datetime | None,
    tier: str | None,
    severity: str | None,
) -> dict:
    """A clock as the store keeps it; ``data`` holds what explain and a policy
    change need (rounds, spans, elapsed time, acknowledgement)."""
    return {
        "metric": clock.metric,
        "cycle": clock.cycle,
        "state": clock.state,
        "started_at": clock.started_at,
        "target_seconds": clock.target_seconds,
        "due_at": clock.due_at,
        "next_check_at": next_check_at,
        "severity": severity,
        "tier": tier,
        "calendar": clock.calendar,
        "data": {
            "round": clock.round,
            "business": clock.business,
            "elapsed_seconds": clock.elapsed_seconds,
            "running_spans": _spans(clock.running_spans),
            "paused_spans": _spans(clock.paused_spans),
            "met_at": _iso(clock.met_at),
            "breached_at": _iso(clock.breached_at),
            "ended_at": _iso(clock.ended_at),
            "acknowledged_by": clock.acknowledged_by,
        },
    }


def _rescheduled(
    row: dict,
    policy: SlaPolicy,
    calendars: Mapping[str, Calendar],
    now: datetime,
) -> datetime | None:
    """The earliest checkpoint of a stored clock under ``policy``; ``now`` when
    the policy no longer has a target for it (the sweep then ends it)."""
    severity = row.get("severity") or "P3"
    targets = find_metric_targets(policy, tier=row.get("tier"), severity=severity)
    target = targets.get(row["metric"])
    if target is None:
        return now

    data = row.get("data") or {}
    spans = tuple(
        (datetime.fromisoformat(a), datetime.fromisoformat(b) if b else None)
        for a, b in data.get("running_spans", [])
    )
    name = TWENTY_FOUR_SEVEN
    if target.business:
        name = decide_calendar_name(
            policy,
            tier=row.get("tier"),
            account_calendar=data.get("account_calendar"),
            known=calendars,
        )

    clock = ClockState(
        metric=row["metric"],
        cycle=int(row["cycle"]),
        state="running",
        started_at=row["started_at"],
        target_seconds=target.seconds,
        business=target.business,
        calendar=name,
        elapsed_seconds=0.0,
        paused_spans=(),
        due_at=None,
        met_at=None,
        breached_at=None,
        round=int(data.get("round", 1)),
        running_spans=spans,
    )
    evaluated = evaluate_clock(clock, calendars[name], now, policy.thresholds)
    handled = set(data.get("handled", []))
    points = checkpoints(evaluated, policy, severity=severity, calendars=calendars)
    upcoming = [at for point, at in points if point not in handled]
    return min(upcoming) if upcoming else None


def _fingerprint(policy: SlaPolicy, calendars: Mapping[str, Calendar]) -> tuple:
    specs = sorted(
        ((name, getattr(cal, "spec", None)) for name, cal in calendars.items()),
        key=lambda item: item[0],
    )
    return policy, specs
