"""The SLA sweep against the real store and an in-memory Zendesk stand-in."""

from __future__ import annotations

import http.server
import json
import logging
import threading
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from connector.errors import NotFound, UpdateConflict, UpstreamUnavailable
from rules.calendar import parse_calendars
from rules.model import (
    AccountFacts,
    Comment,
    Requester,
    StatusChange,
    TicketFacts,
)
from rules.sla import parse_sla_config
from sidecar.explain import explain_ticket
from sidecar.sweep import Sweeper

T0 = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
REQUESTER = 501
AGENT = 900
SIDECAR = 1
SECRET_TEXT = "my password is hunter2 and the CFO is furious"
MANAGEMENT = 7001
TEAM_LEADS = 7002


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


class FakeZendesk:
    """Tickets in memory; safe updates conflict on a stale stamp like Zendesk's."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.tickets: dict[int, TicketFacts] = {}
        self.fetches: list[int] = []
        self.updates: list[dict] = []
        self.lose_response_once = False
        self.fail_before_write_once = False
        self.broken: set[int] = set()

    def add(self, ticket: TicketFacts) -> TicketFacts:
        self.tickets[ticket.id] = ticket
        return ticket

    def fetch_ticket(
        self, ticket_id: int, *, with_history: bool = False, with_people: bool = True
    ):
        self.fetches.append(ticket_id)
        if ticket_id in self.broken:
            raise RuntimeError(SECRET_TEXT)

        if ticket_id not in self.tickets:
            raise NotFound(f"ticket {ticket_id}", system="zendesk")

        return self.tickets[ticket_id]

    def update_ticket(self, ticket_id: int, *, updated_stamp, note=None, **fields):
        current = self.tickets[ticket_id]
        if updated_stamp != current.updated_at:
            raise UpdateConflict(f"ticket {ticket_id}", system="zendesk")

        if self.fail_before_write_once:
            self.fail_before_write_once = False
            raise UpstreamUnavailable("timeout", system="zendesk")

        self.updates.append({"ticket_id": ticket_id, "note": note, **fields})
        self._apply(current, note, fields)
        if self.lose_response_once:
            self.lose_response_once = False
            raise UpstreamUnavailable("timeout after write", system="zendesk")

        return self.tickets[ticket_id].updated_at

    def _apply(self, current: TicketFacts, note: str | None, fields: dict) -> None:
        updated = max(self.clock.now(), current.updated_at + timedelta(seconds=1))
        comments = current.comments
        if note:
            comments += (Comment(99, SIDECAR, updated, False, note, by_agent=True),)

        self.tickets[current.id] = replace(
            current,
            updated_at=updated,
            comments=comments,
            tags=tuple(fields.get("tags") or current.tags),
            priority=fields.get("priority") or current.priority,
            group_id=fields.get("group_id") or current.group_id,
        )

    def notes(self, ticket_id: int) -> list[str]:
        return [c.body for c in self.tickets[ticket_id].comments if not c.public]

    def touch(self, ticket_id: int, **changes) -> None:
        """Someone else changes the ticket (new comments, statuses, tags)."""
        current = self.tickets[ticket_id]
        stamp = max(self.clock.now(), current.updated_at + timedelta(seconds=1))
        extra_comments = changes.pop("add_comments", ())
        extra_changes = changes.pop("add_status", ())
        self.tickets[ticket_id] = replace(
            current,
            updated_at=stamp,
            comments=current.comments + tuple(extra_comments),
            status_changes=current.status_changes + tuple(extra_changes),
            **changes,
        )


def make_ticket(ticket_id: int = 42, created: datetime = T0) -> TicketFacts:
    first = Comment(1, REQUESTER, created, True, SECRET_TEXT)
    return TicketFacts(
        id=ticket_id,
        subject="Outage",
        description=SECRET_TEXT,
        status="new",
        priority="normal",
        type=None,
        tags=("vip",),
        group_id=None,
        assignee_id=None,
        requester=Requester(REQUESTER, email="ceo@example.com"),
        organization=None,
        created_at=created,
        updated_at=created,
        comments=(first,),
    )


ACCOUNT = AccountFacts(
    account_id="001A", name="Acme Corp", tier="enterprise", contract_value=250000.0
)

BASE_RAW = {
    "escalation": {
        "management_group_id": MANAGEMENT,
        "team_lead_group_id": TEAM_LEADS,
    }
}


class Desk:
    """A store, a fake Zendesk, a clock and a sweeper wired together."""

    def __init__(self, store, raw: dict | None = None, **sweeper_options) -> None:
        self.store = store
        self.clock = FixedClock(T0)
        self.zendesk = FakeZendesk(self.clock)
        self.policy = parse_sla_config(raw if raw is not None else BASE_RAW)
        self.pages: list[dict] = []
        self.sweeper = self.make_sweeper(**sweeper_options)

    def make_sweeper(self, **options) -> Sweeper:
        return Sweeper(
            self.store,
            self.zendesk,
            policy_provider=lambda: self.policy,
            clock=self.clock,
            notifier=self.pages.append,
            ticket_url=lambda ticket_id: f"http://127.0.0.1:9/tickets/{ticket_id}",
            **options,
        )

    def open_ticket(self, severity: str, ticket_id: int = 42, created=T0) -> None:
        self.zendesk.add(make_ticket(ticket_id, created))
        account = {"name": ACCOUNT.name, "contract_value": ACCOUNT.contract_value}
        self.store.save_ticket(
            ticket_id,
            {"tier": "enterprise", "severity": severity, "account": account},
            created,
        )
        self.refresh(ticket_id, severity)

    def refresh(self, ticket_id: int = 42, severity: str = "P2") -> None:
        self.sweeper.refresh_ticket(
            self.zendesk.tickets[ticket_id],
            tier="enterprise",
            severity=severity,
            account=ACCOUNT,
            now=self.clock.now(),
        )

    def sweep_at(self, when: datetime) -> dict:
        self.clock.current = when
        return self.sweeper.run_once()

    def markers(self, ticket_id: int = 42) -> list[str]:
        return [
            line
            for note in self.zendesk.notes(ticket_id)
            for line in note.splitlines()
            if line.startswith("[vip-sidecar alert")
        ]


def test_fifty_sweeps_over_one_breach_post_one_alert(any_store):
    desk = Desk(any_store)
    desk.open_ticket("P2")

    results = [desk.sweep_at(at(61) + timedelta(seconds=i)) for i in range(50)]

    assert desk.markers() == ["[vip-sidecar alert 42:first_response:1:breach]"]
    assert sum(r["breaches"] for r in results) == 1
    assert sum(r["warnings"] for r in results) == 0


def test_each_checkpoint_is_posted_once_when_sweeping_every_minute(store):
    desk = Desk(store)
    desk.open_ticket("P2")

    for minute in range(0, 100):
        desk.sweep_at(at(minute))

    assert desk.markers() == [
        "[vip-sidecar alert 42:first_response:1:warn50]",
        "[vip-sidecar alert 42:first_response:1:warn80]",
        "[vip-sidecar alert 42:first_response:1:breach]",
    ]
    assert [u.get("tags") for u in desk.zendesk.updates][-1] == [
        "vip",
        "sla_warning",
        "sla_breached",
    ]


def test_two_sweepers_on_one_store_post_once(store):
    desk = Desk(store)
    desk.open_ticket("P2")
    other = desk.make_sweeper()

    desk.clock.current = at(61)
    first, second = desk.sweeper.run_once(), other.run_once()

    assert first["breaches"] + second["breaches"] == 1
    assert len(desk.markers()) == 1


def test_after_downtime_the_breach_is_posted_once_saying_how_late(any_store):
    store = any_store
    desk = Desk(store)
    desk.open_ticket("P2")

    result = desk.sweep_at(at(185))
    again = desk.sweep_at(at(190))

    assert result["late"] == 1
    assert result["breaches"] == 1
    assert again["breaches"] + again["renotified"] + again["warnings"] == 0
    assert desk.markers() == ["[vip-sidecar alert 42:first_response:1:breach]"]
    assert "Posted 2 h 05 min late" in desk.zendesk.notes(42)[-1]


def test_p1_breach_pages_management_and_renotifies_until_acknowledged(any_store):
    store = any_store
    desk = Desk(store)
    desk.open_ticket("P1")

    desk.sweep_at(at(16))
    desk.sweep_at(at(46))
    desk.zendesk.touch(
        42, add_comments=(Comment(5, AGENT, at(50), False, "#ack on it", True),)
    )
    desk.sweep_at(at(76))
    desk.sweep_at(at(120))

    breach = desk.zendesk.updates[0]
    assert (breach["priority"], breach["group_id"]) == ("urgent", MANAGEMENT)
    assert desk.markers() == [
        "[vip-sidecar alert 42:first_response:1:breach]",
        "[vip-sidecar alert 42:first_response:1:renotify1]",
    ]
    ack = next(a for a in store.alerts_for(42) if a["threshold"] == "ack")
    assert ack["data"]["by"] == f"agent {AGENT}"
    assert [page["alert"] for page in desk.pages] == ["breach", "renotify1"]
    assert desk.pages[0]["url"] == "http://127.0.0.1:9/tickets/42"
    assert desk.pages[0]["account"] == "Acme Corp"
    assert desk.pages[0]["contract_value"] == 250000.0
    assert desk.pages[0]["tier"] == "enterprise"


def sweep_every(desk: Desk, step: timedelta, start: datetime, end: datetime) -> list:
    results, when = [], start
    while when <= end:
        results.append(desk.sweep_at(when))
        when += step

    return results


def renotify_markers(desk: Desk, metric: str) -> list[str]:
    prefix = f"[vip-sidecar alert 42:{metric}:1:renotify"
    return [m.removeprefix(prefix).rstrip("]") for m in desk.markers() if prefix in m]


def test_unanswered_p1_renotifies_at_most_six_times_per_clock(any_store):
    desk = Desk(any_store)
    desk.open_ticket("P1")

    results = sweep_every(desk, timedelta(minutes=10), T0, at(4 * 24 * 60))

    assert renotify_markers(desk, "first_response") == ["1", "2", "3", "4", "5", "6"]
    assert renotify_markers(desk, "resolution") == ["1", "2", "3", "4", "5", "6"]
    assert sum(r["renotified"] for r in results) == 12
    assert results[-1]["due"] == 0
    assert len(desk.pages) == 2 + 12


def test_renotify_cap_is_configurable_and_null_means_unlimited(store):
    desk = Desk(store, raw={**BASE_RAW, "renotify_max": None})
    desk.open_ticket("P1")

    sweep_every(desk, timedelta(minutes=30), at(15), at(15 + 30 * 9))

    assert renotify_markers(desk, "first_response") == [str(n) for n in range(1, 10)]


JAKARTA = ZoneInfo("Asia/Jakarta")
JAKARTA_RAW = {**BASE_RAW, "calendars": {"enterprise": "jakarta"}}
JAKARTA_SPECS = parse_calendars(
    {"jakarta": {"timezone": "Asia/Jakarta", "hours": {"mon-fri": "08:00-17:00"}}}
)


def test_business_hours_renotification_waits_for_the_morning(store):
    monday = datetime(2024, 5, 6, 16, 0, tzinfo=JAKARTA)
    desk = Desk(store)
    desk.policy = parse_sla_config(JAKARTA_RAW, calendar_specs=JAKARTA_SPECS)
    desk.open_ticket("P1", created=monday)

    sweep_every(desk, timedelta(minutes=5), monday, monday + timedelta(days=2))

    notes = [c for c in desk.zendesk.tickets[42].comments if not c.public]
    local = [note.created_at.astimezone(JAKARTA) for note in notes]
    # 17:00 itself is the last business instant of the day.
    assert local and all(time(8) <= t.time() <= time(17) for t in local)
    assert all(t.weekday() < 5 for t in local)
    renotify2 = next(n for n in notes if "first_response:1:renotify2]" in n.body)
    assert renotify2.created_at == datetime(2024, 5, 7, 8, 15, tzinfo=JAKARTA)
    assert "Re-notification 2 of at most 6 (business time)." in renotify2.body


def test_explain_sums_up_many_renotifications(store):
    desk = Desk(store)
    desk.open_ticket("P1")
    sweep_every(desk, timedelta(minutes=5), T0, at(24 * 60))

    text = explain_ticket(store, desk.zendesk, desk.policy, 42, at(24 * 60))

    first, resolution = text.split("\nresolution")
    assert "renotify1..renotify6 posted, last at 2024-05-06 13:15:00 UTC" in first
    assert "renotify1..renotify6 posted, last at 2024-05-06 21:00:00 UTC" in resolution
    assert "renotify3 posted" not in text
    assert max(len(line) for line in text.splitlines()) < 200


def test_explain_counts_covered_renotifications(store):
    desk = Desk(store)
    desk.open_ticket("P1")
    desk.sweep_at(at(16))
    desk.sweep_at(at(46))
    desk.sweep_at(at(136))

    text = explain_ticket(store, desk.zendesk, desk.policy, 42, at(140))

    assert (
        "renotify1..renotify4: 2 posted (last at 2024-05-06 12:16:00 UTC), "
        "1 covered by a later alert"
    ) in text


def test_warnings_do_not_page_and_p2_breach_goes_to_team_leads(store):
    desk = Desk(store)
    desk.open_ticket("P2")

    desk.sweep_at(at(31))
    desk.sweep_at(at(61))

    assert desk.pages == []
    assert desk.zendesk.updates[0]["group_id"] is None
    assert desk.zendesk.updates[-1]["group_id"] == TEAM_LEADS
    assert desk.zendesk.updates[-1]["priority"] is None


def test_a_write_whose_answer_was_lost_is_not_posted_twice(any_store):
    store = any_store
    desk = Desk(store)
    desk.open_ticket("P2")
    desk.zendesk.lose_response_once = True

    failed = desk.sweep_at(at(61))
    retried = desk.sweep_at(at(63))

    assert failed["errors"] == 1
    assert retried["errors"] == 0
    assert len(desk.markers()) == 1
    assert all(a["posted_at"] is not None for a in store.alerts_for(42))


def test_a_failed_write_is_retried_at_the_next_sweep(store):
    desk = Desk(store)
    desk.open_ticket("P2")
    desk.zendesk.fail_before_write_once = True

    desk.sweep_at(at(61))
    assert desk.markers() == []
    desk.sweep_at(at(63))

    assert desk.markers() == ["[vip-sidecar alert 42:first_response:1:breach]"]


def test_pausing_drops_the_pending_alert(any_store):
    store = any_store
    desk = Desk(store)
    desk.open_ticket("P2")
    desk.zendesk.fail_before_write_once = True
    desk.sweep_at(at(61))
    assert [a["posted_at"] for a in store.pending_alerts()] == [None]

    desk.clock.current = at(62)
    desk.zendesk.touch(
        42, status="pending", add_status=(StatusChange(at(62), "pending"),)
    )
    desk.refresh()
    desk.sweep_at(at(200))

    assert store.pending_alerts() == []
    assert desk.markers() == []


def test_an_update_conflict_is_re_read_and_retried(store):
    desk = Desk(store)
    desk.open_ticket("P2")
    real_update = desk.zendesk.update_ticket
    calls = []

    def racing_update(ticket_id, **kwargs):
        if not calls:
            desk.zendesk.touch(ticket_id, tags=("vip", "agent_tag"))
        calls.append(kwargs["updated_stamp"])
        return real_update(ticket_id, **kwargs)

    desk.zendesk.update_ticket = racing_update
    desk.sweep_at(at(61))

    assert len(calls) == 2
    assert desk.markers() == ["[vip-sidecar alert 42:first_response:1:breach]"]
    assert "agent_tag" in desk.zendesk.tickets[42].tags


def test_policy_removed_while_breached_stops_the_alerts(store):
    desk = Desk(store)
    desk.open_ticket("P1")
    desk.sweep_at(at(16))

    desk.policy = parse_sla_config({**BASE_RAW, "tiers": {"enterprise": None}})
    result = desk.sweep_at(at(50))
    later = desk.sweep_at(at(500))

    assert desk.markers() == ["[vip-sidecar alert 42:first_response:1:breach]"]
    assert result["renotified"] == 0
    assert later["due"] == 0
    assert {c["state"] for c in store.clocks_for(42)} == {"cancelled"}


def test_a_shorter_target_in_config_applies_at_the_next_sweep(store):
    desk = Desk(store)
    desk.open_ticket("P3")
    desk.sweep_at(at(1))

    desk.policy = parse_sla_config(
        BASE_RAW, severity_raw={"P3": {"first_response_minutes": 30}}
    )
    result = desk.sweep_at(at(20))

    assert result["warnings"] == 1
    assert desk.markers() == ["[vip-sidecar alert 42:first_response:1:warn50]"]


def test_reopen_after_the_old_due_date_does_not_breach_at_once(store):
    desk = Desk(store)
    desk.open_ticket("P2")
    desk.clock.current = at(20)
    desk.zendesk.touch(
        42,
        status="solved",
        add_comments=(Comment(2, AGENT, at(20), True, "fixed", True),),
        add_status=(StatusChange(at(20), "solved"),),
    )
    desk.refresh()

    reopened = at(3 * 24 * 60)
    desk.clock.current = reopened
    desk.zendesk.touch(
        42,
        status="open",
        add_comments=(Comment(3, REQUESTER, reopened, True, "broken again"),),
        add_status=(StatusChange(reopened, "open"),),
    )
    desk.refresh()
    result = desk.sweep_at(reopened + timedelta(minutes=1))

    assert result["breaches"] == 0
    assert desk.markers() == []
    due = {(c["metric"], c["cycle"]): c["due_at"] for c in store.clocks_for(42)}
    assert due[("first_response", 2)] == reopened + timedelta(hours=1)


def test_one_bad_ticket_never_stops_the_sweep_and_logs_ids_only(store, caplog):
    desk = Desk(store)
    desk.open_ticket("P2", ticket_id=41)
    desk.open_ticket("P2", ticket_id=42)
    desk.zendesk.broken.add(41)

    with caplog.at_level(logging.DEBUG):
        result = desk.sweep_at(at(61))

    assert result["errors"] == 1
    assert result["breaches"] == 1
    assert desk.markers(42) == ["[vip-sidecar alert 42:first_response:1:breach]"]
    assert "hunter2" not in caplog.text
    assert "ceo@example.com" not in caplog.text
    assert "Acme" not in caplog.text
    assert "ticket 41 failed (RuntimeError)" in caplog.text


def test_a_failing_ticket_is_postponed_not_retried_in_a_loop(store):
    desk = Desk(store, batch_size=1)
    desk.open_ticket("P2", ticket_id=41)
    desk.zendesk.broken.add(41)

    result = desk.sweep_at(at(61))

    assert desk.zendesk.fetches.count(41) == 1
    assert result["errors"] == 1


def test_a_deleted_ticket_ends_its_clocks_after_repeated_404s(store):
    desk = Desk(store)
    desk.open_ticket("P2")
    del desk.zendesk.tickets[42]

    results = [desk.sweep_at(at(61 + 2 * n)) for n in range(3)]

    assert all(result["errors"] == 0 for result in results)
    assert {c["state"] for c in store.clocks_for(42)} == {"cancelled"}


def test_a_passing_404_does_not_end_the_clocks(store):
    desk = Desk(store)
    desk.open_ticket("P2")
    ticket = desk.zendesk.tickets.pop(42)
    desk.sweep_at(at(61))  # Zendesk answers 404 once
    desk.zendesk.tickets[42] = ticket

    desk.sweep_at(at(63))

    assert "cancelled" not in {c["state"] for c in store.clocks_for(42)}
    assert any(a["threshold"] == "breach" for a in store.alerts_for(42))


def test_several_due_clocks_of_one_ticket_are_read_once(store):
    desk = Desk(store)
    desk.open_ticket("P1")
    desk.zendesk.touch(
        42, add_comments=(Comment(2, AGENT, at(5), True, "looking", True),)
    )
    desk.refresh(severity="P1")
    desk.zendesk.fetches.clear()

    result = desk.sweep_at(at(8 * 60 + 1))

    assert result["due"] >= 2
    assert desk.zendesk.fetches == [42]


def test_explain_lists_each_clock_with_its_alerts(store):
    desk = Desk(store)
    desk.open_ticket("P1")
    desk.sweep_at(at(16))

    text = explain_ticket(store, desk.zendesk, desk.policy, 42, at(20))

    assert "ticket 42: tier enterprise, severity P1" in text
    assert "first_response  cycle 1  breached" in text
    assert "target 15 min (business time, calendar 24x7)" in text
    assert "due 2024-05-06 10:15:00 UTC" in text
    assert "alerts: breach posted 2024-05-06 10:16:00 UTC" in text
    assert "resolution  cycle 1  running" in text


def test_explain_shows_paused_spans_and_late_replies(store):
    desk = Desk(store)
    desk.open_ticket("P2")
    desk.zendesk.touch(
        42,
        status="pending",
        add_comments=(Comment(2, AGENT, at(75), True, "need logs", True),),
        add_status=(StatusChange(at(80), "pending"),),
    )

    text = explain_ticket(store, desk.zendesk, desk.policy, 42, at(90))

    assert "first_response  cycle 1  breached (met late)" in text
    assert "paused: 2024-05-06 11:20:00 UTC to now (still paused)" in text
    assert "resolution  cycle 1  paused" in text


def test_explain_says_when_the_ticket_has_no_sla(store):
    desk = Desk(store)
    desk.zendesk.add(make_ticket(7))

    text = explain_ticket(store, desk.zendesk, desk.policy, 7, at(5))

    assert "ticket 7: not a VIP ticket; no SLA clocks" in text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(42, "42 s", id="seconds"),
        pytest.param(900, "15 min", id="minutes"),
        pytest.param(7500, "2 h 05 min", id="hours"),
        pytest.param(90000, "1 d 1 h 00 min", id="days"),
    ],
)
def test_durations_in_notes(seconds, text):
    from sidecar.sweep import format_duration

    assert format_duration(seconds) == text


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length", 0))
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_p1_breach_pages_a_chat_webhook_through_apprise(store):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    _Hook.received.clear()
    env = {"CHAT_URL": f"json://127.0.0.1:{server.server_port}/hook"}
    raw = {"escalation": {"chat_url_env": "CHAT_URL", "management_group_id": 5}}
    desk = Desk(store)
    desk.policy = parse_sla_config(raw, env=env)
    desk.sweeper.notifier = None
    desk.open_ticket("P1")

    desk.sweep_at(at(16))
    thread.join(timeout=10)
    server.server_close()

    assert len(_Hook.received) == 1
    message = _Hook.received[0]
    assert message["title"] == "P1 SLA breached: ticket 42"
    assert "Account: Acme Corp (tier enterprise)" in message["message"]
    assert "Contract value: 250,000" in message["message"]
    assert "Ticket: http://127.0.0.1:9/tickets/42" in message["message"]
