"""iCalendar for invitations: build iTIP REQUEST/CANCEL, read REPLY (pure, no Flask)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from email.message import Message, MIMEPart
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .calendar_parts import Component, calendars_in_mail, carried_calendars

# icalendar (90 modules, 3.6 MB) is imported only by the functions that build a calendar: `flask mail ingest`
# reads calendars with calendar_parts and never loads it
if TYPE_CHECKING:
    from icalendar import Event, Timezone, vCalAddress

PRODID = "-//Team Planner//EN"
UTC_ZONES = {"UTC", "Etc/UTC", "Etc/GMT", "GMT"}
ANSWERS = {"ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED"}
SCHEDULED_COMPONENTS = ("VEVENT", "VTODO")
_METHOD_LINE = re.compile(rb"^METHOD:([^\r\n]*)", re.MULTILINE)


@dataclass(frozen=True)
class EventInfo:
    uid: str
    sequence: int
    summary: str
    description: str
    location: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    organizer_email: str
    organizer_name: str
    url: str | None = None


@dataclass(frozen=True)
class AttendeeInfo:
    email: str
    name: str
    partstat: str = "NEEDS-ACTION"


#: the properties each invitation has of its own: its reply address, its attendee, its link (in the description too)
PER_INVITATION = ("ORGANIZER", "ATTENDEE", "DESCRIPTION", "URL")


@dataclass(frozen=True)
class CalendarTemplate:
    """One event's calendar for one method and stamp, folded once; render() adds each invitation's own lines."""

    chunks: tuple[bytes | str, ...]  # folded constant lines, or the name of a PER_INVITATION property
    organizer: str  # the ORGANIZER line up to its address: "ORGANIZER;CN=...:"
    description: str
    has_url: bool

    def render(self, attendee: AttendeeInfo, *, organizer_email: str, url: str | None) -> bytes:
        """Return the whole calendar for one attendee whose calendar replies go to organizer_email."""
        if (url is not None) != self.has_url:
            raise ValueError("an invitation has a URL exactly when its event's template was built with one")
        own = _per_invitation(organizer_email, "", attendee, self.description, url)
        lines = {name: _fold(_line(name, value)) for name, value in own.items() if name != "ORGANIZER"}
        lines["ORGANIZER"] = _fold(self.organizer + own["ORGANIZER"])
        return b"".join(chunk if isinstance(chunk, bytes) else lines.get(chunk, b"") for chunk in self.chunks)


def request_template(event: EventInfo, *, stamp: datetime) -> CalendarTemplate:
    """Return the METHOD:REQUEST calendar of an event, ready for each attendee (event.organizer_email, url: any)."""
    return _template("REQUEST", event, stamp, status="CONFIRMED")


def cancel_template(event: EventInfo, *, stamp: datetime, whole_event: bool = True) -> CalendarTemplate:
    """Return the METHOD:CANCEL calendar of an event (whole_event=False: one attendee is uninvited), ready for each."""
    return _template("CANCEL", event, stamp, status="CANCELLED" if whole_event else None)


def build_request(event: EventInfo, attendee: AttendeeInfo, *, stamp: datetime) -> bytes:
    """Return a METHOD:REQUEST calendar inviting one attendee to the event."""
    return request_template(event, stamp=stamp).render(attendee, organizer_email=event.organizer_email, url=event.url)


def build_cancel(
    event: EventInfo, attendee: AttendeeInfo, *, stamp: datetime, whole_event: bool = True
) -> bytes:
    """Return a METHOD:CANCEL calendar: the event is off, or (whole_event=False) this attendee is uninvited."""
    template = cancel_template(event, stamp=stamp, whole_event=whole_event)
    return template.render(attendee, organizer_email=event.organizer_email, url=event.url)


@dataclass(frozen=True)
class FeedItem:
    event: EventInfo
    is_cancelled: bool = False


def build_feed(items: list[FeedItem], *, name: str, stamp: datetime) -> bytes:
    """Return a subscription calendar (no METHOD): one VEVENT per item, cancelled ones STATUS:CANCELLED."""
    from icalendar import Calendar

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", " ".join(name.split()))
    years: dict[str, list[int]] = {}
    for item in items:
        _check(item.event, stamp)
        if item.event.timezone not in UTC_ZONES:
            zone = ZoneInfo(item.event.timezone)
            span = years.setdefault(item.event.timezone, [])
            span += [item.event.starts_at.astimezone(zone).year, item.event.ends_at.astimezone(zone).year]
    for tzid, span in sorted(years.items()):
        calendar.add_component(_vtimezone_for_years(tzid, min(span), max(span)))
    for item in items:
        calendar.add_component(_feed_vevent(item, stamp))
    return calendar.to_ical()


def _feed_vevent(item: FeedItem, stamp: datetime) -> Event:
    from icalendar import Event

    event = item.event
    zone = timezone.utc if event.timezone in UTC_ZONES else ZoneInfo(event.timezone)
    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", stamp.astimezone(timezone.utc))
    vevent.add("sequence", event.sequence)
    vevent.add("organizer", _address(event.organizer_email, event.organizer_name))
    vevent.add("dtstart", event.starts_at.astimezone(zone))
    vevent.add("dtend", event.ends_at.astimezone(zone))
    vevent.add("summary", event.summary)
    for key, value in (("description", event.description.strip()), ("location", event.location.strip())):
        if value:
            vevent.add(key, value)
    if event.url:
        vevent.add("url", event.url)
    vevent.add("status", "CANCELLED" if item.is_cancelled else "CONFIRMED")
    vevent.add("transp", "TRANSPARENT" if item.is_cancelled else "OPAQUE")
    return vevent


def calendar_part(ics: bytes, method: str) -> MIMEPart:
    """Return the text/calendar MIME part (base64, method= parameter) that carries an iMIP calendar."""
    found = _METHOD_LINE.search(ics)
    inside = found.group(1).decode("ascii", "replace").strip() if found else None
    if str(inside).upper() != method.upper():
        raise ValueError(f"method={method} but the calendar says METHOD:{inside}")
    part = MIMEPart()
    part.set_content(
        ics, maintype="text", subtype="calendar", cte="base64",
        params={"charset": "utf-8", "method": method.upper()},
    )
    return part


def _template(method: str, event: EventInfo, stamp: datetime, *, status: str | None) -> CalendarTemplate:
    """Serialise the calendar once, leaving a slot where each PER_INVITATION property goes in canonical order."""
    from icalendar import Calendar

    _check(event, stamp)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    zone = None if event.timezone in UTC_ZONES else ZoneInfo(event.timezone)
    if zone is not None:
        calendar.add_component(_vtimezone(event.timezone, event.starts_at, event.ends_at, zone))
    calendar.add_component(_vevent(event, stamp, zone or timezone.utc, status))
    chunks: list[bytes | str] = []
    component = None
    for name, value in calendar.property_items():
        if name in ("BEGIN", "END"):
            component = value if name == "BEGIN" else None
        if component == b"VEVENT" and name in PER_INVITATION:
            chunks.append(name)
        elif chunks and isinstance(chunks[-1], bytes):
            chunks[-1] += calendar.content_line(name, value).to_ical() + b"\r\n"
        else:
            chunks.append(calendar.content_line(name, value).to_ical() + b"\r\n")
    organizer = _line("ORGANIZER", _address("", event.organizer_name))
    return CalendarTemplate(tuple(chunks), organizer.removesuffix("mailto:"), event.description.strip(), event.url is not None)


def _line(name: str, value) -> str:
    """One unfolded content line, as icalendar's Contentline.from_parts writes it."""
    params = getattr(value, "params", None)
    text = params.to_ical().decode("utf-8") if params else ""
    return f"{name};{text}:{value.to_ical().decode('utf-8')}" if text else f"{name}:{value.to_ical().decode('utf-8')}"


def _fold(line: str) -> bytes:
    """Fold a content line as icalendar does (at most 74 octets a part, no part ends in a lone \\ or ^), with its CRLF."""
    data = line.encode("utf-8")
    parts, start = [], 0
    while len(data) - start > 74:
        end = start + 74
        while data[end] & 0xC0 == 0x80:  # inside a multi-byte character: it goes to the next part
            end -= 1
        if data[end - 1] in b"\\^":
            end -= 1
        parts.append(data[start:end])
        start = end
    parts.append(data[start:])
    return b"\r\n ".join(parts) + b"\r\n"


def _check(event: EventInfo, stamp: datetime) -> None:
    """Refuse what would make a wrong or non-conformant invitation."""
    if any(moment.utcoffset() is None for moment in (event.starts_at, event.ends_at, stamp)):
        raise ValueError("starts_at, ends_at and stamp must be timezone-aware")
    if event.ends_at <= event.starts_at:
        raise ValueError("the event must end after it starts")
    if not event.summary.strip():
        raise ValueError("an invitation needs a SUMMARY (RFC 5546 section 3.2.2)")


def _vevent(event: EventInfo, stamp: datetime, zone, status) -> Event:
    """The event's own properties, and stand-ins for the PER_INVITATION ones (they only fix the canonical order)."""
    from icalendar import Event

    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", stamp.astimezone(timezone.utc))
    vevent.add("sequence", event.sequence)
    for name, value in _per_invitation("stand-in@invalid", "", AttendeeInfo("stand-in@invalid", ""), "-", "-").items():
        vevent.add(name, value)
    vevent.add("dtstart", event.starts_at.astimezone(zone))
    vevent.add("dtend", event.ends_at.astimezone(zone))
    vevent.add("summary", event.summary)
    location = event.location.strip()
    if location:
        vevent.add("location", location)
    if status:
        vevent.add("status", status)
    vevent.add("transp", "OPAQUE")
    return vevent


def _per_invitation(organizer_email: str, organizer_name: str, attendee: AttendeeInfo,
                    description: str, url: str | None) -> dict[str, object]:
    """What differs between invitations: ORGANIZER (the reply address), ATTENDEE, DESCRIPTION with the link, URL."""
    from icalendar import vText, vUri

    values: dict[str, object] = {
        "ORGANIZER": _address(organizer_email, organizer_name),
        "ATTENDEE": _address(attendee.email, attendee.name, ROLE="REQ-PARTICIPANT", PARTSTAT=attendee.partstat, RSVP="TRUE"),
    }
    if url and url not in description:
        description = f"{description}\n\n{url}".strip()
    if description:
        values["DESCRIPTION"] = vText(description)
    if url:
        values["URL"] = vUri(url)
    return values


def _address(address: str, name: str, **params: str) -> vCalAddress:
    """Return a mailto: calendar address with a one-line CN and the given parameters."""
    from icalendar import vCalAddress

    value = vCalAddress(f"mailto:{address.strip()}")
    common_name = " ".join(name.split())
    if common_name:
        value.params["CN"] = common_name
    value.params.update(params)
    return value


def _vtimezone(tzid: str, starts_at: datetime, ends_at: datetime, zone: ZoneInfo) -> Timezone:
    """Return a VTIMEZONE for tzid covering the calendar years the event touches."""
    first = min(starts_at.astimezone(zone), ends_at.astimezone(zone)).year
    last = max(starts_at.astimezone(zone), ends_at.astimezone(zone)).year
    return _vtimezone_for_years(tzid, first, last)


@lru_cache(maxsize=64)
def _vtimezone_for_years(tzid: str, first: int, last: int) -> Timezone:
    """Build (once per zone and years: it is costly) the VTIMEZONE shared by many invitations."""
    from icalendar import Timezone

    vtimezone = Timezone.from_tzid(tzid, first_date=date(first, 1, 1), last_date=date(last + 1, 1, 1))
    vtimezone.pop("COMMENT", None)  # RFC 5545 allows COMMENT only inside STANDARD/DAYLIGHT
    return vtimezone


@dataclass(frozen=True)
class Reply:
    uid: str
    attendee: str
    partstat: str
    sequence: int
    comment: str | None


def read_replies(message: bytes) -> list[Reply]:
    """Return every iTIP REPLY answer carried by a mail message or bare iCalendar object; never raises."""
    try:
        replies = [
            reply
            for calendar in carried_calendars(message)
            if _method(calendar) == "REPLY"
            for component in calendar.walk()
            if component.name in SCHEDULED_COMPONENTS
            for reply in _replies_in(component)
        ]
    except Exception:
        return []
    return list(dict.fromkeys(replies))


def read_calendar_method(message: bytes) -> str | None:
    """Return the METHOD of the first calendar a message carries ("" when it has none), None without calendar."""
    try:
        return next((_method(calendar) for calendar in carried_calendars(message)), None)
    except Exception:
        return None


def carried_uids(mail: Message) -> list[str]:
    """Return the UIDs of the events and to-dos in the calendar parts of a parsed mail message."""
    return [
        uid
        for calendar in calendars_in_mail(mail)
        for component in calendar.walk()
        if component.name in SCHEDULED_COMPONENTS and (uid := _first_value(component, "UID"))
    ]


def _first_value(component: Component, name: str) -> str:
    """The stripped value of the component's first property called name, "" without one."""
    found = component.first(name)
    return found.value.strip() if found else ""


def _method(calendar: Component) -> str:
    return _first_value(calendar, "METHOD").upper()


def _replies_in(component: Component) -> list[Reply]:
    uid = _first_value(component, "UID")
    if not uid:
        return []
    sequence, comment = _sequence(component), _comment(component)
    replies = []
    for attendee in component.all("ATTENDEE"):
        address = _mail_address(attendee.value)
        partstat = attendee.params.get("PARTSTAT", ())
        answer = partstat[0].strip().upper() if len(partstat) == 1 else ""  # several values: a malformed answer
        if address and answer in ANSWERS:
            replies.append(Reply(uid, address, answer, sequence, comment))
    return replies


def _mail_address(value: str) -> str | None:
    address = value.strip()
    if address[:7].lower() == "mailto:":
        address = address[7:].strip()
    return address.lower() if "@" in address and ":" not in address else None


def _sequence(component: Component) -> int:
    try:
        return max(0, int(_first_value(component, "SEQUENCE") or 0))
    except ValueError:
        return 0


def _comment(component: Component) -> str | None:
    text = "\n".join(comment.value.strip() for comment in component.all("COMMENT")).strip()
    return text or None
