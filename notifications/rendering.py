"""Rendering notifications from templates in the recipient's language and time zone.

A *kind* (``booking_confirmed``, ``new_messages``, ...) is three templates found in
the template folders: ``<kind>.subject.txt``, ``<kind>.txt`` and ``<kind>.html``,
plus an optional ``<kind>.inapp.txt`` (the short text under the title in the
bell list). A translation lives in a sub-folder named after the language
(``de/<kind>.txt``); a kind without one falls back to the English template at
the top of the folder. Our own templates are in this package's ``templates``
folder; other packages add theirs through the ``notification_templates`` hook,
and a :class:`Renderer` searches them all.

Times are always shown with their zone, in the recipient's zone: templates call
the filters ``when`` (a start and optional end), ``datetime``, ``date``,
``time`` and ``short`` (for subjects). Naive datetimes are read as UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context

from notifications.errors import TemplateMissing

TEMPLATES = Path(__file__).with_name("templates")
SUPPORTED_LOCALES = ("en", "de")
DEFAULT_LOCALE = "en"
SUBJECT_MAX = 200

_WEEKDAYS = MappingProxyType(
    {
        "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    }
)
_MONTHS = MappingProxyType({
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    "de": (
        "Januar", "Februar", "März", "April", "Mai", "Juni",
        "Juli", "August", "September", "Oktober", "November", "Dezember",
    ),
})  # fmt: skip
# German readers know the Central European abbreviations in German.
_ABBREVIATIONS = MappingProxyType({"de": {"CET": "MEZ", "CEST": "MESZ"}})


def normalize_locale(value: str | None) -> str:
    """The supported language for a user's locale setting (``de-AT`` → ``de``);
    English for anything unknown."""
    language = re.split(r"[-_]", (value or "").strip().lower(), maxsplit=1)[0]
    return language if language in SUPPORTED_LOCALES else DEFAULT_LOCALE


def zone_or_utc(name: str | None) -> ZoneInfo:
    """The zone named ``name``, or UTC when it is empty or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone)


def zone_label(moment: datetime, zone: ZoneInfo, locale: str) -> str:
    """``Europe/Berlin, CET``: the zone's name and its abbreviation at ``moment``."""
    local = _local(moment, zone)
    abbreviation = local.tzname() or ""
    if not abbreviation or abbreviation[0] in "+-":
        offset = local.strftime("%z")
        abbreviation = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    abbreviation = _ABBREVIATIONS.get(locale, {}).get(abbreviation, abbreviation)
    name = zone.key if zone.key else "UTC"
    return abbreviation if name == abbreviation else f"{name}, {abbreviation}"


def format_date(moment: datetime, zone: ZoneInfo, locale: str) -> str:
    """``Monday, 7 December 2026`` / ``Montag, 7. Dezember 2026`` in ``zone``."""
    local = _local(moment, zone)
    locale = normalize_locale(locale)
    weekday = _WEEKDAYS[locale][local.weekday()]
    month = _MONTHS[locale][local.month - 1]
    if locale == "de":
        return f"{weekday}, {local.day}. {month} {local.year}"
    return f"{weekday}, {local.day} {month} {local.year}"


def format_time(moment: datetime, zone: ZoneInfo, locale: str) -> str:
    """``09:00`` (24-hour clock, which both languages read without ambiguity)."""
    return _local(moment, zone).strftime("%H:%M")


def format_datetime(moment: datetime, zone: ZoneInfo, locale: str) -> str:
    """``Monday, 7 December 2026, 09:00 (Europe/Berlin, CET)``; German adds ``Uhr``."""
    locale = normalize_locale(locale)
    clock = format_time(moment, zone, locale) + (" Uhr" if locale == "de" else "")
    label = zone_label(moment, zone, locale)
    return f"{format_date(moment, zone, locale)}, {clock} ({label})"


def format_span(start: datetime, end: datetime | None, zone: ZoneInfo, locale: str) -> str:
    """``Monday, 7 December 2026, 09:00–09:50 (Europe/Berlin, CET)``; an end on
    another local day is written in full."""
    if end is None:
        return format_datetime(start, zone, locale)
    locale = normalize_locale(locale)
    if _local(start, zone).date() != _local(end, zone).date():
        return f"{format_datetime(start, zone, locale)} – {format_datetime(end, zone, locale)}"
    clock = f"{format_time(start, zone, locale)}–{format_time(end, zone, locale)}"
    if locale == "de":
        clock += " Uhr"
    return f"{format_date(start, zone, locale)}, {clock} ({zone_label(start, zone, locale)})"


def format_short(moment: datetime, zone: ZoneInfo, locale: str) -> str:
    """``7 Dec 2026, 09:00 CET`` / ``7. Dez. 2026, 09:00 MEZ``: for subjects."""
    local = _local(moment, zone)
    locale = normalize_locale(locale)
    month = _MONTHS[locale][local.month - 1][:3]
    abbreviation = zone_label(moment, zone, locale).rsplit(", ", 1)[-1]
    if locale == "de":
        return f"{local.day}. {month}. {local.year}, {local.strftime('%H:%M')} {abbreviation}"
    return f"{local.day} {month} {local.year}, {local.strftime('%H:%M')} {abbreviation}"


# --- templates --------------------------------------------------------------------


def _zone_and_locale(context: Context) -> tuple[ZoneInfo, str]:
    return context["_zone"], context["_locale"]


@pass_context
def _when(context: Context, start: datetime, end: datetime | None = None) -> str:
    zone, locale = _zone_and_locale(context)
    return format_span(start, end, zone, locale)


@pass_context
def _datetime(context: Context, moment: datetime) -> str:
    zone, locale = _zone_and_locale(context)
    return format_datetime(moment, zone, locale)


@pass_context
def _date(context: Context, moment: datetime) -> str:
    zone, locale = _zone_and_locale(context)
    return format_date(moment, zone, locale)


@pass_context
def _time(context: Context, moment: datetime) -> str:
    zone, locale = _zone_and_locale(context)
    return f"{format_time(moment, zone, locale)} ({zone_label(moment, zone, locale)})"


@pass_context
def _short(context: Context, moment: datetime) -> str:
    zone, locale = _zone_and_locale(context)
    return format_short(moment, zone, locale)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    inapp: str


def one_line(text: str, limit: int = SUBJECT_MAX) -> str:
    """``text`` on one line (no header injection through CR/LF), at most ``limit``
    characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


class Renderer:
    """Renders notification kinds from ``folders`` (searched in order)."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = tuple(Path(folder).resolve() for folder in folders)
        env = Environment(
            loader=FileSystemLoader([str(folder) for folder in self.folders]),
            autoescape=select_autoescape(enabled_extensions=("html",)),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        env.filters.update(when=_when, datetime=_datetime, date=_date, time=_time, short=_short)
        self.environment = env

    def _template(self, kind: str, suffix: str, locale: str, required: bool) -> Any:
        names = [f"{locale}/{kind}{suffix}", f"{kind}{suffix}"]
        if locale == DEFAULT_LOCALE:
            names = names[1:]
        try:
            return self.environment.select_template(names)
        except TemplateNotFound:
            if required:
                folders = ", ".join(str(folder) for folder in self.folders)
                raise TemplateMissing(f"no template {kind}{suffix} in {folders}") from None
            return None

    def render(
        self,
        kind: str,
        context: Mapping[str, Any],
        *,
        locale: str,
        zone: ZoneInfo,
        email: bool = True,
    ) -> Rendered:
        """Render ``kind`` for one recipient. The subject is always rendered (it is
        also the in-app title); the text and HTML bodies only when ``email`` is true.
        Raises :class:`TemplateMissing` when a needed template does not exist."""
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", kind):
            raise TemplateMissing(f"invalid notification kind {kind!r}")
        locale = normalize_locale(locale)
        values = {**context, "_zone": zone, "_locale": locale}
        values.setdefault("timezone", zone.key)
        values.setdefault("locale", locale)

        def run(suffix: str, required: bool) -> str:
            template = self._template(kind, suffix, locale, required)
            return "" if template is None else str(template.render(values)).strip()

        subject = one_line(run(".subject.txt", True))
        text = run(".txt", True) + "\n" if email else ""
        html = run(".html", True) + "\n" if email else ""
        inapp = run(".inapp.txt", False)
        return Rendered(subject=subject, text=text, html=html, inapp=inapp)
