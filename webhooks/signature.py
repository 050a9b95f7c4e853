"""Zendesk webhook signatures: HMAC-SHA256 over the timestamp and the raw body.

Zendesk signs ``timestamp + body`` with the webhook's signing secret used
verbatim as UTF-8 bytes (it looks like base64 but is not decoded) and sends the
base64 digest in ``X-Zendesk-Webhook-Signature``. The timestamp header is an
ISO-8601 UTC string; Zendesk sets no freshness window, so the receiver picks
one to refuse replays.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from webhooks.errors import BadSignature

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The base64 signature Zendesk would send for this timestamp and body."""
    message = timestamp.encode("utf-8") + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def parse_timestamp(value: str) -> datetime:
    """Read the timestamp header; BadSignature when it is not ISO-8601 with a zone."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadSignature(
            "signature timestamp is not ISO-8601", reason="bad_timestamp"
        ) from exc

    if parsed.tzinfo is None:
        raise BadSignature(
            "signature timestamp has no time zone", reason="bad_timestamp"
        )

    return parsed.astimezone(UTC)


def verify(
    *,
    secret: str,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    now: datetime,
    tolerance_seconds: int,
) -> None:
    """Accept a genuine, fresh signature; raise BadSignature otherwise."""
    if not signature or not timestamp:
        raise BadSignature("signature header missing", reason="missing")

    sent_at = parse_timestamp(timestamp)
    if abs(now - sent_at) > timedelta(seconds=tolerance_seconds):
        raise BadSignature(
            "signature timestamp outside the allowed window", reason="stale"
        )

    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8")):
        raise BadSignature("signature does not match", reason="mismatch")
