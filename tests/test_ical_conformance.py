"""Every calendar we send passes two independent checkers: vobject's validation and libical's iTIP restrictions."""

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import vobject

from planner.ical import AttendeeInfo, EventInfo, build_cancel, build_request
from tests.helpers import libical_check

CANCEL_VECTOR = Path(__file__).parents[1] / ".." / "shared" / "data" / "itip" / "vectors" / "rfc5546-4.2.9-cancel.ics"
STAMP = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
ATTENDEE = AttendeeInfo("dev.ops@example.com", "Ops; Night, Shift: Team", "ACCEPTED")


def event_in(zone: str) -> EventInfo:
    tz = ZoneInfo(zone)
    return EventInfo(
        uid=f"conformance-{zone.replace('/', '-')}@planner.example.com", sequence=0,
        summary="Quartalsfeier, Q4: Spaß & Spiele", description="", location="Kantine",
        starts_at=datetime(2026, 10, 24, 22, 30, tzinfo=tz), ends_at=datetime(2026, 10, 25, 3, 0, tzinfo=tz),
        timezone=zone, organizer_email="rsvp+Q4tok@planner.example.com", organizer_name="Zoë Organizer",
        url="https://planner.example.com/rsvp/Q4tok",
    )


def built_messages(zone: str) -> dict[str, bytes]:
    """Every kind of calendar the app sends for one event."""
    event = event_in(zone)
    return {
        "request": build_request(event, ATTENDEE, stamp=STAMP),
        "update": build_request(replace(event, sequence=2, location=""), ATTENDEE, stamp=STAMP),
        "cancel": build_cancel(replace(event, sequence=3), ATTENDEE, stamp=STAMP),
        "uninvite": build_cancel(replace(event, sequence=3), ATTENDEE, stamp=STAMP, whole_event=False),
    }


CASES = [(zone, kind, ics) for zone in ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC")
         for kind, ics in built_messages(zone).items()]
IDS = [f"{kind}-{zone}" for zone, kind, _ in CASES]


@pytest.mark.parametrize(("zone", "kind", "ics"), CASES, ids=IDS)
def test_vobject_parses_and_validates(zone, kind, ics):
    calendar = vobject.readOne(ics.decode(), validate=True)
    assert calendar.validate(raiseException=True, complainUnrecognized=True)
    assert calendar.method.value == ("REQUEST" if kind in {"request", "update"} else "CANCEL")
    vevent = calendar.vevent
    event = event_in(zone)
    assert vevent.uid.value == event.uid
    assert vevent.dtstart.value == event.starts_at and vevent.dtend.value == event.ends_at
    assert vevent.dtstart.value.utcoffset() == event.starts_at.utcoffset(), "VTIMEZONE gives the right offset"
    assert vevent.attendee.params["CN"] == [ATTENDEE.name]


@pytest.mark.parametrize(("zone", "kind", "ics"), CASES, ids=IDS)
def test_libical_itip_restrictions(zone, kind, ics):
    result = libical_check(ics)
    assert (result.returncode, result.stdout.strip()) == (0, b"ok"), result.stdout.decode()


def test_vobject_rejects_an_event_without_dtstamp():
    broken = built_messages("Europe/Berlin")["request"].replace(b"DTSTAMP:", b"X-STAMP:")
    with pytest.raises(vobject.base.ValidateError):
        vobject.readOne(broken.decode(), validate=True)


@pytest.mark.parametrize("missing", [b"ORGANIZER", b"UID", b"DTSTART"])
def test_libical_rejects_a_request_missing_a_required_property(missing):
    ics = built_messages("Europe/Berlin")["request"]
    broken = b"\r\n".join(line for line in ics.split(b"\r\n") if not line.startswith(missing))
    result = libical_check(broken)
    assert result.returncode == 1 and missing in result.stdout, result.stdout.decode()


def test_libical_rejects_garbage_and_the_rfc_cancel_example_typo():
    assert libical_check(b"BEGIN:VEVENT\r\nEND:VEVENT\r\n").returncode == 2
    if not CANCEL_VECTOR.exists():
        pytest.skip(f"vector {CANCEL_VECTOR.name} absent")
    assert libical_check(CANCEL_VECTOR.read_bytes()).returncode == 1
