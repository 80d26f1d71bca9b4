"""The product's processes started for a test or a benchmark run: the one harness both use.

A `Stack` is N web workers (Daphne, or uvicorn for the benchmark's comparison), Celery workers and at most one
Celery beat, all on one environment (`process_env`): given servers, or the embedded ones (`Servers`). Every
process is a child of the caller with a parent-death signal, logs to a file of its own, counts as started only
once it is ready (`/healthz` answers 200, Celery says it is ready), and is only ever signalled by its own pid:
`stop()` (SIGTERM, SIGKILL after a grace), `kill()` (SIGKILL, as a crash), `restart()`.

The integration tests, the browser tests and `bench/run.py` build on this module; `make run` does not (honcho
runs the Procfile there, as an operator would).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

BASE_DIR = Path(__file__).resolve().parent.parent
# daphne, uvicorn and celery of the interpreter that runs the harness (the project's virtualenv).
VENV_BIN = Path(sys.executable).parent
# Celery's start-up takes a core for seconds, and the machine may be busy: generous, and only ever a bound.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
POLL_SECONDS = 0.1

WebServer = Literal["daphne", "uvicorn"]
CeleryPool = Literal["prefork", "solo"]

# No proxy from the environment may stand between the harness and 127.0.0.1.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def http_json(
    method: str, url: str, body: Any = None, token: str | None = None, *, timeout: float = 10
) -> tuple[int, Any]:
    """One HTTP request with a JSON body; returns the status and the decoded JSON (or text) answer."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with _opener.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    text = raw.decode(errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def process_env(*, database_url: str, redis_url: str, redis_prefix: str, **settings: str) -> dict[str, str]:
    """The environment of every process of a stack: this one's, without proxies, on the given servers and a Redis
    key prefix of the stack's own (so that stacks can share a Redis); `settings` are more product settings."""
    env = {key: value for key, value in os.environ.items() if not key.lower().endswith("_proxy")}
    env.update(
        DJANGO_SETTINGS_MODULE="cs_platform.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_PREFIX=redis_prefix,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DEBUG="false",
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


def _die_with_parent() -> None:
    """Runs in the child before exec: nothing the harness starts may outlive a run that was killed. (The signal
    comes when the thread that started the child ends: start a stack from the thread that keeps it.)"""
    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Process:
    """One child process, its output appended to `log_dir/NAME.log`; only this pid is ever signalled."""

    def __init__(self, *, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._started_at_offset = 0

    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self, log_offset: int) -> bool:
        """Whether the process serves yet; `log_offset` is where its log stood when it was launched."""
        raise NotImplementedError

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def launch(self) -> None:
        """Starts the process without waiting for it (`wait_ready` does): several start-ups can overlap."""
        self._started_at_offset = self.log_size()
        with open(self.log_path, "ab") as log:
            log.write(f"--- {self.name}: starting\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command(),
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )

    def wait_ready(self) -> None:
        """Returns once the process is ready; fails with its log if it exits or is not ready within the bound."""
        deadline = time.monotonic() + START_TIMEOUT
        while not self.is_ready(self._started_at_offset):
            if not self.alive:
                raise RuntimeError(f"{self.name} exited during start-up ({self.log_path}):\n{self._start_log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.name} not ready after {START_TIMEOUT:.0f} s ({self.log_path}):\n{self._start_log()}"
                )
            time.sleep(POLL_SECONDS)

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not ended after a grace: a clean stop."""
        if not self.alive:
            return
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)

    def kill(self) -> None:
        """SIGKILL, as a crash: the process cleans nothing up, its sockets just close."""
        if not self.alive:
            return
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT)

    def restart(self) -> None:
        """A fresh process (same name, log and, for a web worker, port)."""
        self.stop()
        self.start()

    def ensure_running(self) -> None:
        if not self.alive:
            self.start()

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_text(self, since: int = 0) -> str:
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(since)
            return log.read().decode(errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _start_log(self) -> str:
        return "\n".join(self.log_text(self._started_at_offset).splitlines()[-200:])


class WebWorker(Process):
    """A web worker on a loopback port of its own, which it keeps across restarts so that clients reconnect to
    the same URL: `daphne` as deployed (docs/operations.md), or `uvicorn` for the benchmark's comparison."""

    def __init__(self, *, name: str, env: dict[str, str], log_dir: Path, server: WebServer = "daphne") -> None:
        super().__init__(name=name, env=env, log_dir=log_dir)
        self.server = server
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def command(self) -> list[str]:
        if self.server == "uvicorn":
            return [
                str(VENV_BIN / "uvicorn"),
                "cs_platform.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--lifespan",
                "off",
            ]
        return [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "cs_platform.asgi:application"]

    def healthy(self, timeout: float = 2) -> bool:
        """`/healthz` answers 200: the worker reaches PostgreSQL and Redis."""
        try:
            return http_json("GET", f"{self.url}/healthz", timeout=timeout)[0] == 200
        except OSError:
            return False

    def is_ready(self, log_offset: int) -> bool:
        return self.healthy()


class CeleryWorker(Process):
    """`celery -A cs_platform worker`, where routing runs (docs/routing.md), with a node name of its own.

    `gossip`: gossip and mingle, as a deployed worker has them (the benchmark measures it so); tests go without,
    which saves a second of start-up. `metrics`: serve its metrics on a port of its own (`CELERY_METRICS_PORT`).
    A `solo` pool (the browser tests': one process) runs tasks in the main process, so it goes without heartbeats.
    """

    def __init__(
        self,
        *,
        name: str,
        env: dict[str, str],
        log_dir: Path,
        pool: CeleryPool = "prefork",
        gossip: bool = False,
        metrics: bool = False,
    ) -> None:
        self.metrics_port = free_port() if metrics else None
        if self.metrics_port is not None:
            env = {**env, "CELERY_METRICS_PORT": str(self.metrics_port)}
        super().__init__(name=name, env=env, log_dir=log_dir)
        self.pool = pool
        self.gossip = gossip

    @property
    def metrics_url(self) -> str:
        assert self.metrics_port is not None, f"{self.name} serves no metrics"
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def command(self) -> list[str]:
        pool = (
            ["--pool", "solo", "--without-heartbeat"]
            if self.pool == "solo"
            else ["--pool", "prefork", "--concurrency", "2"]
        )
        chatter = [] if self.gossip else ["--without-gossip", "--without-mingle"]
        node = f"{self.name}.{self.env['REDIS_PREFIX']}@%h"
        return [
            str(VENV_BIN / "celery"),
            "-A",
            "cs_platform",
            "worker",
            *pool,
            *chatter,
            "--loglevel",
            "INFO",
            "--hostname",
            node,
        ]

    def is_ready(self, log_offset: int) -> bool:
        return " ready." in self.log_text(log_offset)


class CeleryBeat(Process):
    """`celery -A cs_platform beat`, its schedule file beside its log: it sends the routing and retention sweeps."""

    def __init__(self, *, name: str, env: dict[str, str], log_dir: Path) -> None:
        super().__init__(name=name, env=env, log_dir=log_dir)
        self.schedule_path = log_dir / f"{name}-schedule"

    def command(self) -> list[str]:
        return [
            str(VENV_BIN / "celery"),
            "-A",
            "cs_platform",
            "beat",
            "--schedule",
            str(self.schedule_path),
            "--loglevel",
            "INFO",
        ]

    def is_ready(self, log_offset: int) -> bool:
        return "beat: Starting..." in self.log_text(log_offset)


def start_all(processes: Sequence[Process]) -> None:
    """Launches every process, then waits for each: the start-ups overlap. If one fails, all are stopped."""
    try:
        for process in processes:
            process.launch()
        for process in processes:
            process.wait_ready()
    except BaseException:
        stop_all(processes)
        raise


def stop_all(processes: Iterable[Process]) -> None:
    """Stops each process, last started first, and keeps going if one fails to stop."""
    errors = []
    for process in reversed(list(processes)):
        try:
            process.stop()
        except Exception as error:  # noqa: BLE001 (the others must still be stopped; raised below)
            errors.append(f"{process.name}: {error!r}")
    if errors:
        raise RuntimeError(f"could not stop {', '.join(errors)}")


@dataclass
class Stack:
    """The product as deployed: web workers, Celery workers and at most one beat, on one environment."""

    web: tuple[WebWorker, ...]
    celery: tuple[CeleryWorker, ...] = ()
    beat: CeleryBeat | None = None

    @classmethod
    def of(
        cls,
        env: dict[str, str],
        log_dir: Path,
        *,
        web: int = 2,
        server: WebServer = "daphne",
        celery: int = 1,
        pool: CeleryPool = "prefork",
        gossip: bool = False,
        metrics: bool = False,
        beat: bool = True,
    ) -> Stack:
        """`web` web workers (`web1`...), `celery` Celery workers (`celery1`...) and beat; not started yet."""
        return cls(
            web=tuple(WebWorker(name=f"web{n}", env=env, log_dir=log_dir, server=server) for n in range(1, web + 1)),
            celery=tuple(
                CeleryWorker(name=f"celery{n}", env=env, log_dir=log_dir, pool=pool, gossip=gossip, metrics=metrics)
                for n in range(1, celery + 1)
            ),
            beat=CeleryBeat(name="beat", env=env, log_dir=log_dir) if beat else None,
        )

    @property
    def processes(self) -> tuple[Process, ...]:
        return (*self.web, *self.celery, *((self.beat,) if self.beat else ()))

    def start(self) -> None:
        start_all(self.processes)

    def stop(self) -> None:
        stop_all(self.processes)

    def ensure_running(self) -> None:
        """Starts again any process a test killed or stopped."""
        start_all([process for process in self.processes if not process.alive])

    def log_offsets(self) -> dict[Process, int]:
        """Where each log stands now: what a failure report shows is what came after."""
        return {process: process.log_size() for process in self.processes}


@contextmanager
def running(stack: Stack) -> Iterator[Stack]:
    """The stack started, and stopped (by its own pids) when the block ends, whatever happened in it."""
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


# The servers: given ones or embedded ones, a database and Redis keys of a run's own


def database_named(url: str, name: str) -> str:
    """The same server's URL with another database name (TCP host, or a Unix socket folder in `?host=`)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def create_database(server_url: str, name: str, env: dict[str, str]) -> str:
    """A new database `name` on the server of `server_url`, migrated (`manage.py migrate` with `env`); its URL."""
    with psycopg.connect(database_named(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = database_named(server_url, name)
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=BASE_DIR,
        env={**env, "DATABASE_URL": url},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"migrating {name} failed:\n{done.stdout}\n{done.stderr}")
    return url


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(database_named(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def forget_redis_keys(redis_url: str, prefix: str) -> None:
    """Deletes the keys under one prefix only: other runs share this Redis."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


@dataclass
class Servers:
    """PostgreSQL and Redis for a run: `DATABASE_URL` / `REDIS_URL` when both are set, else embedded servers
    (cs_platform/embedded.py) of the run's own in `data_dir` for what is missing, which `stop()` stops and
    removes."""

    database_url: str
    redis_url: str
    embedded_dir: Path | None = None

    @classmethod
    def given_or_embedded(cls, data_dir: Path) -> Servers:
        database_url = os.environ.get("DATABASE_URL", "")
        redis_url = os.environ.get("REDIS_URL", "")
        if database_url and redis_url:
            return cls(database_url=database_url, redis_url=redis_url)
        done = subprocess.run(
            [sys.executable, "-m", "cs_platform.embedded", "start"],
            cwd=BASE_DIR,
            env={**os.environ, "CS_DATA_DIR": str(data_dir)},
            check=True,
            capture_output=True,
            text=True,
        )
        urls = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        return cls(
            database_url=database_url or urls["DATABASE_URL"],
            redis_url=redis_url or urls["REDIS_URL"],
            embedded_dir=data_dir,
        )

    def stop(self) -> None:
        if self.embedded_dir is None:
            return
        subprocess.run(
            [sys.executable, "-m", "cs_platform.embedded", "stop"],
            cwd=BASE_DIR,
            env={**os.environ, "CS_DATA_DIR": str(self.embedded_dir)},
            check=False,
        )
        shutil.rmtree(self.embedded_dir, ignore_errors=True)
