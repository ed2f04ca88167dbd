"""iCalendar for invitations: build iTIP REQUEST/CANCEL, read REPLY and bounce mail (pure, no Flask)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from email.message import MIMEPart
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress

PRODID = "-//Team Planner//EN"
UTC_ZONES = {"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Z"}


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


def build_request(event: EventInfo, attendee: AttendeeInfo, *, stamp: datetime) -> bytes:
    """Return a METHOD:REQUEST calendar inviting one attendee to the event."""
    return _build("REQUEST", event, attendee, stamp, status="CONFIRMED")


def build_cancel(
    event: EventInfo, attendee: AttendeeInfo, *, stamp: datetime, whole_event: bool = True
) -> bytes:
    """Return a METHOD:CANCEL calendar: the event is off, or (whole_event=False) this attendee is uninvited."""
    return _build("CANCEL", event, attendee, stamp, status="CANCELLED" if whole_event else None)


def calendar_part(ics: bytes, method: str) -> MIMEPart:
    """Return the text/calendar MIME part (base64, method= parameter) that carries an iMIP calendar."""
    inside = Calendar.from_ical(ics).get("METHOD")
    if str(inside).upper() != method.upper():
        raise ValueError(f"method={method} but the calendar says METHOD:{inside}")
    part = MIMEPart()
    part.set_content(
        ics, maintype="text", subtype="calendar", cte="base64",
        params={"charset": "utf-8", "method": method.upper()},
    )
    return part


def _build(method: str, event: EventInfo, attendee: AttendeeInfo, stamp: datetime,
           *, status: str | None) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    zone = None if event.timezone in UTC_ZONES else ZoneInfo(event.timezone)
    if zone is not None:
        calendar.add_component(_vtimezone(event.timezone, event.starts_at, event.ends_at, zone))
    calendar.add_component(_vevent(event, attendee, stamp, zone or timezone.utc, status))
    return calendar.to_ical()


def _vevent(event: EventInfo, attendee: AttendeeInfo, stamp: datetime, zone, status) -> Event:
    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", stamp.astimezone(timezone.utc))
    vevent.add("sequence", event.sequence)
    vevent.add("organizer", _address(event.organizer_email, event.organizer_name))
    vevent.add("attendee", _address(
        attendee.email, attendee.name,
        ROLE="REQ-PARTICIPANT", PARTSTAT=attendee.partstat, RSVP="TRUE",
    ))
    vevent.add("dtstart", event.starts_at.astimezone(zone))
    vevent.add("dtend", event.ends_at.astimezone(zone))
    vevent.add("summary", event.summary)
    description = event.description.strip()
    if event.url and event.url not in description:
        description = f"{description}\n\n{event.url}".strip()
    for name, value in (("description", description), ("location", event.location.strip())):
        if value:
            vevent.add(name, value)
    if event.url:
        vevent.add("url", event.url)
    if status:
        vevent.add("status", status)
    vevent.add("transp", "OPAQUE")
    return vevent


def _address(address: str, name: str, **params: str) -> vCalAddress:
    """Return a mailto: calendar address with a one-line CN and the given parameters."""
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
    vtimezone = Timezone.from_tzid(tzid, first_date=date(first, 1, 1), last_date=date(last + 1, 1, 1))
    vtimezone.pop("COMMENT", None)  # RFC 5545 allows COMMENT only inside STANDARD/DAYLIGHT
    return vtimezone
