"""The composition root: the one package that imports every other.

:func:`create_platform` builds a process's platform with every package included;
:func:`create_app` makes the web app (``gunicorn 'runtime:create_app()'``);
:mod:`runtime.worker` runs ``consult worker``; :mod:`runtime.cli` is the
``consult`` command; :mod:`runtime.migrate` and ``runtime/migrations`` hold the
schema's history, :mod:`runtime.models` every table.
"""

from runtime.app import create_app, shutdown_app
from runtime.platform import create_platform

__all__ = ["create_app", "create_platform", "shutdown_app"]
