"""A worker killed with SIGKILL mid-conversation: clients move to the survivor and nothing is lost or doubled."""

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.integration.chatflows import agent_socket, full_transcript, make_team, open_chat, play
from tests.integration.harness import transcript as rest_transcript
from tests.integration.wsclient import Client, Clients, Frame, messages_seen

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MESSAGES_PER_SIDE = 20
PACE = 0.1  # seconds between two sends: well under the documented rate limit
RECONNECT_ATTEMPTS = 40
CRASH_AFTER = 7


class Side:
    """A client as the protocol asks it to behave: on a lost socket it reconnects (its own worker first, then
    any other), syncs from the last seq up to which it has everything, and resends every unacked message with
    its original `client_msg_id`."""

    def __init__(self, *, name: str, clients: Clients, client: Client, urls: list[str], conversation_id: int) -> None:
        self.name = name
        self.clients = clients
        self.client = client
        self.urls = urls
        self.conversation_id = conversation_id
        self.unacked: dict[str, str] = {}
        self.acked: dict[str, Frame] = {}
        self.seen: dict[int, Frame] = messages_seen(client, conversation_id)
        self.errors: list[Frame] = []
        self.reconnects = 0
        self.resent = 0
        self.syncs_answered = 0

    def resume_point(self) -> int:
        """The highest seq with every message up to it seen: later ones may have overtaken a lost one."""
        seq = 0
        while seq + 1 in self.seen:
            seq += 1
        return seq

    async def run(
        self, count: int, *, crash_after: int | None = None, crash: Callable[[], None] = lambda: None
    ) -> None:
        """Writes `count` messages; `crash` runs right behind message number `crash_after`, before its ack."""
        for n in range(count):
            client_msg_id = f"{self.name}-{n}"
            self.unacked[client_msg_id] = f"{self.name} says {n}"
            await self._send_message(client_msg_id)
            if n == crash_after:
                crash()
            await self.pump(PACE)
        for _ in range(100):
            if not self.unacked:
                return
            await self.pump(PACE)
        raise AssertionError(f"{self.name}: never acked {sorted(self.unacked)}")

    async def catch_up(self) -> None:
        """A last `sync` from the resume point, and its answer handled."""
        answered = self.syncs_answered
        await self._send({"type": "sync", "conversation_id": self.conversation_id, "after_seq": self.resume_point()})
        for _ in range(50):
            if self.syncs_answered > answered:
                return
            await self.pump(PACE)
        raise AssertionError(f"{self.name}: no sync.result")

    async def pump(self, duration: float) -> None:
        """Handles incoming frames for `duration` seconds, reconnecting when the socket is lost."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration
        while (left := deadline - loop.time()) > 0:
            try:
                frame = await self.client.receive(timeout=left)
            except ConnectionClosed:
                await self._reconnect()
                continue
            if frame is not None:
                await self._handle(frame)

    async def _handle(self, frame: Frame) -> None:
        kind = frame.get("type")
        if kind == "message.ack":
            self.acked[frame["client_msg_id"]] = frame["message"]
            self.unacked.pop(frame["client_msg_id"], None)
            self._see([frame["message"]])
        elif kind == "message.new":
            self._see([frame["message"]])
        elif kind == "conversation.assigned":
            self._see(frame["messages"])
        elif kind == "sync.result":
            self.syncs_answered += 1
            self._see(frame["messages"])
            if frame.get("has_more"):
                await self._send(
                    {"type": "sync", "conversation_id": self.conversation_id, "after_seq": self.resume_point()}
                )
        elif kind == "error":
            self.errors.append(frame)

    def _see(self, messages: list[Frame]) -> None:
        for message in messages:
            if message["conversation_id"] == self.conversation_id:
                self.seen[message["seq"]] = message

    async def _send_message(self, client_msg_id: str) -> None:
        await self._send(
            {
                "type": "message.send",
                "conversation_id": self.conversation_id,
                "client_msg_id": client_msg_id,
                "body": self.unacked[client_msg_id],
            }
        )

    async def _send(self, frame: Frame) -> None:
        try:
            await self.client.send(frame)
        except ConnectionClosed:
            await self._reconnect()
            await self.client.send(frame)

    async def _reconnect(self) -> None:
        self.reconnects += 1
        self.client = await self._connect_to_a_live_worker()
        await self.client.send(
            {"type": "sync", "conversation_id": self.conversation_id, "after_seq": self.resume_point()}
        )
        for client_msg_id in list(self.unacked):
            self.resent += 1
            await self._send_message(client_msg_id)

    async def _connect_to_a_live_worker(self) -> Client:
        for _ in range(RECONNECT_ATTEMPTS):
            for url in self.urls:
                try:
                    client = await self.clients.connect(url, name=f"{self.name} (reconnected)")
                    for _ in range(20):
                        frame = await client.receive(timeout=0.25)
                        if frame is not None and frame.get("type") == "hello":
                            return client
                        if frame is not None:
                            await self._handle(frame)
                except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError):
                    continue
            await asyncio.sleep(0.25)
        raise AssertionError(f"{self.name}: no worker accepted a new socket")


@pytest.mark.parametrize("victim", ["customer's worker", "agent's worker"])
def test_a_killed_worker_loses_and_doubles_nothing(workers, victim):
    worker1, worker2 = workers
    team = make_team(worker1)
    killed, survivor = (worker1, worker2) if victim == "customer's worker" else (worker2, worker1)

    async def scenario():
        async with Clients() as clients:
            # Given a chat with the customer on worker 1, the agent on worker 2, both writing steadily and
            # behaving as the protocol asks of a client that loses its socket
            chat = await open_chat(clients, worker1, worker2, team)
            customer_path = f"/ws/customer/?token={chat.customer_token}"
            agent_path = f"/ws/agent/?token={team.token}"
            customer = Side(
                name="customer",
                clients=clients,
                client=chat.customer,
                conversation_id=chat.conversation_id,
                urls=[worker1.ws_url(customer_path), worker2.ws_url(customer_path)],
            )
            agent = Side(
                name="agent",
                clients=clients,
                client=chat.agent,
                conversation_id=chat.conversation_id,
                urls=[worker2.ws_url(agent_path), worker1.ws_url(agent_path)],
            )
            on_killed, on_survivor = (customer, agent) if killed is worker1 else (agent, customer)

            # When that side's worker is killed without warning right behind one of its messages
            await asyncio.gather(
                on_killed.run(MESSAGES_PER_SIDE, crash_after=CRASH_AFTER, crash=killed.kill),
                on_survivor.run(MESSAGES_PER_SIDE),
            )
            await customer.catch_up()
            await agent.catch_up()
            reader = await agent_socket(clients, survivor, team.token, name="reader")
            return on_killed, on_survivor, await full_transcript(reader, chat.conversation_id)

    on_killed, on_survivor, transcript = play(scenario())

    # Then the side on the killed worker moved to the survivor and resent what was not acked
    assert on_killed.reconnects == 1 and on_survivor.reconnects == 0
    assert on_killed.resent >= 1
    customer, agent = (on_killed, on_survivor) if killed is worker1 else (on_survivor, on_killed)
    # ... nobody got an error
    assert customer.errors == [] and agent.errors == []
    # ... every message was acked, and the transcript holds each exactly once, seq 1..n without gaps
    assert [message["seq"] for message in transcript] == list(range(1, len(transcript) + 1))
    for side in (customer, agent):
        assert set(side.acked) == {f"{side.name}-{n}" for n in range(MESSAGES_PER_SIDE)}
        written = Counter(message["client_msg_id"] for message in transcript if message["sender"] == side.name)
        assert written == Counter(set(side.acked))
        for message in side.acked.values():
            assert transcript[message["seq"] - 1] == message
    # ... the REST history agrees with it
    assert rest_transcript(survivor, transcript[0]["conversation_id"], team.token) == transcript
    # ... and after resuming, each side has seen the whole transcript
    for side in (customer, agent):
        assert [side.seen[seq] for seq in sorted(side.seen)] == transcript
