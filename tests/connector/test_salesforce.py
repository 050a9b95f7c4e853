"""Salesforce connector: token flows, account lookups and failures at the wire."""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connector.errors import AuthFailed, FieldMissing, RateLimited, UpstreamUnavailable
from connector.salesforce import (
    SalesforceConnector,
    SalesforceFields,
    SalesforceSettings,
    classify_call,
    normalise_domain,
)
from sidecar.errors import ConfigError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "salesforce"
INSTANCE = "https://127.0.0.1:8444"
TOKEN_URL = f"{INSTANCE}/services/oauth2/token"
QUERY_URL = f"{INSTANCE}/services/data/v59.0/query/"
SECRET = "cs-PLANTED-SECRET"
TIMEOUT = 7.0
EMAIL = "carol@uog.example"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def token_body(access_token: str | None = None) -> dict[str, Any]:
    body = load("token__password_flow.json")
    body["instance_url"] = INSTANCE
    if access_token:
        body["access_token"] = access_token
    return body


def make_connector(**overrides: Any) -> SalesforceConnector:
    values: dict[str, Any] = {
        "domain": "acme.my",
        "consumer_key": "ck-123",
        "consumer_secret": SECRET,
        "token_url": TOKEN_URL,
        "timeout": TIMEOUT,
    }
    values.update(overrides)
    return SalesforceConnector(SalesforceSettings(**values))


def contact(account_id: str | None, tier: str = "Platinum") -> dict[str, Any]:
    account = None
    if account_id:
        account = {
            "attributes": {"type": "Account", "url": f"/sobjects/Account/{account_id}"},
            "Name": "United Oil Example Corp.",
            "Tier__c": tier,
            "Contract_Value__c": 250000,
            "Owner": {
                "attributes": {"type": "User", "url": "/sobjects/User/005xx1"},
                "Name": "Olivia Owner",
                "Email": "olivia@vendor.example",
            },
        }
    return {
        "attributes": {"type": "Contact", "url": "/sobjects/Contact/003xx"},
        "Id": "003xx000004TmA3AAK",
        "Email": EMAIL,
        "AccountId": account_id,
        "Account": account,
    }


def account(account_id: str, website: str | None) -> dict[str, Any]:
    return {
        "attributes": {"type": "Account", "url": f"/sobjects/Account/{account_id}"},
        "Id": account_id,
        "Name": f"Account {account_id}",
        "Website": website,
        "Tier__c": "Gold",
        "Contract_Value__c": None,
        "Owner": None,
    }


def page(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"totalSize": len(records), "done": True, "records": records}


def soql_of(call: Any) -> str:
    return call.request.params["q"]


def form_of(call: Any) -> dict[str, list[str]]:
    return parse_qs(call.request.body)


def assert_timeouts(calls: Any) -> None:
    assert len(calls) > 0
    for call in calls:
        assert call.request.req_kwargs["timeout"] == TIMEOUT


def test_client_credentials_token_then_query_by_email() -> None:
    connector = make_connector()
    records = [contact("001xx000003DGa3AAG"), contact("001xx000003DGa3AAG")]
    records.append(contact(None))
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(TOKEN_URL, json=token_body())
        rsps.get(QUERY_URL, json=page(records))

        found = connector.find_accounts_by_email(EMAIL)

        token_call, query_call = rsps.calls
        assert_timeouts(rsps.calls)

    expected_basic = base64.b64encode(f"ck-123:{SECRET}".encode()).decode()
    assert token_call.request.headers["Authorization"] == f"Basic {expected_basic}"
    assert form_of(token_call) == {"grant_type": ["client_credentials"]}
    access = token_body()["access_token"]
    assert query_call.request.headers["Authorization"] == f"Bearer {access}"
    assert soql_of(query_call) == (
        "SELECT Id, Email, AccountId, Account.Name, Account.Tier__c, "
        "Account.Contract_Value__c, Account.Owner.Name, Account.Owner.Email "
        "FROM Contact WHERE Email = 'carol@uog.example' LIMIT 10"
    )
    assert len(found) == 1
    facts = found[0]
    assert facts.account_id == "001xx000003DGa3AAG"
    assert facts.name == "United Oil Example Corp."
    assert facts.tier == "Platinum"
    assert facts.contract_value == 250000.0
    assert (facts.owner_name, facts.owner_email) == (
        "Olivia Owner",
        "olivia@vendor.example",
    )
    assert facts.lookup == "email"
    assert connector.calls == {"POST token": 1, "GET query": 1}


def test_token_is_reused_across_queries() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(TOKEN_URL, json=token_body())
        rsps.get(QUERY_URL, json=load("query__empty.json"))

        assert connector.find_accounts_by_email(EMAIL) == []
        assert connector.find_accounts_by_email("other@uog.example") == []

    assert connector.calls == {"POST token": 1, "GET query": 2}


def test_calendar_field_is_read_when_configured() -> None:
    fields = SalesforceFields(calendar="Support_Calendar__c")
    connector = make_connector(fields=fields)
    record = contact("001A")
    record["Account"]["Support_Calendar__c"] = "emea-business"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(TOKEN_URL, json=token_body())
        query = rsps.get(QUERY_URL, json=page([record]))

        (facts,) = connector.find_accounts_by_email(EMAIL)

    assert "Account.Support_Calendar__c FROM Contact" in soql_of(query.calls[0])
    assert facts.calendar == "emea-business"


def test_jwt_bearer_assertion_shape(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "server.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    connector = make_connector(
        auth="jwt",
        consumer_secret="",
        username="integration@acme.example",
        private_key_file=str(key_file),
    )
    jwt_token = load("token__jwt_flow.json") | {"instance_url": INSTANCE}
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        token = rsps.post(TOKEN_URL, json=jwt_token)
        rsps.get(QUERY_URL, json=load("query__empty.json"))

        connector.find_accounts_by_email(EMAIL)

        request = token.calls[0].request

    form = form_of(token.calls[0])
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert "Authorization" not in request.headers
    claims = jwt.decode(
        form["assertion"][0],
        key.public_key(),
        algorithms=["RS256"],
        audience="https://login.salesforce.com",
    )
    assert claims["iss"] == "ck-123"
    assert claims["sub"] == "integration@acme.example"
    assert 0 < claims["exp"] - time.time() <= 180


def test_password_flow_warns_at_construction(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="connector.salesforce")
    connector = make_connector(
        auth="password", username="integration@acme.example", password="pw-SECRET"
    )
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        token = rsps.post(TOKEN_URL, json=token_body())
        rsps.get(QUERY_URL, json=load("query__empty.json"))

        connector.find_accounts_by_email(EMAIL)

    assert "retired" in caplog.text
    assert "pw-SECRET" not in caplog.text
    assert form_of(token.calls[0])["grant_type"] == ["password"]


def test_invalid_grant_raises_auth_failed() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(TOKEN_URL, status=400, json=load("token__invalid_grant.json"))

        with pytest.raises(AuthFailed) as caught:
            connector.find_accounts_by_email(EMAIL)

    assert "invalid_grant" in caught.value.message
    assert SECRET not in caught.value.message
    assert caught.value.transient is False


def test_token_endpoint_timeout_is_upstream_unavailable() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(TOKEN_URL, body=requests.ConnectTimeout("slow"))

        with pytest.raises(UpstreamUnavailable):
            connector.find_accounts_by_email(EMAIL)

        assert_timeouts(rsps.calls)


def test_hostile_email_is_escaped() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(TOKEN_URL, json=token_body())
        query = rsps.get(QUERY_URL, json=load("query__empty.json"))

        connector.find_accounts_by_email("x' OR Name != '")

    assert soql_of(query.calls[0]).endswith(
        "WHERE Email = 'x\\' OR Name != \\'' LIMIT 10"
    )


def test_domain_lookup_keeps_exact_normalised_matches_only() -> None:
    records = [
        account("001A", "http://www.uos.example"),
        account("001B", "notuos.example"),
        account("001C", "https://UOS.example:443/about"),
        account("001D", "uos.example.evil.example"),
        account("001E", None),
        account("001A", "www.uos.example"),
    ]
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(TOKEN_URL, json=token_body())
        query = rsps.get(QUERY_URL, json=page(records))

        found = connector.find_accounts_by_domain("WWW.uos.example.")

    assert [a.account_id for a in found] == ["001A", "001C"]
    assert all(a.lookup == "domain" and a.tier == "Gold" for a in found)
    assert found[0].owner_name == "" and found[0].contract_value is None
    assert soql_of(query.calls[0]) == (
        "SELECT Id, Name, Website, Tier__c, Contract_Value__c, Owner.Name, "
        "Owner.Email FROM Account WHERE Website LIKE '%uos.example%' LIMIT 50"
    )


def test_domain_like_wildcards_are_escaped() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(TOKEN_URL, json=token_body())
        query = rsps.get(QUERY_URL, json=load("query__empty.json"))

        connector.find_accounts_by_domain("ac_me%.example")

    assert "LIKE '%ac\\_me\\%.example%'" in soql_of(query.calls[0])


def test_query_follows_next_records_url() -> None:
    first = load("query__paginated_first_page.json")
    last = load("query__paginated_last_page.json")
    first["records"][0].update(Id="001P1", Website="uos.example")
    last["records"][0].update(Id="001P2", Website="www.uos.example")
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(TOKEN_URL, json=token_body())
        rsps.get(QUERY_URL, json=first)
        rsps.get(f"{INSTANCE}{first['nextRecordsUrl']}", json=last)

        found = connector.find_accounts_by_domain("uos.example")

        assert_timeouts(rsps.calls)

    assert [a.account_id for a in found] == ["001P1", "001P2"]
    assert connector.calls == {"POST token": 1, "GET query": 2}


def test_expired_session_is_renewed_once_then_succeeds() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(TOKEN_URL, json=token_body("first-token"))
        rsps.post(TOKEN_URL, json=token_body("second-token"))
        rsps.get(QUERY_URL, status=401, json=load("error__invalid_session_id.json"))
        rsps.get(QUERY_URL, json=page([contact("001A")]))

        found = connector.find_accounts_by_email(EMAIL)

        queries = [c for c in rsps.calls if "/query/" in c.request.url]
        assert_timeouts(rsps.calls)

    assert [a.account_id for a in found] == ["001A"]
    assert queries[1].request.headers["Authorization"] == "Bearer second-token"
    assert connector.calls == {"POST token": 2, "GET query": 2}


def test_permanently_expired_session_raises_auth_failed() -> None:
    connector = make_connector(max_relogins=1)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(TOKEN_URL, json=token_body())
        rsps.get(QUERY_URL, status=401, json=load("error__invalid_session_id.json"))

        with pytest.raises(AuthFailed):
            connector.find_accounts_by_email(EMAIL)

    assert connector.calls == {"POST token": 2, "GET query": 2}


def test_invalid_field_raises_field_missing_naming_it() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(TOKEN_URL, json=token_body())
        rsps.get(QUERY_URL, status=400, json=load("error__invalid_field.json"))

        with pytest.raises(FieldMissing) as caught:
            connector.find_accounts_by_email(EMAIL)

    error = caught.value
    assert (error.field, error.entity) == ("SF_date__c", "Lead")
    assert "SF_date__c" in error.message and "Lead" in error.message
    assert EMAIL not in str(error) and "SELECT" not in str(error)
    assert error.__cause__ is not None


def test_request_limit_exceeded_is_rate_limited() -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(TOKEN_URL, json=token_body())
        rsps.get(QUERY_URL, status=403, json=load("error__request_limit_exceeded.json"))

        with pytest.raises(RateLimited) as caught:
            connector.find_accounts_by_domain("uos.example")

    assert caught.value.transient
    assert caught.value.retry_after > 0


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 503, "json": [{"errorCode": "SERVER_UNAVAILABLE"}]},
        {"body": requests.ReadTimeout("slow")},
    ],
    ids=["http-503", "read-timeout"],
)
def test_outages_are_upstream_unavailable(failure: dict[str, Any]) -> None:
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(TOKEN_URL, json=token_body())
        rsps.get(QUERY_URL, **failure)

        with pytest.raises(UpstreamUnavailable) as caught:
            connector.find_accounts_by_email(EMAIL)

        assert_timeouts(rsps.calls)

    assert EMAIL not in str(caught.value)


def test_construction_makes_no_call() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True):
        connector = make_connector()

    assert connector.calls == {}


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"consumer_secret": ""}, "consumer_secret"),
        ({"auth": "magic"}, "magic"),
        ({"fields": SalesforceFields(tier="Tier__c FROM User --")}, "Tier__c"),
        ({"auth": "jwt", "username": "u"}, "private_key_file"),
        ({"auth": "jwt", "username": "u", "private_key_file": "/nonexistent"}, "read"),
    ],
    ids=["no-secret", "unknown-auth", "injected-field", "jwt-no-key", "jwt-key-gone"],
)
def test_bad_settings_are_config_errors(overrides: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        make_connector(**overrides)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://www.uos.example", "uos.example"),
        ("www.genepoint.example", "genepoint.example"),
        ("HTTPS://Acme.Example:8443/path?q=1", "acme.example"),
        ("acme.example.", "acme.example"),
        ("ftp://user@files.acme.example/", "files.acme.example"),
        ("  ", ""),
    ],
    ids=["scheme-www", "www", "case-port-path", "trailing-dot", "userinfo", "blank"],
)
def test_normalise_domain(raw: str, expected: str) -> None:
    assert normalise_domain(raw) == expected


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("POST", "/services/oauth2/token", "POST token"),
        ("GET", "/services/data/v59.0/query/?q=SELECT", "GET query"),
        ("GET", "/services/data/v38.0/query/01gD", "GET query"),
    ],
    ids=["token", "query", "next-page"],
)
def test_classify_call(method: str, path: str, key: str) -> None:
    assert classify_call(method, path) == key
