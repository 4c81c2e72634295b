"""Profile photos: checked by their content (not by the name or the type the browser
claims), decoded, re-encoded and stored under ``<data_dir>/photos`` with a random
name, served by the web app.

Only PNG, JPEG and WebP are accepted, at most :data:`MAX_PHOTO_BYTES` and
:data:`MAX_PIXELS`. The check reads the file's own header first (signature plus the
first chunk that carries the picture size), so a renamed PDF or an HTML file with an
image extension is refused, and so is a small file that would decode to a huge
picture (a 12000 × 12000 PNG of one colour fits in a few hundred kilobytes and takes
half a gigabyte to decode), before anything is decoded.

What is stored is never the upload itself: Pillow decodes it, turns it upright by its
EXIF orientation, converts it to sRGB, and writes square WebP crops in the sizes the
pages show (avatars are round, ``object-fit: cover``): :data:`LARGE` px for the
profile page, :data:`SMALL` px for lists and cards. Nothing of the upload's metadata
(EXIF with its GPS position, XMP, ICC profile, comments) is copied.

Stored names: ``<user>-<16 hex>-512.webp`` (the one the profile records) beside
``<user>-<16 hex>-96.webp``. Photos stored before re-encoding keep their single
``<user>-<16 hex>.<png|jpeg|webp>`` file, served as it is at both sizes.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from PIL import Image, ImageCms, ImageOps

from directory.errors import ProfileInvalid

MAX_PHOTO_BYTES = 2 * 1024 * 1024
# Decoding costs 4 bytes a pixel (and a copy or two): 25 megapixels, a 6000 × 4000
# camera picture, is about 100 MB; beyond that an upload is refused before decoding.
MAX_PIXELS = 25_000_000
LARGE = 512  # px, square: the profile page
SMALL = 96  # px, square: search results, cards
PHOTO_DIR = "photos"
MIME_TYPES = MappingProxyType({"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"})
_WEBP_QUALITY = 85
_FORMATS = MappingProxyType({"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"})
_LEGACY_NAME = re.compile(r"^[0-9]+-[0-9a-f]{16}\.(png|jpeg|webp)$")
_SIZED_NAME = re.compile(rf"^([0-9]+-[0-9a-f]{{16}})-({LARGE}|{SMALL})\.webp$")


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
    if width <= 0 or height <= 0:
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
    it is refused (empty, too large in bytes or in pixels, not a PNG/JPEG/WebP
    picture). Reads the header only: nothing is decoded."""
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
    _check_pixels(info.width, info.height)
    return info


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ProfileInvalid(
            {
                "photo": (
                    f"This picture is {width} × {height} pixels "
                    f"({width * height / 1_000_000:.1f} megapixels); use one of at most "
                    f"{MAX_PIXELS // 1_000_000} megapixels."
                )
            }
        )


@dataclass(frozen=True)
class PreparedPhoto:
    """A checked upload re-encoded for storing: WebP bytes of each square size."""

    large: bytes
    small: bytes


def prepare_photo(data: bytes) -> PreparedPhoto:
    """Decode the upload and return its square crops, re-encoded without metadata.

    Raises ProfileInvalid({"photo": ...}) for what :func:`check_photo` refuses and
    for a picture that cannot be decoded (truncated, corrupt).
    """
    info = check_photo(data)
    unreadable = ProfileInvalid(
        {"photo": "This picture could not be read; save it again as PNG, JPEG or WebP."}
    )
    try:
        # Only the decoder the header named: Pillow would otherwise try every format.
        with Image.open(io.BytesIO(data), formats=[_FORMATS[info.kind]]) as image:
            # Pillow's own reading of the size decides what gets decoded.
            _check_pixels(*image.size)
            # A JPEG decodes at 1/2, 1/4 or 1/8 scale when that still covers LARGE.
            image.draft("RGB", (LARGE, LARGE))
            upright = ImageOps.exif_transpose(image)  # decodes; orientation first
            srgb = _to_srgb(upright, image.info.get("icc_profile"))
    except ProfileInvalid:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        # Pillow's errors for a broken file; DecompressionBombError where its reading
        # of the size is larger than the header's.
        raise unreadable from error
    return PreparedPhoto(large=_square_webp(srgb, LARGE), small=_square_webp(srgb, SMALL))


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """``image`` as RGB or RGBA in sRGB: colours converted from its ICC profile (an
    iPhone's Display P3, a printer's CMYK), or taken as sRGB when it has none."""
    transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    mode = "RGBA" if transparent else "RGB"
    if icc_profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            converted = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode=mode
            )
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken or unusable profile: keep the numbers as they are
    return image.convert(mode)


def _square_webp(image: Image.Image, size: int) -> bytes:
    """The centre square of ``image``, scaled down to ``size`` px (never up), as WebP."""
    side = min(size, image.width, image.height)
    square = ImageOps.fit(image, (side, side), Image.Resampling.LANCZOS)
    square.info = {}  # nothing of the upload's metadata travels on
    buffer = io.BytesIO()
    square.save(buffer, "WEBP", quality=_WEBP_QUALITY, method=4)
    return buffer.getvalue()


def photo_dir(data_dir: Path) -> Path:
    """The folder photos are stored in, under the data folder."""
    return data_dir / PHOTO_DIR


def store_photo(data_dir: Path, user_id: int, photo: PreparedPhoto) -> str:
    """Write both sizes of ``photo``; return the name the profile records (the large
    one's). Each file is written to a temporary name and renamed, the large one last,
    so a reader never sees half a picture nor a large one without its small one."""
    folder = photo_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{user_id}-{secrets.token_hex(8)}"
    for size, data in ((SMALL, photo.small), (LARGE, photo.large)):
        name = f"{stem}-{size}.webp"
        temporary = folder / f".{name}.part"
        temporary.write_bytes(data)
        os.replace(temporary, folder / name)
    return f"{stem}-{LARGE}.webp"


def small_name(name: str) -> str:
    """The file of the small size of the stored photo ``name`` (a photo stored before
    re-encoding has one file for both)."""
    match = _SIZED_NAME.match(name)
    return f"{match.group(1)}-{SMALL}.webp" if match else name


def is_photo_name(name: str) -> bool:
    """Whether ``name`` could be a stored photo's file name (guards the file route)."""
    return bool(_SIZED_NAME.match(name) or _LEGACY_NAME.match(name))


def delete_photo(data_dir: Path, name: str | None) -> None:
    """Remove a stored photo's files (both sizes); a missing file is fine."""
    if not name or not is_photo_name(name):
        return
    for file in {name, small_name(name)}:
        try:
            (photo_dir(data_dir) / file).unlink()
        except FileNotFoundError:
            pass


def mime_type_of(name: str) -> str:
    """The content type of a stored photo, from the kind its name records."""
    return MIME_TYPES[name.rsplit(".", 1)[1]]
