"""The sandbox's Zendesk surface, driven by the real zenpy client over HTTPS."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from zenpy.lib.api_objects import Comment, Ticket
from zenpy.lib.exception import APIException, RecordNotFoundException

from connector.zendesk import ZendeskConnector, ZendeskSettings
from sidecar.sandbox import Sandbox, SandboxConfig, seed
from sidecar.sandbox.desk import ApiError
from tests.sandbox.conftest import tls_session, zenpy_client

pytestmark = pytest.mark.e2e

PLATINUM_EMAIL = "dewi@nusantara-logistik.example"


class FrozenClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


def test_zenpy_reads_ticket_with_urls_on_the_sandbox_host(sandbox: Sandbox) -> None:
    ticket_id = sandbox.create_ticket(PLATINUM_EMAIL, "Gateway down", "All down")

    ticket = zenpy_client(sandbox).tickets(id=ticket_id)

    assert ticket.subject == "Gateway down"
    assert ticket.status == "new"
    assert ticket.requester_id == seed.USER_PLATINUM
    assert ticket.organization_id == seed.ORG_NUSANTARA
    assert ticket.url == f"{sandbox.url}/api/v2/tickets/{ticket_id}.json"


def test_requests_without_the_api_token_get_401(sandbox: Sandbox) -> None:
    session = tls_session(sandbox)
    session.auth = (f"{sandbox.config.api_user_email}/token", "wrong")

    response = session.get(f"{sandbox.url}/api/v2/users/me.json")

    assert response.status_code == 401
    assert response.json() == {"error": "Couldn't authenticate you"}


def test_unknown_ticket_is_record_not_found(sandbox: Sandbox) -> None:
    with pytest.raises(RecordNotFoundException):
        zenpy_client(sandbox).tickets(id=999999)


def test_users_and_organization_lookups(sandbox: Sandbox) -> None:
    client = zenpy_client(sandbox)

    me = client.users.me()
    many = list(client.users(ids=[seed.USER_PLATINUM, seed.USER_FREEMAIL_UNKNOWN]))
    organization = client.organizations(id=seed.ORG_NUSANTARA)

    assert (me.id, me.role) == (seed.API_USER_ID, "admin")
    assert {u.email for u in many} == {PLATINUM_EMAIL, "indah.example@yahoo.co.id"}
    assert organization.tags == ["vip_platinum"]
    assert organization.domain_names == ["nusantara-logistik.example"]


def test_zenpy_follows_audit_pages(sandbox: Sandbox) -> None:
    ticket_id = sandbox.create_ticket(PLATINUM_EMAIL, "Slow", "It is slow")
    sandbox.agent_reply(ticket_id, "Looking into it", status="pending")
    sandbox.customer_reply(ticket_id, "Still slow")
    sandbox.set_status(ticket_id, "solved")

    audits = list(zenpy_client(sandbox).tickets.audits(ticket=ticket_id))

    assert len(audits) == 4
    assert sandbox.calls()["GET audits"] == 2
    statuses = [
        (e["previous_value"], e["value"])
        for a in audits
        for e in a.events
        if e["type"] == "Change" and e["field_name"] == "status"
    ]
    assert statuses == [("new", "pending"), ("pending", "open"), ("open", "solved")]
    first_comment = audits[0].events[0]
    assert first_comment["type"] == "Comment"
    assert first_comment["author_id"] == seed.USER_PLATINUM
    assert first_comment["plain_body"] == "It is slow"


def test_offset_paging_links_point_at_the_sandbox(sandbox: Sandbox) -> None:
    ticket_id = sandbox.create_ticket(PLATINUM_EMAIL, "Slow", "It is slow")
    sandbox.customer_reply(ticket_id, "Hello?")
    sandbox.customer_reply(ticket_id, "Anyone?")
    session = tls_session(sandbox)
    session.auth = (f"{sandbox.config.api_user_email}/token", sandbox.config.api_token)

    first = session.get(f"{sandbox.url}/api/v2/tickets/{ticket_id}/audits.json").json()
    second = session.get(first["next_page"]).json()

    assert first["count"] == 3
    assert first["next_page"].startswith(f"{sandbox.url}/api/v2/tickets/{ticket_id}/")
    assert first["previous_page"] is None
    assert len(first["audits"]) == 2
    assert len(second["audits"]) == 1
    assert second["next_page"] is None


def test_stale_safe_update_is_a_409_conflict(sandbox: Sandbox) -> None:
    ticket_id = sandbox.create_ticket(PLATINUM_EMAIL, "Down", "Down again")
    client = zenpy_client(sandbox)
    stamp = client.tickets(id=ticket_id).updated_at
    sandbox.agent_reply(ticket_id, "On it")

    stale = Ticket(
        id=ticket_id, priority="urgent", safe_update=True, updated_stamp=stamp
    )
    with pytest.raises(APIException) as raised:
        client.tickets.update(stale)

    assert raised.value.response.status_code == 409
    assert raised.value.response.json()["error"] == "UpdateConflict"
    assert sandbox.ticket(ticket_id)["ticket"]["priority"] is None

    fresh_stamp = client.tickets(id=ticket_id).updated_at
    fresh = Ticket(
        id=ticket_id, priority="urgent", safe_update=True, updated_stamp=fresh_stamp
    )
    assert client.tickets.update(fresh).ticket.priority == "urgent"


def test_update_replaces_tags_and_merges_custom_fields(sandbox: Sandbox) -> None:
    ticket_id = sandbox.create_ticket(
        PLATINUM_EMAIL,
        "Down",
        "Down",
        tags=["outage", "web"],
        custom_fields=[{"id": seed.FIELD_TIER, "value": "gold"}],
    )
    update = Ticket(
        id=ticket_id,
        tags=["vip_enriched"],
        group_id=seed.GROUP_PLATINUM,
        custom_fields=[{"id": seed.FIELD_SEVERITY, "value": "p1"}],
        comment=Comment(body="Tier Platinum (CRM)", public=False),
    )

    result = zenpy_client(sandbox).tickets.update(update)

    assert result.ticket.tags == ["vip_enriched"]
    assert result.ticket.group_id == seed.GROUP_PLATINUM
    fields = {f["id"]: f["value"] for f in result.ticket.custom_fields}
    assert fields == {seed.FIELD_TIER: "gold", seed.FIELD_SEVERITY: "p1"}
    note = sandbox.ticket(ticket_id)["comments"][-1]
    assert (note["public"], note["author_id"]) == (False, sandbox.api_user_id)
    events = result.audit.events
    changes = {e["field_name"]: e for e in events if "field_name" in e}
    assert changes["tags"]["previous_value"] == ["outage", "web"]


def test_closed_ticket_refuses_updates_with_422(sandbox: Sandbox) -> None:
    ticket_id = sandbox.create_ticket(PLATINUM_EMAIL, "Done", "Done")
    sandbox.set_status(ticket_id, "closed")

    with pytest.raises(APIException) as raised:
        zenpy_client(sandbox).tickets.update(Ticket(id=ticket_id, priority="low"))

    assert raised.value.response.status_code == 422
    details = raised.value.response.json()["details"]["status"][0]["description"]
    assert details == "Status: closed prevents ticket update"


def test_updated_at_strictly_increases_within_one_second() -> None:
    clock = FrozenClock(datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC))
    sandbox = Sandbox(SandboxConfig(), clock=clock)
    ticket_id = sandbox.create_ticket(PLATINUM_EMAIL, "Down", "Down")

    stamps = [sandbox.ticket(ticket_id)["ticket"]["updated_at"]]
    for body in ("one", "two"):
        stamps.append(sandbox.agent_reply(ticket_id, body)["updated_at"])

    assert stamps == [
        "2024-03-01T09:00:00Z",
        "2024-03-01T09:00:01Z",
        "2024-03-01T09:00:02Z",
    ]


def test_an_update_that_changes_nothing_keeps_updated_at(sandbox: Sandbox) -> None:
    ticket_id = sandbox.create_ticket(PLATINUM_EMAIL, "Down", "Down", tags=["a"])
    before = sandbox.ticket(ticket_id)["ticket"]["updated_at"]

    result = zenpy_client(sandbox).tickets.update(Ticket(id=ticket_id, tags=["a"]))

    assert result.ticket.updated_at == before


@pytest.mark.parametrize("body", ["json", "text"], ids=["json-body", "plain-text"])
def test_zenpy_honours_retry_after_on_429(sandbox: Sandbox, body: str) -> None:
    ticket_id = sandbox.create_ticket(PLATINUM_EMAIL, "Down", "Down")
    sandbox.inject_fault("PUT ticket", status=429, retry_after=1, body=body)
    started = time.monotonic()

    result = zenpy_client(sandbox).tickets.update(Ticket(id=ticket_id, priority="high"))

    assert time.monotonic() - started >= 1.0
    assert result.ticket.priority == "high"
    assert sandbox.calls()["PUT ticket"] == 2


def test_rate_limit_headers_on_ticket_update(sandbox: Sandbox) -> None:
    ticket_id = sandbox.create_ticket(PLATINUM_EMAIL, "Down", "Down")
    session = tls_session(sandbox)
    session.auth = (f"{sandbox.config.api_user_email}/token", sandbox.config.api_token)

    response = session.put(
        f"{sandbox.url}/api/v2/tickets/{ticket_id}.json",
        json={"ticket": {"priority": "low"}},
    )

    assert response.status_code == 200
    assert response.headers["x-rate-limit"] == "700"
    assert int(response.headers["x-rate-limit-remaining"]) < 700
    update_limit = response.headers["zendesk-rate-limit-tickets-update"]
    assert update_limit.startswith("total=100; remaining=99; resets=")


def test_post_creates_ticket_for_a_new_requester(sandbox: Sandbox) -> None:
    session = tls_session(sandbox)
    session.auth = (f"{sandbox.config.api_user_email}/token", sandbox.config.api_token)
    body = {
        "ticket": {
            "subject": "Invoice question",
            "comment": {"body": "Where is my invoice?"},
            "requester": {"email": "new.person@globex.example", "name": "New Person"},
        }
    }

    response = session.post(f"{sandbox.url}/api/v2/tickets.json", json=body)

    assert response.status_code == 201
    created = response.json()["ticket"]
    requester = zenpy_client(sandbox).users(id=created["requester_id"])
    assert requester.email == "new.person@globex.example"
    assert requester.organization_id == seed.ORG_GLOBEX
    assert created["organization_id"] == seed.ORG_GLOBEX
    assert created["description"] == "Where is my invoice?"


def test_create_ticket_names_a_new_requester(sandbox: Sandbox) -> None:
    ticket_id = sandbox.create_ticket(
        "rudi@sinar-jaya.example", "Login", "Cannot log in", requester_name="Rudi"
    )

    requester_id = sandbox.ticket(ticket_id)["ticket"]["requester_id"]
    requester = zenpy_client(sandbox).users(id=requester_id)
    assert (requester.name, requester.organization_id) == ("Rudi", seed.ORG_SINAR_JAYA)


# -- satisfaction ratings (legacy CSAT) ----------------------------------------

MARCH = datetime(2025, 3, 10, 9, tzinfo=UTC)


def connector_for(sandbox: Sandbox) -> ZendeskConnector:
    settings = ZendeskSettings(
        subdomain="sandbox",
        email=sandbox.config.api_user_email,
        token=sandbox.config.api_token,
        base_url=sandbox.url,
        ca_bundle=sandbox.ca_file,
        ratelimit_budget=5,
    )
    return ZendeskConnector(settings)


def solved_ticket(sandbox: Sandbox, subject: str) -> int:
    ticket_id = sandbox.create_ticket(PLATINUM_EMAIL, subject, "Please help")
    sandbox.set_status(ticket_id, "solved")
    return ticket_id


def test_connector_reads_ratings_across_cursor_pages() -> None:
    clock = FrozenClock(MARCH)
    config = SandboxConfig(ratings_page_size=2)
    with Sandbox(config, clock) as sandbox:
        rated = {}
        for hours, score in enumerate(["good", "bad", "offered", "good"]):
            clock.moment = MARCH + timedelta(hours=hours)
            ticket_id = solved_ticket(sandbox, f"Case {hours}")
            sandbox.rate_ticket(ticket_id, score, comment="Jane: payroll fixed")
            rated[ticket_id] = score

        window_end = MARCH + timedelta(hours=2)
        ratings = connector_for(sandbox).fetch_satisfaction(MARCH, window_end)
        calls = sandbox.calls()["GET satisfaction_ratings"]

    first_three = list(rated.items())[:3]
    assert [(r["ticket_id"], r["score"]) for r in ratings] == first_three
    assert ratings[1]["created_at"] == MARCH + timedelta(hours=1)
    assert all(set(r) == {"ticket_id", "score", "created_at"} for r in ratings)
    assert calls == 2


def test_rating_again_replaces_the_tickets_rating(sandbox: Sandbox) -> None:
    ticket_id = solved_ticket(sandbox, "Slow")

    first = sandbox.rate_ticket(ticket_id, "bad")
    second = sandbox.rate_ticket(ticket_id, "good", comment="Thanks")
    ticket = sandbox.ticket(ticket_id)["ticket"]

    assert second["id"] == first["id"]
    assert second["score"] == "good"
    assert len(sandbox.state.satisfaction_ratings) == 1
    assert ticket["satisfaction_rating"] == {
        "id": first["id"],
        "score": "good",
        "comment": "Thanks",
    }


def test_an_open_ticket_cannot_be_rated_good(sandbox: Sandbox) -> None:
    ticket_id = sandbox.create_ticket(PLATINUM_EMAIL, "Down", "Down")

    with pytest.raises(ApiError) as caught:
        sandbox.rate_ticket(ticket_id, "good")
    offered = sandbox.rate_ticket(ticket_id, "offered")

    assert caught.value.status == 422
    assert offered["score"] == "offered"
    with pytest.raises(ValueError, match="score"):
        sandbox.rate_ticket(ticket_id, "great")


def test_ratings_offset_pages_keep_filters_on_the_sandbox_host(
    sandbox: Sandbox,
) -> None:
    for subject in ("One", "Two", "Three"):
        sandbox.rate_ticket(solved_ticket(sandbox, subject), "good")
    sandbox.rate_ticket(solved_ticket(sandbox, "Four"), "bad")
    session = tls_session(sandbox)
    session.auth = (f"{sandbox.config.api_user_email}/token", sandbox.config.api_token)
    url = f"{sandbox.url}/api/v2/satisfaction_ratings.json"

    first = session.get(url, params={"score": "good", "per_page": 2}).json()
    second = session.get(first["next_page"]).json()
    received = session.get(url, params={"score": "received"}).json()

    assert first["next_page"].startswith(url)
    assert "score=good" in first["next_page"]
    assert [r["score"] for r in first["satisfaction_ratings"]] == ["good", "good"]
    assert [r["score"] for r in second["satisfaction_ratings"]] == ["good"]
    assert second["next_page"] is None
    assert received["count"] == 4


def test_connector_waits_out_a_429_on_ratings(sandbox: Sandbox) -> None:
    sandbox.rate_ticket(solved_ticket(sandbox, "Down"), "bad")
    sandbox.inject_fault("GET satisfaction_ratings", status=429, retry_after=1)

    ratings = connector_for(sandbox).fetch_satisfaction(
        datetime(2000, 1, 1, tzinfo=UTC)
    )

    assert [r["score"] for r in ratings] == ["bad"]
    assert sandbox.calls()["GET satisfaction_ratings"] == 2
