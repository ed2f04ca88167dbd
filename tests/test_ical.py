"""Build REQUEST/CANCEL calendars, parse them back, and read replies out of mail (bounces: tests/test_bounces.py)."""

import email
import email.policy
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage, MIMEPart
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from planner.ical import (
    AttendeeInfo,
    EventInfo,
    Reply,
    build_cancel,
    build_request,
    calendar_part,
    read_calendar_method,
    read_replies,
)

BERLIN = ZoneInfo("Europe/Berlin")
STAMP = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)
EVENT = EventInfo(
    uid="6f1c2a7e-0b1d-4c3e-9a55-2f4d8e1b7c90@planner.example.com",
    sequence=0,
    summary="Sommerfest: Grillen, Bier; Spaß für alle",
    description="Bring a friend.\nDress code: none",
    location="Dachterrasse, Haus B",
    starts_at=datetime(2026, 12, 31, 20, 0, tzinfo=BERLIN),
    ends_at=datetime(2027, 1, 1, 2, 0, tzinfo=BERLIN),
    timezone="Europe/Berlin",
    organizer_email="rsvp+Tok3nXYZ@planner.example.com",
    organizer_name="People Team, HR; Berlin: Office",
    url="https://planner.example.com/rsvp/Tok3nXYZ",
)
ANNA = AttendeeInfo(email="Anna.Muller@Example.com", name="Müller, Anna")


def lines(ics: bytes) -> list[bytes]:
    assert ics.endswith(b"\r\n")
    return ics[:-2].split(b"\r\n")


def only_event(ics: bytes):
    events = Calendar.from_ical(ics).walk("VEVENT")
    assert len(events) == 1
    return events[0]


@pytest.fixture(params=["request", "update", "cancel", "uninvite"])
def built(request) -> bytes:
    if request.param == "request":
        return build_request(EVENT, ANNA, stamp=STAMP)
    if request.param == "update":
        return build_request(replace(EVENT, sequence=3), ANNA, stamp=STAMP)
    return build_cancel(replace(EVENT, sequence=4), ANNA, stamp=STAMP,
                        whole_event=request.param == "cancel")


def test_every_line_ends_in_crlf_and_fits_75_octets(built):
    assert b"\n" not in built.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in lines(built))


def test_calendar_header(built):
    calendar = Calendar.from_ical(built)
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"] == "-//Team Planner//EN"
    assert calendar["CALSCALE"] == "GREGORIAN"
    assert calendar["METHOD"] in {"REQUEST", "CANCEL"}


def test_every_tzid_has_a_vtimezone_covering_the_event(built):
    calendar = Calendar.from_ical(built)
    assert calendar.get_missing_tzids() == set()
    assert [tz["TZID"] for tz in calendar.timezones] == ["Europe/Berlin"]
    event = only_event(built)
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event.start == EVENT.starts_at and event.end == EVENT.ends_at
    years = {str(rule["DTSTART"].dt.year) for rule in calendar.timezones[0].walk()
             if rule.name in {"STANDARD", "DAYLIGHT"}}
    assert years == {"2026"}, "limited to the years the event needs (2027 rules come as RDATE)"


def test_vtimezone_is_limited_and_uncommented():
    ics = build_request(EVENT, ANNA, stamp=STAMP)
    vtimezone = Calendar.from_ical(ics).timezones[0]
    assert "COMMENT" not in vtimezone
    assert b"2028" not in ics and b"1970" not in ics


def test_dst_crossing_keeps_wall_clock_and_both_offsets():
    summer = replace(EVENT, starts_at=datetime(2026, 3, 28, 22, tzinfo=BERLIN),
                     ends_at=datetime(2026, 3, 29, 4, tzinfo=BERLIN))
    calendar = Calendar.from_ical(build_request(summer, ANNA, stamp=STAMP))
    event = calendar.walk("VEVENT")[0]
    assert event.end.astimezone(timezone.utc) - event.start.astimezone(timezone.utc) == timedelta(hours=5)
    offsets = {rule["TZOFFSETTO"].td for rule in calendar.timezones[0].walk()
               if rule.name in {"STANDARD", "DAYLIGHT"}}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}


def test_event_across_midnight_and_new_year_lists_both_dates():
    ics = build_request(EVENT, ANNA, stamp=STAMP)
    assert b"DTSTART;TZID=Europe/Berlin:20261231T200000\r\n" in ics
    assert b"DTEND;TZID=Europe/Berlin:20270101T020000\r\n" in ics


def test_utc_event_has_no_vtimezone():
    utc = replace(EVENT, timezone="UTC", starts_at=EVENT.starts_at.astimezone(timezone.utc),
                  ends_at=EVENT.ends_at.astimezone(timezone.utc))
    ics = build_request(utc, ANNA, stamp=STAMP)
    assert b"VTIMEZONE" not in ics and b"DTSTART:20261231T190000Z\r\n" in ics


def test_request_shape():
    ics = build_request(replace(EVENT, sequence=2), ANNA, stamp=STAMP.astimezone(BERLIN))
    event = only_event(ics)
    assert event["UID"] == EVENT.uid
    assert event["SEQUENCE"] == 2
    assert b"DTSTAMP:20261120T093000Z\r\n" in ics
    assert event["STATUS"] == "CONFIRMED" and event["TRANSP"] == "OPAQUE"
    assert event["SUMMARY"] == EVENT.summary
    assert event["LOCATION"] == EVENT.location
    assert event["DESCRIPTION"] == f"{EVENT.description}\n\n{EVENT.url}"
    assert event["URL"] == EVENT.url
    assert event["ORGANIZER"] == "mailto:rsvp+Tok3nXYZ@planner.example.com"
    assert event["ORGANIZER"].params["CN"] == EVENT.organizer_name
    attendee = event["ATTENDEE"]
    assert attendee == "mailto:Anna.Muller@Example.com"
    assert dict(attendee.params) == {
        "CN": "Müller, Anna", "ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE",
    }


def test_cn_with_comma_semicolon_colon_or_quote_is_quoted():
    odd = replace(EVENT, organizer_name='Ops "Night" Team')
    unfolded = build_request(odd, ANNA, stamp=STAMP).replace(b"\r\n ", b"")
    assert b'ORGANIZER;CN="Ops ^\'Night^\' Team":mailto:' in unfolded
    assert 'ATTENDEE;CN="Müller, Anna";'.encode() in unfolded
    assert only_event(build_request(odd, ANNA, stamp=STAMP))["ORGANIZER"].params["CN"] == 'Ops "Night" Team'
    unfolded = build_request(EVENT, ANNA, stamp=STAMP).replace(b"\r\n ", b"")
    assert b'ORGANIZER;CN="People Team, HR; Berlin: Office":mailto:' in unfolded


def test_non_ascii_survives_as_utf8():
    ics = build_request(EVENT, AttendeeInfo("zoe@example.com", "Zoë Ångström 李"), stamp=STAMP)
    ics.decode("utf-8")
    event = only_event(ics)
    assert event["ATTENDEE"].params["CN"] == "Zoë Ångström 李"
    assert event["SUMMARY"] == "Sommerfest: Grillen, Bier; Spaß für alle"


def test_no_empty_text_properties():
    bare = replace(EVENT, description="", location="  ", url=None)
    event = only_event(build_request(bare, ANNA, stamp=STAMP))
    assert "DESCRIPTION" not in event and "LOCATION" not in event and "URL" not in event
    assert all(str(event[name]).strip() for name in ("SUMMARY", "DESCRIPTION", "LOCATION", "COMMENT")
               if name in event)


def test_cancel_shape():
    event = only_event(build_cancel(replace(EVENT, sequence=5), ANNA, stamp=STAMP))
    assert Calendar.from_ical(build_cancel(EVENT, ANNA, stamp=STAMP))["METHOD"] == "CANCEL"
    assert event["UID"] == EVENT.uid and event["SEQUENCE"] == 5
    assert event["STATUS"] == "CANCELLED"
    assert event["ATTENDEE"] == "mailto:Anna.Muller@Example.com"


def test_uninvite_is_a_cancel_without_status():
    event = only_event(build_cancel(replace(EVENT, sequence=5), ANNA, stamp=STAMP, whole_event=False))
    assert "STATUS" not in event and event["SEQUENCE"] == 5


def test_calendar_part_method_parameter_equals_method(built):
    method = str(Calendar.from_ical(built)["METHOD"])
    part = calendar_part(built, method)
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == method
    assert part.get_content_charset() == "utf-8"
    assert part.get_payload(decode=True) == built
    with pytest.raises(ValueError):
        calendar_part(built, "PUBLISH")


def client_reply(request: bytes, partstat: str, comment: str | None = None) -> bytes:
    """Answer an invitation the way a calendar client does: same event, METHOD:REPLY, own PARTSTAT."""
    calendar = Calendar.from_ical(request)
    calendar["METHOD"] = "REPLY"
    event = calendar.walk("VEVENT")[0]
    event["ATTENDEE"].params["PARTSTAT"] = partstat
    del event["ATTENDEE"].params["RSVP"]
    if comment:
        event.add("COMMENT", comment)
    return calendar.to_ical()


def mail_with(part, subject="Accepted: Sommerfest") -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = ANNA.email, EVENT.organizer_email, subject
    mail.set_content("Anna has accepted.")
    mail.make_mixed()
    mail.attach(part)
    return mail.as_bytes()


def test_round_trip_request_to_reply_by_mail():
    request = build_request(replace(EVENT, sequence=2), ANNA, stamp=STAMP)
    reply = client_reply(request, "TENTATIVE", "maybe; after 21:00,\nif the train runs")
    message = mail_with(calendar_part(reply, "REPLY"))
    assert read_replies(message) == [Reply(
        uid=EVENT.uid, attendee="anna.muller@example.com", partstat="TENTATIVE", sequence=2,
        comment="maybe; after 21:00,\nif the train runs",
    )]
    assert read_calendar_method(message) == "REPLY"


def test_request_and_cancel_mail_yield_no_replies(built):
    method = str(Calendar.from_ical(built)["METHOD"])
    assert read_replies(mail_with(calendar_part(built, method))) == []
    assert read_replies(built) == []


@pytest.mark.parametrize("cte", ["base64", "quoted-printable", "7bit", "8bit"])
@pytest.mark.parametrize("content_type", ["text/calendar", "application/ics", "application/octet-stream"])
def test_reply_in_any_encoding_and_content_type(cte, content_type):
    reply = client_reply(build_request(EVENT, ANNA, stamp=STAMP), "DECLINED", "no, sorry")
    if cte == "7bit":
        reply = reply.replace("ü".encode(), b"ue").replace("ß".encode(), b"ss")
    part = EmailMessage()
    maintype, subtype = content_type.split("/")
    part.set_content(reply, maintype=maintype, subtype=subtype, cte=cte, filename="invite.ics")
    expected = Reply(EVENT.uid, "anna.muller@example.com", "DECLINED", 0, "no, sorry")
    assert read_replies(mail_with(part)) == [expected]


def test_nested_multipart_and_duplicate_attachment_give_one_reply():
    reply = client_reply(build_request(EVENT, ANNA, stamp=STAMP), "ACCEPTED")
    mail = EmailMessage()
    mail["Subject"] = "Accepted"
    mail.set_content("Accepted.")
    mail.add_alternative(reply, maintype="text", subtype="calendar", params={"method": "REPLY"})
    mail.add_attachment(reply, maintype="application", subtype="ics", filename="invite.ics")
    assert len(read_replies(mail.as_bytes())) == 1


def test_reply_in_forwarded_message_is_not_read():
    reply = client_reply(build_request(EVENT, ANNA, stamp=STAMP), "ACCEPTED")
    inner = email.message_from_bytes(mail_with(calendar_part(reply, "REPLY")), policy=email.policy.default)
    outer = EmailMessage()
    outer.set_content("FYI")
    outer.add_attachment(inner)
    assert read_replies(outer.as_bytes()) == []


def test_attendee_address_is_normalised():
    reply = client_reply(build_request(EVENT, ANNA, stamp=STAMP), "ACCEPTED")
    reply = reply.replace(b"mailto:Anna", b"MAILTO: Anna")
    assert read_replies(reply)[0].attendee == "anna.muller@example.com"


def test_method_parameter_stands_in_for_a_missing_method():
    reply = client_reply(build_request(EVENT, ANNA, stamp=STAMP), "ACCEPTED").replace(b"METHOD:REPLY\r\n", b"")
    assert read_replies(reply) == []
    part = MIMEPart()
    part.set_content(reply, maintype="text", subtype="calendar", params={"method": "REPLY"})
    assert len(read_replies(mail_with(part))) == 1


@pytest.mark.parametrize("change", [
    {"starts_at": datetime(2026, 12, 31, 20)},
    {"ends_at": EVENT.starts_at},
    {"summary": " "},
])
def test_build_refuses_a_broken_event(change):
    with pytest.raises(ValueError):
        build_request(replace(EVENT, **change), ANNA, stamp=STAMP)
    with pytest.raises(ValueError):
        build_request(EVENT, ANNA, stamp=datetime(2026, 11, 20))


def test_reply_without_sequence_or_answer():
    reply = client_reply(build_request(EVENT, ANNA, stamp=STAMP), "ACCEPTED")
    assert read_replies(reply.replace(b"SEQUENCE:0\r\n", b""))[0].sequence == 0
    assert read_replies(reply.replace(b"PARTSTAT=ACCEPTED", b"PARTSTAT=NEEDS-ACTION")) == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise(data):
    assert isinstance(read_replies(data), list)
    read_calendar_method(data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mangled_reply_never_raises(data):
    message = mail_with(calendar_part(client_reply(build_request(EVENT, ANNA, stamp=STAMP), "ACCEPTED"), "REPLY"))
    cut = data.draw(st.integers(0, len(message)))
    noise = data.draw(st.binary(max_size=40))
    where = data.draw(st.integers(0, cut))
    mangled = message[:where] + noise + message[where:cut]
    assert isinstance(read_replies(mangled), list)
    assert isinstance(read_replies(mangled.replace(b"Content-Transfer-Encoding: base64", b"")), list)


def test_module_is_pure():
    code = "import sys, planner.ical; assert not {'flask', 'sqlalchemy'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)
