"""Production settings (DP-06, AU-04, AU-05), checked on ``prepare.settings`` itself.

The suite runs with ``tests/settings.py`` (plain HTTP, a fast hasher); these
tests look at the real module, and start ``prepare`` in a subprocess with a
production environment to see what an operator would get.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher

import prepare.settings as production

ROOT = Path(__file__).resolve().parent.parent


def test_argon2id_is_the_first_hasher():
    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert (
        Argon2PasswordHasher()
        .encode("a long passphrase", "somesalt1234")
        .startswith("argon2$argon2id$")
    )


def test_password_validators_require_12_to_64_characters():
    validators = {v["NAME"].rsplit(".", 1)[1]: v for v in production.AUTH_PASSWORD_VALIDATORS}
    assert validators["MinimumLengthValidator"]["OPTIONS"] == {"min_length": 12}
    assert "CommonPasswordValidator" in validators
    assert validators["MaximumLengthValidator"].get("OPTIONS", {}).get("max_length", 64) == 64


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "prepare.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prepare.sqlite3'}",
        "PREPARE_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "prepare.settings",
    }
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_in_production(tmp_path):
    result = run(
        ["-m", "prepare", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path)
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output and "ERRORS" not in output, output
    assert "System check identified no issues" in output


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"PREPARE_DEMO_SKIP_MFA": "1"}, "prepare.E003"),
        ({"PREPARE_DEMO": "1"}, "prepare.E002"),
        ({"PREPARE_IDLE_TIMEOUT": "7200"}, "prepare.W013"),
        ({"PREPARE_LOCKOUT_FAILURES": "10"}, "prepare.W011"),
    ],
)
def test_check_deploy_fails_on_unsafe_settings(tmp_path, extra, code):
    result = run(
        ["-m", "prepare", "check", "--deploy", "--fail-level", "WARNING"],
        production_env(tmp_path, **extra),
    )
    assert result.returncode != 0
    assert code in result.stderr


def test_skip_mfa_without_demo_stops_every_command(tmp_path):
    result = run(["-m", "prepare", "check"], production_env(tmp_path, PREPARE_DEMO_SKIP_MFA="1"))
    assert result.returncode != 0
    assert "prepare.E003" in result.stderr


SHOW = """
import json
from django.conf import settings as s
names = [
    "SESSION_COOKIE_NAME", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE", "SESSION_COOKIE_PATH", "SESSION_COOKIE_DOMAIN",
    "CSRF_COOKIE_NAME", "CSRF_COOKIE_SECURE", "CSRF_COOKIE_HTTPONLY", "CSRF_COOKIE_SAMESITE",
    "CSRF_COOKIE_PATH", "CSRF_COOKIE_DOMAIN", "LANGUAGE_COOKIE_NAME", "LANGUAGE_COOKIE_SECURE",
    "LANGUAGE_COOKIE_HTTPONLY", "LANGUAGE_COOKIE_SAMESITE", "LANGUAGE_COOKIE_PATH",
    "LANGUAGE_COOKIE_DOMAIN", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "DEBUG",
    "SESSION_IDLE_TIMEOUT", "SESSION_ABSOLUTE_TIMEOUT", "SESSION_EXPIRE_AT_BROWSER_CLOSE",
    "PASSWORD_HASHERS",
]
print(json.dumps({n: getattr(s, n) for n in names}))
"""


def production_settings(tmp_path: Path, **extra: str) -> dict:
    result = run(
        ["-c", "import django; django.setup()\n" + SHOW], production_env(tmp_path, **extra)
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_cookies_are_host_bound_secure_and_httponly(tmp_path):
    values = production_settings(tmp_path)
    assert values["DEBUG"] is False
    for cookie in ("SESSION", "CSRF", "LANGUAGE"):
        # __Host-: Secure, Path=/ and no Domain, or browsers refuse the cookie.
        assert values[f"{cookie}_COOKIE_NAME"].startswith("__Host-"), cookie
        assert values[f"{cookie}_COOKIE_SECURE"] is True, cookie
        assert values[f"{cookie}_COOKIE_HTTPONLY"] is True, cookie
        assert values[f"{cookie}_COOKIE_SAMESITE"] in ("Lax", "Strict"), cookie
        assert values[f"{cookie}_COOKIE_PATH"] == "/", cookie
        assert values[f"{cookie}_COOKIE_DOMAIN"] is None, cookie
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert values["SESSION_EXPIRE_AT_BROWSER_CLOSE"] is True
    assert values["PASSWORD_HASHERS"][0].endswith("Argon2PasswordHasher")


def test_session_limits_come_from_the_environment(tmp_path):
    values = production_settings(
        tmp_path, PREPARE_IDLE_TIMEOUT="900", PREPARE_ABSOLUTE_TIMEOUT="28800"
    )
    assert values["SESSION_IDLE_TIMEOUT"] == 900
    assert values["SESSION_ABSOLUTE_TIMEOUT"] == 28800
