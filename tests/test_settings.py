import logging
import shutil
from pathlib import Path

import pytest

from rules.config import PolicyError
from sidecar.settings import Secrets, load_settings

ROOT = Path(__file__).resolve().parents[1]
FULL_ENV = {
    "ZENDESK_EMAIL": "bot@acme.example",
    "ZENDESK_API_TOKEN": "zd-token",
    "ZENDESK_WEBHOOK_SECRET": "hook-secret",
    "SALESFORCE_CONSUMER_KEY": "key",
    "SALESFORCE_CONSUMER_SECRET": "secret",
}
SECRET_VARS = (
    *FULL_ENV,
    "SALESFORCE_PRIVATE_KEY_FILE",
    "SALESFORCE_PASSWORD",
    "VIP_SIDECAR_CONFIG",
)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    shutil.copy(ROOT / "config.example.yaml", tmp_path / "config.yaml")
    monkeypatch.chdir(tmp_path)
    for name in SECRET_VARS:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_full_environment_loads(workdir, monkeypatch):
    for name, value in FULL_ENV.items():
        monkeypatch.setenv(name, value)

    settings = load_settings()

    assert settings.secrets.webhook_secret == "hook-secret"
    assert settings.policy.zendesk.subdomain == "acme"


def test_missing_secrets_are_all_named(workdir):
    with pytest.raises(PolicyError) as caught:
        load_settings()

    keys = {problem.key for problem in caught.value.problems}
    assert keys == {
        "$ZENDESK_EMAIL",
        "$ZENDESK_API_TOKEN",
        "$ZENDESK_WEBHOOK_SECRET",
        "$SALESFORCE_CONSUMER_KEY",
        "$SALESFORCE_CONSUMER_SECRET",
    }


def test_missing_signing_secret_is_fatal_unless_insecure_flag(
    workdir, monkeypatch, caplog
):
    for name, value in FULL_ENV.items():
        if name != "ZENDESK_WEBHOOK_SECRET":
            monkeypatch.setenv(name, value)
    with pytest.raises(PolicyError):
        load_settings()

    with caplog.at_level(logging.WARNING):
        settings = load_settings(allow_unsigned=True)

    assert settings.allow_unsigned
    assert "NOT verified" in caplog.text


def test_real_environment_wins_over_dotenv(workdir, monkeypatch):
    (workdir / ".env").write_text("".join(f"{k}=from-dotenv\n" for k in FULL_ENV))
    monkeypatch.setenv("ZENDESK_API_TOKEN", "from-environment")

    settings = load_settings()

    assert settings.secrets.zendesk_token == "from-environment"
    assert settings.secrets.zendesk_email == "from-dotenv"
    for name in FULL_ENV:
        monkeypatch.delenv(name, raising=False)


def test_secrets_never_show_in_repr():
    secrets = Secrets(zendesk_token="very-secret-token")

    assert "very-secret-token" not in repr(secrets)
