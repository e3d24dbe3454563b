"""Settings come from the environment, with defaults that work on a fresh laptop."""

from __future__ import annotations

import stat

import pytest

from service.config import Settings


def test_embedded_defaults(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KINDRED_VAR_DIR", str(tmp_path / "var"))
    settings = Settings.from_env()
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'kindred.db'}"
    assert settings.uses_embedded_redis
    assert settings.max_body_bytes == 64 * 1024


def test_secret_key_is_generated_once_and_kept_private(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("KINDRED_VAR_DIR", str(tmp_path))
    first = Settings.from_env().secret_key
    assert len(first) >= 48
    assert Settings.from_env().secret_key == first  # the same key on the next start
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_environment_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("KINDRED_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("REDIS_URL", "redis://h:6379/2")
    monkeypatch.setenv("KINDRED_MAX_BODY_BYTES", "1024")
    settings = Settings.from_env()
    assert (settings.secret_key, settings.database_url, settings.redis_url) == (
        "from-env",
        "postgresql://u@h/db",
        "redis://h:6379/2",
    )
    assert settings.max_body_bytes == 1024
    assert not settings.uses_embedded_redis
    assert not (tmp_path / "secret_key").exists()


def test_the_support_url_is_an_http_address_or_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("KINDRED_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.delenv("KINDRED_SUPPORT_URL", raising=False)
    assert Settings.from_env().support_url is None
    monkeypatch.setenv("KINDRED_SUPPORT_URL", "https://support.example.org/near-you")
    assert Settings.from_env().support_url == "https://support.example.org/near-you"
    for wrong in (
        "javascript:alert(1)",
        "ftp://files.example.org",
        "support.example.org",
        "http://",
    ):
        monkeypatch.setenv("KINDRED_SUPPORT_URL", wrong)
        with pytest.raises(ValueError, match="KINDRED_SUPPORT_URL must be an http"):
            Settings.from_env()
