"""The ``/_sandbox/`` control API and the default seed."""

from __future__ import annotations

import json

import pytest

from sidecar.sandbox import Sandbox, SandboxConfig, default_seed, seed
from tests.sandbox.conftest import Receiver, tls_session, zenpy_client

pytestmark = pytest.mark.e2e


def test_admin_creates_replies_and_reports_the_ticket(receiver: Receiver) -> None:
    config = SandboxConfig(webhook_url=receiver.url)
    with Sandbox(config) as sandbox:
        admin = tls_session(sandbox)
        created = admin.post(
            f"{sandbox.url}/_sandbox/tickets",
            json={
                "requester_email": "evan@globex.example",
                "subject": "Export broken",
                "body": "CSV export fails",
            },
        )
        ticket_id = created.json()["ticket_id"]
        reply = admin.post(
            f"{sandbox.url}/_sandbox/agent_reply",
            json={"ticket_id": ticket_id, "body": "Checking", "public": True},
        )
        pending = admin.post(
            f"{sandbox.url}/_sandbox/status",
            json={"ticket_id": ticket_id, "status": "pending"},
        )
        again = admin.post(
            f"{sandbox.url}/_sandbox/customer_reply",
            json={"ticket_id": ticket_id, "body": "Still failing"},
        )
        shown = admin.get(f"{sandbox.url}/_sandbox/tickets/{ticket_id}").json()
        sandbox.flush_webhooks()

    assert created.status_code == 201
    assert reply.json()["ticket"]["status"] == "open"
    assert pending.json()["ticket"]["status"] == "pending"
    assert again.json()["ticket"]["status"] == "open"
    assert [c["body"] for c in shown["comments"]] == [
        "CSV export fails",
        "Checking",
        "Still failing",
    ]
    assert len(shown["audits"]) == 4
    actors = [json.loads(body)["current_user_id"] for _, body in receiver.received]
    assert actors[0] == actors[3] == str(seed.USER_GOLD)
    assert actors[1] != str(seed.USER_GOLD)


def test_admin_fault_then_calls_counter(sandbox: Sandbox) -> None:
    admin = tls_session(sandbox)
    ticket_id = sandbox.create_ticket("evan@globex.example", "x", "y")
    fault = {"route": "GET ticket", "status": 503, "count": 1, "body": "json"}

    added = admin.post(f"{sandbox.url}/_sandbox/faults", json=fault)
    api = tls_session(sandbox)
    api.auth = (f"{sandbox.config.api_user_email}/token", sandbox.config.api_token)
    url = f"{sandbox.url}/api/v2/tickets/{ticket_id}.json"
    statuses = [api.get(url).status_code for _ in range(2)]
    calls = admin.get(f"{sandbox.url}/_sandbox/calls").json()

    assert added.status_code == 201
    assert statuses == [503, 200]
    assert calls["GET ticket"] == 2


def test_admin_refuses_an_unknown_fault_route(sandbox: Sandbox) -> None:
    response = tls_session(sandbox).post(
        f"{sandbox.url}/_sandbox/faults", json={"route": "GET nothing", "status": 500}
    )

    assert response.status_code == 400


def test_admin_expires_tokens(sandbox: Sandbox) -> None:
    token = sandbox.issue_token()

    tls_session(sandbox).post(f"{sandbox.url}/_sandbox/tokens/expire")

    assert not sandbox.token_valid(token)


def test_admin_seed_replaces_the_world(sandbox: Sandbox) -> None:
    world = default_seed()
    world["zendesk"]["organizations"][0]["tags"] = ["changed_tag"]

    loaded = tls_session(sandbox).post(f"{sandbox.url}/_sandbox/seed", json=world)
    organization = zenpy_client(sandbox).organizations(id=seed.ORG_NUSANTARA)
    state = tls_session(sandbox).get(f"{sandbox.url}/_sandbox/state").json()

    assert loaded.status_code == 200
    assert organization.tags == ["changed_tag"]
    assert state["api_user_id"] == seed.API_USER_ID


def test_default_seed_covers_every_tier_and_the_awkward_cases() -> None:
    world = default_seed()
    accounts = world["salesforce"]["accounts"]
    contacts = world["salesforce"]["contacts"]
    emails = {u["email"] for u in world["zendesk"]["users"]}
    contact_emails = {c["Email"] for c in contacts}
    websites = [a["Website"] for a in accounts]

    assert {a["Tier__c"] for a in accounts} >= {"Platinum", "Gold", "Silver", None}
    assert "hadi.example@gmail.com" in emails & contact_emails
    assert "indah.example@yahoo.co.id" in emails - contact_emails
    assert websites.count("www.twin-holdings.example") == 2
    assert "http://www.uos.example" in websites
    assert "carol@uog.example" in contact_emails
    group_ids = {g["id"] for g in world["zendesk"]["groups"]}
    assert group_ids == {
        seed.GROUP_PLATINUM,
        seed.GROUP_GOLD,
        seed.GROUP_SILVER,
        seed.GROUP_MANAGEMENT,
        seed.GROUP_GENERAL,
        seed.GROUP_ESCALATIONS,
    }


def test_admin_rates_a_solved_ticket(sandbox: Sandbox) -> None:
    admin = tls_session(sandbox)
    ticket_id = sandbox.create_ticket("evan@globex.example", "Export", "Broken")
    url = f"{sandbox.url}/_sandbox/satisfaction_ratings"

    too_early = admin.post(url, json={"ticket_id": ticket_id, "score": "good"})
    sandbox.set_status(ticket_id, "solved")
    rated = admin.post(url, json={"ticket_id": ticket_id, "score": "good"})
    unknown = admin.post(url, json={"ticket_id": ticket_id, "score": "meh"})
    state = admin.get(f"{sandbox.url}/_sandbox/state").json()

    assert too_early.status_code == 422
    assert rated.status_code == 201
    assert rated.json()["satisfaction_rating"]["ticket_id"] == ticket_id
    assert unknown.status_code == 400
    assert [r["score"] for r in state["satisfaction_ratings"]] == ["good"]


def test_loading_a_seed_forgets_ratings(sandbox: Sandbox) -> None:
    ticket_id = sandbox.create_ticket("evan@globex.example", "Export", "Broken")
    sandbox.rate_ticket(ticket_id, "offered")

    sandbox.load_seed(default_seed())

    assert sandbox.state.satisfaction_ratings == {}
