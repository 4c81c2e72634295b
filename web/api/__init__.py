"""The JSON API under ``/api/v1`` for mobile apps and integrators.

Authentication is a bearer access token (``POST /api/v1/auth/token``); CSRF does
not apply because browsers never attach bearer tokens on their own. Each
resource lives in its own module that adds routes to
:data:`web.api.blueprint.bp`; :func:`web.build_app` imports them all.
"""
