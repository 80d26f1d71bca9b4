"""What the fault tests share besides the stack (tests/integration/harness.py `stack_running`: two web workers, a
Celery worker and beat): bounded waits, and the faults themselves: a TCP proxy that makes Redis slow, and a
PostgreSQL of the test's own that can be stopped and started again (docs/operations.md, "Faults").
"""

from __future__ import annotations

import asyncio
import inspect
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from pgserver import utils as pgserver_utils
from pgserver._commands import POSTGRES_BIN_PATH

from agents.models import Agent
from cs_platform.stack import Process, WebWorker, create_database, free_port, http_json
from tests.integration.wsclient import Client, Frame

# Every wait for the product to notice a fault or to recover is bounded by this; none takes long.
RECOVERY_TIMEOUT = 30.0
POLL = 0.05


# Waiting, bounded in time and in count


async def wait_for(
    what: str, check: Callable[[], bool | Awaitable[bool]], *, timeout: float = RECOVERY_TIMEOUT
) -> float:
    """Polls `check` until it holds; returns the seconds it took, fails after `timeout`."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(int(timeout / POLL) + 1):
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return loop.time() - started
        if loop.time() - started > timeout:
            break
        await asyncio.sleep(POLL)
    raise AssertionError(f"not within {timeout}s: {what}")


async def healthz(worker: WebWorker) -> tuple[int, Any]:
    return await asyncio.to_thread(http_json, "GET", f"{worker.url}/healthz")


def logged(process: Process, *texts: str, since: int) -> Callable[[], bool]:
    """Whether the process logged any of `texts` after the offset `since`."""
    return lambda: any(text in process.log_text(since) for text in texts)


def pushed(client: Client, message: dict[str, Any]) -> bool:
    """The client was pushed this message (`message.new`), as opposed to fetching it with `sync`."""
    return any(frame["message"]["id"] == message["id"] for frame in client.frames("message.new"))


def resume_point(seen: dict[int, Frame]) -> int:
    """The highest seq up to which the client holds every message."""
    seq = 0
    while seq + 1 in seen:
        seq += 1
    return seq


class AgentRowLock:
    """Holds an agent's row (`FOR NO KEY UPDATE`) in a transaction of the test's own: a routing run, which locks
    its candidate agents `FOR UPDATE`, waits for it; storing a message (`FOR KEY SHARE` on the agent) does not."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.holder: psycopg.AsyncConnection | None = None
        self.watcher: psycopg.AsyncConnection | None = None

    async def take(self, agent_id: int) -> None:
        self.holder = await psycopg.AsyncConnection.connect(self.dsn, connect_timeout=5)
        self.watcher = await psycopg.AsyncConnection.connect(self.dsn, connect_timeout=5, autocommit=True)
        await self.holder.execute(f"SELECT id FROM {Agent._meta.db_table} WHERE id = %s FOR NO KEY UPDATE", [agent_id])

    async def someone_waits(self) -> bool:
        """A session of the test database is waiting for a lock (nothing but this one is held for long)."""
        assert self.watcher is not None
        cursor = await self.watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        (count,) = await cursor.fetchone()
        return count > 0

    async def release(self) -> None:
        if self.holder is not None and not self.holder.closed:
            await self.holder.rollback()

    async def close(self) -> None:
        for conn in (self.holder, self.watcher):
            if conn is not None and not conn.closed:
                await conn.close()


# A slow Redis


class LatencyProxy:
    """A TCP proxy on loopback that holds every chunk of bytes back by `delay` seconds, in both directions.

    The delay can be changed while it runs (0: none); it adds latency without limiting throughput, and keeps
    the order of bytes within a connection. It runs its own event loop in a thread, so it outlives the test's
    scenario loops; `stop()` closes every connection.
    """

    def __init__(self, *, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.delay = 0.0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="latency-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._accepted, "127.0.0.1", self.port)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accepted(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._forward(client_reader, client_writer)
        except asyncio.CancelledError:
            pass  # the proxy is stopping
        finally:
            client_writer.close()
            self._tasks.discard(task)

    async def _forward(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            return
        pipes = [
            asyncio.create_task(self._pipe(client_reader, server_writer)),
            asyncio.create_task(self._pipe(server_reader, client_writer)),
        ]
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            server_writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Reads chunks as they come and writes each one `delay` seconds after it was read."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            while chunk := await reader.read(65536):
                queue.put_nowait((time.monotonic() + self.delay, chunk))
            queue.put_nowait((time.monotonic() + self.delay, b""))

        reading = asyncio.create_task(read())
        try:
            while True:
                due, chunk = await queue.get()
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if not chunk:
                    return
                writer.write(chunk)
                await writer.drain()
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)


# A PostgreSQL of the test's own


class PostgresServer:
    """PostgreSQL (pgserver's binaries, the embedded database's) on a free loopback port, its data in `folder`.

    Never the machine's shared server: this one is stopped and started again by the test, by its own pid.
    PostgreSQL refuses to run as root, so under root it runs as the system user pgserver uses.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data_dir = folder / "pgdata"
        self.log_path = folder / "postgres.log"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.user = "pgserver" if os.geteuid() == 0 else None

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self.data_dir.mkdir(mode=0o700)
        if self.user is not None:
            pgserver_utils.ensure_user_exists(self.user)
            entry = pwd.getpwnam(self.user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "initdb"),
                "-D",
                str(self.data_dir),
                "--auth=trust",
                "-U",
                "postgres",
                "--encoding=utf8",
            ],
            check=True,
            capture_output=True,
            user=self.user,
        )

    def start(self) -> None:
        """Starts the server (again, after `stop`) and returns once it accepts connections."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    str(POSTGRES_BIN_PATH / "postgres"),
                    "-D",
                    str(self.data_dir),
                    "-p",
                    str(self.port),
                    "-h",
                    "127.0.0.1",
                    "-k",
                    "",
                    "-c",
                    "max_connections=100",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                user=self.user,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"throwaway PostgreSQL did not start; see {self.log_path}") from None
                time.sleep(0.1)

    def stop(self, sig: int = signal.SIGINT) -> None:
        """SIGINT: a fast shutdown (clients cut off, open transactions rolled back); SIGQUIT: an immediate one, as
        after a crash (recovered from its log at the next start)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def create_database(self, name: str, env: dict[str, str]) -> str:
        """A database on this server with the product's schema (`manage.py migrate`); returns its URL."""
        return create_database(self.url("postgres"), name, env)


@contextmanager
def throwaway_postgres() -> Iterator[PostgresServer]:
    """A PostgresServer in a folder of its own under the system's temporary folder (not pytest's: every pytest
    run makes that private to root again, and the server may run as another user), removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="cs-postgres-"))
    folder.chmod(0o755)
    server = PostgresServer(folder)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
