"""HTTP plumbing shared by the connectors: sessions, retries, call counting.

Only reads are retried by the transport. A write whose answer was lost may
have been applied, so re-sending it could duplicate an internal note; the
caller decides what to do after a failed write.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

READ_METHODS = frozenset({"GET"})
RETRY_STATUSES = (502, 503, 504)


class ReadOnlyRetry(Retry):
    """A urllib3 ``Retry`` that never retries other methods, not even on connect.

    urllib3 retries connection errors whatever the method; this policy gives
    every method outside ``allowed_methods`` no retry at all.
    """

    def increment(self, method: str | None = None, *args: Any, **kwargs: Any) -> Retry:
        allowed = self.allowed_methods or frozenset()
        if method is not None and method.upper() not in allowed:
            spent = self.new(total=0, connect=0, read=0, status=0, other=0)
            return Retry.increment(spent, method, *args, **kwargs)

        return super().increment(method, *args, **kwargs)


def read_retry(retries: int = 2, backoff: float = 0.3) -> Retry:
    """Retry policy: reads retried on connect/read errors and 502/503/504."""
    return ReadOnlyRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=0,
        allowed_methods=READ_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        respect_retry_after_header=False,
        raise_on_status=False,
    )


def build_session(
    ca_bundle: str | None = None, retry: Retry | None = None
) -> requests.Session:
    """A session that ignores proxy/CA environment variables and retries reads only."""
    session = requests.Session()
    session.trust_env = False
    if ca_bundle:
        session.verify = ca_bundle

    adapter = HTTPAdapter(max_retries=retry or read_retry())
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def connector_session(
    session: requests.Session | None,
    ca_bundle: str | None,
    classify: Callable[[str, str], str | None],
) -> tuple[requests.Session, CallRecorder]:
    """The session a connector uses (its own unless one is given), never
    trusting the environment's proxy or CA settings, with a call recorder."""
    session = session or build_session(ca_bundle)
    session.trust_env = False
    if ca_bundle:
        session.verify = ca_bundle

    recorder = CallRecorder(classify)
    recorder.install(session)
    return session, recorder


class CallRecorder:
    """Counts the HTTP calls a session makes and remembers the last Retry-After.

    Installed as a ``response`` hook; ``classify`` turns a request into a key
    such as ``"GET ticket"`` (None: not counted). It sees what the session
    sends: re-sends after a 429 count, the transport's own retries do not.
    """

    def __init__(self, classify: Callable[[str, str], str | None]) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self._classify = classify
        self._local = threading.local()
        self._lock = threading.Lock()

    def install(self, session: requests.Session) -> None:
        session.hooks.setdefault("response", []).append(self._on_response)

    def last_retry_after(self) -> float | None:
        return getattr(self._local, "retry_after", None)

    def reset_retry_after(self) -> None:
        self._local.retry_after = None

    def _on_response(
        self, response: requests.Response, *args: Any, **kwargs: Any
    ) -> None:
        request = response.request
        key = self._classify(request.method or "", request.path_url)
        if key is not None:
            with self._lock:
                self.calls[key] += 1

        if response.status_code == 429:
            self._local.retry_after = parse_retry_after(
                response.headers.get("Retry-After")
            )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds (None: absent or a date)."""
    if value is None:
        return None

    try:
        return max(float(value), 0.0)
    except ValueError:
        return None
