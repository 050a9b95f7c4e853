"""POST /webhooks/zendesk: authenticate, parse, store, respond."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from sidecar.errors import ConfigError
from sidecar.store import Store
from tests.webhooks.helpers import NOW, SECRET, fixture_bytes, signed_headers, stamp
from webhooks.app import create_app
from webhooks.signature import sign

SHARED_EXAMPLES = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "zendesk"
    / "event_subscribed_webhook_examples.json"
)


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"])
    return body["error"]


# -- signature ---------------------------------------------------------------


def test_published_signature_vector():
    body = b'{"event":"ticket.updated","id":123}'

    signature = sign(
        "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==", "2021-03-25T05:09:27Z", body
    )

    assert signature == "S/RDdU2ERmj7LHDDoWJ2onPYH+t7/f2+LTM4dL7UiLM="


def test_signed_event_is_accepted_and_stored_before_the_answer(post, store):
    response = post(fixture_bytes("ticket_created__event_subscribed"))

    assert response.status_code == 202
    assert response.get_json() == {"status": "accepted"}
    [event] = store.list_events("queued")
    assert (event.ticket_id, event.kind) == (70412, "ticket.created")


def test_wrong_secret_is_refused(post, store):
    response = post(fixture_bytes("trigger__vip_ticket"), secret="another-secret")

    assert response.status_code == 401
    assert error_of(response)["code"] == "bad_signature"
    assert store.inbox_counts() == {}


@pytest.mark.parametrize(
    "missing",
    ["X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp"],
    ids=["signature", "timestamp"],
)
def test_missing_signature_header_is_refused(client, store, missing):
    body = fixture_bytes("trigger__vip_ticket")
    headers = signed_headers(body)
    del headers[missing]

    response = client.post("/webhooks/zendesk", data=body, headers=headers)

    assert response.status_code == 401
    assert store.inbox_counts() == {}


@pytest.mark.parametrize(
    ("offset", "status"),
    [(-301, 401), (-299, 202), (299, 202), (301, 401)],
    ids=["stale", "just-in-window", "slightly-ahead", "too-far-ahead"],
)
def test_timestamp_must_be_within_tolerance(post, offset, status):
    ts = stamp(NOW + timedelta(seconds=offset))

    response = post(fixture_bytes("trigger__vip_ticket"), ts=ts)

    assert response.status_code == status


@pytest.mark.parametrize(
    "ts", ["yesterday", "1616649000", "2025-03-04T09:15:05"], ids=str
)
def test_unparseable_or_zoneless_timestamp_is_refused(post, ts):
    response = post(fixture_bytes("trigger__vip_ticket"), ts=ts)

    assert response.status_code == 401


def test_signature_covers_the_raw_bytes_not_reserialised_json(client, store):
    raw = fixture_bytes("ticket_created__event_subscribed")
    compact = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    headers = signed_headers(compact)

    response = client.post("/webhooks/zendesk", data=raw, headers=headers)

    assert response.status_code == 401
    assert store.inbox_counts() == {}


def test_unsigned_mode_accepts_without_headers(store, clock):
    app = create_app(store=store, signing_secret=None, allow_unsigned=True, clock=clock)
    body = fixture_bytes("trigger__vip_ticket")

    response = app.test_client().post("/webhooks/zendesk", data=body)

    assert response.status_code == 202


def test_no_secret_without_unsigned_mode_refuses_to_start(store):
    with pytest.raises(ConfigError, match="signing_secret"):
        create_app(store=store, signing_secret=None)


# -- body limits and parsing -------------------------------------------------


def test_body_over_the_limit_is_refused_by_content_length(store, clock):
    app = create_app(
        store=store, signing_secret=SECRET, max_body_bytes=100, clock=clock
    )
    body = fixture_bytes("ticket_created__event_subscribed")

    response = app.test_client().post(
        "/webhooks/zendesk", data=body, headers=signed_headers(body)
    )

    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert store.inbox_counts() == {}


def test_chunked_body_over_the_limit_is_refused_while_reading(store, clock):
    app = create_app(
        store=store, signing_secret=SECRET, max_body_bytes=100, clock=clock
    )
    body = fixture_bytes("ticket_created__event_subscribed")

    response = app.test_client().post(
        "/webhooks/zendesk",
        input_stream=io.BytesIO(body),
        headers={**signed_headers(body), "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert store.inbox_counts() == {}


def test_chunked_body_within_the_limit_is_read_whole(client, store):
    body = fixture_bytes("ticket_created__event_subscribed")

    response = client.post(
        "/webhooks/zendesk",
        input_stream=io.BytesIO(body),
        headers={**signed_headers(body), "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert response.status_code == 202
    assert store.inbox_counts() == {"queued": 1}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"ticket_id=5", "body"),
        (b"\xff\xfe{", "body"),
        (b'["ticket_id", 5]', "body"),
        (b'{"status": "Open"}', "ticket_id"),
        (b'{"ticket_id": "abc"}', "ticket_id"),
        (b'{"ticket_id": "5", "requester_id": "x1"}', "requester_id"),
        (b'{"type": "zen:event-type:ticket.created", "detail": "x"}', "detail"),
    ],
    ids=[
        "form-encoded",
        "not-utf8",
        "array",
        "no-ticket-id",
        "bad-ticket-id",
        "bad-requester-id",
        "detail-not-object",
    ],
)
def test_bad_bodies_get_400_naming_the_problem(post, store, body, field):
    response = post(body)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "bad_request"
    assert error["field"] == field
    assert store.inbox_counts() == {}


def _trigger(**fields) -> bytes:
    body = {"ticket_id": "5", "ticket_updated_at": "2025-03-04T09:20:00Z"}
    return json.dumps({**body, **fields}).encode()


def _event(detail: dict, **fields) -> bytes:
    body = {"type": "zen:event-type:ticket.created", "id": "e-1", "detail": detail}
    return json.dumps({**body, **fields}).encode()


DEEP = b'{"ticket_id": "5", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_trigger(ticket_id=2**63), "ticket_id"),
        (_trigger(ticket_id=str(2**63)), "ticket_id"),
        (_trigger(ticket_id="1" * 30), "ticket_id"),
        (_trigger(ticket_id="\u00b2"), "ticket_id"),
        (_trigger(ticket_id="1" * 10_000), "ticket_id"),
        (b'{"ticket_id": ' + b"1" * 10_000 + b"}", "ticket_id"),
        (DEEP, "body"),
        (_trigger(ticket_id="\u0664\u0662"), "ticket_id"),
        (_trigger(ticket_id="\uff14\uff12"), "ticket_id"),
        (
            _trigger(ticket_updated_at="2025-03-04T09:20:00Z" * 45_000),
            "ticket_updated_at",
        ),
        (_trigger(ticket_updated_at="next tuesday"), "ticket_updated_at"),
        (_trigger(requester_id=2**64), "requester_id"),
        (_trigger(status="x" * 129), "status"),
        (_event({"id": "5"}, id="e" * 65), "id"),
        (_event({"id": "5"}, time="\ud800"), "time"),
        (
            _event({"id": "5", "updated_at": "2025-03-04T09:20:00Z\u0000"}),
            "detail.updated_at",
        ),
        (_event({"id": str(2**63)}), "detail.id"),
        (_event({}, subject="zen:ticket:" + "9" * 30), "subject"),
        (
            _event(
                {"id": "5"},
                type="zen:event-type:ticket.group_assignment_changed",
                event={"previous": 1, "current": 2**64},
            ),
            "event.current",
        ),
    ],
    ids=[
        "ticket-id-2**63",
        "ticket-id-text-2**63",
        "ticket-id-30-digits",
        "ticket-id-superscript-two",
        "ticket-id-10000-digit-text",
        "ticket-id-10000-digit-number",
        "nested-100000-deep",
        "ticket-id-arabic-indic-digits",
        "ticket-id-fullwidth-digits",
        "updated-at-900kb",
        "updated-at-not-iso",
        "requester-id-2**64",
        "status-too-long",
        "event-id-too-long",
        "event-time-lone-surrogate",
        "detail-updated-at-nul",
        "detail-id-2**63",
        "subject-id-30-digits",
        "changed-group-2**64",
    ],
)
def test_odd_signed_bodies_get_400_naming_the_field(post, store, body, field):
    response = post(body)

    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("bad_request", field)
    assert store.inbox_counts() == {}


def test_largest_id_is_stored(post, store):
    response = post(_trigger(ticket_id=str(2**63 - 1), requester_id=2**63 - 1))

    assert response.status_code == 202
    [event] = store.list_events("queued")
    assert event.ticket_id == 2**63 - 1
    assert event.payload["requester_id"] == 2**63 - 1


def test_event_without_ticket_id_names_the_field(post):
    response = post(fixture_bytes("ticket_created__missing_ticket_id"))

    assert response.status_code == 400
    assert "detail.id" in error_of(response)["message"]


def test_unrendered_trigger_placeholder_is_a_bad_ticket_id(post):
    response = post(fixture_bytes("trigger__unrendered_placeholder"))

    assert response.status_code == 400
    assert error_of(response)["field"] == "ticket_id"


@pytest.mark.parametrize(
    "name",
    [
        "user_active_changed__event_subscribed",
        "ticket_attachment_linked_to_comment__event_subscribed",
    ],
    ids=["user-event", "unhandled-ticket-event"],
)
def test_events_the_sidecar_does_not_handle_are_ignored(post, store, name):
    response = post(fixture_bytes(name))

    assert response.status_code == 200
    assert response.get_json() == {"status": "ignored"}
    assert store.inbox_counts() == {}


# -- what is stored ----------------------------------------------------------


def test_event_subscribed_body_is_stored_as_ids_and_enums(post, store):
    post(fixture_bytes("ticket_created__event_subscribed"))

    [event] = store.list_events("queued")
    assert event.actor_id == 9100000000001
    assert event.payload == {
        "source": "event",
        "ticket_id": 70412,
        "event_id": "5b0f6c1e-2d7a-4c39-9a51-0c7d2e1f4a10",
        "event_time": "2025-03-04T09:15:02.418330125Z",
        "updated_at": "2025-03-04T09:15:02Z",
        "actor_id": 9100000000001,
        "requester_id": 9100000000001,
        "organization_id": 9100000000500,
        "status": "new",
        "priority": "urgent",
    }


def test_status_change_keeps_previous_and_current(post, store):
    post(fixture_bytes("ticket_status_changed__event_subscribed"))

    [event] = store.list_events("queued")
    assert event.kind == "ticket.status_changed"
    assert (event.payload["previous"], event.payload["current"]) == ("open", "pending")


def test_trigger_body_is_stored_without_email_or_tags(post, store):
    response = post(fixture_bytes("trigger__vip_ticket"))

    assert response.status_code == 202
    [event] = store.list_events("queued")
    assert (event.ticket_id, event.kind, event.actor_id) == (
        70413,
        "trigger",
        9100000000002,
    )
    assert event.payload["status"] == "open"
    assert event.payload["priority"] == "urgent"
    assert event.payload["organization_id"] == 9100000000500
    assert "cto@bigcorp.example" not in json.dumps(event.payload)
    assert "tags" not in event.payload


def test_trigger_with_empty_placeholders_stores_none(post, store):
    post(fixture_bytes("trigger__no_priority_no_organization"))

    [event] = store.list_events("queued")
    assert event.payload["priority"] is None
    assert event.payload["organization_id"] is None


def test_redelivered_invocation_is_stored_once(post, store):
    body = fixture_bytes("trigger__vip_ticket")

    first = post(body, invocation="01HANA2B5D5W9XSJS3NE5SQA1J")
    second = post(body, invocation="01HANA2B5D5W9XSJS3NE5SQA1J")

    assert (first.status_code, second.status_code) == (202, 200)
    assert second.get_json() == {"status": "duplicate"}
    assert store.inbox_counts() == {"queued": 1}


def test_same_event_id_from_two_invocations_is_stored_once(post, store):
    body = fixture_bytes("ticket_created__event_subscribed")

    post(body, invocation="inv-1")
    second = post(body, invocation="inv-2")

    assert second.get_json() == {"status": "duplicate"}
    assert store.inbox_counts() == {"queued": 1}


def test_unavailable_store_answers_503_with_retry_after(tmp_path, clock):
    # A folder where the database file should be: SQLite cannot open it.
    folder = tmp_path / "not-a-file.db"
    folder.mkdir()
    broken = Store(f"sqlite:///{folder}")
    app = create_app(store=broken, signing_secret=SECRET, clock=clock)
    body = fixture_bytes("trigger__vip_ticket")

    response = app.test_client().post(
        "/webhooks/zendesk", data=body, headers=signed_headers(body)
    )

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert error_of(response)["code"] == "store_unavailable"
    broken.dispose()


def test_shared_event_examples_with_string_ids(post, store):
    if not SHARED_EXAMPLES.is_file():
        pytest.skip("shared Zendesk examples are not next to this checkout")

    examples = json.loads(SHARED_EXAMPLES.read_text())
    bodies = {k.split(" ")[0]: v for k, v in examples.items() if k != "_note"}
    outcomes = {
        name: post(json.dumps(body, indent=3).encode()).get_json()["status"]
        for name, body in bodies.items()
    }

    assert outcomes["ticket.created"] == "accepted"
    assert outcomes["user.active_changed"] == "ignored"
    assert outcomes["ticket.attachment_linked_to_comment"] == "ignored"
    [event] = store.list_events("queued")
    assert event.ticket_id == 5158
    assert event.payload["status"] == "open"


# -- routing and errors ------------------------------------------------------


def test_get_on_the_webhook_is_405_json(client):
    response = client.get("/webhooks/zendesk")

    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_unknown_path_is_404_json(client):
    response = client.post("/webhooks/freshdesk", data=b"{}")

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
