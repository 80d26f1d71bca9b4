"""`python -m cs_platform.run`, what `make run` starts: from a fresh checkout to a running demo in one command.

It prepares the servers (the embedded PostgreSQL and Redis when `DATABASE_URL` / `REDIS_URL` are unset), applies
the migrations, seeds the demo on the first run, then runs the Procfile under honcho: a Daphne web worker, a
Celery worker and Celery beat. Once all three are up and their start-up output has settled, it prints the URLs of
the README's table, so they are the last thing on screen. Ctrl-C (SIGINT) or SIGTERM stops all of them, and the
embedded servers too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8000
READY_TIMEOUT_SECONDS = 90.0
SHUTDOWN_TIMEOUT_SECONDS = 30.0
# Output quiet this long after every process is up: start-up is over, and the banner will not be buried.
SETTLED_SECONDS = 1.0
# What each Procfile process prints once it is up; honcho starts each of its lines with `HH:MM:SS name.N |`.
STARTED_LINES = {"worker": b" ready.", "beat": b"beat: Starting..."}


@dataclass
class Prepared:
    database_url: str
    redis_url: str
    seeded: bool


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _prepare() -> Prepared:
    """Start or reach the servers (through settings), migrate, and seed the demo if it is not there yet."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_platform.settings")
    django.setup()

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from agents.demo import DEMO_KEY
    from routing.models import BusinessLine

    call_command("migrate", interactive=False, verbosity=1)
    seeded = not BusinessLine.objects.filter(key=DEMO_KEY).exists()
    if seeded:
        call_command("seed_demo")
    connections.close_all()
    Path(settings.CELERY_BEAT_SCHEDULE_FILENAME).parent.mkdir(parents=True, exist_ok=True)
    return Prepared(database_url=settings.DATABASE_URL, redis_url=settings.REDIS_URL, seeded=seeded)


def _child_environment(prepared: Prepared, port: int) -> dict[str, str]:
    """The children reach the same servers through the exported URLs, and find daphne/celery in this venv."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=prepared.database_url,
        REDIS_URL=prepared.redis_url,
        PORT=str(port),
        PYTHONUNBUFFERED="1",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    return env


def _answers_healthz(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _banner(port: int, prepared: Prepared, *, embedded_db: bool, embedded_redis: bool) -> str:
    """The README's table of URLs (`make run`), the demo logins and where the data is."""
    from agents.demo import DEFAULT_PASSWORD, DEMO_AGENTS, DEMO_KEY, SUPERVISOR_USERNAME
    from cs_platform import embedded

    base = f"http://127.0.0.1:{port}"
    password = (
        DEFAULT_PASSWORD
        if prepared.seeded
        else (f"{DEFAULT_PASSWORD} (unless changed with `manage.py seed_demo --password`)")
    )
    agents = ", ".join(username for username, _ in DEMO_AGENTS)
    database = f"embedded PostgreSQL in {embedded.DATA_DIR / 'pg'}" if embedded_db else "DATABASE_URL"
    redis = f"embedded Redis in {embedded.DATA_DIR / 'redis'}" if embedded_redis else "REDIS_URL"
    rule = "=" * 72
    return "\n".join(
        [
            rule,
            " The customer-service platform is running. Ctrl-C stops everything.",
            f"   Demo site (Acme Shop)   {base}/",
            f"   Agent workbench         {base}/workbench/",
            f"   H5 (mobile) chat        {base}/h5/?business_line={DEMO_KEY}",
            f"   Admin                   {base}/admin/",
            f"   API docs                {base}/api/docs/",
            f"   Health                  {base}/healthz",
            f"   Metrics (Prometheus)    {base}/metrics",
            f" Demo logins, password {password}:",
            f"   agents {agents} (workbench); {SUPERVISOR_USERNAME} (admin: transcripts)",
            f" Database: {database}; Redis: {redis}",
            f" Email: {_email_destination()}",
            rule,
        ]
    )


def _email_destination() -> str:
    """Where the demo's emails go: the Celery worker's output unless `EMAIL_URL` names a server (docs/operations.md)."""
    from django.conf import settings

    if settings.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend":
        return "printed by the Celery worker below (set EMAIL_URL to send them)"
    return f"sent through {settings.EMAIL_HOST}:{settings.EMAIL_PORT} (EMAIL_URL)"


class _StartedProcesses:
    """Which Procfile processes have said they are up, read from the lines honcho relays."""

    def __init__(self) -> None:
        self._started: set[str] = set()

    def see(self, line: bytes) -> None:
        prefix, separator, text = line.partition(b" | ")
        if not separator or not prefix.split():
            return
        process = prefix.split()[-1].split(b".")[0].decode(errors="replace")
        marker = STARTED_LINES.get(process)
        if marker is not None and marker in text:
            self._started.add(process)

    def all_up(self) -> bool:
        return self._started >= set(STARTED_LINES)


class _Output:
    """Our stdout, which may go away (`make run | tee log` and Ctrl-C ends tee first): then lines are dropped, so
    that shutting down never fails on a closed pipe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._broken = False
        self.started = _StartedProcesses()
        self.last_line_at = time.monotonic()

    def write(self, data: bytes) -> None:
        with self._lock:
            if self._broken:
                return
            try:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
            except (BrokenPipeError, OSError, ValueError):
                self._broken = True
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (stays open for the rest of the run)

    def say(self, text: str) -> None:
        self.write(f"{text}\n".encode())

    def relay(self, stream: IO[bytes]) -> None:
        """Copy a child's output line by line; keep draining even when we cannot print, so it never blocks."""
        for line in iter(stream.readline, b""):
            self.started.see(line)
            self.write(line)
            self.last_line_at = time.monotonic()

    def settled(self) -> bool:
        return time.monotonic() - self.last_line_at >= SETTLED_SECONDS


class _Processes:
    """Runs honcho and turns SIGINT / SIGTERM into one orderly stop of everything it started."""

    def __init__(self, env: dict[str, str], output: _Output) -> None:
        self.stop_requested_at: float | None = None
        self.honcho = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "honcho",
                "start",
                "--procfile",
                str(BASE_DIR / "Procfile"),
                "--app-root",
                str(BASE_DIR),
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own session: a terminal's Ctrl-C reaches us only, and we pass exactly one signal on.
            start_new_session=True,
        )
        self.relay = threading.Thread(target=output.relay, args=(self.honcho.stdout,), daemon=True)
        self.relay.start()

    def end(self) -> None:
        """Stop honcho (and so its processes) if it still runs: the path for errors in this process."""
        if self.honcho.poll() is None:
            self.honcho.terminate()
            try:
                self.honcho.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.honcho.pid, signal.SIGKILL)
                self.honcho.wait()

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stop_requested_at is None:
            self.stop_requested_at = time.monotonic()
            self.honcho.send_signal(signum)

    def wait(self, *, until_ready: Callable[[], bool], on_ready: Callable[[], None], output: _Output) -> int:
        """Wait for honcho to end; call `on_ready` once `until_ready` says everything is up."""
        ready_deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        announced = False
        while True:
            try:
                return self.honcho.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
            if self.stop_requested_at is not None:
                if time.monotonic() - self.stop_requested_at > SHUTDOWN_TIMEOUT_SECONDS:
                    os.killpg(self.honcho.pid, signal.SIGKILL)
                continue
            if not announced and until_ready():
                on_ready()
                announced = True
            elif not announced and time.monotonic() > ready_deadline:
                output.say(
                    f"Not everything was up within {READY_TIMEOUT_SECONDS:.0f} s (the web worker answering /healthz, "
                    "the Celery worker ready, beat started); see the log above."
                )
                announced = True


class _Readiness:
    """Everything is up, and start-up is over: the web worker answered `/healthz` once (asked no more, so no access
    log line of ours follows the banner), Celery worker and beat said they are up, and nothing was printed for
    `SETTLED_SECONDS`."""

    def __init__(self, port: int, output: _Output) -> None:
        self.port = port
        self.output = output
        self.web_answered = False

    def __call__(self) -> bool:
        if not self.web_answered:
            self.web_answered = _answers_healthz(self.port)
            return False
        return self.output.started.all_up() and self.output.settled()


def _raise_system_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    # The development runner: the development key and embedded servers are allowed, here and in every child.
    os.environ.setdefault("CS_ENV", "development")
    port = int(os.environ.get("PORT", DEFAULT_PORT))
    if _port_taken(port):
        print(
            f"Port {port} is already in use. Stop what uses it, or choose another: PORT=8001 make run", file=sys.stderr
        )
        return 1
    embedded_db = not os.environ.get("DATABASE_URL")
    embedded_redis = not os.environ.get("REDIS_URL")
    output = _Output()

    from cs_platform import embedded

    # Until the processes run, a signal simply ends us; the `finally` below still stops the servers.
    signal.signal(signal.SIGTERM, _raise_system_exit)
    signal.signal(signal.SIGINT, _raise_system_exit)
    processes: _Processes | None = None
    try:
        prepared = _prepare()
        processes = _Processes(_child_environment(prepared, port), output)
        signal.signal(signal.SIGTERM, processes.on_signal)
        signal.signal(signal.SIGINT, processes.on_signal)
        returncode = processes.wait(
            until_ready=_Readiness(port, output),
            on_ready=lambda: output.say(
                _banner(port, prepared, embedded_db=embedded_db, embedded_redis=embedded_redis)
            ),
            output=output,
        )
        processes.relay.join(timeout=5)
        return 0 if processes.stop_requested_at is not None else returncode
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if processes is not None:
            processes.end()
        if embedded_db or embedded_redis:
            embedded.stop(postgres=embedded_db, redis=embedded_redis)
            output.say("Stopped the embedded servers.")


if __name__ == "__main__":
    sys.exit(main())
