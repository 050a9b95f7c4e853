"""Errors a webhook view answers with; each renders as the service's JSON body."""

from __future__ import annotations

from sidecar.errors import SidecarError


class BadSignature(SidecarError):
    """Raised by the signature check: missing, wrong or stale signature (401)."""

    code = "bad_signature"
    http_status = 401

    def __init__(self, message: str, *, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


class BadRequest(SidecarError):
    """Raised by the body parser: not JSON, not an object, or a bad field (400)."""

    code = "bad_request"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def to_dict(self) -> dict[str, object]:
        body = super().to_dict()
        if self.field is not None:
            body["error"]["field"] = self.field  # type: ignore[index]

        return body


class PayloadTooLarge(SidecarError):
    """Raised before reading a body larger than the configured limit (413)."""

    code = "payload_too_large"
    http_status = 413


class StoreUnavailable(SidecarError):
    """Raised when the event cannot be stored; the sender should retry (503)."""

    code = "store_unavailable"
    http_status = 503
    transient = True
