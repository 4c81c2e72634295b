"""Pages for clients and professionals, server-rendered with Jinja and enhanced by
small plain-JavaScript files in ``static/js`` (no build step).

- :mod:`web.pages.public`: a professional's page with the booking widget, the
  booking form (with sign-up on the fly) and profile photos;
- :mod:`web.pages.pro` and its siblings: onboarding, dashboard, profile, services
  and group sessions, weekly hours, calendar connection, under ``/pro``.

The home page with search is :mod:`web.home`; "My bookings" and one booking's page
are :mod:`web.booking_pages`.
"""
