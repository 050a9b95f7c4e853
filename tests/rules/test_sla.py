"""SLA policy parsing, clock semantics from ticket history, and checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules.calendar import build_calendars, parse_calendars
from rules.model import Comment, Requester, SlaTargets, StatusChange, TicketFacts
from rules.sla import (
    ClockState,
    checkpoints,
    compute_clocks,
    parse_sla_config,
    targets_for,
)

T0 = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)  # a Monday
NEW_YORK = ZoneInfo("America/New_York")
REQUESTER = 501
AGENT = 900


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def customer(when: datetime, body: str = "hello", cid: int = 0) -> Comment:
    return Comment(cid, REQUESTER, when, public=True, body=body)


def agent(when: datetime, *, public: bool = True, body: str = "on it") -> Comment:
    return Comment(0, AGENT, when, public=public, body=body, by_agent=True)


def ticket(
    *,
    created: datetime = T0,
    comments: tuple[Comment, ...] = (),
    changes: tuple[tuple[datetime, str], ...] = (),
    tags: tuple[str, ...] = (),
) -> TicketFacts:
    history = (customer(created, "it is down"), *comments)
    return TicketFacts(
        id=42,
        subject="",
        description="",
        status=changes[-1][1] if changes else "new",
        priority=None,
        type=None,
        tags=tags,
        group_id=None,
        assignee_id=None,
        requester=Requester(REQUESTER),
        organization=None,
        created_at=created,
        updated_at=created,
        comments=tuple(sorted(history, key=lambda c: c.created_at)),
        status_changes=tuple(StatusChange(when, status) for when, status in changes),
    )


POLICY = parse_sla_config(None)
CALENDARS = build_calendars({})


def clocks_of(facts: TicketFacts, now: datetime, **kwargs) -> dict[str, ClockState]:
    options = {"tier": "enterprise", "severity": "P2", "policy": POLICY}
    options.update(kwargs)
    calendars = options.pop("calendars", CALENDARS)
    clocks = compute_clocks(facts, calendars=calendars, now=now, **options)
    return {f"{c.metric}/{c.cycle}/{c.round}": c for c in clocks}


# -- policy ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        pytest.param("P1", SlaTargets(900, 3600, 28800, 1800), id="P1"),
        pytest.param("P2", SlaTargets(3600, 14400, 172800, 7200), id="P2"),
        pytest.param("P3", SlaTargets(14400, 28800, 432000, None), id="P3"),
    ],
)
def test_default_targets(severity, expected):
    assert targets_for(POLICY, tier="gold", severity=severity) == expected


def test_defaults_for_thresholds_pauses_and_calendar():
    assert POLICY.thresholds == (0.5, 0.8)
    assert POLICY.pause_statuses == {"pending", "hold"}
    assert POLICY.default_calendar == "24x7"
    assert POLICY.renotify_seconds["P1"] == 1800
    assert POLICY.renotify_max == 6


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({"renotify_max": 3}, 3, id="three"),
        pytest.param({"renotify_max": 0}, 0, id="none-at-all"),
        pytest.param({"renotify_max": None}, None, id="unlimited"),
        pytest.param({}, 6, id="default"),
    ],
)
def test_renotify_max_is_read(raw, expected):
    assert parse_sla_config(raw).renotify_max == expected


def test_severity_minutes_and_tier_overrides():
    policy = parse_sla_config(
        {
            "tiers": {
                "strategic": {"P1": {"first_response_minutes": 10}},
                "trial": None,
            }
        },
        severity_raw={"P1": {"priority": "urgent", "resolution_minutes": None}},
    )

    assert targets_for(policy, tier="strategic", severity="P1") == SlaTargets(
        600, 3600, None, 1800
    )
    assert targets_for(policy, tier="gold", severity="P1").first_response == 900
    assert targets_for(policy, tier="trial", severity="P1") == SlaTargets(
        None, None, None, None
    )


def test_chat_url_comes_from_the_named_environment_variable():
    raw = {"escalation": {"chat_url_env": "CHAT_URL", "management_group_id": "77"}}

    policy = parse_sla_config(raw, env={"CHAT_URL": "json://127.0.0.1:9/hook"})

    assert policy.chat_url == "json://127.0.0.1:9/hook"
    assert policy.management_group_id == 77
    assert parse_sla_config(raw).chat_url is None


@pytest.mark.parametrize(
    ("raw", "severity_raw", "message"),
    [
        pytest.param(
            {"thresholds": [50, 120]},
            None,
            "sla.thresholds: 120 is not a whole percentage in 1..99",
            id="threshold",
        ),
        pytest.param(
            {"calendars": {"gold": "nowhere"}},
            None,
            "sla.calendars.gold: unknown calendar 'nowhere'",
            id="calendar",
        ),
        pytest.param(
            {"tiers": {"gold": {"P1": {"first_reply_minutes": 5}}}},
            None,
            "sla.tiers.gold.P1.first_reply_minutes: unknown key",
            id="tier-key",
        ),
        pytest.param(
            None,
            {"P2": {"first_response_minutes": -5}},
            "severity.P2.first_response_minutes: expected a positive number of "
            "minutes or null",
            id="minutes",
        ),
        pytest.param(
            {"escalation": {"management_group_id": "abc"}},
            None,
            "sla.escalation.management_group_id: expected a group id",
            id="group",
        ),
        pytest.param(
            {"renotify_minutes": {"P4": 10}},
            None,
            "sla.renotify_minutes.P4: expected P1, P2 or P3",
            id="renotify",
        ),
        pytest.param(
            {"renotify_max": -1},
            None,
            "sla.renotify_max: expected a whole number (0 or more) or null",
            id="renotify-max-negative",
        ),
        pytest.param(
            {"renotify_max": "six"},
            None,
            "sla.renotify_max: expected a whole number (0 or more) or null",
            id="renotify-max-text",
        ),
        pytest.param(
            {"renotify_max": True},
            None,
            "sla.renotify_max: expected a whole number (0 or more) or null",
            id="renotify-max-bool",
        ),
    ],
)
def test_bad_sla_config_names_the_key(raw, severity_raw, message):
    with pytest.raises(ValueError) as caught:
        parse_sla_config(raw, severity_raw=severity_raw)

    assert str(caught.value) == message


# -- clocks ------------------------------------------------------------------


def test_public_agent_reply_meets_first_response_and_private_note_does_not():
    facts = ticket(comments=(agent(at(20), public=False), agent(at(40))))

    clocks = clocks_of(facts, at(120))

    first = clocks["first_response/1/1"]
    assert first.state == "met"
    assert first.met_at == at(40)
    assert first.breached_at is None


def test_late_reply_keeps_the_breach_in_history():
    facts = ticket(comments=(agent(at(75)),))

    first = clocks_of(facts, at(120))["first_response/1/1"]

    assert first.state == "breached"
    assert first.breached_at == at(60)
    assert first.met_at == at(75)
    assert not first.is_active


def test_friday_evening_p2_on_office_hours_across_spring_forward():
    specs = parse_calendars(
        {"ny": {"timezone": "America/New_York", "hours": {"mon-fri": "09:00-17:00"}}}
    )
    policy = parse_sla_config({"calendars": {"enterprise": "ny"}}, calendar_specs=specs)
    friday_evening = datetime(2024, 3, 8, 18, 0, tzinfo=NEW_YORK)
    facts = ticket(created=friday_evening)

    clocks = clocks_of(
        facts,
        datetime(2024, 3, 11, 9, 30, tzinfo=NEW_YORK),
        policy=policy,
        calendars=build_calendars(specs),
    )

    first = clocks["first_response/1/1"]
    assert first.calendar == "ny"
    assert first.due_at == datetime(2024, 3, 11, 14, 0, tzinfo=UTC)
    assert first.elapsed_seconds == 1800
    assert first.state == "running"


def test_pending_for_four_hours_moves_the_resolution_due_time():
    facts = ticket(
        comments=(agent(at(10)),),
        changes=((at(10), "open"), (at(60), "pending"), (at(300), "open")),
    )

    resolution = clocks_of(facts, at(360), severity="P1")["resolution/1/1"]

    assert resolution.paused_spans == ((at(60), at(300)),)
    assert resolution.elapsed_seconds == 2 * 3600
    assert resolution.due_at == at(8 * 60 + 4 * 60)
    assert resolution.state == "running"


def test_a_custom_pause_status_pauses_and_drops_the_due_time():
    policy = parse_sla_config({"pause_statuses": ["pending", "Waiting on vendor"]})
    facts = ticket(changes=((at(5), "Waiting on vendor"),))

    first = clocks_of(facts, at(100), policy=policy)["first_response/1/1"]

    assert first.state == "paused"
    assert first.due_at is None
    assert first.paused_spans == ((at(5), None),)
    assert first.elapsed_seconds == 300
    assert checkpoints(first, policy, severity="P2") == []


def test_thanks_then_solved_without_reply_is_no_next_reply_breach():
    facts = ticket(
        comments=(agent(at(10)), customer(at(30), "thanks!")),
        changes=((at(10), "open"), (at(200), "solved")),
    )

    clocks = clocks_of(facts, at(600))

    assert clocks["next_reply/1/1"].state == "stopped"
    assert clocks["next_reply/1/1"].breached_at is None
    assert clocks["resolution/1/1"].state == "met"
    assert clocks["periodic_update/1/1"].state == "stopped"


def test_reply_sent_together_with_solved_meets_the_clock():
    facts = ticket(comments=(agent(at(30)),), changes=((at(30), "solved"),))

    assert clocks_of(facts, at(60))["first_response/1/1"].state == "met"


def test_reopen_after_the_old_due_date_starts_a_fresh_cycle():
    reopened = at(5 * 24 * 60)
    facts = ticket(
        comments=(agent(at(10)), customer(reopened, "still broken")),
        changes=((at(10), "open"), (at(20), "solved"), (reopened, "open")),
    )

    clocks = clocks_of(facts, reopened + timedelta(minutes=5))

    assert clocks["resolution/1/1"].state == "met"
    assert clocks["first_response/2/1"].state == "running"
    assert clocks["first_response/2/1"].started_at == reopened
    assert clocks["first_response/2/1"].due_at == reopened + timedelta(hours=1)
    assert clocks["resolution/2/1"].breached_at is None
    assert "next_reply/2/1" not in clocks


def test_each_customer_message_after_a_reply_opens_a_new_next_reply_round():
    facts = ticket(
        comments=(
            agent(at(10)),
            customer(at(20)),
            customer(at(25)),
            agent(at(50)),
            customer(at(60)),
        ),
    )

    clocks = clocks_of(facts, at(70))

    assert clocks["next_reply/1/1"].started_at == at(20)
    assert clocks["next_reply/1/1"].met_at == at(50)
    assert clocks["next_reply/1/2"].started_at == at(60)
    assert clocks["next_reply/1/2"].state == "running"


def test_periodic_update_breaches_when_the_customer_hears_nothing():
    facts = ticket(comments=(agent(at(5)), agent(at(30))))

    clocks = clocks_of(facts, at(80), severity="P1")

    assert clocks["periodic_update/1/1"].state == "met"
    assert clocks["periodic_update/1/2"].state == "breached"
    assert clocks["periodic_update/1/2"].breached_at == at(60)


def test_severity_change_recomputes_the_open_clock():
    facts = ticket()

    p2 = clocks_of(facts, at(20), severity="P2")["first_response/1/1"]
    p1 = clocks_of(facts, at(20), severity="P1")["first_response/1/1"]

    assert (p2.state, p2.due_at) == ("running", at(60))
    assert (p1.state, p1.breached_at) == ("breached", at(15))


def test_account_calendar_overrides_the_tier_calendar():
    specs = parse_calendars(
        {"ny": {"timezone": "America/New_York", "hours": {"mon-fri": "09:00-17:00"}}}
    )
    policy = parse_sla_config({"calendars": {"enterprise": "ny"}}, calendar_specs=specs)

    clocks = clocks_of(
        ticket(),
        at(5),
        policy=policy,
        calendars=build_calendars(specs),
        account_calendar="24x7",
    )

    assert clocks["first_response/1/1"].calendar == "24x7"


def test_a_tier_without_policy_has_no_clocks():
    policy = parse_sla_config({"tiers": {"trial": None}})

    assert clocks_of(ticket(), at(5), policy=policy, tier="trial") == {}


def test_history_after_now_is_ignored():
    facts = ticket(comments=(agent(at(30)),))

    first = clocks_of(facts, at(20))["first_response/1/1"]

    assert first.state == "running"


# -- checkpoints -------------------------------------------------------------


def test_checkpoints_of_a_running_clock_are_warnings_and_breach():
    first = clocks_of(ticket(), at(5))["first_response/1/1"]

    assert checkpoints(first, POLICY, severity="P2") == [
        ("warn50", at(30)),
        ("warn80", at(48)),
        ("breach", at(60)),
    ]


def test_custom_thresholds_follow_business_time():
    specs = parse_calendars(
        {"ny": {"timezone": "America/New_York", "hours": {"mon-fri": "09:00-17:00"}}}
    )
    policy = parse_sla_config(
        {"calendars": {"enterprise": "ny"}, "thresholds": [25, 75]},
        calendar_specs=specs,
    )
    friday = datetime(2024, 3, 8, 16, 45, tzinfo=NEW_YORK)

    first = clocks_of(
        ticket(created=friday), friday, policy=policy, calendars=build_calendars(specs)
    )["first_response/1/1"]

    assert checkpoints(first, policy, severity="P2")[:2] == [
        ("warn25", datetime(2024, 3, 8, 17, 0, tzinfo=NEW_YORK)),
        ("warn75", datetime(2024, 3, 11, 13, 30, tzinfo=UTC)),
    ]


def test_breached_p1_renotifies_every_thirty_minutes_until_acknowledged():
    facts = ticket()

    first = clocks_of(facts, at(50), severity="P1")["first_response/1/1"]
    names = [name for name, _ in checkpoints(first, POLICY, severity="P1")]

    assert names == ["warn50", "warn80", "breach", "renotify1", "renotify2"]


@pytest.mark.parametrize(
    ("comments", "tags", "acknowledged_by"),
    [
        pytest.param(
            (agent(at(20), public=False, body="#ack looking"),),
            (),
            f"agent {AGENT}",
            id="command",
        ),
        pytest.param((), ("sla_ack",), "tag sla_ack", id="tag"),
        pytest.param(
            (agent(at(10), public=False, body="#ack"),), (), None, id="before-breach"
        ),
    ],
)
def test_acknowledgement_stops_renotification(comments, tags, acknowledged_by):
    facts = ticket(comments=comments, tags=tags)

    first = clocks_of(facts, at(50), severity="P1")["first_response/1/1"]
    names = [name for name, _ in checkpoints(first, POLICY, severity="P1")]

    assert first.acknowledged_by == acknowledged_by
    assert ("renotify1" in names) == (acknowledged_by is None)


def renotified(clock: ClockState, policy=POLICY, **kwargs) -> list[str]:
    points = checkpoints(clock, policy, severity="P1", **kwargs)
    return [name for name, _ in points if name.startswith("renotify")]


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        pytest.param(50, ["renotify1", "renotify2"], id="first-two"),
        pytest.param(170, ["renotify4", "renotify5", "renotify6"], id="near-cap"),
        pytest.param(200, ["renotify5", "renotify6"], id="cap-reached"),
        pytest.param(4 * 24 * 60, [], id="four-days-later"),
    ],
)
def test_renotification_stops_at_the_cap(minutes, expected):
    first = clocks_of(ticket(), at(minutes), severity="P1")["first_response/1/1"]

    assert renotified(first) == expected


def test_zero_cap_means_no_renotification():
    policy = parse_sla_config({"renotify_max": 0})
    first = clocks_of(ticket(), at(100), severity="P1", policy=policy)

    assert renotified(first["first_response/1/1"], policy) == []


def test_unlimited_renotification_lists_only_around_now():
    policy = parse_sla_config({"renotify_max": None})
    first = clocks_of(ticket(), at(4 * 24 * 60), severity="P1", policy=policy)

    points = checkpoints(first["first_response/1/1"], policy, severity="P1")

    # (5760 - 15) // 30 = 191 cadences have run since the breach.
    assert points[-3:] == [
        ("renotify190", at(15 + 190 * 30)),
        ("renotify191", at(15 + 191 * 30)),
        ("renotify192", at(15 + 192 * 30)),
    ]


JAKARTA = ZoneInfo("Asia/Jakarta")
JAKARTA_SPECS = parse_calendars(
    {"jakarta": {"timezone": "Asia/Jakarta", "hours": {"mon-fri": "08:00-17:00"}}}
)
JAKARTA_POLICY = parse_sla_config(
    {"calendars": {"enterprise": "jakarta"}}, calendar_specs=JAKARTA_SPECS
)


@pytest.mark.parametrize(
    ("created", "as_of", "expected"),
    [
        pytest.param(
            datetime(2024, 5, 6, 16, 0, tzinfo=JAKARTA),
            datetime(2024, 5, 6, 23, 0, tzinfo=JAKARTA),
            [
                ("renotify1", datetime(2024, 5, 6, 16, 45, tzinfo=JAKARTA)),
                ("renotify2", datetime(2024, 5, 7, 8, 15, tzinfo=JAKARTA)),
            ],
            id="overnight",
        ),
        pytest.param(
            datetime(2024, 5, 10, 16, 0, tzinfo=JAKARTA),
            datetime(2024, 5, 11, 12, 0, tzinfo=JAKARTA),
            [
                ("renotify1", datetime(2024, 5, 10, 16, 45, tzinfo=JAKARTA)),
                ("renotify2", datetime(2024, 5, 13, 8, 15, tzinfo=JAKARTA)),
            ],
            id="over-the-weekend",
        ),
        pytest.param(
            datetime(2024, 5, 7, 8, 0, tzinfo=JAKARTA),
            datetime(2024, 5, 7, 9, 20, tzinfo=JAKARTA),
            [
                ("renotify1", datetime(2024, 5, 7, 8, 45, tzinfo=JAKARTA)),
                ("renotify2", datetime(2024, 5, 7, 9, 15, tzinfo=JAKARTA)),
                ("renotify3", datetime(2024, 5, 7, 9, 45, tzinfo=JAKARTA)),
            ],
            id="within-the-day",
        ),
    ],
)
def test_business_time_renotification_skips_closed_hours(created, as_of, expected):
    calendars = build_calendars(JAKARTA_SPECS)
    first = clocks_of(
        ticket(created=created),
        as_of,
        severity="P1",
        policy=JAKARTA_POLICY,
        calendars=calendars,
    )["first_response/1/1"]

    points = checkpoints(first, JAKARTA_POLICY, severity="P1", calendars=calendars)

    assert [p for p in points if p[0].startswith("renotify")] == expected


def test_renotification_calendar_is_built_from_the_policy_when_not_given():
    created = datetime(2024, 5, 6, 16, 0, tzinfo=JAKARTA)
    first = clocks_of(
        ticket(created=created),
        datetime(2024, 5, 6, 23, 0, tzinfo=JAKARTA),
        severity="P1",
        policy=JAKARTA_POLICY,
        calendars=build_calendars(JAKARTA_SPECS),
    )["first_response/1/1"]

    points = dict(checkpoints(first, JAKARTA_POLICY, severity="P1"))

    assert points["renotify2"] == datetime(2024, 5, 7, 8, 15, tzinfo=JAKARTA)


def test_calendar_time_metric_renotifies_at_night():
    policy = parse_sla_config(
        {
            "calendars": {"enterprise": "jakarta"},
            "business_time": {"resolution": False},
        },
        calendar_specs=JAKARTA_SPECS,
    )
    created = datetime(2024, 5, 6, 16, 0, tzinfo=JAKARTA)
    resolution = clocks_of(
        ticket(created=created),
        datetime(2024, 5, 7, 0, 50, tzinfo=JAKARTA),
        severity="P1",
        policy=policy,
        calendars=build_calendars(JAKARTA_SPECS),
    )["resolution/1/1"]

    points = dict(checkpoints(resolution, policy, severity="P1"))

    # 8 h of calendar time: breach at 00:00, then every 30 minutes.
    assert points["breach"] == datetime(2024, 5, 7, 0, 0, tzinfo=JAKARTA)
    assert points["renotify1"] == datetime(2024, 5, 7, 0, 30, tzinfo=JAKARTA)
    assert points["renotify2"] == datetime(2024, 5, 7, 1, 0, tzinfo=JAKARTA)


def test_paused_time_does_not_count_towards_renotification():
    facts = ticket(changes=((at(20), "pending"), (at(120), "open")))

    first = clocks_of(facts, at(130), severity="P1")["first_response/1/1"]
    points = dict(checkpoints(first, POLICY, severity="P1"))

    # 20 running minutes before the pause, 25 after it: 15 + 30 in all.
    assert points["breach"] == at(15)
    assert points["renotify1"] == at(145)
