"""Errors raised by the outside-system connectors (Zendesk, Salesforce).

Every connector failure is one of these, chained to the vendor's exception with
``raise ... from``. Messages carry identifiers only (ticket id, account id,
field name): never an e-mail address, a query or a response body, because the
vendors' own exception texts contain all three.
"""

from __future__ import annotations

from sidecar.errors import SidecarError


class ConnectorError(SidecarError):
    """A call to an outside system failed; ``system`` names which one."""

    code = "connector_error"
    http_status = 502

    def __init__(self, message: str, *, system: str, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.system = system


class UpstreamUnavailable(ConnectorError):
    """Raised on timeouts, connection errors and 5xx answers; worth retrying."""

    code = "upstream_unavailable"
    http_status = 503
    transient = True


class RateLimited(ConnectorError):
    """Raised when the system refuses for rate reasons; retry after ``retry_after``."""

    code = "rate_limited"
    http_status = 503
    transient = True

    def __init__(
        self,
        message: str,
        *,
        system: str,
        retry_after: float,
        code: str | None = None,
    ) -> None:
        super().__init__(message, system=system, code=code)
        self.retry_after = retry_after


class UpdateConflict(ConnectorError):
    """Raised by a safe update that lost a race: re-read, re-decide, retry."""

    code = "update_conflict"
    http_status = 409


class NotFound(ConnectorError):
    """Raised when the record (ticket, user, organization, resource) is absent."""

    code = "not_found"
    http_status = 404


class Rejected(ConnectorError):
    """Raised on a permanent 4xx refusal (invalid record, closed ticket)."""

    code = "rejected"
    http_status = 422


class AuthFailed(ConnectorError):
    """Raised when credentials are refused or a session cannot be renewed."""

    code = "auth_failed"
    http_status = 502


class FieldMissing(ConnectorError):
    """Raised when a configured CRM field does not exist or is hidden (FLS).

    A configuration error: ``field`` and ``entity`` name what to fix.
    """

    code = "field_missing"
    http_status = 500

    def __init__(self, message: str, *, system: str, field: str, entity: str) -> None:
        super().__init__(message, system=system)
        self.field = field
        self.entity = entity


class AmbiguousMatch(ConnectorError):
    """Raised when a lookup that must find one record found several."""

    code = "ambiguous_match"
    http_status = 409
