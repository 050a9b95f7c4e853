"""A scripted HTTPS server on 127.0.0.1 for transport-level connector tests.

`responses` replaces the transport, so it cannot show what urllib3 re-sends
after a read timeout; this server counts the requests that really arrive.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Step:
    """One scripted answer: wait ``delay`` seconds, then send ``status``/``body``."""

    status: int = 200
    body: object = None
    delay: float = 0.0


@dataclass
class ScriptedServer:
    url: str
    ca_file: str
    script: dict[tuple[str, str], list[Step]] = field(default_factory=dict)
    hits: list[tuple[str, str]] = field(default_factory=list)

    def count(self, method: str, path: str) -> int:
        return sum(1 for hit in self.hits if hit == (method, path))


def _write_cert(directory: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "connector tests")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "cert.pem"
    key_file = directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def _handler(state: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            path = self.path.split("?", 1)[0]
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            with lock:
                state.hits.append((self.command, path))
                steps = state.script.get((self.command, path)) or [Step(404, {})]
                step = steps.pop(0) if len(steps) > 1 else steps[0]

            time.sleep(step.delay)
            payload = json.dumps(step.body).encode()
            try:
                self.send_response(step.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass

        do_GET = do_PUT = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[ScriptedServer]:
    """An HTTPS server on 127.0.0.1 answering from ``server.script``."""
    cert_file, key_file = _write_cert(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)

    state = ScriptedServer(url="", ca_file=cert_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.url = f"https://127.0.0.1:{server.server_address[1]}"

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state

    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
