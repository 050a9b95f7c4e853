"""SLA policy and clocks: targets per tier and severity, and what a ticket's
history says about each clock.

Four metrics are measured, each in business time (the tier's or the account's
calendar) or in calendar time:

- ``first_response``: from the start of a cycle to the first public agent reply;
- ``next_reply``: from a public customer comment (while no other wait is open)
  to the next public agent reply;
- ``periodic_update``: how long the customer may go without hearing from us
  once we have answered; each public agent reply starts a new round;
- ``resolution``: from the start of a cycle to solved.

Statuses in ``pause_statuses`` (default pending and hold, custom statuses by
name) pause every open clock. Solved (or closed) ends every clock: resolution
is met, the waits stop without a breach unless they breached before. A reopen
after solved starts a new cycle with fresh clocks, so an old cycle's due time
never fires. Every clock is recomputed from the whole history, so a severity,
tier or policy change applies to the open clocks at once, while alerts already
posted stay in the store as history.

Configuration shape: ``severity:`` (shared with triage, the SLA reads only the
``*_minutes`` keys) and ``sla:``::

    severity:
      P1: {priority: urgent, first_response_minutes: 15, next_update_minutes: 60,
           periodic_update_minutes: 30, resolution_minutes: 480}
      P2: {priority: high, first_response_minutes: 60, next_update_minutes: 240,
           periodic_update_minutes: 120, resolution_minutes: 2880}
      P3: {priority: normal, first_response_minutes: 240,
           next_update_minutes: 480, periodic_update_minutes: null,
           resolution_minutes: 7200}
    sla:
      calendar: 24x7                    # default calendar (see rules.calendar)
      calendars: {enterprise: new_york} # tier -> calendar; an account's CRM
                                        # field may name another one
      business_time: {periodic_update: false}  # per metric; default true
      thresholds: [50, 80]              # warnings, percent of the target
      pause_statuses: [pending, hold, "Waiting on vendor"]
      renotify_minutes: {P1: 30, P2: 120, P3: null}
      renotify_max: 6                   # re-notifications per clock (each
                                        # cycle and round); null: no limit
      acknowledge: {tag: sla_ack, command: "#ack"}
      escalation:
        team_lead_group_id: 360000000001
        management_group_id: 360000000002
        chat_url_env: VIP_SIDECAR_CHAT_URL   # apprise URL, read from the env
      tiers:                            # per-tier overrides, metric by metric
        strategic:
          P1: {first_response_minutes: 10, resolution_minutes: null}
        trial: null                     # no SLA clocks for this tier

A ``null`` minute value removes that target.

Re-notifications after a breach count the clock's own time: business time on
a business calendar (none at night, at weekends or on holidays) and no time
while the clock is paused. ``renotify{n}`` falls when ``target + n * cadence``
of that time has run, for n up to ``renotify_max``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from rules.calendar import (
    TWENTY_FOUR_SEVEN,
    Calendar,
    CalendarSpec,
    build_calendar,
    twenty_four_seven,
)
from rules.model import SEVERITIES, Comment, SlaTargets, StatusChange, TicketFacts

METRICS = ("first_response", "next_reply", "periodic_update", "resolution")
STOP_STATUSES = frozenset({"solved", "closed"})
ANY_TIER = "*"

_MINUTE_KEYS = {
    "first_response_minutes": "first_response",
    "next_update_minutes": "next_reply",
    "periodic_update_minutes": "periodic_update",
    "resolution_minutes": "resolution",
}
_DEFAULT_MINUTES: dict[str, dict[str, int | None]] = {
    "P1": {
        "first_response": 15,
        "next_reply": 60,
        "periodic_update": 30,
        "resolution": 480,
    },
    "P2": {
        "first_response": 60,
        "next_reply": 240,
        "periodic_update": 120,
        "resolution": 2880,
    },
    "P3": {
        "first_response": 240,
        "next_reply": 480,
        "periodic_update": None,
        "resolution": 7200,
    },
}
_DEFAULT_RENOTIFY = {"P1": 30 * 60, "P2": 120 * 60, "P3": None}
DEFAULT_RENOTIFY_MAX = 6


@dataclass(frozen=True)
class MetricTarget:
    seconds: int
    business: bool = True


@dataclass(frozen=True)
class SlaPolicy:
    """The SLA configuration, resolved: ``targets[(tier or "*", severity)]``
    maps metric to target; a missing metric has no target."""

    targets: Mapping[tuple[str, str], Mapping[str, MetricTarget]]
    tier_calendars: Mapping[str, str] = field(default_factory=dict)
    default_calendar: str = TWENTY_FOUR_SEVEN
    calendar_specs: Mapping[str, CalendarSpec] = field(default_factory=dict)
    thresholds: tuple[float, ...] = (0.5, 0.8)
    pause_statuses: frozenset[str] = frozenset({"pending", "hold"})
    disabled_tiers: frozenset[str] = frozenset()
    renotify_seconds: Mapping[str, int | None] = field(
        default_factory=lambda: dict(_DEFAULT_RENOTIFY)
    )
    renotify_max: int | None = DEFAULT_RENOTIFY_MAX
    ack_tag: str = "sla_ack"
    ack_command: str = "#ack"
    team_lead_group_id: int | None = None
    management_group_id: int | None = None
    chat_url: str | None = None
    warning_tag: str = "sla_warning"
    breach_tag: str = "sla_breached"


@dataclass(frozen=True)
class ClockState:
    """One clock of one ticket at ``as_of``.

    ``state``: running, paused, met, breached (due passed; still open unless
    ``ended_at`` is set) or stopped (ended without its event, e.g. solved while
    waiting for a reply). ``elapsed_seconds`` is business time; ``due_at`` is
    None while paused or ended. ``marks`` holds the warning and breach instants
    known so far; ``running_spans`` the spans in which the clock counted.
    """

    metric: str
    cycle: int
    state: str
    started_at: datetime
    target_seconds: int
    business: bool
    calendar: str
    elapsed_seconds: float
    paused_spans: tuple[tuple[datetime, datetime | None], ...]
    due_at: datetime | None
    met_at: datetime | None
    breached_at: datetime | None
    round: int = 1
    ended_at: datetime | None = None
    marks: tuple[tuple[str, datetime], ...] = ()
    running_spans: tuple[tuple[datetime, datetime | None], ...] = ()
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    as_of: datetime | None = None

    @property
    def is_active(self) -> bool:
        """Counting and able to alert: open and not paused."""
        return self.ended_at is None and self.state in ("running", "breached")

    @property
    def label(self) -> str:
        return self.metric if self.round == 1 else f"{self.metric} #{self.round}"


# -- configuration -----------------------------------------------------------


def parse_sla_config(
    raw: Mapping[str, Any] | None,
    *,
    severity_raw: Mapping[str, Any] | None = None,
    calendar_specs: Mapping[str, CalendarSpec] | None = None,
    env: Mapping[str, str] | None = None,
    where: str = "sla",
) -> SlaPolicy:
    """The policy from the ``sla:`` and ``severity:`` mappings (both optional).

    Raises ValueError naming the key path. ``env`` resolves
    ``escalation.chat_url_env``; ``calendar_specs`` are checked against the
    calendars the policy names.
    """
    raw = _mapping(raw, where)
    specs = dict(calendar_specs or {})
    base = _base_minutes(severity_raw)
    business = _parse_business(raw.get("business_time"), f"{where}.business_time")
    targets, disabled = _parse_targets(base, raw.get("tiers"), business, where)
    escalation = _mapping(raw.get("escalation"), f"{where}.escalation")
    ack = _mapping(raw.get("acknowledge"), f"{where}.acknowledge")
    tier_calendars, default_calendar = _parse_calendar_names(raw, specs, where)

    return SlaPolicy(
        targets=targets,
        tier_calendars=tier_calendars,
        default_calendar=default_calendar,
        calendar_specs=specs,
        thresholds=_parse_thresholds(raw.get("thresholds"), f"{where}.thresholds"),
        pause_statuses=_parse_statuses(raw.get("pause_statuses"), where),
        disabled_tiers=disabled,
        renotify_seconds=_parse_renotify(raw.get("renotify_minutes"), where),
        renotify_max=_parse_renotify_max(raw, where),
        ack_tag=str(ack.get("tag", "sla_ack")),
        ack_command=str(ack.get("command", "#ack")),
        team_lead_group_id=_group(escalation, "team_lead_group_id", where),
        management_group_id=_group(escalation, "management_group_id", where),
        chat_url=_chat_url(escalation, env),
    )


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}

    if not isinstance(value, Mapping):
        raise ValueError(f"{path}: expected a mapping")

    return value


def _minutes(value: Any, path: str) -> int | None:
    if value is None:
        return None

    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{path}: expected a positive number of minutes or null")

    return round(value * 60)


def _base_minutes(severity_raw: Mapping[str, Any] | None) -> dict[str, dict]:
    """Seconds per severity and metric: defaults, then the ``severity:`` keys."""
    severity_raw = _mapping(severity_raw, "severity")
    base = {}
    for level in SEVERITIES:
        seconds = {
            metric: None if minutes is None else minutes * 60
            for metric, minutes in _DEFAULT_MINUTES[level].items()
        }
        body = _mapping(severity_raw.get(level), f"severity.{level}")
        for key, metric in _MINUTE_KEYS.items():
            if key in body:
                seconds[metric] = _minutes(body[key], f"severity.{level}.{key}")

        base[level] = seconds

    return base


def _parse_business(value: Any, path: str) -> dict[str, bool]:
    body = _mapping(value, path)
    business = dict.fromkeys(METRICS, True)
    for metric, flag in body.items():
        if metric not in METRICS or not isinstance(flag, bool):
            raise ValueError(f"{path}.{metric}: expected one of {METRICS}: bool")

        business[metric] = flag

    return business


def _parse_targets(
    base: Mapping[str, Mapping[str, int | None]],
    tiers_raw: Any,
    business: Mapping[str, bool],
    where: str,
) -> tuple[dict, frozenset[str]]:
    targets = {
        (ANY_TIER, level): _metric_targets(base[level], business) for level in base
    }
    disabled = set()
    for tier, body in _mapping(tiers_raw, f"{where}.tiers").items():
        if body is None:
            disabled.add(str(tier))
            continue

        path = f"{where}.tiers.{tier}"
        for level, seconds in _tier_seconds(base, body, path).items():
            targets[(str(tier), level)] = _metric_targets(seconds, business)

    return targets, frozenset(disabled)


def _tier_seconds(
    base: Mapping[str, Mapping[str, int | None]], body: Any, path: str
) -> dict[str, dict[str, int | None]]:
    body = _mapping(body, path)
    result = {}
    for level in SEVERITIES:
        seconds = dict(base[level])
        overrides = _mapping(body.get(level), f"{path}.{level}")
        for key, value in overrides.items():
            if key not in _MINUTE_KEYS:
                raise ValueError(f"{path}.{level}.{key}: unknown key")

            seconds[_MINUTE_KEYS[key]] = _minutes(value, f"{path}.{level}.{key}")

        result[level] = seconds

    unknown = set(body) - set(SEVERITIES)
    if unknown:
        raise ValueError(f"{path}.{sorted(unknown)[0]}: expected P1, P2 or P3")

    return result


def _metric_targets(
    seconds: Mapping[str, int | None], business: Mapping[str, bool]
) -> dict[str, MetricTarget]:
    return {
        metric: MetricTarget(value, business[metric])
        for metric, value in seconds.items()
        if value is not None
    }


def _parse_calendar_names(
    raw: Mapping[str, Any], specs: Mapping[str, CalendarSpec], where: str
) -> tuple[dict[str, str], str]:
    known = set(specs) | {TWENTY_FOUR_SEVEN}
    default = str(raw.get("calendar", TWENTY_FOUR_SEVEN))
    if default not in known:
        raise ValueError(f"{where}.calendar: unknown calendar {default!r}")

    tiers = {}
    for tier, name in _mapping(raw.get("calendars"), f"{where}.calendars").items():
        if str(name) not in known:
            path = f"{where}.calendars.{tier}"
            raise ValueError(f"{path}: unknown calendar {name!r}")

        tiers[str(tier)] = str(name)

    return tiers, default


def _parse_thresholds(value: Any, path: str) -> tuple[float, ...]:
    if value is None:
        return (0.5, 0.8)

    if not isinstance(value, list):
        raise ValueError(f"{path}: expected a list of percentages")

    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 < item < 100:
            raise ValueError(f"{path}: {item!r} is not a whole percentage in 1..99")

    return tuple(sorted({item / 100 for item in value}))


def _parse_statuses(value: Any, where: str) -> frozenset[str]:
    if value is None:
        return frozenset({"pending", "hold"})

    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}.pause_statuses: expected a list of status names")

    return frozenset(status.strip().lower() for status in value)


def _parse_renotify(value: Any, where: str) -> dict[str, int | None]:
    result = dict(_DEFAULT_RENOTIFY)
    path = f"{where}.renotify_minutes"
    for level, minutes in _mapping(value, path).items():
        if level not in SEVERITIES:
            raise ValueError(f"{path}.{level}: expected P1, P2 or P3")

        result[level] = _minutes(minutes, f"{path}.{level}")

    return result


def _parse_renotify_max(raw: Mapping[str, Any], where: str) -> int | None:
    if "renotify_max" not in raw:
        return DEFAULT_RENOTIFY_MAX

    value = raw["renotify_max"]
    if value is None:
        return None

    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"{where}.renotify_max: expected a whole number (0 or more) or null"
        )

    return value


def _group(escalation: Mapping[str, Any], key: str, where: str) -> int | None:
    value = escalation.get(key)
    if value is None:
        return None

    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}.escalation.{key}: expected a group id") from None


def _chat_url(
    escalation: Mapping[str, Any], env: Mapping[str, str] | None
) -> str | None:
    name = escalation.get("chat_url_env")
    if not name or env is None:
        return None

    return env.get(str(name)) or None


# -- targets -----------------------------------------------------------------


def find_metric_targets(
    policy: SlaPolicy, *, tier: str | None, severity: str
) -> dict[str, MetricTarget]:
    """Targets that apply to a ticket; empty when its tier has no SLA."""
    if tier is not None and tier in policy.disabled_tiers:
        return {}

    specific = policy.targets.get((tier, severity)) if tier else None
    if specific is not None:
        return dict(specific)

    return dict(policy.targets.get((ANY_TIER, severity), {}))


def targets_for(policy: SlaPolicy, *, tier: str | None, severity: str) -> SlaTargets:
    """The targets in seconds for ``tier`` and ``severity`` (None: no target)."""
    found = find_metric_targets(policy, tier=tier, severity=severity)

    def seconds(metric: str) -> int | None:
        target = found.get(metric)
        return None if target is None else target.seconds

    return SlaTargets(
        first_response=seconds("first_response"),
        next_update=seconds("next_reply"),
        resolution=seconds("resolution"),
        periodic_update=seconds("periodic_update"),
    )


def decide_calendar_name(
    policy: SlaPolicy,
    *,
    tier: str | None,
    account_calendar: str | None,
    known: Iterable[str],
) -> str:
    """The account's calendar when known, else the tier's, else the default."""
    names = set(known)
    if account_calendar and account_calendar in names:
        return account_calendar

    by_tier = policy.tier_calendars.get(tier or "", policy.default_calendar)
    return by_tier if by_tier in names else TWENTY_FOUR_SEVEN


# -- clocks ------------------------------------------------------------------


@dataclass
class _Tracker:
    """A clock while the history is replayed."""

    metric: str
    cycle: int
    round: int
    started_at: datetime
    target: MetricTarget
    running: list[list[Any]] = field(default_factory=list)
    paused: list[list[Any]] = field(default_factory=list)
    met_at: datetime | None = None
    ended_at: datetime | None = None

    def pause(self, at: datetime) -> None:
        if self.ended_at is None and self.running and self.running[-1][1] is None:
            self.running[-1][1] = at
            self.paused.append([at, None])

    def resume(self, at: datetime) -> None:
        if self.ended_at is None and self.paused and self.paused[-1][1] is None:
            self.paused[-1][1] = at
            self.running.append([at, None])

    def end(self, at: datetime, *, met: bool) -> None:
        if self.ended_at is not None:
            return

        for spans in (self.running, self.paused):
            if spans and spans[-1][1] is None:
                spans[-1][1] = at

        self.ended_at = at
        self.met_at = at if met else None


@dataclass
class _Replay:
    """State of the history replay: the cycle and the trackers opened so far."""

    targets: Mapping[str, MetricTarget]
    pause_statuses: frozenset[str]
    cycle: int = 0
    status: str = "new"
    trackers: list[_Tracker] = field(default_factory=list)

    @property
    def paused(self) -> bool:
        return self.status in self.pause_statuses

    @property
    def stopped(self) -> bool:
        return self.status in STOP_STATUSES

    def open(self, metric: str) -> _Tracker | None:
        for tracker in reversed(self.trackers):
            if tracker.metric == metric and tracker.cycle == self.cycle:
                return tracker if tracker.ended_at is None else None

        return None

    def start(self, metric: str, at: datetime) -> None:
        target = self.targets.get(metric)
        if target is None or self.stopped:
            return

        rounds = sum(
            1 for t in self.trackers if t.metric == metric and t.cycle == self.cycle
        )
        tracker = _Tracker(metric, self.cycle, rounds + 1, at, target)
        tracker.running.append([at, None])
        if self.paused:
            tracker.pause(at)

        self.trackers.append(tracker)

    def new_cycle(self, at: datetime) -> None:
        self.cycle += 1
        self.start("first_response", at)
        self.start("resolution", at)

    def each_open(self) -> list[_Tracker]:
        return [t for t in self.trackers if t.ended_at is None]


def compute_clocks(
    ticket: TicketFacts,
    *,
    tier: str | None,
    severity: str,
    policy: SlaPolicy,
    calendars: Mapping[str, Calendar],
    now: datetime,
    account_calendar: str | None = None,
) -> list[ClockState]:
    """Every clock of the ticket at ``now``, replayed from its history."""
    targets = find_metric_targets(policy, tier=tier, severity=severity)
    if not targets:
        return []

    replay = _Replay(targets, policy.pause_statuses)
    _replay_history(replay, ticket, now)
    name = decide_calendar_name(
        policy, tier=tier, account_calendar=account_calendar, known=calendars
    )
    acks = _ack_events(ticket, policy)

    return [
        _acknowledge(_state_of(t, calendars, name, now, policy.thresholds), acks)
        for t in replay.trackers
    ]


def _replay_history(replay: _Replay, ticket: TicketFacts, now: datetime) -> None:
    replay.status = "new"
    replay.new_cycle(ticket.created_at)
    for _, _, kind, item in sorted(_events(ticket), key=lambda e: (e[0], e[1])):
        if _item_time(item) > now:
            break

        if kind == "comment":
            _on_comment(replay, item)
        else:
            _on_status(replay, item.status.strip().lower(), item.at)


def _item_time(item: Any) -> datetime:
    return item.created_at if isinstance(item, Comment) else item.at


def _events(ticket: TicketFacts) -> list[tuple[datetime, int, str, Any]]:
    """Comments before status changes at the same instant, so a reply sent
    together with "solved" still meets the clock."""
    events: list[tuple[datetime, int, str, Any]] = [
        (c.created_at, 0, "comment", c) for c in ticket.comments if c.public
    ]
    changes = list(ticket.status_changes)
    if not changes and ticket.status.lower() != "new":
        changes.append(_fallback_change(ticket))

    events.extend((change.at, 1, "status", change) for change in changes)
    return events


def _fallback_change(ticket: TicketFacts) -> StatusChange:
    """Without an audit trail, the current status is taken as of the last update."""
    return StatusChange(at=ticket.updated_at, status=ticket.status)


def _on_comment(replay: _Replay, comment: Comment) -> None:
    at = comment.created_at
    if comment.by_agent:
        for metric in ("first_response", "next_reply"):
            tracker = replay.open(metric)
            if tracker is not None:
                tracker.end(at, met=True)

        periodic = replay.open("periodic_update")
        if periodic is not None:
            periodic.end(at, met=True)

        replay.start("periodic_update", at)
        return

    waiting = replay.open("first_response") or replay.open("next_reply")
    if waiting is None:
        replay.start("next_reply", at)


def _on_status(replay: _Replay, status: str, at: datetime) -> None:
    was_stopped = replay.stopped
    replay.status = status
    if status in STOP_STATUSES:
        for tracker in replay.each_open():
            tracker.end(at, met=tracker.metric == "resolution")
        return

    if was_stopped:
        replay.new_cycle(at)
        return

    for tracker in replay.each_open():
        if replay.paused:
            tracker.pause(at)
        else:
            tracker.resume(at)


def _ack_events(
    ticket: TicketFacts, policy: SlaPolicy
) -> list[tuple[datetime | None, str]]:
    """Acknowledgements: an agent's private note starting with the command, or
    the ack tag (which has no time of its own and covers any breach)."""
    command = policy.ack_command.strip().lower()
    acks: list[tuple[datetime | None, str]] = [
        (c.created_at, f"agent {c.author_id}")
        for c in ticket.comments
        if c.by_agent
        and not c.public
        and command
        and c.body.strip().lower().startswith(command)
    ]
    if policy.ack_tag and policy.ack_tag in ticket.tags:
        acks.append((None, f"tag {policy.ack_tag}"))

    return acks


def _state_of(
    tracker: _Tracker,
    calendars: Mapping[str, Calendar],
    calendar_name: str,
    now: datetime,
    thresholds: tuple[float, ...],
) -> ClockState:
    target = tracker.target
    name = calendar_name if target.business else TWENTY_FOUR_SEVEN
    calendar = calendars.get(name) or twenty_four_seven()
    running = tuple((span[0], span[1]) for span in tracker.running)
    clock = ClockState(
        metric=tracker.metric,
        cycle=tracker.cycle,
        round=tracker.round,
        state="running",
        started_at=tracker.started_at,
        target_seconds=target.seconds,
        business=target.business,
        calendar=name,
        elapsed_seconds=0.0,
        paused_spans=tuple((span[0], span[1]) for span in tracker.paused),
        due_at=None,
        met_at=tracker.met_at,
        breached_at=None,
        ended_at=tracker.ended_at,
        running_spans=running,
        as_of=now,
    )
    return evaluate_clock(clock, calendar, now, thresholds)


def evaluate_clock(
    clock: ClockState,
    calendar: Calendar,
    now: datetime,
    thresholds: tuple[float, ...] = (0.5, 0.8),
) -> ClockState:
    """Elapsed time, marks, due and state of a clock from its running spans.

    Also used to re-evaluate a stored clock under a new target or calendar.
    """
    spans = clock.running_spans
    ended = clock.ended_at is not None
    paused = not ended and bool(spans) and spans[-1][1] is not None
    elapsed = sum(
        calendar.business_seconds_between(start, min(end or now, now))
        for start, end in spans
    )
    fractions = [*thresholds, 1.0]
    instants = [
        _instant_at(spans, f * clock.target_seconds, calendar) for f in fractions
    ]
    breach = instants[-1]
    breached_at = breach if breach is not None and breach <= now else None
    if ended and breached_at is not None and clock.ended_at <= breached_at:
        breached_at = None

    names = [f"warn{round(f * 100)}" for f in fractions[:-1]] + ["breach"]
    marks = tuple((n, t) for n, t in zip(names, instants, strict=True) if t)
    state = _decide_state(ended, paused, clock.met_at, breached_at)
    due_at = breach if state in ("running", "breached") else None

    return replace(
        clock,
        state=state,
        elapsed_seconds=elapsed,
        due_at=due_at,
        breached_at=breached_at,
        marks=marks,
        as_of=now,
    )


def _decide_state(
    ended: bool, paused: bool, met_at: datetime | None, breached_at: datetime | None
) -> str:
    if ended:
        if met_at is not None and breached_at is None:
            return "met"

        return "breached" if met_at is not None else "stopped"

    if paused:
        return "paused"

    return "breached" if breached_at is not None else "running"


def _instant_at(
    spans: tuple[tuple[datetime, datetime | None], ...],
    amount: float,
    calendar: Calendar,
) -> datetime | None:
    """When ``amount`` business seconds have run across ``spans``; None when the
    spans (all closed) never reach it."""
    used = 0.0
    for start, end in spans:
        remaining = amount - used
        instant = calendar.add_business_seconds(start, remaining)
        if end is None or instant <= end:
            return instant

        used += calendar.business_seconds_between(start, end)

    return None


def _acknowledge(
    clock: ClockState, acks: list[tuple[datetime | None, str]]
) -> ClockState:
    if clock.breached_at is None or clock.ended_at is not None:
        return clock

    for at, by in acks:
        if at is None or at >= clock.breached_at:
            return replace(clock, acknowledged_at=at or clock.as_of, acknowledged_by=by)

    return clock


def checkpoints(
    clock: ClockState,
    policy: SlaPolicy,
    *,
    severity: str,
    calendars: Mapping[str, Calendar] | None = None,
) -> list[tuple[str, datetime]]:
    """Alert instants of an active clock, in time order: the warnings at the
    policy's thresholds, the breach, and re-notifications every
    ``renotify_seconds[severity]`` of the clock's own time after the breach,
    at most ``renotify_max`` of them, until acknowledged.

    Re-notifications are listed from the one before the latest passed up to
    the next one after ``as_of``. ``calendars`` should hold the clock's
    calendar; without it the calendar is built from the policy's specs.
    """
    if not clock.is_active or clock.due_at is None:
        return []

    result = [(name, at) for name, at in clock.marks if name != "breach"]
    result.append(("breach", clock.due_at))
    calendar = _calendar_of(clock, policy, calendars)
    result.extend(renotify_instants(clock, policy, severity, calendar))

    return sorted(result, key=lambda row: row[1])


def _calendar_of(
    clock: ClockState, policy: SlaPolicy, calendars: Mapping[str, Calendar] | None
) -> Calendar:
    if calendars is not None and clock.calendar in calendars:
        return calendars[clock.calendar]

    spec = policy.calendar_specs.get(clock.calendar)
    return build_calendar(spec) if spec is not None else twenty_four_seven()


def renotify_instants(
    clock: ClockState, policy: SlaPolicy, severity: str, calendar: Calendar
) -> list[tuple[str, datetime]]:
    """``renotify{n}`` instants of a breached, unacknowledged clock: when
    ``target + n * cadence`` of its running time has passed on ``calendar``."""
    cadence = policy.renotify_seconds.get(severity)
    if not cadence or clock.breached_at is None or clock.acknowledged_by:
        return []

    # How many cadences have run since the breach, in the clock's own time;
    # only the neighbourhood of that count is listed, so a long-open breach
    # costs the same as a fresh one.
    passed = int((clock.elapsed_seconds - clock.target_seconds) // cadence)
    first = max(1, passed - 1)
    last = passed + 1
    if policy.renotify_max is not None:
        last = min(last, policy.renotify_max)

    result = []
    for index in range(first, last + 1):
        amount = clock.target_seconds + index * cadence
        instant = _instant_at(clock.running_spans, amount, calendar)
        if instant is not None:
            result.append((f"renotify{index}", instant))

    return result
