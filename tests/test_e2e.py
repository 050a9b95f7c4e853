"""End to end: the real connectors against the sandbox over HTTPS on 127.0.0.1."""

from __future__ import annotations

import logging
import time

import pytest

from sidecar.demo import LocalStack

pytestmark = pytest.mark.e2e

PLATINUM = ("dewi@nusantara-logistik.example", "Dewi Example")
PLAIN = ("gina@smallshop.example", "Gina Example")
OUTAGE = "Production down: all users cannot log in, total outage since 09:00"


@pytest.fixture
def stack(tmp_path):
    with LocalStack(tmp_path / "stack") as running:
        running.start_sidecar()
        yield running


def _open(stack, who, subject=OUTAGE, body="Nothing works for any of our users."):
    email, name = who
    ticket_id = stack.sandbox.create_ticket(email, subject, body, requester_name=name)
    stack.drain()
    return ticket_id


def _notes(stack, ticket_id, marker):
    comments = stack.sandbox.ticket(ticket_id)["comments"]
    return [c for c in comments if not c["public"] and marker in c["body"]]


def test_vip_ticket_gets_priority_group_tags_and_one_note(stack):
    ticket_id = _open(stack, PLATINUM)

    ticket = stack.sandbox.ticket(ticket_id)["ticket"]
    assert ticket["priority"] == "urgent"
    assert ticket["group_id"] == 360000000101
    assert {"vip", "vip_tier_platinum", "sev_p1", "vip_enriched"} <= set(ticket["tags"])
    assert len(_notes(stack, ticket_id, "[vip-sidecar decision]")) == 1
    assert stack.sandbox.calls().get("PUT ticket") == 1


def test_non_vip_ticket_gets_no_write(stack):
    _open(stack, PLAIN)

    assert stack.sandbox.calls().get("PUT ticket", 0) == 0


def test_own_update_does_not_start_a_loop(stack):
    ticket_id = _open(stack, PLATINUM)

    # The sidecar's write fired a webhook of its own; it was stored and skipped.
    assert stack.runtime.store.inbox_counts().get("done", 0) >= 2
    assert stack.sandbox.calls().get("PUT ticket") == 1
    assert len(_notes(stack, ticket_id, "[vip-sidecar decision]")) == 1


def test_duplicate_delivery_changes_nothing(tmp_path):
    with LocalStack(tmp_path / "dup", duplicate_delivery_rate=1.0) as stack:
        stack.start_sidecar()
        ticket_id = _open(stack, PLATINUM)

        attempts = stack.sandbox.webhook_attempts()
        assert len(attempts) >= 2
        assert stack.sandbox.calls().get("PUT ticket") == 1
        assert len(_notes(stack, ticket_id, "[vip-sidecar decision]")) == 1


def test_a_later_customer_update_writes_nothing_new(stack):
    ticket_id = _open(stack, PLATINUM)

    stack.sandbox.customer_reply(ticket_id, "Thank you, we will wait for your update.")
    stack.drain()

    assert stack.sandbox.calls().get("PUT ticket") == 1
    assert len(_notes(stack, ticket_id, "[vip-sidecar decision]")) == 1


def test_a_follow_up_reporting_an_outage_raises_the_ticket_once(stack):
    ticket_id = _open(stack, PLATINUM, "Export question", "How do I export a report?")
    assert "sev_p1" not in stack.sandbox.ticket(ticket_id)["ticket"]["tags"]

    stack.sandbox.customer_reply(ticket_id, "Now the whole site is down for everyone.")
    stack.drain()
    stack.sandbox.customer_reply(ticket_id, "Thanks, how do I export to PDF?")
    stack.drain()

    ticket = stack.sandbox.ticket(ticket_id)["ticket"]
    notes = _notes(stack, ticket_id, "[vip-sidecar decision]")
    assert "sev_p1" in ticket["tags"]
    assert len(notes) == 2
    assert "by a later customer message" in notes[-1]["body"]


def test_missed_first_response_alerts_once_per_threshold(stack):
    ticket_id = _open(stack, PLATINUM)

    for minutes in (4, 4, 4, 4, 4):  # 20 minutes on a 15-minute P1 target
        stack.advance(minutes)
        for _ in range(3):
            stack.runtime.sweep()
        stack.drain()

    alerts = _notes(stack, ticket_id, "[vip-sidecar alert ")
    first_response = [n for n in alerts if ":first_response:" in n["body"]]
    keys = sorted(
        n["body"].split("[vip-sidecar alert ")[1].split("]")[0] for n in first_response
    )
    assert [key.rsplit(":", 1)[1] for key in keys] == ["breach", "warn50", "warn80"]
    tags = stack.sandbox.ticket(ticket_id)["ticket"]["tags"]
    assert {"sla_warning", "sla_breached"} <= set(tags)


def test_answered_ticket_gets_no_first_response_alert(stack):
    ticket_id = _open(stack, PLATINUM)
    stack.advance(3)
    stack.sandbox.agent_reply(ticket_id, "We are on it.")
    stack.drain()

    stack.advance(30)
    stack.runtime.sweep()
    stack.drain()

    alerts = _notes(stack, ticket_id, "[vip-sidecar alert ")
    assert not [n for n in alerts if ":first_response:" in n["body"]]


def test_restart_mid_replay_loses_no_acknowledged_event(tmp_path):
    with LocalStack(tmp_path / "restart") as stack:
        stack.start_sidecar(worker=False)  # accepts webhooks, handles none
        ids = [
            stack.sandbox.create_ticket(
                *PLATINUM[:1], f"{OUTAGE} #{n}", "down", requester_name=PLATINUM[1]
            )
            for n in range(5)
        ]
        stack.sandbox.flush_webhooks()
        assert stack.runtime.store.inbox_counts().get("queued") == 5
        stack.runtime.stop()

        stack.start_sidecar()  # a new process on the same store
        stack.drain()

        for ticket_id in ids:
            assert "vip" in stack.sandbox.ticket(ticket_id)["ticket"]["tags"]


def test_salesforce_outage_falls_back_to_yaml_and_org_tags(stack):
    stack.sandbox.inject_fault("POST oauth token", status=503, count=50)
    stack.sandbox.inject_fault("GET query", status=503, count=50)

    ticket_id = _open(stack, PLATINUM)

    ticket = stack.sandbox.ticket(ticket_id)["ticket"]
    assert "vip_tier_platinum" in ticket["tags"]
    note = _notes(stack, ticket_id, "[vip-sidecar decision]")[0]["body"]
    assert "CRM: unreachable" in note


def test_no_secret_or_customer_text_in_any_log_line(stack, caplog):
    secret_sentence = "Kami kecewa sekali, server produksi mati total sejak pagi"
    # Retried queries make the HTTP client want to log the SOQL URL (with the
    # requester's email) at WARNING.
    stack.sandbox.inject_fault("GET query", status=503, count=2)
    with caplog.at_level(logging.DEBUG):
        ticket_id = _open(
            stack, PLATINUM, subject="Server mati total", body=secret_sentence
        )
        stack.advance(20)
        stack.runtime.sweep()
        stack.drain()

    text = "\n".join(record.getMessage() for record in caplog.records)
    assert str(ticket_id) in text
    for forbidden in (
        secret_sentence,
        "mati total",
        stack.settings.secrets.webhook_secret,
        stack.settings.secrets.zendesk_token,
        stack.settings.secrets.sf_consumer_secret,
        PLATINUM[0],
    ):
        assert forbidden not in text


def test_update_conflict_is_re_read_and_retried(stack):
    stack.sandbox.inject_fault("PUT ticket", status=409, count=1)

    ticket_id = _open(stack, PLATINUM)

    assert stack.sandbox.calls().get("PUT ticket") == 2
    assert "vip" in stack.sandbox.ticket(ticket_id)["ticket"]["tags"]
    assert len(_notes(stack, ticket_id, "[vip-sidecar decision]")) == 1


def test_rate_limited_write_waits_for_retry_after(stack):
    stack.sandbox.inject_fault("PUT ticket", status=429, retry_after=1, count=1)

    ticket_id = _open(stack, PLATINUM)

    assert len(_notes(stack, ticket_id, "[vip-sidecar decision]")) == 1


def test_zendesk_outage_is_retried_later_without_losing_the_event(tmp_path):
    with LocalStack(tmp_path / "outage") as stack:
        stack.start_sidecar(worker=False)
        stack.sandbox.inject_fault("GET ticket", status=503, count=3)
        email, name = PLATINUM
        ticket_id = stack.sandbox.create_ticket(
            email, OUTAGE, "down", requester_name=name
        )
        stack.sandbox.flush_webhooks()
        stack.runtime.worker.run_once()  # the GET fails even after its retries

        assert stack.runtime.store.inbox_counts().get("retry") == 1
        stack.advance(10)  # past the backoff
        stack.runtime.worker.start()
        stack.drain()

        assert "vip" in stack.sandbox.ticket(ticket_id)["ticket"]["tags"]


def test_event_subscribed_webhooks_work_end_to_end(tmp_path):
    with LocalStack(tmp_path / "events", mode="events") as stack:
        stack.start_sidecar()
        ticket_id = _open(stack, PLATINUM)

        ticket = stack.sandbox.ticket(ticket_id)["ticket"]
        assert ticket["priority"] == "urgent"
        assert len(_notes(stack, ticket_id, "[vip-sidecar decision]")) == 1


def test_closed_ticket_is_left_alone(tmp_path):
    with LocalStack(tmp_path / "closed") as stack:
        stack.start_sidecar(worker=False)
        email, name = PLATINUM
        ticket_id = stack.sandbox.create_ticket(
            email, OUTAGE, "down", requester_name=name
        )
        stack.sandbox.set_status(ticket_id, "closed")
        stack.sandbox.flush_webhooks()

        stack.runtime.worker.start()
        stack.drain()

        assert stack.sandbox.calls().get("PUT ticket", 0) == 0
        assert stack.runtime.store.inbox_counts().get("failed", 0) == 0


def test_only_one_process_sweeps_at_a_time(stack):
    from sidecar.runtime import Runtime

    other = Runtime(stack.settings, clock=stack.clock)  # a second worker process
    try:
        first = stack.runtime.sweep()
        second = other.sweep()
    finally:
        other.stop()

    assert "skipped" not in first
    assert second == {"skipped": "another process holds the sweep lease"}


def test_write_whose_answer_was_lost_posts_no_second_note(tmp_path):
    # The PUT lands but its answer comes after the client gave up.
    config = {"zendesk": {"timeout_seconds": 1}}
    with LocalStack(tmp_path / "lost", config=config) as stack:
        stack.start_sidecar(worker=False)
        stack.sandbox.inject_fault("PUT ticket", delay=2, count=1)
        email, name = PLATINUM
        ticket_id = stack.sandbox.create_ticket(
            email, OUTAGE, "down", requester_name=name
        )
        stack.sandbox.flush_webhooks()
        stack.runtime.worker.run_once()
        assert stack.runtime.store.inbox_counts().get("retry") == 1
        _wait_for(lambda: _notes(stack, ticket_id, "[vip-sidecar decision]"))

        stack.advance(10)
        stack.runtime.worker.start()
        stack.drain()

        assert stack.runtime.store.inbox_counts().get("retry", 0) == 0
        assert len(_notes(stack, ticket_id, "[vip-sidecar decision]")) == 1


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_crm_only_vip_is_decided_once_the_crm_answers(tmp_path):
    silver = ("fitri@sinar-jaya.example", "Fitri Example")  # VIP by CRM alone
    with LocalStack(tmp_path / "crm") as stack:
        stack.start_sidecar(worker=False)
        stack.sandbox.inject_fault("GET query", status=503, count=6)
        ticket_id = stack.sandbox.create_ticket(
            silver[0], OUTAGE, "down", requester_name=silver[1]
        )
        stack.sandbox.flush_webhooks()
        stack.runtime.worker.run_once()

        assert stack.runtime.store.inbox_counts().get("retry") == 1
        assert stack.sandbox.calls().get("PUT ticket", 0) == 0

        stack.sandbox.clear_faults()
        stack.advance(5)
        stack.runtime.worker.start()
        stack.drain()

        assert "vip_tier_silver" in stack.sandbox.ticket(ticket_id)["ticket"]["tags"]


def test_a_changed_config_reaches_every_process(stack):
    import os

    import yaml

    from rules.sla import targets_for
    from sidecar.runtime import Runtime

    other = Runtime(stack.settings, clock=stack.clock)  # not the sweep leader
    try:
        stack.runtime.sweep()  # takes the lease
        path = stack.settings.config_path
        with open(path) as handle:
            raw = yaml.safe_load(handle)
        raw["severity"]["P1"]["first_response_minutes"] = 2
        with open(path, "w") as handle:
            yaml.safe_dump(raw, handle)
        os.utime(path, (time.time() + 5, time.time() + 5))

        assert other.sweep() == {"skipped": "another process holds the sweep lease"}
        targets = targets_for(other.sla, tier="platinum", severity="P1")
    finally:
        other.stop()

    assert targets.first_response == 120
