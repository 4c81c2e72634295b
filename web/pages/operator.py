"""The operators' pages under ``/operator``: the queue of reported reviews and
contested no-shows, accounts (find by email, suspend after a confirm step that says
how many bookings it cancels, unsuspend) and the action log.

Anyone but an operator gets the 404 of a page that does not exist, for every path
under ``/operator`` and every method: :func:`init_app` answers it before the CSRF
check, which would otherwise tell a POST without a token that the form exists.
Every form carries its CSRF token (Flask-WTF refuses a POST without it).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from consult.db import utcnow
from moderation import services as moderation
from moderation.errors import ActionNotAllowed, ConfirmationRequired, ModerationInvalid
from web.forms import ReasonForm, SuspendForm
from web.pages.helpers import operator_required
from web.session import get_session

PREFIX = "/operator"
bp = Blueprint("operator", __name__, url_prefix=PREFIX)


def _only_operators() -> None:
    if request.path != PREFIX and not request.path.startswith(PREFIX + "/"):
        return
    if not current_user.is_authenticated or not current_user.account.is_operator:
        abort(404)


def init_app(app: Flask) -> None:
    """Hide the area from everyone but operators; call it before CSRF protection is
    set up, so that this check runs first."""
    app.before_request(_only_operators)


def _problem(error: ModerationInvalid | ActionNotAllowed) -> tuple[str, int]:
    """What to tell the operator about a refused action, and the page's status."""
    if isinstance(error, ModerationInvalid):
        return " ".join(f"{name.title()}: {text}" for name, text in error.fields.items()), 422
    return error.message, 409


# --- the queue ----------------------------------------------------------------------------


def _queue_page(problem: str | None = None, status: int = 200) -> Any:
    found = moderation.queue(get_session(), current_user.account)
    return (
        render_template(
            "operator/queue.html", queue=found, form=ReasonForm(formdata=None), problem=problem
        ),
        status,
    )


@bp.get("/")
@operator_required
def queue() -> Any:
    return _queue_page()


@bp.post("/reviews/<int:review_id>/hide")
@operator_required
def hide_review(review_id: int) -> Any:
    form = ReasonForm()
    session = get_session()
    try:
        moderation.hide_review(session, current_user.account, review_id, form.reason.data, utcnow())
    except (ModerationInvalid, ActionNotAllowed) as error:
        session.rollback()
        return _queue_page(*_problem(error))
    session.commit()
    flash("The review is hidden; its client and professional see why.", "success")
    return redirect(url_for("operator.queue"))


@bp.post("/reviews/<int:review_id>/restore")
@operator_required
def restore_review(review_id: int) -> Any:
    form = ReasonForm()
    session = get_session()
    try:
        moderation.restore_review(
            session, current_user.account, review_id, form.reason.data, utcnow()
        )
    except (ModerationInvalid, ActionNotAllowed) as error:
        session.rollback()
        return _queue_page(*_problem(error))
    session.commit()
    flash("The review stays on show; its report is cleared.", "success")
    return redirect(url_for("operator.queue"))


@bp.post("/no-shows/<int:booking_id>/handle")
@operator_required
def handle_no_show(booking_id: int) -> Any:
    form = ReasonForm()
    session = get_session()
    try:
        moderation.handle_no_show(
            session, current_user.account, booking_id, form.reason.data, utcnow()
        )
    except (ModerationInvalid, ActionNotAllowed) as error:
        session.rollback()
        return _queue_page(*_problem(error))
    session.commit()
    flash("The contested no-show is marked handled.", "success")
    return redirect(url_for("operator.queue"))


# --- accounts -----------------------------------------------------------------------------


def _accounts_page(email: str, problem: str | None = None, status: int = 200) -> Any:
    session = get_session()
    operator = current_user.account
    found = moderation.find_accounts(session, operator, email) if email else []
    now = utcnow()
    return (
        render_template(
            "operator/accounts.html",
            email=email,
            accounts=[(user, moderation.bookings_to_cancel(session, user, now)) for user in found],
            form=SuspendForm(formdata=None),
            problem=problem,
        ),
        status,
    )


@bp.get("/accounts")
@operator_required
def accounts() -> Any:
    return _accounts_page(request.args.get("email", "")[:254])


@bp.post("/accounts/<int:user_id>/suspend")
@operator_required
def suspend(user_id: int) -> Any:
    """Without ``confirm=1``: the confirm page with the number of bookings it
    cancels (nothing changes). With it: suspend, then back to the account."""
    form = SuspendForm()
    session = get_session()
    operator = current_user.account
    user = moderation.get_account(session, operator, user_id)
    try:
        suspension = moderation.suspend(
            session, operator, user_id, form.reason.data, utcnow(), confirm=form.confirm.data == "1"
        )
    except ConfirmationRequired as error:
        form.confirm.data = "1"
        return render_template(
            "operator/confirm_suspend.html", user=user, bookings=error.bookings, form=form
        )
    except (ModerationInvalid, ActionNotAllowed) as error:
        session.rollback()
        return _accounts_page(user.email, *_problem(error))
    session.commit()
    count = len(suspension.cancelled)
    flash(
        f"{user.email} is suspended; {count} future booking{'' if count == 1 else 's'} "
        "cancelled and their clients told.",
        "success",
    )
    return redirect(url_for("operator.accounts", email=user.email))


@bp.post("/accounts/<int:user_id>/unsuspend")
@operator_required
def unsuspend(user_id: int) -> Any:
    form = ReasonForm()
    session = get_session()
    try:
        user = moderation.unsuspend(
            session, current_user.account, user_id, form.reason.data, utcnow()
        )
    except (ModerationInvalid, ActionNotAllowed) as error:
        session.rollback()
        account = moderation.get_account(session, current_user.account, user_id)
        return _accounts_page(account.email, *_problem(error))
    email = user.email
    session.commit()
    flash(f"{email} can sign in again and is listed again.", "success")
    return redirect(url_for("operator.accounts", email=email))


# --- the log ------------------------------------------------------------------------------


@bp.get("/log")
@operator_required
def log() -> Any:
    raw = request.args.get("page", "1")
    page = int(raw) if raw.isdigit() and len(raw) < 7 else 1
    found = moderation.action_log(get_session(), current_user.account, page)
    return render_template("operator/log.html", log=found)
