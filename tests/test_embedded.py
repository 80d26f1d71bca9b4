"""With no DATABASE_URL / REDIS_URL, the project starts real embedded servers, serves from them, and stops them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import redis

BASE_DIR = Path(__file__).resolve().parent.parent

PROBE = """
import django
django.setup()
import redis
from django.conf import settings
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SELECT 6 * 7, current_setting('data_directory')")
    answer, data_directory = cursor.fetchone()
print("sql", answer)
print("data_directory", data_directory)
print("redis_url", settings.REDIS_URL)
print("redis_ping", redis.Redis.from_url(settings.REDIS_URL).ping())
"""


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180)


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention `text` (zombies have no command line)."""
    found = []
    for cmdline_file in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmdline = cmdline_file.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(cmdline)
    return found


def _alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def _redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        return client.ping()
    except redis.ConnectionError:
        return False
    finally:
        client.close()


def test_embedded_servers_serve_a_query_and_a_ping_then_stop():
    # given a data folder of the test's own (short: Unix socket paths are limited; pgserver's user must enter it)
    data_dir = Path(tempfile.mkdtemp(prefix="cs-emb-", dir="/tmp"))
    data_dir.chmod(0o755)
    env = {
        key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL", "XDG_RUNTIME_DIR"}
    }
    env.update(CS_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="cs_platform.settings")
    try:
        # when
        probe = _run(["-c", PROBE], env)
        values = dict(line.split(" ", 1) for line in probe.stdout.splitlines() if " " in line)
        running_before_stop = _processes_mentioning(str(data_dir))
        redis_port = (data_dir / "redis" / "redis.port").read_text()
        redis_pid = int((data_dir / "redis" / "redis.pid").read_text())
    finally:
        stop = _run(["-m", "cs_platform.embedded", "stop"], env)

    try:
        # then it answered from the embedded servers in that folder, not from this machine's services
        assert probe.returncode == 0, probe.stderr
        assert values["sql"] == "42"
        assert Path(values["data_directory"]) == data_dir / "pg"
        assert values["redis_url"] == f"redis://127.0.0.1:{redis_port}/0"
        assert values["redis_ping"] == "True"
        assert running_before_stop, "the embedded PostgreSQL should run until stopped"
        # and `stop` left nothing running
        assert stop.returncode == 0, stop.stderr
        assert _processes_mentioning(str(data_dir)) == []
        assert not _redis_answers(values["redis_url"])
        assert not _alive(redis_pid)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
