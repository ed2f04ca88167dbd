"""A real aiosmtpd server on a free loopback port, with switches for injecting faults.

    with SMTPServer() as server:                 # or SMTPServer(security="starttls", auth=("u", "p"))
        server.fail_next(2, 451)                 # the next two messages get "451 ..."
        server.drop_after(3)                     # close the connection after 3 more accepted messages
        server.hold_after(3)                     # accept 3 more, then keep the next ones waiting at DATA
        server.held, server.release()            # how many wait there; let them (and later ones) through
        ...
        server.messages[0].message["Subject"], server.connections
"""

from __future__ import annotations

import asyncio
import atexit
import email.policy
import functools
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from planner.inbound import ListenerController

HOST = "127.0.0.1"
CAN_MAKE_CERTIFICATES = shutil.which("openssl") is not None

REPLY_TEXT = {
    421: "421 4.3.2 Service shutting down, closing channel",
    451: "451 4.3.0 Temporary local problem, try later",
    550: "550 5.1.1 Mailbox unavailable",
}


@dataclass(frozen=True)
class Received:
    """One message as the server got it."""

    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        """The data parsed as an EmailMessage."""
        return BytesParser(policy=email.policy.default).parsebytes(self.data)


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for localhost and 127.0.0.1; cert_file also serves as CA file."""

    cert_file: str
    key_file: str


@functools.cache
def self_signed_certificate() -> Certificate:
    """Make (once per process) a throwaway certificate with the openssl binary."""
    if not CAN_MAKE_CERTIFICATES:
        raise RuntimeError("the openssl binary is needed to make a test certificate")
    directory = Path(tempfile.mkdtemp(prefix="planner-test-tls-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return Certificate(str(cert), str(key))


def free_port() -> int:
    """A loopback port with nothing listening on it (a server that is down)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class FaultyHandler:
    """Collects messages and misbehaves on request."""

    def __init__(self, credentials: tuple[str, str] | None = None):
        self.credentials = credentials
        self.messages: list[Received] = []
        self.failures: list[tuple[str, str]] = []   # (stage, reply) for the next messages
        self.accepted_before_drop: int | None = None
        self.accepted_before_hold: int | None = None
        self.held = 0
        self.gate = threading.Event()

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                     mechanism: str, auth_data: LoginPassword) -> AuthResult:
        """Accept only the configured username and password."""
        expected = tuple(part.encode() for part in self.credentials)
        return AuthResult(success=(auth_data.login, auth_data.password) == expected, handled=False)

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        """Record the sender unless a MAIL-stage fault is due."""
        fault = self._fault(server, "MAIL")
        if fault:
            return fault
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        """Record a recipient unless a RCPT-stage fault is due."""
        fault = self._fault(server, "RCPT")
        if fault:
            return fault
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the message unless a DATA-stage fault is due; drop the connection if asked."""
        await self._wait_at_gate()
        fault = self._fault(server, "DATA")
        if fault:
            return fault
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        if self.accepted_before_drop is not None:
            self.accepted_before_drop -= 1
            if self.accepted_before_drop <= 0:
                self.accepted_before_drop = None
                _close_after_reply(server)
        return "250 OK"

    async def _wait_at_gate(self) -> None:
        """Hold this message (the client waits for the reply to DATA) once the messages before the hold are in."""
        if self.accepted_before_hold is None:
            return
        if self.accepted_before_hold > 0:
            self.accepted_before_hold -= 1
            return
        self.held += 1
        while not self.gate.is_set():
            await asyncio.sleep(0.01)

    def _fault(self, server: SMTP, stage: str) -> str | None:
        if not self.failures or self.failures[0][0] != stage:
            return None
        _, reply = self.failures.pop(0)
        if reply.startswith("421"):
            _close_after_reply(server)
        return reply


def _close_after_reply(server: SMTP) -> None:
    """Close the client's connection once the reply being written has gone out."""
    asyncio.get_running_loop().call_soon(server.transport.close)


class CountingController(ListenerController):
    """Counts the client connections it accepts."""

    connections = 0

    def factory(self) -> SMTP:
        """Make the per-connection protocol, counting it."""
        self.connections += 1
        return super().factory()


class SMTPServer:
    """A threaded aiosmtpd server on 127.0.0.1 for tests and benchmarks."""

    def __init__(self, *, security: str = "plain", auth: tuple[str, str] | None = None):
        self.security = security
        self.handler = FaultyHandler(auth)
        self.certificate = self_signed_certificate() if security != "plain" else None
        kwargs: dict = {}
        if self.certificate:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.certificate.cert_file, self.certificate.key_file)
            kwargs["ssl_context" if security == "tls" else "tls_context"] = context
            kwargs["require_starttls"] = security == "starttls"
        if auth:
            kwargs.update(authenticator=self.handler.authenticate, auth_required=True,
                          auth_require_tls=False)
        self._controller_options = kwargs
        self._controller: CountingController | None = None
        self.port = 0

    @property
    def host(self) -> str:
        """The address to connect to."""
        return HOST

    @property
    def messages(self) -> list[Received]:
        """Messages accepted so far, oldest first."""
        return self.handler.messages

    @property
    def connections(self) -> int:
        """Client connections accepted since the last start() or clear()."""
        return self._controller.connections if self._controller else 0

    def start(self) -> SMTPServer:
        """Listen on a free port; a restart after stop() reuses the same port."""
        self._controller = CountingController(
            self.handler, hostname=HOST, port=self.port, server_hostname="localhost",
            **self._controller_options,
        )
        self._controller.start()
        self.port = self._controller.port
        self._controller.connections = 0   # forget aiosmtpd's own start-up probe
        return self

    def stop(self) -> None:
        """Stop listening: connections to `port` are refused afterwards."""
        self.handler.gate.set()   # no held message keeps the server's loop from stopping
        self._controller.stop()

    def __enter__(self) -> SMTPServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def fail_next(self, count: int, code: int = 451, *, stage: str = "DATA",
                  reply: str | None = None) -> None:
        """Answer the next `count` messages with `code` at MAIL, RCPT or DATA (421 also hangs up)."""
        self.handler.failures.extend([(stage, reply or REPLY_TEXT[code])] * count)

    def drop_after(self, count: int) -> None:
        """Close the client connection right after accepting `count` more messages."""
        self.handler.accepted_before_drop = count

    def hold_after(self, count: int) -> None:
        """Accept `count` more messages, then keep each further one waiting at DATA until release()."""
        self.handler.gate.clear()
        self.handler.accepted_before_hold = count

    @property
    def held(self) -> int:
        """Messages that have been held so far (waiting now, or let through by release())."""
        return self.handler.held

    def release(self) -> None:
        """Let the held messages through, and every later one."""
        self.handler.accepted_before_hold = None
        self.handler.gate.set()

    def clear(self) -> None:
        """Forget received messages, pending faults and the connection count."""
        self.handler.messages.clear()
        self.handler.failures.clear()
        self.handler.accepted_before_drop = None
        self.handler.accepted_before_hold = None
        self.handler.held = 0
        self.handler.gate.set()
        if self._controller:
            self._controller.connections = 0
