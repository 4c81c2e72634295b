from __future__ import annotations

import os
from pathlib import Path

import pytest

from consult.config import SCHEMA, ConfigError, load_settings, render_config_ini

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_give_an_embedded_sqlite_database_and_a_persisted_secret(tmp_path: Path) -> None:
    settings = load_settings(
        config_file=os.devnull, environ={"CONSULT_DATA_DIR": str(tmp_path / "data")}
    )
    assert settings.database.url == f"sqlite:///{tmp_path / 'data' / 'consult.db'}"
    assert settings.redis.url == ""
    secret = (tmp_path / "data" / "secret_key").read_text().strip()
    assert settings.app.secret_key == secret and len(secret) >= 32
    assert oct((tmp_path / "data" / "secret_key").stat().st_mode & 0o777) == "0o600"
    again = load_settings(
        config_file=os.devnull, environ={"CONSULT_DATA_DIR": str(tmp_path / "data")}
    )
    assert again.app.secret_key == secret


def test_environment_overrides_the_file_with_the_fixed_variable_names(tmp_path: Path) -> None:
    config = tmp_path / "config.ini"
    config.write_text(
        "[app]\nbase_url = https://file.example\n[database]\nurl = sqlite:///file.db\n"
    )
    environ = {
        "CONSULT_DATA_DIR": str(tmp_path / "d"),
        "CONSULT_DATABASE_URL": "postgresql://u@db.example/consult",
        "CONSULT_REDIS_URL": "redis://cache:6379/0",
        "CONSULT_SECRET_KEY": "s" * 40,
        "CONSULT_BASE_URL": "https://book.example/",
    }
    settings = load_settings(config_file=config, environ=environ)
    assert settings.database.url == "postgresql+psycopg://u@db.example/consult"
    assert settings.redis.url == "redis://cache:6379/0"
    assert settings.app.secret_key == "s" * 40
    assert settings.app.base_url == "https://book.example"
    assert settings.data_dir == (tmp_path / "d").resolve()
    assert settings.sources[("database", "url")] == "environment variable CONSULT_DATABASE_URL"


def test_the_file_overrides_defaults(tmp_path: Path) -> None:
    config = tmp_path / "config.ini"
    config.write_text(f"[app]\ndata_dir = {tmp_path / 'x'}\n[server]\nport = 9123\n")
    settings = load_settings(config_file=config, environ={})
    assert settings.server.port == 9123
    assert settings.sources[("server", "port")] == f"file {config}"


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        (
            {"CONSULT_DATABASE_URL": "mysql://x"},
            "'url' in section [database] (from environment variable CONSULT_DATABASE_URL)",
        ),
        (
            {"CONSULT_REDIS_URL": "http://x"},
            "'url' in section [redis] (from environment variable CONSULT_REDIS_URL)",
        ),
        (
            {"CONSULT_BASE_URL": "not a url"},
            "'base_url' in section [app] (from environment variable CONSULT_BASE_URL)",
        ),
        (
            {"CONSULT_SECRET_KEY": "short"},
            "'secret_key' in section [app] (from environment variable CONSULT_SECRET_KEY)",
        ),
        ({"CONSULT_SERVER_PORT": "99999"}, "'port' in section [server]"),
        ({"CONSULT_APP_AUTO_MIGRATE": "perhaps"}, "'auto_migrate' in section [app]"),
    ],
)
def test_a_bad_value_names_the_option_and_its_source(
    tmp_path: Path, environ: dict[str, str], fragment: str
) -> None:
    environ = {"CONSULT_DATA_DIR": str(tmp_path), **environ}
    with pytest.raises(ConfigError) as caught:
        load_settings(config_file=os.devnull, environ=environ)
    assert fragment in str(caught.value)


def test_unknown_sections_and_options_in_the_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.ini"
    config.write_text("[app]\ndata_dirr = x\n")
    with pytest.raises(ConfigError, match="unknown option 'data_dirr' in section \\[app\\]"):
        load_settings(config_file=config, environ={})
    config.write_text("[nope]\nx = 1\n")
    with pytest.raises(ConfigError, match="unknown section \\[nope\\]"):
        load_settings(config_file=config, environ={})


def test_a_data_dir_that_cannot_be_created_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="'data_dir' in section \\[app\\]"):
        load_settings(config_file=os.devnull, environ={"CONSULT_DATA_DIR": str(blocker / "d")})


def test_secrets_are_masked_in_the_startup_description(tmp_path: Path) -> None:
    settings = load_settings(
        config_file=os.devnull,
        environ={
            "CONSULT_DATA_DIR": str(tmp_path),
            "CONSULT_DATABASE_URL": "postgresql://app:hunter2@db/consult",
            "CONSULT_SECRET_KEY": "k" * 40,
        },
    )
    text = "\n".join(settings.describe())
    assert "hunter2" not in text and "k" * 40 not in text
    assert "postgresql+psycopg://app:***@db/consult" in text


def test_committed_config_ini_documents_every_option() -> None:
    committed = (ROOT / "config.ini").read_text()
    assert committed.strip() == render_config_ini().strip()
    for section, options in SCHEMA.items():
        assert f"[{section}]" in committed
        for name in options:
            assert f"#{name} = " in committed


def test_base_url_follows_the_served_host_and_port_unless_set(tmp_path: Path) -> None:
    environ = {"CONSULT_DATA_DIR": str(tmp_path / "d")}
    served = load_settings(
        config_file=os.devnull, environ=environ, overrides={"server": {"port": 9000}}
    )
    assert served.app.base_url == "http://127.0.0.1:9000"
    everywhere = load_settings(
        config_file=os.devnull, environ=environ, overrides={"server": {"host": "0.0.0.0"}}
    )
    assert everywhere.app.base_url == "http://127.0.0.1:8000"
    ipv6 = load_settings(
        config_file=os.devnull, environ=environ, overrides={"server": {"host": "::1"}}
    )
    assert ipv6.app.base_url == "http://[::1]:8000"
    chosen = load_settings(
        config_file=os.devnull,
        environ={**environ, "CONSULT_BASE_URL": "https://book.example"},
        overrides={"server": {"port": 9000}},
    )
    assert chosen.app.base_url == "https://book.example"
