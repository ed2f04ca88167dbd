"""Flask-WTF forms (every one carries a CSRF token)."""

import hmac
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import available_timezones

from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    FloatField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from .models import EventKind, PlanningMode, QuestionKind, SendMode
from .recurrence import ORDINALS, WEEKDAY_NAMES, Pattern
from .services.events import EventDraft
from .services.needs import DIETS, NOTE_LENGTH, Needs, check_needs
from .services.questions import CHOICE_LENGTH, LABEL_LENGTH, MAX_CHOICES, QUESTION_KINDS, QuestionDraft
from .services.rsvp import ANSWERS, COMMENT_LENGTH
from .services.series import SeriesDraft
from .text import control_problem
from .tokens import answer_form_token

#: how the answer deadline travels in a form (an HTML datetime-local value)
DEADLINE_FORMAT = "%Y-%m-%dT%H:%M"

KIND_LABELS = [
    SelectChoice(EventKind.LUNCH.value, "Lunch"),
    SelectChoice(EventKind.DRINKS.value, "Drinks"),
    SelectChoice(EventKind.TRAINING.value, "Training day"),
]


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me logged in")


class UploadForm(FlaskForm):
    file = FileField("Staff CSV", validators=[FileRequired(), FileAllowed(["csv", "txt"], "Upload a .csv file.")])


class ConfirmImportForm(FlaskForm):
    deactivate_missing = BooleanField("Deactivate the people missing from the file")


class WhatAndWhenForm(FlaskForm):
    """The fields an event and a series share: kind, title, description, place, times, timezone and seats."""

    kind = SelectField("Kind", choices=KIND_LABELS, validators=[DataRequired()])
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    location = StringField("Location", validators=[Optional(), Length(max=200)])
    start = TimeField("Starts", validators=[InputRequired(message="Give the start time.")])
    end = TimeField("Ends", validators=[InputRequired(message="Give the end time.")])
    timezone = StringField("Timezone", validators=[DataRequired(), Length(max=64)])
    capacity = IntegerField(
        "Seats", validators=[InputRequired(message="Give the number of seats."), NumberRange(min=1, message="The capacity must be at least 1.")]
    )
    reminder_days = IntegerField(
        "Remind who has not answered (days before the deadline)", default=2,
        validators=[Optional(), NumberRange(min=0, max=30, message="Remind from 0 (never) to 30 days before the deadline.")],
    )
    is_auto_backfill = BooleanField("Refill a declined seat by itself (the waiting list first, then an offer)")
    offer_hours = IntegerField(
        "An offer holds its seat for (hours; empty: the default)",
        validators=[Optional(), NumberRange(min=1, max=720, message="An offer holds its seat from 1 to 720 hours.")],
    )

    def reminder_days_given(self) -> int:
        """Return the reminder days typed in, or the default of 2 when the field was left empty."""
        return 2 if self.reminder_days.data is None else self.reminder_days.data

    def validate_title(self, field):
        _one_line(field, "The title")

    def validate_location(self, field):
        _one_line(field, "The location")

    def validate_description(self, field):
        problem = control_problem(field.data or "", multiline=True)
        if problem:
            raise ValidationError(f"The description {problem}.")

    def validate_timezone(self, field):
        if field.data not in available_timezones():
            raise ValidationError("Unknown timezone; use an IANA name such as Europe/Berlin.")

    def validate_end(self, field):
        if self.start.data and field.data and field.data <= self.start.data:
            raise ValidationError("The event must end after it starts.")


class EventForm(WhatAndWhenForm):
    day = DateField("Date", validators=[InputRequired(message="Give the date.")])
    rsvp_deadline = DateTimeLocalField("Answer by", validators=[Optional()], format=DEADLINE_FORMAT)
    #: the default deadline the form showed: a deadline left at it follows the date and kind
    shown_deadline = HiddenField()

    def shown_default(self) -> datetime | None:
        """Return the default deadline the form showed, or None when it showed none."""
        try:
            return datetime.strptime(self.shown_deadline.data or "", DEADLINE_FORMAT)
        except ValueError:
            return None

    def to_draft(self) -> EventDraft:
        """Return the submitted values as an event draft for the services."""
        return EventDraft(
            kind=EventKind(self.kind.data),
            title=self.title.data,
            description=self.description.data or "",
            location=self.location.data or "",
            day=self.day.data,
            start=self.start.data,
            end=self.end.data,
            timezone=self.timezone.data,
            capacity=self.capacity.data,
            rsvp_deadline=self.rsvp_deadline.data,
            reminder_days=self.reminder_days_given(),
            is_auto_backfill=self.is_auto_backfill.data,
            offer_hours=self.offer_hours.data,
        )


def _one_line(field, name: str) -> None:
    problem = control_problem(field.data or "")
    if problem:
        raise ValidationError(f"{name} {problem}: keep it on one line, in plain text.")


class ActionForm(FlaskForm):
    """A bare POST form: a button and its CSRF token."""


class PersonActionForm(FlaskForm):
    person_id = HiddenField(validators=[DataRequired()])


class EraseForm(FlaskForm):
    """The confirmation of an erasure: the person's email typed again."""

    confirm_email = StringField("Type the person's email to confirm", validators=[DataRequired(), Length(max=254)])


class AddPersonForm(FlaskForm):
    email = EmailField("Add by email", validators=[DataRequired(), Email(), Length(max=254)])


def answer_csrf_token(token_hash: str) -> str:
    """Return the CSRF token of an invitation's answer form, which the RSVP page writes out and submitted_answer checks."""
    return answer_form_token(current_app.secret_key, token_hash)


@dataclass(frozen=True)
class SubmittedAnswer:
    """What an RSVP form sent, read by submitted_answer: whether its CSRF token is the invitation's, and the answer."""

    is_genuine: bool
    answer: str | None  #: yes, no or maybe; None when the form sent no known answer
    comment: str | None  #: the note, None when it is empty, too long or not plain text
    problem: str | None  #: why the answer cannot be taken, for the invitee (None when it can)


def submitted_answer(form, token_hash: str) -> SubmittedAnswer:
    """Read the RSVP form (a pressed button's answer and an optional note) and check its CSRF token.

    The token is bound to the invitation (its token hash), not to a session: the RSVP link is the invitee's only
    credential and no cookie adds authority, so a cross-site page could forge an answer only by knowing the link, which
    already lets it answer. The HMAC keeps every POST token-checked without a session cookie on the busiest page, and is
    read here by hand rather than through a WTForms form, which cost a tenth of the whole answer.
    """
    token = form.get("csrf_token")
    genuine = isinstance(token, str) and hmac.compare_digest(token, answer_csrf_token(token_hash))
    answer, comment = form.get("answer"), form.get("comment") or None
    if answer not in ANSWERS:  # the words of the form's buttons (templates/rsvp/show.html)
        return SubmittedAnswer(genuine, None, comment, "Choose yes, no or maybe.")
    if comment is not None and len(comment) > COMMENT_LENGTH:
        return SubmittedAnswer(genuine, answer, None, f"The note for the organiser can have at most {COMMENT_LENGTH} characters.")
    problem = control_problem(comment or "", multiline=True)
    if problem:  # a NUL would even be refused by PostgreSQL's text column
        return SubmittedAnswer(genuine, answer, None, f"The note for the organiser {problem}: write plain text.")
    return SubmittedAnswer(genuine, answer, comment, None)


# Seating plans (the "Mixed tables" issue).


def _finite(form, field):
    if field.data is not None and field.data != field.data:
        raise ValidationError("Give a number.")


def _weight_field(label: str, default: float) -> FloatField:
    return FloatField(
        label,
        default=default,
        validators=[
            InputRequired(message="Give a weight (0 ignores this criterion)."),
            _finite,
            NumberRange(min=0, max=100, message="Weights go from 0 to 100."),
        ],
    )


class SeatingForm(FlaskForm):
    """Settings for a seating plan: table sizes or pairs, what mixing is worth, and the search seed."""

    mode = SelectField(
        "Seat people", choices=[SelectChoice("tables", "At tables"), SelectChoice("pairs", "In coffee-roulette pairs")], default="tables"
    )
    min_size = IntegerField(
        "Smallest table", default=6, validators=[InputRequired(message="Give the smallest table size."), NumberRange(min=1, max=100)]
    )
    max_size = IntegerField(
        "Largest table", default=8, validators=[InputRequired(message="Give the largest table size."), NumberRange(min=1, max=100)]
    )
    sizes = StringField("Or the real table sizes", validators=[Optional(), Length(max=500)])
    w_department = _weight_field("Different departments", 1.0)
    w_level = _weight_field("Level distance", 0.5)
    w_new = _weight_field("Not having met", 1.0)
    include_maybe = BooleanField("Also seat people who answered maybe")
    seed = IntegerField("Seed", default=0, validators=[Optional(), NumberRange(min=0, max=2**31 - 1)])

    def validate_max_size(self, field):
        if self.min_size.data is not None and field.data is not None and field.data < self.min_size.data:
            raise ValidationError("The largest table cannot be smaller than the smallest.")

    def validate_sizes(self, field):
        if field.data and self.table_sizes() is None:
            raise ValidationError("Give the table sizes as whole numbers from 1 to 100 separated by commas, e.g. 8, 8, 10.")

    def table_sizes(self) -> tuple[int, ...] | None:
        """Return the real table sizes typed in, or None when the field is empty or not a list of sizes."""
        parts = (self.sizes.data or "").replace(",", " ").split()
        if not parts or len(parts) > 200 or not all(part.isdigit() and 1 <= int(part) <= 100 for part in parts):
            return None
        return tuple(int(part) for part in parts)


class MoveSeatForm(FlaskForm):
    """Move one seated person to another table (numbered from 1)."""

    person_id = IntegerField(validators=[InputRequired()])
    table = IntegerField("Table", validators=[InputRequired(message="Choose a table."), NumberRange(min=1, message="Choose a table.")])


# Series (the "Fair rounds" issue).

FREQUENCIES = [
    SelectChoice("weekly", "Every N weeks on a weekday"),
    SelectChoice("monthly_weekday", "Monthly on the Nth weekday"),
    SelectChoice("monthly_day", "Monthly on a day of the month"),
]
WEEKDAY_CHOICES = [SelectChoice(str(index), name) for index, name in enumerate(WEEKDAY_NAMES)]
NTH_CHOICES = [SelectChoice(str(nth), word) for nth, word in ORDINALS.items()]
MONTH_DAY_CHOICES = [SelectChoice(str(day), str(day)) for day in range(1, 32)] + [SelectChoice("-1", "Last day")]
ENDS = [SelectChoice("never", "Runs on"), SelectChoice("until", "On a date"), SelectChoice("count", "After a number of rounds")]
SEND_MODES = [
    SelectChoice(SendMode.REVIEW.value, "Wait for my review, then I send"),
    SelectChoice(SendMode.AUTOMATIC.value, "Send by itself on the planning day"),
]
PLANNING_MODES = [
    SelectChoice(PlanningMode.FAIR.value, "Fair turns: everyone once before anyone twice, mixed, new acquaintances"),
    SelectChoice(PlanningMode.EVEN.value, "Equal seats per department and level"),
    SelectChoice(PlanningMode.PROPORTIONAL.value, "Seats in proportion to department and level size"),
]


class SeriesForm(WhatAndWhenForm):
    """A recurring event: what, when, how often, and how its rounds are planned and sent."""

    frequency = SelectField("Repeats", choices=FREQUENCIES, default="monthly_weekday")
    interval = IntegerField("Every", default=1, validators=[InputRequired(), NumberRange(min=1, max=52)])
    weekday = SelectField("Weekday", choices=WEEKDAY_CHOICES, default="1")
    nth = SelectField("Which one", choices=NTH_CHOICES, default="1")
    month_day = SelectField("Day of the month", choices=MONTH_DAY_CHOICES, default="1")
    starts_on = DateField("First date on or after", validators=[InputRequired(message="Give the start date.")])
    ends = SelectField("Ends", choices=ENDS, default="never")
    until = DateField("Last date", validators=[Optional()])
    count = IntegerField("Number of rounds", validators=[Optional(), NumberRange(min=1, max=520)])
    deadline_hours = IntegerField("Answers close (hours before)", default=48, validators=[InputRequired(), NumberRange(min=0, max=720)])
    plan_days_ahead = IntegerField("Plan each round (days ahead)", default=14, validators=[InputRequired(), NumberRange(min=1, max=90)])
    send_mode = SelectField("Sending", choices=SEND_MODES, default=SendMode.REVIEW.value)
    planning_mode = SelectField("Who is invited", choices=PLANNING_MODES, default=PlanningMode.FAIR.value)
    from_day = DateField("Apply from", validators=[Optional()])

    def validate_until(self, field):
        if self.ends.data == "until" and field.data is None:
            raise ValidationError("Give the last date.")

    def validate_count(self, field):
        if self.ends.data == "count" and field.data is None:
            raise ValidationError("Give the number of rounds.")

    def pattern(self) -> Pattern:
        """Return the recurrence the form describes."""
        return Pattern(
            frequency=self.frequency.data,
            weekday=int(self.weekday.data),
            interval=self.interval.data,
            nth=int(self.nth.data),
            month_day=int(self.month_day.data),
            until=self.until.data if self.ends.data == "until" else None,
            count=self.count.data if self.ends.data == "count" else None,
        )

    def to_draft(self) -> SeriesDraft:
        """Return the submitted values as a series draft for the services."""
        return SeriesDraft(
            kind=EventKind(self.kind.data),
            title=self.title.data,
            description=self.description.data or "",
            location=self.location.data or "",
            capacity=self.capacity.data,
            start=self.start.data,
            end=self.end.data,
            timezone=self.timezone.data,
            pattern=self.pattern(),
            starts_on=self.starts_on.data,
            deadline_hours=self.deadline_hours.data,
            reminder_days=self.reminder_days_given(),
            is_auto_backfill=self.is_auto_backfill.data,
            offer_hours=self.offer_hours.data,
            plan_days_ahead=self.plan_days_ahead.data,
            send_mode=SendMode(self.send_mode.data),
            planning_mode=PlanningMode(self.planning_mode.data),
        )


class PlanningModeForm(FlaskForm):
    """How a draft's invitees are chosen."""

    mode = SelectField(choices=PLANNING_MODES, validators=[DataRequired()])


class DayForm(FlaskForm):
    """One date of a series, and for a move the date it moves to."""

    day = DateField(validators=[InputRequired(message="Choose a date.")])
    new_day = DateField("Move to", validators=[Optional()])


# Dietary and access needs, custom questions (the "Replies at scale" issue).


NOTE_TOO_LONG = f"Write at most {NOTE_LENGTH} characters."


class NeedsForm(FlaskForm):
    """A person's dietary and access needs, remembered for every event."""

    diets = SelectMultipleField(
        "Dietary requirements",
        choices=[SelectChoice(code, label) for code, label in DIETS.items()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
    )
    diet_note = TextAreaField("Other dietary requirements", validators=[Optional(), Length(max=NOTE_LENGTH, message=NOTE_TOO_LONG)])
    access_note = TextAreaField("Access needs", validators=[Optional(), Length(max=NOTE_LENGTH, message=NOTE_TOO_LONG)])
    #: on the RSVP page: the needs were on the form, so an answer saves them too
    needs_shown = HiddenField(default="1")

    def validate_diets(self, field):
        unknown = [code for code in field.data or [] if code not in DIETS]
        if unknown:
            raise ValidationError("Tick the dietary choices offered, or describe yours in the text below.")

    def validate_diet_note(self, field):
        _plain_text(field, "The dietary requirements")

    def validate_access_note(self, field):
        _plain_text(field, "The access needs")

    def to_needs(self) -> Needs:
        """Return the submitted needs, cleaned; raise NeedsError when they cannot be stored."""
        return check_needs(self.diets.data or [], self.diet_note.data, self.access_note.data)


def _plain_text(field, name: str) -> None:
    problem = control_problem(field.data or "", multiline=True)
    if problem:
        raise ValidationError(f"{name} {problem}: write plain text.")


class QuestionForm(FlaskForm):
    """One custom question of an event: its words, kind, choices and whether it must be answered."""

    label = StringField("Question", validators=[DataRequired(message="Write the question."), Length(max=LABEL_LENGTH)])
    kind = SelectField("Answered with", choices=[SelectChoice(kind.value, label) for kind, label in QUESTION_KINDS.items()])
    choices = TextAreaField(
        "Choices, one per line", validators=[Optional(), Length(max=MAX_CHOICES * (CHOICE_LENGTH + 2))]
    )
    is_required = BooleanField("Required when saying yes")

    def validate_label(self, field):
        _one_line(field, "The question")

    def validate_choices(self, field):
        problem = control_problem(field.data or "", multiline=True)
        if problem:
            raise ValidationError(f"The choices {problem}.")

    def to_draft(self) -> QuestionDraft:
        """Return the submitted question for the services."""
        kind = QuestionKind(self.kind.data)
        return QuestionDraft(self.label.data or "", kind, self.choices.data or "", bool(self.is_required.data))
