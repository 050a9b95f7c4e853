"""The report: SLA figures and CSAT per tier and account, on a real SQLite store."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses

from connector.zendesk import ZendeskConnector, ZendeskSettings
from sidecar.report import build_report, fetch_ratings, render_report
from sidecar.store import Store

NOW = datetime(2025, 3, 31, 12, 0, tzinfo=UTC)
API = "https://127.0.0.1:8443/api/v2"
RATINGS_URL = f"{API}/satisfaction_ratings"
TOKEN = "tok-PLANTED-SECRET"


def decided(store: Store, ticket_id: int, tier: str | None, account: str = "") -> None:
    """Save a ticket decision as the pipeline does (VIP when it has a tier)."""
    state = {
        "vip": tier is not None,
        "tier": tier,
        "account": {"account_id": f"001{ticket_id}", "name": account}
        if account
        else None,
    }
    store.save_ticket(ticket_id, state, NOW)


def judged_clock(store: Store, ticket_id: int, *, met: bool, minutes: float) -> None:
    outcome = "met_at" if met else "breached_at"
    clock = {
        "metric": "first_response",
        "cycle": 1,
        "state": "met" if met else "breached",
        "started_at": NOW - timedelta(hours=2),
        "target_seconds": 3600.0,
        "due_at": NOW - timedelta(hours=1),
        "next_check_at": None,
        "severity": "P2",
        "tier": "gold",
        "calendar": "24x7",
        "data": {outcome: NOW.isoformat(), "elapsed_seconds": minutes * 60},
    }
    store.replace_clocks(ticket_id, [clock], NOW)


def rated(ticket_id: int, score: str) -> dict[str, Any]:
    return {"ticket_id": ticket_id, "score": score, "created_at": NOW}


@pytest.fixture
def world(store: Store) -> Store:
    """Two gold tickets of Acme, one platinum of Nusantara, one not VIP."""
    decided(store, 1, "gold", "Acme Corp")
    decided(store, 2, "gold", "Acme Corp")
    decided(store, 3, "platinum", "Nusantara Logistik")
    decided(store, 4, None)
    judged_clock(store, 1, met=True, minutes=10)
    judged_clock(store, 2, met=False, minutes=0)
    return store


def test_csat_per_tier_and_account_from_saved_decisions(world: Store) -> None:
    ratings = [rated(1, "good"), rated(2, "bad"), rated(3, "good"), rated(4, "bad")]

    report = build_report(world, ratings)

    gold = report["tier"]["gold"]
    assert (gold["csat"], gold["csat_good"], gold["csat_bad"]) == (0.5, 1, 1)
    assert report["tier"]["platinum"]["csat"] == 1.0
    assert report["account"]["Acme Corp"]["csat"] == 0.5
    assert report["account"]["Nusantara Logistik"]["csat_good"] == 1
    assert "None" not in report["tier"]


def test_ratings_of_unknown_or_non_vip_tickets_are_counted_apart(
    world: Store,
) -> None:
    ratings = [rated(1, "good"), rated(4, "bad"), rated(999, "bad")]

    report = build_report(world, ratings)

    assert report["csat_ratings"] == {
        "fetched": True,
        "ratings": 3,
        "not_vip": 2,
        "warning": None,
    }
    assert report["tier"]["gold"]["csat"] == 1.0


def test_a_row_with_ratings_but_no_judged_clock_still_shows(world: Store) -> None:
    report = build_report(world, [rated(3, "bad")])

    platinum = report["tier"]["platinum"]
    assert platinum["clocks_judged"] == 0
    assert platinum["sla_compliance"] is None
    assert platinum["csat"] == 0.0


@pytest.mark.parametrize(
    ("scores", "csat", "unanswered"),
    [
        (["good", "good", "good", "bad"], 0.75, 0),
        (["good", "offered", "offered"], 1.0, 2),
        (["offered", "unoffered"], None, 1),
        ([], None, 0),
    ],
    ids=["three-of-four", "offered-not-counted", "no-answers", "no-ratings"],
)
def test_csat_counts_answers_only(
    store: Store, scores: list[str], csat: float | None, unanswered: int
) -> None:
    for ticket_id in range(1, len(scores) + 1):
        decided(store, ticket_id, "gold", "Acme Corp")
    ratings = [rated(i, s) for i, s in enumerate(scores, start=1)]
    judged_clock(store, 100, met=True, minutes=5)
    decided(store, 100, "gold", "Acme Corp")

    row = build_report(store, ratings)["tier"]["gold"]

    assert row["csat"] == csat
    assert row["csat_unanswered"] == unanswered


def test_without_ratings_sla_figures_stay_and_csat_is_empty(world: Store) -> None:
    report = build_report(world)

    gold = report["tier"]["gold"]
    assert gold["clocks_judged"] == 2
    assert gold["sla_compliance"] == 0.5
    assert gold["first_response_median_min"] == 10.0
    assert gold["csat"] is None
    assert report["csat_ratings"]["fetched"] is False
    assert "platinum" not in report["tier"]


def test_render_shows_a_csat_column_and_its_source(world: Store) -> None:
    fetched = render_report(build_report(world, [rated(1, "good"), rated(2, "bad")]))
    not_fetched = render_report(build_report(world))

    header = fetched.splitlines()[1]
    gold = next(
        line for line in fetched.splitlines() if line.strip().startswith("gold")
    )
    assert header.rstrip().endswith("CSAT")
    assert gold.rstrip().endswith("50% (2)")
    assert "CSAT = good / (good + bad)" in fetched
    assert "(CSAT not fetched from Zendesk)" in not_fetched


def test_report_with_csat_is_json_ready(world: Store) -> None:
    report = build_report(world, [rated(1, "good")])

    decoded = json.loads(json.dumps(report))

    assert decoded["account"]["Acme Corp"]["csat"] == 1.0


def make_connector(budget: int = 2) -> ZendeskConnector:
    settings = ZendeskSettings(
        subdomain="acme",
        email="bot@acme.example",
        token=TOKEN,
        base_url="https://127.0.0.1:8443",
        timeout=5.0,
        ratelimit_budget=budget,
    )
    return ZendeskConnector(settings)


def test_fetch_ratings_reads_the_span_before_now(world: Store) -> None:
    body = {
        "satisfaction_ratings": [
            {
                "id": 5,
                "ticket_id": 1,
                "score": "good",
                "comment": "Jane: thanks for fixing payroll",
                "created_at": "2025-03-20T10:00:00Z",
                "updated_at": "2025-03-20T10:00:00Z",
            }
        ],
        "meta": {"has_more": False},
        "links": {"next": None},
    }
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(RATINGS_URL, json=body)

        ratings = fetch_ratings(make_connector(), timedelta(days=30), NOW)

        params = rsps.calls[0].request.params

    assert params["start_time"] == str(int((NOW - timedelta(days=30)).timestamp()))
    assert params["end_time"] == str(int(NOW.timestamp()))
    assert ratings.warning is None
    assert build_report(world, ratings)["tier"]["gold"]["csat"] == 1.0


def test_fetch_ratings_failure_gives_none_and_a_warning(
    world: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(
            RATINGS_URL,
            status=429,
            headers={"Retry-After": "30"},
            json={"error": "APIRateLimitExceeded"},
        )

        since = datetime(2025, 3, 1, tzinfo=UTC)
        ratings = fetch_ratings(make_connector(budget=1), since, NOW)

    report = build_report(world, ratings)
    assert ratings == []
    assert ratings.warning == "CSAT not available: Zendesk answered rate_limited"
    assert report["csat_ratings"]["warning"] == ratings.warning
    assert "(CSAT not available: Zendesk answered rate_limited)" in render_report(
        report
    )
    ours = [r for r in caplog.records if r.name == "sidecar.report"]
    assert [r.levelname for r in ours] == ["WARNING"]
    assert TOKEN not in ours[0].getMessage()
