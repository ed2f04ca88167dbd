"""PURE: read a staff CSV into validated rows, reporting every bad line."""

import csv
import io
from dataclasses import asdict, dataclass
from datetime import date

from email_validator import EmailNotValidError, validate_email

from .errors import PlannerError

REQUIRED = ("email", "name", "department", "level")
OPTIONAL = ("joined_on", "active")
TRUE_WORDS = {"1", "true", "yes", "y", "active", ""}
FALSE_WORDS = {"0", "false", "no", "n", "inactive"}


@dataclass(frozen=True)
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
class RowProblem:
    """Why one line of the file was refused."""

    line: int
    reason: str


class DirectoryError(PlannerError):
    """A staff file that cannot be imported; problems lists every bad line."""

    def __init__(self, message: str, problems: list[RowProblem] | None = None):
        super().__init__(message)
        self.problems = problems or []


def parse_level(value: str, ladder: list[str]) -> int:
    """Return the level index for a number or a ladder name; raise ValueError otherwise."""
    text = value.strip()
    if text.isdigit():
        number = int(text)
        if number < len(ladder):
            return number
        raise ValueError(f"level {number} is above the ladder (0-{len(ladder) - 1})")
    lowered = {name.lower(): index for index, name in enumerate(ladder)}
    if text.lower() in lowered:
        return lowered[text.lower()]
    raise ValueError(f"unknown level {text!r} (use 0-{len(ladder) - 1} or one of: {', '.join(ladder)})")


def decode(data: bytes) -> str:
    """Decode an uploaded file as UTF-8 (with or without BOM); raise DirectoryError otherwise."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DirectoryError(
            "The file is not UTF-8 text. Save it as 'CSV UTF-8' and upload it again.",
            [RowProblem(line, "bytes that are not UTF-8")],
        ) from None


def read_people_csv(data: bytes, ladder: list[str]) -> list[PersonRow]:
    """Parse and validate a whole staff CSV; raise DirectoryError listing every bad line."""
    text = decode(data)
    if not text.strip():
        raise DirectoryError("The file is empty.")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        hint = " The file does not look comma-separated." if len(header) == 1 and any(
            sep in header[0] for sep in ";\t|"
        ) else ""
        raise DirectoryError(f"Missing required column(s): {', '.join(missing)}.{hint}", [RowProblem(1, "header")])
    reader.fieldnames = header
    rows, problems, seen = [], [], {}
    for record in reader:
        line = reader.line_num
        if None in record:
            problems.append(RowProblem(line, f"{len(header) + len(record[None])} fields, header has {len(header)}"))
            continue
        if not any((value or "").strip() for value in record.values()):
            continue
        try:
            row = _read_row(line, record, ladder)
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
        raise DirectoryError("The file has a header but no people.")
    return rows


def _read_row(line: int, record: dict, ladder: list[str]) -> PersonRow:
    values = {key: (value or "").strip() for key, value in record.items()}
    for column in REQUIRED:
        if not values.get(column):
            raise ValueError(f"missing {column}")
    try:
        email = validate_email(values["email"], check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise ValueError(f"bad email {values['email']!r}: {error}") from None
    joined = values.get("joined_on", "")
    try:
        joined_on = date.fromisoformat(joined) if joined else None
    except ValueError:
        raise ValueError(f"bad joined_on {joined!r} (use YYYY-MM-DD)") from None
    active = values.get("active", "").lower()
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
