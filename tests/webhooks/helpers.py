"""Helpers for webhook tests: fixture files, a fixed clock, signed headers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from webhooks.signature import sign

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "zendesk"
SECRET = "test-signing-secret-4f8a"
NOW = datetime(2025, 3, 4, 9, 15, 5, tzinfo=UTC)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def stamp(when: datetime = NOW) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_headers(body: bytes, *, secret: str = SECRET, ts: str | None = None):
    ts = ts or stamp()
    return {
        "Content-Type": "application/json; charset=utf-8",
        "X-Zendesk-Webhook-Signature": sign(secret, ts, body),
        "X-Zendesk-Webhook-Signature-Timestamp": ts,
    }
