"""Finding professionals: free-text search, filters, sorting, pagination, and
availability that is true because the scheduling core computed it.

Text. PostgreSQL matches the profile's ``search_vector`` (see
:mod:`directory.profiles`: name and headline weigh most, then service titles and
categories, then the bio) with a prefix query per word, ranked by ``ts_rank_cd``
through the GIN index. SQLite matches each word with LIKE over the same fields
and ranks by where it matched. Everything else is one code path.

Availability. "Next free slot" and "available between these dates" come from
:func:`booking.scheduling.service_slots`, never from a guess. That is too slow to
run for every professional on every search, so each answer is cached in process,
keyed by a fingerprint of everything slots depend on: the ctag of every calendar
of the professional (open hours, bookings, seats and personal busy time all
change a ctag when they change), each service's rules and publication, and the
professional's time zone. An answer also carries the instant it stops being true
by the mere passing of time (the found slot's start minus the service's notice);
"nothing free" answers expire after :data:`NEGATIVE_TTL`, because the booking
horizon moves forward. A search checks all fingerprints of its candidates with one
query; only professionals whose calendars changed are computed again.

Filters that do not involve time are applied in SQL and paginated there; only the
page's professionals get a "next free slot". A date filter or the "next free slot"
sort needs an answer for every candidate, so those candidates (at most
:data:`MAX_AVAILABILITY_CANDIDATES`, best text matches first) are checked and then
sorted and paginated in Python.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, and_, case, exists, func, literal_column, or_, select
from sqlalchemy.orm import Session, aliased

from accounts.models import User
from booking.core.currency import THREE_DECIMAL, ZERO_DECIMAL, minor_exponent
from booking.core.intervals import Interval, local_midnight
from booking.models import Service
from booking.scheduling import service_slots
from caldav_server.models import DavCollection
from consult.bounds import parse_date
from consult.cache import LRUCache, caches_of
from directory.errors import SearchParamError
from directory.profiles import (
    CATEGORIES,
    LANGUAGES,
    TEXT_SEARCH_CONFIG,
    ProfessionalProfile,
    ProfileCategory,
    ProfileLanguage,
)
from reviews.services import (
    PRIOR_MEAN,
    PRIOR_WEIGHT,
    platform_mean,
    rating_totals,
    ratings_of,
)

PER_PAGE = 10
MAX_PAGE = 1000
MAX_QUERY_LENGTH = 200
MAX_QUERY_TERMS = 8
MAX_RANGE_DAYS = 62
MAX_PRICE = Decimal(1_000_000)
MAX_AVAILABILITY_CANDIDATES = 500
SORTS = ("relevance", "price", "next_free", "rating")
# How far "next free slot" looks, in growing steps so a busy week is found cheaply.
NEXT_FREE_STEPS = (timedelta(days=7), timedelta(days=28), timedelta(days=90))
NEGATIVE_TTL = timedelta(minutes=10)

# Prices are compared in hundredths of the currency's main unit, whatever the currency
# (see booking.core.currency.minor_exponent).


@dataclass(frozen=True)
class SearchQuery:
    """Validated search parameters. Prices are hundredths of a main currency unit;
    ``available_*`` are local dates in ``zone``."""

    text: str = ""
    terms: tuple[str, ...] = ()
    category: str | None = None
    language: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    available_from: date | None = None
    available_to: date | None = None
    sort: str = "relevance"
    page: int = 1
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    # Shown reviews averaging at least this many stars (1-5).
    min_rating: float | None = None

    @property
    def filters_by_time(self) -> bool:
        return self.available_from is not None

    def window(self, now: datetime) -> Interval | None:
        """The asked date range as instants, from ``now`` at the earliest; None when no
        range was asked or it is wholly past."""
        if self.available_from is None or self.available_to is None:
            return None
        start = max(local_midnight(self.available_from, self.zone), now)
        end = local_midnight(self.available_to + timedelta(days=1), self.zone)
        return Interval(start, end) if end > start else None


def terms_of(text: str) -> tuple[str, ...]:
    """The words of a free-text query, lower-cased, letters and digits only, without
    single letters when there are longer words."""
    words = re.findall(r"[^\W_]+", text.lower())
    # Single letters ("ken's" → "ken", "s") would have to match a word of their own.
    longer = [word for word in words if len(word) > 1] or words
    return tuple(dict.fromkeys(word[:40] for word in longer))[:MAX_QUERY_TERMS]


def parse_zone(value: str | None, default: str = "UTC") -> ZoneInfo:
    """An IANA zone from a request, or SearchParamError({"tz": ...})."""
    name = value or default
    if len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise SearchParamError({"tz": f"Unknown time zone {name[:64]!r}."})
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise SearchParamError({"tz": f"Unknown time zone {name!r}."}) from None


def _price(value: str, name: str, errors: dict[str, str]) -> int | None:
    value = value.strip().replace(",", ".")
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        errors[name] = "Enter an amount such as 40 or 39.50."
        return None
    if not amount.is_finite() or amount < 0 or amount > MAX_PRICE:
        errors[name] = f"Enter an amount between 0 and {MAX_PRICE:,}."
        return None
    return int((amount * 100).to_integral_value())


def _day(value: str, name: str, errors: dict[str, str]) -> date | None:
    value = value.strip()
    if not value:
        return None
    day = parse_date(value)
    if day is None:
        errors[name] = "Use a date like 2026-12-01."
    return day


def parse_search(
    args: Mapping[str, Any], *, now: datetime, default_zone: str = "UTC"
) -> SearchQuery:
    """Validate search parameters (``q, category, language, min_price, max_price,
    available_from, available_to, sort, page, tz``) as they come from a query string.

    Empty values mean "not given". Raises SearchParamError naming every bad parameter.
    ``available_from`` alone means that one day; ``available_to`` alone means from today.
    """

    def get(name: str) -> str:
        value = args.get(name)
        return value if isinstance(value, str) else ""

    errors: dict[str, str] = {}
    try:
        zone = parse_zone(get("tz") or None, default_zone)
    except SearchParamError as error:
        errors.update(error.fields)
        zone = ZoneInfo("UTC")
    text = " ".join(get("q").split())
    if len(text) > MAX_QUERY_LENGTH:
        errors["q"] = f"Use at most {MAX_QUERY_LENGTH} characters."
    category = get("category").strip() or None
    if category is not None and category not in CATEGORIES:
        errors["category"] = "Choose a category from the list."
    language = get("language").strip() or None
    if language is not None and language not in LANGUAGES:
        errors["language"] = "Choose a language from the list."
    min_price = _price(get("min_price"), "min_price", errors)
    max_price = _price(get("max_price"), "max_price", errors)
    if min_price is not None and max_price is not None and max_price < min_price:
        errors["max_price"] = "The highest price must not be below the lowest."
    first = _day(get("available_from"), "available_from", errors)
    last = _day(get("available_to"), "available_to", errors)
    today = now.astimezone(zone).date()
    if first is None and last is not None:
        first = today
    if first is not None and last is None:
        last = first
    if (
        first is not None
        and last is not None
        and not errors.keys() & {"available_from", "available_to"}
    ):
        if last < first:
            errors["available_to"] = "The last day must not be before the first."
        elif last < today:
            errors["available_to"] = "Pick dates from today on."
        elif (last - first).days >= MAX_RANGE_DAYS:
            errors["available_to"] = f"Pick a range of at most {MAX_RANGE_DAYS} days."
    sort = get("sort").strip() or "relevance"
    if sort not in SORTS:
        errors["sort"] = "Sort by relevance, price, next_free or rating."
    min_rating = _rating(get("min_rating"), errors)
    page_text = get("page").strip() or "1"
    page = int(page_text) if page_text.isdigit() else 0
    if not 1 <= page <= MAX_PAGE:
        errors["page"] = f"Use a page number from 1 to {MAX_PAGE}."
    if errors:
        raise SearchParamError(errors)
    return SearchQuery(
        text=text,
        terms=terms_of(text),
        category=category,
        language=language,
        min_price=min_price,
        max_price=max_price,
        available_from=first,
        available_to=last,
        sort=sort,
        page=page,
        zone=zone,
        min_rating=min_rating,
    )


def _rating(value: str, errors: dict[str, str]) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        rating = float(value)
    except ValueError:
        rating = -1.0
    if not 1 <= rating <= 5:  # also refuses nan and inf
        errors["min_rating"] = "Use a number of stars from 1 to 5, e.g. 4 or 4.5."
        return None
    return rating


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSummary:
    """A bookable service of a professional in a result (prices in minor units)."""

    id: int
    title: str
    kind: str
    duration_minutes: int
    price_amount: int
    price_currency: str
    capacity: int | None


@dataclass(frozen=True)
class ProfessionalHit:
    """One professional in a result list; ``next_free`` is the start (UTC) of their
    first bookable slot among the services that match the price filter."""

    user_id: int
    name: str
    principal: str
    headline: str
    bio: str
    photo_filename: str | None
    categories: tuple[str, ...]
    languages: tuple[str, ...]
    timezone: str
    services: tuple[ServiceSummary, ...]
    next_free: datetime | None
    rank: float
    # The average of shown reviews (one decimal) and their number.
    rating: float | None = None
    review_count: int = 0

    @property
    def lowest_price(self) -> ServiceSummary | None:
        if not self.services:
            return None
        return min(
            self.services,
            key=lambda s: s.price_amount * 10 ** (3 - minor_exponent(s.price_currency)),
        )


@dataclass(frozen=True)
class SearchResult:
    """One page of results and what the pagination needs."""

    hits: list[ProfessionalHit]
    page: int
    per_page: int
    total: int
    # True when more professionals matched than availability was checked for.
    truncated: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


# --- SQL -------------------------------------------------------------------------------


def _normalized_price() -> Any:
    """The service price in hundredths of its main unit (what min/max_price use)."""
    return case(
        (Service.price_currency.in_(ZERO_DECIMAL), Service.price_amount * 100),
        (Service.price_currency.in_(THREE_DECIMAL), Service.price_amount / 10),
        else_=Service.price_amount,
    )


def _eligible_services(query: SearchQuery) -> Any:
    """Bookable services of the outer professional within the price range."""
    conditions = [
        Service.professional_id == User.id,
        Service.is_published.is_(True),
        Service.deleted_at.is_(None),
    ]
    if query.min_price is not None:
        conditions.append(_normalized_price() >= query.min_price)
    if query.max_price is not None:
        conditions.append(_normalized_price() <= query.max_price)
    return and_(*conditions)


def _text_match(query: SearchQuery, dialect: str) -> tuple[Any, Any]:
    """(WHERE condition, rank expression) for the free text."""
    if dialect == "postgresql":
        tsquery = func.to_tsquery(
            literal_column(f"'{TEXT_SEARCH_CONFIG}'::regconfig"),
            " & ".join(f"{term}:*" for term in query.terms),
        )
        vector = ProfessionalProfile.search_vector
        return vector.op("@@")(tsquery), func.ts_rank_cd(vector, tsquery)
    conditions = []
    rank: Any = literal_column("0")
    for term in query.terms:
        pattern = f"%{term}%"
        title = aliased(Service)
        in_name = or_(
            func.lower(User.name).like(pattern),
            func.lower(func.coalesce(ProfessionalProfile.headline, "")).like(pattern),
        )
        in_services = exists().where(
            title.professional_id == User.id,
            title.is_published.is_(True),
            title.deleted_at.is_(None),
            func.lower(title.title).like(pattern),
        )
        in_bio = func.lower(func.coalesce(ProfessionalProfile.bio, "")).like(pattern)
        conditions.append(or_(in_name, in_services, in_bio))
        rank = rank + case((in_name, 4), else_=0) + case((in_services, 2), else_=0)
        rank = rank + case((in_bio, 1), else_=0)
    return and_(*conditions), rank


def _candidates(query: SearchQuery, dialect: str, prior_mean: float) -> Select[Any]:
    """SELECT user id, rank, lowest eligible price, name and the Bayesian rating
    (see :func:`reviews.services.bayesian_average`) of every matching professional."""
    lowest = (
        select(func.min(_normalized_price())).where(_eligible_services(query)).scalar_subquery()
    )
    rank: Any = literal_column("0")
    statement = (
        select(User.id, User.name)
        .outerjoin(ProfessionalProfile, ProfessionalProfile.user_id == User.id)
        .where(
            User.is_professional.is_(True),
            User.principal.is_not(None),
            User.suspended_at.is_(None),
            exists().where(_eligible_services(query)),
        )
    )
    if query.terms:
        condition, rank = _text_match(query, dialect)
        statement = statement.where(condition)
    if query.category:
        statement = statement.where(
            exists().where(
                ProfileCategory.user_id == User.id, ProfileCategory.category == query.category
            )
        )
    if query.language:
        statement = statement.where(
            exists().where(
                ProfileLanguage.user_id == User.id, ProfileLanguage.language == query.language
            )
        )
    stars, reviews_count = rating_totals(User.id)
    if query.min_rating is not None:
        statement = statement.where(reviews_count > 0, stars >= query.min_rating * reviews_count)
    bayesian = (PRIOR_WEIGHT * prior_mean + stars) / (PRIOR_WEIGHT + reviews_count)
    return statement.add_columns(
        rank.label("rank"),
        lowest.label("lowest_price"),
        bayesian.label("bayesian"),
        reviews_count.label("review_count"),
    )


def _ordered(statement: Select[Any], query: SearchQuery) -> Select[Any]:
    columns = statement.selected_columns
    if query.sort == "price":
        return statement.order_by(columns.lowest_price, columns.name, columns.id)
    if query.sort == "rating":
        # Unrated professionals after every rated one, whatever the platform's mean.
        unrated = case((columns.review_count == 0, 1), else_=0)
        return statement.order_by(unrated, columns.bayesian.desc(), columns.name, columns.id)
    if query.terms:
        return statement.order_by(columns.rank.desc(), columns.name, columns.id)
    return statement.order_by(columns.name, columns.id)


def search(session: Session, query: SearchQuery, now: datetime) -> SearchResult:
    """Run ``query``; the caller commits afterwards (slot computation may extend the
    busy-time index of recurring events, which writes)."""
    dialect = session.get_bind().dialect.name
    prior = platform_mean(session) if query.sort == "rating" else PRIOR_MEAN
    statement = _ordered(_candidates(query, dialect, prior), query)
    if not query.filters_by_time and query.sort != "next_free":
        total = session.scalar(
            select(func.count()).select_from(statement.order_by(None).subquery())
        )
        rows = session.execute(statement.limit(PER_PAGE).offset((query.page - 1) * PER_PAGE)).all()
        hits = _hits(session, query, rows, now)
        return SearchResult(hits, query.page, PER_PAGE, int(total or 0))

    rows = session.execute(statement.limit(MAX_AVAILABILITY_CANDIDATES + 1)).all()
    truncated = len(rows) > MAX_AVAILABILITY_CANDIDATES
    rows = rows[:MAX_AVAILABILITY_CANDIDATES]
    ranks = {row.id: float(row.rank or 0) for row in rows}
    batch = _load(session, query, [row.id for row in rows])
    fingerprints = _fingerprints(session, batch)
    window = query.window(now)
    kept: list[tuple[int, datetime | None]] = []
    by_next_free = query.sort == "next_free"
    for row in rows:
        user = batch.users[row.id]
        offered = batch.services.get(row.id, [])
        fingerprint = fingerprints[row.id]
        # The date filter alone does not need the next free slot: it is computed for
        # the page's professionals only, unless it decides the order.
        next_free = next_free_slot(session, user, offered, now, fingerprint, compute=by_next_free)
        if query.filters_by_time:
            if window is None or not has_free_slot(
                session, user, offered, window, now, fingerprint, next_free
            ):
                continue
        kept.append((row.id, next_free))
    if by_next_free:
        far = now + timedelta(days=100 * 365)
        order = {row.id: index for index, row in enumerate(rows)}
        kept.sort(key=lambda item: (item[1] is None, item[1] or far, order[item[0]]))
    page = kept[(query.page - 1) * PER_PAGE : query.page * PER_PAGE]
    hits = []
    for user_id, next_free in page:
        if not by_next_free:
            user, offered = batch.users[user_id], batch.services.get(user_id, [])
            next_free = next_free_slot(session, user, offered, now, fingerprints[user_id])
        hits.append(_hit(batch, user_id, next_free, ranks[user_id]))
    return SearchResult(hits, query.page, PER_PAGE, len(kept), truncated)


@dataclass
class _Batch:
    """The rows behind a list of candidates, loaded with a few queries."""

    users: dict[int, User]
    profiles: dict[int, ProfessionalProfile]
    services: dict[int, list[Service]]
    ratings: dict[int, tuple[float, int]]


def _load(session: Session, query: SearchQuery, ids: Sequence[int]) -> _Batch:
    if not ids:
        return _Batch({}, {}, {}, {})
    users = {user.id: user for user in session.scalars(select(User).where(User.id.in_(ids)))}
    profiles = {
        profile.user_id: profile
        for profile in session.scalars(
            select(ProfessionalProfile).where(ProfessionalProfile.user_id.in_(ids))
        )
    }
    eligible = select(Service).where(
        Service.professional_id.in_(ids),
        Service.is_published.is_(True),
        Service.deleted_at.is_(None),
    )
    if query.min_price is not None:
        eligible = eligible.where(_normalized_price() >= query.min_price)
    if query.max_price is not None:
        eligible = eligible.where(_normalized_price() <= query.max_price)
    services: dict[int, list[Service]] = {}
    for service in session.scalars(eligible.order_by(Service.price_amount, Service.id)):
        services.setdefault(service.professional_id, []).append(service)
    return _Batch(users, profiles, services, ratings_of(session, ids))


def _hits(
    session: Session, query: SearchQuery, rows: Sequence[Any], now: datetime
) -> list[ProfessionalHit]:
    batch = _load(session, query, [row.id for row in rows])
    fingerprints = _fingerprints(session, batch)
    hits = []
    for row in rows:
        offered = batch.services.get(row.id, [])
        next_free = next_free_slot(session, batch.users[row.id], offered, now, fingerprints[row.id])
        hits.append(_hit(batch, row.id, next_free, float(row.rank or 0)))
    return hits


def _hit(batch: _Batch, user_id: int, next_free: datetime | None, rank: float) -> ProfessionalHit:
    user = batch.users[user_id]
    profile = batch.profiles.get(user_id)
    return ProfessionalHit(
        user_id=user.id,
        name=user.name,
        principal=user.principal or "",
        headline=profile.headline if profile else "",
        bio=profile.bio if profile else "",
        photo_filename=profile.photo_filename if profile else None,
        categories=tuple(profile.categories) if profile else (),
        languages=tuple(profile.languages) if profile else (),
        timezone=user.timezone,
        services=tuple(
            ServiceSummary(
                s.id,
                s.title,
                s.kind,
                s.duration_minutes,
                s.price_amount,
                s.price_currency,
                s.capacity,
            )
            for s in batch.services.get(user_id, [])
        ),
        next_free=next_free,
        rank=rank,
        rating=batch.ratings.get(user_id, (None, 0))[0],
        review_count=batch.ratings.get(user_id, (None, 0))[1],
    )


# --- availability, cached by calendar ctags ----------------------------------------------


def _fingerprints(session: Session, batch: _Batch) -> dict[int, str]:
    """One string per professional that changes whenever their slots may have changed
    for any reason other than the clock: every calendar's ctag, every offered service's
    rules, the time zone. One query for all of them."""
    by_principal = {user.principal: user.id for user in batch.users.values() if user.principal}
    parent = aliased(DavCollection)
    tags: dict[int, list[str]] = {user_id: [] for user_id in batch.users}
    if by_principal:
        rows = session.execute(
            select(parent.path, DavCollection.path, DavCollection.ctag)
            .join(parent, DavCollection.parent_id == parent.id)
            .where(parent.path.in_(list(by_principal)))
        ).all()
        for principal, path, ctag in rows:
            tags[by_principal[principal]].append(f"{path}={ctag}")
    result = {}
    for user_id, user in batch.users.items():
        parts = [user.timezone, *sorted(tags[user_id])]
        for service in batch.services.get(user_id, []):
            parts.append(
                f"{service.id}:{service.updated_at.isoformat()}:{service.is_published}:"
                f"{service.deleted_at}:{service.duration_minutes}:{service.capacity}"
            )
        result[user_id] = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return result


_Key = tuple[int, str, tuple[int, ...], str]
# The database's cache of availability answers: (first free start or None, valid until).
_CACHE = "directory.next_free"
_CACHE_SIZE = 20_000


def _cache(session: Session) -> LRUCache[tuple[datetime | None, datetime]]:
    return caches_of(session).cache(_CACHE, _CACHE_SIZE)


def _cached(session: Session, key: _Key, now: datetime) -> tuple[bool, datetime | None]:
    entry = _cache(session).get(key)
    if entry is not None and now < entry[1]:
        return True, entry[0]
    return False, None


def _store(session: Session, key: _Key, value: datetime | None, valid_until: datetime) -> None:
    _cache(session).put(key, (value, valid_until))


def cache_stats(session: Session) -> dict[str, int]:
    """Hits and misses of the availability cache of ``session``'s database (for tests
    and benchmarks)."""
    return _cache(session).stats()


def clear_cache(session: Session) -> None:
    """Forget every cached availability answer of ``session``'s database."""
    _cache(session).clear()


def _first_slot(
    session: Session,
    professional: User,
    services: Sequence[Service],
    window: Interval,
    now: datetime,
) -> tuple[datetime | None, datetime]:
    """The earliest bookable start of any of ``services`` in ``window``, and until when
    that answer holds if nothing changes but the clock."""
    best: tuple[datetime, timedelta] | None = None
    for service in services:
        slots = service_slots(session, service, professional, window, now)
        if slots and (best is None or slots[0].start < best[0]):
            best = (slots[0].start, timedelta(minutes=service.min_notice_minutes))
    if best is None:
        return None, now + NEGATIVE_TTL
    return best[0], best[0] - best[1]


def next_free_slot(
    session: Session,
    professional: User,
    services: Sequence[Service],
    now: datetime,
    fingerprint: str,
    *,
    compute: bool = True,
) -> datetime | None:
    """The start of the professional's first bookable slot among ``services`` within
    the look-ahead of :data:`NEXT_FREE_STEPS`, or None. With ``compute=False`` only a
    cached answer is returned (None when there is none)."""
    if not services or professional.principal is None:
        return None
    key: _Key = (professional.id, fingerprint, tuple(s.id for s in services), "next")
    found, value = _cached(session, key, now)
    if found or not compute:
        return value
    start = now
    result: datetime | None = None
    valid_until = now + NEGATIVE_TTL
    for step in NEXT_FREE_STEPS:
        end = now + step
        result, valid_until = _first_slot(
            session, professional, services, Interval(start, end), now
        )
        if result is not None:
            break
        start = end
    _store(session, key, result, valid_until)
    return result


def has_free_slot(
    session: Session,
    professional: User,
    services: Sequence[Service],
    window: Interval,
    now: datetime,
    fingerprint: str,
    next_free: datetime | None,
) -> bool:
    """Whether any of ``services`` has a bookable slot starting in ``window``. The
    cached next free slot answers most cases without computing anything."""
    if not services or professional.principal is None:
        return False
    next_key: _Key = (professional.id, fingerprint, tuple(s.id for s in services), "next")
    if next_free is not None:
        if window.contains_instant(next_free):
            return True
        if next_free >= window.end:
            return False
    elif window.end <= now + NEXT_FREE_STEPS[-1] and _cached(session, next_key, now)[0]:
        return False  # known: nothing at all in the whole look-ahead
    key: _Key = (
        professional.id,
        fingerprint,
        tuple(s.id for s in services),
        f"{window.start.isoformat()}/{window.end.isoformat()}",
    )
    found, value = _cached(session, key, now)
    if found:
        return value is not None
    result, valid_until = _first_slot(session, professional, services, window, now)
    _store(session, key, result, valid_until)
    return result is not None


def next_free_for(
    session: Session, professional: User, services: Sequence[Service], now: datetime
) -> datetime | None:
    """:func:`next_free_slot` for one professional, fingerprint included (for pages
    that show one professional)."""
    batch = _Batch({professional.id: professional}, {}, {professional.id: list(services)}, {})
    return next_free_slot(
        session, professional, services, now, _fingerprints(session, batch)[professional.id]
    )
