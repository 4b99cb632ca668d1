"""Real local receivers for notification tests: an SMTP server with STARTTLS (aiosmtpd,
a self-signed certificate made here with ``cryptography``) and an HTTP server that
checks each webhook's signature and timestamp. Needs the ``testing`` extra."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import threading
import time
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ztix_worker.notify.senders import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ztix test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@attrs.define
class Mail:
    """One message the server accepted."""

    sender: str
    recipients: list[str]
    message: Message
    tls: bool
    login: str | None


class _Handler:
    def __init__(self, box: MailServer) -> None:
        self.box = box

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        with self.box.lock:
            self.box.mails.append(
                Mail(
                    envelope.mail_from or "",
                    list(envelope.rcpt_tos),
                    message_from_bytes(raw),
                    session.ssl is not None,
                    session.auth_data if isinstance(session.auth_data, str) else None,
                )
            )
        return "250 OK"


class MailServer:
    """aiosmtpd on 127.0.0.1 offering STARTTLS and requiring it (and a login) before
    mail; without ``cert`` it offers no TLS at all."""

    def __init__(self, cert: tuple[Path, Path] | None, user: str = "", password: str = "") -> None:
        self.mails: list[Mail] = []
        self.lock = threading.Lock()
        self.user, self.password = user, password
        kwargs: dict[str, Any] = {}
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
            kwargs.update(tls_context=context, require_starttls=True)
        if user:
            kwargs.update(authenticator=self._auth, auth_require_tls=True, auth_required=True)
        self.port = _free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)

    def _auth(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.user
            and data.password.decode() == self.password
        )
        return AuthResult(success=ok, auth_data=self.user if ok else None)

    def start(self) -> MailServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def received(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)


@attrs.define
class Hook:
    """One webhook call the receiver accepted (signature and timestamp checked)."""

    path: str
    event: str
    body: dict[str, Any]
    delivery: str


class WebhookReceiver:
    """An HTTP server on 127.0.0.1. Path ``/ok`` answers 204 to a call whose signature
    (under ``secret``) and timestamp (within ``max_skew_s``) check out, 401 otherwise;
    ``/fail`` always answers 500. Every call is counted per path."""

    def __init__(self, secret: str, max_skew_s: float = 300) -> None:
        self.secret = secret
        self.max_skew_s = max_skew_s
        self.accepted: list[Hook] = []
        self.refused: list[str] = []
        self.calls: dict[str, int] = {}
        #: when each delivery (``X-Ztix-Delivery``) was tried, per path (monotonic seconds)
        self.attempts: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                code = receiver._judge(self.path, dict(self.headers.items()), body)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                """Silent: tests read the recorded hooks, not an access log."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def verify(self, headers: dict[str, str], body: bytes) -> str:
        """Why the call is refused, or ``""``."""
        stamp = headers.get(TIMESTAMP_HEADER, "")
        given = headers.get(SIGNATURE_HEADER, "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > self.max_skew_s:
            return f"bad timestamp {stamp!r}"
        mac = hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        if not hmac.compare_digest(given, "sha256=" + mac.hexdigest()):
            return "bad signature"
        return ""

    def _judge(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.calls[path] = self.calls.get(path, 0) + 1
            key = f"{path} {headers.get(DELIVERY_HEADER, '')}"
            self.attempts.setdefault(key, []).append(time.monotonic())
        if path == "/fail":
            return 500
        why = self.verify(headers, body)
        with self.lock:
            if why:
                self.refused.append(why)
                return 401
            document = json.loads(body)
            self.accepted.append(
                Hook(path, document["event"], document, headers.get(DELIVERY_HEADER, ""))
            )
        return 204

    def start(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def hooks(self) -> list[Hook]:
        with self.lock:
            return list(self.accepted)


class SilentServer:
    """Accepts TCP connections (the kernel's backlog) and never answers: a timeout."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def close(self) -> None:
        self.sock.close()
