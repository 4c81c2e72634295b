"""Profile photos: checked by their content (not by the name or the type the browser
claims), stored under ``<data_dir>/photos`` with a random name, served by the web app.

Only PNG, JPEG and WebP are accepted, at most :data:`MAX_PHOTO_BYTES`. The check reads
the file's own header (signature plus the first chunk that carries the picture size),
so a renamed PDF or an HTML file with an image extension is refused.
"""

from __future__ import annotations

import os
import re
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from directory.errors import ProfileInvalid

MAX_PHOTO_BYTES = 2 * 1024 * 1024
MAX_DIMENSION = 12_000
PHOTO_DIR = "photos"
MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_NAME = re.compile(r"^[0-9]+-[0-9a-f]{16}\.(png|jpeg|webp)$")


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`inspect_image` found: the kind and the size in pixels."""

    kind: str  # "png" | "jpeg" | "webp"
    width: int
    height: int

    @property
    def mime_type(self) -> str:
        return MIME_TYPES[self.kind]


def inspect_image(data: bytes) -> ImageInfo | None:
    """The kind and pixel size of a PNG, JPEG or WebP image, or None for anything else
    (including a truncated header)."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return _sized("png", width, height)
        if data.startswith(b"\xff\xd8\xff"):
            return _jpeg(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp(data)
    except (struct.error, IndexError):
        return None
    return None


def _sized(kind: str, width: int, height: int) -> ImageInfo | None:
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        return None
    return ImageInfo(kind, width, height)


def _jpeg(data: bytes) -> ImageInfo | None:
    # Walk the segments up to the first start-of-frame, which holds the size.
    index = 2
    while index + 4 <= len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            index += 2
            continue
        (length,) = struct.unpack(">H", data[index + 2 : index + 4])
        if length < 2:
            return None
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return _sized("jpeg", width, height)
        index += 2 + length
    return None


def _webp(data: bytes) -> ImageInfo | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return _sized("webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return _sized("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return _sized("webp", width, height)
    return None


def check_photo(data: bytes) -> ImageInfo:
    """Return what the upload is, or raise ProfileInvalid({"photo": ...}) saying why
    it is refused (empty, too large, not a PNG/JPEG/WebP picture)."""
    if not data:
        raise ProfileInvalid({"photo": "Choose a picture to upload."})
    if len(data) > MAX_PHOTO_BYTES:
        size = len(data) / (1024 * 1024)
        raise ProfileInvalid(
            {"photo": f"This file is {size:.1f} MB; use a picture of at most 2 MB."}
        )
    info = inspect_image(data)
    if info is None:
        raise ProfileInvalid({"photo": "Use a PNG, JPEG or WebP picture."})
    return info


def photo_dir(data_dir: Path) -> Path:
    """The folder photos are stored in, under the data folder."""
    return data_dir / PHOTO_DIR


def store_photo(data_dir: Path, user_id: int, data: bytes) -> str:
    """Check and write the photo; return its new file name. The file is written to a
    temporary name and renamed, so a reader never sees half a picture."""
    info = check_photo(data)
    folder = photo_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{user_id}-{secrets.token_hex(8)}.{info.kind}"
    temporary = folder / f".{name}.part"
    temporary.write_bytes(data)
    os.replace(temporary, folder / name)
    return name


def is_photo_name(name: str) -> bool:
    """Whether ``name`` could be a stored photo's file name (guards the file route)."""
    return bool(_NAME.match(name))


def delete_photo(data_dir: Path, name: str | None) -> None:
    """Remove a stored photo file; a missing file is fine."""
    if name and is_photo_name(name):
        try:
            (photo_dir(data_dir) / name).unlink()
        except FileNotFoundError:
            pass


def mime_type_of(name: str) -> str:
    """The content type of a stored photo, from the kind its name records."""
    return MIME_TYPES[name.rsplit(".", 1)[1]]
