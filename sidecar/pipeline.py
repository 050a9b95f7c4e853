"""The pipeline: inbox events of one ticket -> facts -> decision -> one write.

Called by the worker with every claimed event of a ticket at once (coalesced).
It re-reads the ticket (webhooks are only a doorbell), asks the CRM about the
account, lets ``rules/`` decide, writes the difference in one safe update and
refreshes the ticket's SLA clocks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from connector.errors import UpdateConflict
from rules.config import Policy
from rules.decide import WritePlan, decide, note_key, plan_write
from rules.frustration import apply_frustration, has_relief, score_frustration
from rules.model import (
    SEVERITIES,
    AccountFacts,
    Decision,
    FrustrationResult,
    SeverityDecision,
    TicketFacts,
    TierDecision,
)
from rules.severity import TriagePolicy, classify_severity
from rules.vip import classify_tier
from sidecar.errors import SidecarError

log = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 3


class CrmUnavailable(SidecarError):
    """The CRM failed and nothing else recognised the ticket; retried later."""

    code = "crm_unavailable"
    http_status = 503
    transient = True
    retry_after = 60.0


class Pipeline:
    """Handles the events of one ticket; safe to call again for the same ticket."""

    def __init__(
        self,
        *,
        policy: Policy,
        triage: TriagePolicy | None,
        store: Any,
        zendesk: Any,
        resolver: Any | None,
        sweeper: Any | None,
        clock: Any,
        api_user_id: Callable[[], int | None],
    ) -> None:
        self.policy = policy
        self.triage = triage
        self.store = store
        self.zendesk = zendesk
        self.resolver = resolver
        self.sweeper = sweeper
        self.clock = clock
        self.api_user_id = api_user_id

    def handle(self, ticket_id: int, events: Sequence[Any]) -> None:
        own = self.api_user_id()
        if events and own is not None and all(e.actor_id == own for e in events):
            log.info("ticket %s: %d own event(s) skipped", ticket_id, len(events))
            return

        for attempt in range(1, MAX_CONFLICT_RETRIES + 1):
            try:
                self.process(ticket_id)
                return
            except UpdateConflict:
                log.warning(
                    "ticket %s: update conflict, re-reading (%d)", ticket_id, attempt
                )

        raise UpdateConflict(f"ticket {ticket_id}: still conflicting after retries")

    def process(self, ticket_id: int) -> Decision:
        now = self.clock.now()
        ticket = self.zendesk.fetch_ticket(ticket_id)
        account = self._account(ticket, now)
        tier = classify_tier(ticket, account, self.policy)
        state = self.store.get_ticket(ticket_id) or {}

        if tier.tier is None and account is not None and account.lookup == "error":
            # Only the CRM could still make this a VIP: decide when it answers.
            raise CrmUnavailable(f"ticket {ticket_id}: CRM unreachable, not decided")

        if tier.tier is None:
            return self._not_vip(ticket, account, state, now)

        ticket = self.zendesk.fetch_history(ticket)
        severity, frustration = self._triage(ticket, tier.tier, state)
        clocks = self._clocks(ticket, tier.tier, severity.level, account, now)
        decision = decide(
            ticket,
            account,
            tier,
            severity,
            frustration,
            self.policy,
            due=_due_times(clocks),
        )
        self._write(ticket, decision, account, state, now)
        return decision

    def _account(self, ticket: TicketFacts, now: datetime) -> AccountFacts | None:
        if self.resolver is None or not ticket.requester.email:
            return None

        return self.resolver.resolve(ticket.requester.email, now)

    def _not_vip(
        self,
        ticket: TicketFacts,
        account: AccountFacts | None,
        state: dict,
        now: datetime,
    ) -> Decision:
        if state.get("tier") and self.sweeper is not None:
            # It was a VIP ticket and is no more: its clocks stop alerting.
            self.store.replace_clocks(ticket.id, [], now)
        record = {**state, "tier": None, "vip": False, "decided_at": now.isoformat()}
        record["lookup"] = account.lookup if account else "not consulted"
        record["account"] = asdict(account) if account else None
        self.store.save_ticket(ticket.id, record, now)
        log.info("ticket %s: not a VIP, no write", ticket.id)

        return decide(ticket, account, TierDecision(None), None, None, self.policy)

    def _triage(
        self, ticket: TicketFacts, tier: str, state: dict
    ) -> tuple[SeverityDecision, FrustrationResult]:
        messages = customer_messages(ticket)
        frustration = score_frustration(messages, self.triage)
        requester_priority = ticket.priority if not state.get("written") else None
        severity = classify_severity(
            ticket.subject,
            ticket.description,
            ticket_type=ticket.type,
            requester_priority=requester_priority,
            tier=tier,
            policy=self.triage,
        )
        severity = raise_for_followups(severity, messages[1:], self.triage)
        raised_before = bool(state.get("raised"))
        if frustration.escalate or raised_before:
            severity = apply_frustration(severity, _sticky(frustration, raised_before))

        return severity, frustration

    def _clocks(
        self,
        ticket: TicketFacts,
        tier: str,
        severity: str,
        account: AccountFacts | None,
        now: datetime,
    ) -> list[Any]:
        if self.sweeper is None:
            return []

        return (
            self.sweeper.refresh_ticket(
                ticket, tier=tier, severity=severity, account=account, now=now
            )
            or []
        )

    def _write(
        self,
        ticket: TicketFacts,
        decision: Decision,
        account: AccountFacts | None,
        state: dict,
        now: datetime,
    ) -> None:
        plan = plan_write(
            ticket,
            decision,
            last_written=state.get("written"),
            last_note_key=state.get("note_key"),
        )
        if ticket.status == "closed":
            # Zendesk refuses every update to a closed ticket.
            plan = WritePlan()
        if not plan.is_empty:
            self.zendesk.update_ticket(
                ticket.id,
                updated_stamp=ticket.updated_at,
                priority=plan.priority,
                group_id=plan.group_id,
                tags=list(plan.tags) if plan.tags is not None else None,
                custom_fields=plan.custom_fields,
                note=plan.note,
            )

        self.store.save_ticket(
            ticket.id, _record(state, decision, plan, account, now), now
        )
        log.info(
            "ticket %s: tier %s severity %s, %s",
            ticket.id,
            decision.tier.tier,
            decision.severity.level if decision.severity else "-",
            "no change" if plan.is_empty else "written",
        )


def customer_messages(ticket: TicketFacts) -> list[str]:
    """The requester's own public words, oldest first (the description first)."""
    messages = [
        comment.body
        for comment in ticket.comments
        if comment.author_id == ticket.requester.id and comment.public and comment.body
    ]
    if not messages and ticket.description:
        messages = [ticket.description]

    return messages


# Follow-ups read for new severity evidence: the latest ones.
FOLLOWUPS_READ = 10


def raise_for_followups(
    severity: SeverityDecision,
    followups: Sequence[str],
    triage: TriagePolicy | None,
) -> SeverityDecision:
    """A later customer message can make the ticket P1, never less severe.

    "Now everything is down and our data is lost" in a follow-up is as much
    evidence as it would be in the description. A follow-up without P1
    evidence changes nothing (it says less than the description did), and
    one that sounds relieved ("thanks, the outage is over") raises nothing.
    """
    best = severity
    for text in followups[-FOLLOWUPS_READ:]:
        found = classify_severity("", text, policy=triage)
        if found.level != "P1" or has_relief(text, triage):
            continue

        if SEVERITIES.index(found.level) < SEVERITIES.index(best.level):
            reasons = tuple(f"follow-up: {reason}" for reason in found.reasons)
            best = SeverityDecision(level=found.level, reasons=reasons)

    if best is severity:
        return severity

    why = f"raised {severity.level} -> {best.level} by a later customer message"

    return SeverityDecision(
        level=best.level,
        reasons=(*best.reasons, why),
        raised_by_frustration=severity.raised_by_frustration,
    )


def _sticky(frustration: FrustrationResult, raised_before: bool) -> FrustrationResult:
    """Once raised for frustration, a ticket keeps its one raise."""
    if frustration.escalate or not raised_before:
        return frustration

    reasons = (*frustration.reasons, "raised earlier for frustration; kept")
    return FrustrationResult(
        **{**asdict(frustration), "escalate": True, "reasons": reasons}
    )


def _due_times(clocks: Sequence[Any]) -> list[tuple[str, datetime]]:
    due = []
    for clock in clocks:
        if getattr(clock, "due_at", None) is not None and clock.state == "running":
            due.append((clock.metric, clock.due_at))

    return due


def _record(
    state: dict,
    decision: Decision,
    plan: Any,
    account: AccountFacts | None,
    now: datetime,
) -> dict:
    written = {**(state.get("written") or {}), **plan.written()}
    severity = decision.severity
    record = {
        **state,
        "vip": True,
        "tier": decision.tier.tier,
        "tier_sources": list(decision.tier.sources),
        "severity": severity.level if severity else None,
        "raised": bool(
            state.get("raised") or (severity and severity.raised_by_frustration)
        ),
        "frustration": decision.frustration.score if decision.frustration else None,
        "account": asdict(account) if account else None,
        "written": written,
        "decided_at": now.isoformat(),
        "writes": int(state.get("writes", 0)) + (0 if plan.is_empty else 1),
        "notes": int(state.get("notes", 0)) + (1 if plan.note else 0),
    }
    if plan.note:
        record["note_key"] = note_key(decision)

    return record
