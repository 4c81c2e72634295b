"""Flask-WTF forms for the account pages (CSRF comes with every FlaskForm)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length

from accounts.services import MAX_PASSWORD_LENGTH


class RegisterForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )
    role = RadioField(
        "I am joining as",
        choices=[
            ("client", "A client: I want to book sessions"),
            ("professional", "A professional: I offer sessions"),
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
