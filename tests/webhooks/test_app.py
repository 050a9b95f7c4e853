"""Health, readiness, metrics, and what reaches the logs."""

from __future__ import annotations

import logging

import pytest

from sidecar.store import Store
from tests.webhooks.helpers import SECRET, fixture_bytes, signed_headers
from webhooks.app import create_app


def test_healthz(client):
    response = client.get("/healthz")

    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_readyz_when_store_and_scheduler_are_up(store, clock):
    app = create_app(
        store=store,
        signing_secret=SECRET,
        clock=clock,
        readiness=lambda: {"ready": True, "scheduler": "running"},
    )

    response = app.test_client().get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "scheduler": "running"}


@pytest.mark.parametrize(
    ("report", "reason"),
    [
        ({"ready": False, "reason": "scheduler stopped"}, "scheduler stopped"),
        ({}, "scheduler not running"),
    ],
    ids=["with-reason", "no-report"],
)
def test_readyz_is_503_while_the_scheduler_is_not_running(store, clock, report, reason):
    app = create_app(
        store=store, signing_secret=SECRET, clock=clock, readiness=lambda: report
    )

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["reason"] == reason


def test_readyz_is_503_when_the_store_does_not_answer(tmp_path, clock):
    # A folder where the database file should be: SQLite cannot open it.
    folder = tmp_path / "not-a-file.db"
    folder.mkdir()
    broken = Store(f"sqlite:///{folder}")
    app = create_app(
        store=broken,
        signing_secret=SECRET,
        clock=clock,
        readiness=lambda: {"ready": True},
    )

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["reason"] == "store not reachable"
    broken.dispose()


def test_metrics_count_outcomes(post, client):
    body = fixture_bytes("trigger__vip_ticket")
    post(body, invocation="a")
    post(body, invocation="a")
    post(body, secret="wrong")
    post(b"[]")

    text = client.get("/metrics").get_data(as_text=True)

    assert 'outcome="accepted"} 1' in text
    assert 'outcome="duplicate"} 1' in text
    assert 'outcome="rejected_mismatch"} 1' in text
    assert 'outcome="rejected_bad_request"} 1' in text


def test_one_info_line_per_accepted_event_with_ids_only(post, caplog):
    caplog.set_level(logging.DEBUG)

    post(fixture_bytes("ticket_created__event_subscribed"))

    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert lines == [
        "zendesk event accepted: ticket=70412 kind=ticket.created "
        "event=5b0f6c1e-2d7a-4c39-9a51-0c7d2e1f4a10"
    ]


def _planted_bodies(sentence: str, email: str) -> list[bytes]:
    event = fixture_bytes("ticket_created__event_subscribed").decode()
    event = event.replace(
        "Our whole production cluster is down since this morning.", sentence
    )
    event = event.replace('"Production outage"', f'"{sentence}"')
    trigger = (
        fixture_bytes("trigger__vip_ticket")
        .decode()
        .replace("cto@bigcorp.example", email)
    )
    return [event.encode(), trigger.encode(), sentence.encode()]


def test_no_secret_and_no_customer_text_reach_the_logs(store, clock, caplog):
    secret = "planted-Secret-value-93e1"
    sentence = "Please help, our payroll export lost every record"
    email = "jane.planted@customer.example"
    client = create_app(store=store, signing_secret=secret, clock=clock).test_client()
    caplog.set_level(logging.DEBUG)

    for body in _planted_bodies(sentence, email):
        for key in (secret, secret, "wrong"):
            headers = signed_headers(body, secret=key)
            client.post("/webhooks/zendesk", data=body, headers=headers)

    logged = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records
    )
    assert "accepted" in logged
    assert "duplicate" in logged
    assert "rejected" in logged
    for planted in (secret, sentence, email, "payroll"):
        assert planted not in logged
