"""Fixtures for the webhook receiver: an app on a SQLite store and a signed poster."""

from __future__ import annotations

import pytest

from tests.webhooks.helpers import NOW, SECRET, FixedClock, signed_headers
from webhooks.app import create_app


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def app(store, clock):
    return create_app(store=store, signing_secret=SECRET, clock=clock)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def post(client):
    """POST a body to the Zendesk endpoint, signed unless told otherwise."""

    def send(body: bytes, *, invocation: str | None = None, **sign_args):
        headers = signed_headers(body, **sign_args)
        if invocation:
            headers["X-Zendesk-Webhook-Invocation-Id"] = invocation

        return client.post("/webhooks/zendesk", data=body, headers=headers)

    return send
