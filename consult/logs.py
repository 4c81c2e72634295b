"""Log lines an operator can follow and nobody can leak through.

Every record carries the id of the request (or of the request that enqueued the
job) it belongs to, the signed-in user's id and the route, from a per-context
:class:`LogContext` (a ``contextvars`` variable: each request, thread and job sees
its own). Lines are readable text in the embedded default and one JSON object each
in production (``[ops] log_format = json``).

Nothing secret reaches a handler: :class:`Redactor` masks bearer tokens,
passwords in URLs and ``password=``/``token=`` pairs, card-like numbers and email
addresses in every message and argument, whatever the code that logged it. Message
text (people's chat, notes) is never logged by the platform in the first place.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from consult.config import Settings

__all__ = [
    "LogContext",
    "configure_logging",
    "current_context",
    "log_context",
    "set_context",
]


@dataclass(frozen=True)
class LogContext:
    """What each log line says about where it comes from."""

    request_id: str = ""
    user_id: int | None = None
    route: str = ""


# Request-scoped by design: a ContextVar is per thread and per task, never shared.
_NO_CONTEXT = LogContext()
_CONTEXT: ContextVar[LogContext] = ContextVar("consult_log_context", default=_NO_CONTEXT)


def current_context() -> LogContext:
    return _CONTEXT.get()


def set_context(**changes: object) -> None:
    """Change the current context's fields (e.g. the user once the request knows it)."""
    _CONTEXT.set(replace(_CONTEXT.get(), **changes))  # type: ignore[arg-type]


@contextmanager
def log_context(context: LogContext) -> Iterator[LogContext]:
    """Run the block with ``context`` as the current one (a job, a request)."""
    token = _CONTEXT.set(context)
    try:
        yield context
    finally:
        _CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Puts the current :class:`LogContext` on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _CONTEXT.get()
        record.request_id = context.request_id
        record.user_id = context.user_id
        record.route = context.route
        return True


_SECRET_NAMES = r"(?:password|passwd|secret|token|api_key|apikey)"
_SECRETS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [redacted]"),
    (re.compile(rf"(?i)({_SECRET_NAMES}\s*[=:]\s*)[^\s&,;]+"), r"\1[redacted]"),
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), r"\1[redacted]@"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email redacted]"),
)


# Card numbers: 15 to 19 digits, maybe grouped, that pass the Luhn check (so dates,
# timestamps and ids are left alone).
_CARD = re.compile(r"\b\d(?:[ -]?\d){14,18}\b")


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[card redacted]" if _luhn(digits) else match.group(0)


def redact(text: str) -> str:
    """``text`` with secrets and personal data masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return _CARD.sub(_card, text)


class Redactor(logging.Filter):
    """Masks secrets in a record's message (its arguments merged in first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, context."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or None,
            "user_id": getattr(record, "user_id", None),
            "route": getattr(record, "route", "") or None,
        }
        if record.exc_text:
            line["exception"] = record.exc_text
        elif record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def configure_logging(settings: Settings) -> None:
    """Set up the root logger for this process from ``[app] log_level`` and ``[ops]
    log_format`` (once: a handler of ours already there is reused)."""
    level = getattr(logging, settings.app.log_level.upper())
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "consult", False)]
    handler = ours[0] if ours else logging.StreamHandler()
    handler.consult = True  # type: ignore[attr-defined]
    if settings.ops.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    for existing in (ContextFilter, Redactor):
        if not any(isinstance(f, existing) for f in handler.filters):
            handler.addFilter(existing())
    if not ours:
        root.addHandler(handler)
    if root.level == logging.WARNING or root.level > level:
        root.setLevel(level)
    for name in ("consult", "runtime", "web"):
        logging.getLogger(name).setLevel(level)
    # Radicale logs every request at INFO; keep that for debugging only.
    logging.getLogger("radicale").setLevel(level if level <= logging.DEBUG else logging.WARNING)
