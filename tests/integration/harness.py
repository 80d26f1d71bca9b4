"""Real Daphne workers and a Celery worker for the integration tests, and the HTTP calls that set a chat up.

The workers are separate processes on the pytest-django test database and the shared Redis (under a key
prefix of their own), so the tests see the product exactly as a load balancer's clients would.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
VENV_BIN = BASE_DIR / ".venv" / "bin"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

# No proxy from the environment may stand between the tests and 127.0.0.1.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def database_url(settings_dict: dict[str, Any]) -> str:
    """A libpq URL for Django's connection settings (TCP host, or a Unix socket folder as `?host=`)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD") or ""
    credentials = f"{user}:{quote(password, safe='')}" if password else user
    host = settings_dict.get("HOST") or ""
    socket_dir = (settings_dict.get("OPTIONS") or {}).get("host") or (host if host.startswith("/") else "")
    name = quote(settings_dict["NAME"], safe="")
    if socket_dir:
        return f"postgresql://{credentials}@/{name}?host={quote(socket_dir, safe='/')}"
    port = settings_dict.get("PORT")
    netloc = f"{host}:{port}" if port else host
    return f"postgresql://{credentials}@{netloc}/{name}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    """Runs in the child before exec: a worker must not outlive a pytest that was killed."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def http_json(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
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
        with _opener.open(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    text = raw.decode(errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Process:
    """One child process of the test session, its output in a log file; only this PID is ever signalled."""

    def __init__(self, *, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def wait_ready(self, log_offset: int) -> None:
        raise NotImplementedError

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        offset = self.log_size()
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
        self.wait_ready(offset)

    def _check_alive(self) -> None:
        if not self.alive:
            raise RuntimeError(f"{self.name} exited during start-up:\n{self.log_text()}")

    def kill(self, sig: int = signal.SIGTERM) -> None:
        """Sends `sig` to this process and waits for it to end (SIGKILL after a grace)."""
        if not self.alive:
            return
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)

    def restart(self) -> None:
        self.kill()
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


class Worker(Process):
    """A web worker, `daphne -b 127.0.0.1 -p PORT`; it keeps its port across restarts so clients reconnect to
    the same URL."""

    def __init__(self, *, name: str, env: dict[str, str], log_dir: Path) -> None:
        super().__init__(name=name, env=env, log_dir=log_dir)
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def command(self) -> list[str]:
        return [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "cs_platform.asgi:application"]

    def wait_ready(self, log_offset: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last: tuple[int, Any] | str = "no answer"
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                last = http_json("GET", f"{self.url}/healthz")
                if last[0] == 200:
                    return
            except OSError as error:
                last = repr(error)
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not healthy after {START_TIMEOUT}s ({last}):\n{self.log_text(log_offset)}")


class CeleryWorker(Process):
    """`celery -A cs_platform worker`: routing runs in its tasks (docs/routing.md); it serves its metrics on a
    port of its own (`CELERY_METRICS_PORT`)."""

    def __init__(self, *, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.metrics_port = free_port()
        super().__init__(name=name, env={**env, "CELERY_METRICS_PORT": str(self.metrics_port)}, log_dir=log_dir)

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def command(self) -> list[str]:
        return [
            str(VENV_BIN / "celery"),
            "-A",
            "cs_platform",
            "worker",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "--hostname",
            f"{self.env['REDIS_PREFIX']}@%h",
            "--without-gossip",
            "--without-mingle",
        ]

    def wait_ready(self, log_offset: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self._check_alive()
            if " ready." in self.log_text(log_offset):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {START_TIMEOUT}s:\n{self.log_text(log_offset)}")


def worker_env(*, database: str, redis_url: str, redis_prefix: str) -> dict[str, str]:
    """The environment of a worker: the test database, the shared Redis under a prefix of this session."""
    env = {key: value for key, value in os.environ.items() if not key.lower().endswith("_proxy")}
    env.update(
        DJANGO_SETTINGS_MODULE="cs_platform.settings",
        DATABASE_URL=database,
        REDIS_URL=redis_url,
        REDIS_PREFIX=redis_prefix,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DEBUG="false",
        PYTHONUNBUFFERED="1",
        # Every test signs in and opens sessions from 127.0.0.1 on workers that live for the whole session; the
        # limits themselves are tested on workers of their own (test_rate_limits.py).
        WIDGET_SESSION_RATE="none",
        LOGIN_RATE="none",
    )
    return env


def customer_session(worker: Worker, business_line: str, **fields: Any) -> dict[str, Any]:
    """`POST /api/widget/session/`: a customer token for the business line's widget."""
    status, body = http_json(
        "POST", f"{worker.url}/api/widget/session/", {"business_line": business_line, "channel": "web", **fields}
    )
    assert status in (200, 201), f"widget session: {status} {body}"
    return body


def agent_login(worker: Worker, username: str, password: str = "pw") -> dict[str, Any]:
    """`POST /api/auth/token/`: an agent's API token and id."""
    status, body = http_json("POST", f"{worker.url}/api/auth/token/", {"username": username, "password": password})
    assert status == 200, f"auth token: {status} {body}"
    return body


def transcript(worker: Worker, conversation_id: int, token: str) -> list[dict[str, Any]]:
    """Every message of a conversation through `GET /api/conversations/{id}/messages/`, paging by `after_seq`."""
    messages: list[dict[str, Any]] = []
    for _ in range(100):
        after_seq = messages[-1]["seq"] if messages else 0
        status, body = http_json(
            "GET", f"{worker.url}/api/conversations/{conversation_id}/messages/?after_seq={after_seq}", token=token
        )
        assert status == 200, f"transcript: {status} {body}"
        messages.extend(body["messages"])
        if not body["has_more"]:
            return messages
    raise AssertionError("transcript: more than 100 pages")


def forget_redis_keys(prefix: str) -> None:
    """Deletes the keys of one test run only; other runs share this Redis."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()
