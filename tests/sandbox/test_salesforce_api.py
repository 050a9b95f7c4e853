"""The sandbox's Salesforce surface, driven by the real simple-salesforce client."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
)
from simple_salesforce.format import format_soql

from sidecar.clock import OffsetClock
from sidecar.sandbox import Sandbox, SandboxConfig, seed, soql
from tests.sandbox.conftest import tls_session

pytestmark = pytest.mark.e2e

CONTACT_QUERY = (
    "SELECT Id, Email, Account.Name, Account.Tier__c, Account.Contract_Value__c, "
    "Account.Owner.Name, Account.Owner.Email FROM Contact WHERE Email = {} LIMIT 1"
)


def fetch_token(sandbox: Sandbox, **form: str) -> dict[str, str]:
    form.setdefault("grant_type", "client_credentials")
    response = tls_session(sandbox).post(
        f"{sandbox.url}/services/oauth2/token",
        data=form,
        auth=(sandbox.config.sf_consumer_key, sandbox.config.sf_consumer_secret),
    )
    assert response.status_code == 200, response.text
    return response.json()


def salesforce(sandbox: Sandbox) -> Salesforce:
    token = fetch_token(sandbox)
    assert token["instance_url"] == sandbox.url
    return Salesforce(
        instance_url=token["instance_url"],
        session_id=token["access_token"],
        session=tls_session(sandbox),
    )


def test_contact_by_email_returns_nested_account_and_owner(sandbox: Sandbox) -> None:
    sf = salesforce(sandbox)

    result = sf.query(format_soql(CONTACT_QUERY, "DEWI@nusantara-logistik.example"))

    assert result["totalSize"] == 1
    record = result["records"][0]
    assert record["attributes"]["type"] == "Contact"
    account = record["Account"]
    assert account["attributes"]["type"] == "Account"
    assert (account["Name"], account["Tier__c"]) == (
        "PT Nusantara Logistik Contoh",
        "Platinum",
    )
    assert account["Contract_Value__c"] == 750000
    assert account["Owner"]["Email"] == "rina.manager@example.com"
    assert sf.api_usage["api-usage"].used == 1


def test_contact_without_account_has_null_relationship(sandbox: Sandbox) -> None:
    result = salesforce(sandbox).query(
        format_soql(CONTACT_QUERY, "owen@nowhere.example")
    )

    assert result["records"][0]["Account"] is None


def test_escaped_quotes_cannot_widen_the_query(sandbox: Sandbox) -> None:
    hostile = "x' OR Email != '"

    result = salesforce(sandbox).query(format_soql(CONTACT_QUERY, hostile))

    assert result == {"totalSize": 0, "done": True, "records": []}


def test_query_all_follows_next_records_url(sandbox: Sandbox) -> None:
    sf = salesforce(sandbox)
    query = format_soql(
        "SELECT Id, Name, Website FROM Account WHERE Website LIKE '%{:like}%' LIMIT 50",
        ".example",
    )

    first = sf.query(query)
    records = list(sf.query_all_iter(query))

    assert first["done"] is False
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert len(records) == len(seed.default_seed()["salesforce"]["accounts"])
    assert sandbox.calls()["GET query more"] == 3


def test_like_finds_both_accounts_sharing_a_website(sandbox: Sandbox) -> None:
    query = format_soql(
        "SELECT Id, Name FROM Account WHERE Website LIKE '%{:like}%' LIMIT 10",
        "twin-holdings.example",
    )

    records = list(salesforce(sandbox).query_all_iter(query))

    assert {r["Id"] for r in records} == {
        seed.ACCOUNT_TWIN_APAC,
        seed.ACCOUNT_TWIN_EMEA,
    }


def test_unknown_field_is_invalid_field(sandbox: Sandbox) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        salesforce(sandbox).query("SELECT Id, SLA__c FROM Account LIMIT 1")

    error = raised.value.content[0]
    assert error["errorCode"] == "INVALID_FIELD"
    assert "No such column 'SLA__c' on entity 'Account'" in error["message"]


def test_garbled_query_is_malformed(sandbox: Sandbox) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        salesforce(sandbox).query("SELECT FROM Account WHERE")

    assert raised.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_expired_tokens_answer_invalid_session_id(sandbox: Sandbox) -> None:
    sf = salesforce(sandbox)
    sf.query("SELECT Id FROM Account LIMIT 1")
    sandbox.expire_tokens()

    with pytest.raises(SalesforceExpiredSession) as raised:
        sf.query("SELECT Id FROM Account LIMIT 1")

    assert raised.value.status == 401
    assert raised.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


def test_tokens_expire_with_the_simulated_clock() -> None:
    clock = OffsetClock()
    config = SandboxConfig(sf_token_lifetime=60)
    with Sandbox(config, clock=clock) as sandbox:
        sf = salesforce(sandbox)
        clock.advance(timedelta(seconds=61))

        with pytest.raises(SalesforceExpiredSession):
            sf.query("SELECT Id FROM Account LIMIT 1")


def test_bad_client_secret_is_invalid_grant(sandbox: Sandbox) -> None:
    response = tls_session(sandbox).post(
        f"{sandbox.url}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(sandbox.config.sf_consumer_key, "wrong"),
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "authentication failure",
    }


@pytest.mark.parametrize(
    ("issuer", "status"),
    [("sandbox-key", 200), ("someone-else", 400)],
    ids=["issuer-is-consumer-key", "foreign-issuer"],
)
def test_jwt_bearer_checks_the_issuer(
    sandbox: Sandbox, issuer: str, status: int
) -> None:
    claims = {
        "iss": issuer,
        "sub": "integration@example.com",
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 180,
    }
    assertion = jwt.encode(claims, "not-checked-by-the-sandbox-0123456789", "HS256")
    response = tls_session(sandbox).post(
        f"{sandbox.url}/services/oauth2/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": assertion,
        },
    )

    assert response.status_code == status


def test_password_grant_needs_user_and_client(sandbox: Sandbox) -> None:
    config = sandbox.config
    token = fetch_token(
        sandbox,
        grant_type="password",
        username=config.sf_username,
        password=config.sf_password,
        client_id=config.sf_consumer_key,
        client_secret=config.sf_consumer_secret,
    )

    assert token["token_type"] == "Bearer"
    assert sandbox.token_valid(token["access_token"])


def test_every_data_response_reports_api_usage(sandbox: Sandbox) -> None:
    sf = salesforce(sandbox)

    for _ in range(3):
        sf.query("SELECT Id FROM User LIMIT 1")

    assert sf.api_usage["api-usage"].used == 3
    assert sf.api_usage["api-usage"].total == 15000


@pytest.mark.parametrize(
    ("value", "like"),
    [
        ("o'brien@example.com", False),
        ('quote"d\\back@example.com', False),
        ("line\nbreak", False),
        ("100%_sure", True),
    ],
    ids=["single-quote", "double-quote-backslash", "newline", "like-wildcards"],
)
def test_unescape_reverses_format_soql(value: str, like: bool) -> None:
    literal = format_soql("{:like}" if like else "{}", value)
    inner = literal if like else literal[1:-1]

    text = soql.unescape(inner, like)

    if like:
        assert soql.like_to_regex(text).fullmatch(value)
        assert not soql.like_to_regex(text).fullmatch("100xysure")
    else:
        assert text == value
