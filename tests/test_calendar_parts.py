"""Our own iCalendar reader against icalendar: real vectors, random well-formed calendars, escapes, bad and hostile input."""

import email
import email.policy
import json
import random
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import icalendar
import pytest

from planner.calendar_parts import CALENDAR_TYPES, Property, calendars_in_mail, carried_calendars, parse_calendars
from tests.helpers import SHARED

VECTORS = SHARED / "data" / "itip" / "vectors"
FILES = sorted(p.name for p in VECTORS.glob("*") if p.suffix in {".eml", ".ics"}) if VECTORS.is_dir() else []
needs_vectors = pytest.mark.skipif(not FILES, reason=f"no iTIP test vectors in {VECTORS.resolve()}: no ../shared beside the repo")
ROOT = Path(__file__).resolve().parents[1]
#: the properties whose values the reply path reads, and other TEXT ones; icalendar splits FREEBUSY into one per period
VALUES = ("UID", "METHOD", "SEQUENCE", "COMMENT", "ATTENDEE", "ORGANIZER", "SUMMARY", "DESCRIPTION", "LOCATION")
SPLIT_BY_ICALENDAR = ("FREEBUSY",)
ESCAPES = [("\\\\", "\\"), ("\\,", ","), ("\\;", ";"), ("\\:", ":"), ("\\n", "\n"), ("\\N", "\n")]


def their_tree(text: str) -> list:
    """icalendar's VCALENDARs as (component, property names in order, each property's parameters and read value)."""
    calendars = [c for c in icalendar.Calendar.from_ical(text, multiple=True) if c.name == "VCALENDAR"]
    tree = []
    for calendar in calendars:
        for component in calendar.walk():
            properties: dict[str, list] = {}
            for name, value in component.property_items(recursive=False, sorted=False):
                if name not in ("BEGIN", "END"):
                    params = {key.upper(): tuple(v) if isinstance(v, list) else (v,) for key, v in value.params.items()}
                    properties.setdefault(name, []).append((params, str(value) if name in VALUES else None))
            tree.append((component.name, properties))
        tree.append("end of calendar")
    return normalised(tree)


def our_tree(text: str) -> list:
    """Our VCALENDARs, the same way."""
    tree = []
    for calendar in parse_calendars(text):
        for component in calendar.walk():
            properties: dict[str, list] = {}
            for prop in component.properties:
                properties.setdefault(prop.name, []).append((prop.params, prop.value if prop.name in VALUES else None))
            tree.append((component.name, properties))
        tree.append("end of calendar")
    return normalised(tree)


def normalised(tree: list) -> list:
    """SEQUENCE compared as a number (icalendar keeps an int), FREEBUSY by name only."""
    for entry in tree:
        if entry == "end of calendar":
            continue
        properties = entry[1]
        properties["SEQUENCE"] = [(params, int(value)) for params, value in properties.get("SEQUENCE", [])]
        for name in SPLIT_BY_ICALENDAR:
            if name in properties:
                properties[name] = "present"
    return tree


def calendar_texts(name: str) -> list[str]:
    """The calendar text of a vector file: the file itself, or every calendar part of the message (attached ones too)."""
    data = (VECTORS / name).read_bytes()
    if name.endswith(".ics"):
        return [data.decode("utf-8", "replace")]
    parts = email.message_from_bytes(data, policy=email.policy.compat32).walk()
    return [(part.get_payload(decode=True) or b"").decode(part.get_content_charset() or "utf-8", "replace")
            for part in parts
            if part.get_content_type() in CALENDAR_TYPES or str(part.get_filename() or "").lower().endswith(".ics")]


@needs_vectors
@pytest.mark.parametrize("name", FILES)
def test_every_vector_reads_as_icalendar_reads_it(name):
    texts = calendar_texts(name)
    assert texts
    for text in texts:
        ours = our_tree(text)
        assert ours == their_tree(text)
        assert "end of calendar" in ours


def random_text(rng: random.Random) -> tuple[str, str]:
    """A TEXT value with every kind of escape, as written on the wire and as meant."""
    pieces = [rng.choice(["plain", "Müller", "a:b", " spaced ", "x=y", "^", '"quoted"', "", "mailto:x@y"]) for _ in range(4)]
    pieces += [rng.choice(ESCAPES) for _ in range(rng.randint(0, 4))]
    rng.shuffle(pieces)
    wire = "".join(piece[0] if isinstance(piece, tuple) else piece for piece in pieces)
    return wire, "".join(piece[1] if isinstance(piece, tuple) else piece for piece in pieces)


def random_param(rng: random.Random) -> str:
    """A parameter value: plain, quoted with the delimiters inside, a comma list of both, or with RFC 6868 carets."""
    choices = ["ACCEPTED", "REQ-PARTICIPANT", "", '"Müller, Anna"', '"a;b:c,d"', '"mailto:a@example.com"',
               '"^\'Boss^\' ^^ ^n"', "x^^y"]
    return ",".join(rng.choice(choices) for _ in range(rng.choice([1, 1, 2, 3])))


def random_line(rng: random.Random, name: str) -> str:
    """One property line, unfolded: random parameters, a calendar address or an escaped TEXT value."""
    keys = rng.sample(["CN", "PARTSTAT", "X-LIST", "DELEGATED-TO"], rng.randint(0, 3))
    params = "".join(f";{key}={random_param(rng)}" for key in keys)
    value = f"mailto:someone{rng.randint(0, 9)}@example.com" if name in ("ATTENDEE", "ORGANIZER") else random_text(rng)[0]
    return f"{name}{params}:{value}"


def fold(line: str, rng: random.Random, newline: str) -> str:
    """Fold a content line at random places, with a space or a tab, as a sender may."""
    cuts = sorted(rng.sample(range(1, len(line)), min(len(line) - 1, rng.randint(0, 6))))
    pieces = [line[start:end] for start, end in zip([0, *cuts], [*cuts, len(line)])]
    return "".join(piece + newline + rng.choice(" \t") for piece in pieces[:-1]) + pieces[-1] + newline


def random_calendar(seed: int) -> str:
    """A well-formed calendar of one to three events (some with an alarm), every line folded at random, CRLF or LF."""
    rng = random.Random(seed)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//EN", f"METHOD:{rng.choice(['REPLY', 'REQUEST'])}"]
    for _ in range(rng.randint(1, 3)):
        lines += ["BEGIN:VEVENT", f"UID:{random_text(rng)[0]}", f"SEQUENCE:{rng.randint(0, 99)}"]
        lines += [random_line(rng, rng.choice(["ATTENDEE", "COMMENT", "SUMMARY", "DESCRIPTION", "ORGANIZER", "LOCATION"]))
                  for _ in range(rng.randint(1, 6))]
        if rng.random() < 0.5:
            lines += ["BEGIN:VALARM", "ACTION:DISPLAY", random_line(rng, "DESCRIPTION"), "END:VALARM"]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    newline = rng.choice(["\r\n", "\n"])
    return "".join(fold(line, rng, newline) for line in lines)


@pytest.mark.parametrize("seed", range(40))
def test_random_well_formed_calendars_read_as_icalendar_reads_them(seed):
    text = random_calendar(seed)
    assert our_tree(text) == their_tree(text)
    assert our_tree(text + text) == their_tree(text + text)


@pytest.mark.parametrize("wire, meant", ESCAPES)
def test_each_text_escape_is_decoded(wire, meant):
    [calendar] = parse_calendars(f"BEGIN:VCALENDAR\r\nCOMMENT:a{wire}b\r\nEND:VCALENDAR\r\n")
    assert calendar.first("comment").value == f"a{meant}b"


def test_escapes_are_decoded_in_one_pass_and_unknown_ones_kept():
    [calendar] = parse_calendars("BEGIN:VCALENDAR\nCOMMENT:\\\\n \\\\, \\x \\\nEND:VCALENDAR\n")
    assert calendar.first("COMMENT").value == "\\n \\, \\x \\"


def test_parameters_are_unquoted_split_and_upper_cased_by_name():
    [calendar] = parse_calendars(
        'BEGIN:VCALENDAR\nattendee;cn="Müller, Anna; HR: Berlin";delegated-to="mailto:a@x","mailto:b@x",c;Empty=:mailto:a@x\n'
        "END:VCALENDAR\n"
    )
    assert calendar.first("ATTENDEE") == Property(
        "ATTENDEE", {"CN": ("Müller, Anna; HR: Berlin",), "DELEGATED-TO": ("mailto:a@x", "mailto:b@x", "c"), "EMPTY": ("",)},
        "mailto:a@x",
    )


def test_lines_that_are_no_content_lines_and_broken_components_are_dropped():
    text = "\r\n".join([
        "UID:outside-any-component", "END:VEVENT", "BEGIN:VCALENDAR", "no colon here", "BAD LINE:name with a space",
        ";X=1:no name", 'ATTENDEE;CN="unterminated:mailto:a@example.com', "ATTENDEE;PARTSTAT:mailto:b@example.com",
        'ATTENDEE;CN="a"b:mailto:c@example.com', "", "METHOD:REPLY", "BEGIN:VEVENT", "UID:kept", "BEGIN:VALARM",
        "ACTION:DISPLAY", "END:VEVENT", "END:VTODO", "END:VCALENDAR",
        "BEGIN:VEVENT", "UID:a root that is no calendar", "END:VEVENT",
        "BEGIN:VCALENDAR", "UID:never closed",
    ])
    [calendar] = parse_calendars(text)
    assert [prop.name for prop in calendar.properties] == ["METHOD"]
    assert [(c.name, [p.value for p in c.properties]) for c in calendar.walk()] == [
        ("VCALENDAR", ["REPLY"]), ("VEVENT", ["kept"]),
    ]


def test_twenty_thousand_nested_components_need_no_recursion():
    depth = 20_000
    text = "BEGIN:VCALENDAR\n" + "BEGIN:X\nX-DEPTH:1\n" * depth + "END:X\n" * depth + "END:VCALENDAR\n"
    [calendar] = parse_calendars(text)
    components = list(calendar.walk())
    assert len(components) == depth + 1 and all(len(c.components) == 1 for c in components[:-1])
    assert "1 components" in repr(calendar)
    assert parse_calendars(text.replace("END:", "X-END:")) == []


@pytest.mark.parametrize("line", [
    "X;" + "A=b;" * 250_000,
    "COMMENT:" + "\\" * 1_000_000,
    "ATTENDEE;CN=" + "," * 1_000_000 + ":mailto:a@example.com",
    'X-A;B="' + ";" * 1_000_000,
    "\n ".join(["x"] * 300_000),
    '"' * 1_000_000,
])
def test_a_hostile_megabyte_line_is_read_in_linear_time(line):
    calendars = parse_calendars(f"BEGIN:VCALENDAR\r\n{line}\r\nUID:after\r\nEND:VCALENDAR\r\n")
    assert [prop.value for prop in calendars[0].all("UID")] == ["after"]


def test_carried_calendars_of_a_bare_object_or_a_message():
    ics = "\ufeffBEGIN:VCALENDAR\r\nUID:caf\xe9\r\nEND:VCALENDAR\r\n".encode() + b"X-BAD:\xff\r\n"
    assert [c.first("UID").value for c in carried_calendars(ics)] == ["café"]
    mail = EmailMessage()
    mail.set_content("see the calendar")
    mail.add_attachment(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", maintype="text", subtype="calendar", params={"method": "REPLY"})
    assert [c.first("METHOD").value for c in carried_calendars(mail.as_bytes())] == ["REPLY"]
    assert [c.first("METHOD").value for c in calendars_in_mail(mail)] == ["REPLY"]


def test_a_calendar_s_own_method_wins_over_its_part_s():
    mail = EmailMessage()
    mail.set_content(b"BEGIN:VCALENDAR\r\nMETHOD:CANCEL\r\nEND:VCALENDAR\r\n", maintype="text", subtype="calendar",
                     params={"method": "REPLY"})
    assert [[p.value for p in c.all("METHOD")] for c in calendars_in_mail(mail)] == [["CANCEL"]]


def test_reading_a_reply_loads_neither_icalendar_nor_dateutil():
    code = (
        "import json, sys, email\n"
        "import planner.calendar_parts, planner.services.replies\n"
        "from planner.ical import carried_uids, read_calendar_method, read_replies\n"
        "reply = b'BEGIN:VCALENDAR\\r\\nMETHOD:REPLY\\r\\nBEGIN:VEVENT\\r\\nUID:u\\r\\n"
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.com\\r\\nEND:VEVENT\\r\\nEND:VCALENDAR\\r\\n'\n"
        "mail = b'Content-Type: text/calendar; method=REPLY\\r\\n\\r\\n' + reply\n"
        "assert len(read_replies(mail)) == 1 and read_calendar_method(reply) == 'REPLY'\n"
        "assert carried_uids(email.message_from_bytes(mail)) == ['u']\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('icalendar', 'dateutil'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
