"""Shared fixtures: a store on a temporary SQLite file and one on PostgreSQL.

The PostgreSQL store needs ``VIP_SIDECAR_TEST_DATABASE_URL`` (for example
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each test gets its own
schema, dropped afterwards, so parallel runs do not clash.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from sidecar.store import Store

PG_ENV = "VIP_SIDECAR_TEST_DATABASE_URL"


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    """A fresh store on a temporary SQLite file."""
    instance = Store(f"sqlite:///{tmp_path / 'sidecar.db'}")
    instance.create_all()
    yield instance
    instance.dispose()


def _pg_admin_engine(url: str):
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        engine.dispose()
        pytest.skip(f"PostgreSQL at {PG_ENV} does not answer: {type(exc).__name__}")

    return engine


def _with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def pg_store(request) -> Iterator[Store]:
    """A fresh store in its own PostgreSQL schema; skips without a server."""
    request.applymarker(pytest.mark.postgres)
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set; PostgreSQL store tests skipped")

    admin = _pg_admin_engine(url)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    instance = Store(_with_search_path(url, schema))
    instance.create_all()
    yield instance

    instance.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request) -> Store:
    """The same test on both back ends."""
    name = "store" if request.param == "sqlite" else "pg_store"
    return request.getfixturevalue(name)
