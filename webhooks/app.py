"""The Flask application: vendor blueprints, health, metrics and error bodies.

Every error, whether raised by a view or by Flask itself (404, 405, 413),
answers with one JSON shape: ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from sidecar.clock import Clock, SystemClock
from sidecar.errors import ConfigError, SidecarError
from sidecar.store import Store
from webhooks.context import EXTENSION, WebhookSettings, settings
from webhooks.errors import BadSignature
from webhooks.zendesk import blueprint as zendesk_blueprint

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: ("bad_request", "the request is malformed"),
    401: ("unauthorized", "authentication required"),
    404: ("not_found", "no such endpoint"),
    405: ("method_not_allowed", "method not allowed on this endpoint"),
    413: ("payload_too_large", "request body too large"),
    500: ("internal_error", "internal error"),
}


def create_app(
    *,
    store: Store,
    signing_secret: str | None,
    allow_unsigned: bool = False,
    max_body_bytes: int = 1_048_576,
    tolerance_seconds: int = 300,
    clock: Clock | None = None,
    readiness: Callable[[], dict] | None = None,
) -> Flask:
    """Build the webhook app. ``readiness()`` returns ``{"ready": bool, ...}``.

    Without a signing secret the app refuses to start unless ``allow_unsigned``
    is set (a development mode the caller should warn about).
    """
    if not signing_secret and not allow_unsigned:
        raise ConfigError("webhooks: signing_secret is required (or allow_unsigned)")

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.extensions[EXTENSION] = WebhookSettings(
        store=store,
        signing_secret=signing_secret or None,
        allow_unsigned=allow_unsigned,
        max_body_bytes=max_body_bytes,
        tolerance_seconds=tolerance_seconds,
        clock=clock or SystemClock(),
        readiness=readiness,
    )
    app.register_blueprint(zendesk_blueprint, url_prefix="/webhooks")
    _add_health_routes(app)
    _add_error_handlers(app)
    return app


def _add_health_routes(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])


def healthz() -> tuple[Response, int]:
    """The process is up."""
    return jsonify(status="ok"), 200


def readyz() -> tuple[Response, int]:
    """Ready when the store answers and the scheduler reports it is running."""
    current = settings()
    if not current.store.ping():
        return jsonify(status="unavailable", reason="store not reachable"), 503

    report: dict[str, Any] = {"ready": True}
    if current.readiness is not None:
        report = dict(current.readiness())

    if not report.get("ready"):
        reason = report.get("reason") or "scheduler not running"
        return jsonify(status="unavailable", reason=reason), 503

    return jsonify(
        status="ready", **{k: v for k, v in report.items() if k != "ready"}
    ), 200


def metrics() -> Response:
    """Plain-text request counters by outcome."""
    body = settings().metrics.render()
    return Response(body, mimetype="text/plain")


def _add_error_handlers(app: Flask) -> None:
    app.register_error_handler(SidecarError, render_sidecar_error)
    app.register_error_handler(HTTPException, render_http_error)
    app.register_error_handler(Exception, render_unexpected_error)


def render_sidecar_error(error: SidecarError) -> tuple[Response, int]:
    settings().metrics.incr(f"rejected_{getattr(error, 'reason', error.code)}")
    if not isinstance(error, BadSignature):
        # The code and the field name only; the message may echo input.
        logger.warning(
            "request refused: code=%s field=%s",
            error.code,
            getattr(error, "field", None),
        )

    response = jsonify(error.to_dict())
    if error.transient:
        response.headers["Retry-After"] = "5"

    return response, error.http_status


def render_http_error(error: HTTPException) -> tuple[Response, int]:
    status = error.code or 500
    code, message = _HTTP_CODES.get(status, ("http_error", "request failed"))
    response = jsonify(SidecarError(message, code=code).to_dict())
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)

    if status == 413:
        settings().metrics.incr("rejected_payload_too_large")

    return response, status


def render_unexpected_error(error: Exception) -> tuple[Response, int]:
    # The class and where it was raised, never the message: it could quote
    # request content.
    logger.error(
        "unexpected error in a web view: %s at %s",
        type(error).__name__,
        _raised_at(error),
    )
    settings().metrics.incr("error")
    return jsonify(SidecarError("internal error").to_dict()), 500


def _raised_at(error: BaseException) -> str:
    trace = error.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next

    if trace is None:
        return "unknown"

    return f"{trace.tb_frame.f_code.co_name}:{trace.tb_lineno}"
