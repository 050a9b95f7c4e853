import pytest

from rules.model import Requester
from rules.vip import classify_tier, email_domain
from tests.rules.factories import account, org, policy, ticket

POLICY = policy()


@pytest.mark.parametrize(
    ("email", "org_tags", "crm", "tier", "sources"),
    [
        pytest.param("a@smallco.example", (), None, None, (), id="nobody"),
        pytest.param(
            "a@bigco.example",
            (),
            None,
            "gold",
            ("email domain bigco.example",),
            id="domain",
        ),
        pytest.param(
            "a@eu.bigco.example",
            (),
            None,
            "gold",
            ("email domain bigco.example",),
            id="subdomain",
        ),
        pytest.param(
            "A@BigCo.Example",
            (),
            None,
            "gold",
            ("email domain bigco.example",),
            id="domain-case",
        ),
        pytest.param("a@notbigco.example", (), None, None, (), id="lookalike-domain"),
        pytest.param(
            "a@x.example",
            ("vip_platinum",),
            None,
            "platinum",
            ("organization tag vip_platinum",),
            id="org-tag",
        ),
        pytest.param(
            "a@x.example",
            (),
            account(tier="Gold"),
            "gold",
            ("CRM tier Gold",),
            id="crm-tier",
        ),
        pytest.param(
            "a@x.example",
            (),
            account(tier="gold "),
            "gold",
            ("CRM tier gold ",),
            id="crm-tier-case",
        ),
        pytest.param(
            "a@x.example",
            (),
            account(contract_value=150000),
            "silver",
            ("contract value 150,000 >= 100,000",),
            id="value-silver",
        ),
        pytest.param(
            "a@x.example", (), account(contract_value=99999), None, (), id="value-below"
        ),
        pytest.param(
            "a@bigco.example",
            (),
            account(tier="Silver", contract_value=600000),
            "platinum",
            (
                "email domain bigco.example",
                "CRM tier Silver",
                "contract value 600,000 >= 500,000",
            ),
            id="best-rank-wins-all-recorded",
        ),
    ],
)
def test_classify_tier(email, org_tags, crm, tier, sources):
    facts = ticket(
        requester=Requester(id=1, email=email),
        organization=org(*org_tags) if org_tags else None,
    )

    decision = classify_tier(facts, crm, POLICY)

    assert decision.tier == tier
    assert decision.sources == sources


def test_stale_crm_value_says_so():
    facts = ticket()

    decision = classify_tier(facts, account(tier="Gold", freshness="stale"), POLICY)

    assert decision.sources == ("CRM tier Gold (cached, CRM unreachable)",)


def test_account_without_id_is_ignored():
    decision = classify_tier(ticket(), account(account_id=None, tier="Gold"), POLICY)

    assert decision.tier is None


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("a@B.example", "b.example"),
        ("nobody", ""),
        ("", ""),
        ("x@y.example.", "y.example"),
    ],
)
def test_email_domain(email, domain):
    assert email_domain(email) == domain
