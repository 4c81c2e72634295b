"""Professional profiles: what clients see before they book (headline, bio,
categories, languages, photo), and the search document that makes them findable.

The profile row is one per professional (``professional_profile.user_id``); the
time zone stays on :class:`accounts.models.User`. Categories and languages are
small fixed vocabularies stored as rows, so search can filter on them with an
index.

Search document. On PostgreSQL each profile keeps a ``search_vector`` (a
``tsvector`` with a GIN index) built from the name and headline (weight A), the
published service titles and category labels (B) and the bio (C). It is
maintained by a flush listener (:func:`refresh_after_flush`, hooked up by
:func:`directory.include`): whenever a flush touches a
profile, a service or a professional's account, the affected vectors are
recomputed in SQL in the same transaction, whichever code path made the change
(these pages, the JSON API, the account services). On SQLite the column stays
empty and :mod:`directory.search` matches with LIKE instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    Text,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from accounts.errors import ValidationError
from accounts.models import User
from accounts.services import validate_timezone
from booking import hours
from booking.busy_index import reindex_zone_dependent
from booking.core.availability import to_payload
from booking.models import Service
from consult.db import Base, UTCDateTime, utcnow
from consult.text import InvalidText, clean_text
from directory.errors import ProfileInvalid

# The fixed vocabularies. Keys are stored; labels are shown (and searched).
CATEGORIES: Mapping[str, str] = MappingProxyType(
    {
        "therapy": "Therapy & counselling",
        "coaching": "Coaching",
        "languages": "Languages",
        "yoga": "Yoga & movement",
        "fitness": "Fitness",
        "music": "Music",
        "tutoring": "Tutoring",
        "nutrition": "Nutrition",
        "career": "Career",
        "business": "Business & legal",
        "wellbeing": "Wellbeing",
        "arts": "Arts & crafts",
    }
)
LANGUAGES: Mapping[str, str] = MappingProxyType(
    {
        "en": "English",
        "de": "German",
        "fr": "French",
        "es": "Spanish",
        "it": "Italian",
        "pt": "Portuguese",
        "nl": "Dutch",
        "sv": "Swedish",
        "da": "Danish",
        "pl": "Polish",
        "tr": "Turkish",
        "ar": "Arabic",
        "zh": "Chinese",
        "ja": "Japanese",
        "ru": "Russian",
        "uk": "Ukrainian",
        "hi": "Hindi",
    }
)

MAX_HEADLINE = 140
MAX_BIO = 5000
MAX_CATEGORIES = 5

# PostgreSQL keeps a real tsvector; SQLite has no such type and leaves it NULL.
SearchVector = Text().with_variant(postgresql.TSVECTOR(), "postgresql")
# 'simple': no stemming, so prefix queries ("thera:*") match what people type in any
# language; names and foreign words are not mangled by an English stemmer.
TEXT_SEARCH_CONFIG = "simple"


class ProfessionalProfile(Base):
    """The public face of a professional. One row per professional account."""

    __tablename__ = "professional_profile"
    __table_args__ = (
        Index("ix_professional_profile_search_vector", "search_vector", postgresql_using="gin"),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    headline: Mapped[str] = mapped_column(String(MAX_HEADLINE), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    # A random file name under <data_dir>/photos; a new upload gets a new name, so the
    # photo URL can be cached forever.
    photo_filename: Mapped[str | None] = mapped_column(String(64), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    search_vector: Mapped[Any] = mapped_column(SearchVector, nullable=True, default=None)

    user: Mapped[User] = relationship(lazy="joined")
    category_rows: Mapped[list[ProfileCategory]] = relationship(
        cascade="all, delete-orphan", order_by="ProfileCategory.category", lazy="selectin"
    )
    language_rows: Mapped[list[ProfileLanguage]] = relationship(
        cascade="all, delete-orphan", order_by="ProfileLanguage.language", lazy="selectin"
    )

    @property
    def categories(self) -> list[str]:
        return [row.category for row in self.category_rows]

    @property
    def languages(self) -> list[str]:
        return [row.language for row in self.language_rows]


class ProfileCategory(Base):
    """One category a professional works in (a key of :data:`CATEGORIES`)."""

    __tablename__ = "profile_category"
    __table_args__ = (Index("ix_profile_category_category", "category"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("professional_profile.user_id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(32), primary_key=True)


class ProfileLanguage(Base):
    """One language a professional offers sessions in (a key of :data:`LANGUAGES`)."""

    __tablename__ = "profile_language"
    __table_args__ = (Index("ix_profile_language_language", "language"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("professional_profile.user_id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str] = mapped_column(String(8), primary_key=True)


# --- reading and editing ----------------------------------------------------------------


def get_profile(session: Session, user_id: int) -> ProfessionalProfile | None:
    """The profile of ``user_id``, or None when they have none yet."""
    return session.get(ProfessionalProfile, user_id)


def ensure_profile(session: Session, user: User) -> ProfessionalProfile:
    """The professional's profile, created empty when missing (flushed)."""
    profile = session.get(ProfessionalProfile, user.id)
    if profile is None:
        profile = ProfessionalProfile(user_id=user.id, headline="", bio="")
        session.add(profile)
        session.flush()
    return profile


def listed_professional(session: Session, principal: str) -> User | None:
    """The listed professional whose public address is ``/p/<principal>``, or None
    (also for a suspended one: their page is gone while the suspension lasts)."""
    if not isinstance(principal, str) or not re.fullmatch(r"[a-z0-9-]{1,64}", principal):
        return None
    return session.scalar(
        select(User).where(
            User.principal == principal,
            User.is_professional.is_(True),
            User.suspended_at.is_(None),
        )
    )


def get_profile_by_principal(session: Session, principal: str) -> ProfessionalProfile | None:
    """The profile of :func:`listed_professional`, or None."""
    user = listed_professional(session, principal)
    if user is None:
        return None
    return ensure_profile(session, user)


@dataclass(frozen=True)
class ProfileInput:
    """Validated profile fields (see :func:`parse_profile_input`)."""

    headline: str
    bio: str
    categories: tuple[str, ...]
    languages: tuple[str, ...]
    timezone: str


def parse_profile_input(data: Mapping[str, Any]) -> ProfileInput:
    """Check a profile form; raise ProfileInvalid naming every bad field.

    ``categories`` and ``languages`` are sequences of vocabulary keys; unknown keys
    are errors (they come from a tampered form), not silently dropped.
    """
    errors: dict[str, str] = {}
    headline = data.get("headline") or ""
    if not isinstance(headline, str):
        headline = ""
    headline = " ".join(headline.split())
    if not headline:
        errors["headline"] = "Write one line that tells clients what you offer."
    else:
        try:
            headline = clean_text(headline, max_length=MAX_HEADLINE)
        except InvalidText as error:
            errors["headline"] = error.message
    bio = data.get("bio") or ""
    if not isinstance(bio, str):
        bio = ""
    try:
        bio = clean_text(bio, max_length=MAX_BIO, multiline=True, required=False)
    except InvalidText as error:
        errors["bio"] = error.message
    categories = _keys(data.get("categories"), CATEGORIES, "categories", errors)
    if len(categories) > MAX_CATEGORIES:
        errors["categories"] = f"Pick at most {MAX_CATEGORIES} categories."
    languages = _keys(data.get("languages"), LANGUAGES, "languages", errors)
    if not languages and "languages" not in errors:
        errors["languages"] = "Pick at least one language you hold sessions in."
    timezone = data.get("timezone") or ""
    try:
        validate_timezone(timezone)
    except ValidationError as error:
        errors.update(error.fields)
    if errors:
        raise ProfileInvalid(errors)
    return ProfileInput(headline, bio, categories, languages, str(timezone))


def _keys(
    raw: Any, vocabulary: Mapping[str, str], field: str, errors: dict[str, str]
) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str) or not isinstance(raw, Iterable):
        errors[field] = "Choose from the list."
        return ()
    values = list(dict.fromkeys(raw))
    if any(not isinstance(value, str) or value not in vocabulary for value in values):
        errors[field] = "Choose from the list."
        return ()
    return tuple(values)


def save_profile(
    session: Session, user: User, data: ProfileInput, now: datetime
) -> ProfessionalProfile:
    """Write ``data`` to the professional's profile (created if needed).

    A new time zone moves the open hours with it: the weekly hours keep their wall-clock
    times in the new zone (9:00-17:00 stays 9:00-17:00), which is what someone who moved
    or fixed a wrong zone expects.
    """
    if not user.is_professional:
        raise ProfileInvalid({"role": "Only professionals have a public profile."})
    profile = ensure_profile(session, user)
    profile.headline = data.headline
    profile.bio = data.bio
    _replace_rows(session, profile, data.categories, data.languages)
    profile.updated_at = now
    if data.timezone != user.timezone:
        _move_hours_to_zone(session, user, data.timezone, now)
    session.flush()
    return profile


def _replace_rows(
    session: Session,
    profile: ProfessionalProfile,
    categories: Sequence[str],
    languages: Sequence[str],
) -> None:
    """Keep the rows that stay, drop the others, add the new ones (no delete and
    re-insert of the same key in one flush)."""
    wanted_categories = list(dict.fromkeys(categories))
    kept = [row for row in profile.category_rows if row.category in wanted_categories]
    have = {row.category for row in kept}
    profile.category_rows = kept + [
        ProfileCategory(user_id=profile.user_id, category=key)
        for key in wanted_categories
        if key not in have
    ]
    wanted_languages = list(dict.fromkeys(languages))
    kept_languages = [row for row in profile.language_rows if row.language in wanted_languages]
    have = {row.language for row in kept_languages}
    profile.language_rows = kept_languages + [
        ProfileLanguage(user_id=profile.user_id, language=key)
        for key in wanted_languages
        if key not in have
    ]


def _move_hours_to_zone(session: Session, user: User, zone: str, now: datetime) -> None:
    current = hours.get_hours(session, user, now.date())
    payload = to_payload(current)
    if any(payload["weekly"].values()) or payload["overrides"]:
        payload["timezone"] = zone
        hours.put_hours(session, user, payload, now)  # also sets user.timezone
    else:
        user.timezone = zone
        session.flush()
        if user.principal:
            reindex_zone_dependent(session, user.principal)


def set_photo(session: Session, profile: ProfessionalProfile, filename: str | None) -> str | None:
    """Point the profile at a new photo file (or none); return the old file name so the
    caller can delete it once the transaction commits."""
    old = profile.photo_filename
    profile.photo_filename = filename
    profile.updated_at = utcnow()
    session.flush()
    return old


def initials(name: str) -> str:
    """Up to two initials for a photo placeholder ("Maya Lindqvist" → "ML")."""
    parts = [part for part in re.split(r"\s+", name.strip()) if part]
    if not parts:
        return "?"
    letters = parts[0][0] + (parts[-1][0] if len(parts) > 1 else "")
    return letters.upper()


# --- the search document ----------------------------------------------------------------

_PG_REFRESH = text(
    f"""
    UPDATE professional_profile AS p SET search_vector =
        setweight(to_tsvector('{TEXT_SEARCH_CONFIG}',
            coalesce(u.name, '') || ' ' || coalesce(p.headline, '')), 'A')
        || setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', coalesce((
            SELECT string_agg(s.title, ' ') FROM service AS s
            WHERE s.professional_id = p.user_id AND s.is_published AND s.deleted_at IS NULL
        ), '') || ' ' || :labels), 'B')
        || setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', coalesce(p.bio, '')), 'C')
    FROM user_account AS u
    WHERE u.id = p.user_id AND p.user_id = :user_id
    """
)


def _category_text(connection: Connection, user_id: int) -> str:
    keys = connection.execute(
        select(ProfileCategory.category).where(ProfileCategory.user_id == user_id)
    ).scalars()
    return " ".join(CATEGORIES.get(key, key) for key in keys)


def refresh_search_documents(connection: Connection, user_ids: Iterable[int]) -> None:
    """Create missing profiles for these professionals and, on PostgreSQL, recompute
    their search vectors from the rows as they are now in this transaction."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    professional_ids = list(
        connection.execute(
            select(User.id).where(User.id.in_(ids), User.is_professional.is_(True))
        ).scalars()
    )
    if not professional_ids:
        return
    dialect = connection.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = [
        {"user_id": user_id, "headline": "", "bio": "", "updated_at": utcnow()}
        for user_id in professional_ids
    ]
    connection.execute(
        insert(ProfessionalProfile.__table__)  # type: ignore[arg-type]
        .values(rows)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    if dialect != "postgresql":
        return
    for user_id in professional_ids:
        connection.execute(
            _PG_REFRESH, {"labels": _category_text(connection, user_id), "user_id": user_id}
        )


def _touched_professionals(session: Session) -> set[int]:
    touched: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Service):
            touched.add(obj.professional_id)
        elif isinstance(obj, ProfessionalProfile):
            touched.add(obj.user_id)
        elif isinstance(obj, ProfileCategory | ProfileLanguage):
            touched.add(obj.user_id)
        elif isinstance(obj, User) and obj.is_professional:
            touched.add(obj.id)
    return touched


def refresh_after_flush(session: Session, _flush_context: Any) -> None:
    """Session listener: recompute the search documents a flush touched, in SQL, in
    the same transaction."""
    touched = _touched_professionals(session)
    if touched:
        refresh_search_documents(session.connection(), touched)
