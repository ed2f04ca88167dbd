"""Real and RFC iTIP messages (../shared/data/itip/vectors): replies are read, everything else yields nothing."""

import pytest

from planner.ical import Reply, read_calendar_method, read_replies
from tests.helpers import SHARED

VECTORS = SHARED / "data" / "itip" / "vectors"
FILES = sorted(p.name for p in VECTORS.glob("*") if p.suffix in {".eml", ".ics"}) if VECTORS.is_dir() else []
pytestmark = pytest.mark.skipif(not FILES, reason=f"no iTIP test vectors in {VECTORS.resolve()}")

RFC_UID = "calsrv.example.com-873970198738777@example.com"
REPLIES = {
    "reply-exchange2010-accepted.eml": [
        Reply("0e4a0959-e1c7-4c5a-b353-d7abbd8ca8ac", "markus.brechtel@uk-koeln.de", "ACCEPTED", 0, None),
    ],
    "reply-exchange2010-declined-with-comment.eml": [
        Reply("abcfacd3-4db3-4c42-bcf5-0c17752c65fb", "markus.brechtel@uk-koeln.de", "DECLINED", 0, "no, sorry"),
    ],
    "reply-apple-ical3-mail-accepted.eml": [
        Reply("1E71F9C8-AEDA-48EB-98D0-76E898F6BB5C", "xyzzy@example.com", "ACCEPTED", 7, None),
    ],
    "reply-rim-blackberry-accepted.ics": [
        Reply("f503ce50-49c6-11e5-9533-693764eab43f", "user1@domain1.tld", "ACCEPTED", 0, "ok for me"),
    ],
    "rfc5546-4.2.2-reply-accepted.ics": [Reply(RFC_UID, "b@example.com", "ACCEPTED", 0, None)],
    "rfc2446-examples-collection.ics": [
        Reply(RFC_UID, "b@example.com", "ACCEPTED", 0, None),
        Reply(RFC_UID, "c@example.com", "DELEGATED", 0, None),
        Reply(RFC_UID, "e@example.com", "ACCEPTED", 0, None),
        Reply(RFC_UID, "c@example.com", "DELEGATED", 0, "Sorry, I will be out of town at that time."),
        Reply("calsrv.example.com-873970198738777-00@example.com", "b@example.com", "ACCEPTED", 0,
              "I'll send you my input by e-mail"),
    ],
}
#: METHOD of the first calendar each file carries, for the files whose name does not say it
METHODS = {
    "apple-macosx-10.8-event-with-attendees.ics": "",
    "bounce-dsn-with-request-ics.eml": None,  # the REQUEST sits inside the returned message
    "rfc2446-examples-collection.ics": "PUBLISH",
    "rfc5546-4.2.1-group-request.ics": "REQUEST",
    "rfc5546-4.2.2-reply-accepted.ics": "REPLY",
    "rfc5546-4.2.3-update-seq1.ics": "REQUEST",
    "rfc5546-4.2.9-cancel.ics": "CANCEL",
    "rfc6047-2.5-request-quoted-printable.eml": "REQUEST",
}
METHOD_BY_PREFIX = {"req-": "REQUEST", "update-": "REQUEST", "cancel-": "CANCEL", "reply-": "REPLY"}


def expected_method(name: str) -> str | None:
    if name in METHODS:
        return METHODS[name]
    return next(method for prefix, method in METHOD_BY_PREFIX.items() if name.startswith(prefix))


def test_every_reply_file_has_an_expectation():
    assert {name for name in FILES if name.startswith("reply-")} <= REPLIES.keys()
    assert REPLIES.keys() | METHODS.keys() <= set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_replies(name):
    assert read_replies((VECTORS / name).read_bytes()) == REPLIES.get(name, [])


@pytest.mark.parametrize("name", FILES)
def test_calendar_method_explains_what_a_file_carries(name):
    assert read_calendar_method((VECTORS / name).read_bytes()) == expected_method(name)


@pytest.mark.parametrize("name", FILES)
def test_crlf_line_endings_read_the_same(name):
    data = (VECTORS / name).read_bytes().replace(b"\r\n", b"\n")
    assert read_replies(data.replace(b"\n", b"\r\n")) == read_replies(data) == REPLIES.get(name, [])


@pytest.mark.parametrize("name", FILES)
def test_truncated_and_corrupted_files_never_raise(name):
    data = (VECTORS / name).read_bytes()
    for cut in range(0, len(data), max(1, len(data) // 60)):
        for mangled in (data[:cut], data[:cut] + data[cut + 7:], data[cut:]):
            assert isinstance(read_replies(mangled), list)
            read_calendar_method(mangled)
