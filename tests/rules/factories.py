"""Small builders for rule tests: facts with sensible defaults."""

from __future__ import annotations

from datetime import UTC, datetime

from rules.config import parse_policy_text
from rules.model import AccountFacts, Organization, Requester, TicketFacts

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

POLICY_TEXT = """
zendesk: {subdomain: acme}
salesforce: {domain: acme.my}
tiers:
  platinum: {rank: 1, group_id: 101, page_management: true}
  gold: {rank: 2, group_id: 102, page_management: true}
  silver: {rank: 3, group_id: 103}
vip:
  email_domains: {bigco.example: gold}
  organization_tags: {vip_platinum: platinum, enterprise: gold}
  crm_tiers: {Platinum: platinum, Gold: gold, Silver: silver}
  contract_value:
    - {min: 500000, tier: platinum}
    - {min: 100000, tier: silver}
fields: {tier: 201, severity: 203, contract_value: 202, account_owner: 204}
"""


def policy():
    return parse_policy_text(POLICY_TEXT)


def ticket(**overrides) -> TicketFacts:
    values = dict(
        id=1,
        subject="Cannot log in",
        description="Login fails for everyone",
        status="new",
        priority=None,
        type=None,
        tags=(),
        group_id=None,
        assignee_id=None,
        requester=Requester(id=10, email="ana@smallco.example"),
        organization=None,
        created_at=T0,
        updated_at=T0,
    )
    values.update(overrides)
    return TicketFacts(**values)


def org(*tags: str) -> Organization:
    return Organization(id=50, name="Org", tags=tags)


def account(**overrides) -> AccountFacts:
    values = dict(
        account_id="001A",
        name="Acme Corp",
        tier=None,
        contract_value=None,
        owner_name="Rina Manager",
        lookup="email",
    )
    values.update(overrides)
    return AccountFacts(**values)
