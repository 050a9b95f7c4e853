"""The real connectors against the local sandbox over HTTPS on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from connector.errors import UpdateConflict
from connector.salesforce import SalesforceConnector, SalesforceSettings
from connector.zendesk import ZendeskConnector, ZendeskSettings
from sidecar.enrich import AccountResolver
from tests.test_enrich import MemoryCache

sandbox_module = pytest.importorskip("sidecar.sandbox")

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox() -> Iterator[Any]:
    config = sandbox_module.SandboxConfig(audits_page_size=2)
    with sandbox_module.Sandbox(config) as running:
        yield running


def zendesk_for(sandbox: Any) -> ZendeskConnector:
    config = sandbox.config
    settings = ZendeskSettings(
        subdomain="sandbox",
        email=config.api_user_email,
        token=config.api_token,
        base_url=sandbox.url,
        ca_bundle=sandbox.ca_file,
        ratelimit_budget=5,
    )
    return ZendeskConnector(settings)


def test_ticket_round_trip_through_zenpy(sandbox: Any) -> None:
    ticket_id = sandbox.create_ticket(
        "dewi@nusantara-logistik.example", "Outage", "Everything is down"
    )
    sandbox.agent_reply(ticket_id, "Looking into it", public=False)
    sandbox.set_status(ticket_id, "pending")
    zendesk = zendesk_for(sandbox)

    facts = zendesk.fetch_ticket(ticket_id, with_history=True)
    stamp = zendesk.update_ticket(
        ticket_id, updated_stamp=facts.updated_at, tags=["vip"], note="VIP lane"
    )
    with pytest.raises(UpdateConflict):
        zendesk.update_ticket(ticket_id, updated_stamp=facts.updated_at, tags=[])

    assert zendesk.fetch_me() == sandbox.api_user_id
    assert facts.organization is not None and facts.organization.tags
    assert [c.by_agent for c in facts.comments] == [False, True]
    assert [s.status for s in facts.status_changes] == ["new", "open", "pending"]
    assert stamp > facts.updated_at
    assert zendesk.calls["GET audits"] == 2
    assert zendesk.calls["PUT ticket"] == 2


def test_account_resolution_through_simple_salesforce(sandbox: Any) -> None:
    config = sandbox.config
    settings = SalesforceSettings(
        domain="sandbox.my",
        consumer_key=config.sf_consumer_key,
        consumer_secret=config.sf_consumer_secret,
        token_url=f"{sandbox.url}/services/oauth2/token",
        ca_bundle=sandbox.ca_file,
    )
    connector = SalesforceConnector(settings)
    resolver = AccountResolver(connector, MemoryCache())
    now = datetime.now(UTC)

    by_email = resolver.resolve("evan@globex.example", now)
    sandbox.expire_tokens()
    by_domain = resolver.resolve("someone@uos.example", now)

    assert (by_email.lookup, by_email.tier) == ("email", "Gold")
    assert by_domain.lookup == "domain" and by_domain.account_id
    assert resolver.resolve("indah.example@yahoo.co.id", now).lookup == "free_mail"
    assert connector.calls["POST token"] == 2
