"""Fuzzing the staff CSV reader: whatever the bytes, it returns valid rows or refuses with reasons on lines."""

import codecs
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.config import DEFAULT_LEVELS
from planner.directory import LIMITS, DirectoryError, read_people_csv
from planner.text import control_problem

LADDER = list(DEFAULT_LEVELS)
GOOD_TEXT = (
    "email,name,department,level,joined_on,active\r\n"
    'ann@example.com,"Lee, Ann",Sales,Senior,2020-02-01,yes\r\n'
    "tomas@example.com,Tomás Ørsted,Engineering,1,,\r\n"
    'cy@example.com,"Cy ""The Boss"" Day",People,director,,no\r\n'
)
SEEDS = [
    GOOD_TEXT.encode(),
    codecs.BOM_UTF8 + GOOD_TEXT.replace(",", ";").encode(),
    codecs.BOM_UTF16_LE + GOOD_TEXT.replace(",", "\t").replace("Lee\t Ann", "Lee, Ann").encode("utf-16-le"),
    codecs.BOM_UTF16_BE + GOOD_TEXT.encode("utf-16-be"),
    GOOD_TEXT.encode("cp1252"),
]
#: bytes that change how a CSV reads: quotes, delimiters, line ends, BOMs, NUL, formula starts, multi-byte letters
SPECIAL = [b'"', b",", b";", b"\t", b"\n", b"\r", b"\r\n", b"\x00", b"\x00\x00", b"=", b"@", b"\xff\xfe", b"\xfe\xff",
           codecs.BOM_UTF8, "é".encode(), "é".encode("utf-16-le"), b"\x81", b"\xc3", b"\xed\xa0\x80"]
#: the number of examples per test; raise PLANNER_FUZZ_EXAMPLES for a longer local run
EXAMPLES = int(os.environ.get("PLANNER_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def mutated_files(draw) -> bytes:
    """A valid staff file with a few bytes inserted, deleted, replaced or repeated."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "repeat"]))
        piece = draw(st.sampled_from(SPECIAL) | st.binary(min_size=1, max_size=4))
        if action == "insert":
            data[at:at] = piece
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 12))]
        elif action == "replace":
            data[at : at + len(piece)] = piece
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 40))] * draw(st.integers(1, 3))
    return bytes(data)


def check_reader(data: bytes) -> None:
    """Either every row is storable, or the refusal gives a reason on a line that exists."""
    try:
        staff = read_people_csv(data, LADDER)
    except DirectoryError as error:
        assert str(error) and error.problems
        last_line = data.count(b"\n") + data.count(b"\r") + 1
        for problem in error.problems:
            assert 1 <= problem.line <= last_line, (problem, data)
            assert problem.reason.strip(), (problem, data)
        return
    assert staff.rows
    for row in staff.rows:
        for column, limit in LIMITS.items():
            value = getattr(row, column)
            assert value and len(value) <= limit and control_problem(value) is None, (column, value)
        assert 0 <= row.level < len(LADDER)


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_never_crash_the_reader(data):
    check_reader(data)


@FUZZ
@given(mutated_files())
def test_mutated_staff_files_never_crash_the_reader(data):
    check_reader(data)


def test_the_seeds_are_valid_files():
    for seed in SEEDS:
        assert len(read_people_csv(seed, LADDER).rows) == 3
