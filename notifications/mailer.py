"""Outgoing email: building the MIME message, and the mailer port with its two
adapters, SMTP and ``.eml`` files.

The message layout follows what Google Calendar and Outlook send, because it is
what every mail client recognises as an invitation (RFC 6047)::

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain; charset=utf-8
    │   ├── text/html; charset=utf-8
    │   └── text/calendar; charset=utf-8; method=REQUEST|CANCEL   (iTIP, RFC 5546)
    └── application/ics; name=invite.ics                          (attachment copy)

A message without an invitation is just the ``multipart/alternative``.

Only :class:`SMTPMailer` imports smtplib; it turns every smtplib and socket error
into :class:`TransientMailError` (try again) or :class:`PermanentMailError` (5xx:
never retry).
"""

from __future__ import annotations

import hashlib
import logging
import os
import smtplib
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Protocol

from consult.config import ConfigError, Settings
from consult.text import single_line
from notifications.errors import PermanentMailError, TransientMailError

log = logging.getLogger(__name__)

# SMTP replies that mean "our credentials are wrong": a configuration problem, not
# the message's fault, so the message is retried (and fails only after max_attempts).
_AUTH_CODES = frozenset({530, 534, 535, 538})


@dataclass(frozen=True)
class OutgoingEmail:
    """Everything needed to build one message. ``key`` is the outbox row's
    idempotency key; it fixes the Message-ID so every attempt is the same message."""

    key: str
    to_address: str
    to_name: str
    subject: str
    text: str
    html: str
    date: datetime
    calendar_method: str | None = None
    calendar_ics: str | None = None


def message_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def message_id_for(key: str, sender: str) -> str:
    """``<digest@sender-domain>``: the same for every attempt at the same message."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<{message_digest(key)}@{domain}>"


def check_sender(sender: str, source: str = "default") -> str:
    """``sender`` when it is a usable ``Name <address>``; else :class:`ConfigError`."""
    name, address = parseaddr(sender)
    local, _, domain = address.partition("@")
    if not local or not domain or any(c in sender for c in "\r\n"):
        raise ConfigError(
            f"invalid value for option 'from' in section [smtp] (from {source}): "
            "expected an email address such as Consult <no-reply@example.org>"
        )
    return sender


def build_message(email: OutgoingEmail, sender: str) -> EmailMessage:
    """The complete MIME message for ``email`` from ``sender``. Raises
    :class:`PermanentMailError` for an address that cannot be written in a header."""
    message = EmailMessage()
    message["From"] = sender
    try:
        message["To"] = Address(display_name=single_line(email.to_name), addr_spec=email.to_address)
    except (ValueError, IndexError, HeaderParseError) as error:
        raise PermanentMailError(f"the address {email.to_address!r} cannot be used") from error
    message["Subject"] = single_line(email.subject)
    message["Date"] = format_datetime(email.date)
    message["Message-ID"] = message_id_for(email.key, sender)
    # Automatic mail (RFC 3834): no vacation replies back to the platform.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    if email.calendar_ics and email.calendar_method:
        method = email.calendar_method.upper()
        message.add_alternative(email.calendar_ics, subtype="calendar", params={"method": method})
        message.add_attachment(
            email.calendar_ics.encode("utf-8"),
            maintype="application",
            subtype="ics",
            filename="invite.ics",
        )
    return message


class MailConnection(Protocol):
    """One session with the mail system, for several messages in a row."""

    def send(self, message: EmailMessage) -> None:
        """Hand one message over; raises :class:`TransientMailError` or
        :class:`PermanentMailError`. Returning normally means it was accepted. A
        refusal of one message leaves the connection usable for the next."""


class Mailer(Protocol):
    """Hands messages over for delivery: one at a time (``send``), or several over
    one connection (``connection()``), which is what a batch of deliveries uses."""

    @property
    def backend(self) -> str: ...

    def send(self, message: EmailMessage) -> None: ...

    def connection(self) -> AbstractContextManager[MailConnection]: ...


class SMTPMailer:
    """SMTP: ``send`` opens a connection for one message; ``connection()`` keeps one
    open for a batch (made inside the job, so rq's forked job processes never share
    one). A connection that breaks is dropped and the next message opens another."""

    backend = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "starttls",
        user: str = "",
        password: str = "",
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.security = security
        self.user = user
        self.password = password
        self.timeout = timeout
        # Made now, not per message: loading the system's CA certificates takes tens
        # of milliseconds, and rq's forked job processes inherit it from the worker.
        # Made once per mailer (system CAs, hostname checks): building one costs ~ms.
        self.ssl_context = ssl_context or (
            ssl.create_default_context() if security != "none" else None
        )

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            context = self.ssl_context
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=self.ssl_context)
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` over a connection of its own."""
        with self.connection() as connection:
            connection.send(message)

    @contextmanager
    def connection(self) -> Iterator[_SMTPConnection]:
        connection = _SMTPConnection(self)
        try:
            yield connection
        finally:
            connection.close()


class _SMTPConnection:
    """An SMTP session opened on the first message and kept for the next ones."""

    def __init__(self, mailer: SMTPMailer) -> None:
        self.mailer = mailer
        self.where = f"{mailer.host}:{mailer.port}"
        self.smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        if self.smtp is not None:
            return self.smtp
        try:
            smtp = self.mailer._connect()
        except smtplib.SMTPResponseException as error:
            raise _classify(error.smtp_code, error.smtp_error, self.where) from error
        except (smtplib.SMTPException, OSError) as error:
            raise TransientMailError(f"cannot connect to {self.where}: {error}") from error
        try:
            if self.mailer.user:
                smtp.login(self.mailer.user, self.mailer.password)
        except smtplib.SMTPResponseException as error:
            smtp.close()
            raise _classify(error.smtp_code, error.smtp_error, self.where) from error
        except (smtplib.SMTPException, OSError) as error:
            smtp.close()
            raise TransientMailError(f"SMTP error from {self.where}: {error}") from error
        self.smtp = smtp
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message``. The server's acceptance of the data is the point of no
        return. A refused message leaves the session usable (smtplib resets it); a
        broken session is dropped, so the next message opens a new one."""
        smtp = self._open()
        try:
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            code, text = min(error.recipients.values(), key=lambda reply: reply[0])
            raise _classify(code, text, self.where) from error
        except smtplib.SMTPServerDisconnected as error:
            self._drop()
            raise TransientMailError(f"SMTP error from {self.where}: {error}") from error
        except smtplib.SMTPResponseException as error:
            if error.smtp_code == 421:  # the server is closing the session
                self._drop()
            raise _classify(error.smtp_code, error.smtp_error, self.where) from error
        except (smtplib.SMTPException, OSError) as error:
            self._drop()
            raise TransientMailError(f"SMTP error from {self.where}: {error}") from error

    def _drop(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None

    def close(self) -> None:
        """QUIT; errors then are ignored (every message was accepted or refused)."""
        if self.smtp is None:
            return
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()
        self.smtp = None


def _classify(code: int, text: bytes | str, where: str) -> TransientMailError | PermanentMailError:
    reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    message = f"{where} answered {code} {reply}".strip()
    if code in _AUTH_CODES:
        return TransientMailError(f"{message} (check [smtp] user and password)", code)
    if 500 <= code < 600:
        return PermanentMailError(message, code)
    return TransientMailError(message, code)


class FileMailer:
    """Writes each message to ``<folder>/<date>-<digest>.eml`` and logs it: the
    embedded default, so a new installation shows what it would send. Sending the
    same message again overwrites its file."""

    backend = "file"

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def path_for(self, message: EmailMessage) -> Path:
        digest = str(message["Message-ID"]).strip("<>").partition("@")[0]
        stamp = datetime.strptime(str(message["Date"]), "%a, %d %b %Y %H:%M:%S %z")
        return self.folder / f"{stamp:%Y%m%d-%H%M%S}-{digest[:16]}.eml"

    @contextmanager
    def connection(self) -> Iterator[FileMailer]:
        """Files need no session: the mailer is its own connection."""
        yield self

    def send(self, message: EmailMessage) -> None:
        """Write the message atomically (temporary file, then rename)."""
        path = self.path_for(message)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(handle, "wb") as output:
                output.write(message.as_bytes())
            os.replace(temporary, path)
        except OSError as error:
            raise TransientMailError(f"cannot write {path}: {error.strerror}") from error
        log.info("email to %s: %s (written to %s)", message["To"], message["Subject"], path)


def create_mailer(settings: Settings, **overrides: Any) -> Mailer:
    """The mailer ``settings`` ask for: SMTP when ``[smtp] host`` is set, else
    ``.eml`` files under ``<data_dir>/outbox``. Raises ConfigError for a bad sender."""
    source = settings.sources.get(("smtp", "from"), "default")
    check_sender(settings.smtp["from"], source)
    smtp = settings.smtp
    if not smtp.host:
        return FileMailer(settings.data_dir / "outbox")
    return SMTPMailer(
        smtp.host,
        smtp.port,
        security=smtp.security,
        user=smtp.user,
        password=smtp.password,
        timeout=float(smtp.timeout_seconds),
        **overrides,
    )
