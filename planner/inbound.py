"""Inbound SMTP listener: accepts mail for any address and hands each raw message to a callback.

The callback runs in the listener's thread, one message at a time; it returns None (or "250 OK")
to accept the message, or an SMTP reply string such as "550 5.6.0 not a calendar reply".
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)

Handle = Callable[[bytes], "str | None"]

TEMPORARY_FAILURE = "451 4.3.0 Could not process the message, try again later"
#: the signals that stop serve_forever (Ctrl-C, and what systemd and kill send)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ListenerController(Controller):
    """An aiosmtpd Controller that may bind port 0 and then reports the real port in `port`."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class CallbackHandler:
    """aiosmtpd handler that passes each message's raw bytes to `handle`."""

    def __init__(self, handle: Handle):
        self.handle = handle

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Reply with the callback's answer (250 unless it returns a reply string), or 451 if it raises."""
        try:
            reply = self.handle(envelope.original_content or b"")
        except Exception:
            log.exception("inbound message from %s could not be handled", envelope.mail_from)
            return TEMPORARY_FAILURE
        return reply if isinstance(reply, str) and reply else "250 OK"


def make_inbound_server(host: str, port: int, handle: Handle) -> ListenerController:
    """A listener (not yet started: call .start()/.stop()) that feeds every message to `handle`."""
    # Look the banner name up once, not for every connection.
    banner = socket.getfqdn()
    return ListenerController(CallbackHandler(handle), hostname=host, port=port, server_hostname=banner)


def serve_forever(host: str, port: int, handle: Handle) -> None:
    """Run the listener in the foreground until SIGINT or SIGTERM, then stop it and return.

    The handlers are installed explicitly: a process started in the background by a non-interactive
    shell (`&`) inherits SIGINT ignored, and must stop on it all the same.
    """
    stop = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in STOP_SIGNALS}
    try:
        controller = make_inbound_server(host, port, handle)
        controller.start()
        log.info("listening for inbound mail on %s:%s", host, controller.port)
        try:
            stop.wait()
        finally:
            controller.stop()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
