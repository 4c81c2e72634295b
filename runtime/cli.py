"""The ``consult`` command.

consult serve [--host H] [--port P]   the web app with CalDAV at /dav
consult worker [--burst]              an rq worker (with the scheduler) for background jobs
consult db upgrade | current          Alembic migrations
consult dav import FOLDER | export FOLDER
                                      move calendars in from / out to Radicale's file storage
consult video [--host H] [--port P]   the aiortc media relay (video fallback), its own process
consult admin create-operator EMAIL   give an account the operator role (or create one)
consult config                        print the documented config.ini
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
from werkzeug.serving import run_simple

from accounts.errors import EmailTaken
from caldav_server import transfer
from caldav_server.errors import TransferError
from consult.config import ConfigError, Settings, load_settings, render_config_ini
from consult.logs import configure_logging
from moderation.errors import ModerationInvalid
from moderation.services import create_operator
from runtime.app import create_app
from runtime.migrate import current_heads, upgrade
from runtime.platform import create_platform
from runtime.worker import run_worker
from video.config import VideoConfig
from video.relay import run_relay

log = logging.getLogger("consult")


def _settings(args: argparse.Namespace, **overrides: dict[str, Any]) -> Settings:
    return load_settings(config_file=args.config, overrides=overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    server: dict[str, Any] = {}
    if args.host:
        server["host"] = args.host
    if args.port is not None:
        server["port"] = args.port
    settings = _settings(args, server=server)
    app = create_app(settings)
    host, port = settings.server.host, settings.server.port
    print(f"Consult is running on http://{host}:{port}/  (CalDAV: http://{host}:{port}/dav/)")
    print(f"Data folder: {settings.data_dir}")
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not settings.redis.url:
        print(
            "consult worker needs Redis: set CONSULT_REDIS_URL (or [redis] url). "
            "Without it, jobs run inside `consult serve`.",
            file=sys.stderr,
        )
        return 2
    return run_worker(settings, burst=args.burst)


def cmd_db(args: argparse.Namespace) -> int:
    settings = _settings(args)
    engine = create_engine(settings.database.url, poolclass=NullPool)
    try:
        if args.action == "upgrade":
            upgrade(engine)
            print("Database is up to date:", ", ".join(sorted(current_heads(engine))))
        else:
            print(", ".join(sorted(current_heads(engine))) or "empty database")
    finally:
        engine.dispose()
    return 0


def cmd_dav(args: argparse.Namespace) -> int:
    settings = _settings(args)
    folder = Path(args.folder)
    if args.action == "import" and not folder.is_dir():
        print(f"No such folder: {folder}", file=sys.stderr)
        return 2
    platform = create_platform(settings, "command")
    try:
        if args.action == "import":
            upgrade(platform.database.engine)
            summary = transfer.import_folder(platform.database, folder)
        else:
            summary = transfer.export_folder(platform.database, folder)
    finally:
        platform.shutdown()
    print(summary)
    return 0


def cmd_video(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings)
    return run_relay(VideoConfig.from_settings(settings), host=args.host, port=args.port)


def cmd_admin(args: argparse.Namespace) -> int:
    """``admin create-operator EMAIL``: the one way to the operator role."""
    settings = _settings(args)
    platform = create_platform(settings, "command")
    try:
        upgrade(platform.database.engine)
        with platform.database.session() as session:
            grant = create_operator(session, args.email)
            email = grant.user.email
    except ModerationInvalid as error:
        reason = error.fields.get("email", error.message)
        print(f"consult: {args.email!r} is not a usable email address: {reason}", file=sys.stderr)
        return 2
    except EmailTaken as error:  # registered meanwhile: run the command again
        print(f"consult: {error.message}", file=sys.stderr)
        return 2
    finally:
        platform.shutdown()
    if grant.created:
        print(f"Created the operator account {email}.")
        print(f"Its password (shown only now; change it after signing in): {grant.password}")
    elif grant.already:
        print(f"{email} is an operator already; nothing changed.")
    else:
        print(f"{email} is an operator now.")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    print(render_config_ini())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="consult", description="Consultation platform.")
    parser.add_argument(
        "--config", help="config file (default: $CONSULT_CONFIG or ./config.ini if present)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web app with CalDAV at /dav")
    serve.add_argument("--host", help="address to listen on")
    serve.add_argument("--port", type=int, help="port to listen on")
    serve.set_defaults(func=cmd_serve)

    worker = commands.add_parser("worker", help="run an rq worker for background jobs")
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.set_defaults(func=cmd_worker)

    db = commands.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "current"])
    db.set_defaults(func=cmd_db)

    dav = commands.add_parser("dav", help="import or export Radicale file storage")
    dav.add_argument("action", choices=["import", "export"])
    dav.add_argument("folder", help="Radicale storage folder (the one holding collection-root)")
    dav.set_defaults(func=cmd_dav)

    video = commands.add_parser("video", help="run the aiortc media relay for video fallback")
    video.add_argument("--host", help="address of the relay's control API")
    video.add_argument("--port", type=int, help="port of the relay's control API")
    video.set_defaults(func=cmd_video)

    admin = commands.add_parser("admin", help="administer accounts")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_commands.add_parser(
        "create-operator", help="give an account the operator role, or create one"
    )
    create.add_argument("email", help="the account's email address")
    create.set_defaults(func=cmd_admin)

    config = commands.add_parser("config", help="print the documented config.ini")
    config.set_defaults(func=cmd_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as error:
        print(f"consult: configuration error: {error}", file=sys.stderr)
        return 2
    except TransferError as error:
        print(f"consult: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
