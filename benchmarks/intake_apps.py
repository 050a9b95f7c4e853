"""WSGI apps for the intake benchmark, built from environment variables.

``webhook_app()`` is the real receiver on a SQLite (or any) store;
``bare_app()`` is a Flask endpoint that only answers 200: the ceiling.
"""

from __future__ import annotations

import os

from flask import Flask


def webhook_app() -> Flask:
    from sidecar.store import Store
    from webhooks.app import create_app

    store = Store(os.environ["BENCH_STORE_URL"])
    store.create_all()
    return create_app(
        store=store,
        signing_secret=os.environ["BENCH_SECRET"],
        readiness=lambda: {"ready": True},
    )


def bare_app() -> Flask:
    app = Flask("bare")

    @app.post("/webhooks/zendesk")
    def accept() -> tuple[str, int]:
        return "", 200

    return app
