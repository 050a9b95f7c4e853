from pathlib import Path

import pytest

from sidecar.cli import main

ROOT = Path(__file__).resolve().parents[1]
SECRETS = {
    "ZENDESK_EMAIL": "bot@acme.example",
    "ZENDESK_API_TOKEN": "zd-token",
    "ZENDESK_WEBHOOK_SECRET": "hook-secret",
    "SALESFORCE_CONSUMER_KEY": "key",
    "SALESFORCE_CONSUMER_SECRET": "secret",
}
BAD = """zendesk:
  subdomain: acme
  timeout_seconds: fast
salesforce:
  domain: acme.my
tiers:
  gold: {rank: 1, group_id: 12}
vip:
  organization_tags: {vip: diamond}
calendars:
  jkt: {timezone: Asia/Jakartaa, hours: {mon-fri: "08:00-17:00"}}
"""


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in (*SECRETS, "VIP_SIDECAR_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_check_config_lists_every_problem_with_file_key_and_line(env, tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text(BAD)

    code = main(["check-config", "--config", "bad.yaml"])

    err = capsys.readouterr().err
    assert code == 1
    assert "bad.yaml:3: zendesk.timeout_seconds: must be a number, not 'fast'" in err
    assert "bad.yaml:9: vip.organization_tags.vip: names unknown tier 'diamond'" in err
    assert "bad.yaml:11: calendars.jkt.timezone: unknown IANA zone" in err
    assert "$ZENDESK_API_TOKEN: is not set" in err


def test_check_config_accepts_the_example(env, capsys):
    for name, value in SECRETS.items():
        env.setenv(name, value)

    code = main(["check-config", "--config", str(ROOT / "config.example.yaml")])

    assert code == 0
    assert "OK" in capsys.readouterr().out


def test_serve_refuses_to_start_on_the_same_problems(env, tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text(BAD)

    code = main(["serve", "--config", "bad.yaml"])

    err = capsys.readouterr().err
    assert code == 1
    assert "refusing to start" in err
    assert "zendesk.timeout_seconds" in err


def test_serve_without_signing_secret_is_refused(env, capsys):
    for name, value in SECRETS.items():
        if name != "ZENDESK_WEBHOOK_SECRET":
            env.setenv(name, value)

    code = main(["serve", "--config", str(ROOT / "config.example.yaml")])

    assert code == 1
    assert "$ZENDESK_WEBHOOK_SECRET" in capsys.readouterr().err


def test_check_config_opens_the_store(env, tmp_path, capsys):
    for name, value in SECRETS.items():
        env.setenv(name, value)
    (tmp_path / "a-file").write_text("")
    text = (ROOT / "config.example.yaml").read_text()
    bad_store = f"sqlite:///{tmp_path / 'a-file' / 'x.db'}"
    (tmp_path / "c.yaml").write_text(
        text.replace("sqlite:///var/vip-sidecar.db", bad_store)
    )

    code = main(["check-config", "--config", "c.yaml"])

    assert code == 1
    assert "store.url: the database cannot be opened" in capsys.readouterr().err
