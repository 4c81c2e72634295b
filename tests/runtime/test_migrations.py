"""Models and migrations agree, and every migration can be undone."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from runtime.migrate import current_heads, downgrade, upgrade
from runtime.models import metadata
from tests.helpers import PG_ADMIN_URL


def _diff(engine: sa.Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


@pytest.fixture
def scratch_pg() -> sa.Engine:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = "consult_migrations_scratch_" + str(id(admin))
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_postgresql_migrations_match_the_models_and_downgrade_cleanly(
    scratch_pg: sa.Engine,
) -> None:
    upgrade(scratch_pg)
    assert _diff(scratch_pg) == []
    assert current_heads(scratch_pg)
    downgrade(scratch_pg, "base")
    assert sa.inspect(scratch_pg).get_table_names() == ["alembic_version"]
    upgrade(scratch_pg)
    assert _diff(scratch_pg) == []


def test_sqlite_migrations_match_the_models_and_downgrade_cleanly(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    assert _diff(engine) == []
    downgrade(engine, "base")
    assert sa.inspect(engine).get_table_names() == ["alembic_version"]


def test_there_is_a_single_head() -> None:
    from alembic.script import ScriptDirectory

    from runtime.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
