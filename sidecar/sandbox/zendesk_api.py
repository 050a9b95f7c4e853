"""The Zendesk Support API surface the sidecar uses, served by the sandbox.

Authentication is Zendesk's API-token form of HTTP Basic:
``{email}/token:{token}``. Paging URLs point at the sandbox's own host, as
zenpy follows them verbatim.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, request

from sidecar.sandbox.desk import ApiError, create_ticket, get_ticket, update_ticket
from sidecar.sandbox.state import parse_time

if TYPE_CHECKING:
    from sidecar.sandbox.server import Sandbox

bp = Blueprint("zendesk", __name__, url_prefix="/api/v2")

ROUTES = {
    "zendesk.users_me": "GET users/me",
    "zendesk.show_user": "GET user",
    "zendesk.show_many_users": "GET users/show_many",
    "zendesk.show_organization": "GET organization",
    "zendesk.show_ticket": "GET ticket",
    "zendesk.list_audits": "GET audits",
    "zendesk.list_comments": "GET comments",
    "zendesk.put_ticket": "PUT ticket",
    "zendesk.post_ticket": "POST tickets",
    "zendesk.list_satisfaction_ratings": "GET satisfaction_ratings",
}

# Paging parameters; every other query parameter (a filter) is carried over
# into the next and previous page links, as Zendesk does.
PAGING_ARGS = frozenset(
    {"page", "per_page", "page[size]", "page[after]", "page[before]"}
)

AUTH_FAILED = {"error": "Couldn't authenticate you"}


def _sandbox() -> Sandbox:
    return current_app.extensions["vip_sandbox"]


@bp.before_request
def check_auth() -> Response | None:
    """Answer 401 unless the request carries the API user's token."""
    config = _sandbox().config
    expected = f"{config.api_user_email}/token:{config.api_token}"
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    try:
        given = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        given = ""

    if scheme.lower() != "basic" or given != expected:
        return _json(AUTH_FAILED, 401)

    return None


@bp.errorhandler(ApiError)
def render_api_error(error: ApiError) -> Response:
    return _json(error.body, error.status)


@bp.get("/users/me.json")
def users_me() -> Response:
    sandbox = _sandbox()
    return _json({"user": _user_json(sandbox, sandbox.state.api_user_id)})


@bp.get("/users/<int:user_id>.json")
def show_user(user_id: int) -> Response:
    return _json({"user": _user_json(_sandbox(), user_id)})


@bp.get("/users/show_many.json")
def show_many_users() -> Response:
    sandbox = _sandbox()
    ids = [int(i) for i in request.args.get("ids", "").split(",") if i.isdigit()]
    with sandbox.state.lock:
        known = [i for i in ids if i in sandbox.state.users]
        users = [_user_json(sandbox, i) for i in known]

    return _json(
        {"users": users, "next_page": None, "previous_page": None, "count": len(users)}
    )


@bp.get("/organizations/<int:organization_id>.json")
def show_organization(organization_id: int) -> Response:
    sandbox = _sandbox()
    with sandbox.state.lock:
        organization = sandbox.state.organizations.get(organization_id)
        if organization is None:
            raise ApiError(404, {"error": "RecordNotFound", "description": "Not found"})

        body = dict(organization)

    body["url"] = f"{sandbox.url}/api/v2/organizations/{organization_id}.json"
    return _json({"organization": body})


@bp.get("/tickets/<int:ticket_id>.json")
def show_ticket(ticket_id: int) -> Response:
    state = _sandbox().state
    with state.lock:
        ticket = dict(get_ticket(state, ticket_id))

    return _json({"ticket": ticket})


@bp.get("/tickets/<int:ticket_id>/audits.json")
def list_audits(ticket_id: int) -> Response:
    state = _sandbox().state
    with state.lock:
        get_ticket(state, ticket_id)
        audits = list(state.audits.get(ticket_id, []))

    return _json(_page("audits", audits))


@bp.get("/tickets/<int:ticket_id>/comments.json")
def list_comments(ticket_id: int) -> Response:
    state = _sandbox().state
    with state.lock:
        get_ticket(state, ticket_id)
        comments = list(state.comments.get(ticket_id, []))

    return _json(_page("comments", comments))


@bp.get("/satisfaction_ratings")
@bp.get("/satisfaction_ratings.json")
def list_satisfaction_ratings() -> Response:
    """Legacy CSAT ratings, oldest first, filtered by score and creation time."""
    sandbox = _sandbox()
    start = _int_arg("start_time", 0)
    end = _int_arg("end_time", 2**62)
    wanted = _scores(request.args.get("score"))
    with sandbox.state.lock:
        ratings = [dict(r) for r in sandbox.state.satisfaction_ratings.values()]

    ratings = [
        r
        for r in ratings
        if start <= int(parse_time(r["created_at"]).timestamp()) <= end
        and (wanted is None or r["score"] in wanted)
    ]
    ratings.sort(key=lambda r: (r["created_at"], r["id"]))
    limit = sandbox.config.ratings_page_size
    return _json(_page("satisfaction_ratings", ratings, limit))


def _scores(score: str | None) -> frozenset[str] | None:
    if not score:
        return None

    # Suffixes select by comment; the sandbox keeps the score part only.
    base = score.removesuffix("_with_comment").removesuffix("_without_comment")
    return frozenset({"good", "bad"}) if base == "received" else frozenset({base})


@bp.put("/tickets/<int:ticket_id>.json")
def put_ticket(ticket_id: int) -> Response:
    sandbox = _sandbox()
    payload = _body()
    ticket, audit, change = update_ticket(
        sandbox.state, ticket_id, payload, sandbox.state.api_user_id, sandbox.now()
    )
    sandbox.notify(change)
    return _json({"ticket": ticket, "audit": audit})


@bp.post("/tickets.json")
def post_ticket() -> Response:
    """Create a ticket on behalf of its requester (the demo's "customer")."""
    sandbox = _sandbox()
    ticket, audit, change = create_ticket(
        sandbox.state, _body(), sandbox.state.api_user_id, sandbox.now()
    )
    sandbox.notify(change)
    return _json({"ticket": ticket, "audit": audit}, 201)


def _page(
    key: str, items: list[dict[str, Any]], limit: int | None = None
) -> dict[str, Any]:
    """One page of ``items``: cursor style for ``page[size]``, else offset style."""
    limit = limit or _sandbox().config.audits_page_size
    if "page[size]" in request.args:
        return _cursor_page(key, items, limit)

    per_page = min(_int_arg("per_page", limit), limit)
    page = max(_int_arg("page", 1), 1)
    start = (page - 1) * per_page
    body: dict[str, Any] = {key: items[start : start + per_page], "count": len(items)}
    more = start + per_page < len(items)
    body["next_page"] = _page_url(page=page + 1, per_page=per_page) if more else None
    body["previous_page"] = (
        _page_url(page=page - 1, per_page=per_page) if page > 1 else None
    )
    return body


def _cursor_page(key: str, items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    size = min(_int_arg("page[size]", limit), limit)
    start = _decode_cursor(request.args.get("page[after]"))
    end = min(start + size, len(items))
    after, before = _encode_cursor(end), _encode_cursor(start)
    has_more = end < len(items)
    next_url = _page_url(**{"page[size]": size, "page[after]": after})
    prev_url = _page_url(**{"page[size]": size, "page[before]": before})
    return {
        key: items[start:end],
        "meta": {"has_more": has_more, "after_cursor": after, "before_cursor": before},
        "links": {"next": next_url if has_more else None, "prev": prev_url},
    }


def _page_url(**params: Any) -> str:
    base = f"{_sandbox().url}{request.path}"
    filters = {k: v for k, v in request.args.items() if k not in PAGING_ARGS}
    return f"{base}?{urlencode({**filters, **params})}"


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode("ascii")


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0

    try:
        return max(int(base64.urlsafe_b64decode(cursor).decode()[2:]), 0)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(400, {"error": "InvalidPaginationParameter"}) from None


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        return default


def _user_json(sandbox: Sandbox, user_id: int) -> dict[str, Any]:
    with sandbox.state.lock:
        user = sandbox.state.users.get(user_id)
        if user is None:
            raise ApiError(404, {"error": "RecordNotFound", "description": "Not found"})

        body = dict(user)

    body["url"] = f"{sandbox.url}/api/v2/users/{user_id}.json"
    return body


def _body() -> dict[str, Any]:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ApiError(400, {"error": "InvalidJSON", "description": "Bad request"})

    return payload


def _json(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
