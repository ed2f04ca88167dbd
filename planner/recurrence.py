"""Recurrence of a series: an RFC 5545 RRULE built from plain choices, its dates, and the rule in words.

Dates are computed by python-dateutil on the series' wall-clock time, then placed in its IANA
timezone, so a lunch at 12:00 stays at 12:00 local time across daylight-saving changes.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from .errors import PlannerError

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
#: the longest a series may run, so that an open-ended rule is never expanded without limit
HORIZON_YEARS = 10


class RecurrenceError(PlannerError):
    """A recurrence that cannot be built or read."""


@dataclass(frozen=True)
class Pattern:
    """How often a series meets: weekly every `interval` weeks, monthly on the nth weekday, or monthly on a day."""

    frequency: str  # "weekly", "monthly_weekday" or "monthly_day"
    weekday: int = 0  # 0 = Monday (weekly and monthly_weekday)
    interval: int = 1  # every N weeks (weekly) or months
    nth: int = 1  # 1..4 or -1 = last (monthly_weekday)
    month_day: int = 1  # 1..31 or -1 = last day (monthly_day)
    until: date | None = None
    count: int | None = None


def build_rrule(pattern: Pattern) -> str:
    """Return the RRULE value (without "RRULE:") for a pattern; raise RecurrenceError when it is out of range."""
    if not 1 <= pattern.interval <= 52:
        raise RecurrenceError("The interval must be from 1 to 52.")
    if not 0 <= pattern.weekday <= 6:
        raise RecurrenceError("Choose a weekday.")
    if pattern.until is not None and pattern.count is not None:
        raise RecurrenceError("End the series on a date or after a number of rounds, not both.")
    if pattern.count is not None and not 1 <= pattern.count <= 520:
        raise RecurrenceError("A series has from 1 to 520 rounds.")
    if pattern.frequency == "weekly":
        parts = ["FREQ=WEEKLY", f"INTERVAL={pattern.interval}", f"BYDAY={WEEKDAYS[pattern.weekday]}"]
    elif pattern.frequency == "monthly_weekday":
        if pattern.nth not in ORDINALS:
            raise RecurrenceError("Choose the first, second, third, fourth or last weekday of the month.")
        parts = ["FREQ=MONTHLY", f"INTERVAL={pattern.interval}", f"BYDAY={pattern.nth}{WEEKDAYS[pattern.weekday]}"]
    elif pattern.frequency == "monthly_day":
        if not (1 <= pattern.month_day <= 31 or pattern.month_day == -1):
            raise RecurrenceError("The day of the month must be from 1 to 31, or the last day.")
        parts = ["FREQ=MONTHLY", f"INTERVAL={pattern.interval}", f"BYMONTHDAY={pattern.month_day}"]
    else:
        raise RecurrenceError("Choose weekly, monthly on a weekday, or monthly on a day.")
    if pattern.until is not None:
        parts.append(f"UNTIL={pattern.until:%Y%m%d}T235959")
    if pattern.count is not None:
        parts.append(f"COUNT={pattern.count}")
    return ";".join(parts)


def _rule(rrule: str, starts_on: date, at: time):
    try:
        return rrulestr(f"RRULE:{rrule}", dtstart=datetime.combine(starts_on, at))
    except (ValueError, TypeError) as error:
        raise RecurrenceError(f"The recurrence rule {rrule!r} cannot be read: {error}") from None


def occurrence_days(rrule: str, starts_on: date, *, after: date, until: date, at: time = time(12, 0)) -> list[date]:
    """Return the series' dates d with after <= d <= until (both local calendar days)."""
    limit = min(until, starts_on + timedelta(days=366 * HORIZON_YEARS))
    rule = _rule(rrule, starts_on, at)
    low = datetime.combine(max(after, starts_on), time.min)
    high = datetime.combine(limit, time.max)
    return [moment.date() for moment in rule.between(low, high, inc=True)]


def local_moment(day: date, at: time, timezone: str) -> datetime:
    """Return the aware moment at wall-clock time `at` on `day` in the IANA timezone."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(timezone))


def last_day(rrule: str, starts_on: date) -> date | None:
    """Return the series' final date when the rule ends (UNTIL or COUNT), None when it runs on."""
    rule = _rule(rrule, starts_on, time(12, 0))
    if "UNTIL=" not in rrule and "COUNT=" not in rrule:
        return None
    final = None
    for moment in rule:
        final = moment.date()
    return final


def with_until(rrule: str, until: date) -> str:
    """Return the rule ended on `until` (inclusive): an UNTIL replaces any UNTIL or COUNT it had."""
    parts = [part for part in rrule.split(";") if not part.startswith(("UNTIL=", "COUNT="))]
    return ";".join([*parts, f"UNTIL={until:%Y%m%d}T235959"])


def describe(rrule: str) -> str:
    """Say a rule built by build_rrule in words, e.g. "Every month on the first Tuesday, 6 times"."""
    fields = dict(part.split("=", 1) for part in rrule.split(";") if "=" in part)
    interval = int(fields.get("INTERVAL", "1"))
    freq = fields.get("FREQ")
    if freq == "WEEKLY":
        every = "Every week" if interval == 1 else f"Every {interval} weeks"
        text = f"{every} on {_weekday_name(fields.get('BYDAY', 'MO'))}"
    elif freq == "MONTHLY" and "BYDAY" in fields:
        code = fields["BYDAY"]
        nth, weekday = int(code[:-2] or "1"), code[-2:]
        every = "Every month" if interval == 1 else f"Every {interval} months"
        text = f"{every} on the {ORDINALS.get(nth, str(nth))} {_weekday_name(weekday)}"
    elif freq == "MONTHLY":
        day = int(fields.get("BYMONTHDAY", "1"))
        every = "Every month" if interval == 1 else f"Every {interval} months"
        text = f"{every} on the last day" if day == -1 else f"{every} on day {day}"
        if day > 28:
            text += " (months without that day are skipped)"
    else:
        text = rrule
    if "COUNT" in fields:
        count = int(fields["COUNT"])
        text += ", once" if count == 1 else f", {count} times"
    if "UNTIL" in fields:
        until = datetime.strptime(fields["UNTIL"][:8], "%Y%m%d").date()
        text += f", until {until:%d %b %Y}"
    return text


def _weekday_name(code: str) -> str:
    return WEEKDAY_NAMES[WEEKDAYS.index(code)] if code in WEEKDAYS else code


def pattern_of(rrule: str) -> Pattern:
    """Return the pattern a rule built by build_rrule stands for (its inverse)."""
    fields = dict(part.split("=", 1) for part in rrule.split(";") if "=" in part)
    interval = int(fields.get("INTERVAL", "1"))
    until = datetime.strptime(fields["UNTIL"][:8], "%Y%m%d").date() if "UNTIL" in fields else None
    count = int(fields["COUNT"]) if "COUNT" in fields else None
    if fields.get("FREQ") == "WEEKLY":
        return Pattern("weekly", weekday=WEEKDAYS.index(fields.get("BYDAY", "MO")), interval=interval, until=until, count=count)
    if "BYDAY" in fields:
        code = fields["BYDAY"]
        return Pattern("monthly_weekday", weekday=WEEKDAYS.index(code[-2:]), interval=interval, nth=int(code[:-2] or "1"),
                       until=until, count=count)
    return Pattern("monthly_day", interval=interval, month_day=int(fields.get("BYMONTHDAY", "1")), until=until, count=count)
