"""Radicale plugins, loaded by dotted path from Radicale's configuration:
``[auth] type = plugins.auth`` (platform accounts and app passwords),
``[rights] type = plugins.rights`` (each user sees only their own principal) and
``[storage] type = plugins.storage`` (calendars in the platform's database).

Each reads ``database_url`` from its section, so stock Radicale can load them too.
"""
