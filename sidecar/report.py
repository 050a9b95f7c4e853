"""Reports: first response and resolution times, SLA compliance and CSAT per
tier and account, from what the store has recorded; and the demo's figures.

CSAT is Zendesk's legacy satisfaction rating: good / (good + bad), counted over
the ratings of VIP tickets, which are mapped to their tier and account through
the store's saved ticket decisions. Zendesk offers no NPS API, so there is none.
"""

from __future__ import annotations

import logging
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from connector.errors import ConnectorError

logger = logging.getLogger(__name__)

FINAL_STATES = ("met", "breached")
SALESFORCE_ROUTES = ("POST oauth token", "GET query", "GET query more")
NO_ACCOUNT = "(no CRM account)"


class FetchedRatings(list[dict[str, Any]]):
    """Ratings read from Zendesk; ``warning`` says why there are none if it failed."""

    warning: str | None = None


def fetch_ratings(
    connector: Any, since: datetime | timedelta, now: datetime
) -> FetchedRatings:
    """Satisfaction ratings created from ``since`` (a time, or a span before ``now``).

    A Zendesk failure does not stop the report: the answer is then empty and
    carries the reason in ``warning``.
    """
    start = now - since if isinstance(since, timedelta) else since
    try:
        return FetchedRatings(connector.fetch_satisfaction(start, now))
    except ConnectorError as exc:
        logger.warning("CSAT ratings not fetched: zendesk %s", exc.code)
        failed = FetchedRatings()
        failed.warning = f"CSAT not available: Zendesk answered {exc.code}"
        return failed


def build_report(
    store: Any, ratings: Sequence[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Per tier and per account: counts, median times (minutes), compliance, CSAT.

    ``ratings`` are ``{ticket_id, score}`` dicts (see :func:`fetch_ratings`);
    None means CSAT was not fetched. Ratings of tickets the store did not
    decide as VIP are counted apart, under ``csat_ratings``.
    """
    tickets = dict(store.iter_tickets())
    clocks: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for clock in store.iter_clocks():
        for group in _groups_of(tickets.get(clock["ticket_id"])):
            clocks[group].append(clock)

    scores, outside = _count_scores(tickets, ratings or ())

    report: dict[str, Any] = {"tier": {}, "account": {}}
    for kind, name in sorted(set(clocks) | set(scores)):
        row = _figures(clocks.get((kind, name), []))
        row.update(_csat(scores.get((kind, name), Counter())))
        report[kind][name] = row

    report["csat_ratings"] = {
        "fetched": ratings is not None,
        "ratings": len(ratings or ()),
        "not_vip": outside,
        "warning": getattr(ratings, "warning", None),
    }
    return report


def _groups_of(state: dict | None) -> list[tuple[str, str]]:
    """The (kind, name) rows a saved ticket decision counts in; none if not VIP."""
    if not state or not state.get("vip"):
        return []

    account = (state.get("account") or {}).get("name") or NO_ACCOUNT
    return [("tier", str(state.get("tier"))), ("account", account)]


def _count_scores(
    tickets: dict[int, dict], ratings: Iterable[dict[str, Any]]
) -> tuple[dict[tuple[str, str], Counter[str]], int]:
    """Scores per row, and how many ratings belong to no VIP ticket."""
    scores: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    outside = 0
    for rating in ratings:
        groups = _groups_of(tickets.get(int(rating["ticket_id"])))
        if not groups:
            outside += 1
            continue

        score = str(rating.get("score") or "")
        for group in groups:
            scores[group][score] += 1

    return scores, outside


def _csat(scores: Counter[str]) -> dict[str, Any]:
    good, bad = scores["good"], scores["bad"]
    answered = good + bad
    return {
        "csat": round(good / answered, 3) if answered else None,
        "csat_good": good,
        "csat_bad": bad,
        "csat_unanswered": scores["offered"],
    }


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
    """The report as a plain-text table per tier and per account."""
    lines = []
    for kind in ("tier", "account"):
        lines.append(f"By {kind}:")
        lines.append(
            f"  {'name':32} {'judged':>6} {'SLA met':>8} {'FRT med':>8} "
            f"{'res med':>8} {'CSAT':>10}"
        )
        for name, row in report[kind].items():
            lines.append(f"  {name[:32]:32} {_row_text(row)}")

    lines.append(
        "(medians in business minutes; FRT = first response time; a clock is"
        " judged once met or breached)"
    )
    lines.append("(CSAT = good / (good + bad) ratings, their count in brackets)")
    lines.extend(_csat_notes(report.get("csat_ratings") or {}))
    return "\n".join(lines)


def _row_text(row: dict[str, Any]) -> str:
    compliance = row["sla_compliance"]
    return (
        f"{row['clocks_judged']:>6} "
        f"{'-' if compliance is None else f'{compliance:.0%}':>8} "
        f"{_fmt(row['first_response_median_min']):>8} "
        f"{_fmt(row['resolution_median_min']):>8} "
        f"{_csat_text(row):>10}"
    )


def _csat_text(row: dict[str, Any]) -> str:
    csat = row.get("csat")
    if csat is None:
        return "-"

    return f"{csat:.0%} ({row['csat_good'] + row['csat_bad']})"


def _csat_notes(source: dict[str, Any]) -> list[str]:
    if source.get("warning"):
        return [f"({source['warning']})"]

    if not source.get("fetched"):
        return ["(CSAT not fetched from Zendesk)"]

    if source.get("not_vip"):
        return [f"({source['not_vip']} ratings of tickets not decided as VIP left out)"]

    return []


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def demo_figures(
    runtime: Any,
    sandbox: Any,
    ticket_ids: list[int],
    *,
    requesters: int,
    simulated_hours: float,
) -> dict[str, Any]:
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
    queries = calls.get("GET query", 0) + calls.get("GET query more", 0)
    tokens = calls.get("POST oauth token", 0)
    # Ticket creation is the end users' doing, not the sidecar's.
    zendesk_calls = sum(
        v
        for k, v in calls.items()
        if k not in SALESFORCE_ROUTES and k != "POST tickets"
    )
    writes = calls.get("PUT ticket", 0)
    accounts = {(s.get("account") or {}).get("account_id") for s in states} - {None}
    ttl_hours = runtime.policy.salesforce.cache_ttl_seconds / 3600
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
        "Salesforce calls": (
            f"{queries} queries and {tokens} token requests for {requesters} "
            f"distinct requesters ({len(accounts)} accounts) over "
            f"{simulated_hours:.1f} simulated hours, cache TTL {ttl_hours:g} h"
        ),
        "sandbox calls by route": dict(sorted(calls.items())),
    }


def _source_kind(source: str) -> str:
    for kind in ("email domain", "organization tag", "CRM tier", "contract value"):
        if source.startswith(kind):
            return kind

    return source


def _ratio(numerator: float, denominator: int) -> float | None:
    return round(numerator / denominator, 2) if denominator else None
