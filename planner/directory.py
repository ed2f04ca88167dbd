"""PURE: read a staff CSV (as Excel saves it) into validated rows, reporting every bad line."""

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date
from functools import lru_cache

from .errors import PlannerError
from .text import control_problem

REQUIRED = ("email", "name", "department", "level")
OPTIONAL = ("joined_on", "active")
TRUE_WORDS = {"1", "true", "yes", "y", "active", ""}
FALSE_WORDS = {"0", "false", "no", "n", "inactive"}
#: the longest values the Person columns hold (a test checks them against the model)
EMAIL_MAX = 254
NAME_MAX = 200
DEPARTMENT_MAX = 120
LIMITS = {"email": EMAIL_MAX, "name": NAME_MAX, "department": DEPARTMENT_MAX}
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
#: byte order marks, the codec that reads past them, and the name shown to the organiser
BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
#: letters that carry no combining accent in Unicode but are read as one by people searching
_FOLD_LETTERS = str.maketrans({"ø": "o", "đ": "d", "ł": "l", "ı": "i", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe"})


@dataclass(frozen=True, slots=True)
class PersonRow:
    """One valid line of a staff CSV."""

    line: int
    email: str
    name: str
    department: str
    level: int
    joined_on: date | None
    is_active: bool

    def to_json(self) -> dict:
        """Return the row as JSON-safe values."""
        data = asdict(self)
        data["joined_on"] = self.joined_on.isoformat() if self.joined_on else None
        return data

    @classmethod
    def from_json(cls, data: dict) -> "PersonRow":
        """Rebuild a row stored with to_json."""
        joined = data["joined_on"]
        return cls(**{**data, "joined_on": date.fromisoformat(joined) if joined else None})


@dataclass(frozen=True)
class Reading:
    """How a staff file was read: its encoding, its delimiter, and a warning when the encoding is a guess."""

    encoding: str
    delimiter: str
    warning: str | None = None

    def describe(self) -> str:
        """Say how the file was read, e.g. "Read as UTF-16, semicolon-separated"."""
        return f"Read as {self.encoding}, {DELIMITERS[self.delimiter]}-separated"


@dataclass(frozen=True)
class StaffFile:
    """A staff CSV that passed every check: its rows and how it was read."""

    rows: list[PersonRow]
    reading: Reading

    def to_json(self) -> dict:
        """Return the file as JSON-safe values."""
        return {"reading": asdict(self.reading), "rows": [row.to_json() for row in self.rows]}

    @classmethod
    def from_json(cls, data: dict) -> "StaffFile":
        """Rebuild a file stored with to_json."""
        return cls([PersonRow.from_json(item) for item in data["rows"]], Reading(**data["reading"]))


@dataclass(frozen=True)
class RowProblem:
    """Why one line of the file was refused."""

    line: int
    reason: str


class DirectoryError(PlannerError):
    """A staff file that cannot be imported; problems lists every bad line."""

    def __init__(self, message: str, problems: list[RowProblem] | None = None):
        super().__init__(message)
        self.problems = problems or []


def fold(text: str) -> str:
    """Return text for accent- and case-insensitive matching: "Tomás Ørsted" becomes "tomas orsted"."""
    if text.isascii():  # nothing to decompose or translate
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char)).translate(_FOLD_LETTERS)


def search_key(name: str, email: str) -> str:
    """Return the folded text a directory search matches against."""
    return f"{fold(name)} {fold(email)}"


def parse_level(value: str, ladder: list[str]) -> int:
    """Return the level index for a number or a ladder name; raise ValueError otherwise."""
    text = value.strip()
    if text.isascii() and text.isdigit():
        number = int(text)
        if number < len(ladder):
            return number
        raise ValueError(f"level {number} is above the ladder (0-{len(ladder) - 1})")
    lowered = {name.lower(): index for index, name in enumerate(ladder)}
    if text.lower() in lowered:
        return lowered[text.lower()]
    raise ValueError(f"unknown level {text!r} (use 0-{len(ladder) - 1} or one of: {', '.join(ladder)})")


def decode(data: bytes) -> tuple[str, str, str | None]:
    """Return the text, its encoding's name and a warning when the encoding was guessed; raise DirectoryError."""
    for bom, codec, name in BOMS:
        if data.startswith(bom):
            return _decode_strictly(data, codec, name), name, None
    try:
        return data.decode("utf-8"), "UTF-8", None
    except UnicodeDecodeError as error:
        first = _line_at(data, error.start, "utf-8")
    warning = (
        f"The file is not UTF-8 (from line {first} on), so it was read as Windows-1252. "
        "Check the accented letters below; if they look wrong, save the file as 'CSV UTF-8' and upload it again."
    )
    return _decode_strictly(data, "cp1252", "Windows-1252"), "Windows-1252", warning


def _decode_strictly(data: bytes, codec: str, name: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as error:
        line = _line_at(data, error.start, codec)
        raise DirectoryError(
            "The file is not text that can be read. Save it as 'CSV UTF-8' and upload it again.",
            [RowProblem(line, f"bytes that are not {name} text")],
        ) from None


def _line_at(data: bytes, offset: int, codec: str) -> int:
    return data[:offset].decode(codec, errors="replace").count("\n") + 1


def read_people_csv(data: bytes, ladder: list[str]) -> StaffFile:
    """Parse and validate a whole staff CSV; raise DirectoryError listing every bad line."""
    text, encoding, warning = decode(data)
    if not text.strip():
        raise DirectoryError("The file is empty.", [RowProblem(1, "the file is empty: no header and no people")])
    delimiter = _delimiter(text)
    records = _records(text, delimiter)
    first = next(records)
    if isinstance(first, RowProblem):
        raise DirectoryError("The file cannot be read as CSV.", [first])
    header_line, header = first[0], [name.strip().lower() for name in first[1]]
    _check_header(header_line, header)
    rows, problems, seen = [], [], {}
    for record in records:
        if isinstance(record, RowProblem):
            problems.append(record)
            break
        line, fields = record
        if len(fields) > len(header) and any(value.strip() for value in fields[len(header) :]):
            problems.append(RowProblem(line, f"{len(fields)} fields, header has {len(header)}"))
            continue
        if not any(value.strip() for value in fields):
            continue
        try:
            row = _read_row(line, dict(zip(header, fields)), ladder)
        except ValueError as error:
            problems.append(RowProblem(line, str(error)))
            continue
        if row.email in seen:
            problems.append(RowProblem(line, f"duplicate email {row.email} (first on line {seen[row.email]})"))
            continue
        seen[row.email] = line
        rows.append(row)
    if problems:
        raise DirectoryError(f"{len(problems)} line(s) need fixing; nothing was imported.", problems)
    if not rows:
        raise DirectoryError("The file has a header but no people.", [RowProblem(header_line, "a header and no people below it")])
    return StaffFile(rows, Reading(encoding, delimiter, warning))


def _delimiter(text: str) -> str:
    """Return the delimiter that splits the first line into the most required columns (then the most frequent)."""
    first = next((line for line in _LINE_BREAK.split(text) if line.strip()), "")

    def score(delimiter: str) -> tuple[int, int]:
        names = {name.strip().strip('"').strip().lower() for name in first.split(delimiter)}
        return len(names & set(REQUIRED)), first.count(delimiter)

    return max(DELIMITERS, key=score)


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]] | RowProblem]:
    """Yield (first line, fields) for each non-blank record; a RowProblem where the CSV stops being readable."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while True:
        line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield RowProblem(line, _csv_reason(str(error)))
            return
        if fields:
            yield line, fields


def _csv_reason(error: str) -> str:
    if "field larger than field limit" in error:
        return f"a field is longer than {csv.field_size_limit() // 1024} KiB (is a quote opened here and never closed?)"
    if "unexpected end of data" in error:
        return "a quote opened here is never closed"
    if "expected after" in error:
        return "a closing quote is followed by more text (quote the whole field and double the quotes inside it)"
    return f"not readable as CSV ({error})"


def _check_header(line: int, header: list[str]) -> None:
    doubled = sorted({name for name in header if name and header.count(name) > 1})
    if doubled:
        problem = RowProblem(line, "header: a column is named twice")
        raise DirectoryError(f"Column(s) named twice: {', '.join(doubled)}.", [problem])
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        hint = " The file does not look comma-, semicolon- or tab-separated." if len(header) == 1 else ""
        raise DirectoryError(
            f"Missing required column(s): {', '.join(missing)}.{hint}", [RowProblem(line, f"header: no {', '.join(missing)}")]
        )


#: an unquoted ASCII local part (RFC 5322 dot-atom), which email_validator accepts as it is
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")


def normal_email(address: str) -> str:
    """Return an address validated and normalised by email_validator, lower-case; its domain is checked once per file.

    Raise email_validator's EmailNotValidError when it is not a valid address.
    """
    local, at, domain = address.rpartition("@")
    if at and len(local) <= 64 and _DOT_ATOM.match(local):
        return f"{local}@{_domain(domain)}".lower()
    from email_validator import validate_email

    return validate_email(address, check_deliverability=False).normalized.lower()


@lru_cache(maxsize=1024)
def _domain(domain: str) -> str:
    from email_validator import validate_email

    return validate_email(f"a@{domain}", check_deliverability=False).domain


def read_person(record: dict, ladder: list[str]) -> PersonRow:
    """Validate one person given as the CSV's column values (as text), as a line of a file is; raise ValueError."""
    return _read_row(0, record, ladder)


def _read_row(line: int, record: dict, ladder: list[str]) -> PersonRow:
    values = {column: record.get(column, "").strip() for column in REQUIRED + OPTIONAL}
    if control_problem("".join(values.values())):  # one search for a clean line, then the column to blame
        for column, value in values.items():
            problem = control_problem(value)
            if problem:
                raise ValueError(f"{column} {problem}")
    for column in REQUIRED:
        if not values[column]:
            raise ValueError(f"missing {column}")
    for column, limit in LIMITS.items():
        if len(values[column]) > limit:
            raise ValueError(f"{column} has {len(values[column])} characters; at most {limit} fit")
    from email_validator import EmailNotValidError  # imported here: it loads dnspython, which commands skip

    try:
        email = normal_email(values["email"])
    except EmailNotValidError as error:
        raise ValueError(f"bad email {values['email']!r}: {error}") from None
    if len(email) > EMAIL_MAX:
        raise ValueError(f"email has {len(email)} characters once normalised; at most {EMAIL_MAX} fit")
    joined = values["joined_on"]
    try:
        joined_on = date.fromisoformat(joined) if joined else None
    except ValueError:
        raise ValueError(f"bad joined_on {joined!r} (use YYYY-MM-DD)") from None
    active = values["active"].lower()
    if active not in TRUE_WORDS | FALSE_WORDS:
        raise ValueError(f"bad active value {active!r} (use yes or no)")
    return PersonRow(
        line=line,
        email=email,
        name=values["name"],
        department=values["department"],
        level=parse_level(values["level"], ladder),
        joined_on=joined_on,
        is_active=active in TRUE_WORDS,
    )
