"""The sandbox's own control API under ``/_sandbox/`` (JSON, no auth).

It lets the demo and the tests play the other people in the story (the
customer, the agent), inspect what the sidecar did, and inject faults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, jsonify, request

from sidecar.sandbox.desk import ApiError
from sidecar.sandbox.seed import default_seed

if TYPE_CHECKING:
    from sidecar.sandbox.server import Sandbox

bp = Blueprint("sandbox_admin", __name__, url_prefix="/_sandbox")

FAULT_KEYS = ("route", "status", "retry_after", "count", "body", "delay")


def _sandbox() -> Sandbox:
    return current_app.extensions["vip_sandbox"]


@bp.errorhandler(ApiError)
def render_api_error(error: ApiError) -> Response:
    return _json(error.body, error.status)


@bp.errorhandler(KeyError)
@bp.errorhandler(TypeError)
@bp.errorhandler(ValueError)
def render_bad_request(error: Exception) -> Response:
    return _json({"error": "BadRequest", "description": str(error)}, 400)


@bp.post("/seed")
def load_seed() -> Response:
    payload = request.get_json(silent=True)
    _sandbox().load_seed(payload or default_seed())
    return _json({"ok": True})


@bp.get("/state")
def show_state() -> Response:
    return _json(_sandbox().state.snapshot())


@bp.get("/tickets/<int:ticket_id>")
def show_ticket(ticket_id: int) -> Response:
    return _json(_sandbox().ticket(ticket_id))


@bp.post("/tickets")
def create_ticket() -> Response:
    data = _body()
    ticket_id = _sandbox().create_ticket(
        data.pop("requester_email"), data.pop("subject"), data.pop("body"), **data
    )
    return _json({"ticket_id": ticket_id}, 201)


@bp.get("/calls")
def show_calls() -> Response:
    return _json(_sandbox().calls())


@bp.get("/webhooks")
def show_webhooks() -> Response:
    return _json({"attempts": _sandbox().webhook_attempts()})


@bp.post("/faults")
def add_fault() -> Response:
    data = _body()
    unknown = set(data) - set(FAULT_KEYS)
    if unknown:
        raise ValueError(f"unknown fault keys: {sorted(unknown)}")

    _sandbox().inject_fault(**data)
    return _json({"ok": True}, 201)


@bp.delete("/faults")
def clear_faults() -> Response:
    _sandbox().clear_faults()
    return _json({"ok": True})


@bp.post("/tokens/expire")
def expire_tokens() -> Response:
    _sandbox().expire_tokens()
    return _json({"ok": True})


@bp.post("/agent_reply")
def agent_reply() -> Response:
    data = _body()
    ticket = _sandbox().agent_reply(
        int(data["ticket_id"]),
        data["body"],
        public=bool(data.get("public", True)),
        author_id=data.get("author_id"),
        status=data.get("status"),
    )
    return _json({"ticket": ticket})


@bp.post("/customer_reply")
def customer_reply() -> Response:
    data = _body()
    ticket = _sandbox().customer_reply(int(data["ticket_id"]), data["body"])
    return _json({"ticket": ticket})


@bp.post("/status")
def set_status() -> Response:
    data = _body()
    ticket = _sandbox().set_status(int(data["ticket_id"]), data["status"])
    return _json({"ticket": ticket})


@bp.post("/satisfaction_ratings")
def rate_ticket() -> Response:
    data = _body()
    rating = _sandbox().rate_ticket(
        int(data["ticket_id"]), data["score"], data.get("comment") or ""
    )
    return _json({"satisfaction_rating": rating}, 201)


def _body() -> dict[str, Any]:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ValueError("a JSON object is required")

    return payload


def _json(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
