"""Encryption of the credentials kept for outside calendars (passwords, OAuth tokens).

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) with a key derived
from the app's ``secret_key`` by HKDF, so a database dump alone reveals no
password or token, and no second secret has to be managed. Rotating the app key
makes stored credentials unreadable: the sync then fails with a message asking the
professional to reconnect, which is the safe outcome.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sync.errors import CredentialsUnreadable

__all__ = ["open_secret", "seal_secret"]

_INFO = b"consult sync credentials v1"


@lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal_secret(secret_key: str, value: dict[str, Any]) -> str:
    """Return ``value`` (a JSON-serialisable dict) encrypted for storage."""
    return _fernet(secret_key).encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def open_secret(secret_key: str, sealed: str) -> dict[str, Any]:
    """Return the dict sealed by :func:`seal_secret`; ``{}`` for an empty column.

    Raises :class:`CredentialsUnreadable` when the text was sealed with another key
    or altered.
    """
    if not sealed:
        return {}
    try:
        value = json.loads(_fernet(secret_key).decrypt(sealed.encode()))
    except (InvalidToken, ValueError) as error:
        raise CredentialsUnreadable() from error
    if not isinstance(value, dict):
        raise CredentialsUnreadable()
    return value
