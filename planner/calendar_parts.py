"""Read iCalendar objects (RFC 5545) into components and properties, leniently and in linear time (pure, no icalendar)."""

from __future__ import annotations

import email
import email.policy
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email.message import Message

CALENDAR_TYPES = {"text/calendar", "application/ics", "text/x-vcalendar", "application/x-ics"}
_FOLD = re.compile(r"\r?\n[ \t]")
_LINE_BREAK = re.compile(r"\r?\n")
_NAME = re.compile(r"[A-Za-z0-9-]+")
_PARAMETER_VALUE = re.compile(r'"([^"]*)"|([^";:,]*)')
_TEXT_ESCAPE = re.compile(r"\\([\\,;:nN])")
_CARET_ESCAPE = re.compile(r"\^([\^n'])")  # RFC 6868: ^^ ^n ^' in parameter values
_CARETS = {"^": "^", "n": "\n", "'": '"'}


@dataclass(frozen=True)
class Property:
    """One content line: upper-case name, parameters (upper-case names, unquoted values) and the decoded value."""

    name: str
    params: dict[str, tuple[str, ...]]
    value: str


@dataclass(frozen=True, eq=False, repr=False)
class Component:
    """A BEGIN/END block: its properties in order and the components nested in it."""

    name: str
    properties: tuple[Property, ...]
    components: tuple[Component, ...]

    def all(self, name: str) -> list[Property]:
        """Return the properties called name (any case), in order."""
        name = name.upper()
        return [prop for prop in self.properties if prop.name == name]

    def first(self, name: str) -> Property | None:
        """Return the first property called name (any case), None without one."""
        name = name.upper()
        return next((prop for prop in self.properties if prop.name == name), None)

    def walk(self) -> Iterator[Component]:
        """Yield this component and every one nested in it, depth first and in order, without recursion."""
        pending = [self]
        while pending:
            component = pending.pop()
            yield component
            pending.extend(reversed(component.components))

    def __repr__(self) -> str:
        return f"Component({self.name!r}, {len(self.properties)} properties, {len(self.components)} components)"


def parse_calendars(text: str) -> list[Component]:
    """Return the complete VCALENDAR objects in text; lines that are no content line and unclosed components are dropped."""
    calendars: list[Component] = []
    stack: list[tuple[str, list[Property], list[Component]]] = []
    open_names: Counter[str] = Counter()
    for line in _LINE_BREAK.split(_FOLD.sub("", text.removeprefix("\ufeff"))):
        prop = _content_line(line)
        if prop is None:
            continue
        if prop.name == "BEGIN":
            stack.append((prop.value.strip().upper(), [], []))
            open_names[stack[-1][0]] += 1
        elif prop.name == "END":
            name = prop.value.strip().upper()
            if not open_names[name]:
                continue  # an END that closes nothing
            while True:  # components left open inside the one this END closes are dropped
                opened, properties, components = stack.pop()
                open_names[opened] -= 1
                if opened == name:
                    break
            component = Component(name, tuple(properties), tuple(components))
            if stack:
                stack[-1][2].append(component)
            elif name == "VCALENDAR":
                calendars.append(component)
        elif stack:
            stack[-1][1].append(prop)
    return calendars


def _content_line(line: str) -> Property | None:
    """Split one unfolded line into name, parameters and value; None when it is not a content line."""
    name = _NAME.match(line)
    if name is None:
        return None
    at, params = name.end(), {}
    while line[at:at + 1] == ";":
        key = _NAME.match(line, at + 1)
        if key is None or line[key.end():key.end() + 1] != "=":
            return None
        values, at = [], key.end()  # at the "=", then at each "," of a list of values
        while True:
            value = _PARAMETER_VALUE.match(line, at + 1)
            quoted, plain = value.groups()
            values.append(_CARET_ESCAPE.sub(_uncareted, plain if quoted is None else quoted))
            at = value.end()
            if line[at:at + 1] != ",":
                break
        params[key.group().upper()] = tuple(values)
    if line[at:at + 1] != ":":
        return None
    return Property(name.group().upper(), params, _TEXT_ESCAPE.sub(_unescaped, line[at + 1:]))


def _unescaped(escape: re.Match) -> str:
    return "\n" if escape[1] in "nN" else escape[1]


def _uncareted(escape: re.Match) -> str:
    return _CARETS[escape[1]]


def carried_calendars(data: bytes) -> Iterator[Component]:
    """Yield the calendars of a bare iCalendar object (UTF-8) or of the calendar parts of a mail message."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].upper() == b"BEGIN:VCALENDAR":
        yield from parse_calendars(data.decode("utf-8", "replace"))
        return
    yield from calendars_in_mail(email.message_from_bytes(data, policy=email.policy.compat32))


def calendars_in_mail(message: Message) -> Iterator[Component]:
    """Yield the calendars of a parsed message's calendar parts; one without METHOD takes its part's method= parameter."""
    for part in _leaf_parts(message):
        if _is_calendar_part(part):
            method = part.get_param("method")
            for calendar in parse_calendars(_part_text(part)):
                if method and calendar.first("METHOD") is None:
                    calendar = replace(calendar, properties=(*calendar.properties, Property("METHOD", {}, str(method))))
                yield calendar


def _leaf_parts(part: Message) -> Iterator[Message]:
    """Yield the non-multipart parts, without looking inside attached messages (forwards, bounces)."""
    if part.get_content_maintype() == "message":
        return
    if part.is_multipart():
        for subpart in part.get_payload():
            yield from _leaf_parts(subpart)
    else:
        yield part


def _is_calendar_part(part: Message) -> bool:
    filename = part.get_filename() or part.get_param("name") or ""
    return part.get_content_type() in CALENDAR_TYPES or str(filename).lower().endswith(".ics")


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True) or b""
    try:
        return payload.decode(part.get_content_charset() or "utf-8")
    except (LookupError, UnicodeDecodeError):
        return payload.decode("utf-8", "replace")
