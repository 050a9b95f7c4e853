"""Reports: first response and resolution times and SLA compliance per tier and
account, from what the store has recorded; and the demo's figures.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

FINAL_STATES = ("met", "breached")
SALESFORCE_ROUTES = ("POST oauth token", "GET query", "GET query more")


def build_report(store: Any) -> dict[str, Any]:
    """Per tier and per account: counts, median times (minutes), compliance."""
    tickets = dict(store.iter_tickets())
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for clock in store.iter_clocks():
        state = tickets.get(clock["ticket_id"]) or {}
        if not state.get("vip"):
            continue
        account = (state.get("account") or {}).get("name") or "(no CRM account)"
        groups[("tier", str(state.get("tier")))].append(clock)
        groups[("account", account)].append(clock)

    report: dict[str, Any] = {"tier": {}, "account": {}}
    for (kind, name), clocks in sorted(groups.items()):
        report[kind][name] = _figures(clocks)

    return report


def _figures(clocks: Iterable[dict]) -> dict[str, Any]:
    first, resolution, met, breached = [], [], 0, 0
    for clock in clocks:
        data = clock.get("data") or {}
        if data.get("breached_at"):
            breached += 1
        elif data.get("met_at"):
            met += 1
        else:
            continue  # still running: not judged yet
        if data.get("met_at") and clock["metric"] == "first_response":
            first.append(_minutes(data))
        elif data.get("met_at") and clock["metric"] == "resolution":
            resolution.append(_minutes(data))

    judged = met + breached
    return {
        "clocks_judged": judged,
        "sla_compliance": round(met / judged, 3) if judged else None,
        "first_response_median_min": _median(first),
        "resolution_median_min": _median(resolution),
    }


def _minutes(data: dict) -> float:
    """Business minutes the clock ran until it was met."""
    return round(float(data.get("elapsed_seconds") or 0) / 60, 1)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def render_report(report: dict[str, Any]) -> str:
    lines = []
    for kind in ("tier", "account"):
        lines.append(f"By {kind}:")
        lines.append(
            f"  {'name':32} {'judged':>6} {'SLA met':>8} {'FRT med':>8} {'res med':>8}"
        )
        for name, row in report[kind].items():
            compliance = row["sla_compliance"]
            lines.append(
                f"  {name[:32]:32} {row['clocks_judged']:>6} "
                f"{'-' if compliance is None else f'{compliance:.0%}':>8} "
                f"{_fmt(row['first_response_median_min']):>8} "
                f"{_fmt(row['resolution_median_min']):>8}"
            )
    lines.append(
        "(medians in business minutes; FRT = first response time; a clock is"
        " judged once met or breached)"
    )
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def demo_figures(runtime: Any, sandbox: Any, ticket_ids: list[int]) -> dict[str, Any]:
    """The demo summary's numbers, counted from the store and the sandbox."""
    states = [runtime.store.get_ticket(t) or {} for t in ticket_ids]
    vip = [s for s in states if s.get("vip")]
    sources = Counter()
    for state in vip:
        for source in state.get("tier_sources", []):
            sources[_source_kind(source)] += 1
    lookups = Counter(
        (s.get("account") or {}).get("lookup", s.get("lookup", "none")) for s in states
    )
    calls = sandbox.calls()
    sf_calls = sum(v for k, v in calls.items() if k in SALESFORCE_ROUTES)
    # Ticket creation is the end users' doing, not the sidecar's.
    zendesk_calls = sum(
        v
        for k, v in calls.items()
        if k not in SALESFORCE_ROUTES and k != "POST tickets"
    )
    writes = calls.get("PUT ticket", 0)
    accounts = {(s.get("account") or {}).get("account_id") for s in states} - {None}
    written = [s for s in vip if s.get("writes")]
    return {
        "tickets replayed": len(ticket_ids),
        "inbox": dict(runtime.store.inbox_counts()),
        "VIP tickets by tier": dict(Counter(s.get("tier") for s in vip)),
        "VIP sources (a ticket may have several)": dict(sources),
        "not VIP": len(states) - len(vip),
        "CRM lookups": dict(lookups),
        "severities (VIP)": dict(Counter(s.get("severity") for s in vip)),
        "raised for frustration": sum(1 for s in vip if s.get("raised")),
        "Zendesk ticket writes (all PUTs, alerts included)": writes,
        "decision writes per VIP ticket": _ratio(
            sum(s.get("writes", 0) for s in vip), len(written)
        ),
        "notes per VIP ticket (decision notes)": _ratio(
            sum(s.get("notes", 0) for s in vip), len(vip)
        ),
        "Zendesk API calls per ticket": _ratio(zendesk_calls, len(ticket_ids)),
        "Salesforce calls per distinct account": _ratio(sf_calls, len(accounts)),
        "sandbox calls by route": dict(sorted(calls.items())),
    }


def _source_kind(source: str) -> str:
    for kind in ("email domain", "organization tag", "CRM tier", "contract value"):
        if source.startswith(kind):
            return kind

    return source


def _ratio(numerator: float, denominator: int) -> float | None:
    return round(numerator / denominator, 2) if denominator else None
