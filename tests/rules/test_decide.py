from rules.decide import NOTE_MARKER, decide, note_key, plan_write
from rules.model import FrustrationResult, SeverityDecision, TierDecision
from tests.rules.factories import T0, account, policy, ticket

POLICY = policy()
GOLD = TierDecision("gold", ("CRM tier Gold",))
P2 = SeverityDecision("P2", ('subject: "not working" (broken, +2)',))


def _decision(facts=None, severity=P2, frustration=None, acct=None):
    facts = facts or ticket()
    acct = acct or account(tier="Gold", contract_value=250000)
    return decide(
        facts, acct, GOLD, severity, frustration, POLICY, due=[("first_response", T0)]
    )


def test_vip_decision_sets_priority_group_tags_fields_and_note():
    decision = _decision()

    assert decision.priority == "high"
    assert decision.group_id == 102
    assert set(decision.tags_add) == {"vip", "vip_tier_gold", "sev_p2", "vip_enriched"}
    assert dict(decision.custom_fields) == {
        201: "gold",
        203: "p2",
        202: 250000,
        204: "Rina Manager",
    }
    assert decision.note.startswith(NOTE_MARKER)
    assert "CRM tier Gold" in decision.note
    assert "Contract value: 250,000" in decision.note
    assert "Due: first response by 2026-03-02 09:00 UTC" in decision.note


def test_non_vip_decision_plans_no_write():
    decision = decide(ticket(), None, TierDecision(None), None, None, POLICY)

    assert plan_write(ticket(), decision).is_empty


def test_priority_is_never_lowered():
    decision = _decision(ticket(priority="urgent"))

    assert decision.priority == "urgent"


def test_p1_on_a_paged_tier_involves_management():
    decision = _decision(severity=SeverityDecision("P1", ("outage",)))

    assert "vip_mgmt_involved" in decision.tags_add
    assert "management is involved" in decision.note


def test_plan_writes_only_the_difference():
    facts = ticket(
        priority="high",
        group_id=102,
        tags=("vip", "vip_tier_gold", "sev_p2", "vip_enriched"),
        custom_fields=(
            (201, "gold"),
            (203, "p2"),
            (202, 250000),
            (204, "Rina Manager"),
        ),
    )
    decision = _decision(facts)

    plan = plan_write(facts, decision, last_note_key=note_key(decision))

    assert plan.is_empty


def test_tags_keep_existing_and_drop_stale_own_tags():
    facts = ticket(tags=("billing", "sev_p3", "vip_tier_silver"))

    plan = plan_write(facts, _decision(facts))

    assert plan.tags[0] == "billing"
    assert "sev_p3" not in plan.tags and "vip_tier_silver" not in plan.tags
    assert {"vip", "vip_tier_gold", "sev_p2"} <= set(plan.tags)


def test_agent_change_after_our_write_is_respected():
    facts = ticket(priority="normal", group_id=999)
    decision = _decision(facts)

    plan = plan_write(
        facts, decision, last_written={"priority": "high", "group_id": 102}
    )

    assert plan.priority is None
    assert plan.group_id is None


def test_changed_decision_overrides_an_earlier_value():
    facts = ticket(priority="high")
    decision = _decision(facts, severity=SeverityDecision("P1", ("outage",)))

    plan = plan_write(facts, decision, last_written={"priority": "high"})

    assert plan.priority == "urgent"


def test_one_note_per_decision_key():
    decision = _decision()

    first = plan_write(ticket(), decision)
    again = plan_write(ticket(), decision, last_note_key=note_key(decision))

    assert first.note and again.note is None


def test_frustration_is_explained_and_tagged():
    frustration = FrustrationResult(
        score=0.9,
        trend=0.3,
        scores=(0.6, 0.9),
        escalate=True,
        reasons=("'still waiting'",),
    )
    raised = SeverityDecision("P2", ("broken",), raised_by_frustration=True)

    decision = _decision(severity=raised, frustration=frustration)

    assert "vip_frustrated" in decision.tags_add
    assert "Frustration: 0.90 (rising)" in decision.note
    assert note_key(decision).endswith(":raised")


def test_crm_outage_is_stated_in_the_note():
    decision = _decision(
        acct=account(lookup="error", account_id=None, error="upstream_unavailable")
    )

    assert "CRM: unreachable (upstream_unavailable)" in decision.note


def test_a_note_already_on_the_ticket_is_not_posted_again():
    from rules.model import Comment

    decision = _decision()
    posted = Comment(id=1, author_id=5, created_at=T0, public=False, body=decision.note)
    facts = ticket(comments=(posted,))

    plan = plan_write(facts, _decision(facts), last_note_key=None)

    assert plan.note is None


def test_an_older_note_with_another_key_does_not_stop_a_new_one():
    from rules.model import Comment

    old = _decision(severity=SeverityDecision("P3", ("question",)))
    posted = Comment(id=1, author_id=5, created_at=T0, public=False, body=old.note)
    facts = ticket(comments=(posted,))

    plan = plan_write(facts, _decision(facts), last_note_key=None)

    assert plan.note is not None and plan.note.startswith(
        "[vip-sidecar decision] gold:P2"
    )
