"""Helpers for page and search tests: professionals with a profile, hours and
services; signing in through the real forms with CSRF on; pictures to upload."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import ExifTags, Image

from accounts.models import User
from booking import catalog
from consult.db import Database, utcnow
from directory import profiles
from tests.factories import WORKWEEK, bearer, one_on_one

EVERY_DAY = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
WEEKEND = {
    **{day: [] for day in WORKWEEK},
    "sat": [["09:00", "12:00"]],
    "sun": [["09:00", "12:00"]],
}


def make_professional(
    client: Any,
    database: Database,
    make_user: Any,
    *,
    name: str,
    zone: str = "Europe/Berlin",
    weekly: dict[str, Any] | None = None,
    overrides: list[dict[str, Any]] | None = None,
    headline: str = "",
    bio: str = "",
    categories: tuple[str, ...] = (),
    languages: tuple[str, ...] = ("en",),
    services: list[dict[str, Any]] | None = None,
) -> tuple[Any, dict[str, str], list[dict[str, Any]]]:
    """A professional with a profile, open hours and services (through the API and the
    profile service). Returns (user, bearer headers, service JSONs)."""
    user = make_user(role="professional", name=name, timezone=zone)
    headers = bearer(database, user)
    response = client.put(
        "/api/v1/availability",
        json={"timezone": zone, "weekly": weekly or WORKWEEK, "overrides": overrides or []},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    # Services are created through the catalog, as on a platform that takes payments:
    # without a Stripe key the API refuses to publish a paid service, and these tests
    # need paid ones to search by price (they only ever book free ones).
    created = []
    with database.session() as session:
        account = session.get(User, user.id)
        assert account is not None
        for payload in services if services is not None else [one_on_one()]:
            service = catalog.create_service(
                session, account, catalog.parse_service_input(payload, partial=False)
            )
            session.flush()
            created.append({"id": service.id, "title": service.title, "kind": service.kind})
    if headline or bio or categories:
        with database.session() as session:
            account = session.get(User, user.id)
            assert account is not None
            data = profiles.ProfileInput(headline, bio, categories, languages, zone)
            profiles.save_profile(session, account, data, utcnow())
    return user, headers, created


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    """A real, decodable PNG of ``width`` × ``height`` blue pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x1d\x4e\xd8" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def picture(width: int, height: int, kind: str = "PNG", mode: str = "RGB", **save: Any) -> bytes:
    """A ``width`` × ``height`` picture made with Pillow, left half red and right half
    blue (so a test sees which way up it was stored), in ``mode`` ("RGB", "RGBA" half
    transparent, "P"); ``save`` goes to ``Image.save``."""
    image = Image.new("RGB", (width, height), "red")
    image.paste("blue", (width // 2, 0, width, height))
    image = image.convert(mode)
    if mode == "RGBA":
        image.putalpha(128)
    buffer = io.BytesIO()
    image.save(buffer, kind, **save)
    return buffer.getvalue()


def jpeg_with_gps(width: int = 800, height: int = 600, orientation: int = 1) -> bytes:
    """A camera-like JPEG: EXIF with the phone's make, where it was taken (GPS) and an
    orientation tag."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretPhone"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
    }
    data = picture(width, height, "JPEG", exif=exif, quality=95)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # it is there
    return data


def jpeg_header(width: int = 640, height: int = 480) -> bytes:
    """The start of a baseline JPEG (SOI, JFIF APP0, SOF0 with the picture size)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00" * 3
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def webp_header(width: int = 300, height: int = 200) -> bytes:
    """A VP8X WebP header with the canvas size."""
    payload = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
    payload += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", len(payload) + 4) + b"WEBP" + payload
