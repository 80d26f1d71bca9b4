"""The Python example app client (examples/app_client.py), run as a developer would run it, against real web
workers: a signed identity, the conversation, the unread count of the agent's answers as they are pushed, and the
resume after its worker went away (docs/app.md)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest

from chat.models import Conversation, Message, Sender
from cs_platform.stack import BASE_DIR
from examples.h5_link import signed_identity
from tests.integration.chatflows import make_team, online_agent, play, send_message
from tests.integration.wsclient import Clients

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


class Events:
    """The client's JSON lines, read as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.seen: list[dict[str, Any]] = []

    async def until(self, event: str, **fields: Any) -> dict[str, Any]:
        assert self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            assert line, f"the client ended before {event} {fields}; it said: {self.seen}"
            said = json.loads(line)
            self.seen.append(said)
            if said["event"] == event and all(said.get(key) == value for key, value in fields.items()):
                return said


def test_the_example_app_client_chats_counts_unread_answers_and_resumes_after_its_worker_left(workers):
    worker1, worker2 = workers
    team = make_team(worker1)
    identity = signed_identity(team.line.identity_secret, "app-user-9", ttl=600)

    async def scenario() -> int:
        async with Clients() as clients:
            agent = await online_agent(clients, worker2, team)
            # When the app (on worker 1) opens the chat as its signed-in user and sends a message
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "examples/app_client.py",
                "--server",
                worker1.url,
                "--business-line",
                team.line.key,
                "--say",
                "Where is my order?",
                "--replies",
                "2",
                "--external-id",
                identity["external_id"],
                "--identity-expires",
                identity["identity_expires"],
                "--identity-hash",
                identity["identity_hash"],
                cwd=BASE_DIR,
                stdout=asyncio.subprocess.PIPE,
            )
            events = Events(process)
            try:
                await events.until("message", sender="customer", body="Where is my order?")
                assigned = await agent.expect("conversation.assigned")
                conversation_id = assigned["conversation"]["id"]

                # Then the agent's answer is pushed, and counted unread
                await send_message(agent, conversation_id, "It left the warehouse.")
                first = await events.until("message", sender="agent")
                assert (first["body"], first["via"], first["unread"]) == ("It left the warehouse.", "push", 1)

                # When the app's worker goes away, and the agent answers meanwhile
                await asyncio.to_thread(worker1.stop)
                await events.until("disconnected")
                await send_message(agent, conversation_id, "It arrives tomorrow.")
                await asyncio.to_thread(worker1.start)

                # Then the app reconnects, resumes with sync, and counts both answers unread
                second = await events.until("message", sender="agent")
                assert (second["body"], second["via"], second["unread"]) == ("It arrives tomorrow.", "sync", 2)
                # ... until it marks them read, which the agent is told
                read = await events.until("read")
                assert read == {"event": "read", "seq": second["seq"], "unread": 0}
                relayed = await agent.expect("read", lambda frame: frame["conversation_id"] == conversation_id)
                assert (relayed["seq"], relayed["sender"]) == (second["seq"], "customer")
                assert await process.wait() == 0
                return conversation_id
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()

    conversation_id = play(scenario(), timeout=90)

    # ... and its message was stored once, in the conversation of the signed-in user
    conversation = Conversation.objects.get(pk=conversation_id)
    assert (conversation.customer.external_id, conversation.channel) == ("app-user-9", "app")
    sent = Message.objects.filter(conversation=conversation, sender=Sender.CUSTOMER)
    assert [message.body for message in sent] == ["Where is my order?"]
