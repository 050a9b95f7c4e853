"""CRM enrichment: lookup order, ambiguity, free mail, TTL cache and fallbacks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connector.errors import FieldMissing
from connector.salesforce import SalesforceConnector, SalesforceSettings
from sidecar.enrich import FREE_MAIL_DEFAULT, AccountResolver, email_domain

INSTANCE = "https://127.0.0.1:8444"
TOKEN_URL = f"{INSTANCE}/services/oauth2/token"
QUERY_URL = f"{INSTANCE}/services/data/v59.0/query/"
NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
TTL = 3600


class MemoryCache:
    """The store's CRM cache contract, kept in memory as JSON text."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, datetime]] = {}

    def cache_get(self, key: str) -> tuple[dict, datetime] | None:
        row = self.rows.get(key)
        return None if row is None else (json.loads(row[0]), row[1])

    def cache_put(self, key: str, value: dict, fetched_at: datetime) -> None:
        self.rows[key] = (json.dumps(value), fetched_at)


@dataclass
class Crm:
    """A Salesforce org behind `responses`: contacts by e-mail and accounts."""

    contacts: dict[str, list[str]] = field(default_factory=dict)
    websites: dict[str, str] = field(default_factory=dict)
    status: int = 200
    body: Any = None

    def answer(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.status != 200:
            return self.status, {}, json.dumps(self.body)

        soql = parse_qs(urlsplit(request.url).query)["q"][0]
        rows = self._contacts(soql) if "FROM Contact" in soql else self._accounts()
        return (
            200,
            {},
            json.dumps({"totalSize": len(rows), "done": True, "records": rows}),
        )

    def _contacts(self, soql: str) -> list[dict[str, Any]]:
        email = soql.split("Email = '", 1)[1].split("'", 1)[0]
        return [
            {
                "Id": f"003{n}",
                "Email": email,
                "AccountId": account_id,
                "Account": {"Name": f"Account {account_id}", "Tier__c": "Platinum"},
            }
            for n, account_id in enumerate(self.contacts.get(email, []))
        ]

    def _accounts(self) -> list[dict[str, Any]]:
        return [
            {"Id": account_id, "Name": f"Account {account_id}", "Website": site}
            | {"Tier__c": "Gold", "Contract_Value__c": 120000.0}
            for account_id, site in self.websites.items()
        ]


@pytest.fixture
def crm() -> Any:
    org = Crm()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        token = {"access_token": "tok", "instance_url": INSTANCE}
        rsps.post(TOKEN_URL, json=token)
        rsps.add_callback(responses.GET, QUERY_URL, callback=org.answer)
        yield org


def make_resolver(cache: Any | None = None) -> tuple[AccountResolver, Any]:
    settings = SalesforceSettings(
        domain="acme.my", consumer_key="ck", consumer_secret="cs", token_url=TOKEN_URL
    )
    connector = SalesforceConnector(settings)
    resolver = AccountResolver(connector, cache or MemoryCache(), ttl_seconds=TTL)
    return resolver, connector


def test_contact_email_wins_without_a_domain_query(crm: Crm) -> None:
    crm.contacts["carol@uog.example"] = ["001EMAIL"]
    crm.websites["001DOMAIN"] = "http://www.uog.example"
    resolver, connector = make_resolver()

    facts = resolver.resolve("Carol@UOG.example ", NOW)

    assert (facts.account_id, facts.lookup, facts.freshness) == (
        "001EMAIL",
        "email",
        "live",
    )
    assert facts.tier == "Platinum"
    assert connector.calls["GET query"] == 1


def test_domain_fallback_matches_the_normalised_website(crm: Crm) -> None:
    crm.websites["001UOS"] = "http://www.uos.example"
    crm.websites["001NOT"] = "notuos.example"
    resolver, connector = make_resolver()

    facts = resolver.resolve("dave@uos.example", NOW)

    assert (facts.account_id, facts.lookup) == ("001UOS", "domain")
    assert facts.contract_value == 120000.0
    assert connector.calls["GET query"] == 2


def test_free_mail_is_never_domain_matched(crm: Crm) -> None:
    crm.websites["001G"] = "gmail.com"
    resolver, connector = make_resolver()

    facts = resolver.resolve("someone@gmail.com", NOW)

    assert facts.lookup == "free_mail"
    assert facts.account_id is None
    assert connector.calls["GET query"] == 1


def test_free_mail_contact_still_matches_by_email(crm: Crm) -> None:
    crm.contacts["ceo@gmail.com"] = ["001VIP"]
    resolver, _ = make_resolver()

    facts = resolver.resolve("ceo@gmail.com", NOW)

    assert (facts.account_id, facts.lookup) == ("001VIP", "email")


@pytest.mark.parametrize(
    ("contacts", "websites", "email"),
    [
        ({"a@x.example": ["001B", "001A"]}, {}, "a@x.example"),
        ({}, {"001B": "www.x.example", "001A": "https://x.example/"}, "b@x.example"),
    ],
    ids=["two-contacts", "two-websites"],
)
def test_several_accounts_are_ambiguous_never_guessed(
    crm: Crm, contacts: dict[str, list[str]], websites: dict[str, str], email: str
) -> None:
    crm.contacts.update(contacts)
    crm.websites.update(websites)
    resolver, _ = make_resolver()

    facts = resolver.resolve(email, NOW)

    assert facts.lookup == "ambiguous"
    assert facts.account_id is None
    assert facts.candidates == ("001A", "001B")


def test_nothing_found_is_none(crm: Crm) -> None:
    resolver, _ = make_resolver()

    assert resolver.resolve("x@unknown.example", NOW).lookup == "none"
    assert resolver.resolve("not-an-address", NOW).lookup == "none"


def test_second_resolve_within_ttl_makes_no_call(crm: Crm) -> None:
    crm.contacts["carol@uog.example"] = ["001EMAIL"]
    resolver, connector = make_resolver()

    resolver.resolve("carol@uog.example", NOW)
    again = resolver.resolve("carol@uog.example", NOW + timedelta(seconds=TTL - 1))

    assert (again.account_id, again.freshness) == ("001EMAIL", "cached")
    assert again.tier == "Platinum"
    assert connector.calls["GET query"] == 1


def test_negative_answers_are_cached_too(crm: Crm) -> None:
    resolver, connector = make_resolver()

    resolver.resolve("x@unknown.example", NOW)
    again = resolver.resolve("x@unknown.example", NOW + timedelta(minutes=5))

    assert (again.lookup, again.freshness) == ("none", "cached")
    assert connector.calls["GET query"] == 2


def test_after_ttl_one_call_refreshes(crm: Crm) -> None:
    crm.contacts["carol@uog.example"] = ["001OLD"]
    resolver, connector = make_resolver()
    resolver.resolve("carol@uog.example", NOW)
    crm.contacts["carol@uog.example"] = ["001NEW"]

    later = resolver.resolve("carol@uog.example", NOW + timedelta(seconds=TTL))

    assert (later.account_id, later.freshness) == ("001NEW", "live")
    assert connector.calls["GET query"] == 2


def test_stale_value_serves_while_salesforce_fails(crm: Crm) -> None:
    crm.websites["001UOS"] = "uos.example"
    resolver, _ = make_resolver()
    resolver.resolve("dave@uos.example", NOW)
    crm.status, crm.body = 503, [{"errorCode": "SERVER_UNAVAILABLE"}]

    facts = resolver.resolve("dave@uos.example", NOW + timedelta(hours=5))

    assert (facts.account_id, facts.lookup, facts.freshness) == (
        "001UOS",
        "domain",
        "stale",
    )


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (503, [{"errorCode": "SERVER_UNAVAILABLE"}], "upstream_unavailable"),
        (403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED"}], "rate_limited"),
        (401, [{"errorCode": "INVALID_SESSION_ID"}], "auth_failed"),
    ],
    ids=["outage", "limit", "session"],
)
def test_failure_without_cache_is_an_error_result(
    crm: Crm, status: int, body: Any, code: str
) -> None:
    crm.status, crm.body = status, body
    resolver, _ = make_resolver()

    facts = resolver.resolve("dave@uos.example", NOW)

    assert (facts.lookup, facts.error) == ("error", code)


def test_field_missing_is_raised(crm: Crm) -> None:
    message = "No such column 'Tier__c' on entity 'Account'."
    crm.status, crm.body = 400, [{"errorCode": "INVALID_FIELD", "message": message}]
    resolver, _ = make_resolver()

    with pytest.raises(FieldMissing, match="Tier__c"):
        resolver.resolve("dave@uos.example", NOW)


def test_works_with_the_store_cache(crm: Crm, store: Any) -> None:
    crm.contacts["carol@uog.example"] = ["001EMAIL"]
    resolver, connector = make_resolver(store)

    resolver.resolve("carol@uog.example", NOW)
    again = resolver.resolve("carol@uog.example", NOW + timedelta(minutes=1))

    assert (again.account_id, again.freshness) == ("001EMAIL", "cached")
    assert connector.calls["GET query"] == 1


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("Jane@Example.COM", "example.com"),
        ("jane@mail.example.com.", "mail.example.com"),
        ('"odd@name"@acme.example', "acme.example"),
        ("no-at-sign", ""),
    ],
    ids=["case", "trailing-dot", "quoted-local-part", "invalid"],
)
def test_email_domain(email: str, domain: str) -> None:
    assert email_domain(email) == domain


def test_free_mail_default_covers_the_big_providers() -> None:
    assert {"gmail.com", "outlook.com", "yahoo.co.id", "proton.me"} <= FREE_MAIL_DEFAULT
