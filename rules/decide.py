"""Routing and write-back: from the facts and the verdicts to one ticket update.

:func:`decide` builds the :class:`~rules.model.Decision` (priority, group,
tags, custom fields and the explanatory note); :func:`plan_write` turns it into
the smallest update that brings the ticket there, respecting what agents have
changed by hand since the sidecar last wrote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from rules.config import Policy
from rules.model import (
    PRIORITIES,
    AccountFacts,
    Decision,
    FrustrationResult,
    SeverityDecision,
    SlaTargets,
    TicketFacts,
    TierDecision,
)

OWN_TAG_PREFIXES = ("vip_tier_", "sev_p")
FRUSTRATION_TAG = "vip_frustrated"
MANAGEMENT_TAG = "vip_mgmt_involved"
NOTE_MARKER = "[vip-sidecar decision]"


@dataclass(frozen=True)
class WritePlan:
    """The fields one ticket update will send (None / empty: leave alone)."""

    priority: str | None = None
    group_id: int | None = None
    tags: tuple[str, ...] | None = None
    custom_fields: tuple[tuple[int, object], ...] = ()
    note: str | None = None

    @property
    def is_empty(self) -> bool:
        return (
            self.priority is None
            and self.group_id is None
            and self.tags is None
            and not self.custom_fields
            and self.note is None
        )

    def written(self) -> dict[str, object]:
        """What this plan sets, for remembering it in the store."""
        result: dict[str, object] = {}
        if self.priority is not None:
            result["priority"] = self.priority
        if self.group_id is not None:
            result["group_id"] = self.group_id

        return result


def decide(
    ticket: TicketFacts,
    account: AccountFacts | None,
    tier: TierDecision,
    severity: SeverityDecision | None,
    frustration: FrustrationResult | None,
    policy: Policy,
    *,
    targets: SlaTargets | None = None,
    due: Sequence[tuple[str, datetime]] = (),
) -> Decision:
    """The desired state of a ticket. A non-VIP ticket gets an empty decision."""
    if tier.tier is None or severity is None:
        return Decision(ticket.id, tier, severity, frustration, None, None)

    tier_policy = policy.tiers[tier.tier]
    priority = _priority(ticket.priority, policy.severities[severity.level].priority)
    tags_add, tags_remove = _tags(ticket, tier.tier, severity, frustration, policy)
    decision = Decision(
        ticket_id=ticket.id,
        tier=tier,
        severity=severity,
        frustration=frustration,
        priority=priority,
        group_id=tier_policy.group_id,
        tags_add=tags_add,
        tags_remove=tags_remove,
        custom_fields=_fields(tier.tier, severity, account, frustration, policy),
        targets=targets,
        due=tuple(due),
    )

    note = render_note(decision, account, policy)
    return Decision(**{**decision.__dict__, "note": note})


def _priority(current: str | None, wanted: str) -> str:
    """Never lower a priority somebody already raised."""
    if current in PRIORITIES and PRIORITIES.index(current) < PRIORITIES.index(wanted):
        return current

    return wanted


def _tags(
    ticket: TicketFacts,
    tier: str,
    severity: SeverityDecision,
    frustration: FrustrationResult | None,
    policy: Policy,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    wanted = ["vip", f"vip_tier_{tier}", f"sev_{severity.level.lower()}"]
    wanted.append(policy.enriched_tag)
    if severity.level == "P1" and policy.tiers[tier].page_management:
        wanted.append(MANAGEMENT_TAG)
    if frustration is not None and frustration.escalate:
        wanted.append(FRUSTRATION_TAG)

    stale = tuple(
        tag
        for tag in ticket.tags
        if tag.startswith(OWN_TAG_PREFIXES) and tag not in wanted
    )
    return tuple(wanted), stale


def _fields(
    tier: str,
    severity: SeverityDecision,
    account: AccountFacts | None,
    frustration: FrustrationResult | None,
    policy: Policy,
) -> tuple[tuple[int, object], ...]:
    ids = policy.fields
    values: list[tuple[int | None, object]] = [
        (ids.tier, tier),
        (ids.severity, severity.level.lower()),
    ]
    if account is not None and account.contract_value is not None:
        values.append((ids.contract_value, account.contract_value))
    if account is not None and account.owner_name:
        values.append((ids.account_owner, account.owner_name))
    if frustration is not None and frustration.scores:
        values.append((ids.frustration, round(frustration.score, 2)))

    return tuple((field_id, value) for field_id, value in values if field_id)


def plan_write(
    ticket: TicketFacts,
    decision: Decision,
    *,
    last_written: Mapping[str, object] | None = None,
    last_note_key: str | None = None,
) -> WritePlan:
    """The difference between the ticket and the decision, as one update.

    A field an agent changed after the sidecar last wrote it is left alone
    unless the decision itself changed. The note is posted only when the
    decision's key (tier, severity, raise) differs from the last noted one.
    """
    if not decision.is_vip:
        return WritePlan()

    last = last_written or {}
    priority = _changed(ticket.priority, decision.priority, last.get("priority"))
    group_id = _changed(ticket.group_id, decision.group_id, last.get("group_id"))
    tags = _new_tags(ticket.tags, decision)
    fields = tuple(
        (field_id, value)
        for field_id, value in decision.custom_fields
        if ticket.custom_field(field_id) != value
    )
    noted = latest_noted_key(ticket) or last_note_key
    note = decision.note if note_key(decision) != noted else None

    return WritePlan(priority, group_id, tags, fields, note)


def _changed(current: object, wanted: object, last: object) -> object:
    if wanted is None or current == wanted:
        return None
    if last is not None and last == wanted:
        # The sidecar already set this value once; somebody changed it since.
        return None

    return wanted


def _new_tags(current: Sequence[str], decision: Decision) -> tuple[str, ...] | None:
    kept = [tag for tag in current if tag not in decision.tags_remove]
    merged = kept + [tag for tag in decision.tags_add if tag not in kept]
    if merged == list(current):
        return None

    return tuple(merged)


def latest_noted_key(ticket: TicketFacts) -> str | None:
    """The key of the newest decision note in the ticket's comments, if any."""
    for comment in reversed(ticket.comments):
        if not comment.public and comment.body.startswith(NOTE_MARKER):
            first_line = comment.body.split("\n", 1)[0]
            return first_line[len(NOTE_MARKER) :].strip() or None

    return None


def note_key(decision: Decision) -> str:
    """What the note explains; a new note is due only when this changes."""
    severity = decision.severity
    level = severity.level if severity else "-"
    raised = "raised" if severity and severity.raised_by_frustration else "plain"
    return f"{decision.tier.tier}:{level}:{raised}"


def render_note(
    decision: Decision, account: AccountFacts | None, policy: Policy
) -> str:
    """The internal note that explains the decision to the agents."""
    tier = decision.tier
    lines = [
        f"{NOTE_MARKER} {note_key(decision)}",
        f"VIP tier: {tier.tier} (from {'; '.join(tier.sources)})",
    ]
    lines.extend(_account_lines(account))

    severity = decision.severity
    if severity is not None:
        lines.append(f"Severity: {severity.level}")
        lines.extend(f"  - {reason}" for reason in severity.reasons)

    lines.extend(_frustration_lines(decision.frustration))
    lines.append(f"Priority: {decision.priority}; group: {decision.group_id}")
    if MANAGEMENT_TAG in decision.tags_add:
        lines.append("P1 for a management-paged tier: management is involved.")
    for metric, due in decision.due:
        label = metric.replace("_", " ")
        lines.append(f"Due: {label} by {due:%Y-%m-%d %H:%M} UTC")

    return "\n".join(lines)


def _account_lines(account: AccountFacts | None) -> list[str]:
    if account is None:
        return ["CRM: not consulted"]
    if account.lookup in ("none", "free_mail"):
        return [f"CRM: no account found ({account.lookup.replace('_', '-')})"]
    if account.lookup == "ambiguous":
        return [
            f"CRM: ambiguous, {len(account.candidates)} accounts match; not guessed"
        ]
    if account.lookup == "error":
        return [f"CRM: unreachable ({account.error}); decided without it"]

    value = (
        "unknown"
        if account.contract_value is None
        else f"{account.contract_value:,.0f}"
    )
    freshness = {
        "stale": " [stale cache: CRM unreachable]",
        "cached": " [cached]",
    }.get(account.freshness, "")
    return [
        f"Account: {account.name} ({account.account_id}), matched by {account.lookup}"
        f"{freshness}",
        f"Contract value: {value}; account owner: {account.owner_name or 'unknown'}",
    ]


def _frustration_lines(frustration: FrustrationResult | None) -> list[str]:
    if frustration is None or not frustration.scores:
        return []
    trend = "rising" if frustration.trend > 0.05 else "steady"
    if frustration.trend < -0.05:
        trend = "falling"
    lines = [f"Frustration: {frustration.score:.2f} ({trend})"]
    lines.extend(f"  - {reason}" for reason in frustration.reasons)

    return lines
