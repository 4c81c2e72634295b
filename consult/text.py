"""One check for every piece of text people type: names, titles, notes, messages.

Control characters have no business in them: a line break in a display name breaks
mail headers and calendar properties, a NUL byte is refused by PostgreSQL, and
invisible characters make one name look like another. :func:`clean_text` trims,
normalises line ends, and refuses what does not belong, with a message that says
what to change (and the real length against the real limit).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["InvalidText", "clean_text", "has_control_characters", "single_line"]

# Line and paragraph separators break lines too, though they are not Cc characters.
_SEPARATORS = "\u2028\u2029"


class InvalidText(ValueError):
    """The text cannot be used; ``message`` says why, for the person who typed it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def has_control_characters(text: str, *, multiline: bool = False) -> bool:
    """Whether ``text`` holds a control character (tab and line feed are allowed in
    multi-line text)."""
    allowed = "\n\t" if multiline else ""
    return any(
        (unicodedata.category(char) == "Cc" or char in _SEPARATORS) and char not in allowed
        for char in text
    )


def clean_text(
    value: object, *, max_length: int, multiline: bool = False, required: bool = True
) -> str:
    """``value`` trimmed, with ``\\r\\n`` and ``\\r`` as ``\\n`` in multi-line text.
    Raises :class:`InvalidText` when it is not a string, empty though ``required``,
    longer than ``max_length`` characters, or holds control characters (any line
    break in single-line text)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidText("Must be a string.")
    text = value.replace("\r\n", "\n").replace("\r", "\n") if multiline else value
    text = text.strip()
    if required and not text:
        raise InvalidText("This field is required.")
    if has_control_characters(text, multiline=multiline):
        if not multiline and re.search(r"[\n\r\u2028\u2029]", text):
            raise InvalidText("Write this on one line.")
        raise InvalidText("Remove the invisible control characters.")
    if len(text) > max_length:
        raise InvalidText(f"Use at most {max_length} characters (this has {len(text)}).")
    return text


def single_line(text: str) -> str:
    """``text`` for a place that holds one line (a mail header, a calendar property):
    control characters become spaces, runs of whitespace one space. For text stored
    before it was checked, or from elsewhere."""
    return " ".join("".join(" " if has_control_characters(c) else c for c in text).split())
