"""Flask-WTF forms (every one carries a CSRF token)."""

from datetime import datetime
from zoneinfo import available_timezones

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
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from .models import EventKind
from .services.events import EventDraft
from .text import control_problem

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


class EventForm(FlaskForm):
    kind = SelectField("Kind", choices=KIND_LABELS, validators=[DataRequired()])
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    location = StringField("Location", validators=[Optional(), Length(max=200)])
    day = DateField("Date", validators=[InputRequired(message="Give the date.")])
    start = TimeField("Starts", validators=[InputRequired(message="Give the start time.")])
    end = TimeField("Ends", validators=[InputRequired(message="Give the end time.")])
    timezone = StringField("Timezone", validators=[DataRequired(), Length(max=64)])
    capacity = IntegerField(
        "Seats", validators=[InputRequired(message="Give the number of seats."), NumberRange(min=1, message="The capacity must be at least 1.")]
    )
    rsvp_deadline = DateTimeLocalField("Answer by", validators=[Optional()], format=DEADLINE_FORMAT)
    #: the default deadline the form showed: a deadline left at it follows the date and kind
    shown_deadline = HiddenField()

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
        )


def _one_line(field, name: str) -> None:
    problem = control_problem(field.data or "")
    if problem:
        raise ValidationError(f"{name} {problem}: keep it on one line, in plain text.")


class ActionForm(FlaskForm):
    """A bare POST form: a button and its CSRF token."""


class PersonActionForm(FlaskForm):
    person_id = HiddenField(validators=[DataRequired()])


class AddPersonForm(FlaskForm):
    email = EmailField("Add by email", validators=[DataRequired(), Email(), Length(max=254)])


class AnswerForm(FlaskForm):
    """The RSVP form: the pressed button (yes, no or maybe) carries the answer."""

    answer = StringField(validators=[AnyOf(["yes", "no", "maybe"], message="Choose yes, no or maybe.")])
    comment = StringField("Note for the organiser (optional)", validators=[Optional(), Length(max=1000)])


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
