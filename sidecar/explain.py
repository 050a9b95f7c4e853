"""``vip-sidecar sla explain TICKET_ID``: every SLA clock of a ticket, in words.

For each clock: its cycle, target, calendar, elapsed business time, paused
spans, due time, state, acknowledgement and the alerts recorded for it. The
clocks are recomputed from the ticket's history with the current policy, so
the answer is what the next sweep would see. Three or more re-notifications
of one clock are summed up on one line (``renotify1..renotify6 posted, last at
...``) instead of being listed one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rules.calendar import Calendar, build_calendars
from rules.sla import ClockState, SlaPolicy, compute_clocks
from sidecar.errors import SidecarError
from sidecar.sweep import format_duration, format_instant, split_threshold


def explain_ticket(
    store: Any,
    connector: Any,
    policy: SlaPolicy,
    ticket_id: int,
    now: datetime,
    calendars: Mapping[str, Calendar] | None = None,
) -> str:
    """A plain-text account of the ticket's clocks at ``now``."""
    meta = store.get_ticket(ticket_id) or {}
    tier, severity = meta.get("tier"), meta.get("severity")
    if not tier or not severity:
        return f"ticket {ticket_id}: not a VIP ticket; no SLA clocks"

    try:
        ticket = connector.fetch_ticket(ticket_id, with_history=True)
    except SidecarError as exc:
        return _stored(store, ticket_id, tier, severity, exc.code)

    account = meta.get("account") or {}
    clocks = compute_clocks(
        ticket,
        tier=tier,
        severity=severity,
        policy=policy,
        calendars=calendars or build_calendars(policy.calendar_specs),
        now=now,
        account_calendar=account.get("calendar"),
    )

    lines = [
        f"ticket {ticket_id}: tier {tier}, severity {severity}, "
        f"as of {format_instant(now)}"
    ]
    if not clocks:
        lines.append("  the policy sets no target for this tier and severity")

    alerts = store.alerts_for(ticket_id)
    for clock in clocks:
        lines.extend(_describe(clock, _alerts_of(clock, alerts)))

    return "\n".join(lines)


def _stored(store: Any, ticket_id: int, tier: str, severity: str, why: str) -> str:
    """The clocks as the last sweep stored them, when Zendesk cannot be read."""
    lines = [
        f"ticket {ticket_id}: tier {tier}, severity {severity}",
        f"  Zendesk could not be read ({why}): the clocks as last stored",
    ]
    alerts = store.alerts_for(ticket_id)
    for row in store.clocks_for(ticket_id):
        data = row.get("data") or {}
        mine = [
            a
            for a in alerts
            if (a["metric"], a["cycle"]) == (row["metric"], row["cycle"])
        ]
        lines += [
            f"{row['metric']}  cycle {row['cycle']}  {row['state']}",
            f"  target {format_duration(row['target_seconds'])}, "
            f"calendar {row['calendar']}",
            f"  started {format_instant(row['started_at'])}, elapsed "
            f"{format_duration(data.get('elapsed_seconds'))}",
            f"  due {format_instant(row['due_at'])}; breached "
            f"{data.get('breached_at') or '-'}; met {data.get('met_at') or '-'}",
            f"  alerts: {_alert_words(mine)}",
        ]

    return "\n".join(lines)


def _describe(clock: ClockState, alerts: list[dict]) -> list[str]:
    time_kind = "business time" if clock.business else "calendar time"
    target = format_duration(clock.target_seconds)
    return [
        f"{clock.label}  cycle {clock.cycle}  {_state_words(clock)}",
        f"  target {target} ({time_kind}, calendar {clock.calendar})",
        f"  started {format_instant(clock.started_at)}, "
        f"elapsed {format_duration(clock.elapsed_seconds)}",
        f"  paused: {_paused(clock)}",
        f"  due {format_instant(clock.due_at)}; "
        f"breached {format_instant(clock.breached_at)}; "
        f"met {format_instant(clock.met_at)}",
        f"  acknowledged: {clock.acknowledged_by or '-'}",
        f"  alerts: {_alert_words(alerts)}",
    ]


def _state_words(clock: ClockState) -> str:
    if clock.state == "breached" and clock.met_at is not None:
        return "breached (met late)"

    if clock.state == "stopped" and clock.breached_at is not None:
        return "stopped (after a breach)"

    return clock.state


def _paused(clock: ClockState) -> str:
    if not clock.paused_spans:
        return "none"

    return ", ".join(
        f"{format_instant(start)} to "
        f"{format_instant(end) if end else 'now (still paused)'}"
        for start, end in clock.paused_spans
    )


def _alerts_of(clock: ClockState, alerts: list[dict]) -> list[dict]:
    found = []
    for alert in alerts:
        _, round_ = split_threshold(alert["threshold"])
        same = (alert["metric"], int(alert["cycle"]), round_)
        if same == (clock.metric, clock.cycle, clock.round):
            found.append(alert)

    return found


def _alert_words(alerts: list[dict]) -> str:
    if not alerts:
        return "none"

    renotified = [a for a in alerts if _is_renotify(a)]
    if len(renotified) < _SUMMARY_FROM:
        renotified = []

    words = [_alert_word(a) for a in alerts if not any(a is r for r in renotified)]
    if renotified:
        words.append(_renotify_summary(renotified))

    return "; ".join(words)


# From this many re-notifications of one clock on, explain sums them up.
_SUMMARY_FROM = 3


def _is_renotify(alert: dict) -> bool:
    return split_threshold(alert["threshold"])[0].startswith("renotify")


def _alert_word(alert: dict) -> str:
    name, _ = split_threshold(alert["threshold"])
    data = alert.get("data") or {}
    if data.get("covered_by"):
        return f"{name} covered by a later alert"

    if name == "ack":
        return f"acknowledged by {data.get('by', '?')}"

    if alert.get("posted_at") is None:
        return f"{name} pending"

    return f"{name} posted {format_instant(alert['posted_at'])}"


def _renotify_summary(alerts: list[dict]) -> str:
    """``renotify1..renotify6 posted, last at ...``, with what was not posted."""
    numbers = sorted(_renotify_number(a) for a in alerts)
    span = f"renotify{numbers[0]}..renotify{numbers[-1]}"
    covered = [a for a in alerts if (a.get("data") or {}).get("covered_by")]
    rest = [a for a in alerts if not any(a is c for c in covered)]
    posted = [a["posted_at"] for a in rest if a.get("posted_at") is not None]
    pending = len(rest) - len(posted)
    last = format_instant(max(posted)) if posted else "-"
    if len(posted) == len(alerts):
        return f"{span} posted, last at {last}"

    parts = [f"{len(posted)} posted (last at {last})"]
    parts += [f"{len(covered)} covered by a later alert"] if covered else []
    parts += [f"{pending} pending"] if pending else []
    return f"{span}: " + ", ".join(parts)


def _renotify_number(alert: dict) -> int:
    name, _ = split_threshold(alert["threshold"])
    digits = name.removeprefix("renotify")
    return int(digits) if digits.isdigit() else 0
