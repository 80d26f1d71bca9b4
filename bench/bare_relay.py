"""The reference the product is measured against: the seed's broadcast relay and nothing else.

Each process keeps a local map of its own sockets (id -> connection). A frame is published once to one Redis
pub/sub channel; every process receives it and delivers it to the socket it holds for the addressee, if any.
No Django, no database, no authentication, no persistence: what is left is the floor that WebSockets plus
Redis pub/sub set on this machine, so the product's cost over it can be read off.

Protocol: connect to `ws://HOST:PORT/?id=ID`. A frame `{"to": ID, ...}` reaches socket ID (on any process)
unchanged; `{"type": "ping"}` answers `{"type": "pong"}`.

    python -m bench.bare_relay --port 9001 --redis-url redis://127.0.0.1:6379/0 --channel bench:bare
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from urllib.parse import parse_qs, urlsplit

import orjson
import redis.asyncio as aioredis
import uvloop
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

PONG = '{"type":"pong"}'
SEPARATOR = "\x00"


class Relay:
    """One process of the relay: its sockets by id, one publisher and one subscriber connection to Redis."""

    def __init__(self, *, redis_url: str, channel: str) -> None:
        self.channel = channel
        self.redis = aioredis.Redis.from_url(redis_url, max_connections=256, socket_connect_timeout=5)
        self.sockets: dict[str, ServerConnection] = {}

    async def handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None  # the handshake is over before the handler runs
        socket_id = parse_qs(urlsplit(connection.request.path).query).get("id", [""])[0]
        if not socket_id:
            await connection.close(code=4400, reason="id is required")
            return
        self.sockets[socket_id] = connection
        try:
            async for text in connection:
                await self.on_frame(connection, text)
        except ConnectionClosed:
            pass
        finally:
            # The seed's rule: a late disconnect of an old socket must not remove a newer one with the same id.
            if self.sockets.get(socket_id) is connection:
                del self.sockets[socket_id]

    async def on_frame(self, connection: ServerConnection, text: str | bytes) -> None:
        try:
            frame = orjson.loads(text)
        except orjson.JSONDecodeError:
            return
        if not isinstance(frame, dict):
            return
        to = frame.get("to")
        if isinstance(to, str):
            raw = text if isinstance(text, str) else text.decode()
            await self.redis.publish(self.channel, to + SEPARATOR + raw)
        elif frame.get("type") == "ping":
            await connection.send(PONG)

    async def deliver_forever(self) -> None:
        """Every process hears every frame and hands it to the addressee if that socket is one of its own."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        async for message in pubsub.listen():
            to, _, raw = message["data"].decode().partition(SEPARATOR)
            connection = self.sockets.get(to)
            if connection is None:
                continue
            try:
                await connection.send(raw)
            except ConnectionClosed:
                pass


async def main(*, host: str, port: int, redis_url: str, channel: str) -> None:
    relay = Relay(redis_url=redis_url, channel=channel)
    stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def request_stop() -> None:
        if not stop.done():
            stop.set_result(None)

    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, request_stop)
    deliverer = asyncio.create_task(relay.deliver_forever())
    # Compression off and the library's own pings on, as the product's servers run.
    async with serve(relay.handle, host, port, compression=None, max_queue=64):
        print(f"bare relay listening on {host}:{port}", flush=True)
        await stop
    deliverer.cancel()
    await relay.redis.aclose()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--channel", required=True, help="the Redis pub/sub channel all processes share")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the benchmark serves on loopback only")
    return args


if __name__ == "__main__":
    args = parse_args()
    uvloop.run(main(host=args.host, port=args.port, redis_url=args.redis_url, channel=args.channel))
