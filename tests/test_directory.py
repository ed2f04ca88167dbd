"""Reading staff CSV files: every bad line is reported, nothing half-read."""

import pytest

from planner.config import DEFAULT_LEVELS
from planner.directory import DirectoryError, parse_level, read_people_csv

LADDER = list(DEFAULT_LEVELS)
HEADER = "email,name,department,level,joined_on,active\n"


def problems(data: bytes) -> list[tuple[int, str]]:
    with pytest.raises(DirectoryError) as caught:
        read_people_csv(data, LADDER)
    return [(p.line, p.reason) for p in caught.value.problems]


def test_reads_a_good_file_with_names_numbers_and_optional_columns():
    data = (HEADER + "Ann@Example.com,Ann Lee,Sales,Senior,2020-02-01,yes\n"
            "bob@example.com,Bob Ray,Engineering,1,,\n"
            "cy@example.com,Cy Day,People,director,,no\n").encode()
    rows = read_people_csv(data, LADDER)
    assert [(r.email, r.level, r.is_active) for r in rows] == [
        ("ann@example.com", 3, True), ("bob@example.com", 1, True), ("cy@example.com", 5, False)]
    assert rows[0].joined_on.isoformat() == "2020-02-01" and rows[1].joined_on is None


def test_only_required_columns_in_any_order_and_a_bom():
    data = "\ufefflevel,Department,NAME,email\nMid,Ops,Dee,dee@example.com\n".encode()
    (row,) = read_people_csv(data, LADDER)
    assert (row.email, row.department, row.level, row.is_active) == ("dee@example.com", "Ops", 2, True)


def test_every_bad_line_is_reported_with_its_number_and_reason():
    data = (HEADER
            + "a@example.com,A,Sales,Senior,,\n"
            + "not-an-email,B,Sales,Senior,,\n"
            + "c@example.com,,Sales,Senior,,\n"
            + "d@example.com,D,Sales,Wizard,,\n"
            + "A@EXAMPLE.COM,A2,Sales,Mid,,\n"
            + "e@example.com,E,Sales,Mid,31/12/2020,\n"
            + "f@example.com,F,Sales,Mid,,maybe\n"
            + "g@example.com,G,Sales,Mid,,,extra\n"
            + "h@example.com,H,Sales,9,,\n").encode()
    found = problems(data)
    assert [line for line, _ in found] == [3, 4, 5, 6, 7, 8, 9, 10]
    reasons = dict(found)
    assert "bad email" in reasons[3]
    assert reasons[4] == "missing name"
    assert "unknown level 'Wizard'" in reasons[5]
    assert "duplicate email a@example.com (first on line 2)" == reasons[6]
    assert "joined_on" in reasons[7]
    assert "active" in reasons[8]
    assert "fields" in reasons[9]
    assert "above the ladder" in reasons[10]


def test_missing_columns_and_wrong_delimiter_are_explained():
    with pytest.raises(DirectoryError, match="Missing required column.*department, level.*not look comma-separated"):
        read_people_csv(b"email;name;department;level\na@example.com;A;Sales;1\n", LADDER)


def test_wrong_encoding_names_the_line():
    data = HEADER.encode() + b"a@example.com,A,Sales,1,,\n" + "b@example.com,Bj\u00f6rn,Sales,1,,\n".encode("latin-1")
    with pytest.raises(DirectoryError, match="not UTF-8") as caught:
        read_people_csv(data, LADDER)
    assert caught.value.problems[0].line == 3


@pytest.mark.parametrize("data, message", [(b"", "empty"), (HEADER.encode(), "no people"), (b"\n\n", "empty")])
def test_empty_files(data, message):
    with pytest.raises(DirectoryError, match=message):
        read_people_csv(data, LADDER)


def test_quoted_fields_with_commas_and_newlines_keep_line_numbers():
    data = (HEADER + '"a@example.com","Lee, Ann","Sales\nEMEA",Mid,,\nbad,B,Sales,Mid,,\n').encode()
    assert problems(data) == [(4, "bad email 'bad': An email address must have an @-sign.")]


def test_parse_level():
    assert parse_level(" 0 ", LADDER) == 0 and parse_level("EXECUTIVE", LADDER) == 6
    with pytest.raises(ValueError):
        parse_level("-1", LADDER)
