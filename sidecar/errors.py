"""The service's one error hierarchy.

Every error the sidecar raises on purpose is a :class:`SidecarError`: it
carries a stable ``code`` (for logs and JSON bodies) and the HTTP status a web
view would answer with. Connector errors wrap the vendor's exception and chain
it with ``raise ... from``.
"""

from __future__ import annotations


class SidecarError(Exception):
    """Base error: ``code`` names the problem, ``http_status`` its answer."""

    code = "internal_error"
    http_status = 500
    transient = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message}}


class ConfigError(SidecarError):
    """The configuration is invalid; raised at start-up, never later."""

    code = "config_error"
    http_status = 500
