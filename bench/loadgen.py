"""Asyncio load generator: the product's WebSocket protocol (docs/protocol.md) and the bare relay's.

Each scenario is one coroutine that opens its sockets on loopback, drives them at a fixed pace, and returns
plain figures (dicts of numbers) for `bench.run` to repeat and tabulate. Every loop here is bounded in count
and in time; a socket that stays silent past its deadline counts as a loss, never as a hang.

Latency is measured inside this one process (`time.perf_counter`), from the moment a frame is handed to the
socket to the moment the matching frame is read on the other side, so no clocks need to agree.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

OPEN_TIMEOUT = 15.0
CLOSE_TIMEOUT = 2.0
HELLO_TIMEOUT = 15.0
REPLY_TIMEOUT = 15.0
BODY = "Hello, I have a question about my order."

Handler = Callable[["Conn", dict[str, Any], float], None]


def _ignore(conn: Conn, frame: dict[str, Any], now: float) -> None:
    return None


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values; None for no values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(seconds: list[float]) -> dict[str, float | None]:
    """p50 / p95 / p99 / max in milliseconds."""
    values = sorted(seconds)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 3)

    return {
        "p50_ms": ms(percentile(values, 50)),
        "p95_ms": ms(percentile(values, 95)),
        "p99_ms": ms(percentile(values, 99)),
        "max_ms": ms(values[-1] if values else None),
    }


class Conn:
    """One client WebSocket and its reader task, which hands every frame to the current `handler`."""

    def __init__(
        self, ws: ClientConnection, *, role: str, ident: Any, hello: dict[str, Any] | None, url: str = ""
    ) -> None:
        self.ws = ws
        self.url = url
        self.role = role
        self.ident = ident
        self.hello = hello or {}
        self.handler: Handler = _ignore
        self.conversation_id: int | None = None
        self.peer: str | None = None
        self.closed = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                self.handler(self, orjson.loads(text), time.perf_counter())
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def close(self) -> None:
        await self.ws.close()
        try:
            await asyncio.wait_for(self.closed.wait(), CLOSE_TIMEOUT)
        except TimeoutError:
            self.reader.cancel()


async def open_conn(url: str, *, role: str, ident: Any, expect_hello: bool) -> Conn:
    """Open a socket as a client that offers no compression (as the figures assume); wait for `hello`."""
    ws = await connect(
        url,
        compression=None,
        ping_interval=None,
        open_timeout=OPEN_TIMEOUT,
        close_timeout=CLOSE_TIMEOUT,
        max_size=2**22,
        max_queue=None,
    )
    hello = None
    if expect_hello:
        first = orjson.loads(await asyncio.wait_for(ws.recv(), HELLO_TIMEOUT))
        if first.get("type") != "hello":
            await ws.close()
            raise ConnectionError(f"{role} {ident}: expected hello, got {first}")
        hello = first
    return Conn(ws, role=role, ident=ident, hello=hello, url=url)


async def open_some(
    specs: Sequence[tuple[str, str, Any]], *, expect_hello: bool, concurrency: int = 16
) -> tuple[list[Conn], list[BaseException]]:
    """Open (url, role, ident) sockets, at most `concurrency` handshakes at a time; the opened ones in `specs`
    order, and the failures."""
    gate = asyncio.Semaphore(concurrency)

    async def one(url: str, role: str, ident: Any) -> Conn:
        async with gate:
            return await open_conn(url, role=role, ident=ident, expect_hello=expect_hello)

    results = await asyncio.gather(*(one(*spec) for spec in specs), return_exceptions=True)
    return [r for r in results if isinstance(r, Conn)], [r for r in results if not isinstance(r, Conn)]


async def open_many(
    specs: Sequence[tuple[str, str, Any]], *, expect_hello: bool, concurrency: int = 16, retries: int = 2
) -> list[Conn]:
    """Open every socket of `specs` (in that order) or none. Sockets that failed are tried again, `retries`
    times, one second apart: these are a scenario's set-up, not its measurement (idle sockets count failures)."""
    by_spec: dict[int, Conn] = {}
    pending = list(range(len(specs)))
    failures: list[BaseException] = []
    for attempt in range(retries + 1):
        if attempt:
            print(
                f"loadgen: {len(pending)} of {len(specs)} sockets failed to open ({failures[0]!r}); retrying",
                file=sys.stderr,
                flush=True,
            )
            await asyncio.sleep(1.0)
        gate = asyncio.Semaphore(concurrency)

        async def one(index: int, gate: asyncio.Semaphore = gate) -> Conn:
            url, role, ident = specs[index]
            async with gate:
                return await open_conn(url, role=role, ident=ident, expect_hello=expect_hello)

        results = await asyncio.gather(*(one(index) for index in pending), return_exceptions=True)
        failures = [r for r in results if not isinstance(r, Conn)]
        by_spec.update((index, r) for index, r in zip(pending, results) if isinstance(r, Conn))
        pending = [index for index, r in zip(pending, results) if not isinstance(r, Conn)]
        if not pending:
            return [by_spec[index] for index in range(len(specs))]
    await close_many(list(by_spec.values()))
    raise ConnectionError(f"{len(pending)} of {len(specs)} sockets failed to open: {failures[0]!r}")


async def close_many(conns: Sequence[Conn], *, concurrency: int = 256) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(conn: Conn) -> None:
        async with gate:
            try:
                await conn.close()
            except (ConnectionClosed, OSError, InvalidHandshake):
                pass

    await asyncio.gather(*(one(conn) for conn in conns))


async def paced(rate: float, count: int, send_one: Callable[[int], Any]) -> float:
    """Call `send_one(k)` for k in range(count) at `rate` per second; returns the seconds it took.

    It never sends ahead of the schedule, and falls behind it when sends block (the server stopped reading),
    which the caller sees as an achieved rate below the target. Bounded: `count` sends, then it returns.
    """
    start = time.perf_counter()
    sent = 0
    while sent < count:
        due = min(count, int((time.perf_counter() - start) * rate) + 1)
        while sent < due:
            await send_one(sent)
            sent += 1
        await asyncio.sleep(0.002)
    return time.perf_counter() - start


async def wait_until(predicate: Callable[[], bool], timeout: float, poll: float = 0.01) -> bool:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(poll)
    return True


# ---------------------------------------------------------------------------------------------------------
# Product: agents and customers


def product_agent_specs(url: str, agents: Sequence[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    return [(f"{url}/ws/agent/?token={a['token']}", "agent", a["agent_id"]) for a in agents]


def product_customer_specs(url: str, customers: Sequence[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    return [(f"{url}/ws/customer/?token={c['token']}", "customer", c["customer_id"]) for c in customers]


async def agents_online(agents: Sequence[Conn]) -> None:
    """`presence.set online` on every agent socket; waits for each `presence.state` answer."""
    answered: set[Any] = set()

    def on_frame(conn: Conn, frame: dict[str, Any], now: float) -> None:
        if frame.get("type") == "presence.state" and frame.get("ref") == "online":
            answered.add(conn.ident)

    for conn in agents:
        conn.handler = on_frame
    for conn in agents:
        await conn.send({"type": "presence.set", "status": "online", "ref": "online"})
    if not await wait_until(lambda: len(answered) == len(agents), REPLY_TIMEOUT):
        raise TimeoutError(f"only {len(answered)} of {len(agents)} agents confirmed presence online")


@dataclass
class StartRecord:
    """What one wave of `conversation.start` frames produced, as seen from the sockets."""

    started_at: dict[Any, float] = field(default_factory=dict)
    answered: set[Any] = field(default_factory=set)
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Each conversation.assigned seen: (arrival time, agent id, conversation id, customer id).
    assigned: list[tuple[float, Any, int, int]] = field(default_factory=list)


async def conversation_starts(
    customers: Sequence[Conn],
    agents: Sequence[Conn],
    *,
    rate: float,
    expected_assignments: int,
    settle: float,
    timeout: float = REPLY_TIMEOUT,
) -> tuple[StartRecord, float, float]:
    """Every customer sends `conversation.start`, at `rate` a second; the agents' assignments are recorded.

    Waits for every start to be answered and `expected_assignments` assignments, then `settle` seconds more
    so that a late, wrong assignment would still be seen. Returns the record, when the first start was sent,
    and how long the sending took.
    """
    record = StartRecord()

    def on_customer(conn: Conn, frame: dict[str, Any], now: float) -> None:
        kind = frame.get("type")
        if kind == "conversation.state" and frame.get("ref") == "start":
            conn.conversation_id = frame["conversation"]["id"]
            record.answered.add(conn.ident)
        elif kind == "error":
            record.errors.append(frame)

    def on_agent(conn: Conn, frame: dict[str, Any], now: float) -> None:
        kind = frame.get("type")
        if kind == "conversation.assigned":
            conversation = frame["conversation"]
            record.assigned.append((now, conn.ident, conversation["id"], conversation["customer"]["id"]))
        elif kind == "error":
            record.errors.append(frame)

    for conn in customers:
        conn.handler = on_customer
    for conn in agents:
        conn.handler = on_agent

    async def send_one(k: int) -> None:
        conn = customers[k]
        record.started_at[conn.ident] = time.perf_counter()
        await conn.send({"type": "conversation.start", "ref": "start"})

    first = time.perf_counter()
    took = await paced(rate, len(customers), send_one)
    await wait_until(
        lambda: len(record.answered) == len(customers) and len(record.assigned) >= expected_assignments, timeout
    )
    await asyncio.sleep(settle)
    return record, first, took


async def assignment_latency(customers: Sequence[Conn], agents: Sequence[Conn], *, rate: float) -> dict[str, Any]:
    """`conversation.start` at the customer to `conversation.assigned` at the agent, with capacity to spare."""
    record, _first, took = await conversation_starts(
        customers, agents, rate=rate, expected_assignments=len(customers), settle=0.2
    )
    latencies = [
        now - record.started_at[customer_id]
        for now, _agent, _conv, customer_id in record.assigned
        if customer_id in record.started_at
    ]
    return {
        "starts": len(customers),
        "rate_target": rate,
        "rate_achieved": round(len(customers) / took, 1),
        "assigned": len(latencies),
        "unassigned": len(customers) - len({c for _t, _a, _c, c in record.assigned}),
        "errors": len(record.errors),
        **latency_summary(latencies),
    }


async def burst(customers: Sequence[Conn], agents: Sequence[Conn], *, capacity: int, seconds: float) -> dict[str, Any]:
    """All `customers` start within `seconds` against the agents' slots; how long until every slot is full."""
    slots = capacity * len(agents)
    record, first, took = await conversation_starts(
        customers, agents, rate=len(customers) / seconds, expected_assignments=slots, settle=1.0
    )
    arrivals = sorted(now for now, *_ in record.assigned)
    per_agent: dict[Any, int] = {}
    per_conversation: dict[int, int] = {}
    for _now, agent, conversation_id, _customer in record.assigned:
        per_agent[agent] = per_agent.get(agent, 0) + 1
        per_conversation[conversation_id] = per_conversation.get(conversation_id, 0) + 1
    return {
        "customers": len(customers),
        "slots": slots,
        "start_seconds": round(took, 3),
        "filled": len(arrivals),
        "fill_seconds": round(arrivals[slots - 1] - first, 3) if len(arrivals) >= slots else None,
        "answered": len(record.answered),
        "errors": len(record.errors),
        "frames_conversations_held_twice": sum(1 for n in per_conversation.values() if n > 1),
        "frames_agents_over_capacity": sum(1 for n in per_agent.values() if n > capacity),
    }


async def product_pairs(
    customers: Sequence[Conn], agents: Sequence[Conn], *, timeout: float = REPLY_TIMEOUT
) -> list[tuple[Conn, Conn]]:
    """Pair each customer with the agent its conversation went to (each agent has one free slot)."""
    record, _first, _took = await conversation_starts(
        customers, agents, rate=200, expected_assignments=len(customers), settle=0.0, timeout=timeout
    )
    by_agent = {conn.ident: conn for conn in agents}
    by_customer = {conn.ident: conn for conn in customers}
    pairs = []
    for _now, agent_id, conversation_id, customer_id in record.assigned:
        customer, agent = by_customer[customer_id], by_agent[agent_id]
        customer.conversation_id = agent.conversation_id = conversation_id
        pairs.append((customer, agent))
    if len(pairs) != len(customers) or record.errors:
        raise RuntimeError(f"relay set-up: {len(pairs)} of {len(customers)} pairs, errors {record.errors[:3]}")
    return pairs


# ---------------------------------------------------------------------------------------------------------
# Relay: paced messages both ways across pairs


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


@dataclass
class Tracker:
    sent: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    last_frame: float = 0.0


def _relay_handlers(tracker: Tracker, *, product: bool) -> Handler:
    def on_product(conn: Conn, frame: dict[str, Any], now: float) -> None:
        tracker.last_frame = now
        kind = frame.get("type")
        if kind == "message.new":
            message = frame["message"]
            if message["sender"] != conn.role:
                sent = tracker.sent.pop(message["client_msg_id"], None)
                if sent is not None:
                    tracker.latencies.append(now - sent)
        elif kind == "error":
            tracker.errors += 1

    def on_bare(conn: Conn, frame: dict[str, Any], now: float) -> None:
        tracker.last_frame = now
        sent = tracker.sent.pop(frame.get("id", ""), None)
        if sent is not None:
            tracker.latencies.append(now - sent)

    return on_product if product else on_bare


async def relay_step(
    pairs: Sequence[tuple[Conn, Conn]],
    *,
    product: bool,
    rate: float,
    seconds: float,
    drain: float,
    tag: str,
    watch: dict[str, int],
) -> dict[str, Any]:
    """`rate` messages a second for `seconds`, alternating customer->agent and agent->customer over the pairs.

    A message counts as delivered when the other side of its pair reads it (`message.new` from the product,
    the relayed frame from the bare relay) within `drain` seconds after the last send; otherwise it is lost.
    """
    tracker = Tracker()
    handler = _relay_handlers(tracker, product=product)
    for customer, agent in pairs:
        customer.handler = agent.handler = handler
    count = max(1, int(rate * seconds))
    n = len(pairs)

    async def send_one(k: int) -> None:
        customer, agent = pairs[(k // 2) % n]
        sender = customer if k % 2 == 0 else agent
        msg_id = f"{tag}.{k}"
        tracker.sent[msg_id] = time.perf_counter()
        if product:
            await sender.send(
                {
                    "type": "message.send",
                    "conversation_id": sender.conversation_id,
                    "client_msg_id": msg_id,
                    "body": BODY,
                }
            )
        else:
            await sender.send({"to": sender.peer, "id": msg_id, "body": BODY})

    processes = {"loadgen": psutil.Process(), **{name: psutil.Process(pid) for name, pid in watch.items()}}
    cpu_before = {name: _cpu_seconds(process) for name, process in processes.items()}
    took = await paced(rate, count, send_one)
    await wait_until(lambda: not tracker.sent, drain)
    cpu = {
        name: round(100 * (_cpu_seconds(process) - cpu_before[name]) / took, 1) for name, process in processes.items()
    }
    lost = len(tracker.sent)
    summary = latency_summary(tracker.latencies)
    achieved = count / took
    p99 = summary["p99_ms"]
    return {
        "rate_target": rate,
        "rate_achieved": round(achieved, 1),
        "sent": count,
        "delivered": len(tracker.latencies),
        "lost": lost,
        "errors": tracker.errors,
        **summary,
        "cpu_percent": cpu,
        "passed": lost == 0 and tracker.errors == 0 and p99 is not None and p99 < 100 and achieved >= 0.95 * rate,
        "_tracker": tracker,
    }


async def relay_quiet(tracker: Tracker, *, idle: float = 1.0, limit: float = 30.0) -> None:
    """After an overloaded step, wait until the server has sent everything it still had (bounded by `limit`)."""
    await wait_until(lambda: time.perf_counter() - tracker.last_frame > idle, limit, poll=0.1)


async def relay_fixed(
    pairs: Sequence[tuple[Conn, Conn]],
    *,
    product: bool,
    rate: float,
    seconds: float,
    drain: float,
    tag: str,
    watch: dict[str, int],
) -> dict[str, Any]:
    """One step at a fixed rate, whether or not the server keeps up; then wait for it to catch up."""
    step = await relay_step(pairs, product=product, rate=rate, seconds=seconds, drain=drain, tag=tag, watch=watch)
    tracker = step.pop("_tracker")
    await relay_quiet(tracker)
    # Late is not gone: what never arrived at all (a channel layer dropping over capacity) is counted apart.
    step["never_delivered"] = len(tracker.sent)
    return step


async def relay_ramp(
    pairs: Sequence[tuple[Conn, Conn]],
    *,
    product: bool,
    rates: Sequence[float],
    seconds: float,
    drain: float,
    tag: str,
    watch: dict[str, int],
) -> dict[str, Any]:
    """Step the rate up until a step loses a message, errs, falls behind, or has p99 >= 100 ms."""
    steps = []
    for index, rate in enumerate(rates):
        step = await relay_step(
            pairs, product=product, rate=rate, seconds=seconds, drain=drain, tag=f"{tag}.{index}", watch=watch
        )
        tracker = step.pop("_tracker")
        steps.append(step)
        if not step["passed"]:
            await relay_quiet(tracker)
            break
        await asyncio.sleep(0.3)
    passed = [s["rate_target"] for s in steps if s["passed"]]
    return {"max_sustained_rate": max(passed) if passed else 0, "steps": steps}


# ---------------------------------------------------------------------------------------------------------
# Idle sockets


async def idle_sockets(
    specs: Sequence[tuple[str, str, Any]],
    *,
    server_pid: int,
    expect_hello: bool,
    heartbeat: float,
    rest_seconds: float,
    concurrency: int = 16,
) -> dict[str, Any]:
    """Open every socket, then hold them idle: memory per socket, opening rate, and CPU at rest.

    At rest each socket sends `{"type": "ping"}` once per `heartbeat` seconds (as the widget does), spread
    evenly, and the server's own WebSocket pings are answered by the client library.
    """
    server = psutil.Process(server_pid)
    warm = await open_many(specs[:10], expect_hello=expect_hello)
    await close_many(warm)
    await asyncio.sleep(1.0)
    rss_before = server.memory_info().rss
    cpu_before_opening = _cpu_seconds(server)
    started = time.perf_counter()
    conns, failures = await open_some(specs, expect_hello=expect_hello, concurrency=concurrency)
    opening = time.perf_counter() - started
    cpu_opening = _cpu_seconds(server) - cpu_before_opening
    if not conns:
        raise ConnectionError(f"no idle socket opened: {failures[0]!r}")
    try:
        await asyncio.sleep(2.0)
        rss_after = server.memory_info().rss
        cpu_before = _cpu_seconds(server)
        rest_started = time.perf_counter()
        pings = 0
        ping = orjson.dumps({"type": "ping"}).decode()
        slots = max(1, int(heartbeat / 0.1))
        for tick in range(int(rest_seconds / 0.1)):
            for conn in conns[tick % slots :: slots]:
                await conn.ws.send(ping)
                pings += 1
            await asyncio.sleep(max(0.0, rest_started + (tick + 1) * 0.1 - time.perf_counter()))
        rested = time.perf_counter() - rest_started
        cpu_percent = 100 * (_cpu_seconds(server) - cpu_before) / rested
        alive = sum(1 for conn in conns if not conn.closed.is_set())
    finally:
        await close_many(conns)
    return {
        "sockets": len(conns),
        "failed_to_open": len(failures),
        "first_failure": repr(failures[0]) if failures else None,
        "concurrent_handshakes": concurrency,
        "alive_after_rest": alive,
        "open_per_second": round(len(conns) / opening, 1),
        "cpu_ms_per_open": round(1000 * cpu_opening / len(conns), 3),
        "rss_before_mib": round(rss_before / 2**20, 1),
        "rss_after_mib": round(rss_after / 2**20, 1),
        "rss_per_socket_kib": round((rss_after - rss_before) / len(conns) / 1024, 2),
        "rest_seconds": round(rested, 1),
        "pings": pings,
        "cpu_percent_at_rest": round(cpu_percent, 2),
    }


# ---------------------------------------------------------------------------------------------------------
# Failover: a web worker killed under its sockets; every client reconnects to the other worker and catches up


@dataclass
class Resilient:
    """A client that behaves as the protocol asks when its socket dies: it reconnects (to the surviving worker),
    `sync`s its conversation from the last seq up to which it holds everything, and sends again every message
    not acknowledged yet, with the same `client_msg_id`."""

    conn: Conn
    conversation_id: int | None = None
    seen: dict[int, int] = field(default_factory=dict)  # seq -> message id, from acks, pushes, syncs, assignments
    acked: dict[str, int] = field(default_factory=dict)  # client_msg_id -> message id
    unacked: dict[str, str] = field(default_factory=dict)  # client_msg_id -> body
    errors: list[dict[str, Any]] = field(default_factory=list)
    reconnect_attempts: int = 0
    resent: int = 0
    reconnected_at: float | None = None
    synced_at: float | None = None
    syncing: bool = False
    _tasks: set[asyncio.Task] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.conn.handler = self.on_frame

    def resume_point(self) -> int:
        seq = 0
        while seq + 1 in self.seen:
            seq += 1
        return seq

    def _see(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            if message["conversation_id"] == self.conversation_id:
                self.seen[message["seq"]] = message["id"]

    def on_frame(self, conn: Conn, frame: dict[str, Any], now: float) -> None:
        kind = frame.get("type")
        if kind == "message.ack":
            self.acked[frame["client_msg_id"]] = frame["message"]["id"]
            self.unacked.pop(frame["client_msg_id"], None)
            self._see([frame["message"]])
        elif kind == "message.new":
            self._see([frame["message"]])
        elif kind == "conversation.assigned":
            self._see(frame["messages"])
        elif kind == "sync.result":
            self._see(frame["messages"])
            if frame.get("has_more"):
                task = asyncio.get_running_loop().create_task(self._sync(conn))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif self.syncing and frame.get("ref") == "resync":
                self.syncing = False
                self.synced_at = now
        elif kind == "error":
            self.errors.append(frame)

    async def _sync(self, conn: Conn) -> None:
        try:
            await conn.send(
                {
                    "type": "sync",
                    "conversation_id": self.conversation_id,
                    "after_seq": self.resume_point(),
                    "ref": "resync",
                }
            )
        except ConnectionClosed:
            pass

    async def send_message(self, client_msg_id: str, body: str) -> None:
        """Send on the current socket; a message the dying socket could not take stays unacked, to be resent."""
        self.unacked[client_msg_id] = body
        try:
            await self.conn.send(
                {
                    "type": "message.send",
                    "conversation_id": self.conversation_id,
                    "client_msg_id": client_msg_id,
                    "body": body,
                }
            )
        except ConnectionClosed:
            pass

    async def recover(self, url: str, gate: asyncio.Semaphore, *, attempts: int = 20) -> None:
        """Once the socket is closed: a new one to `url` (retried), then catch up."""
        await self.conn.closed.wait()
        async with gate:
            for attempt in range(attempts):
                self.reconnect_attempts += 1
                try:
                    conn = await open_conn(url, role=self.conn.role, ident=self.conn.ident, expect_hello=True)
                    break
                except (OSError, InvalidHandshake, ConnectionError, TimeoutError, ConnectionClosed):
                    await asyncio.sleep(min(2.0, 0.25 * 2**attempt))
            else:
                return
        conn.conversation_id = self.conversation_id
        self.conn = conn
        conn.handler = self.on_frame
        self.reconnected_at = time.perf_counter()
        if self.conversation_id is None:
            self.synced_at = self.reconnected_at
            return
        self.syncing = True
        await self._sync(conn)
        for client_msg_id, body in list(self.unacked.items()):
            self.resent += 1
            await self.send_message(client_msg_id, body)


async def failover(
    pairs: Sequence[tuple[Conn, Conn]],
    idle: Sequence[Conn],
    *,
    survivor: str,
    kill: Callable[[], Any],
    messages: int,
    rate: float,
    reconnect_concurrency: int,
    timeout: float,
) -> dict[str, Any]:
    """Messages both ways across the pairs at `rate`; half-way through, `kill()` (the pairs' and idle sockets'
    worker). Every client reconnects to `survivor` (base URL; its own path and token kept) and catches up.

    Returns the seconds from the kill until every client had reconnected (and, in a conversation, synced and had
    every message acknowledged), and the clients for the caller's check against the database.
    """
    clients = [Resilient(conn, conversation_id=conn.conversation_id) for pair in pairs for conn in pair]
    clients += [Resilient(conn) for conn in idle]
    by_pair = [(clients[2 * n], clients[2 * n + 1]) for n in range(len(pairs))]
    gate = asyncio.Semaphore(reconnect_concurrency)

    def survivor_url(conn: Conn) -> str:
        parts = urlsplit(conn.url)
        return f"{survivor}{parts.path}?{parts.query}"

    recoveries = [asyncio.create_task(client.recover(survivor_url(client.conn), gate)) for client in clients]
    killed_at = 0.0

    async def send_one(k: int) -> None:
        nonlocal killed_at
        if k == messages // 2:
            killed_at = time.perf_counter()
            await asyncio.get_running_loop().run_in_executor(None, kill)
        customer, agent = by_pair[(k // 2) % len(by_pair)]
        sender = customer if k % 2 == 0 else agent
        await sender.send_message(f"failover.{k}", BODY)

    try:
        await paced(rate, messages, send_one)
        done = await wait_until(
            lambda: all(client.synced_at is not None and not client.unacked for client in clients), timeout, poll=0.1
        )
    finally:
        for task in recoveries:
            task.cancel()
        await asyncio.gather(*recoveries, return_exceptions=True)
    synced = [client.synced_at - killed_at for client in clients if client.synced_at is not None]
    reconnected = [client.reconnected_at - killed_at for client in clients if client.reconnected_at is not None]
    return {
        "clients": clients,
        "all_recovered": done,
        "sockets": len(clients),
        "never_reconnected": len(clients) - len(reconnected),
        "never_synced": len(clients) - len(synced),
        "reconnect_attempts": sum(client.reconnect_attempts for client in clients),
        "messages_resent": sum(client.resent for client in clients),
        "seconds_until_all_synced": round(max(synced), 2) if done and synced else None,
        "seconds_until_all_reconnected": round(max(reconnected), 2) if reconnected else None,
        "median_seconds_to_sync": round(sorted(synced)[len(synced) // 2], 2) if synced else None,
        "unacked_at_end": sum(len(client.unacked) for client in clients),
        "errors": sum(len(client.errors) for client in clients),
        "error_codes": dict(Counter(error.get("code") for client in clients for error in client.errors)),
    }
