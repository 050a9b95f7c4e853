"""A later customer message can raise severity, never lower it."""

from __future__ import annotations

from rules.model import SeverityDecision
from sidecar.pipeline import raise_for_followups

P3 = SeverityDecision(level="P3", reasons=("score -2.0 <= P3 threshold -1",))
P1 = SeverityDecision(level="P1", reasons=("outage decides P1 (score +4.5)",))


def test_a_follow_up_with_an_outage_makes_p1_and_says_why():
    raised = raise_for_followups(P3, ["Thanks.", "Now the site is down."], None)

    assert raised.level == "P1"
    assert raised.reasons[0] == 'follow-up: body: "is down" (outage, +3.0)'
    assert raised.reasons[-1] == "raised P3 -> P1 by a later customer message"


def test_milder_follow_ups_change_nothing():
    assert raise_for_followups(P1, ["Thanks, how do I export?"], None) is P1
    assert raise_for_followups(P3, [], None) is P3


def test_the_raise_keeps_the_frustration_flag():
    raised_before = SeverityDecision(
        level="P2", reasons=("x",), raised_by_frustration=True
    )

    raised = raise_for_followups(raised_before, ["All our data is lost."], None)

    assert raised.level == "P1"
    assert raised.raised_by_frustration


def test_a_follow_up_without_p1_evidence_or_with_relief_raises_nothing():
    assert raise_for_followups(P3, ["Thanks, that worked!"], None) is P3
    assert raise_for_followups(P3, ["The export is slow."], None) is P3
    assert raise_for_followups(P3, ["Thanks, the outage is resolved now"], None) is P3
