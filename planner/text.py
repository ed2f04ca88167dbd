"""Text helpers: control characters, header-safe lines, spreadsheet-safe cells, and plurals."""

import re

#: C0 controls, DEL and C1 controls; a single-line value may contain none of them
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: the same, less tab, line feed and carriage return, which a multi-line text may hold
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def control_problem(value: str, *, multiline: bool = False) -> str | None:
    """Return why value cannot be stored (a line break or another control character), or None when it is clean."""
    found = (_CONTROL_IN_TEXT if multiline else _CONTROL).search(value)
    if found is None:
        return None
    char = found.group()
    if char in "\r\n":
        return "contains a line break"
    if char == "\x00":
        return "contains a NUL byte"
    return f"contains the control character U+{ord(char):04X}"


def one_line(value: str) -> str:
    """Return value with every control character turned into a space, for a mail header built from stored data."""
    return " ".join(_CONTROL.sub(" ", value).split())


def safe_cell(value: object) -> str:
    """Return a CSV cell that a spreadsheet will not run as a formula (a leading =, +, -, @ gets a quote)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def plural(count: int, singular: str, plural: str | None = None) -> str:
    """Return the count with the noun in the form it takes: "1 invitation", "8 invitations", "2 people"."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"
