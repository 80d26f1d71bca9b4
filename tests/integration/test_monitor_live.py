"""The supervisors' monitor across two real Daphne workers: the supervisor's socket on one, the customer and the
agent on the other; every change reaches the monitor through the channel layer (docs/protocol.md, "Supervisors")."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group

from cs_platform.stack import WebWorker
from tests.factories import UserFactory
from tests.integration.chatflows import make_team, open_chat, play, send_message
from tests.integration.harness import agent_login
from tests.integration.wsclient import Client, Clients

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def supervisor_token(worker: WebWorker) -> str:
    user = UserFactory()
    user.groups.add(Group.objects.get_or_create(name="Supervisors")[0])
    login = agent_login(worker, user.username)
    assert login["agent_id"] is None
    return login["token"]


def chat_of(line: dict[str, Any], conversation_id: int) -> dict[str, Any] | None:
    """The conversation among the line's agents' chats (an earlier snapshot may not show it yet)."""
    found = [chat for agent in line["agents"] for chat in agent["chats"] if chat["id"] == conversation_id]
    return found[0] if found else None


def line_of(snapshot: dict[str, Any], key: str) -> dict[str, Any]:
    [line] = [line for line in snapshot["lines"] if line["business_line"]["key"] == key]
    return line


async def snapshot_where(supervisor: Client, key: str, condition: Any) -> dict[str, Any]:
    """The first snapshot whose line meets `condition`. Waits less than a heartbeat (CHAT_HEARTBEAT_SECONDS, 15 s),
    whose safety-net read would otherwise hide a change that was never pushed."""
    frame = await supervisor.expect("monitor.snapshot", lambda f: condition(line_of(f, key)), timeout=10)
    return line_of(frame, key)


def test_a_supervisor_on_one_worker_sees_a_chat_on_the_other_live_and_whispers_in_it(workers):
    worker1, worker2 = workers
    team = make_team(worker2)
    token = supervisor_token(worker1)
    key = team.line.key

    async def scenario() -> None:
        async with Clients() as clients:
            # Given a supervisor's socket on worker 1, before anything happens
            supervisor = await clients.connect(worker1.ws_url(f"/ws/supervisor/?token={token}"), name="supervisor@1")
            assert (await supervisor.expect("hello"))["role"] == "supervisor"
            first = line_of(await supervisor.expect("monitor.snapshot"), key)
            assert [(a["id"], a["status"], a["load"]) for a in first["agents"]] == [(team.agent_id, "offline", 0)]

            # When the agent comes online and a customer starts a chat, both on worker 2
            chat = await open_chat(clients, worker2, worker2, team)

            # Then the monitor on worker 1 shows the agent online with the chat
            line = await snapshot_where(
                supervisor, key, lambda e: [c["id"] for a in e["agents"] for c in a["chats"]] == [chat.conversation_id]
            )
            assert [(a["id"], a["status"], a["load"]) for a in line["agents"]] == [(team.agent_id, "online", 1)]
            assert (line["waiting"], line["active"]) == (0, 1)

            # When the customer writes: the chat's clock starts; when the agent answers: it stops
            await send_message(chat.customer, chat.conversation_id, "Where is my parcel?")
            await snapshot_where(
                supervisor, key, lambda e: (chat_of(e, chat.conversation_id) or {}).get("unanswered_since") is not None
            )

            # When the supervisor watches it and whispers
            watched = await supervisor.request(
                {"type": "conversation.watch", "conversation_id": chat.conversation_id}, "conversation.watched"
            )
            assert "Where is my parcel?" in [m["body"] for m in watched["messages"]]
            ack = await supervisor.request(
                {
                    "type": "whisper.send",
                    "conversation_id": chat.conversation_id,
                    "client_msg_id": "w-1",
                    "body": "Offer the coupon",
                },
                "whisper.ack",
            )
            whisper = ack["message"]

            # Then the agent on worker 2 gets it as an internal note
            to_agent = await chat.agent.expect("message.new", lambda f: f["message"]["id"] == whisper["id"])
            assert (to_agent["message"]["internal"], to_agent["message"]["event"]) == (True, "whisper")

            # When the agent answers afterwards: the answer reaches the customer, after anything published before
            # it to the conversation, so a leaked whisper would have come first (the marker)
            answer = await send_message(chat.agent, chat.conversation_id, "Here is a coupon: SORRY10")
            await chat.customer.expect("message.new", lambda f: f["message"]["id"] == answer["id"])
            assert [f for f in chat.customer.received if "Offer the coupon" in str(f)] == []
            # ... the watching supervisor sees the answer live, and the clock stops
            await supervisor.expect("message.new", lambda f: f["message"]["id"] == answer["id"])
            await snapshot_where(
                supervisor, key, lambda e: (chat_of(e, chat.conversation_id) or {}).get("unanswered_since", "") is None
            )

            # When the customer closes it: it leaves the monitor
            await chat.customer.request(
                {"type": "conversation.close", "conversation_id": chat.conversation_id}, "conversation.state"
            )
            line = await snapshot_where(supervisor, key, lambda e: e["active"] == 0)
            assert line["agents"][0]["chats"] == []

    play(scenario())
