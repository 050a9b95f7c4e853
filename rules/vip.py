"""VIP recognition: which tier a ticket belongs to, and every reason why.

Four sources can name a tier: the requester's email domain (YAML list), a tag
on the Zendesk organization, the CRM account's tier value, and the CRM
account's contract value against thresholds. When several agree or disagree,
the best-ranked tier wins and every source is kept for the note.
"""

from __future__ import annotations

from rules.config import Policy
from rules.model import AccountFacts, TicketFacts, TierDecision


def email_domain(email: str) -> str:
    """The lower-cased domain of ``email`` ('' when there is none)."""
    local, at, domain = (email or "").strip().rpartition("@")
    if not at or not local:
        return ""

    return domain.lower().rstrip(".")


def _domain_candidates(domain: str) -> list[str]:
    """``a.b.example.com`` -> itself, then each parent down to two labels."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(max(len(labels) - 1, 1))]


def classify_tier(
    ticket: TicketFacts, account: AccountFacts | None, policy: Policy
) -> TierDecision:
    """Decide the ticket's tier from all four sources (None: not a VIP)."""
    votes = _votes(ticket, account, policy)
    if not votes:
        return TierDecision(tier=None)

    best = min(votes, key=lambda vote: policy.tiers[vote[0]].rank)[0]
    return TierDecision(tier=best, sources=tuple(reason for _, reason in votes))


def _votes(
    ticket: TicketFacts, account: AccountFacts | None, policy: Policy
) -> list[tuple[str, str]]:
    votes: list[tuple[str, str]] = []
    rules = policy.vip

    domain = email_domain(ticket.requester.email)
    for candidate in _domain_candidates(domain) if domain else []:
        if candidate in rules.email_domains:
            votes.append((rules.email_domains[candidate], f"email domain {candidate}"))
            break

    org_tags = ticket.organization.tags if ticket.organization else ()
    for tag in org_tags:
        if tag in rules.organization_tags:
            votes.append((rules.organization_tags[tag], f"organization tag {tag}"))

    if account is not None and account.account_id:
        votes.extend(_crm_votes(account, policy))

    return votes


def _crm_votes(account: AccountFacts, policy: Policy) -> list[tuple[str, str]]:
    votes: list[tuple[str, str]] = []
    stale = " (cached, CRM unreachable)" if account.freshness == "stale" else ""

    raw_tier = (account.tier or "").strip().lower()
    if raw_tier in policy.vip.crm_tiers:
        tier = policy.vip.crm_tiers[raw_tier]
        votes.append((tier, f"CRM tier {account.tier}{stale}"))

    value = account.contract_value
    for minimum, tier in policy.vip.contract_value:
        if value is not None and value >= minimum:
            reason = f"contract value {value:,.0f} >= {minimum:,.0f}{stale}"
            votes.append((tier, reason))
            break

    return votes
