"""The Salesforce REST surface the sidecar uses: OAuth token and SOQL query.

Tokens come from ``/services/oauth2/token`` (client credentials, JWT bearer
or username-password) and expire; an expired or unknown token answers
``401 INVALID_SESSION_ID``. Queries page through ``nextRecordsUrl`` with a
small page size so paging is always exercised.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import TYPE_CHECKING, Any

import jwt
from flask import Blueprint, Response, current_app, jsonify, request

from sidecar.sandbox import soql

if TYPE_CHECKING:
    from sidecar.sandbox.server import Sandbox

bp = Blueprint("salesforce", __name__, url_prefix="/services")

ROUTES = {
    "salesforce.oauth_token": "POST oauth token",
    "salesforce.query": "GET query",
    "salesforce.query_more": "GET query more",
}

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ORG_ID = "00Dxx0000001gPFEAY"
INTEGRATION_USER_ID = "005xx000001SbxZAAS"
INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "authentication failure",
}
INVALID_SESSION = [
    {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
]


def _sandbox() -> Sandbox:
    return current_app.extensions["vip_sandbox"]


@bp.post("/oauth2/token")
def oauth_token() -> Response:
    sandbox = _sandbox()
    grant = request.form.get("grant_type", "")
    checks = {
        "client_credentials": _client_credentials_ok,
        JWT_GRANT: _jwt_ok,
        "password": _password_ok,
    }
    check = checks.get(grant)
    if check is None:
        body = {
            "error": "unsupported_grant_type",
            "error_description": "grant type not supported",
        }
        return _json(body, 400)

    if not check(sandbox):
        return _json(INVALID_GRANT, 400)

    return _json(_token_response(sandbox, sandbox.issue_token()))


@bp.get("/data/v<version>/query/")
@bp.get("/data/v<version>/query")
def query(version: str) -> Response:
    sandbox = _sandbox()
    if not _session_ok(sandbox):
        return _json(INVALID_SESSION, 401)

    text = request.args.get("q", "")
    with sandbox.state.lock:
        schema = _schema(sandbox)
        try:
            parsed = soql.parse(text, schema)
        except soql.SoqlError as error:
            return _json(error.body(), 400)

        rows = soql.run(parsed, schema)

    return _json(_first_page(sandbox, version, rows))


@bp.get("/data/v<version>/query/<locator>")
def query_more(version: str, locator: str) -> Response:
    sandbox = _sandbox()
    if not _session_ok(sandbox):
        return _json(INVALID_SESSION, 401)

    with sandbox.state.lock:
        cursor = sandbox.state.query_cursors.get(locator.rsplit("-", 1)[0])

    if cursor is None:
        body = [
            {"errorCode": "INVALID_QUERY_LOCATOR", "message": "invalid query locator"}
        ]
        return _json(body, 400)

    offset = int(locator.rsplit("-", 1)[1]) if "-" in locator else 0
    return _json(_page(sandbox, version, cursor, offset))


def _first_page(sandbox: Sandbox, version: str, rows: list[dict[str, Any]]) -> Any:
    key = "01g" + secrets.token_hex(6).upper()
    cursor = {"key": key, "rows": rows}
    if len(rows) > sandbox.config.sf_page_size:
        sandbox.state.remember_cursor(key, cursor)

    return _page(sandbox, version, cursor, 0)


def _page(
    sandbox: Sandbox, version: str, cursor: dict[str, Any], offset: int
) -> dict[str, Any]:
    rows = cursor["rows"]
    end = offset + sandbox.config.sf_page_size
    body: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows)}
    if end < len(rows):
        body["nextRecordsUrl"] = (
            f"/services/data/v{version}/query/{cursor['key']}-{end}"
        )

    body["records"] = rows[offset:end]
    return body


def _schema(sandbox: Sandbox) -> soql.Schema:
    state = sandbox.state
    tables = {
        "Account": state.accounts,
        "Contact": state.contacts,
        "User": state.sf_users,
    }
    return soql.Schema(tables, state.sf_custom_fields)


def _session_ok(sandbox: Sandbox) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in ("bearer", "oauth"):
        return False

    return sandbox.token_valid(token.strip())


def _client_credentials_ok(sandbox: Sandbox) -> bool:
    config = sandbox.config
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        given = (auth.username, auth.password)
    else:
        given = (request.form.get("client_id"), request.form.get("client_secret"))

    return given == (config.sf_consumer_key, config.sf_consumer_secret)


def _jwt_ok(sandbox: Sandbox) -> bool:
    """Decode the assertion's claims (the signature is not checked here)."""
    assertion = request.form.get("assertion", "")
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False

    expires = claims.get("exp")
    if isinstance(expires, int | float) and expires < time.time():
        return False

    return claims.get("iss") == sandbox.config.sf_consumer_key and bool(
        claims.get("sub")
    )


def _password_ok(sandbox: Sandbox) -> bool:
    config = sandbox.config
    form = request.form
    client = (form.get("client_id"), form.get("client_secret"))
    user = (form.get("username"), form.get("password"))
    return client == (config.sf_consumer_key, config.sf_consumer_secret) and user == (
        config.sf_username,
        config.sf_password,
    )


def _token_response(sandbox: Sandbox, token: str) -> dict[str, Any]:
    issued_at = str(int(time.time() * 1000))
    signed = hmac.new(
        sandbox.config.sf_consumer_secret.encode(),
        f"{sandbox.url}{issued_at}".encode(),
        hashlib.sha256,
    ).digest()
    return {
        "access_token": token,
        "scope": "api",
        "instance_url": sandbox.url,
        "id": f"{sandbox.url}/id/{ORG_ID}/{INTEGRATION_USER_ID}",
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": base64.b64encode(signed).decode("ascii"),
    }


def _json(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
