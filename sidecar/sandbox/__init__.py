"""A local stand-in for Zendesk and Salesforce, for the demo and end-to-end tests.

It serves exactly the API surface the sidecar's connectors use, over HTTPS on
127.0.0.1 with a throw-away certificate, and sends signed ticket webhooks the
way Zendesk does.
"""

from __future__ import annotations

from sidecar.sandbox.seed import default_seed
from sidecar.sandbox.server import Sandbox, SandboxConfig, run_forever
from sidecar.sandbox.state import SandboxState

__all__ = ["Sandbox", "SandboxConfig", "SandboxState", "default_seed", "run_forever"]
