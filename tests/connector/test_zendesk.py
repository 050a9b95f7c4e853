"""Zendesk connector: reads, guarded writes, rate limits and retries at the wire."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses

from connector.errors import (
    AuthFailed,
    NotFound,
    RateLimited,
    Rejected,
    UpdateConflict,
    UpstreamUnavailable,
)
from connector.zendesk import (
    ZendeskConnector,
    ZendeskSettings,
    classify_call,
    zenpy_host,
)
from sidecar.errors import ConfigError
from tests.connector.conftest import ScriptedServer, Step

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zendesk"
BASE = "https://127.0.0.1:8443"
API = f"{BASE}/api/v2"
TOKEN = "tok-PLANTED-SECRET"
TICKET_ID = 4016
REQUESTER_ID = 6130907993114
ORG_ID = 6130869157658
STAMP = datetime(2023, 9, 18, 23, 26, tzinfo=UTC)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def make_connector(**overrides: Any) -> ZendeskConnector:
    values: dict[str, Any] = {
        "subdomain": "acme",
        "email": "bot@acme.example",
        "token": TOKEN,
        "base_url": BASE,
        "timeout": 5.0,
        "ratelimit_budget": 3,
    }
    values.update(overrides)
    return ZendeskConnector(ZendeskSettings(**values))


def ticket_body(**changes: Any) -> dict[str, Any]:
    body = load("ticket_show__recorded.json")
    body["ticket"].update(changes)
    return body


def user_body(user_id: int = REQUESTER_ID, role: str = "end-user") -> dict[str, Any]:
    return {
        "user": {
            "id": user_id,
            "email": "jane@customer.example",
            "name": "Jane Doe",
            "role": role,
            "organization_id": ORG_ID,
        }
    }


def org_body() -> dict[str, Any]:
    return {
        "organization": {
            "id": ORG_ID,
            "name": "Customer Ltd",
            "tags": ["enterprise", "vip"],
            "domain_names": ["Customer.example"],
        }
    }


def sent_json(call: Any) -> dict[str, Any]:
    return json.loads(call.request.body)


def test_fetch_ticket_reads_requester_and_organization() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        custom = [{"id": 360001, "value": "gold"}, {"id": 360002, "value": None}]
        rsps.get(
            f"{API}/tickets/{TICKET_ID}.json",
            json=ticket_body(tags=["vip"], priority="high", custom_fields=custom),
        )
        rsps.get(f"{API}/users/{REQUESTER_ID}.json", json=user_body())
        rsps.get(f"{API}/organizations/{ORG_ID}.json", json=org_body())

        facts = connector.fetch_ticket(TICKET_ID)

        auth = rsps.calls[0].request.headers["Authorization"]

    assert facts.id == TICKET_ID
    assert facts.status == "new"
    assert facts.priority == "high"
    assert facts.tags == ("vip",)
    assert facts.custom_field(360001) == "gold"
    assert facts.created_at == STAMP
    assert facts.updated_at == datetime(2023, 9, 18, 23, 26, 1, tzinfo=UTC)
    assert facts.via_channel == "api"
    assert facts.requester.email == "jane@customer.example"
    assert facts.requester.organization_id == ORG_ID
    assert facts.organization is not None
    assert facts.organization.tags == ("enterprise", "vip")
    assert facts.organization.domain_names == ("customer.example",)
    assert facts.comments == () and facts.status_changes == ()
    expected = base64.b64encode(f"bot@acme.example/token:{TOKEN}".encode()).decode()
    assert auth == f"Basic {expected}"
    assert connector.calls == {"GET ticket": 1, "GET user": 1, "GET organization": 1}


def test_fetch_ticket_without_organization_makes_no_org_call() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(
            f"{API}/tickets/{TICKET_ID}.json", json=ticket_body(organization_id=None)
        )
        rsps.get(f"{API}/users/{REQUESTER_ID}.json", json=user_body())

        facts = connector.fetch_ticket(TICKET_ID)

    assert facts.organization is None
    assert "GET organization" not in connector.calls


def _second_audit_page() -> dict[str, Any]:
    return {
        "audits": [
            {
                "id": 7002,
                "ticket_id": TICKET_ID,
                "created_at": "2023-09-19T08:00:00Z",
                "author_id": 99,
                "via": {"channel": "web"},
                "events": [
                    {
                        "id": 8001,
                        "type": "Comment",
                        "author_id": 99,
                        "body": "Looking into it.",
                        "public": False,
                    },
                    {
                        "id": 8002,
                        "type": "Change",
                        "field_name": "status",
                        "value": "open",
                        "previous_value": "new",
                    },
                ],
            }
        ],
        "next_page": None,
        "previous_page": f"{API}/tickets/{TICKET_ID}/audits.json?page=1",
        "count": 2,
    }


def test_fetch_ticket_history_follows_audit_pages_and_marks_agents() -> None:
    first = load("ticket_audits__created_via_api.json")
    first["next_page"] = f"{API}/tickets/{TICKET_ID}/audits.json?page=2"

    def audits(request: Any) -> tuple[int, dict[str, str], str]:
        page = _second_audit_page() if "page=2" in request.url else first
        return 200, {}, json.dumps(page)

    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(f"{API}/tickets/{TICKET_ID}.json", json=ticket_body())
        rsps.get(f"{API}/users/{REQUESTER_ID}.json", json=user_body())
        rsps.get(f"{API}/organizations/{ORG_ID}.json", json=org_body())
        rsps.add_callback(
            responses.GET, f"{API}/tickets/{TICKET_ID}/audits.json", callback=audits
        )
        users = {"users": [user_body()["user"], user_body(99, "agent")["user"]]}
        rsps.get(f"{API}/users/show_many.json", json=users)

        facts = connector.fetch_ticket(TICKET_ID, with_history=True)

        show_many = rsps.calls[-1].request

    assert [(c.id, c.author_id, c.by_agent, c.public) for c in facts.comments] == [
        (6164068754714, REQUESTER_ID, False, True),
        (8001, 99, True, False),
    ]
    assert facts.comments[0].body == "test"
    assert facts.comments[1].channel == "web"
    assert [(s.at, s.status) for s in facts.status_changes] == [
        (STAMP, "new"),
        (datetime(2023, 9, 19, 8, tzinfo=UTC), "open"),
    ]
    assert show_many.params == {"ids": f"99,{REQUESTER_ID}"}
    assert connector.calls["GET audits"] == 2
    assert connector.calls["GET users"] == 1


def test_sweep_read_skips_requester_and_organization() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(f"{API}/tickets/{TICKET_ID}.json", json=ticket_body())
        rsps.get(
            f"{API}/tickets/{TICKET_ID}/audits.json",
            json=load("ticket_audits__created_via_api.json"),
        )
        rsps.get(f"{API}/users/show_many.json", json={"users": [user_body()["user"]]})

        facts = connector.fetch_ticket(TICKET_ID, with_history=True, with_people=False)

    assert facts.requester.id == REQUESTER_ID and facts.requester.email == ""
    assert facts.organization is None
    assert facts.comments[0].author_id == REQUESTER_ID
    assert set(connector.calls) == {"GET ticket", "GET audits", "GET users"}


def test_fetch_history_adds_comments_to_a_read_ticket() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(f"{API}/tickets/{TICKET_ID}.json", json=ticket_body())
        rsps.get(f"{API}/users/{REQUESTER_ID}.json", json=user_body())
        rsps.get(f"{API}/organizations/{ORG_ID}.json", json=org_body())
        rsps.get(
            f"{API}/tickets/{TICKET_ID}/audits.json",
            json=load("ticket_audits__created_via_api.json"),
        )
        rsps.get(f"{API}/users/show_many.json", json={"users": [user_body()["user"]]})

        ticket = connector.fetch_ticket(TICKET_ID)
        facts = connector.fetch_history(ticket)

    assert facts.requester.email == "jane@customer.example"
    assert facts.comments and facts.comments[0].body == "test"
    assert facts.status_changes[0].status == "new"
    assert connector.calls["GET ticket"] == 1


def test_update_sends_one_safe_put_with_full_tags_and_private_note() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        put = rsps.put(
            f"{API}/tickets/{TICKET_ID}.json",
            json=load("ticket_update__safe_update_ok.json"),
        )

        new_stamp = connector.update_ticket(
            TICKET_ID,
            updated_stamp=STAMP,
            priority="urgent",
            group_id=77,
            tags=["existing", "vip", "vip"],
            custom_fields=[(360001, "silver"), (360001, "gold")],
            note="VIP: tier Gold (CRM).",
        )

    assert put.call_count == 1
    assert sent_json(put.calls[0]) == {
        "ticket": {
            "id": TICKET_ID,
            "priority": "urgent",
            "group_id": 77,
            "tags": ["existing", "vip"],
            "custom_fields": [{"id": 360001, "value": "gold"}],
            "safe_update": True,
            "updated_stamp": "2023-09-18T23:26:00Z",
            "comment": {"body": "VIP: tier Gold (CRM).", "public": False},
        }
    }
    assert new_stamp == datetime(2023, 9, 18, 23, 26, 1, tzinfo=UTC)
    assert connector.calls == {"PUT ticket": 1}


def test_update_sends_only_the_given_fields() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        put = rsps.put(
            f"{API}/tickets/{TICKET_ID}.json",
            json=load("ticket_update__safe_update_ok.json"),
        )

        connector.update_ticket(TICKET_ID, updated_stamp=STAMP, tags=[])

    assert sent_json(put.calls[0])["ticket"] == {
        "id": TICKET_ID,
        "tags": [],
        "safe_update": True,
        "updated_stamp": "2023-09-18T23:26:00Z",
    }


def test_update_with_nothing_to_write_makes_no_call() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True):
        assert connector.update_ticket(TICKET_ID, updated_stamp=STAMP) == STAMP

    assert connector.calls == {}


@pytest.mark.parametrize(
    ("status", "fixture", "expected"),
    [
        (409, "error__update_conflict.json", UpdateConflict),
        (422, "error__closed_ticket.json", Rejected),
        (404, "error__record_not_found.json", NotFound),
    ],
    ids=["conflict", "closed-ticket", "not-found"],
)
def test_update_refusals_map_to_connector_errors(
    status: int, fixture: str, expected: type[Exception]
) -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        put = rsps.put(
            f"{API}/tickets/{TICKET_ID}.json", status=status, json=load(fixture)
        )

        with pytest.raises(expected) as caught:
            connector.update_ticket(TICKET_ID, updated_stamp=STAMP, note="hello")

    assert put.call_count == 1
    assert caught.value.system == "zendesk"
    assert str(TICKET_ID) in caught.value.message
    assert caught.value.__cause__ is not None


def test_rate_limit_with_retry_after_waits_then_succeeds() -> None:
    connector = make_connector(ratelimit_budget=3)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        url = f"{API}/tickets/{TICKET_ID}.json"
        rsps.get(url, status=429, headers={"Retry-After": "1"}, json={})
        rsps.get(url, json=ticket_body(organization_id=None))
        rsps.get(f"{API}/users/{REQUESTER_ID}.json", json=user_body())

        facts = connector.fetch_ticket(TICKET_ID)

    assert facts.id == TICKET_ID
    assert connector.calls["GET ticket"] == 2


def test_rate_limit_beyond_budget_raises_rate_limited() -> None:
    connector = make_connector(ratelimit_budget=2)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(
            f"{API}/tickets/{TICKET_ID}.json",
            status=429,
            headers={"Retry-After": "30"},
            json={"error": "APIRateLimitExceeded"},
        )

        with pytest.raises(RateLimited) as caught:
            connector.fetch_ticket(TICKET_ID)

    assert caught.value.retry_after == 30.0
    assert caught.value.transient
    assert connector.calls["GET ticket"] == 1


def test_budget_is_per_call_not_per_client() -> None:
    connector = make_connector(ratelimit_budget=2)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        url = f"{API}/users/me.json"
        for _ in range(2):
            rsps.get(url, status=429, headers={"Retry-After": "1"}, json={})
            rsps.get(url, json={"user": {"id": 42, "role": "admin"}})

        assert connector.fetch_me() == 42
        assert connector.fetch_me() == 42


def test_plain_text_429_raises_rate_limited() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(
            f"{API}/tickets/{TICKET_ID}.json",
            status=429,
            body=(FIXTURES / "error__rate_limited_plain_text.txt").read_text(),
            content_type="text/plain",
        )

        with pytest.raises(RateLimited) as caught:
            connector.fetch_ticket(TICKET_ID)

    assert caught.value.retry_after == 60.0


def test_get_503_is_retried_by_the_transport() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        url = f"{API}/users/me.json"
        rsps.get(url, status=503, json={})
        rsps.get(url, status=503, json={})
        rsps.get(url, json={"user": {"id": 42, "role": "admin"}})

        assert connector.fetch_me() == 42

        assert len(rsps.calls) == 3


def test_put_503_is_not_retried() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        put = rsps.put(f"{API}/tickets/{TICKET_ID}.json", status=503, json={})

        with pytest.raises(UpstreamUnavailable):
            connector.update_ticket(TICKET_ID, updated_stamp=STAMP, note="once")

    assert put.call_count == 1


def test_put_read_timeout_is_sent_once_over_real_tls(
    https_server: ScriptedServer,
) -> None:
    path = f"/api/v2/tickets/{TICKET_ID}.json"
    https_server.script[("PUT", path)] = [Step(200, {}, delay=1.5)]
    connector = make_connector(
        base_url=https_server.url, ca_bundle=https_server.ca_file, timeout=0.4
    )

    with pytest.raises(UpstreamUnavailable):
        connector.update_ticket(TICKET_ID, updated_stamp=STAMP, note="only once")

    assert https_server.count("PUT", path) == 1


def test_get_read_timeout_is_retried_over_real_tls(
    https_server: ScriptedServer,
) -> None:
    path = "/api/v2/users/me.json"
    me = {"user": {"id": 42, "role": "admin"}}
    https_server.script[("GET", path)] = [Step(200, me, delay=1.5), Step(200, me)]
    connector = make_connector(
        base_url=https_server.url, ca_bundle=https_server.ca_file, timeout=0.4
    )

    assert connector.fetch_me() == 42
    assert https_server.count("GET", path) == 2


def test_no_token_note_or_email_reaches_connector_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    note = "Customer wrote: our payroll is down, call jane@customer.example"
    connector = make_connector(ratelimit_budget=1)
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        url = f"{API}/tickets/{TICKET_ID}.json"
        rsps.put(url, status=429, headers={"Retry-After": "5"}, json={})

        with pytest.raises(RateLimited) as caught:
            connector.update_ticket(TICKET_ID, updated_stamp=STAMP, note=note)

    ours = [r for r in caplog.records if r.name.startswith("connector")]
    assert ours, "the rate limit should be logged"
    for text in [r.getMessage() for r in ours] + [str(caught.value)]:
        assert TOKEN not in text
        assert "payroll" not in text
        assert "jane@" not in text


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (None, ("acme", "zendesk.com")),
        ("https://127.0.0.1:8443", ("127", "0.0.1:8443")),
        ("https://support.acme.example/", ("support", "acme.example")),
    ],
    ids=["default", "sandbox", "custom-host"],
)
def test_zenpy_host_splits_the_base_url(
    base_url: str | None, expected: tuple[str, str]
) -> None:
    settings = ZendeskSettings("acme", "bot@acme.example", "t", base_url=base_url)

    assert zenpy_host(settings) == expected


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8443", "https://localhost:8443", "https://x.example/zd"],
    ids=["plain-http", "no-dot", "path"],
)
def test_unusable_base_url_is_a_config_error(base_url: str) -> None:
    with pytest.raises(ConfigError):
        make_connector(base_url=base_url)


def test_missing_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="token"):
        make_connector(token="")


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("GET", "/api/v2/tickets/5.json", "GET ticket"),
        ("PUT", "/api/v2/tickets/5.json", "PUT ticket"),
        ("GET", "/api/v2/tickets/5/audits.json?page%5Bsize%5D=100", "GET audits"),
        ("GET", "/api/v2/users/show_many.json?ids=1,2", "GET users"),
        ("GET", "/api/v2/users/me.json", "GET me"),
        ("GET", "/api/v2/organizations/7.json", "GET organization"),
    ],
    ids=["ticket", "update", "audits", "show-many", "me", "organization"],
)
def test_classify_call(method: str, path: str, key: str) -> None:
    assert classify_call(method, path) == key


# -- satisfaction ratings (legacy CSAT) ----------------------------------------

# zenpy asks without ".json"; Zendesk answers both spellings.
RATINGS_URL = f"{API}/satisfaction_ratings"
SINCE = datetime(2025, 3, 1, tzinfo=UTC)
UNTIL = datetime(2025, 3, 31, tzinfo=UTC)
CUSTOMER_TEXT = "Jane here: the payroll outage cost us a day"


def rating(
    rating_id: int,
    ticket_id: int,
    score: str,
    created: str = "2025-03-10T09:00:00Z",
    updated: str | None = None,
) -> dict[str, Any]:
    return {
        "id": rating_id,
        "url": f"{API}/satisfaction_ratings/{rating_id}.json",
        "assignee_id": 99,
        "group_id": 360001,
        "requester_id": REQUESTER_ID,
        "ticket_id": ticket_id,
        "score": score,
        "comment": CUSTOMER_TEXT,
        "reason": "",
        "created_at": created,
        "updated_at": updated or created,
    }


def test_fetch_satisfaction_follows_cursor_pages_and_maps_fields() -> None:
    second_url = f"{RATINGS_URL}?page%5Bsize%5D=100&page%5Bafter%5D=abc"
    first = {
        "satisfaction_ratings": [rating(1, 11, "good"), rating(2, 12, "offered")],
        "meta": {"has_more": True, "after_cursor": "abc", "before_cursor": "x"},
        "links": {"next": second_url, "prev": None},
    }
    second = {
        "satisfaction_ratings": [rating(3, 13, "bad", "2025-03-11T10:30:00Z")],
        "meta": {"has_more": False, "after_cursor": "def", "before_cursor": "abc"},
        "links": {"next": None, "prev": None},
    }
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        pages = [second, first]
        rsps.add_callback(
            responses.GET,
            RATINGS_URL,
            callback=lambda request: (200, {}, json.dumps(pages.pop())),
        )

        ratings = connector.fetch_satisfaction(SINCE, UNTIL)

        params = [call.request.params for call in rsps.calls]

    assert ratings == [
        {
            "ticket_id": 11,
            "score": "good",
            "created_at": datetime(2025, 3, 10, 9, tzinfo=UTC),
        },
        {
            "ticket_id": 12,
            "score": "offered",
            "created_at": datetime(2025, 3, 10, 9, tzinfo=UTC),
        },
        {
            "ticket_id": 13,
            "score": "bad",
            "created_at": datetime(2025, 3, 11, 10, 30, tzinfo=UTC),
        },
    ]
    assert params[0] == {
        "start_time": str(int(SINCE.timestamp())),
        "end_time": str(int(UNTIL.timestamp())),
        "page[size]": "100",
    }
    assert params[1]["page[after]"] == "abc"
    assert connector.calls["GET satisfaction_ratings"] == 2


def test_fetch_satisfaction_follows_offset_next_page() -> None:
    first = {
        "satisfaction_ratings": [rating(1, 11, "bad")],
        "next_page": f"{RATINGS_URL}?page=2",
        "previous_page": None,
        "count": 2,
    }
    second = {
        "satisfaction_ratings": [rating(2, 12, "good")],
        "next_page": None,
        "previous_page": f"{RATINGS_URL}?page=1",
        "count": 2,
    }
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add_callback(
            responses.GET,
            RATINGS_URL,
            callback=lambda request: (
                200,
                {},
                json.dumps(second if "page=2" in request.url else first),
            ),
        )

        ratings = connector.fetch_satisfaction(SINCE)

        first_params = rsps.calls[0].request.params

    assert [(r["ticket_id"], r["score"]) for r in ratings] == [
        (11, "bad"),
        (12, "good"),
    ]
    assert "end_time" not in first_params


def test_fetch_satisfaction_keeps_a_tickets_latest_rating_and_no_comment() -> None:
    body = {
        "satisfaction_ratings": [
            rating(2, 11, "bad", "2025-03-10T09:00:00Z", "2025-03-12T08:00:00Z"),
            rating(1, 11, "good", "2025-03-10T09:00:00Z", "2025-03-10T09:05:00Z"),
            {**rating(3, 12, "good"), "ticket_id": None},
        ],
        "meta": {"has_more": False},
        "links": {"next": None},
    }
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(RATINGS_URL, json=body)

        ratings = connector.fetch_satisfaction(SINCE, UNTIL)

    assert [(r["ticket_id"], r["score"]) for r in ratings] == [(11, "bad")]
    assert set(ratings[0]) == {"ticket_id", "score", "created_at"}
    assert CUSTOMER_TEXT not in repr(ratings)


def test_fetch_satisfaction_takes_naive_times_as_utc() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(RATINGS_URL, json={"satisfaction_ratings": [], "next_page": None})

        assert connector.fetch_satisfaction(datetime(2025, 3, 1)) == []

        sent = rsps.calls[0].request.params

    assert sent["start_time"] == str(int(SINCE.timestamp()))


def test_fetch_satisfaction_waits_on_429_with_a_fresh_budget_each_call() -> None:
    connector = make_connector(ratelimit_budget=2)
    empty = {"satisfaction_ratings": [], "meta": {"has_more": False}, "links": {}}
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        for _ in range(2):
            rsps.get(RATINGS_URL, status=429, headers={"Retry-After": "1"}, json={})
            rsps.get(RATINGS_URL, json=empty)

        assert connector.fetch_satisfaction(SINCE) == []
        assert connector.fetch_satisfaction(SINCE) == []

    assert connector.calls["GET satisfaction_ratings"] == 4


def test_fetch_satisfaction_429_on_a_later_page_raises_rate_limited() -> None:
    first = {
        "satisfaction_ratings": [rating(1, 11, "good")],
        "meta": {"has_more": True},
        "links": {"next": f"{RATINGS_URL}?page%5Bafter%5D=abc"},
    }
    connector = make_connector(ratelimit_budget=1)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(RATINGS_URL, json=first)
        rsps.get(
            RATINGS_URL,
            status=429,
            headers={"Retry-After": "30"},
            json={"error": "APIRateLimitExceeded"},
        )

        with pytest.raises(RateLimited) as caught:
            connector.fetch_satisfaction(SINCE)

    assert caught.value.retry_after == 30.0
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize(
    ("status", "error"),
    [(403, AuthFailed), (500, UpstreamUnavailable), (400, Rejected)],
    ids=["agent-token-forbidden", "server-error", "bad-request"],
)
def test_fetch_satisfaction_refusals_map_to_connector_errors(
    status: int, error: type[Exception]
) -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(RATINGS_URL, status=status, json={"error": "Forbidden"})

        with pytest.raises(error):
            connector.fetch_satisfaction(SINCE)


def test_fetch_satisfaction_logs_no_customer_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = {"satisfaction_ratings": [rating(1, 11, "bad")], "next_page": None}
    connector = make_connector(ratelimit_budget=1)
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(RATINGS_URL, status=503, json={})
        rsps.get(RATINGS_URL, json=body)

        connector.fetch_satisfaction(SINCE)

    ours = [r.getMessage() for r in caplog.records if r.name.startswith("connector")]
    assert not any("payroll" in text or TOKEN in text for text in ours)
