"""Move calendars in and out of the platform: import a Radicale file-storage folder
(``multifilesystem``) into the database, and export the database as one that
stock Radicale can serve (``consult dav import|export FOLDER``).

A Radicale folder holds ``collection-root/<principal>/<calendar>/<href>`` files
and a ``.Radicale.props`` JSON file per collection; Radicale's caches
(``.Radicale.cache``) are ignored on import and not written on export. Hrefs
are kept, so clients' item URLs stay valid across the move.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from caldav_server.errors import StoreError, TransferError
from caldav_server.spans import CalendarObject, is_safe_href
from caldav_server.store import CalendarStore, clean_path
from consult.db import Database

__all__ = ["TransferSummary", "export_folder", "import_folder"]

ROOT_NAME = "collection-root"
PROPS_NAME = ".Radicale.props"


@dataclass
class TransferSummary:
    """What an import or export did; ``skipped`` lists (path, reason) of what was left out."""

    action: str
    folder: Path
    collections: int = 0
    items: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"{self.action} {self.collections} collections and {self.items} items ({self.folder})"
        ]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)}:")
            lines += [f"  {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


def _collection_root(folder: Path) -> Path:
    if (folder / ROOT_NAME).is_dir():
        return folder / ROOT_NAME
    if folder.name == ROOT_NAME and folder.is_dir():
        return folder
    raise TransferError(f"{folder} is not a Radicale storage folder (no {ROOT_NAME} in it)")


def import_folder(database: Database, folder: Path, *, actor: str = "import") -> TransferSummary:
    """Import every collection and item under ``folder`` (the folder holding
    ``collection-root``, or ``collection-root`` itself), in one transaction.

    Existing collections keep their items and get the folder's properties merged
    in; items replace those at the same href. Objects that do not validate, or
    whose UID another item of the calendar already uses, are skipped and listed.
    Raises :class:`TransferError` when ``folder`` is not a Radicale folder.
    """
    root = _collection_root(Path(folder))
    summary = TransferSummary("imported", Path(folder))
    with database.session() as session:
        store = CalendarStore(session)
        for directory, subdirectories, files in os.walk(root):
            # Radicale's caches and temporary folders start with a dot.
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
            relative = Path(directory).relative_to(root).as_posix()
            if relative == ".":
                continue
            try:
                _import_collection(
                    store, Path(directory), clean_path(relative), files, summary, actor
                )
            except (StoreError, OSError, ValueError) as error:
                summary.skipped.append((relative, str(error)))
                subdirectories[:] = []
    return summary


def _import_collection(
    store: CalendarStore,
    directory: Path,
    path: str,
    files: list[str],
    summary: TransferSummary,
    actor: str,
) -> None:
    props_file = directory / PROPS_NAME
    props: dict[str, str] = {}
    if props_file.is_file():
        loaded = json.loads(props_file.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise ValueError(f"{PROPS_NAME} is not a JSON object")
        props = loaded
    if store.get_collection(path) is None:
        record = store.create_collection(path, props)[0] if props else store.ensure_collection(path)
    else:
        record = store.set_props(path, props) if props else store.ensure_collection(path)
    summary.collections += 1
    if record.tag not in ("VCALENDAR", "VADDRESSBOOK"):
        return
    taken = {item.uid: item.href for item in store.list_items(record) if item.uid}
    planned: list[tuple[str, CalendarObject]] = []
    for name in sorted(files):
        if name.startswith("."):
            continue
        where = f"{path}/{name}"
        if not is_safe_href(name):
            summary.skipped.append((where, "not a valid item name"))
            continue
        try:
            obj = store.parse((directory / name).read_text(encoding="utf-8"), record.tag)
        except (StoreError, OSError, UnicodeDecodeError) as error:
            summary.skipped.append((where, str(error)))
            continue
        owner = taken.get(obj.uid) if obj.uid else None
        if owner is not None and owner != name:
            summary.skipped.append((where, f"UID {obj.uid!r} is already used by {owner!r}"))
            continue
        if obj.uid:
            taken[obj.uid] = name
        planned.append((name, obj))
    store.put_objects(record, planned, actor=actor)
    summary.items += len(planned)


def export_folder(database: Database, folder: Path) -> TransferSummary:
    """Write every collection and item as a Radicale storage folder under ``folder``
    (``folder/collection-root/...``), from one consistent snapshot.

    The tree is written to a temporary folder first and renamed into place, so a
    failed export leaves nothing half-written. Raises :class:`TransferError` when
    ``folder`` already has a non-empty ``collection-root``.
    """
    folder = Path(folder)
    root = folder / ROOT_NAME
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise TransferError(f"{root} already exists; export into an empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    summary = TransferSummary("exported", folder)
    staging = Path(tempfile.mkdtemp(prefix=".consult-export-", dir=folder))
    try:
        target_root = staging / ROOT_NAME
        target_root.mkdir()
        with database.session(readonly=True) as session:
            if database.engine.dialect.name == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            store = CalendarStore(session)
            pending = [""]
            while pending:
                for record in store.child_collections(pending.pop()):
                    pending.append(record.path)
                    directory = target_root.joinpath(*record.path.split("/"))
                    directory.mkdir()
                    if record.props:
                        (directory / PROPS_NAME).write_text(
                            json.dumps(dict(record.props), sort_keys=True), encoding="utf-8"
                        )
                    summary.collections += 1
                    for item in store.list_items(record):
                        with open(directory / item.href, "w", encoding="utf-8", newline="") as f:
                            f.write(item.text)
                        summary.items += 1
        if root.exists():
            root.rmdir()
        target_root.rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary
