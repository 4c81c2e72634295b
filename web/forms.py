"""Flask-WTF forms for the account, booking and professional pages (CSRF comes with
every FlaskForm). Business rules live in the services; these only carry the input."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from accounts.services import MAX_PASSWORD_LENGTH
from directory.profiles import CATEGORIES, LANGUAGES, MAX_BIO, MAX_HEADLINE
from moderation.models import MAX_REASON


class RegisterForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )
    role = RadioField(
        "I am joining as",
        choices=[
            SelectChoice("client", "A client: I want to book sessions"),
            SelectChoice("professional", "A professional: I offer sessions"),
        ],
        default="client",
    )
    timezone = SelectField("Time zone", choices=[], validate_choice=False)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )


class AppPasswordForm(FlaskForm):
    name = StringField("Device name", validators=[DataRequired(), Length(max=80)])


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for buttons such as sign out and revoke."""


# --- professional pages -----------------------------------------------------------------


class MultiCheckboxField(SelectMultipleField):
    """Checkboxes for a multiple choice (each one labelled, keyboard reachable)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ProfileForm(FlaskForm):
    headline = StringField("Headline", validators=[Length(max=MAX_HEADLINE)])
    bio = TextAreaField("About you", validators=[Length(max=MAX_BIO)])
    categories = MultiCheckboxField(
        "What you offer",
        choices=[SelectChoice(key, label) for key, label in CATEGORIES.items()],
        validate_choice=False,
    )
    languages = MultiCheckboxField(
        "Languages you hold sessions in",
        choices=[SelectChoice(key, label) for key, label in LANGUAGES.items()],
        validate_choice=False,
    )
    timezone = SelectField("Your time zone", choices=[], validate_choice=False)
    photo = FileField("Upload a new photo")
    remove_photo = BooleanField("Remove the current photo")


class ServiceForm(FlaskForm):
    kind = RadioField(
        "Type",
        choices=[
            SelectChoice("one_on_one", "One-on-one: one client at a time"),
            SelectChoice("group", "Group class: several people in scheduled sessions"),
        ],
        default="one_on_one",
        validate_choice=False,
    )
    title = StringField("Title", validators=[Length(max=120)])
    description = TextAreaField("Description", validators=[Length(max=5000)])
    no_show_policy = TextAreaField("No-show policy", validators=[Length(max=500)])
    duration_minutes = IntegerField(
        "Length (minutes)", default=50, validators=[InputRequired("Give the length.")]
    )
    price = StringField("Price", default="0")
    currency = SelectField("Currency", choices=[], default="EUR", validate_choice=False)
    capacity = IntegerField("Places per session", validators=[Optional()])
    buffer_before_minutes = IntegerField(
        "Buffer before (minutes)", default=0, validators=[Optional()]
    )
    buffer_after_minutes = IntegerField(
        "Buffer after (minutes)", default=0, validators=[Optional()]
    )
    min_notice_hours = IntegerField("Notice needed (hours)", default=0, validators=[Optional()])
    horizon_days = IntegerField("Bookable ahead (days)", default=60, validators=[Optional()])
    daily_max = IntegerField("Most bookings a day", validators=[Optional()])
    step_minutes = IntegerField("Start every (minutes)", validators=[Optional()])
    is_published = BooleanField("Published: clients can find and book it", default=True)
    # The cancellation policy of a paid service (payments); an empty tier is off.
    full_refund_hours = IntegerField(
        "Full refund up to (hours before)", default=24, validators=[Optional()]
    )
    partial_refund_hours = IntegerField(
        "Partial refund up to (hours before)", validators=[Optional()]
    )
    partial_refund_percent = IntegerField("Partial refund (%)", validators=[Optional()])


class SessionForm(FlaskForm):
    day = DateField("Date", validators=[InputRequired("Pick a date.")])
    time = TimeField("Start time", validators=[InputRequired("Pick a time.")])
    repeat = SelectField(
        "Repeats",
        choices=[
            SelectChoice("none", "Once"),
            SelectChoice("weekly", "Every week"),
            SelectChoice("daily", "Every day"),
        ],
        default="none",
        validate_choice=False,
    )
    count = IntegerField("Number of sessions", default=10, validators=[Optional()])


class BookingForm(FlaskForm):
    """The booking form; name, email and password only matter for a visitor without
    an account (checked in the view, where that is known)."""

    note = TextAreaField(
        "Anything the professional should know? (optional)", validators=[Length(max=2000)]
    )
    name = StringField("Your name", validators=[Length(max=120)])
    email = EmailField("Email", validators=[Length(max=254)])
    password = PasswordField("Choose a password", validators=[Length(max=MAX_PASSWORD_LENGTH)])


# --- operator pages ---------------------------------------------------------------------


class ReasonForm(FlaskForm):
    """An operator's action with a reason; the moderation service checks the reason
    (required or not, its length), so its message is the API's too."""

    reason = TextAreaField("Reason", render_kw={"maxlength": MAX_REASON})


class SuspendForm(ReasonForm):
    # "1" on the confirm page's form, after the operator saw what it cancels.
    confirm = HiddenField(default="")
