"""Production refuses an unsafe start; the documented production settings pass `check --deploy` and send the
security headers (docs/operations.md, "Production settings"). Each start is a process of its own: settings are
read once, at start-up."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from cs_platform.deployment import DEVELOPMENT_SECRET_KEY

BASE_DIR = Path(__file__).resolve().parent.parent
OPERATIONS = BASE_DIR / "docs" / "operations.md"
# What the test's own environment must not lend a production start (pytest-env sets CS_ENV=development).
PROCESS_ENV = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}

HEADERS_PROBE = """
import json
import django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="chat.example.com")
plain = client.get("/admin/login/")
secure = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "health": client.get("/healthz").status_code,
    "metrics": client.get("/metrics").status_code,
    "secure": secure.status_code,
    "hsts": secure["Strict-Transport-Security"],
    "csp": secure["Content-Security-Policy"],
    "csrf_cookie_secure": secure.cookies["csrftoken"]["secure"],
}))
"""


def documented_production_settings() -> dict[str, str]:
    """The `NAME=value` lines of the "Production settings" block in docs/operations.md, with a real key."""
    text = OPERATIONS.read_text()
    section = text.split("## Production settings", 1)[1]
    block = section.split("```", 2)[1]
    values = dict(re.findall(r"^([A-Z_]+)=(\S*)", block, flags=re.MULTILINE))
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= values.keys(), values
    return {**values, "SECRET_KEY": secrets.token_urlsafe(50)}


def policy(header: str) -> dict[str, str]:
    """A Content-Security-Policy header as {directive: sources}."""
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


def run(args: list[str], settings: dict[str, str], data_dir: Path) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name in PROCESS_ENV}
    env.update(settings, DJANGO_SETTINGS_MODULE="cs_platform.settings", CS_DATA_DIR=str(data_dir))
    return subprocess.run(args, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)


def manage(command: list[str], settings: dict[str, str], data_dir: Path) -> subprocess.CompletedProcess:
    return run([sys.executable, "manage.py", *command], settings, data_dir)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": DEVELOPMENT_SECRET_KEY}, "SECRET_KEY is the public development key"),
        ({"SECRET_KEY": "django-insecure-" + "x1y2z3" * 10}, "Django's generated development keys"),
        ({"SECRET_KEY": "short-but-varied-key"}, "SECRET_KEY is too weak"),
        ({"DEBUG": "true"}, "DEBUG is on"),
        ({"DATABASE_URL": None}, "DATABASE_URL is not set"),
        ({"REDIS_URL": None}, "REDIS_URL is not set"),
    ],
)
def test_a_production_start_without_what_it_needs_is_refused(tmp_path, change, complaint):
    # given the documented production settings, with one piece missing or unsafe
    settings = documented_production_settings()
    for name, value in change.items():
        if value is None:
            del settings[name]
        else:
            settings[name] = value

    # when a process starts
    done = manage(["check"], settings, tmp_path)

    # then it refuses, saying what is wrong, and started no embedded server of its own
    assert done.returncode != 0
    assert "ImproperlyConfigured: Refusing to start in production" in done.stderr
    assert complaint in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_web_worker_started_without_settings_refuses_to_serve(tmp_path, unused_tcp_port):
    # when: daphne as the operator runs it, with nothing configured
    done = run(
        [
            str(BASE_DIR / ".venv" / "bin" / "daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            str(unused_tcp_port),
            "cs_platform.asgi:application",
        ],
        {},
        tmp_path,
    )

    # then it exits at once, naming everything that is missing
    assert done.returncode != 0
    for missing in ("SECRET_KEY is not set", "DATABASE_URL is not set", "REDIS_URL is not set"):
        assert missing in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_documented_production_settings_pass_the_deploy_check(tmp_path):
    done = manage(["check", "--deploy", "--fail-level", "WARNING"], documented_production_settings(), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout


def test_the_deploy_check_flags_the_public_development_key_and_missing_https_settings(tmp_path):
    # given development (the public key allowed), with production's servers and hosts but not its HTTPS settings
    settings = {
        name: value
        for name, value in documented_production_settings().items()
        if name in {"DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"}
    }
    settings["CS_ENV"] = "development"

    # when
    done = manage(["check", "--deploy"], settings, tmp_path)

    # then
    assert done.returncode != 0
    flagged = set(re.findall(r"\(([\w.]+\.[EW]\d+)\)", done.stderr))
    assert {
        "cs_platform.E001",
        "cs_platform.W001",
        "security.W004",
        "security.W008",
        "security.W012",
        "security.W016",
    } <= flagged, done.stderr


def test_the_documented_production_settings_send_the_security_headers(tmp_path):
    # when: requests to a worker with the documented settings, over plain HTTP and through the TLS proxy
    settings = {**documented_production_settings(), "DB_POOL_TIMEOUT": "1"}  # its database is not there
    done = run([sys.executable, "-c", HEADERS_PROBE], settings, tmp_path)

    # then plain HTTP is sent to HTTPS (but for the health check and the metrics), and HTTPS answers carry HSTS,
    # the CSP and secure cookies
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["plain"] == [301, "https://chat.example.com/admin/login/"]
    assert seen["health"] in {200, 503}
    assert seen["metrics"] == 200
    assert seen["secure"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    directives = policy(seen["csp"])
    assert (directives["frame-ancestors"], directives["script-src"]) == ("'none'", "'self'")
    assert seen["csrf_cookie_secure"] is True


def test_a_malformed_proxy_header_setting_is_refused(tmp_path):
    settings = {**documented_production_settings(), "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}
    done = manage(["check"], settings, tmp_path)
    assert done.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER must be" in done.stderr


def test_debug_on_without_cs_env_is_development_and_cs_env_production_refuses_it(tmp_path):
    # given the brief's development switch, DEBUG on, with the servers but no key
    settings = {
        name: value for name, value in documented_production_settings().items() if name in {"DATABASE_URL", "REDIS_URL"}
    }
    settings["DEBUG"] = "true"

    # when a process starts as it is, and once more declared production
    development = manage(["check"], settings, tmp_path)
    production = manage(["check"], {**settings, "CS_ENV": "production"}, tmp_path)

    # then the first runs on the development key; the second refuses DEBUG and the missing key
    assert development.returncode == 0, development.stderr
    assert production.returncode != 0
    assert "DEBUG is on" in production.stderr and "SECRET_KEY is not set" in production.stderr


def test_cookies_are_secure_once_production_says_it_is_served_over_https(tmp_path):
    probe = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    settings = {
        name: value
        for name, value in documented_production_settings().items()
        if name in {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"}
    }

    plain = run([sys.executable, "-c", probe], settings, tmp_path)
    behind_tls = run(
        [sys.executable, "-c", probe], {**settings, "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https"}, tmp_path
    )

    assert (plain.stdout.split(), behind_tls.stdout.split()) == (["False", "False"], ["True", "True"])
