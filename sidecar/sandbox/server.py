"""The sandbox process: one Flask app over HTTPS on 127.0.0.1 in a thread.

:class:`Sandbox` owns the state, the web server and the webhook sender, and
offers the admin operations as Python methods for tests and the demo.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import signal
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType, TracebackType
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sidecar.clock import Clock, SystemClock
from sidecar.sandbox import admin, desk, salesforce_api, zendesk_api
from sidecar.sandbox.desk import Change
from sidecar.sandbox.seed import default_seed
from sidecar.sandbox.state import Fault, SandboxState, format_time
from sidecar.sandbox.tls import make_self_signed
from sidecar.sandbox.webhooks import WebhookSender, render_events, render_trigger

logger = logging.getLogger(__name__)

ROUTES = {**zendesk_api.ROUTES, **salesforce_api.ROUTES}
ZENDESK_RATE_LIMIT = 700
TICKET_UPDATE_LIMIT = 100
SF_DAILY_LIMIT = 15000
RATE_LIMIT_TEXT = "Number of allowed API requests per minute exceeded"
RATING_SCORES = ("good", "bad", "offered", "unoffered")
RATED_STATUSES = ("solved", "closed")


@dataclass
class SandboxConfig:
    """How the sandbox listens, signs webhooks and whom it lets in."""

    host: str = "127.0.0.1"
    port: int = 0
    webhook_url: str | None = None
    signing_secret: str = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
    webhook_mode: str = "trigger"
    cert_dir: str | None = None
    api_user_email: str = "sidecar@example.com"
    api_token: str = "sandbox-token"
    sf_consumer_key: str = "sandbox-key"
    sf_consumer_secret: str = "sandbox-secret"
    sf_username: str = "integration@example.com"
    sf_password: str = "sandbox-password"
    sf_token_lifetime: float = 7200.0
    sf_page_size: int = 2
    audits_page_size: int = 100
    ratings_page_size: int = 100
    duplicate_delivery_rate: float = 0.0
    random_seed: int = 0
    webhook_timeout: float = 12.0
    webhook_retry_backoff: float = 0.5

    def __post_init__(self) -> None:
        if self.webhook_mode not in ("trigger", "events"):
            raise ValueError(
                f"webhook_mode must be trigger or events: {self.webhook_mode}"
            )

        if self.host != "127.0.0.1" and self.host != "localhost":
            raise ValueError(f"the sandbox listens on 127.0.0.1 only, not {self.host}")


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without its access log (URLs carry e-mail addresses)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class Sandbox:
    """A local stand-in for Zendesk and Salesforce, over HTTPS on 127.0.0.1."""

    def __init__(self, config: SandboxConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.state = SandboxState()
        self.state.load_seed(default_seed(), config.api_user_email)
        self.webhooks = WebhookSender(
            self.state,
            config.webhook_url,
            config.signing_secret,
            timeout=config.webhook_timeout,
            backoff=config.webhook_retry_backoff,
            duplicate_rate=config.duplicate_delivery_rate,
            seed=config.random_seed,
        )
        self.app = create_app(self)
        self.url = ""
        self.ca_file = ""
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._temp_dir: str | None = None

    @property
    def api_user_id(self) -> int:
        return self.state.api_user_id

    def now(self) -> datetime:
        return self.clock.now()

    def start(self) -> None:
        """Generate the certificate, bind the port and serve in a thread."""
        if self._server is not None:
            return

        directory = self.config.cert_dir
        if directory is None:
            self._temp_dir = directory = tempfile.mkdtemp(prefix="vip-sandbox-")

        files = make_self_signed(directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(files.cert_file, files.key_file)
        self._server = make_server(
            self.config.host,
            self.config.port,
            self.app,
            threaded=True,
            request_handler=_QuietHandler,
            ssl_context=context,
        )
        self.ca_file = files.cert_file
        self.url = f"https://127.0.0.1:{self._server.server_port}"
        self.state.base_url = self.url
        self.webhooks.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox-http",
            daemon=True,
        )
        self._thread.start()
        logger.info("sandbox listening on port %s", self._server.server_port)

    def stop(self) -> None:
        """Stop serving and sending; remove a generated certificate directory."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

        self.webhooks.stop()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def load_seed(self, seed: dict[str, Any]) -> None:
        self.state.load_seed(seed, self.config.api_user_email)

    def notify(self, change: Change) -> None:
        """Queue the webhooks Zendesk would send for ``change``."""
        if change.is_empty:
            return

        if self.config.webhook_mode == "events":
            bodies = render_events(change, self.state, self.now())
        else:
            bodies = render_trigger(change, self.state)

        self.webhooks.enqueue(change.ticket_id, bodies)

    def flush_webhooks(self, timeout: float = 10) -> None:
        """Wait until queued webhooks are delivered or given up."""
        if not self.webhooks.flush(timeout):
            logger.warning("webhooks still pending after %s s", timeout)

    def webhook_attempts(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(a) for a in self.state.webhook_attempts]

    def create_ticket(
        self,
        requester_email: str,
        subject: str,
        body: str,
        requester_name: str | None = None,
        **fields: Any,
    ) -> int:
        """Create a ticket as its requester would (the requester is the actor).

        An unknown e-mail becomes a new end user (named ``requester_name``) in
        the organization whose domain matches; ``fields`` are ticket fields
        such as priority, type, tags or custom_fields.
        """
        requester = {"email": requester_email, "name": requester_name}
        payload = {
            "ticket": {
                **fields,
                "subject": subject,
                "comment": {"body": body},
                "requester": requester,
            }
        }
        ticket, _, change = desk.create_ticket(
            self.state, payload, self.api_user_id, self.now()
        )
        self.notify(change)
        return int(ticket["id"])

    def agent_reply(
        self,
        ticket_id: int,
        body: str,
        public: bool = True,
        author_id: int | None = None,
        status: str | None = None,
    ) -> dict[str, Any]:
        """An agent answers; a new ticket becomes open unless ``status`` says."""
        author = author_id or self._agent_for(ticket_id)
        data: dict[str, Any] = {"comment": {"body": body, "public": public}}
        with self.state.lock:
            current = desk.get_ticket(self.state, ticket_id)["status"]

        if status is not None or current == "new":
            data["status"] = status or "open"

        return self._update(ticket_id, data, author)

    def customer_reply(self, ticket_id: int, body: str) -> dict[str, Any]:
        """The requester writes again; a pending, on-hold or solved ticket reopens."""
        with self.state.lock:
            ticket = desk.get_ticket(self.state, ticket_id)
            requester, status = ticket["requester_id"], ticket["status"]

        data: dict[str, Any] = {"comment": {"body": body, "public": True}}
        if status in ("pending", "hold", "solved"):
            data["status"] = "open"

        return self._update(ticket_id, data, requester)

    def set_status(
        self, ticket_id: int, status: str, actor_id: int | None = None
    ) -> dict[str, Any]:
        """Change the status as an agent would (closing included)."""
        author = actor_id or self._agent_for(ticket_id)
        return self._update(ticket_id, {"status": status}, author)

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        """The ticket with its comments and audits (copies)."""
        with self.state.lock:
            ticket = dict(desk.get_ticket(self.state, ticket_id))
            comments = [dict(c) for c in self.state.comments.get(ticket_id, [])]
            audits = [dict(a) for a in self.state.audits.get(ticket_id, [])]

        return {"ticket": ticket, "comments": comments, "audits": audits}

    def rate_ticket(
        self, ticket_id: int, score: str, comment: str = ""
    ) -> dict[str, Any]:
        """The requester rates the ticket (legacy CSAT); a new rating replaces it.

        good and bad need a solved or closed ticket, as in Zendesk; offered and
        unoffered record the survey's state. Returns the rating (a copy).
        """
        if score not in RATING_SCORES:
            raise ValueError(f"score must be one of {RATING_SCORES}, not {score!r}")

        now = format_time(self.now())
        with self.state.lock:
            ticket = desk.get_ticket(self.state, ticket_id)
            if score in ("good", "bad") and ticket["status"] not in RATED_STATUSES:
                raise desk.ApiError(
                    422,
                    {"error": "RecordInvalid", "description": "Ticket is not solved"},
                )

            rating = self.state.satisfaction_ratings.get(ticket_id)
            if rating is None:
                rating = self._new_rating(ticket, now)
                self.state.satisfaction_ratings[ticket_id] = rating

            rating.update(score=score, comment=comment, updated_at=now)
            ticket["satisfaction_rating"] = {
                "id": rating["id"],
                "score": score,
                "comment": comment,
            }
            return dict(rating)

    def _new_rating(self, ticket: dict[str, Any], now: str) -> dict[str, Any]:
        rating_id = self.state.new_id()
        return {
            "id": rating_id,
            "url": f"{self.url}/api/v2/satisfaction_ratings/{rating_id}.json",
            "assignee_id": ticket.get("assignee_id"),
            "group_id": ticket.get("group_id"),
            "requester_id": ticket["requester_id"],
            "ticket_id": ticket["id"],
            "score": "unoffered",
            "comment": "",
            "reason": "",
            "reason_id": None,
            "created_at": now,
            "updated_at": now,
        }

    def calls(self) -> dict[str, int]:
        with self.state.lock:
            return dict(self.state.calls)

    def inject_fault(
        self,
        route: str,
        status: int = 0,
        retry_after: int | None = None,
        count: int = 1,
        body: str = "json",
        delay: float = 0.0,
    ) -> None:
        """Make the next ``count`` calls of ``route`` ("PUT ticket", "*") fail."""
        known = set(ROUTES.values()) | {"*"}
        if route not in known:
            raise ValueError(f"unknown route {route!r}; known: {sorted(known)}")

        fault = Fault(route, int(status), retry_after, int(count), body, float(delay))
        with self.state.lock:
            self.state.faults.append(fault)

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()

    def issue_token(self) -> str:
        """Mint a Salesforce access token valid for the configured lifetime."""
        token = f"00Dxx0000001gPF!{secrets.token_urlsafe(24)}"
        lifetime = timedelta(seconds=self.config.sf_token_lifetime)
        with self.state.lock:
            self.state.tokens[token] = self.now() + lifetime

        return token

    def token_valid(self, token: str) -> bool:
        with self.state.lock:
            expires = self.state.tokens.get(token)

        return expires is not None and self.now() < expires

    def expire_tokens(self) -> None:
        """Expire every Salesforce token at once (a session timeout)."""
        with self.state.lock:
            self.state.tokens.clear()

    def _agent_for(self, ticket_id: int) -> int:
        with self.state.lock:
            ticket = desk.get_ticket(self.state, ticket_id)
            assignee = self.state.users.get(ticket.get("assignee_id") or 0)
            if assignee is not None and assignee["role"] in ("agent", "admin"):
                return int(assignee["id"])

            agents = [u for u in self.state.users.values() if u["role"] == "agent"]

        return int(agents[0]["id"]) if agents else self.api_user_id

    def _update(
        self,
        ticket_id: int,
        data: dict[str, Any],
        actor_id: int,
    ) -> dict[str, Any]:
        ticket, _, change = desk.update_ticket(
            self.state, ticket_id, {"ticket": data}, actor_id, self.now()
        )
        self.notify(change)
        return ticket


def create_app(sandbox: Sandbox) -> Flask:
    """The Flask app with the Zendesk, Salesforce and admin blueprints."""
    app = Flask("vip_sidecar_sandbox")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["vip_sandbox"] = sandbox
    app.register_blueprint(zendesk_api.bp)
    app.register_blueprint(salesforce_api.bp)
    app.register_blueprint(admin.bp)

    @app.before_request
    def count_and_fault() -> Response | None:
        route = ROUTES.get(request.endpoint or "")
        if route is None:
            return None

        sandbox.state.record_call(route)
        fault = sandbox.state.take_fault(route)
        if fault is None:
            return None

        if fault.delay > 0:
            time.sleep(min(fault.delay, 60.0))

        return fault_response(route, fault) if fault.status else None

    @app.after_request
    def add_limit_headers(response: Response) -> Response:
        route = ROUTES.get(request.endpoint or "")
        if route is not None:
            _limit_headers(sandbox, route, response)

        return response

    return app


def fault_response(route: str, fault: Fault) -> Response:
    """The injected answer, shaped like the vendor's own for that status."""
    if route in salesforce_api.ROUTES.values():
        code = "REQUEST_LIMIT_EXCEEDED" if fault.status == 403 else "SERVER_UNAVAILABLE"
        response = Response(
            f'[{{"message":"Injected fault","errorCode":"{code}"}}]',
            status=fault.status,
            mimetype="application/json",
        )
    elif fault.body == "text":
        text = RATE_LIMIT_TEXT if fault.status == 429 else "Service Unavailable"
        response = Response(text, status=fault.status, mimetype="text/plain")
    else:
        error = "APIRateLimitExceeded" if fault.status == 429 else "ServiceUnavailable"
        description = RATE_LIMIT_TEXT if fault.status == 429 else "Try again later"
        response = Response(
            f'{{"error":"{error}","description":"{description}"}}',
            status=fault.status,
            mimetype="application/json",
        )

    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)

    return response


def _limit_headers(sandbox: Sandbox, route: str, response: Response) -> None:
    state = sandbox.state
    if route in salesforce_api.ROUTES.values():
        if route != "POST oauth token":
            with state.lock:
                state.sf_api_usage += 1
                used = state.sf_api_usage

            response.headers["Sforce-Limit-Info"] = f"api-usage={used}/{SF_DAILY_LIMIT}"

        return

    used = state.minute_calls()
    remaining = max(ZENDESK_RATE_LIMIT - used, 0)
    resets = 60 - int(time.time()) % 60
    response.headers["x-rate-limit"] = str(ZENDESK_RATE_LIMIT)
    response.headers["x-rate-limit-remaining"] = str(remaining)
    if route == "PUT ticket":
        with state.lock:
            updates = state.calls[route]

        left = TICKET_UPDATE_LIMIT - updates % TICKET_UPDATE_LIMIT
        response.headers["zendesk-rate-limit-tickets-update"] = (
            f"total={TICKET_UPDATE_LIMIT}; remaining={left}; resets={resets}"
        )


def run_forever(config: SandboxConfig, clock: Clock | None = None) -> None:
    """Start a sandbox, print where it listens, block until SIGINT or SIGTERM."""
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {
        sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    sandbox = Sandbox(config, clock)
    sandbox.start()
    try:
        print(f"sandbox url: {sandbox.url}", flush=True)
        print(f"sandbox ca file: {sandbox.ca_file}", flush=True)
        # Test credentials of this local stand-in, for pointing `serve` at it.
        print(
            "environment for serve against this sandbox:\n"
            f"  ZENDESK_EMAIL={config.api_user_email}\n"
            f"  ZENDESK_API_TOKEN={config.api_token}\n"
            f"  ZENDESK_WEBHOOK_SECRET={config.signing_secret}\n"
            f"  SALESFORCE_CONSUMER_KEY={config.sf_consumer_key}\n"
            f"  SALESFORCE_CONSUMER_SECRET={config.sf_consumer_secret}\n"
            f"  VIP_SIDECAR_CA_BUNDLE={sandbox.ca_file}\n"
            f"config: zendesk.base_url: {sandbox.url}; salesforce.token_url: "
            f"{sandbox.url}/services/oauth2/token",
            flush=True,
        )
        stop.wait()
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
