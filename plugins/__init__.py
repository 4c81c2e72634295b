"""Radicale plugins: ``auth`` (platform accounts and app passwords), ``rights``
(each user sees only their own principal) and ``storage`` (calendars in the
platform's database), and :func:`create_dav_app`, which builds Radicale with them.

The platform hands the plugins its database (:mod:`plugins.app`). Stock Radicale
can also load them by dotted path (``[storage] type = plugins.storage`` with a
``database_url``): they then run without a platform, so nothing reacts to what is
written (no booking follows an edit, no busy time is indexed).
"""

from plugins.app import create_dav_app, radicale_configuration

__all__ = ["create_dav_app", "radicale_configuration"]
