"""``/pro/profile``: headline, bio, categories, languages, time zone and photo."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from consult.db import utcnow
from directory import photos, profiles
from directory.errors import ProfileInvalid
from web.forms import ProfileForm
from web.pages.helpers import TIMEZONES, professional_required
from web.pages.pro import after_step, bp, progress_of
from web.session import get_session, get_settings


def _form_for(profile: profiles.ProfessionalProfile | None, user: Any) -> ProfileForm:
    form = ProfileForm()
    form.timezone.choices = [SelectChoice(zone, zone.replace("_", " ")) for zone in TIMEZONES]
    if request.method == "GET":
        form.timezone.data = user.timezone
        if profile is not None:
            form.headline.data = profile.headline
            form.bio.data = profile.bio
            form.categories.data = profile.categories
            form.languages.data = profile.languages
    return form


@bp.route("/profile", methods=["GET", "POST"])
@professional_required
def profile() -> Any:
    """Edit the public profile; a photo is checked by content, re-encoded and replaces
    the old one."""
    session = get_session()
    user = current_user.account
    current = profiles.get_profile(session, user.id)
    form = _form_for(current, user)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit() and _save(form, user):
            flash("Your profile is saved.", "success")
            return redirect(after_step("profile") or url_for("pro.profile"))
        status = 422
    current = profiles.get_profile(session, user.id)
    return (
        render_template(
            "pro/profile.html",
            form=form,
            profile=current,
            onboarding=request.args.get("onboarding") == "1",
            progress=progress_of(session, user),
            max_photo_mb=photos.MAX_PHOTO_BYTES // (1024 * 1024),
            max_photo_megapixels=photos.MAX_PIXELS // 1_000_000,
        ),
        status,
    )


def _save(form: ProfileForm, user: Any) -> bool:
    """Apply the form; False (with errors on the fields) when something is invalid."""
    session = get_session()
    data_dir = get_settings().data_dir
    upload = form.photo.data
    photo_bytes = upload.read(photos.MAX_PHOTO_BYTES + 1) if upload and upload.filename else b""
    photo = None
    try:
        data = profiles.parse_profile_input(
            {
                "headline": form.headline.data,
                "bio": form.bio.data,
                "categories": form.categories.data or [],
                "languages": form.languages.data or [],
                "timezone": form.timezone.data,
            }
        )
        if photo_bytes:
            photo = photos.prepare_photo(photo_bytes)
    except ProfileInvalid as error:
        _errors_into(form, error.fields)
        # The photo is checked too (its header: no need to decode it now), so every
        # problem shows at once.
        if photo_bytes and "photo" not in error.fields:
            try:
                photos.check_photo(photo_bytes)
            except ProfileInvalid as photo_error:
                _errors_into(form, photo_error.fields)
        return False
    profile = profiles.save_profile(session, user, data, utcnow())
    old_photo = None
    new_photo = None
    if photo is not None:
        new_photo = photos.store_photo(data_dir, user.id, photo)
        old_photo = profiles.set_photo(session, profile, new_photo)
    elif form.remove_photo.data and profile.photo_filename:
        old_photo = profiles.set_photo(session, profile, None)
    try:
        session.commit()
    except Exception:
        session.rollback()
        photos.delete_photo(data_dir, new_photo)
        raise
    photos.delete_photo(data_dir, old_photo)
    return True


def _errors_into(form: ProfileForm, fields: dict[str, str]) -> None:
    for name, message in fields.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)
