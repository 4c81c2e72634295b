"""Fixtures for calendar sync: the outside calendar servers on loopback (a stock
Radicale, an ICS file server, the Google and Microsoft stand-ins) and settings that
point the platform at them.

Loopback addresses are private, so these tests turn ``[sync]
allow_private_addresses`` on (production keeps it off); the periodic dispatcher is
off unless a test turns it on, so syncs happen exactly when a test asks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sync.servers import google as google_server
from tests.sync.servers import graph as graph_server
from tests.sync.servers.google import GoogleStandIn
from tests.sync.servers.graph import GraphStandIn
from tests.sync.servers.ics import IcsServer
from tests.sync.servers.radicale import ExternalRadicale


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExternalRadicale]:
    server = ExternalRadicale(Path(tmp_path_factory.mktemp("external-radicale")))
    yield server
    server.stop()


@pytest.fixture
def ics() -> Iterator[IcsServer]:
    server = IcsServer()
    yield server
    server.stop()


@pytest.fixture
def google() -> Iterator[GoogleStandIn]:
    server = GoogleStandIn()
    yield server
    server.stop()


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    server = GraphStandIn()
    yield server
    server.stop()


def sync_settings(google: GoogleStandIn, graph: GraphStandIn, **extra: str) -> dict[str, str]:
    """``[sync]`` overrides that point the platform at the stand-ins."""
    return {
        "allow_private_addresses": "true",
        "dispatch_seconds": "0",
        "request_timeout_seconds": "10",
        "google_client_id": google_server.CLIENT_ID,
        "google_client_secret": google_server.CLIENT_SECRET,
        "google_auth_url": f"{google.url}/o/oauth2/v2/auth",
        "google_token_url": f"{google.url}/token",
        "google_revoke_url": f"{google.url}/revoke",
        "google_api_url": f"{google.url}/calendar/v3",
        "microsoft_client_id": graph_server.CLIENT_ID,
        "microsoft_client_secret": graph_server.CLIENT_SECRET,
        "microsoft_auth_url": f"{graph.url}/common/oauth2/v2.0/authorize",
        "microsoft_token_url": f"{graph.url}/common/oauth2/v2.0/token",
        "microsoft_graph_url": f"{graph.url}/v1.0",
        **extra,
    }


@pytest.fixture
def sync_overrides(request: pytest.FixtureRequest) -> dict[str, str]:
    """More ``[sync]`` settings: override in a module, or per test with
    ``@pytest.mark.parametrize("sync_overrides", [{...}], indirect=True)``."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
def settings_overrides(
    google: GoogleStandIn, graph: GraphStandIn, sync_overrides: dict[str, str]
) -> dict[str, dict[str, Any]]:
    return {"sync": sync_settings(google, graph, **sync_overrides)}
