from pathlib import Path

import pytest

from rules.config import PolicyError, load_policy, parse_policy_text

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """
zendesk:
  subdomain: acme
salesforce:
  domain: acme.my
tiers:
  gold: {rank: 1, group_id: 11}
"""


def test_example_config_is_valid():
    policy = load_policy(str(ROOT / "config.example.yaml"))

    assert policy.zendesk.subdomain == "acme"
    assert policy.tiers["platinum"].rank == 1
    assert policy.vip.crm_tiers["platinum"] == "platinum"
    assert policy.vip.contract_value[0] == (500000.0, "platinum")
    assert policy.severities["P1"].priority == "urgent"


def test_demo_config_is_valid():
    policy = load_policy(str(ROOT / "sidecar" / "data" / "demo-config.yaml"))

    assert policy.zendesk.base_url.startswith("https://127.0.0.1")


def test_minimal_config_gets_defaults():
    policy = parse_policy_text(MINIMAL)

    assert policy.store_url == "sqlite:///var/vip-sidecar.db"
    assert policy.sweep_interval_seconds == 30
    assert policy.salesforce.fields["tier"] == "Tier__c"
    assert policy.severities["P3"].priority == "normal"


def test_every_problem_is_reported_with_key_and_line():
    text = """zendesk:
  timeout_seconds: -1
salesforce:
  auth: magic
tiers:
  gold: {rank: 1, group_id: abc}
vip:
  email_domains:
    acme.example: diamond
severity:
  P1: {priority: immediately}
"""

    with pytest.raises(PolicyError) as caught:
        parse_policy_text(text, "policy.yaml")

    rendered = str(caught.value)
    keys = {problem.key for problem in caught.value.problems}
    assert {
        "zendesk.subdomain",
        "zendesk.timeout_seconds",
        "salesforce.auth",
        "salesforce.domain",
        "tiers.gold.group_id",
        "vip.email_domains.acme.example",
        "severity.P1.priority",
    } <= keys
    assert "policy.yaml:2: zendesk.timeout_seconds: must be greater than 0" in rendered
    assert "policy.yaml:6: tiers.gold.group_id" in rendered


def test_invalid_yaml_names_the_line():
    with pytest.raises(PolicyError) as caught:
        parse_policy_text("zendesk:\n  subdomain: [unclosed\n", "bad.yaml")

    assert caught.value.problems[0].key == "(yaml)"
    assert caught.value.problems[0].line is not None


def test_unknown_salesforce_field_role_is_refused():
    text = MINIMAL.replace(
        "domain: acme.my", "domain: acme.my\n  fields: {colour: X__c}"
    )

    with pytest.raises(PolicyError) as caught:
        parse_policy_text(text)

    assert caught.value.problems[0].key == "salesforce.fields.colour"


def test_salesforce_field_names_are_checked():
    text = MINIMAL.replace(
        "domain: acme.my", "domain: acme.my\n  fields: {tier: 'Tier__c; DROP'}"
    )

    with pytest.raises(PolicyError) as caught:
        parse_policy_text(text)

    assert caught.value.problems[0].key == "salesforce.fields.tier"


def test_jwt_needs_a_username():
    text = MINIMAL.replace("domain: acme.my", "domain: acme.my\n  auth: jwt")

    with pytest.raises(PolicyError) as caught:
        parse_policy_text(text)

    assert [p.key for p in caught.value.problems] == ["salesforce.username"]


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        pytest.param(
            "subdomain: acme",
            "subdomain: acme\n  timout_seconds: 5",
            "zendesk.timout_seconds",
            "unknown key",
            id="misspelled-key",
        ),
        pytest.param(
            "tiers:",
            "zendeks: {subdomain: x}\ntiers:",
            "zendeks",
            "unknown section",
            id="misspelled-section",
        ),
        pytest.param(
            "tiers:",
            "store: {url: 'mysql://db/x'}\ntiers:",
            "store.url",
            "unsupported database 'mysql'",
            id="store-scheme",
        ),
        pytest.param(
            "tiers:",
            "server: {bind: nonsense}\ntiers:",
            "server.bind",
            "must be HOST:PORT",
            id="bind",
        ),
        pytest.param(
            "tiers:",
            "server: {bind: '127.0.0.1:99999'}\ntiers:",
            "server.bind",
            "port 1-65535",
            id="bind-port",
        ),
        pytest.param(
            "tiers:",
            "sla: {escalaton: {management_group_id: 1}}\ntiers:",
            "sla.escalaton",
            "unknown key",
            id="sla-key",
        ),
        pytest.param(
            "tiers:",
            "severity: {P1: {first_respons_minutes: 15}}\ntiers:",
            "severity.P1.first_respons_minutes",
            "unknown key",
            id="severity-key",
        ),
        pytest.param(
            "group_id: 11}",
            "group_id: 11, colour: red}",
            "tiers.gold.colour",
            "unknown key",
            id="tier-key",
        ),
    ],
)
def test_unknown_and_unsupported_values_are_reported(old, new, key, message):
    with pytest.raises(PolicyError) as caught:
        parse_policy_text(MINIMAL.replace(old, new))

    problems = {problem.key: problem.message for problem in caught.value.problems}
    assert message in problems[key]


def test_duplicate_keys_and_ranks_are_reported():
    text = MINIMAL + "  silver: {rank: 1, group_id: 12}\nzendesk:\n  subdomain: other\n"

    with pytest.raises(PolicyError) as caught:
        parse_policy_text(text)

    messages = [f"{p.key}: {p.message}" for p in caught.value.problems]
    assert "zendesk: appears twice; the later one wins" in messages
    assert any(m.startswith("tiers.silver.rank: rank 1") for m in messages)
