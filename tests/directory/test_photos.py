"""Profile photos are decoded under a pixel cap, turned upright, stripped of their
metadata and stored as square WebP crops in the two sizes the pages show
(:mod:`directory.photos`)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from directory import photos
from directory.errors import ProfileInvalid
from tests.web.pages.helpers import jpeg_with_gps, picture


def stored(folder: Path, name: str) -> Image.Image:
    image = Image.open(folder / "photos" / name)
    image.load()
    return image


def test_a_decompression_bomb_is_refused_before_decoding_naming_its_size_and_the_limit() -> None:
    # 144 megapixels in a few kilobytes: one colour compresses to almost nothing.
    upload = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(upload, "PNG")
    bomb = upload.getvalue()
    assert len(bomb) < photos.MAX_PHOTO_BYTES
    with pytest.raises(ProfileInvalid) as refused:
        photos.prepare_photo(bomb)
    assert refused.value.fields["photo"] == (
        "This picture is 12000 × 12000 pixels (144.0 megapixels); use one of at most 25 megapixels."
    )
    with pytest.raises(ProfileInvalid):  # the header check alone already says so
        photos.check_photo(bomb)


def test_a_picture_that_cannot_be_decoded_is_refused() -> None:
    broken = picture(400, 300, "PNG")
    with pytest.raises(ProfileInvalid) as refused:
        photos.prepare_photo(broken[: len(broken) // 2])
    assert "could not be read" in refused.value.fields["photo"]


def test_exif_with_the_gps_position_is_not_stored(tmp_path: Path) -> None:
    name = photos.store_photo(tmp_path, 7, photos.prepare_photo(jpeg_with_gps()))
    for file in (name, photos.small_name(name)):
        data = (tmp_path / "photos" / file).read_bytes()
        image = stored(tmp_path, file)
        assert image.format == "WEBP"
        assert not image.getexif() and "exif" not in image.info and "xmp" not in image.info
        assert "icc_profile" not in image.info
        assert b"Exif" not in data and b"SecretPhone" not in data


def test_the_exif_orientation_is_applied_before_cropping(tmp_path: Path) -> None:
    # Stored sideways (red left, blue right) with "rotate 90° clockwise to display":
    # upright, red is on top and blue below.
    sideways = jpeg_with_gps(200, 100, orientation=6)
    name = photos.store_photo(tmp_path, 7, photos.prepare_photo(sideways))
    image = stored(tmp_path, name).convert("RGB")
    assert image.size == (100, 100)
    top, bottom = image.getpixel((50, 10)), image.getpixel((50, 90))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 60, top  # red
    assert bottom[2] > 200 and bottom[0] < 60, bottom  # blue


@pytest.mark.parametrize(
    ("kind", "mode", "size", "large", "small"),
    [
        ("PNG", "RGB", (1200, 800), (512, 512), (96, 96)),
        ("JPEG", "RGB", (3000, 4000), (512, 512), (96, 96)),
        ("WEBP", "RGB", (700, 700), (512, 512), (96, 96)),
        ("PNG", "RGBA", (600, 900), (512, 512), (96, 96)),
        ("PNG", "P", (300, 200), (200, 200), (96, 96)),
        ("PNG", "RGB", (60, 40), (40, 40), (40, 40)),  # never scaled up
    ],
)
def test_both_sizes_are_stored_as_square_webp(
    tmp_path: Path,
    kind: str,
    mode: str,
    size: tuple[int, int],
    large: tuple[int, int],
    small: tuple[int, int],
) -> None:
    name = photos.store_photo(tmp_path, 7, photos.prepare_photo(picture(*size, kind, mode)))
    assert name.startswith("7-") and name.endswith("-512.webp") and photos.is_photo_name(name)
    small_name = photos.small_name(name)
    assert small_name == name.replace("-512.webp", "-96.webp") and photos.is_photo_name(small_name)
    assert stored(tmp_path, name).size == large
    assert stored(tmp_path, small_name).size == small
    assert stored(tmp_path, name).mode == ("RGBA" if mode == "RGBA" else "RGB")
    assert sorted(p.name for p in (tmp_path / "photos").iterdir()) == sorted([name, small_name])
    assert photos.mime_type_of(name) == "image/webp"

    photos.delete_photo(tmp_path, name)
    assert list((tmp_path / "photos").iterdir()) == []


def test_a_photo_stored_before_re_encoding_is_one_file_for_both_sizes(tmp_path: Path) -> None:
    legacy = "7-0123456789abcdef.png"
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / legacy).write_bytes(picture(40, 30))
    assert photos.is_photo_name(legacy) and photos.small_name(legacy) == legacy
    assert photos.mime_type_of(legacy) == "image/png"
    photos.delete_photo(tmp_path, legacy)
    assert not (tmp_path / "photos" / legacy).exists()
    for name in (
        "../secret_key",
        "7-x.svg",
        "7-0123456789abcdef-300.webp",
        "7-0123456789abcdef-96.png",
    ):
        assert not photos.is_photo_name(name), name


def test_an_embedded_colour_profile_is_applied_not_copied(tmp_path: Path) -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    upload = io.BytesIO()
    Image.new("RGB", (64, 64), (0, 128, 255)).save(upload, "PNG", icc_profile=profile)
    assert Image.open(io.BytesIO(upload.getvalue())).info["icc_profile"]
    name = photos.store_photo(tmp_path, 7, photos.prepare_photo(upload.getvalue()))
    image = stored(tmp_path, name)
    assert "icc_profile" not in image.info
    pixel = image.convert("RGB").getpixel((32, 32))
    assert isinstance(pixel, tuple)
    # sRGB to sRGB keeps the colour (WebP is lossy: close).
    assert all(abs(a - b) <= 8 for a, b in zip(pixel, (0, 128, 255), strict=True)), pixel
