"""Settings: defaults, then `loopml.toml`, then `LOOPML_*` variables, then arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.config import Settings, load_settings
from loopml.errors import ConfigError


def write_config(root: Path, text: str) -> Path:
    config = root / "loopml.toml"
    config.write_text(text)
    return config


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})

    assert settings.root == tmp_path
    assert settings.resolved_store_url() == f"sqlite:///{tmp_path}/.loopml/loopml.db"
    assert settings.resolved_artifacts_url() == str(tmp_path / ".loopml" / "artifacts")
    assert settings.artifacts_fsync is False
    assert settings.s3_endpoint_url is None


def test_values_come_from_loopml_toml(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        'store_url = "sqlite:///meta/store.db"\n'
        'artifacts_url = "s3://bucket/prefix"\n'
        "artifacts_fsync = true\n"
        "metric_flush_points = 10\n"
        "require_tokens = true\n",
    )

    settings = load_settings(tmp_path, environ={})

    assert settings.resolved_store_url() == f"sqlite:///{tmp_path}/meta/store.db"
    assert settings.resolved_artifacts_url() == "s3://bucket/prefix"
    assert settings.artifacts_fsync is True
    assert settings.metric_flush_points == 10
    assert settings.require_tokens is True


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    write_config(tmp_path, 'store_url = "sqlite:///from-file.db"\nmetric_flush_points = 10\n')
    environ = {
        "LOOPML_STORE_URL": "postgresql://u@db.example/loop",
        "LOOPML_ARTIFACTS_URL": "/srv/artifacts",
        "LOOPML_ARTIFACTS_FSYNC": "true",
        "LOOPML_METRIC_FLUSH_POINTS": "20",
        "LOOPML_METRIC_FLUSH_INTERVAL_S": "0.5",
        "LOOPML_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "LOOPML_UNRELATED": "ignored",
        "loopml_store_url": "sqlite:///lower-case-is-not-read.db",
    }

    settings = load_settings(tmp_path, environ=environ)

    assert settings.resolved_store_url() == "postgresql+psycopg://u@db.example/loop"
    assert settings.resolved_artifacts_url() == "/srv/artifacts"
    assert settings.artifacts_fsync is True
    assert settings.metric_flush_points == 20
    assert settings.metric_flush_interval_s == 0.5
    assert settings.s3_endpoint_url == "http://127.0.0.1:9000"


def test_arguments_override_the_environment_and_none_is_ignored(tmp_path: Path) -> None:
    environ = {"LOOPML_STORE_URL": "sqlite:///env.db", "LOOPML_ARTIFACTS_URL": "env-artifacts"}

    settings = load_settings(
        tmp_path, environ=environ, store_url="sqlite:///arg.db", artifacts_url=None
    )

    assert settings.store_url == "sqlite:///arg.db"
    assert settings.artifacts_url == "env-artifacts"


def test_reads_os_environ_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPML_AUDIT_KEY_FILE", "/from/os/environ")

    assert load_settings(tmp_path).audit_key_file == "/from/os/environ"


def test_no_setting_chooses_who_acts(tmp_path: Path) -> None:
    """The local identity is the operating-system account, never a configurable name."""
    assert "user" not in Settings.model_fields
    with pytest.raises(ConfigError, match="user"):
        load_settings(tmp_path, environ={}, user="approver1")


def test_the_root_cannot_be_overridden_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"LOOPML_ROOT": "/elsewhere"})

    assert settings.root == tmp_path


@pytest.mark.parametrize(
    ("store_url", "resolved"),
    [
        ("sqlite:///relative/x.db", "sqlite:///{root}/relative/x.db"),
        ("sqlite:////absolute/x.db", "sqlite:////absolute/x.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_resolved_store_url(tmp_path: Path, store_url: str, resolved: str) -> None:
    settings = load_settings(tmp_path, environ={}, store_url=store_url)

    assert settings.resolved_store_url() == resolved.format(root=tmp_path)


@pytest.mark.parametrize(
    ("value", "resolved"),
    [
        ("rel/artifacts", "{root}/rel/artifacts"),
        ("/abs/artifacts", "/abs/artifacts"),
        ("~/artifacts", "{home}/artifacts"),
        ("s3://bucket/prefix", "s3://bucket/prefix"),
    ],
)
def test_resolved_artifacts_url(tmp_path: Path, value: str, resolved: str) -> None:
    settings = load_settings(tmp_path, environ={}, artifacts_url=value)

    assert settings.resolved_artifacts_url() == resolved.format(root=tmp_path, home=Path.home())


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})

    with pytest.raises(ValueError, match="frozen"):
        settings.require_tokens = False  # type: ignore[misc]


def test_every_setting_is_documented() -> None:
    undocumented = [name for name, f in Settings.model_fields.items() if not f.description]

    assert undocumented == []


# ---------------------------------------------------------------------- unhappy paths
def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'store_url = "unterminated\n')

    with pytest.raises(ConfigError, match="is not valid TOML") as info:
        load_settings(tmp_path, environ={})
    assert str(config) in str(info.value)


def test_config_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "loopml.toml").write_bytes(b'token = "\xff\xfe"\n')

    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(tmp_path, environ={})


def test_unreadable_config_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "loopml.toml").mkdir()

    with pytest.raises(ConfigError, match=r"cannot read .*loopml\.toml"):
        load_settings(tmp_path, environ={})


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("metric_flush_points = -1", r"metric_flush_points = -1 \(from .*loopml.toml\): .*greater"),
        ("metric_flush_interval_s = 0", r"metric_flush_interval_s = 0 .*greater than 0"),
        ("store_url = 5", r"store_url = 5 .*valid string"),
        ('store_url = "mysql://h/db"', r"store_url must be a sqlite:/// or postgresql"),
        ('artifacts_fsync = "maybe"', r"artifacts_fsync = 'maybe' .*valid boolean"),
        ("bogus = 1", r"bogus = 1 .*Extra inputs are not permitted"),
        ("[store]\nurl = 'x'", r"store = \{'url': 'x'\} .*Extra inputs"),
    ],
)
def test_invalid_value_in_the_file_names_setting_and_source(
    tmp_path: Path, toml: str, expected: str
) -> None:
    write_config(tmp_path, toml + "\n")

    with pytest.raises(ConfigError, match=expected):
        load_settings(tmp_path, environ={})


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("LOOPML_METRIC_FLUSH_POINTS", "many", r"\(from LOOPML_METRIC_FLUSH_POINTS\): .*integer"),
        ("LOOPML_ARTIFACTS_FSYNC", "perhaps", r"\(from LOOPML_ARTIFACTS_FSYNC\): .*boolean"),
        ("LOOPML_STORE_URL", "redis://h", r"\(from LOOPML_STORE_URL\): .*sqlite:///"),
    ],
)
def test_invalid_environment_value_names_the_variable(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_settings(tmp_path, environ={variable: value})


def test_invalid_argument_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"metric_flush_points = 0 \(from an argument\)"):
        load_settings(tmp_path, environ={}, metric_flush_points=0)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    write_config(tmp_path, "metric_flush_points = 0\n")

    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ={"LOOPML_METRIC_FLUSH_INTERVAL_S": "-1"})
    assert "metric_flush_points" in str(info.value)
    assert "LOOPML_METRIC_FLUSH_INTERVAL_S" in str(info.value)
