"""`python -m bench.run` (what `make bench` runs): the product against a bare relay, in one run.

It brings the product up as deployed through the harness the tests use too (cs_platform/stack.py: two web
workers, a Celery worker and beat, PostgreSQL and Redis from DATABASE_URL / REDIS_URL, else embedded ones of its
own) on a database and a Redis key prefix of its own, and the bare relay (bench/bare_relay.py) with two
processes. It runs each scenario several times, prints a Markdown table (medians, min-max, product / bare relay
from the same run), writes the raw figures as JSON under bench/results/, and stops everything it started, by its
own process ids. docs/performance.md explains the figures.

    python -m bench.run [--quick] [--layer pubsub|core] [--server daphne|uvicorn] [--scenarios relay,idle]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis
import uvloop

from bench import loadgen, pyspy_summary
from cs_platform.stack import (
    BASE_DIR,
    START_TIMEOUT,
    VENV_BIN,
    Process,
    Servers,
    Stack,
    WebServer,
    WebWorker,
    create_database,
    database_named,
    drop_database,
    forget_redis_keys,
    free_port,
    http_json,
    process_env,
    start_all,
    stop_all,
)

RESULTS_DIR = BASE_DIR / "bench" / "results"
SCENARIOS = ("idle", "assignment", "burst", "relay", "failover", "upload", "search", "reports")
# Left out of `--quick`: twenty 10 MiB uploads, a million messages or a million conversations are not the
# smoke test's few seconds.
QUICK_SCENARIOS = ("idle", "assignment", "burst", "relay", "failover")
MAX_RELAY_P99_MS = 100


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is: the full run (issue 5) or `--quick`, the smoke test's few seconds."""

    reps: int
    relay_pairs: int
    relay_rates: tuple[float, ...]
    relay_fixed_rates: tuple[float, ...]
    relay_step_seconds: float
    relay_drain_seconds: float
    idle_sockets: int
    idle_rest_seconds: float
    assign_agents: int
    assign_capacity: int
    assign_starts: int
    assign_rate: float
    burst_customers: int
    burst_agents: int
    burst_capacity: int
    burst_seconds: float
    time_limit_seconds: float
    failover_reps: int = 1
    failover_customers: int = 5000
    failover_agents: int = 100
    failover_messages: int = 400
    failover_rate: float = 100.0
    failover_reconnect_concurrency: int = 64
    failover_timeout_seconds: float = 300.0
    upload_files: int = 20
    upload_bytes: int = 10 * 2**20
    upload_concurrency: int = 4
    upload_timeout_seconds: float = 300.0
    search_conversations: int = 50_000
    search_messages_per_conversation: int = 20
    search_queries: int = 20
    reports_conversations: int = 1_000_000
    reports_customers: int = 100_000
    reports_agents: int = 50
    reports_timeout_seconds: float = 120.0


FULL = Sizes(
    reps=3,
    relay_pairs=100,
    relay_rates=(50, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000, 8000, 12000, 16000),
    relay_fixed_rates=(200, 500),
    relay_step_seconds=3.0,
    relay_drain_seconds=3.0,
    idle_sockets=10000,
    idle_rest_seconds=15.0,
    assign_agents=10,
    assign_capacity=100,
    assign_starts=100,
    assign_rate=20.0,
    burst_customers=1000,
    burst_agents=100,
    burst_capacity=1,
    burst_seconds=10.0,
    time_limit_seconds=30 * 60,
)
QUICK = Sizes(
    reps=1,
    relay_pairs=4,
    relay_rates=(20, 40),
    relay_fixed_rates=(20,),
    relay_step_seconds=1.0,
    relay_drain_seconds=5.0,
    idle_sockets=40,
    idle_rest_seconds=2.0,
    assign_agents=2,
    assign_capacity=20,
    assign_starts=6,
    assign_rate=10.0,
    burst_customers=12,
    burst_agents=4,
    burst_capacity=1,
    burst_seconds=1.0,
    time_limit_seconds=240,
    failover_customers=20,
    failover_agents=4,
    failover_messages=20,
    failover_rate=20.0,
    failover_timeout_seconds=30.0,
    reports_conversations=2000,
    reports_customers=200,
    reports_agents=5,
)


# ---------------------------------------------------------------------------------------------------------
# Servers and processes: cs_platform/stack.py starts them; here, what the benchmark adds


class BareRelay(Process):
    """One process of the bare relay (bench/bare_relay.py) on a port of its own; ready once the port accepts."""

    def __init__(self, *, name: str, env: dict[str, str], log_dir: Path, redis_url: str, channel: str) -> None:
        super().__init__(name=name, env=env, log_dir=log_dir)
        self.port = free_port()
        self.redis_url = redis_url
        self.channel = channel

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "bench.bare_relay",
            "--port",
            str(self.port),
            "--redis-url",
            self.redis_url,
            "--channel",
            self.channel,
        ]

    def is_ready(self, log_offset: int) -> bool:
        with socket.socket() as probe:
            probe.settimeout(0.5)
            return probe.connect_ex(("127.0.0.1", self.port)) == 0


def _answers_quickly(web: WebWorker) -> bool:
    """`/healthz` in under half a second: the worker's database thread has no backlog left."""
    started = time.monotonic()
    return web.healthy() and time.monotonic() - started < 0.5


class BenchStack:
    """Everything one run needs: its servers and database, the product (`Stack`: two web workers, a Celery worker
    and beat, as deployed) and the bare relay; stopped in reverse, including on errors and signals."""

    def __init__(self, *, layer: str, server: WebServer, sizes: Sizes, extra_env: dict[str, str]) -> None:
        self.layer = layer
        self.extra_env = extra_env
        self.server: WebServer = server
        self.sizes = sizes
        self.tag = f"csbench{os.getpid()}"
        # Measured as deployed: production settings, so a key of this run's own.
        self.secret_key = secrets.token_urlsafe(50)
        self.work_dir = Path(tempfile.mkdtemp(prefix=f"{self.tag}-"))
        self.log_dir = self.work_dir / "logs"
        self.log_dir.mkdir()
        self.servers: Servers | None = None
        self.database_url = ""
        self.database_created = False
        self.product = Stack(web=())
        self.bare: tuple[BareRelay, ...] = ()

    @property
    def web(self) -> tuple[WebWorker, ...]:
        return self.product.web

    @property
    def redis_url(self) -> str:
        assert self.servers is not None
        return self.servers.redis_url

    @property
    def processes(self) -> tuple[Process, ...]:
        return (*self.product.processes, *self.bare)

    # Start

    def start(self) -> dict[str, Any]:
        # Embedded servers, when needed, are this run's only, in a folder of their own: started here, stopped here.
        self.servers = Servers.given_or_embedded(BASE_DIR / ".data" / self.tag)
        self.database_url = database_named(self.servers.database_url, self.tag)
        env = self.product_env()
        self.database_created = True
        create_database(self.servers.database_url, self.tag, env)
        data = self._django_setup(env)
        # Celery with gossip and mingle, as deployed (the tests' workers go without).
        self.product = Stack.of(env, self.log_dir, web=2, server=self.server, celery=1, gossip=True, beat=True)
        self.bare = tuple(
            BareRelay(
                name=f"bare{n}", env=env, log_dir=self.log_dir, redis_url=self.redis_url, channel=f"{self.tag}:bare"
            )
            for n in (1, 2)
        )
        start_all(self.processes)
        return data

    def product_env(self) -> dict[str, str]:
        return process_env(
            database_url=self.database_url,
            redis_url=self.redis_url,
            redis_prefix=self.tag,
            CHANNEL_LAYER=self.layer,
            CS_ENV="production",
            SECRET_KEY=self.secret_key,
            # The per-socket limit (20 frames/s) would cap the relay figure at 20 x sockets; it is the server,
            # not the limiter, that is measured here.
            CHAT_RATE_PER_SECOND="100000",
            CHAT_RATE_BURST="100000",
            # Twenty uploads in seconds from one customer: the limit (20/m) would measure itself, not the server.
            ATTACHMENT_UPLOAD_RATE="none",
            # Uploads land in this run's folder, removed with it.
            ATTACHMENT_ROOT=str(self.work_dir / "attachments"),
            # The burst opens a thousand widget sessions from 127.0.0.1 in seconds: a flood the limit would stop.
            WIDGET_SESSION_RATE="none",
            LOGIN_RATE="none",
            **self.extra_env,
        )

    def _django_setup(self, env: dict[str, str]) -> dict[str, Any]:
        s = self.sizes
        lines = [
            {"key": "bench-relay", "agents": s.relay_pairs, "capacity": 1},
            {"key": "bench-assign", "agents": s.assign_agents, "capacity": s.assign_capacity},
            {"key": "bench-idle", "agents": 0, "capacity": 1},
            {"key": "bench-upload", "agents": 0, "capacity": 1},
            {"key": "bench-search", "agents": 1, "capacity": 1},
            {"key": "bench-search-other", "agents": 0, "capacity": 1},
            *(
                {"key": f"bench-burst-{rep}", "agents": s.burst_agents, "capacity": s.burst_capacity}
                for rep in range(s.reps)
            ),
            # An agent waiting longer than the line's disconnect grace (default 60 s) for a new socket, behind
            # thousands of customers reconnecting on a busy machine, would lose their chats to the queue by design,
            # and their resent messages would be refused: the figure is the reconnect, not that policy.
            *(
                {
                    "key": f"bench-failover-{rep}",
                    "agents": s.failover_agents,
                    "capacity": 1,
                    "settings": {"disconnect_grace": 3600},
                }
                for rep in range(s.failover_reps)
            ),
        ]
        done = subprocess.run(
            [sys.executable, "-m", "bench.django_setup", "create", json.dumps({"lines": lines})],
            cwd=BASE_DIR,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(done.stdout)["lines"]

    async def settle(self) -> None:
        """After a mass disconnect the workers clean up for seconds; a scenario starts after that, not during."""
        loop = asyncio.get_running_loop()
        for web in self.web:
            deadline = loop.time() + START_TIMEOUT
            while not await loop.run_in_executor(None, _answers_quickly, web):
                if not web.alive or loop.time() > deadline:
                    raise RuntimeError(f"{web.name} exited, or slow to answer /healthz for {START_TIMEOUT:.0f} s")
                await asyncio.sleep(0.1)

    # Checks and clean-up

    def db_check(self, line_key: str) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "bench.django_setup", "check", line_key],
            cwd=BASE_DIR,
            env=self.product_env(),
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(done.stdout)

    def layer_subscriptions(self) -> int:
        """Redis pub/sub channels of this run's channel layer (the pub/sub layer subscribes one per group)."""
        client = redis.Redis.from_url(self.redis_url)
        try:
            return len(client.pubsub_channels(f"{self.tag}:layer:*"))
        finally:
            client.close()

    def versions(self) -> dict[str, str]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        assert version is not None
        postgres = version[0]
        client = redis.Redis.from_url(self.redis_url)
        try:
            redis_version = client.info("server")["redis_version"]
        finally:
            client.close()
        packages = (
            "django",
            "channels",
            "channels-redis",
            "daphne",
            "uvicorn",
            "websockets",
            "redis",
            "psycopg",
            "uvloop",
            "orjson",
        )
        return {
            "postgresql": postgres,
            "redis_server": redis_version,
            **{name: metadata.version(name) for name in packages},
        }

    def stop(self) -> None:
        try:
            stop_all(self.processes)
        except RuntimeError as error:  # keep cleaning up
            print(f"stopping: {error}", file=sys.stderr)
        if self.servers is None:
            return
        forget_redis_keys(self.redis_url, self.tag)
        if self.database_created:
            drop_database(self.servers.database_url, self.tag)
        self.servers.stop()


# ---------------------------------------------------------------------------------------------------------
# Customers through the product's REST edge


def widget_sessions(web: tuple[WebWorker, ...], line_key: str, count: int) -> list[dict[str, Any]]:
    """`POST /api/widget/session/` `count` times (no Origin, as an app would), spread over both workers."""

    def one(n: int) -> dict[str, Any]:
        url = f"{web[n % len(web)].url}/api/widget/session/"
        status, body = http_json("POST", url, {"business_line": line_key, "channel": "web"}, timeout=30)
        if status != 201:
            raise RuntimeError(f"widget session: {status} {body}")
        return body

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


# ---------------------------------------------------------------------------------------------------------
# Scenarios: each runs `reps` times and keeps every run's raw figures


def ws_base(process: WebWorker | BareRelay) -> str:
    return f"ws://127.0.0.1:{process.port}"


UNSUBSCRIBE_TIMEOUT = 60.0


async def until_unsubscribed(stack: BenchStack, before: int, timeout: float) -> float | None:
    """Seconds until the worker has dropped every layer subscription of the closed sockets; None if not in time."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if stack.layer_subscriptions() <= before:
            return round(time.perf_counter() - started, 1)
        await asyncio.sleep(0.5)
    return None


async def scenario_idle(stack: BenchStack, customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    s = stack.sizes
    web1, bare1 = stack.web[0], stack.bare[0]
    runs = []
    for _rep in range(s.reps):
        web1.restart()
        before = stack.layer_subscriptions()
        product = await loadgen.idle_sockets(
            loadgen.product_customer_specs(ws_base(web1), customers),
            server_pid=web1.pid,
            expect_hello=True,
            heartbeat=15.0,
            rest_seconds=s.idle_rest_seconds,
        )
        product["seconds_until_unsubscribed"] = await until_unsubscribed(stack, before, UNSUBSCRIBE_TIMEOUT)
        product["layer_subscriptions_left_after_close"] = stack.layer_subscriptions() - before
        bare1.restart()
        bare = await loadgen.idle_sockets(
            [(f"{ws_base(bare1)}/?id=idle{n}", "customer", n) for n in range(len(customers))],
            server_pid=bare1.pid,
            expect_hello=False,
            heartbeat=15.0,
            rest_seconds=s.idle_rest_seconds,
        )
        runs.append({"product": product, "bare": bare})
    return runs


async def scenario_assignment(
    stack: BenchStack, agents: list[dict[str, Any]], customers: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    s = stack.sizes
    web1, web2 = stack.web
    agent_conns = await loadgen.open_many(loadgen.product_agent_specs(ws_base(web2), agents), expect_hello=True)
    runs = []
    try:
        await loadgen.agents_online(agent_conns)
        for rep in range(-1, s.reps):
            # Run -1 warms both workers up (first queries, first assignment) and is not counted.
            batch = customers[(rep + 1) * s.assign_starts : (rep + 2) * s.assign_starts]
            conns = await loadgen.open_many(loadgen.product_customer_specs(ws_base(web1), batch), expect_hello=True)
            try:
                figures = await loadgen.assignment_latency(conns, agent_conns, rate=s.assign_rate)
                if rep >= 0:
                    runs.append(figures)
            finally:
                await loadgen.close_many(conns)
    finally:
        await loadgen.close_many(agent_conns)
    return runs


async def scenario_burst(
    stack: BenchStack, lines: dict[str, Any], customers_by_rep: list[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    s = stack.sizes
    web1, web2 = stack.web
    runs = []
    for rep in range(s.reps):
        line_key = f"bench-burst-{rep}"
        agents = await loadgen.open_many(
            loadgen.product_agent_specs(ws_base(web2), lines[line_key]["agents"]), expect_hello=True
        )
        customers: list[loadgen.Conn] = []
        try:
            await loadgen.agents_online(agents)
            # Customers on both workers, so that opening a thousand sockets takes half as long.
            batch = customers_by_rep[rep]
            customers = await loadgen.open_many(
                loadgen.product_customer_specs(ws_base(web1), batch[::2])
                + loadgen.product_customer_specs(ws_base(web2), batch[1::2]),
                expect_hello=True,
            )
            figures = await loadgen.burst(customers, agents, capacity=s.burst_capacity, seconds=s.burst_seconds)
        finally:
            await loadgen.close_many([*customers, *agents])
        await stack.settle()
        database = stack.db_check(line_key)
        figures["db_active"] = database["active"]
        figures["db_waiting"] = database["waiting"]
        figures["db_conversations_held_twice"] = len(database["conversations_assigned_twice"])
        figures["db_agents_over_capacity"] = len(database["agents_over_capacity"])
        runs.append(figures)
    return runs


async def scenario_failover(
    stack: BenchStack, lines: dict[str, Any], customers_by_rep: list[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Worker 1 holds every customer and agent socket, the agents each in a conversation, messages flowing both
    ways; it is killed with SIGKILL half-way through them. Every client reconnects to worker 2 and catches up."""
    s = stack.sizes
    web1, web2 = stack.web
    runs = []
    for rep in range(s.failover_reps):
        line_key = f"bench-failover-{rep}"
        web1.restart()
        agents = await loadgen.open_many(
            loadgen.product_agent_specs(ws_base(web1), lines[line_key]["agents"]), expect_hello=True
        )
        customers: list[loadgen.Conn] = []
        survivors: list[loadgen.Conn] = []
        try:
            await loadgen.agents_online(agents)
            customers = await loadgen.open_many(
                loadgen.product_customer_specs(ws_base(web1), customers_by_rep[rep]), expect_hello=True
            )
            # A set-up, not a figure: a worker holding thousands of sockets on a busy machine may take its time.
            pairs = await loadgen.product_pairs(customers[: len(agents)], agents, timeout=s.failover_timeout_seconds)
            figures = await loadgen.failover(
                pairs,
                customers[len(agents) :],
                survivor=ws_base(web2),
                kill=web1.kill,
                messages=s.failover_messages,
                rate=s.failover_rate,
                reconnect_concurrency=s.failover_reconnect_concurrency,
                timeout=s.failover_timeout_seconds,
            )
            clients = figures.pop("clients")
            survivors = [client.conn for client in clients]
            figures.update(
                await asyncio.get_running_loop().run_in_executor(None, failover_losses, stack.database_url, clients)
            )
            figures["customer_sockets"], figures["agent_sockets"] = len(customers), len(agents)
        finally:
            await loadgen.close_many(survivors or [*customers, *agents])
            web1.restart()
        await stack.settle()
        runs.append(figures)
    return runs


def failover_losses(database_url: str, clients: list[loadgen.Resilient]) -> dict[str, int]:
    """What PostgreSQL holds against what each client was acknowledged and shown, after it caught up.

    Lost: a message acknowledged to its sender but not stored, a stored message of a client's conversation that the
    client never got (pushed, synced or in an assignment), or a message its sender never got acknowledged.
    """
    conversations = sorted({client.conversation_id for client in clients if client.conversation_id is not None})
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT conversation_id, seq, id FROM chat_message WHERE conversation_id = ANY(%s)"
            " AND NOT is_internal_note",
            [conversations],
        ).fetchall()
    stored: dict[int, dict[int, int]] = {}
    for conversation_id, seq, message_id in rows:
        stored.setdefault(conversation_id, {})[seq] = message_id
    stored_ids = {message_id for messages in stored.values() for message_id in messages.values()}
    acked_not_stored = sum(
        1 for client in clients for message_id in client.acked.values() if message_id not in stored_ids
    )
    not_delivered = sum(
        1
        for client in clients
        if client.conversation_id is not None
        for seq, message_id in stored.get(client.conversation_id, {}).items()
        if client.seen.get(seq) != message_id
    )
    never_acked = sum(len(client.unacked) for client in clients)
    return {
        "messages_stored": len(rows),
        "acked_not_stored": acked_not_stored,
        "stored_not_delivered": not_delivered,
        "never_acked": never_acked,
        "messages_lost": acked_not_stored + not_delivered + never_acked,
    }


async def open_product_pairs(
    stack: BenchStack, agents: list[dict[str, Any]], customers: list[dict[str, Any]], conns: list[loadgen.Conn]
) -> list[tuple[loadgen.Conn, loadgen.Conn]]:
    """Agents on worker 2, customers on worker 1, one conversation each; every socket opened goes to `conns`."""
    web1, web2 = stack.web
    conns += await loadgen.open_many(loadgen.product_agent_specs(ws_base(web2), agents), expect_hello=True)
    await loadgen.agents_online(conns)
    customer_conns = await loadgen.open_many(
        loadgen.product_customer_specs(ws_base(web1), customers), expect_hello=True
    )
    agent_conns = list(conns)
    conns += customer_conns
    return await loadgen.product_pairs(customer_conns, agent_conns)


async def scenario_relay(
    stack: BenchStack, agents: list[dict[str, Any]], customers: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    s = stack.sizes
    (web1, web2), (bare1, bare2) = stack.web, stack.bare
    product_conns: list[loadgen.Conn] = []
    bare_conns: list[loadgen.Conn] = []
    runs = []
    try:
        product_pairs = await open_product_pairs(stack, agents, customers, product_conns)
        n = s.relay_pairs
        bare_conns = await loadgen.open_many(
            [(f"{ws_base(bare1)}/?id=c{i}", "customer", f"c{i}") for i in range(n)]
            + [(f"{ws_base(bare2)}/?id=a{i}", "agent", f"a{i}") for i in range(n)],
            expect_hello=False,
        )
        bare_pairs = list(zip(bare_conns[:n], bare_conns[n:]))
        for customer, agent in bare_pairs:
            customer.peer, agent.peer = agent.ident, customer.ident
        sides = (
            ("product", product_pairs, {"web1": web1.pid, "web2": web2.pid}),
            ("bare", bare_pairs, {"bare1": bare1.pid, "bare2": bare2.pid}),
        )
        for rep in range(s.reps):
            run = {}
            for name, pairs, watch in sides:
                product, seconds, drain = name == "product", s.relay_step_seconds, s.relay_drain_seconds
                run[name] = await loadgen.relay_ramp(
                    pairs,
                    product=product,
                    rates=s.relay_rates,
                    seconds=seconds,
                    drain=drain,
                    tag=f"r{rep}{name}",
                    watch=watch,
                )
                run[name]["fixed"] = [
                    await loadgen.relay_fixed(
                        pairs,
                        product=product,
                        rate=rate,
                        seconds=seconds,
                        drain=drain,
                        tag=f"f{rep}{name}{rate:g}",
                        watch=watch,
                    )
                    for rate in s.relay_fixed_rates
                ]
            runs.append(run)
    finally:
        await loadgen.close_many([*product_conns, *bare_conns])
    return runs


async def profile_relay(
    stack: BenchStack,
    agents: list[dict[str, Any]],
    customers: list[dict[str, Any]],
    *,
    rate: float,
    seconds: float,
    out_dir: Path,
    stem: str,
) -> dict[str, Any]:
    """py-spy on both web workers (every thread, waits included) while the relay runs at a fixed rate."""
    conns: list[loadgen.Conn] = []
    try:
        pairs = await open_product_pairs(stack, agents, customers, conns)
        await loadgen.relay_fixed(pairs, product=True, rate=rate, seconds=2.0, drain=5.0, tag="warm", watch={})
        outputs = {web.name: out_dir / f"{stem}-{web.name}.txt" for web in stack.web}
        spies = [
            await asyncio.create_subprocess_exec(
                str(VENV_BIN / "py-spy"),
                "record",
                "--pid",
                str(web.pid),
                "--duration",
                f"{seconds + 1:g}",
                "--rate",
                "250",
                "--format",
                "raw",
                "--idle",
                "--threads",
                "--nonblocking",
                "--output",
                str(outputs[web.name]),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            for web in stack.web
        ]
        await asyncio.sleep(0.5)
        step = await loadgen.relay_fixed(
            pairs,
            product=True,
            rate=rate,
            seconds=seconds,
            drain=5.0,
            tag="profile",
            watch={web.name: web.pid for web in stack.web},
        )
        for spy in spies:
            await asyncio.wait_for(spy.wait(), seconds + 30)
    finally:
        await loadgen.close_many(conns)
    summaries = {}
    for name, path in outputs.items():
        summaries[name] = path.with_name(f"{path.stem}-summary.txt")
        summaries[name].write_text(pyspy_summary.summarize(path) + "\n")
    return {
        "step": step,
        "profiles": {name: str(path) for name, path in outputs.items()},
        "summaries": {name: str(path) for name, path in summaries.items()},
    }


UPLOAD_SAMPLE_SECONDS = 0.05
UPLOAD_BOUNDARY = "csbench-upload-boundary"
# Straight to the bench's own worker, whatever proxy the environment names.
_UPLOAD_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def pdf_upload_body(size: int) -> bytes:
    """A multipart body with one `file` part: `size` bytes that open like a PDF (the type is read from them)."""
    content = b"%PDF-1.4\n" + b"0" * (size - len(b"%PDF-1.4\n"))
    return (
        (
            f'--{UPLOAD_BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="bench.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{UPLOAD_BOUNDARY}--\r\n".encode()
    )


def upload_once(url: str, token: str, body: bytes) -> int:
    """One `POST .../attachments/` with the customer's token; the answer's status."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Authorization": f"Token {token}",
            "Content-Type": f"multipart/form-data; boundary={UPLOAD_BOUNDARY}",
            "Accept": "application/json",
        },
    )
    try:
        with _UPLOAD_OPENER.open(request, timeout=120) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.read()
        return error.code


async def scenario_upload(stack: BenchStack, customer: dict[str, Any]) -> list[dict[str, Any]]:
    """A customer with an open conversation uploads `upload_files` files of `upload_bytes`, `upload_concurrency`
    at a time, to one web worker; its RSS is sampled every 50 ms, to show a file is streamed to storage."""
    s = stack.sizes
    web1 = stack.web[0]
    loop = asyncio.get_running_loop()
    conn = await loadgen.open_conn(
        f"{ws_base(web1)}/ws/customer/?token={customer['token']}", role="customer", ident=0, expect_hello=True
    )
    started = loop.create_future()

    def on_frame(conn: loadgen.Conn, frame: dict[str, Any], now: float) -> None:
        if frame.get("type") == "conversation.state" and frame.get("ref") == "start" and not started.done():
            started.set_result(frame["conversation"]["id"])
        elif frame.get("type") == "error" and not started.done():
            started.set_exception(RuntimeError(f"conversation.start: {frame}"))

    conn.handler = on_frame
    try:
        await conn.send({"type": "conversation.start", "ref": "start"})
        conversation_id = await asyncio.wait_for(started, loadgen.REPLY_TIMEOUT)
        url = f"{web1.url}/api/conversations/{conversation_id}/attachments/"
        body = pdf_upload_body(s.upload_bytes)
        worker = psutil.Process(web1.pid)
        runs = []
        with ThreadPoolExecutor(s.upload_concurrency) as pool:
            # One upload first, not counted: the worker's first parse and first write to storage.
            warm = await loop.run_in_executor(pool, upload_once, url, customer["token"], body)
            if warm != 201:
                raise RuntimeError(f"upload: {warm}")
            for _rep in range(s.reps):
                await stack.settle()
                rss_before = worker.memory_info().rss
                peak = rss_before
                began = time.perf_counter()
                uploads = asyncio.gather(
                    *(
                        loop.run_in_executor(pool, upload_once, url, customer["token"], body)
                        for _ in range(s.upload_files)
                    )
                )
                deadline = began + s.upload_timeout_seconds
                while not uploads.done():
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"uploads not done in {s.upload_timeout_seconds:g} s")
                    peak = max(peak, worker.memory_info().rss)
                    await asyncio.sleep(UPLOAD_SAMPLE_SECONDS)
                statuses = await uploads
                took = time.perf_counter() - began
                peak = max(peak, worker.memory_info().rss)
                stored = sum(1 for status in statuses if status == 201)
                growth_mib = (peak - rss_before) / 2**20
                runs.append(
                    {
                        "files": s.upload_files,
                        "file_mib": round(s.upload_bytes / 2**20, 2),
                        "concurrency": s.upload_concurrency,
                        "stored": stored,
                        "refused": {str(status): statuses.count(status) for status in set(statuses) if status != 201},
                        "seconds": round(took, 2),
                        "uploads_per_second": round(stored / took, 2),
                        "mib_per_second": round(stored * s.upload_bytes / 2**20 / took, 1),
                        "rss_before_mib": round(rss_before / 2**20, 1),
                        "rss_peak_mib": round(peak / 2**20, 1),
                        "rss_growth_mib": round(growth_mib, 1),
                        "rss_growth_per_file_size": round(growth_mib * 2**20 / s.upload_bytes, 2),
                    }
                )
        return runs
    finally:
        await conn.close()


# Search: a million messages, bulk-made by PostgreSQL itself

# Phrases the messages are made of: English and Chinese, as the product's customers write.
SEARCH_PHRASES = (
    "Where is my order? It has not arrived yet.",
    "I would like a refund for the blue jacket.",
    "Can you change the delivery address please?",
    "The package arrived damaged, the box was open.",
    "How long does shipping to Norway take?",
    "Thanks, that solved it. Have a nice day!",
    "My coupon code does not work at checkout.",
    "Do you have this in a larger size?",
    "我想退货，衣服太小了。",
    "请问什么时候发货？",
    "快递一直没有更新物流信息。",
    "优惠券在结账时不能使用。",
    "可以帮我修改收货地址吗？",
    "谢谢，问题已经解决了。",
    "这个商品还有库存吗？",
    "订单显示已签收，但我没有收到。",
)
# Needles: one message in every `SEARCH_NEEDLE_EVERY` carries one, so each is found in a known number of chats.
SEARCH_NEEDLE_EVERY = 100_000
SEARCH_QUERIES = {
    "a rare English word": "zebrafish",
    "a rare Chinese phrase": "发票抬头",
    "a common word (1 message in 16)": "refund",
    "a common Chinese word (1 message in 16)": "退货",
    "a customer's email": "customer4242@example.com",
}


def search_data_build(database_url: str, line_id: int, other_line_id: int, agent_id: int, sizes: Sizes) -> dict:
    """`search_conversations` closed conversations of `search_messages_per_conversation` messages each in the
    search line (one customer each), and a few with the same needles in another line (which the agent must never
    find), made by INSERT ... SELECT over generate_series. The search indexes are dropped first and built after,
    as a restore would (one GIN build is far faster than a million index insertions); both times are figures."""
    from importlib import import_module

    search_sql = import_module("desk.migrations.0002_search")
    per = sizes.search_messages_per_conversation
    phrases = list(SEARCH_PHRASES)
    with psycopg.connect(database_url, autocommit=True) as conn:
        began = time.perf_counter()
        conn.execute("DROP INDEX IF EXISTS desk_message_search_idx; DROP INDEX IF EXISTS desk_customer_search_idx")
        for line, count in ((line_id, sizes.search_conversations), (other_line_id, 100)):
            conn.execute(
                """INSERT INTO customers_customer (visitor_token, external_id, name, email, phone, language,
                       first_channel, attributes, context, first_seen_at, last_seen_at, business_line_id)
                   SELECT 'bench-search-' || %(line)s || '-' || g, 'ext-' || g,
                          (ARRAY['Wang Fang', 'Li Lei', 'Ada Lovelace', '张伟', '王芳'])[1 + g %% 5] || ' ' || g,
                          'customer' || g || '@example.com', '', '', 'web', '{}', '{}', now(), now(), %(line)s
                   FROM generate_series(1, %(count)s) AS g""",
                {"line": line, "count": count},
            )
            conn.execute(
                """INSERT INTO chat_conversation (channel, status, priority, started_at, queued_at, waiting_since,
                       closed_at, close_reason, rating_comment, last_seq, business_line_id, customer_id,
                       handler_ids, answers_by_email, answers_emailed_seq)
                   SELECT 'web', 'closed', 0, t, t, t, t + interval '10 minutes', 'customer', '', %(per)s,
                          %(line)s, cu.id, ARRAY[]::integer[], false, 0
                   FROM (SELECT id, now() - id * interval '1 minute' AS t FROM customers_customer
                         WHERE business_line_id = %(line)s) AS cu""",
                {"line": line, "per": per},
            )
            conn.execute(
                """INSERT INTO chat_message (seq, sender, agent_id, body, event, is_internal_note, attachment,
                       created_at, conversation_id)
                   SELECT s, CASE WHEN s %% 2 = 0 THEN 'agent' ELSE 'customer' END,
                          CASE WHEN s %% 2 = 0 THEN %(agent)s::bigint END,
                          (%(phrases)s::text[])[1 + (c.id * 7 + s * 3) %% %(n_phrases)s]
                            || CASE (c.id * %(per)s + s) %% %(every)s
                                 WHEN 7 THEN ' zebrafish' WHEN 13 THEN '请开发票抬头' ELSE '' END,
                          '', false, '', c.started_at + s * interval '10 seconds', c.id
                   FROM chat_conversation AS c CROSS JOIN generate_series(1, %(per)s) AS s
                   WHERE c.business_line_id = %(line)s""",
                {
                    "line": line,
                    "per": per,
                    "agent": agent_id,
                    "phrases": phrases,
                    "n_phrases": len(phrases),
                    "every": SEARCH_NEEDLE_EVERY if line == line_id else 50,
                },
            )
        inserted = time.perf_counter() - began
        began = time.perf_counter()
        conn.execute(search_sql.CREATE_INDEXES)
        conn.execute("ANALYZE chat_message; ANALYZE customers_customer; ANALYZE chat_conversation")
        indexed = time.perf_counter() - began
        counted = conn.execute(
            "SELECT count(*) FROM chat_message m JOIN chat_conversation c ON c.id = m.conversation_id "
            "WHERE c.business_line_id = %s",
            [line_id],
        ).fetchone()
        size = conn.execute("SELECT pg_relation_size('desk_message_search_idx')").fetchone()
    assert counted is not None and size is not None  # aggregates always answer one row
    messages, index_mib = counted[0], size[0] / 2**20
    return {
        "messages": messages,
        "insert_seconds": round(inserted, 1),
        "index_seconds": round(indexed, 1),
        "index_mib": round(index_mib, 1),
    }


def search_latencies(url: str, token: str, query: str, count: int) -> dict[str, Any]:
    """`count` searches one after the other (after two not counted), and what the last one found."""
    path = f"{url}/api/search/?{urllib.parse.urlencode({'q': query})}"
    for _ in range(2):
        http_json("GET", path, token=token, timeout=120)
    took = []
    body: Any = None
    for _ in range(count):
        began = time.perf_counter()
        status, body = http_json("GET", path, token=token, timeout=120)
        took.append((time.perf_counter() - began) * 1000)
        if status != 200:
            raise RuntimeError(f"search {query!r}: {status} {body}")
    took.sort()
    return {
        "p50_ms": round(statistics.median(took), 1),
        "p90_ms": round(took[int(len(took) * 0.9) - 1], 1),
        "results": len(body["results"]),
    }


async def scenario_search(stack: BenchStack, lines: dict[str, Any]) -> list[dict[str, Any]]:
    """Search latency over a million messages of the agent's line, through `GET /api/search/` on one worker."""
    s = stack.sizes
    agent = lines["bench-search"]["agents"][0]
    loop = asyncio.get_running_loop()
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        ids: dict[str, int] = dict(
            conn.execute(
                "SELECT key, id FROM routing_businessline WHERE key IN ('bench-search', 'bench-search-other')"
            ).fetchall()
        )
    built = await loop.run_in_executor(
        None,
        search_data_build,
        stack.database_url,
        ids["bench-search"],
        ids["bench-search-other"],
        agent["agent_id"],
        s,
    )
    runs = []
    for _rep in range(s.reps):
        await stack.settle()
        figures = {}
        for label, query in SEARCH_QUERIES.items():
            figures[label] = await loop.run_in_executor(
                None, search_latencies, stack.web[0].url, agent["token"], query, s.search_queries
            )
        runs.append({**built, "queries": figures})
    return runs


# The reports: a supervisor's figures and conversation rows over a year of conversations (docs/reports.md)

REPORTS_PASSWORD = "bench-reports-password"  # the supervisor's, for the reports page's session; this run's only
REPORTS_REQUESTS = ("summary_year", "summary_month", "rows_first_page", "rows_next_page", "page_month", "page_year")


def reports_fill(stack: BenchStack) -> dict[str, Any]:
    s = stack.sizes
    spec = {
        "conversations": s.reports_conversations,
        "customers": s.reports_customers,
        "agents": s.reports_agents,
        "password": REPORTS_PASSWORD,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.django_setup", "reports-fill", json.dumps(spec)],
        cwd=BASE_DIR,
        env=stack.product_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)


class _Session:
    """An admin session over plain HTTP, its cookies kept by hand (a few lines; no cookie policy to argue with)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}

    def request(self, path: str, form: dict[str, str] | None = None, timeout: float = 120) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"{self.base}{path}"
        request = urllib.request.Request(f"{self.base}{path}", data=data, headers=headers)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
        try:
            with opener.open(request, timeout=timeout) as response:
                status, body, cookies = response.status, response.read(), response.headers.get_all("Set-Cookie")
        except urllib.error.HTTPError as error:
            status, body, cookies = error.code, error.read(), error.headers.get_all("Set-Cookie")
        for cookie in cookies or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return status, body.decode(errors="replace")

    def login(self, username: str, password: str) -> None:
        status, page = self.request("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or token is None:
            raise RuntimeError(f"admin login page: {status}")
        status, _ = self.request(
            "/admin/login/",
            {"csrfmiddlewaretoken": token.group(1), "username": username, "password": password, "next": "/admin/"},
        )
        if status != 302:
            raise RuntimeError(f"admin login: {status}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _timed(call: Any) -> float:
    began = time.perf_counter()
    call()
    return round((time.perf_counter() - began) * 1000, 1)


async def scenario_reports(stack: BenchStack) -> list[dict[str, Any]]:
    """A year of `reports_conversations` conversations in one business line (Shanghai time), then, as a supervisor
    on one web worker: the summary over the year and over its last 30 days, the first page of the year's rows and
    the page after it, and the reports page (summary + charts) over 30 days and over the year. Each request once
    untimed (a cold cache is not the figure), then timed once per rep."""
    loop = asyncio.get_running_loop()
    filled = await loop.run_in_executor(None, reports_fill, stack)
    web = stack.web[0]
    today = datetime.now(UTC).date()
    year = {
        "since": (today - timedelta(days=filled["days"] + 1)).isoformat(),
        "until": (today + timedelta(days=2)).isoformat(),
    }
    month = {"since": (today - timedelta(days=30)).isoformat(), "until": year["until"]}
    # The page shows at most a year (366 days) at once.
    page_year = {"since": (today - timedelta(days=365)).isoformat(), "until": (today + timedelta(days=1)).isoformat()}
    line = {"business_line": filled["line"]}
    timeout = stack.sizes.reports_timeout_seconds

    def api(path: str, query: dict[str, Any]) -> Any:
        status, answer = http_json(
            "GET", f"{web.url}{path}?{urllib.parse.urlencode(query)}", token=filled["token"], timeout=timeout
        )
        if status != 200:
            raise RuntimeError(f"{path}: {status} {str(answer)[:200]}")
        return answer

    session = _Session(web.url)
    await loop.run_in_executor(None, session.login, filled["username"], REPORTS_PASSWORD)

    def page(query: dict[str, Any]) -> None:
        status, _ = session.request(f"/admin/reports/?{urllib.parse.urlencode(query)}", timeout=timeout)
        if status != 200:
            raise RuntimeError(f"reports page: {status}")

    first = await loop.run_in_executor(None, api, "/api/reports/conversations/", {**line, **year, "page_size": 100})
    next_url = first["next"].split("/api/reports/conversations/", 1)[1]
    calls = {
        "summary_year": lambda: api("/api/reports/summary/", {**line, **year}),
        "summary_month": lambda: api("/api/reports/summary/", {**line, **month}),
        "rows_first_page": lambda: api("/api/reports/conversations/", {**line, **year, "page_size": 100}),
        "rows_next_page": lambda: http_json(
            "GET", f"{web.url}/api/reports/conversations/{next_url}", token=filled["token"], timeout=timeout
        ),
        "page_month": lambda: page({**line, **month}),
        "page_year": lambda: page({**line, **page_year}),
    }
    counted = await loop.run_in_executor(None, api, "/api/reports/summary/", {**line, **year})
    if counted["conversations"] != filled["conversations"]:
        raise RuntimeError(f"the summary counts {counted['conversations']} of {filled['conversations']}")
    for call in calls.values():
        await loop.run_in_executor(None, call)
    runs = []
    for _rep in range(stack.sizes.reps):
        await stack.settle()
        run: dict[str, Any] = {
            "conversations": filled["conversations"],
            "insert_seconds": filled["insert_seconds"],
            "rows_per_page": len(first["results"]),
        }
        for name in REPORTS_REQUESTS:
            run[f"{name}_ms"] = await loop.run_in_executor(None, _timed, calls[name])
        runs.append(run)
    return runs


# ---------------------------------------------------------------------------------------------------------
# Figures: medians and ranges over runs, the ratio product / bare relay, the table


def spread(values: list[float | None]) -> dict[str, Any]:
    """Median and min-max over the runs that produced a value."""
    present = [v for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None, "values": values}
    return {"median": statistics.median(present), "min": min(present), "max": max(present), "values": values}


def ratio(product: dict[str, Any], bare: dict[str, Any]) -> float | None:
    if product["median"] is None or not bare["median"]:
        return None
    return round(product["median"] / bare["median"], 3)


def relay_step_at(ramp: dict[str, Any], rate: float) -> dict[str, Any] | None:
    return next((step for step in ramp["fixed"] if step["rate_target"] == rate), None)


def cpu_per_message(ramp: dict[str, Any], rate: float) -> float | None:
    """CPU the two server processes spent per message during the ramp's step at `rate`, in milliseconds."""
    step = next((step for step in ramp["steps"] if step["rate_target"] == rate), None)
    if step is None:
        return None
    servers = sum(percent for name, percent in step["cpu_percent"].items() if name != "loadgen")
    return round(servers / 100 / rate * 1000, 2)


def summarize(results: dict[str, Any], sizes: Sizes) -> list[dict[str, Any]]:
    """One row per figure: product and bare relay medians with min-max, and their ratio."""
    rows: list[dict[str, Any]] = []

    def row(figure: str, product: list[Any], bare: list[Any] | None = None, *, unit: str = "") -> None:
        entry: dict[str, Any] = {"figure": figure, "unit": unit, "product": spread(product)}
        if bare is not None:
            entry["bare"] = spread(bare)
            entry["ratio"] = ratio(entry["product"], entry["bare"])
        rows.append(entry)

    relay = results.get("relay")
    if relay:
        both = ("product", "bare")
        row(
            f"relay: highest rate, nothing lost, p99 < {MAX_RELAY_P99_MS} ms",
            *([run[side]["max_sustained_rate"] for run in relay] for side in both),
            unit="msg/s",
        )
        row(
            "relay: servers' CPU per message at 100 msg/s (both processes)",
            *([cpu_per_message(run[side], 100) for run in relay] for side in both),
            unit="ms",
        )
        for rate in sizes.relay_fixed_rates:
            for q in ("p50", "p95", "p99"):
                row(
                    f"relay at {rate:g} msg/s: {q}",
                    *([(relay_step_at(run[side], rate) or {}).get(f"{q}_ms") for run in relay] for side in both),
                    unit="ms",
                )
            row(
                f"relay at {rate:g} msg/s: lost (not delivered within {sizes.relay_drain_seconds:g} s)",
                *([(relay_step_at(run[side], rate) or {}).get("lost") for run in relay] for side in both),
                unit="messages",
            )
            row(
                f"relay at {rate:g} msg/s: never delivered",
                *([(relay_step_at(run[side], rate) or {}).get("never_delivered") for run in relay] for side in both),
                unit="messages",
            )
    idle = results.get("idle")
    if idle:
        for key, label, unit in (
            ("rss_per_socket_kib", f"idle: memory per socket ({sizes.idle_sockets} sockets)", "KiB"),
            ("open_per_second", "idle: sockets opened per second", "/s"),
            ("cpu_ms_per_open", "idle: the server's CPU per socket opened (until `hello`)", "ms"),
            ("cpu_percent_at_rest", "idle: CPU at rest, heartbeats", "% of a core"),
        ):
            row(label, [run["product"].get(key) for run in idle], [run["bare"].get(key) for run in idle], unit=unit)
        row(
            "idle: sockets that failed to open",
            [run["product"]["failed_to_open"] for run in idle],
            [run["bare"]["failed_to_open"] for run in idle],
            unit="sockets",
        )
        row(
            "idle: seconds until every layer subscription was dropped after the mass close",
            [run["product"].get("seconds_until_unsubscribed") for run in idle],
            unit="s",
        )
        row(
            f"idle: layer subscriptions left {UNSUBSCRIBE_TIMEOUT:g} s after the mass close",
            [run["product"]["layer_subscriptions_left_after_close"] for run in idle],
            unit="channels",
        )
    assignment = results.get("assignment")
    if assignment:
        for q in ("p50", "p99"):
            row(f"assignment at {sizes.assign_rate:g} starts/s: {q}", [run[f"{q}_ms"] for run in assignment], unit="ms")
        row("assignment: starts never assigned", [run["unassigned"] for run in assignment], unit="starts")
    burst = results.get("burst")
    if burst:
        row(
            f"burst: {sizes.burst_customers} starts in {sizes.burst_seconds:g} s, all "
            f"{sizes.burst_agents * sizes.burst_capacity} slots filled after",
            [run["fill_seconds"] for run in burst],
            unit="s",
        )
        row(
            f"burst: starts answered (of {sizes.burst_customers}) by {loadgen.REPLY_TIMEOUT:g} s after the last",
            [run["answered"] for run in burst],
            unit="starts",
        )
        row(
            "burst: invariant breaches (frames + database)",
            [
                run["frames_conversations_held_twice"]
                + run["frames_agents_over_capacity"]
                + run["db_conversations_held_twice"]
                + run["db_agents_over_capacity"]
                for run in burst
            ],
            unit="breaches",
        )
    failover = results.get("failover")
    if failover:
        row(
            f"failover: {sizes.failover_customers} customer + {sizes.failover_agents} agent sockets (agents in "
            "conversations) on a worker killed with SIGKILL: seconds until every one had reconnected to the other "
            "worker and synced",
            [run["seconds_until_all_synced"] for run in failover],
            unit="s",
        )
        row(
            "failover: median seconds to reconnect and sync",
            [run["median_seconds_to_sync"] for run in failover],
            unit="s",
        )
        row(
            "failover: messages lost (acked but not stored, stored but not shown after sync, never acked)",
            [run["messages_lost"] for run in failover],
            unit="messages",
        )
        row("failover: sockets that never reconnected", [run["never_reconnected"] for run in failover], unit="sockets")
    upload = results.get("upload")
    if upload:
        size = f"{sizes.upload_bytes / 2**20:g} MiB"
        label = f"upload: {sizes.upload_files} files of {size}, {sizes.upload_concurrency} at a time, to one worker"
        row(f"{label}: uploads per second", [run["uploads_per_second"] for run in upload], unit="/s")
        row(f"{label}: throughput", [run["mib_per_second"] for run in upload], unit="MiB/s")
        row(
            "upload: the worker's peak RSS growth while uploading (sampled every 50 ms)",
            [run["rss_growth_mib"] for run in upload],
            unit="MiB",
        )
        row(f"upload: that growth / the file size ({size})", [run["rss_growth_per_file_size"] for run in upload])
        row("upload: uploads refused", [run["files"] - run["stored"] for run in upload], unit="uploads")
    search = results.get("search")
    if search:
        messages = f"{search[0]['messages']:,} messages"
        row(
            f"search: bulk insert of {messages} (INSERT ... SELECT)",
            [run["insert_seconds"] for run in search],
            unit="s",
        )
        row(
            "search: building the message and customer search indexes",
            [run["index_seconds"] for run in search],
            unit="s",
        )
        row("search: the message search index's size", [run["index_mib"] for run in search], unit="MiB")
        for label in SEARCH_QUERIES:
            for q in ("p50", "p90"):
                row(
                    f"search over {messages}, {label} ({search[0]['queries'][label]['results']} results): {q}",
                    [run["queries"][label][f"{q}_ms"] for run in search],
                    unit="ms",
                )
    reports = results.get("reports")
    if reports:
        size = f"{sizes.reports_conversations:,} conversations over a year"
        labels = {
            "summary_year": f"reports: the summary over {size}",
            "summary_month": "reports: the summary over their last 30 days",
            "rows_first_page": "reports: the first page (100 rows) of the conversation report over the year",
            "rows_next_page": "reports: the page after it (the keyset cursor)",
            "page_month": "reports: the reports page (summary + charts) over 30 days",
            "page_year": "reports: the reports page over the year",
        }
        for name in REPORTS_REQUESTS:
            row(labels[name], [run[f"{name}_ms"] for run in reports], unit="ms")
        row(
            f"reports: inserting the {size} (generate_series)",
            [run["insert_seconds"] for run in reports],
            unit="s",
        )
    return rows


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"


def _cell(figures: dict[str, Any] | None) -> str:
    if figures is None:
        return "n/a"
    if figures["median"] is None:
        return "-"
    if figures["min"] == figures["max"]:
        return _number(figures["median"])
    return f"{_number(figures['median'])} ({_number(figures['min'])}–{_number(figures['max'])})"


def markdown_table(rows: list[dict[str, Any]], *, reps: int) -> str:
    lines = [
        f"| figure | unit | product, median (min–max of {reps}) | bare relay | product / bare |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for entry in rows:
        ratio_text = "n/a" if "ratio" not in entry else ("-" if entry["ratio"] is None else f"{entry['ratio']:.2f}x")
        lines.append(
            f"| {entry['figure']} | {entry['unit']} | {_cell(entry['product'])} | {_cell(entry.get('bare'))} "
            f"| {ratio_text} |"
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    model = ""
    try:
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    except OSError:
        pass
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


# ---------------------------------------------------------------------------------------------------------
# The run


@dataclass(frozen=True)
class Profile:
    rate: float
    seconds: float
    out_dir: Path
    stem: str


async def run_scenarios(
    stack: BenchStack, lines: dict[str, Any], chosen: list[str], results: dict[str, Any], profile: Profile | None = None
) -> None:
    """Fills `results` scenario by scenario, so that a failure late in the run keeps what was measured."""
    s = stack.sizes
    web = stack.web
    loop = asyncio.get_running_loop()

    async def sessions(line_key: str, count: int) -> list[dict[str, Any]]:
        return await loop.run_in_executor(None, widget_sessions, web, line_key, count)

    # The relay first, on a quiet stack: after the burst, its thousands of waiting conversations time out and
    # are announced to their line's agents, a storm of events that is not the relay's figure.
    if "relay" in chosen:
        customers = await sessions("bench-relay", s.relay_pairs)
        results["relay"] = await scenario_relay(stack, lines["bench-relay"]["agents"], customers)
    if "idle" in chosen:
        results["idle"] = await scenario_idle(stack, await sessions("bench-idle", s.idle_sockets))
    if "assignment" in chosen:
        customers = await sessions("bench-assign", s.assign_starts * (s.reps + 1))
        results["assignment"] = await scenario_assignment(stack, lines["bench-assign"]["agents"], customers)
    if "burst" in chosen:
        customers_by_rep = [await sessions(f"bench-burst-{rep}", s.burst_customers) for rep in range(s.reps)]
        results["burst"] = await scenario_burst(stack, lines, customers_by_rep)
    # Last: it kills a web worker (started again after).
    if "failover" in chosen:
        customers_by_rep = [
            await sessions(f"bench-failover-{rep}", s.failover_customers) for rep in range(s.failover_reps)
        ]
        results["failover"] = await scenario_failover(stack, lines, customers_by_rep)
    if "upload" in chosen:
        results["upload"] = await scenario_upload(stack, (await sessions("bench-upload", 1))[0])
    if "search" in chosen:
        results["search"] = await scenario_search(stack, lines)
    if "reports" in chosen:
        results["reports"] = await scenario_reports(stack)
    if profile is not None:
        customers = await sessions("bench-relay", s.relay_pairs)
        results["profile"] = await profile_relay(
            stack,
            lines["bench-relay"]["agents"],
            customers,
            rate=profile.rate,
            seconds=profile.seconds,
            out_dir=profile.out_dir,
            stem=profile.stem,
        )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--layer",
        choices=("pubsub", "core"),
        default="pubsub",
        help="channel layer: RedisPubSubChannelLayer (pubsub) or RedisChannelLayer (core)",
    )
    parser.add_argument("--server", choices=("daphne", "uvicorn"), default="daphne", help="the web workers' server")
    parser.add_argument(
        "--quick", action="store_true", help="a tiny run of every scenario but upload and search (the smoke test's)"
    )
    parser.add_argument("--reps", type=int, help="runs of each scenario (default 3; 1 with --quick)")
    parser.add_argument("--idle-sockets", type=int, help="sockets of the idle scenario (default 10,000)")
    parser.add_argument(
        "--scenarios",
        help=f"comma-separated, from {', '.join(SCENARIOS)} (default: all; all but upload and search with --quick)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the product's processes, e.g. DB_CONN_HEALTH_CHECKS=false (repeatable)",
    )
    parser.add_argument(
        "--table", type=Path, metavar="JSON", help="print the table of an earlier run's raw figures again, and exit"
    )
    parser.add_argument(
        "--profile",
        type=float,
        metavar="RATE",
        help="instead of the scenarios: py-spy on both web workers while the relay runs at RATE",
    )
    parser.add_argument("--profile-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    if args.profile is not None:
        args.scenarios = ""
    elif args.scenarios is None:
        args.scenarios = ",".join(QUICK_SCENARIOS if args.quick else SCENARIOS)
    args.scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    if any("=" not in item for item in args.env):
        parser.error("--env takes NAME=VALUE")
    args.env = dict(item.split("=", 1) for item in args.env)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def _raise_exit(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def reprint(path: Path) -> int:
    """The table of a results file, with the rows of this version of `summarize`."""
    report = json.loads(path.read_text())
    sizes = Sizes(**{**report["sizes"], **{k: tuple(v) for k, v in report["sizes"].items() if isinstance(v, list)}})
    print(markdown_table(summarize(report["runs"], sizes), reps=report["reps"]))
    return 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.table is not None:
        return reprint(args.table)
    sizes = QUICK if args.quick else FULL
    if args.reps:
        sizes = Sizes(**{**asdict(sizes), "reps": args.reps})
    if args.idle_sockets:
        sizes = Sizes(**{**asdict(sizes), "idle_sockets": args.idle_sockets})
    signal.signal(signal.SIGTERM, _raise_exit)
    started = time.monotonic()
    load_before = list(os.getloadavg())
    started_at = datetime.now(UTC)
    stack = BenchStack(layer=args.layer, server=args.server, sizes=sizes, extra_env=args.env)
    results: dict[str, Any] = {}
    versions: dict[str, str] = {}
    error = "interrupted"
    try:
        print(
            f"bench: starting the product ({args.server}, {args.layer} layer) and the bare relay; "
            f"logs in {stack.log_dir}",
            file=sys.stderr,
            flush=True,
        )
        lines = stack.start()
        versions = stack.versions()
        profile = (
            None
            if args.profile is None
            else Profile(
                rate=args.profile,
                seconds=args.profile_seconds,
                out_dir=args.results_dir,
                stem=f"profile-{started_at:%Y%m%d-%H%M%S}-{args.server}-{args.layer}",
            )
        )
        args.results_dir.mkdir(parents=True, exist_ok=True)
        uvloop.run(
            asyncio.wait_for(run_scenarios(stack, lines, args.scenarios, results, profile), sizes.time_limit_seconds)
        )
        error = ""
    except Exception as exc:
        error = repr(exc)
        traceback.print_exc()
        for process in stack.processes:
            print(f"--- {process.name} (last lines)\n{process.log_tail()}", file=sys.stderr)
    finally:
        stack.stop()
        if not error:
            shutil.rmtree(stack.work_dir, ignore_errors=True)
    rows = summarize(results, sizes)
    table = markdown_table(rows, reps=sizes.reps)
    report = {
        "command": " ".join(["python -m bench.run", *argv]),
        "error": error or None,
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_seconds": round(time.monotonic() - started, 1),
        "layer": args.layer,
        "server": args.server,
        "env": args.env,
        "quick": args.quick,
        "load_average_before_after": [load_before, list(os.getloadavg())],
        "reps": sizes.reps,
        "sizes": asdict(sizes),
        "machine": machine(),
        "versions": versions,
        "summary": rows,
        "runs": results,
        "table": table,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    variant = "".join(f"-{key.lower()}{value}" for key, value in args.env.items())
    name = f"{started_at:%Y%m%d-%H%M%S}-{args.server}-{args.layer}{variant}{'-quick' if args.quick else ''}.json"
    path = args.results_dir / name
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(table)
    print(f"\nRaw figures: {path}", file=sys.stderr)
    if error:
        print(
            f"bench: FAILED ({error}); the table holds the scenarios that finished. Logs: {stack.log_dir}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
