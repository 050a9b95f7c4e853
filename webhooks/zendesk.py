"""``POST /webhooks/zendesk``: authenticate, parse, store, respond, log one line.

Zendesk gives up after about 12 seconds, retries, and promises neither order
nor exactly-once delivery, so the view only stores the event (deduplicated)
and answers; the worker does everything slow.
"""

from __future__ import annotations

import json
import logging
from typing import BinaryIO

from flask import Blueprint, Response, request
from sqlalchemy.exc import SQLAlchemyError

from webhooks import signature
from webhooks.context import WebhookSettings, settings
from webhooks.errors import BadSignature, PayloadTooLarge, StoreUnavailable
from webhooks.parse import IgnoredEvent, ParsedEvent, parse_body

logger = logging.getLogger(__name__)

INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"

blueprint = Blueprint("zendesk", __name__)


@blueprint.post("/zendesk")
def receive() -> tuple[Response, int]:
    """Store one Zendesk webhook delivery and acknowledge it."""
    current = settings()
    raw = read_body(current.max_body_bytes)
    authenticate(current, raw)

    parsed = parse_body(raw)
    if isinstance(parsed, IgnoredEvent):
        current.metrics.incr("ignored")
        logger.warning("zendesk event ignored: type=%s", parsed.event_type)
        return _answer("ignored"), 200

    if not store_event(current, parsed):
        current.metrics.incr("duplicate")
        logger.info("zendesk event duplicate: ticket=%s", parsed.ticket_id)
        return _answer("duplicate"), 200

    current.metrics.incr("accepted")
    logger.info(
        "zendesk event accepted: ticket=%s kind=%s event=%s",
        parsed.ticket_id,
        parsed.kind,
        parsed.event_id,
    )
    return _answer("accepted"), 202


_ANSWERS = {
    status: json.dumps({"status": status}).encode()
    for status in ("accepted", "duplicate", "ignored")
}


def _answer(status: str) -> Response:
    # Prebuilt bodies: this view is the hot path, jsonify costs more than it says.
    return Response(_ANSWERS[status], mimetype="application/json")


def read_body(max_body_bytes: int) -> bytes:
    """The raw body, refusing anything over the limit without reading it all."""
    length = request.content_length
    if length is not None:
        if length > max_body_bytes:
            raise PayloadTooLarge(f"body exceeds {max_body_bytes} bytes")

        return request.get_data(cache=True)

    # No length (chunked): only a server that terminates the input stream
    # makes it safe to read; werkzeug's own limit would silently truncate.
    if not request.environ.get("wsgi.input_terminated"):
        return b""

    return read_bounded(request.environ["wsgi.input"], max_body_bytes)


def read_bounded(stream: BinaryIO, max_body_bytes: int) -> bytes:
    """Read a stream to its end, or raise PayloadTooLarge past the limit."""
    chunks: list[bytes] = []
    total = 0
    while chunk := stream.read(min(65_536, max_body_bytes + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > max_body_bytes:
            raise PayloadTooLarge(f"body exceeds {max_body_bytes} bytes")

    return b"".join(chunks)


def authenticate(current: WebhookSettings, raw: bytes) -> None:
    """Check the signature; unsigned requests pass only in allow_unsigned mode."""
    if current.signing_secret is None and current.allow_unsigned:
        return

    try:
        signature.verify(
            secret=current.signing_secret or "",
            signature=request.headers.get(signature.SIGNATURE_HEADER),
            timestamp=request.headers.get(signature.TIMESTAMP_HEADER),
            body=raw,
            now=current.clock.now(),
            tolerance_seconds=current.tolerance_seconds,
        )
    except BadSignature as exc:
        logger.warning("zendesk webhook rejected: signature %s", exc.reason)
        raise


def store_event(current: WebhookSettings, parsed: ParsedEvent) -> bool:
    """Put the event in the inbox; False when any of its keys was seen."""
    keys = list(parsed.dedupe_keys)
    invocation = request.headers.get(INVOCATION_HEADER, "").strip()
    if invocation:
        keys.append(f"invocation:{invocation[:200]}")

    try:
        return current.store.add_event(
            ticket_id=parsed.ticket_id,
            kind=parsed.kind,
            payload=parsed.payload,
            actor_id=parsed.actor_id,
            dedupe_keys=keys,
            received_at=current.clock.now(),
        )
    except SQLAlchemyError as exc:
        logger.error("zendesk event not stored: ticket=%s", parsed.ticket_id)
        raise StoreUnavailable("event could not be stored; retry later") from exc
