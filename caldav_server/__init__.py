"""The embedded CalDAV server: Radicale mounted in the web app at ``/dav``, with its
calendars stored in the platform's database (see :mod:`plugins.storage`).

:func:`create_dav_app` builds the Radicale WSGI app from the platform's settings;
:mod:`caldav_server.store` is the transactional API the booking layer uses to read
and write the same calendars without going through HTTP.
"""

from caldav_server.app import create_dav_app

__all__ = ["create_dav_app"]
