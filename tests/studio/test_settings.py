"""Settings: the embedded default, production from the environment, and safe refusals."""

from __future__ import annotations

import os
import subprocess
import sys

from studio.launcher import ROOT


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "SEXTANT_MODE", "DEBUG", "ALLOWED_HOSTS"}
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy(tmp_path):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SEXTANT_MODE="production",
        SECRET_KEY="x7!" + "k" * 60 + "Zq9#mP2$vL8&",
        ALLOWED_HOSTS="studio.example.org",
        SEXTANT_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = run_manage("check", SEXTANT_MODE="production", SEXTANT_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_the_embedded_mode_generates_and_keeps_a_secret_key(tmp_path):
    first = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        SEXTANT_VAR_DIR=str(tmp_path),
    )
    second = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        SEXTANT_VAR_DIR=str(tmp_path),
    )
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip().splitlines()[-1]
    assert len(key) >= 50
    assert second.stdout.strip().splitlines()[-1] == key
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_the_embedded_default_uses_sqlite_in_wal_mode_and_the_filesystem_broker(tmp_path):
    script = (
        "from django.conf import settings; from django.db import connection;"
        "c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0]);"
        "print(settings.CELERY_BROKER_URL);"
        "print(settings.CHANNEL_LAYERS['default']['BACKEND'])"
    )
    env = {k: "" for k in ("DATABASE_URL", "REDIS_URL")}
    result = run_manage("shell", "-c", script, SEXTANT_VAR_DIR=str(tmp_path), **env)
    assert result.returncode == 0, result.stderr
    wal, broker, layer = result.stdout.strip().splitlines()[-3:]
    assert wal == "wal"
    assert broker.startswith("sextantfs://")
    assert layer.endswith("InMemoryChannelLayer")
