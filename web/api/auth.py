"""Accounts over the API: register, tokens, refresh, ``/me``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import g, jsonify

from accounts import services
from accounts.models import User
from web.api.blueprint import bp
from web.api.helpers import client_ip, json_body, require_user
from web.session import get_session, get_settings


def user_json(user: User) -> dict[str, Any]:
    """The public shape of an account (never any password material)."""
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "roles": user.roles,
        "timezone": user.timezone,
        "locale": user.locale,
        "caldav_principal": user.principal,
        "created_at": user.created_at.isoformat(),
    }


def _token_lifetimes() -> tuple[timedelta, timedelta]:
    auth = get_settings().auth
    return timedelta(minutes=auth.access_token_minutes), timedelta(days=auth.refresh_token_days)


def _tokens_json(pair: services.TokenPair) -> dict[str, Any]:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "bearer",
        "expires_in": pair.expires_in,
    }


@bp.post("/auth/register")
def register() -> Any:
    registration = services.validate_registration(
        json_body(), get_settings().auth.min_password_length
    )
    session = get_session()
    user = services.register(session, registration)
    session.commit()
    return jsonify(user_json(user)), 201


@bp.post("/auth/token")
def token() -> Any:
    data = json_body()
    session = get_session()
    user = services.authenticate(
        session,
        data.get("email"),
        data.get("password"),
        client_ip(),
        services.LoginPolicy.from_settings(get_settings().auth),
    )
    pair = services.issue_tokens(session, user, get_settings().app.secret_key, *_token_lifetimes())
    session.commit()
    return jsonify(_tokens_json(pair))


@bp.post("/auth/refresh")
def refresh() -> Any:
    data = json_body()
    session = get_session()
    pair = services.refresh_tokens(
        session, data.get("refresh_token"), get_settings().app.secret_key, *_token_lifetimes()
    )
    session.commit()
    return jsonify(_tokens_json(pair))


@bp.post("/auth/sign-out-everywhere")
@require_user
def sign_out_everywhere() -> Any:
    """End every browser session and revoke every token of the caller, this one too."""
    session = get_session()
    services.sign_out_everywhere(session, g.user)
    session.commit()
    return "", 204


@bp.get("/me")
@require_user
def me() -> Any:
    return jsonify(user_json(g.user))
