"""Pages for clients and professionals, server-rendered with Jinja and enhanced by
small plain-JavaScript files in ``static/js`` (no build step).

- :mod:`web.pages.public`: a professional's page with the booking widget, the
  booking form (with sign-up on the fly) and profile photos;
- :mod:`web.pages.pro` and its siblings: onboarding, dashboard, profile, services
  and group sessions, weekly hours, calendar connection, under ``/pro``.

The home page with search is :mod:`web.home`; "My bookings" and one booking's page
are :mod:`web.booking_pages`.
"""

from __future__ import annotations

from flask import Flask

from directory import profiles


def init_app(app: Flask) -> None:
    """Register the page blueprints, template helpers and the search-document listener."""
    from web.pages import helpers, pro, pro_calendar, pro_hours, pro_profile, pro_services, public

    del pro_calendar, pro_hours, pro_profile, pro_services  # imported for their routes
    profiles.install()
    app.register_blueprint(public.bp)
    app.register_blueprint(pro.bp)
    app.add_template_global(public.photo_url, "photo_url")
    app.add_template_global(profiles.initials, "initials")
    for name, function in helpers.template_helpers().items():
        app.add_template_global(function, name)
