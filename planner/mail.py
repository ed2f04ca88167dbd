"""Outgoing mail transports: SMTP with classified errors, and a local mailbox for demos.

No Flask here: transports take plain settings so they can be tested and benchmarked alone.
Error classes tell the outbox what to do with a message:
TemporaryMailError -> retry later (see retry_delay), PermanentMailError -> fail this message now,
MailConfigError -> stop the batch and tell the organiser; the message itself is not to blame.
"""

from __future__ import annotations

import email.policy
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from .errors import PlannerError

SECURITY_MODES = ("plain", "starttls", "tls")
DEFAULT_PORTS = {"plain": 25, "starttls": 587, "tls": 465}

#: Waiting time before retry number n (index n-1); after the last one the message is failed.
RETRY_SCHEDULE = tuple(timedelta(minutes=m) for m in (1, 5, 15, 60, 240))

#: Bytes as they travel over SMTP (CRLF line ends); the mailbox stores the same bytes.
WIRE_POLICY = email.policy.SMTP

#: A message object, or its finished RFC 5322 bytes (e.g. as stored in the outbox: no re-encoding).
Message = EmailMessage | bytes


class MailError(PlannerError):
    """Base class of every error raised by a transport."""


class TemporaryMailError(MailError):
    """The server or network failed for now: send this message again later."""


class PermanentMailError(MailError):
    """The server refused this message for good: do not retry it."""


class MailConfigError(MailError):
    """The mail settings are wrong (login, TLS, host): the organiser must fix them."""


@dataclass(frozen=True)
class SMTPSettings:
    """How to reach and log in to the outgoing SMTP server."""

    host: str = "localhost"
    port: int = 25
    security: str = "plain"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    ca_file: str | None = None
    verify: bool = True
    local_hostname: str | None = None

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise MailConfigError(
                f"SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}, not {self.security!r}"
            )
        if not 0 < self.port < 65536:
            raise MailConfigError(f"SMTP_PORT must be between 1 and 65535, not {self.port}")
        if self.timeout <= 0:
            raise MailConfigError(f"SMTP_TIMEOUT must be positive, not {self.timeout}")
        if self.password and not self.username:
            raise MailConfigError("SMTP_PASSWORD is set but SMTP_USERNAME is not")

    @property
    def address(self) -> str:
        """host:port, for messages."""
        return f"{self.host}:{self.port}"


class SMTPTransport:
    """Sends messages over SMTP; inside `with`, one connection serves the whole batch."""

    def __init__(self, settings: SMTPSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._in_batch = False
        self._tls_context: ssl.SSLContext | None = None
        self._local_hostname = settings.local_hostname

    def __enter__(self) -> SMTPTransport:
        self._in_batch = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._in_batch = False
        self._disconnect(polite=True)

    @property
    def is_connected(self) -> bool:
        """Whether a connection is open now (False after the server went away)."""
        return self._smtp is not None

    def send(self, message: Message, *, sender: str, recipients: list[str]) -> None:
        """Send one message as is (its Message-ID untouched); raise a MailError subclass on failure."""
        if not self._in_batch:
            with self:
                return self.send(message, sender=sender, recipients=recipients)
        data = wire_bytes(message)
        options = [] if sender.isascii() and all(r.isascii() for r in recipients) else ["SMTPUTF8"]
        reused = self._smtp is not None
        try:
            try:
                refused = self._connection().sendmail(sender, recipients, data, options)
            except (smtplib.SMTPServerDisconnected, ConnectionError, ssl.SSLEOFError):
                if not reused:
                    raise
                # The server closed the idle connection between two messages: reconnect once.
                # (Had it dropped while answering DATA, it may hold a copy; the Message-ID is stable.)
                self._disconnect(polite=False)
                refused = self._connection().sendmail(sender, recipients, data, options)
        except (smtplib.SMTPException, OSError) as exc:
            if not _connection_survives(exc, self._smtp):
                self._disconnect(polite=False)
            raise classify(exc, self.settings) from exc
        if refused:
            # Some recipients took it: resending would duplicate it for them, so only report.
            raise PermanentMailError(f"delivered, but refused for {_describe_refused(refused)}")

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._open()
        return self._smtp

    def _open(self) -> smtplib.SMTP:
        settings = self.settings
        options: dict[str, Any] = {"local_hostname": self._local_hostname, "timeout": settings.timeout}
        if settings.security == "tls":
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, context=self._context(), **options)
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, **options)
        # smtplib may look our FQDN up (slow): do it once per transport.
        self._local_hostname = smtp.local_hostname
        try:
            if settings.security == "starttls":
                smtp.starttls(context=self._context())
            if settings.username:
                smtp.login(settings.username, settings.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _context(self) -> ssl.SSLContext:
        if self._tls_context is None:
            self._tls_context = tls_context(self.settings)
        return self._tls_context

    def _disconnect(self, *, polite: bool) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            if polite:
                smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()


def wire_bytes(message: Message) -> bytes:
    """The bytes to transmit: bytes unchanged, an EmailMessage serialised with CRLF line ends."""
    return message if isinstance(message, bytes) else message.as_bytes(policy=WIRE_POLICY)


def tls_context(settings: SMTPSettings) -> ssl.SSLContext:
    """The client TLS context for these settings (system CAs plus SMTP_CA_FILE, or no checks)."""
    context = ssl.create_default_context()
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif settings.ca_file:
        try:
            context.load_verify_locations(cafile=settings.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise MailConfigError(f"SMTP_CA_FILE {settings.ca_file!r} cannot be used: {exc}") from exc
    return context


def _connection_survives(exc: Exception, smtp: smtplib.SMTP | None) -> bool:
    """True when smtplib reset the session after a refusal and the socket is still open."""
    refusal = isinstance(exc, (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused))
    return refusal and smtp is not None and smtp.sock is not None


def classify(exc: Exception, settings: SMTPSettings) -> MailError:
    """Turn an smtplib/socket/ssl exception into Temporary-, Permanent- or MailConfigError."""
    where = settings.address
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return MailConfigError(
            f"SMTP login refused for user {settings.username!r}: {_reply(exc)}"
            " (check SMTP_USERNAME and SMTP_PASSWORD)"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return MailConfigError(
            f"TLS certificate of {where} not trusted: {exc.verify_message}. Set SMTP_CA_FILE to"
            " the CA bundle that signed it, or SMTP_VERIFY=false to skip verification"
        )
    if isinstance(exc, ssl.SSLError) and exc.reason == "WRONG_VERSION_NUMBER":
        return MailConfigError(
            f"{where} does not speak implicit TLS; check SMTP_SECURITY"
            " ('tls' usually on port 465, 'starttls' usually on port 587)"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError) and "SMTPUTF8" in str(exc):
        return PermanentMailError(f"{where} cannot take non-ASCII addresses (no SMTPUTF8)")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailConfigError(f"{where}: {exc}; check SMTP_SECURITY and SMTP_USERNAME")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        kind = PermanentMailError if all(code >= 500 for code in codes) else TemporaryMailError
        return kind(f"{where} refused {_describe_refused(exc.recipients)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _classify_reply(exc, where)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TemporaryMailError(f"connection to {where} lost: {exc}")
    if isinstance(exc, TimeoutError):
        return TemporaryMailError(f"no answer from {where} within {settings.timeout:g}s")
    if isinstance(exc, ConnectionRefusedError):
        return TemporaryMailError(f"connection to {where} refused (is the SMTP server running?)")
    return TemporaryMailError(f"cannot talk to {where}: {exc}")


def _classify_reply(exc: smtplib.SMTPResponseException, where: str) -> MailError:
    code, reply = exc.smtp_code, _reply(exc)
    if code == 530:
        return MailConfigError(
            f"{where} requires login or STARTTLS first: {reply}"
            " (set SMTP_USERNAME/SMTP_PASSWORD or SMTP_SECURITY)"
        )
    if code < 500:
        return TemporaryMailError(f"{where} deferred the message: {reply}")
    if isinstance(exc, (smtplib.SMTPConnectError, smtplib.SMTPHeloError)):
        return MailConfigError(f"{where} refuses to serve us: {reply}")
    return PermanentMailError(f"{where} refused the message: {reply}")


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{exc.smtp_code} {text}"


def _describe_refused(refused: Mapping[str, tuple[int, bytes | str]]) -> str:
    parts = []
    for address, (code, text) in refused.items():
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        parts.append(f"{address}: {code} {text}")
    return "; ".join(parts)


@dataclass(frozen=True)
class StoredMail:
    """Headers of one message kept by MailboxTransport."""

    name: str
    path: Path
    subject: str
    to: str
    date: datetime | None
    message_id: str


class MailboxTransport:
    """Keeps messages as .eml files in a directory instead of sending them (demo and dev)."""

    #: a folder is always there to write to
    is_connected = True

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def __enter__(self) -> MailboxTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def send(self, message: Message, *, sender: str, recipients: list[str]) -> None:
        """Store the message atomically as <timestamp>-<message-id>.eml."""
        data = wire_bytes(message)
        message_id = BytesHeaderParser(policy=email.policy.default).parsebytes(data)["Message-ID"]
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{_slug(message_id or '')}.eml"
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            os.replace(temporary, self.directory / name)
        except BaseException:
            os.unlink(temporary)
            raise

    def list(self) -> list[StoredMail]:
        """The stored messages, newest first."""
        if not self.directory.is_dir():
            return []
        paths = sorted(self.directory.glob("[!.]*.eml"), reverse=True)
        return [_stored_mail(path) for path in paths]

    def read(self, name: str) -> bytes:
        """The raw bytes of a stored message; ValueError for names that are not plain .eml files."""
        if Path(name).name != name or name.startswith(".") or not name.endswith(".eml"):
            raise ValueError(f"not a stored message name: {name!r}")
        return (self.directory / name).read_bytes()


def _slug(message_id: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", message_id.strip().strip("<>")).strip("-.")
    return slug[:80] or "no-message-id"


def _stored_mail(path: Path) -> StoredMail:
    with path.open("rb") as file:
        headers = BytesHeaderParser(policy=email.policy.default).parse(file)
    try:
        date = parsedate_to_datetime(headers["Date"]) if headers["Date"] else None
    except (TypeError, ValueError):
        date = None
    return StoredMail(
        name=path.name,
        path=path,
        subject=str(headers.get("Subject", "")),
        to=str(headers.get("To", "")),
        date=date,
        message_id=str(headers.get("Message-ID", "")),
    )


def transport_from_config(config: Mapping[str, Any]) -> SMTPTransport | MailboxTransport:
    """Build the transport named by MAIL_TRANSPORT from MAIL_*/SMTP_* config values."""
    kind = str(config.get("MAIL_TRANSPORT") or "smtp").lower()
    if kind == "mailbox":
        directory = config.get("MAIL_MAILBOX_DIR")
        if not directory:
            raise MailConfigError("MAIL_TRANSPORT=mailbox needs MAIL_MAILBOX_DIR")
        return MailboxTransport(directory)
    if kind != "smtp":
        raise MailConfigError(f"MAIL_TRANSPORT must be 'smtp' or 'mailbox', not {kind!r}")
    security = str(config.get("SMTP_SECURITY") or "plain").lower()
    try:
        port = int(config.get("SMTP_PORT") or DEFAULT_PORTS.get(security, 25))
        timeout = float(config.get("SMTP_TIMEOUT") or 30.0)
    except ValueError as exc:
        raise MailConfigError(f"SMTP_PORT and SMTP_TIMEOUT must be numbers: {exc}") from exc
    return SMTPTransport(
        SMTPSettings(
            host=config.get("SMTP_HOST") or "localhost",
            port=port,
            security=security,
            username=config.get("SMTP_USERNAME") or None,
            password=config.get("SMTP_PASSWORD") or None,
            timeout=timeout,
            ca_file=config.get("SMTP_CA_FILE") or None,
            verify=_flag("SMTP_VERIFY", config.get("SMTP_VERIFY")),
        )
    )


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if value is None or text in ("", "1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise MailConfigError(f"{name} must be true or false, not {value!r}")


def retry_delay(attempts: int) -> timedelta | None:
    """Wait before the next try after `attempts` failed tries; None once 5 retries are spent (-> failed)."""
    if attempts < 1:
        raise ValueError("attempts counts failed tries and starts at 1")
    if attempts > len(RETRY_SCHEDULE):
        return None
    return RETRY_SCHEDULE[attempts - 1]
