"""planner.recurrence: RRULEs from plain choices, month ends, DST, ends, and the rule in words."""

from datetime import date, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.recurrence import (
    Pattern,
    RecurrenceError,
    build_rrule,
    describe,
    last_day,
    local_moment,
    occurrence_days,
    pattern_of,
    with_until,
)


def days(pattern: Pattern, start: date, until: date) -> list[date]:
    return occurrence_days(build_rrule(pattern), start, after=start, until=until)


def test_monthly_on_the_first_tuesday_with_a_count():
    rule = build_rrule(Pattern("monthly_weekday", weekday=1, nth=1, count=3))
    assert rule == "FREQ=MONTHLY;INTERVAL=1;BYDAY=1TU;COUNT=3"
    assert occurrence_days(rule, date(2027, 1, 1), after=date(2027, 1, 1), until=date(2030, 1, 1)) == [
        date(2027, 1, 5), date(2027, 2, 2), date(2027, 3, 2)]
    assert last_day(rule, date(2027, 1, 1)) == date(2027, 3, 2)
    assert describe(rule) == "Every month on the first Tuesday, 3 times"


def test_last_friday_of_the_month():
    assert days(Pattern("monthly_weekday", weekday=4, nth=-1), date(2027, 1, 1), date(2027, 3, 31)) == [
        date(2027, 1, 29), date(2027, 2, 26), date(2027, 3, 26)]


def test_day_31_skips_short_months_and_the_last_day_never_does():
    assert days(Pattern("monthly_day", month_day=31), date(2027, 1, 1), date(2027, 6, 30)) == [
        date(2027, 1, 31), date(2027, 3, 31), date(2027, 5, 31)]
    assert days(Pattern("monthly_day", month_day=-1), date(2028, 1, 1), date(2028, 4, 30)) == [
        date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30)]
    assert "skipped" in describe(build_rrule(Pattern("monthly_day", month_day=31)))


def test_every_two_weeks_and_an_inclusive_end_date():
    rule = build_rrule(Pattern("weekly", weekday=3, interval=2, until=date(2027, 3, 18)))
    assert occurrence_days(rule, date(2027, 3, 1), after=date(2027, 3, 1), until=date(2028, 1, 1)) == [
        date(2027, 3, 4), date(2027, 3, 18)]
    assert describe(rule) == "Every 2 weeks on Thursday, until 18 Mar 2027"


def test_wall_clock_time_is_kept_across_daylight_saving_changes():
    before, after = local_moment(date(2027, 3, 25), time(12), "Europe/Berlin"), local_moment(date(2027, 4, 1), time(12), "Europe/Berlin")
    assert before.utcoffset().total_seconds() == 3600 and after.utcoffset().total_seconds() == 7200
    assert (before.hour, after.hour) == (12, 12)
    autumn = local_moment(date(2027, 11, 8), time(12), "America/New_York")
    assert autumn.utcoffset().total_seconds() == -5 * 3600


def test_ending_a_rule_replaces_its_count():
    rule = with_until("FREQ=WEEKLY;INTERVAL=1;BYDAY=MO;COUNT=10", date(2027, 1, 11))
    assert "COUNT" not in rule
    assert occurrence_days(rule, date(2027, 1, 1), after=date(2027, 1, 1), until=date(2028, 1, 1)) == [
        date(2027, 1, 4), date(2027, 1, 11)]


@pytest.mark.parametrize("pattern, message", [
    (Pattern("weekly", interval=0), "interval"),
    (Pattern("monthly_weekday", nth=5), "first, second"),
    (Pattern("monthly_day", month_day=32), "day of the month"),
    (Pattern("yearly"), "Choose weekly"),
    (Pattern("weekly", until=date(2027, 1, 1), count=3), "not both"),
])
def test_bad_patterns_are_refused_with_a_reason(pattern, message):
    with pytest.raises(RecurrenceError, match=message):
        build_rrule(pattern)


def test_a_rule_that_cannot_be_read_is_refused():
    with pytest.raises(RecurrenceError):
        occurrence_days("FREQ=NEVER", date(2027, 1, 1), after=date(2027, 1, 1), until=date(2027, 2, 1))


patterns = st.builds(
    Pattern,
    frequency=st.sampled_from(["weekly", "monthly_weekday", "monthly_day"]),
    weekday=st.integers(0, 6),
    interval=st.integers(1, 4),
    nth=st.sampled_from([1, 2, 3, 4, -1]),
    month_day=st.sampled_from([1, 15, 28, 29, 30, 31, -1]),
    count=st.none() | st.integers(1, 30),
)


@given(patterns)
def test_pattern_of_inverts_build_rrule(pattern):
    rule = build_rrule(pattern)
    assert build_rrule(pattern_of(rule)) == rule
