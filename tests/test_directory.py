"""Reading staff CSV files: every bad line is reported, nothing half-read; Excel's encodings and delimiters."""

import codecs

import pytest

from planner import directory
from planner.config import DEFAULT_LEVELS
from planner.directory import DirectoryError, fold, parse_level, read_people_csv

LADDER = list(DEFAULT_LEVELS)
HEADER = "email,name,department,level,joined_on,active\n"
SHORT = "email,name,department,level\n"


def problems(data: bytes) -> list[tuple[int, str]]:
    with pytest.raises(DirectoryError) as caught:
        read_people_csv(data, LADDER)
    return [(p.line, p.reason) for p in caught.value.problems]


def test_reads_a_good_file_with_names_numbers_and_optional_columns():
    data = (HEADER + "Ann@Example.com,Ann Lee,Sales,Senior,2020-02-01,yes\n"
            "bob@example.com,Bob Ray,Engineering,1,,\n"
            "cy@example.com,Cy Day,People,director,,no\n").encode()
    staff = read_people_csv(data, LADDER)
    rows = staff.rows
    assert [(r.email, r.level, r.is_active) for r in rows] == [
        ("ann@example.com", 3, True), ("bob@example.com", 1, True), ("cy@example.com", 5, False)]
    assert rows[0].joined_on.isoformat() == "2020-02-01" and rows[1].joined_on is None
    assert staff.reading.describe() == "Read as UTF-8, comma-separated" and staff.reading.warning is None


def test_only_required_columns_in_any_order_and_a_bom():
    data = "\ufefflevel,Department,NAME,email\nMid,Ops,Dee,dee@example.com\n".encode()
    (row,) = read_people_csv(data, LADDER).rows
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


def test_trailing_empty_fields_as_excel_writes_them_are_accepted():
    (row,) = read_people_csv(b"email;name;department;level;;\na@example.com;A;Sales;1;;\n", LADDER).rows
    assert row.email == "a@example.com"


def test_an_unknown_delimiter_is_explained():
    with pytest.raises(DirectoryError, match="Missing required column.*not look comma-, semicolon- or tab-separated") as caught:
        read_people_csv(b"email|name|department|level\na@example.com|A|Sales|1\n", LADDER)
    assert caught.value.problems[0].line == 1


def test_a_column_named_twice_is_refused():
    assert problems(b"email,name,department,level,Name\na@example.com,A,Sales,1,B\n") == [(1, "header: a column is named twice")]


@pytest.mark.parametrize("delimiter, word", [(",", "comma"), (";", "semicolon"), ("\t", "tab")])
@pytest.mark.parametrize("encoding, bom, name", [
    ("utf-8", b"", "UTF-8"),
    ("utf-8", codecs.BOM_UTF8, "UTF-8"),
    ("utf-16-le", codecs.BOM_UTF16_LE, "UTF-16"),
    ("utf-16-be", codecs.BOM_UTF16_BE, "UTF-16"),
])
def test_excel_encodings_and_delimiters_are_detected(delimiter, word, encoding, bom, name):
    text = "\r\n".join(delimiter.join(cells) for cells in [
        ("email", "name", "department", "level"),
        ("tomas@example.com", "Tomás Ørsted", "Sales; EMEA" if delimiter != ";" else "Sales, EMEA", "Senior"),
        ("zoe@example.com", "Zoë Kowalski", "R&D", "0"),
    ]) + "\r\n"
    staff = read_people_csv(bom + text.encode(encoding), LADDER)
    assert [(r.name, r.level) for r in staff.rows] == [("Tomás Ørsted", 3), ("Zoë Kowalski", 0)]
    assert staff.reading.describe() == f"Read as {name}, {word}-separated"
    assert staff.reading.warning is None


def test_windows_1252_is_the_last_resort_with_a_warning():
    data = HEADER.encode() + b"a@example.com,A,Sales,1,,\n" + "b@example.com,Bj\u00f6rn \u2013 \u20ac,Sales,1,,\n".encode(
        "cp1252")
    staff = read_people_csv(data, LADDER)
    assert staff.rows[1].name == "Bj\u00f6rn \u2013 \u20ac"
    assert staff.reading.encoding == "Windows-1252"
    assert "not UTF-8 (from line 3 on)" in staff.reading.warning


def test_bytes_that_no_encoding_reads_name_the_line():
    data = HEADER.encode() + b"a@example.com,A,Sales,1,,\nb@example.com,B\x81,Sales,1,,\n"
    assert problems(data) == [(3, "bytes that are not Windows-1252 text")]
    cut = codecs.BOM_UTF16_LE + (SHORT + "a@example.com,A,Sales,1\n").encode("utf-16-le")[:-1]
    assert problems(cut) == [(2, "bytes that are not UTF-16 text")]


@pytest.mark.parametrize("data", [
    b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, b"\n\n", b"  \r\n\t \n", codecs.BOM_UTF8 + b" \n",
])
def test_empty_files_are_refused_on_line_1(data):
    assert problems(data) == [(1, "the file is empty: no header and no people")]


@pytest.mark.parametrize("data", [HEADER.encode(), SHORT.encode() + b",,,\n\n", codecs.BOM_UTF16_LE + SHORT.encode("utf-16-le")])
def test_a_header_without_people_is_refused_on_line_1(data):
    assert problems(data) == [(1, "a header and no people below it")]


def test_a_field_over_the_csv_limit_is_refused_with_its_line():
    huge = "x" * 140_000
    data = (SHORT + "a@example.com,A,Sales,1\n" + f"b@example.com,{huge},Sales,1\n" + "c@example.com,C,Sales,1\n").encode()
    ((line, reason),) = problems(data)
    assert line == 3 and "longer than 128 KiB" in reason


def test_an_unclosed_quote_is_refused_on_the_line_where_it_opens():
    data = (SHORT + "a@example.com,A,Sales,1\n" + 'b@example.com,"B,Sales,1\n' + "c@example.com,C,Sales,1\n" * 3).encode()
    assert problems(data) == [(3, "a quote opened here is never closed")]
    swallowing = (SHORT + 'b@example.com,"B,Sales,1\n' + "c@example.com,C,Sales,1\n" * 10_000).encode()
    ((line, reason),) = problems(swallowing)
    assert line == 2 and "never closed" in reason


def test_text_after_a_closing_quote_is_refused():
    assert problems((SHORT + 'a@example.com,"A" Lee,Sales,1\n').encode())[0][0] == 2


@pytest.mark.parametrize("name, reason", [
    ("Ann\x00Lee", "name contains a NUL byte"),
    ('"Ann\nLee"', "name contains a line break"),
    ('"Ann\rLee"', "name contains a line break"),
    ("Ann\x07Lee", "name contains the control character U+0007"),
    ("Ann\x9bLee", "name contains the control character U+009B"),
])
def test_control_characters_are_refused(name, reason):
    data = (SHORT + f"a@example.com,{name},Sales,1\nb@example.com,B,Sales,1\n").encode()
    assert problems(data) == [(2, reason)]


def test_a_line_break_inside_quotes_keeps_the_following_line_numbers():
    data = (HEADER + '"a@example.com","Lee, Ann","Sales\nEMEA",Mid,,\nbad,B,Sales,Mid,,\n').encode()
    assert problems(data) == [
        (2, "department contains a line break"), (4, "bad email 'bad': An email address must have an @-sign.")]


def test_values_longer_than_their_columns_are_refused():
    data = (SHORT
            + f"a@example.com,{'N' * 300},Sales,1\n"
            + f"b@example.com,B,{'D' * 5000},1\n"
            + f"{'e' * 250}@example.com,E,Sales,1\n"
            + f"ok@example.com,{'N' * 200},{'D' * 120},1\n").encode()
    assert problems(data) == [
        (2, "name has 300 characters; at most 200 fit"),
        (3, "department has 5000 characters; at most 120 fit"),
        (4, "email has 262 characters; at most 254 fit"),
    ]


def test_the_length_limits_are_the_model_columns():
    from planner.models import Person

    columns = Person.__table__.columns
    assert directory.LIMITS == {name: columns[name].type.length for name in ("email", "name", "department")}
    assert (directory.EMAIL_MAX, directory.NAME_MAX, directory.DEPARTMENT_MAX) == (254, 200, 120)


def test_formula_like_names_are_kept_as_they_are():
    names = ["=HYPERLINK(\"http://x\")", "+1 Team", "-Dash", "@Home"]
    data = (SHORT + "".join(f"p{i}@example.com,{name},Sales,1\n" for i, name in enumerate(names))).encode()
    assert [row.name for row in read_people_csv(data, LADDER).rows] == names


def test_fold_ignores_case_and_accents():
    assert fold("Tomás ØRSTED") == "tomas orsted"
    assert fold("Straße Łódź Ærø") == "strasse lodz aero"


def test_parse_level():
    assert parse_level(" 0 ", LADDER) == 0 and parse_level("EXECUTIVE", LADDER) == 6
    with pytest.raises(ValueError):
        parse_level("-1", LADDER)
    with pytest.raises(ValueError, match="unknown level"):
        parse_level("\u00b2", LADDER)
