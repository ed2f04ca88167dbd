"""planner.text: control characters refused with a reason, header-safe lines, spreadsheet-safe cells."""

import pytest

from planner.text import control_problem, one_line, plural, safe_cell


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Ana\nBcc: x@evil.example", "contains a line break"),
        ("Ana\r", "contains a line break"),
        ("A\x00B", "contains a NUL byte"),
        ("A\x1bB", "contains the control character U+001B"),
        ("A\x85B", "contains the control character U+0085"),
    ],
)
def test_control_characters_are_named(value, reason):
    assert control_problem(value) == reason


def test_clean_and_multiline_values_pass():
    assert control_problem("Tomás O'Neil") is None
    assert control_problem("First line\r\nsecond\tline", multiline=True) is None
    assert control_problem("bad\x00", multiline=True) == "contains a NUL byte"


def test_one_line_leaves_no_line_break_for_a_header():
    assert one_line("Eve\r\nBcc: all@example.com\x00") == "Eve Bcc: all@example.com"
    assert one_line("  Ana   Lopez ") == "Ana Lopez"


@pytest.mark.parametrize("value", ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_cells_are_quoted(value):
    assert safe_cell(value) == "'" + value


def test_ordinary_cells_stay_as_they_are():
    assert safe_cell("Ana") == "Ana"
    assert safe_cell(3) == "3"
    assert safe_cell(None) == ""


@pytest.mark.parametrize(
    "count, words, expected",
    [(1, ("message",), "1 message"), (0, ("message",), "0 messages"), (2, ("new pair",), "2 new pairs"),
     (1, ("person", "people"), "1 person"), (8, ("person", "people"), "8 people")],
)
def test_plural_takes_the_form_the_count_needs(count, words, expected):
    assert plural(count, *words) == expected
