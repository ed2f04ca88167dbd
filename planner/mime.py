"""Prebuilt MIME: a multipart/alternative mail made once, then filled in for each recipient (pure, no Flask).

Building one message with the email package costs milliseconds, mostly in its header parsing and
folding. A Skeleton holds everything that is the same for every recipient of one event's mail
(headers folded by the email package itself, the boundary, the part headers); fill() adds what is
not: the To and Message-ID headers and the bodies, text as quoted-printable UTF-8 (which can never
hold the boundary) and the calendar as base64. The result decodes to the same headers and contents
as the message the email package builds.
"""

from __future__ import annotations

import base64
import binascii
import email.policy
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: bytes as they travel over SMTP (CRLF line ends), as in planner.mail
WIRE_POLICY = email.policy.SMTP
#: characters that make a display name a quoted-string (RFC 5322 specials, as email.utils.formataddr has them)
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')
_QUOTED = re.compile(r'[\\"]')
#: UTF-8 bytes per base64 encoded-word: 45 bytes make 60 characters, 72 with =?utf-8?b?...?= (RFC 2047: at most 75)
_WORD_BYTES = 45
_MAX_LINE = 78


@dataclass(frozen=True)
class Skeleton:
    """One mail but its slot headers and bodies: fill() makes the finished RFC 5322 bytes for one recipient."""

    headers: tuple[bytes | str, ...]  # folded header lines, or the name of a header each mail fills
    part_heads: tuple[bytes, ...]  # "--boundary" and the headers of each alternative, text parts first
    closing: bytes

    def fill(self, slots: Mapping[str, str], bodies: Sequence[str | bytes]) -> bytes:
        """Return the message with the slot headers (ASCII values, folded here) and one body per part (str: text)."""
        if len(bodies) != len(self.part_heads):
            raise ValueError(f"{len(self.part_heads)} parts need {len(self.part_heads)} bodies, not {len(bodies)}")
        out = [line if isinstance(line, bytes) else _fold_header(line, slots[line]) for line in self.headers]
        for head, body in zip(self.part_heads, bodies):
            out.append(head)
            out.append(_text(body) if isinstance(body, str) else _base64(body))
            out.append(b"\r\n")  # the line break before a boundary belongs to the boundary
        out.append(self.closing)
        return b"".join(out)


def skeleton(headers: Sequence[tuple[str, str | None]], parts: Sequence[tuple[str, Mapping[str, str]]]) -> Skeleton:
    """Build a skeleton: headers in order (a None value is a slot), then each part's content type and parameters."""
    boundary = f"==============={secrets.randbits(63):019d}=="
    lines: list[bytes | str] = [name if value is None else _header(name, value) for name, value in headers]
    lines.append(b"MIME-Version: 1.0\r\n")
    lines.append(_header("Content-Type", f'multipart/alternative; boundary="{boundary}"') + b"\r\n")  # and a blank line
    heads = []
    for content_type, params in parts:
        encoding = "quoted-printable" if content_type.startswith("text/") and content_type != "text/calendar" else "base64"
        value = content_type + "".join(f'; {key}="{param}"' for key, param in params.items())
        heads.append(f"--{boundary}\r\n".encode() + _header("Content-Type", value)
                     + f"Content-Transfer-Encoding: {encoding}\r\n\r\n".encode())
    return Skeleton(tuple(lines), tuple(heads), f"--{boundary}--\r\n".encode())


def address_field(name: str, address: str) -> str:
    """Return "name <address>" for a header: the name quoted, or as RFC 2047 words when it is not ASCII."""
    address.encode("ascii")  # a non-ASCII address fails here, as it does in email.utils.formataddr
    if not name:
        return address
    if name.isascii():
        phrase = '"' + _QUOTED.sub(r"\\\g<0>", name) + '"' if _SPECIALS.search(name) else name
    else:
        phrase = " ".join(f"=?utf-8?b?{binascii.b2a_base64(word, newline=False).decode()}?=" for word in _words(name))
    return f"{phrase} <{address}>"


def _words(name: str) -> list[bytes]:
    """Split a name's UTF-8 into pieces of at most _WORD_BYTES that do not cut a character."""
    data, words, start = name.encode("utf-8"), [], 0
    while start < len(data):
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        words.append(data[start:end])
        start = end
    return words


def _header(name: str, value: str) -> bytes:
    """One header line as the email package folds and encodes it for SMTP."""
    return WIRE_POLICY.header_factory(name, value).fold(policy=WIRE_POLICY).encode("ascii")


def _fold_header(name: str, value: str) -> bytes:
    """Fold an ASCII header value at its spaces so that lines keep to 78 characters where a space allows."""
    lines, line = [], f"{name}:"
    for word in value.split(" "):
        if len(line) + 1 + len(word) > _MAX_LINE and line.strip() != f"{name}:":
            lines.append(line)
            line = ""
        line += f" {word}"
    lines.append(line)
    return "\r\n".join(lines).encode("ascii") + b"\r\n"


def _text(body: str) -> bytes:
    """A text body as quoted-printable UTF-8 with CRLF line ends (line breaks read as email.contentmanager does)."""
    data = body.encode("utf-8")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if not data.endswith(b"\n"):
        data += b"\n"
    return binascii.b2a_qp(data.replace(b"\n", b"\r\n"))


def _base64(data: bytes) -> bytes:
    """Binary content as base64 lines of 76 characters with CRLF line ends."""
    return base64.encodebytes(data).replace(b"\n", b"\r\n")
