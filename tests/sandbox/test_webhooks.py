"""Webhooks from the sandbox: signed, retried and shaped as Zendesk sends them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from zenpy.lib.api_objects import Ticket

from sidecar.sandbox import Sandbox, SandboxConfig, seed
from sidecar.sandbox.webhooks import sign
from tests.sandbox.conftest import Receiver, zenpy_client

pytestmark = pytest.mark.e2e

PLATINUM_EMAIL = "dewi@nusantara-logistik.example"


def make_sandbox(receiver: Receiver, **options: object) -> Sandbox:
    config = SandboxConfig(
        webhook_url=receiver.url, webhook_retry_backoff=0.05, **options
    )
    return Sandbox(config)


@pytest.fixture
def trigger_sandbox(receiver: Receiver) -> Iterator[Sandbox]:
    with make_sandbox(receiver) as running:
        yield running


def is_signed(secret: str, headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers["X-Zendesk-Webhook-Signature-Timestamp"]
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256)
    expected = base64.b64encode(digest.digest()).decode()
    return hmac.compare_digest(expected, headers["X-Zendesk-Webhook-Signature"])


def test_signature_matches_the_published_vector() -> None:
    secret = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
    body = b'{"event":"ticket.updated","id":123}'

    signature = sign(secret, "2021-03-25T05:09:27Z", body)

    assert signature == "S/RDdU2ERmj7LHDDoWJ2onPYH+t7/f2+LTM4dL7UiLM="


def test_ticket_creation_sends_a_signed_trigger_webhook(
    trigger_sandbox: Sandbox, receiver: Receiver
) -> None:
    ticket_id = trigger_sandbox.create_ticket(
        PLATINUM_EMAIL, "Down", "Down", tags=["a", "b"]
    )
    trigger_sandbox.flush_webhooks()

    headers, body = receiver.received[0]
    assert is_signed(trigger_sandbox.config.signing_secret, headers, body)
    assert headers["User-Agent"] == "Zendesk Webhook"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["X-Zendesk-Account-Id"] == str(seed.ACCOUNT_ID)
    sent_at = datetime.strptime(
        headers["X-Zendesk-Webhook-Signature-Timestamp"], "%Y-%m-%dT%H:%M:%SZ"
    ).replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - sent_at) < timedelta(seconds=30)
    payload = json.loads(body)
    assert payload["ticket_id"] == str(ticket_id)
    assert payload["status"] == "New"
    assert payload["priority"] == ""
    assert payload["tags"] == "a b"
    assert payload["requester_email"] == PLATINUM_EMAIL
    assert payload["organization_external_id"] == "SF-PLATINUM"
    assert payload["current_user_id"] == str(seed.USER_PLATINUM)


def test_the_api_users_own_update_fires_a_webhook_naming_it(
    trigger_sandbox: Sandbox, receiver: Receiver
) -> None:
    ticket_id = trigger_sandbox.create_ticket(PLATINUM_EMAIL, "Down", "Down")
    zenpy_client(trigger_sandbox).tickets.update(
        Ticket(id=ticket_id, priority="urgent")
    )
    trigger_sandbox.flush_webhooks()

    payloads = [json.loads(body) for _, body in receiver.received]
    assert [p["priority"] for p in payloads] == ["", "Urgent"]
    assert payloads[1]["current_user_id"] == str(trigger_sandbox.api_user_id)
    assert payloads[1]["ticket_updated_at"] > payloads[0]["ticket_updated_at"]


def test_503_with_short_retry_after_is_retried_with_the_same_invocation(
    trigger_sandbox: Sandbox, receiver: Receiver
) -> None:
    receiver.answer(503, {"Retry-After": "1"})
    trigger_sandbox.create_ticket(PLATINUM_EMAIL, "Down", "Down")
    trigger_sandbox.flush_webhooks()

    assert len(receiver.received) == 2
    ids = {h["X-Zendesk-Webhook-Invocation-Id"] for h, _ in receiver.received}
    assert len(ids) == 1
    attempts = trigger_sandbox.webhook_attempts()
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, 503), (2, 200)]
    assert {a["invocation_id"] for a in attempts} == ids


@pytest.mark.parametrize(
    ("status", "headers"),
    [(503, {"Retry-After": "120"}), (429, {}), (400, {}), (500, {})],
    ids=["retry-after-too-long", "429-without-retry-after", "400", "500"],
)
def test_final_answers_are_not_retried(
    trigger_sandbox: Sandbox, receiver: Receiver, status: int, headers: dict[str, str]
) -> None:
    receiver.answer(status, headers)
    trigger_sandbox.create_ticket(PLATINUM_EMAIL, "Down", "Down")
    trigger_sandbox.flush_webhooks()

    assert len(receiver.received) == 1
    assert [a["status"] for a in trigger_sandbox.webhook_attempts()] == [status]


def test_409_is_retried_at_most_three_times(
    trigger_sandbox: Sandbox, receiver: Receiver
) -> None:
    for _ in range(5):
        receiver.answer(409)

    trigger_sandbox.create_ticket(PLATINUM_EMAIL, "Down", "Down")
    trigger_sandbox.flush_webhooks()

    assert len(receiver.received) == 4


def test_a_timed_out_delivery_is_retried(receiver: Receiver) -> None:
    receiver.answer(200, delay=0.6)
    with make_sandbox(receiver, webhook_timeout=0.3) as sandbox:
        sandbox.create_ticket(PLATINUM_EMAIL, "Down", "Down")
        sandbox.flush_webhooks()
        attempts = sandbox.webhook_attempts()

    assert [a["error"] for a in attempts] == ["ReadTimeout", None]
    assert attempts[1]["status"] == 200
    assert attempts[0]["invocation_id"] == attempts[1]["invocation_id"]


def test_duplicate_delivery_resends_the_same_body(receiver: Receiver) -> None:
    with make_sandbox(receiver, duplicate_delivery_rate=1.0) as sandbox:
        sandbox.create_ticket(PLATINUM_EMAIL, "Down", "Down")
        sandbox.flush_webhooks()
        attempts = sandbox.webhook_attempts()

    assert len(receiver.received) == 2
    assert receiver.received[0][1] == receiver.received[1][1]
    assert attempts[1]["duplicate_of"] == attempts[0]["invocation_id"]


def test_events_mode_payloads_use_string_ids_and_uppercase(receiver: Receiver) -> None:
    with make_sandbox(receiver, webhook_mode="events") as sandbox:
        ticket_id = sandbox.create_ticket(
            PLATINUM_EMAIL, "Down", "Down", type="incident"
        )
        update = Ticket(
            id=ticket_id,
            priority="urgent",
            status="open",
            group_id=seed.GROUP_PLATINUM,
            tags=["vip_enriched"],
        )
        zenpy_client(sandbox).tickets.update(update)
        sandbox.customer_reply(ticket_id, "Any news?")
        sandbox.flush_webhooks()

    bodies = [body for _, body in receiver.received]
    payloads = [json.loads(body) for body in bodies]
    assert [p["type"].rsplit(".", 1)[1] for p in payloads] == [
        "created",
        "status_changed",
        "priority_changed",
        "group_assignment_changed",
        "tags_changed",
        "comment_added",
    ]
    created = payloads[0]
    assert bodies[0].startswith(b'{\n   "account_id": ')
    assert created["subject"] == f"zen:ticket:{ticket_id}"
    assert created["zendesk_event_version"] == "2022-11-06"
    assert created["detail"]["id"] == str(ticket_id)
    assert created["detail"]["requester_id"] == str(seed.USER_PLATINUM)
    assert created["detail"]["status"] == "NEW"
    assert created["detail"]["type"] == "INCIDENT"
    assert created["detail"]["priority"] is None
    assert payloads[1]["event"] == {"current": "OPEN", "previous": "NEW"}
    assert payloads[2]["event"] == {"current": "URGENT", "previous": None}
    assert payloads[3]["event"]["current"] == {"id": str(seed.GROUP_PLATINUM)}
    assert payloads[4]["event"]["tags"] == {"added": ["vip_enriched"], "removed": None}
    assert payloads[1]["detail"]["actor_id"] == str(sandbox.api_user_id)
    comment = payloads[5]["event"]["comment"]
    assert comment["author"]["id"] == str(seed.USER_PLATINUM)
    assert comment["author"]["is_staff"] is False
    assert len({p["id"] for p in payloads}) == len(payloads)


def test_no_customer_text_or_secret_reaches_the_log(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.answer(409)
    receiver.answer(409)
    receiver.answer(409)
    receiver.answer(409)
    secret = "planted-secret-value"
    sentence = "our whole warehouse system is down since 9am"
    with make_sandbox(receiver, signing_secret=secret) as sandbox:
        sandbox.create_ticket(PLATINUM_EMAIL, "Down", sentence)
        sandbox.flush_webhooks()

    assert "given up" in caplog.text
    assert secret not in caplog.text
    assert sentence not in caplog.text
    assert PLATINUM_EMAIL not in caplog.text
