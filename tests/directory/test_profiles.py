"""Professional profiles: validation, saving, the time zone moving the hours, photo
checks by content, and the search document kept in step with every change."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, text

from accounts.models import User
from booking import hours
from consult.db import utcnow
from directory import photos, profiles
from directory.errors import ProfileInvalid
from tests.factories import bearer, one_on_one
from tests.web.pages.helpers import jpeg_header, make_professional, png_bytes, webp_header


@pytest.fixture
def settings_overrides(redis_url: str) -> dict[str, dict[str, Any]]:
    # Jobs queue in this test's Redis database instead of running in threads that could
    # outlive the test (see tests/web/pages/conftest.py).
    return {"redis": {"url": redis_url}}


def valid_input(**changes: Any) -> dict[str, Any]:
    return {
        "headline": "Therapist for anxiety",
        "bio": "Calm, practical sessions.",
        "categories": ["therapy"],
        "languages": ["en", "sv"],
        "timezone": "Europe/Stockholm",
        **changes,
    }


def test_profile_input_names_every_bad_field() -> None:
    with pytest.raises(ProfileInvalid) as raised:
        profiles.parse_profile_input(
            {
                "headline": "x" * 141,
                "bio": "y" * 5001,
                "categories": ["therapy", "astrology"],
                "languages": [],
                "timezone": "Mars/Olympus",
            }
        )
    fields = raised.value.fields
    assert set(fields) == {"headline", "bio", "categories", "languages", "timezone"}
    assert "140" in fields["headline"] and "Choose from the list" in fields["categories"]
    with pytest.raises(ProfileInvalid) as raised:
        profiles.parse_profile_input(
            valid_input(headline="   ", categories=list(profiles.CATEGORIES))
        )
    assert set(raised.value.fields) == {"headline", "categories"}
    parsed = profiles.parse_profile_input(valid_input(headline="  Calm   therapist "))
    assert parsed.headline == "Calm therapist" and parsed.languages == ("en", "sv")


def test_saving_a_profile_and_a_new_zone_keeps_the_wall_clock_hours(
    client: Any, database: Any, make_user: Any
) -> None:
    maya, _, _ = make_professional(client, database, make_user, name="Maya Lindqvist")
    with database.session() as session:
        user = session.get(User, maya.id)
        data = profiles.parse_profile_input(valid_input(timezone="America/New_York"))
        profile = profiles.save_profile(session, user, data, utcnow())
        assert profile.categories == ["therapy"] and profile.languages == ["en", "sv"]
    with database.session() as session:  # saving again with overlapping choices
        user = session.get(User, maya.id)
        data = profiles.parse_profile_input(
            valid_input(
                categories=["wellbeing", "therapy"], languages=["sv"], timezone=user.timezone
            )
        )
        profiles.save_profile(session, user, data, utcnow())
    with database.session() as session:
        user = session.get(User, maya.id)
        assert user.timezone == "America/New_York"
        saved = profiles.get_profile(session, maya.id)
        assert saved is not None
        assert saved.categories == ["therapy", "wellbeing"] and saved.languages == ["sv"]
        week = hours.get_hours(session, user, date.today())
        assert week.timezone == "America/New_York"
        assert [(s.hour, e.hour) for s, e in week.weekly["mon"]] == [(9, 17)]
        profile = profiles.get_profile(session, maya.id)
        assert profile is not None and profile.headline == "Therapist for anxiety"


def test_only_professionals_have_profiles(make_user: Any, database: Any) -> None:
    sam = make_user(role="client")
    with database.session() as session:
        user = session.get(User, sam.id)
        with pytest.raises(ProfileInvalid):
            profiles.save_profile(
                session, user, profiles.parse_profile_input(valid_input()), utcnow()
            )
        assert profiles.get_profile_by_principal(session, "../etc") is None


def test_photos_are_checked_by_their_content(tmp_path: Any) -> None:
    assert photos.inspect_image(png_bytes(4, 3)) == photos.ImageInfo("png", 4, 3)
    assert photos.inspect_image(jpeg_header(640, 480)) == photos.ImageInfo("jpeg", 640, 480)
    assert photos.inspect_image(webp_header(300, 200)) == photos.ImageInfo("webp", 300, 200)
    for fake in (
        b"%PDF-1.7 not a picture",
        b"<html><img></html>",
        b"GIF89a......",
        png_bytes()[:20],
    ):
        with pytest.raises(ProfileInvalid) as raised:
            photos.check_photo(fake)
        assert raised.value.fields["photo"] == "Use a PNG, JPEG or WebP picture."
    with pytest.raises(ProfileInvalid) as raised:
        photos.check_photo(png_bytes() + b"\0" * photos.MAX_PHOTO_BYTES)
    assert "at most 2 MB" in raised.value.fields["photo"]
    with pytest.raises(ProfileInvalid):
        photos.check_photo(b"")

    # What is stored is re-encoded (tests/directory/test_photos.py), never the upload.
    name = photos.store_photo(tmp_path, 7, photos.prepare_photo(png_bytes()))
    assert photos.is_photo_name(name) and name.startswith("7-") and name.endswith("-512.webp")
    assert (tmp_path / "photos" / name).read_bytes() != png_bytes()
    assert not photos.is_photo_name("../secret_key") and not photos.is_photo_name("7-x.svg")
    photos.delete_photo(tmp_path, name)
    assert list((tmp_path / "photos").iterdir()) == []


def _vector(database: Any, user_id: int) -> str:
    with database.session() as session:
        return str(
            session.execute(
                text("SELECT search_vector::text FROM professional_profile WHERE user_id = :id"),
                {"id": user_id},
            ).scalar_one()
        )


def test_the_search_vector_follows_every_change_whatever_made_it(
    client: Any, database: Any, make_user: Any
) -> None:
    ken, headers, created = make_professional(
        client,
        database,
        make_user,
        name="Ken Watanabe",
        headline="Japanese tutor",
        bio="Patient conversation practice.",
        categories=("languages",),
        services=[one_on_one(title="Kanji lesson")],
    )
    vector = _vector(database, ken.id)
    # Name and headline weigh most (A), services and categories next (B), the bio least (C).
    assert "'ken':1A" in vector and "'japanese':3A" in vector
    assert "'kanji':" in vector and "B" in vector.split("'kanji':")[1][:6]
    assert "'patient':" in vector and vector.split("'patient':")[1].split()[0].endswith("C")

    # A service added, renamed or unpublished through the JSON API updates the vector.
    client.patch(
        f"/api/v1/services/{created[0]['id']}", json={"title": "Grammar clinic"}, headers=headers
    )
    vector = _vector(database, ken.id)
    assert "'grammar'" in vector and "'kanji'" not in vector
    client.patch(
        f"/api/v1/services/{created[0]['id']}", json={"is_published": False}, headers=headers
    )
    assert "'grammar'" not in _vector(database, ken.id)

    # A professional who never wrote a profile is findable by name once they offer something.
    lee = make_user(role="professional", name="Lee Integrator")
    assert (
        client.post(
            "/api/v1/services", json=one_on_one(), headers=bearer(database, lee)
        ).status_code
        == 201
    )
    assert "'integrator':2A" in _vector(database, lee.id)
    with database.session() as session:
        indexes = session.execute(
            text("SELECT indexdef FROM pg_indexes WHERE tablename = 'professional_profile'")
        ).scalars()
        assert any("USING gin (search_vector)" in index for index in indexes)
        assert (
            session.scalar(
                select(profiles.ProfessionalProfile.user_id).where(
                    profiles.ProfessionalProfile.user_id == lee.id
                )
            )
            == lee.id
        )
