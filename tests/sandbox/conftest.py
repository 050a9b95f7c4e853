"""Fixtures for the sandbox tests: a running sandbox and a webhook receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response
from zenpy import Zenpy

from sidecar.sandbox import Sandbox, SandboxConfig


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1 that answers from a script."""

    url: str = ""
    script: list[tuple[int, dict[str, str], float]] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(
        self, status: int, headers: dict[str, str] | None = None, delay: float = 0.0
    ) -> None:
        self.script.append((status, headers or {}, delay))

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data()
        with self.lock:
            self.received.append((dict(request.headers), body))
            status, headers, delay = self.script.pop(0) if self.script else (200, {}, 0)

        time.sleep(delay)
        return Response("ok", status=status, headers=headers)(environ, start_response)

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver()
    server = make_server(
        "127.0.0.1", 0, target, threaded=True, request_handler=_QuietHandler
    )
    target.url = f"http://127.0.0.1:{server.server_port}/webhooks/zendesk"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield target
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(audits_page_size=2, webhook_retry_backoff=0.05)


@pytest.fixture
def sandbox(sandbox_config: SandboxConfig) -> Iterator[Sandbox]:
    with Sandbox(sandbox_config) as running:
        yield running


def tls_session(sandbox: Sandbox) -> requests.Session:
    """A session that trusts only the sandbox's certificate, ignoring env CAs."""
    session = requests.Session()
    session.verify = sandbox.ca_file
    session.trust_env = False
    return session


def zenpy_client(sandbox: Sandbox) -> Zenpy:
    port = sandbox.url.rsplit(":", 1)[1]
    return Zenpy(
        subdomain="127.0.0",
        domain=f"1:{port}",
        email=sandbox.config.api_user_email,
        token=sandbox.config.api_token,
        session=tls_session(sandbox),
        disable_cache=True,
        timeout=5,
        ratelimit_budget=10,
    )
