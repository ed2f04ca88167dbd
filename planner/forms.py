"""Flask-WTF forms (every one carries a CSRF token)."""

from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import AnyOf, DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError

from .models import EventKind

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
    rsvp_deadline = DateTimeLocalField("Answer by", validators=[Optional()], format="%Y-%m-%dT%H:%M")

    def validate_timezone(self, field):
        if field.data not in available_timezones():
            raise ValidationError("Unknown timezone; use an IANA name such as Europe/Berlin.")

    def validate_end(self, field):
        if self.start.data and field.data and field.data <= self.start.data:
            raise ValidationError("The event must end after it starts.")


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
