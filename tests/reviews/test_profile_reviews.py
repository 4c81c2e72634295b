"""The public profile shows the rating, the distribution and the reviews with their
replies, escaped and without links, and carries schema.org JSON-LD that parses with
the right fields. PostgreSQL and SQLite."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)

HOSTILE = "<script>alert(1)</script> see https://evil.example </script><b>x</b>"


def test_the_profile_shows_reviews_escaped_with_json_ld(client: Any, book_session: Any) -> None:
    first = book_session(name="Ann Smith")
    second = book_session(name="Bob Jones")
    for meeting, rating, text in ((first, 5, "Warm and precise."), (second, 4, HOSTILE)):
        answer = client.post(
            f"/api/v1/bookings/{meeting.booking_id}/review",
            json={"rating": rating, "text": text},
            headers=meeting.client_headers,
        )
        assert answer.status_code == 201
    review_id = client.get(
        f"/api/v1/bookings/{second.booking_id}/review", headers=second.pro_headers
    ).get_json()["id"]
    reply = client.post(
        f"/api/v1/reviews/{review_id}/reply",
        json={"text": "Thanks! <i>see you</i>"},
        headers=second.pro_headers,
    )
    assert reply.status_code == 201

    page = client.get(f"/p/{first.professional.principal}").get_data(as_text=True)
    assert "4.5</strong> out of 5 from 2 reviews" in page
    assert "Ann S." in page and "Bob J." in page and "Ann Smith" not in page
    assert "<script>alert(1)" not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="https://evil.example' not in page  # links are not clickable
    assert "Thanks! &lt;i&gt;see you&lt;/i&gt;" in page
    assert page.index("Bob J.") < page.index("Ann S.")  # newest first

    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert len(blocks) == 1
    data = json.loads(blocks[0])
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "ProfessionalService"
    assert data["aggregateRating"] == {
        "@type": "AggregateRating",
        "ratingValue": 4.5,
        "reviewCount": 2,
        "bestRating": 5,
        "worstRating": 1,
    }
    assert [r["author"]["name"] for r in data["review"]] == ["Bob J.", "Ann S."]
    assert data["review"][0]["reviewRating"] == {
        "@type": "Rating",
        "ratingValue": 4,
        "bestRating": 5,
    }
    assert data["review"][0]["reviewBody"] == HOSTILE  # intact once parsed, inert in the page


def test_a_profile_without_reviews_has_no_rating_markup(client: Any, book_session: Any) -> None:
    meeting = book_session()
    page = client.get(f"/p/{meeting.professional.principal}").get_data(as_text=True)
    assert "application/ld+json" not in page
    assert 'id="reviews"' not in page
    odd = client.get(f"/p/{meeting.professional.principal}?reviews_page=999999999999")
    assert odd.status_code == 200
