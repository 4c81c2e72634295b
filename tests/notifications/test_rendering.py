"""Rendering in the recipient's language and zone (pure: no database), and the
settings that choose the mailer."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from consult.config import ConfigError, load_settings
from notifications.errors import TemplateMissing
from notifications.mailer import FileMailer, SMTPMailer, create_mailer
from notifications.reminders import check_default_offsets
from notifications.rendering import (
    TEMPLATES,
    Renderer,
    format_datetime,
    format_short,
    format_span,
    normalize_locale,
    one_line,
    zone_label,
)

BERLIN = ZoneInfo("Europe/Berlin")
render = Renderer([TEMPLATES]).render
WINTER = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
SUMMER = datetime(2026, 7, 7, 7, 0, tzinfo=UTC)  # 09:00 in Berlin


@pytest.mark.parametrize(
    ("moment", "zone", "locale", "expected"),
    [
        (WINTER, BERLIN, "en", "Tuesday, 8 December 2026, 09:00 (Europe/Berlin, CET)"),
        (SUMMER, BERLIN, "en", "Tuesday, 7 July 2026, 09:00 (Europe/Berlin, CEST)"),
        (WINTER, BERLIN, "de", "Dienstag, 8. Dezember 2026, 09:00 Uhr (Europe/Berlin, MEZ)"),
        (SUMMER, BERLIN, "de", "Dienstag, 7. Juli 2026, 09:00 Uhr (Europe/Berlin, MESZ)"),
        (
            WINTER,
            ZoneInfo("America/New_York"),
            "en",
            "Tuesday, 8 December 2026, 03:00 (America/New_York, EST)",
        ),
        (WINTER, ZoneInfo("UTC"), "en", "Tuesday, 8 December 2026, 08:00 (UTC)"),
        # Zones without a letter abbreviation still say their offset.
        (
            WINTER,
            ZoneInfo("America/Sao_Paulo"),
            "en",
            "Tuesday, 8 December 2026, 05:00 (America/Sao_Paulo, UTC-03:00)",
        ),
        (
            WINTER.replace(tzinfo=None),
            BERLIN,
            "en",
            "Tuesday, 8 December 2026, 09:00 (Europe/Berlin, CET)",
        ),
    ],
)
def test_every_time_says_its_zone(
    moment: datetime, zone: ZoneInfo, locale: str, expected: str
) -> None:
    assert format_datetime(moment, zone, locale) == expected


def test_spans_and_short_forms() -> None:
    end = WINTER.replace(hour=8, minute=50)
    assert format_span(WINTER, end, BERLIN, "en") == (
        "Tuesday, 8 December 2026, 09:00–09:50 (Europe/Berlin, CET)"
    )
    assert format_span(WINTER, end, BERLIN, "de") == (
        "Dienstag, 8. Dezember 2026, 09:00–09:50 Uhr (Europe/Berlin, MEZ)"
    )
    late = datetime(2026, 12, 8, 22, 30, tzinfo=UTC)
    overnight = format_span(late, late.replace(day=9, hour=0), BERLIN, "en")
    assert overnight.startswith("Tuesday, 8 December 2026, 23:30") and "Wednesday, 9" in overnight
    assert format_short(WINTER, BERLIN, "en") == "8 Dec 2026, 09:00 CET"
    assert format_short(WINTER, BERLIN, "de") == "8. Dez. 2026, 09:00 MEZ"
    assert zone_label(SUMMER, ZoneInfo("Asia/Kolkata"), "en") == "Asia/Kolkata, IST"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("de", "de"),
        ("de-AT", "de"),
        ("DE_de", "de"),
        ("en-GB", "en"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_locales_fall_back_to_english(value: str | None, expected: str) -> None:
    assert normalize_locale(value) == expected


def test_templates_escape_html_keep_subjects_on_one_line_and_fail_loudly() -> None:
    context = {
        "role": "professional",
        "service_title": "Yoga <script>alert(1)</script>",
        "start": WINTER,
        "end": WINTER.replace(minute=50),
        "other_name": "Sam\r\nBcc: everyone@example.org",
        "client_name": "Sam",
        "is_group": False,
        "booking_url": "https://example.org/bookings/1",
        "join_url": "https://example.org/bookings/1/session",
        "manage_url": None,
        "recipient_name": "Maya",
        "base_url": "https://example.org",
    }
    rendered = render("booking_reminder", context, locale="en", zone=BERLIN)
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "Yoga <script>alert(1)</script> with Sam" in rendered.text  # plain text is not HTML
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert rendered.inapp == "Starts Tuesday, 8 December 2026, 09:00–09:50 (Europe/Berlin, CET)"
    assert one_line("a\r\nb" + "x" * 300, 20).endswith("…") and len(one_line("x" * 300, 20)) == 20
    with pytest.raises(TemplateMissing):
        render("no_such_kind", {}, locale="en", zone=BERLIN)
    with pytest.raises(TemplateMissing):
        render("../../etc/passwd", {}, locale="en", zone=BERLIN)
    with pytest.raises(Exception, match="undefined"):
        render("booking_reminder", {"service_title": "x"}, locale="en", zone=BERLIN)


def test_smtp_settings_come_from_the_fixed_environment_variables(tmp_path: Path) -> None:
    settings = load_settings(
        config_file=os.devnull,
        environ={
            "CONSULT_DATA_DIR": str(tmp_path),
            "CONSULT_SMTP_HOST": "mail.example.org",
            "CONSULT_SMTP_PORT": "465",
            "CONSULT_SMTP_SECURITY": "TLS",
            "CONSULT_SMTP_USER": "consult",
            "CONSULT_SMTP_PASSWORD": "s3cret-password",
            "CONSULT_SMTP_FROM": "Bookings <bookings@example.org>",
        },
    )
    mailer = create_mailer(settings)
    assert isinstance(mailer, SMTPMailer)
    assert (mailer.host, mailer.port, mailer.security, mailer.user, mailer.password) == (
        "mail.example.org",
        465,
        "tls",
        "consult",
        "s3cret-password",
    )
    assert settings.sources[("smtp", "password")] == "environment variable CONSULT_SMTP_PASSWORD"
    described = "\n".join(settings.describe())
    assert "s3cret-password" not in described and "[smtp] password = ***" in described
    # No host: .eml files in the data folder.
    plain = load_settings(config_file=os.devnull, environ={"CONSULT_DATA_DIR": str(tmp_path)})
    default = create_mailer(plain)
    assert isinstance(default, FileMailer) and default.folder == tmp_path.resolve() / "outbox"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CONSULT_SMTP_SECURITY": "ssl"}, "option 'security' in section [smtp]"),
        ({"CONSULT_SMTP_PORT": "99999"}, "option 'port' in section [smtp]"),
        ({"CONSULT_SMTP_FROM": "nobody"}, "option 'from' in section [smtp] (from environment"),
        (
            {"CONSULT_NOTIFICATIONS_REMINDER_OFFSETS": "24h, soon"},
            "option 'reminder_offsets' in section [notifications] (from environment",
        ),
        ({"CONSULT_NOTIFICATIONS_MAX_ATTEMPTS": "0"}, "option 'max_attempts'"),
    ],
)
def test_bad_notification_settings_stop_the_start_with_a_clear_message(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        settings = load_settings(
            config_file=os.devnull, environ={"CONSULT_DATA_DIR": str(tmp_path), **environ}
        )
        check_default_offsets(settings)
        create_mailer(settings)
    assert message in str(error.value)
