"""Rows to values, and the path, token and href rules every part of the store shares."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from radicale import item as radicale_item
from radicale import pathutils
from sqlalchemy import (
    Row,
)

from caldav_server.errors import (
    InvalidCalendarData,
    InvalidPath,
    InvalidSyncToken,
)
from caldav_server.models import (
    DavCollection,
    DavItem,
)
from caldav_server.spans import (
    CalendarObject,
    default_href,
)
from caldav_server.store.values import (
    MAX_PATH_LENGTH,
    SYNC_TOKEN_PREFIX,
    CollectionRecord,
    StoredItem,
)

CHUNK = 500


# Any result row (SQLAlchemy 2.1 types rows by their columns).
StoredRow = Row[*tuple[Any, ...]]

ITEM_COLUMNS = (
    DavItem.id,
    DavItem.collection_id,
    DavItem.href,
    DavItem.uid,
    DavItem.etag,
    DavItem.object_name,
    DavItem.component_name,
    DavItem.text,
    DavItem.span_start,
    DavItem.span_end,
    DavItem.last_modified,
)

COLLECTION_COLUMNS = (
    DavCollection.id,
    DavCollection.path,
    DavCollection.parent_id,
    DavCollection.tag,
    DavCollection.props,
    DavCollection.ctag,
    DavCollection.sync_id,
    DavCollection.sync_seq,
    DavCollection.history_floor,
    DavCollection.modified_at,
)


def record_from_row(row: StoredRow) -> CollectionRecord:
    props = json.loads(row.props)
    if row.tag:
        props["tag"] = row.tag
    return CollectionRecord(
        row.id,
        row.path,
        row.parent_id,
        row.tag,
        props,
        row.ctag,
        row.sync_id,
        row.sync_seq,
        row.history_floor,
        row.modified_at,
    )


def stored_from_row(row: StoredRow, collection_path: str) -> StoredItem:
    return StoredItem(
        collection_path=collection_path,
        href=row.href,
        uid=row.uid,
        etag=row.etag,
        text=row.text,
        last_modified=row.last_modified,
        component_name=row.component_name,
        object_name=row.object_name,
        span_start=row.span_start,
        span_end=row.span_end,
    )


def new_token() -> str:
    return secrets.token_hex(16)


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for index in range(0, len(values), size):
        yield values[index : index + size]


def clean_path(path: str) -> str:
    """``path`` without surrounding slashes, checked to be a safe collection path.

    Raises :class:`InvalidPath` for empty parts, ``.``/``..``, control characters
    or paths longer than 1024 characters. The empty string is the root.
    """
    stripped = path.strip("/")
    if len(stripped) > MAX_PATH_LENGTH:
        raise InvalidPath(f"the path is longer than {MAX_PATH_LENGTH} characters")
    if not stripped:
        return ""
    for part in stripped.split("/"):
        if not pathutils.is_safe_path_component(part) or len(part) > 255:
            raise InvalidPath(f"{path!r} is not a valid collection path")
        if any(ord(c) < 32 or ord(c) == 127 for c in part):
            raise InvalidPath(f"{path!r} contains control characters")
    return stripped


def principal_of(path: str) -> str:
    """The principal (first segment) of a collection or item path."""
    return path.strip("/").split("/", 1)[0]


def parse_sync_token(token: str) -> tuple[str, int]:
    """``(sync_id, seq)`` from a token made by :attr:`CollectionRecord.sync_token`."""
    if not token.startswith(SYNC_TOKEN_PREFIX):
        raise InvalidSyncToken(f"unknown sync token {token[:100]!r}")
    sync_id, _, seq = token[len(SYNC_TOKEN_PREFIX) :].partition(":")
    if not sync_id or not seq.isdigit() or len(seq) > 18:
        raise InvalidSyncToken(f"malformed sync token {token[:100]!r}")
    return sync_id, int(seq)


def piece_rows(item_id: int, collection_id: int, obj: CalendarObject) -> list[dict[str, Any]]:
    return [
        {
            "item_id": item_id,
            "collection_id": collection_id,
            "starts_at": s,
            "ends_at": e,
            "fbtype": fbtype,
        }
        for s, e, fbtype in obj.time_index.piece_types()
    ]


def sanitize_props(props: Mapping[str, Any]) -> dict[str, str]:
    try:
        return dict(radicale_item.check_and_sanitize_props(dict(props)))
    except ValueError as error:
        raise InvalidCalendarData(f"invalid collection properties: {error}") from error


def free_href(uid: str, suffix: str, taken: set[str]) -> str:
    """Radicale's choice of href for an object of a whole-collection upload."""
    href = default_href(uid, suffix) if uid else ""
    if href and href not in taken:
        return href
    fallback = radicale_item.get_etag(uid).strip('"') + suffix
    if uid and fallback not in taken:
        return fallback
    return radicale_item.find_available_uid(taken.__contains__, suffix)
