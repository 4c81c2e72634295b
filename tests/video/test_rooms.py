"""The sans-IO parts: the room window, join tokens, TURN credentials, the relay's
size cap, and how message text is cleaned and shown."""

from __future__ import annotations

import base64
import os
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from consult.config import load_settings
from video.config import VideoConfig
from video.errors import InvalidJoinToken, InvalidMessage
from video.ice import ice_servers, peer_ice_config, turn_credentials
from video.messages import clean_body, render_body
from video.relay import capped_size
from video.rooms import room_window
from video.tokens import issue_join_token, read_join_token

START = datetime(2026, 3, 29, 9, 0, tzinfo=UTC)  # the night Europe moved to summer time


def video_config(**changes: Any) -> VideoConfig:
    """The default ``[video]`` settings, with ``changes``."""
    settings = load_settings(
        config_file=os.devnull,
        environ={},
        overrides={"app": {"secret_key": "k" * 32, "base_url": "https://book.example.com"}},
    )
    return replace(VideoConfig.from_settings(settings), **changes)


CONFIG = video_config()


@pytest.mark.parametrize(
    ("moment", "state"),
    [
        (START - timedelta(minutes=10, seconds=1), "not_open"),
        (START - timedelta(minutes=10), "open"),
        (START + timedelta(minutes=50), "open"),
        (START + timedelta(minutes=50 + 30) - timedelta(seconds=1), "open"),
        (START + timedelta(minutes=50 + 30), "closed"),
    ],
)
def test_the_room_opens_before_the_start_and_closes_after_the_end(
    moment: datetime, state: str
) -> None:
    window = room_window(
        START, START + timedelta(minutes=50), timedelta(minutes=10), timedelta(minutes=30)
    )
    assert window.state(moment) == state


def test_a_join_token_admits_one_person_to_one_room_for_a_short_time() -> None:
    token = issue_join_token(CONFIG, booking_id=7, user_id=3, role="client", now=START)
    claims = read_join_token(CONFIG, token, booking_id=7, now=START + timedelta(seconds=119))
    assert (claims.booking_id, claims.user_id, claims.role) == (7, 3, "client")

    with pytest.raises(InvalidJoinToken, match="expired"):
        read_join_token(CONFIG, token, booking_id=7, now=START + timedelta(seconds=120))
    with pytest.raises(InvalidJoinToken, match="another room"):
        read_join_token(CONFIG, token, booking_id=8, now=START)
    with pytest.raises(InvalidJoinToken):
        read_join_token(CONFIG, token[:-2] + "xx", booking_id=7, now=START)
    with pytest.raises(InvalidJoinToken, match="Send a join token"):
        read_join_token(CONFIG, None, booking_id=7, now=START)
    # Signed with the app's secret key itself (as a session cookie would be): refused,
    # because join tokens use a key derived for that purpose only.
    forged = jwt.encode(
        {"aud": "consult-video-room", "sub": "3", "bid": 7, "role": "client", "exp": 2**40},
        CONFIG.secret_key,
        algorithm="HS256",
    )
    with pytest.raises(InvalidJoinToken):
        read_join_token(CONFIG, forged, booking_id=7, now=START)


def test_turn_credentials_follow_coturns_shared_secret_scheme() -> None:
    username, credential = turn_credentials("north", "b7c", 1_700_000_000)
    assert username == "1700000000:b7c"
    # Computed independently, as coturn's docs do: HMAC-SHA1 with openssl, base64.
    digest = subprocess.run(
        ["openssl", "dgst", "-sha1", "-hmac", "north", "-binary"],
        input=username.encode(),
        capture_output=True,
        check=True,
    ).stdout
    assert credential == base64.b64encode(digest).decode()


def test_ice_servers_come_from_settings_with_fresh_turn_credentials() -> None:
    assert ice_servers(CONFIG, "b1c", START) == []
    config = video_config(
        stun_urls=("stun:turn.example.com:3478",),
        turn_urls=("turn:turn.example.com:3478?transport=udp",),
        turn_secret="north",
        turn_ttl=timedelta(hours=6),
        ice_transport_policy="relay",
    )
    stun, turn = ice_servers(config, "b1c", START)
    assert stun == {"urls": ["stun:turn.example.com:3478"]}
    expires = int((START + timedelta(hours=6)).timestamp())
    assert turn["username"] == f"{expires}:b1c"
    assert turn["credential"] == turn_credentials("north", "b1c", expires)[1]
    assert peer_ice_config(config, "b1c", START)["iceTransportPolicy"] == "relay"
    # TURN URLs without the secret would hand out credentials coturn refuses: none at all.
    no_secret = video_config(base_url="", turn_urls=config.turn_urls)
    assert ice_servers(no_secret, "b1c", START) == []


@pytest.mark.parametrize(
    ("size", "capped"),
    [
        ((1280, 720), (640, 360)),
        ((640, 480), (480, 360)),
        ((320, 240), (320, 240)),  # never upscaled
        ((1081, 1921), (202, 360)),  # portrait phone, odd sizes made even
    ],
)
def test_the_relay_caps_resolution_keeping_the_aspect_ratio(
    size: tuple[int, int], capped: tuple[int, int]
) -> None:
    assert capped_size(*size, 640, 360) == capped


def test_message_text_is_cleaned_and_limited() -> None:
    assert clean_body("  hi\r\nthere\x00\x07  ", 100) == "hi\nthere"
    for bad, reason in [
        ("   ", "Write a message"),
        ("x" * 101, "at most 100"),
        (42, "Must be text"),
    ]:
        with pytest.raises(InvalidMessage) as caught:
            clean_body(bad, 100)
        assert reason in caught.value.fields["body"]


def test_messages_are_escaped_and_only_http_links_are_clickable() -> None:
    html = str(render_body('<img src=x onerror="alert(1)"> see https://example.org/a?b=1&c=2.'))
    assert html.startswith("&lt;img src=x onerror=&#34;alert(1)&#34;&gt; see ")
    assert (
        '<a href="https://example.org/a?b=1&amp;c=2" target="_blank" '
        'rel="noopener noreferrer nofollow">https://example.org/a?b=1&amp;c=2</a>.'
    ) in html
    assert "<a" not in str(render_body("javascript:alert(1) data:text/html,x ftp://x.org"))
    wiki = str(render_body("(see https://en.wikipedia.org/wiki/Foo_(bar))"))
    assert 'href="https://en.wikipedia.org/wiki/Foo_(bar)"' in wiki and wiki.endswith("</a>)")
    quoted = str(render_body('"https://example.org/"onmouseover="x"'))
    assert 'href="https://example.org/"' in quoted and "onmouseover=&#34;" in quoted
