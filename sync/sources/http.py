"""HTTP plumbing shared by the ``requests``-based adapters (ICS, Google, Microsoft):
sessions that connect only to checked public addresses and refuse redirects to
internal ones, capped downloads, and one mapping from HTTP and network failures to
:mod:`sync.errors`."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import requests

from sync.errors import (
    SourceAuthError,
    SourceDataError,
    SourceError,
    SourceUnavailable,
    UnsafeUrl,
)
from sync.sources.base import Limits
from sync.sources.pinning import check_connections
from sync.urls import check_url, redirect_guard

__all__ = ["USER_AGENT", "guard_session", "read_capped", "read_json", "raise_for_status", "mapped"]

USER_AGENT = "ConsultPlatform-CalendarSync/1.0"


def guard_session(session: requests.Session, limits: Limits) -> requests.Session:
    """``session`` with our User-Agent and the redirect guard installed and, unless
    private addresses are allowed, its connections checked (:mod:`.pinning`); returns it."""
    session.headers["User-Agent"] = USER_AGENT
    session.hooks["response"].append(redirect_guard(limits.allow_private))
    session.max_redirects = 5
    if not limits.allow_private:
        check_connections(session)
    return session


def check_target(url: str, limits: Limits) -> None:
    """Raise :class:`SourceDataError` when ``url`` may not be fetched (checked before
    every sync: the host's addresses may have changed since it was connected)."""
    try:
        check_url(url, allow_private=limits.allow_private)
    except UnsafeUrl as error:
        raise SourceDataError(str(error)) from error


@contextlib.contextmanager
def mapped(what: str) -> Iterator[None]:
    """Turn network errors inside the block into ``SourceError``s naming ``what``."""
    try:
        yield
    except SourceError:
        raise
    except UnsafeUrl as error:
        # A redirect, or the host's addresses changed after the check before the request.
        raise SourceDataError(f"{what} led somewhere we may not go: {error}") from error
    except requests.exceptions.Timeout as error:
        raise SourceUnavailable(f"{what} did not answer in time; will retry.") from error
    except requests.exceptions.TooManyRedirects as error:
        raise SourceDataError(f"{what} redirected too many times.") from error
    except requests.exceptions.SSLError as error:
        raise SourceUnavailable(
            f"{what} presented a certificate that cannot be trusted; will retry."
        ) from error
    except (requests.exceptions.ConnectionError, ConnectionError) as error:
        raise SourceUnavailable(f"{what} cannot be reached; will retry.") from error
    except requests.exceptions.RequestException as error:
        raise SourceUnavailable(f"{what} failed: {type(error).__name__}; will retry.") from error


def raise_for_status(response: requests.Response, what: str) -> None:
    """Raise the ``SourceError`` that fits a failed response (2xx and 304 pass)."""
    status = response.status_code
    if status < 300 or status == 304:
        return
    if status in (401, 403):
        raise SourceAuthError(
            f"{what} refused access (HTTP {status}). Check the user name and password, or "
            "connect the calendar again."
        )
    if status in (404, 410):
        raise SourceDataError(f"{what} says this calendar does not exist (HTTP {status}).")
    if status == 429 or status >= 500:
        raise SourceUnavailable(f"{what} is having trouble (HTTP {status}); will retry.")
    raise SourceDataError(f"{what} answered HTTP {status}.")


def read_capped(response: requests.Response, limits: Limits, what: str) -> bytes:
    """The response body, read in chunks; :class:`SourceDataError` past ``max_bytes``."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        response.close()
        raise SourceDataError(_too_large(what, limits))
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=65536):
        size += len(chunk)
        if size > limits.max_bytes:
            response.close()
            raise SourceDataError(_too_large(what, limits))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(what: str, limits: Limits) -> str:
    megabytes = limits.max_bytes / 1_000_000
    return f"{what} sent more than {megabytes:g} MB, more than the platform accepts."


def read_json(response: requests.Response, limits: Limits, what: str) -> dict[str, Any]:
    """The response body as a JSON object (capped); :class:`SourceDataError` otherwise."""
    body = read_capped(response, limits, what)
    try:
        value = json.loads(body)
    except ValueError as error:
        raise SourceDataError(f"{what} sent something that is not JSON.") from error
    if not isinstance(value, dict):
        raise SourceDataError(f"{what} sent an unexpected answer.")
    return value
