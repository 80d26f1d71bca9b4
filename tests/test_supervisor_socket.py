"""The supervisors' socket `/ws/supervisor/` (docs/protocol.md, "Supervisors") through Channels'
WebsocketCommunicator: who may open it, the monitor pushed on changes, watching, whispering and transferring."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group

from agents.services import api_token_issue
from chat.models import Message
from chat.permissions import Participant
from chat.selectors import messages_after
from tests.factories import AgentFactory, BusinessLineFactory, CustomerFactory, UserFactory
from tests.routing.helpers import routing_keys_clear
from tests.test_consumers import (
    SHOP,
    agent_online,
    agent_socket,
    customer_path,
    customer_socket,
    expect,
    frames_until_marker,
    open_socket,
    start,
)

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def presence_forgotten():
    yield
    routing_keys_clear()


@pytest.fixture(autouse=True)
def quick_pushes(settings):
    settings.MONITOR_PUSH_INTERVAL = 0.1


@pytest.fixture
def line(db):
    return BusinessLineFactory(name="North", allowed_origins=SHOP, greeting="Welcome!", agent_reply_timeout=120)


@pytest.fixture
def customer(line):
    return CustomerFactory(business_line=line)


@pytest.fixture
def agent(line):
    return AgentFactory(display_name="Ann", business_lines=[line], capacity=2)


def supervisor_user(**fields):
    user = UserFactory(first_name="Sam", last_name="Lee", **fields)
    user.groups.add(Group.objects.get_or_create(name="Supervisors")[0])
    return user


async def supervisor_socket(user=None):
    user = user or await sync_to_async(supervisor_user)()
    token = await sync_to_async(lambda: api_token_issue(user=user))()
    socket = await open_socket(f"/ws/supervisor/?token={token}")
    hello = await socket.receive_json_from()
    assert hello["type"] == "hello" and hello["role"] == "supervisor" and hello["user_id"] == user.id
    snapshot = await socket.receive_json_from()
    assert snapshot["type"] == "monitor.snapshot"
    return socket, snapshot


def north(snapshot, line):
    [entry] = [e for e in snapshot["lines"] if e["business_line"]["key"] == line.key]
    return entry


def chat_of(entry, conversation_id):
    """The conversation among the line's agents' chats (an earlier snapshot may not show it yet)."""
    found = [chat for agent in entry["agents"] for chat in agent["chats"] if chat["id"] == conversation_id]
    return found[0] if found else None


async def snapshot_where(socket, line, condition):
    """The first pushed snapshot whose entry for `line` meets `condition` (earlier ones may show the way there)."""
    frame = await expect(socket, "monitor.snapshot", where=lambda f: condition(north(f, line)))
    return north(frame, line)


async def test_a_supervisor_gets_hello_and_the_floor_of_every_line(line, agent):
    socket, snapshot = await supervisor_socket()
    entry = north(snapshot, line)
    assert entry["business_line"] == {"key": line.key, "name": "North"}
    assert (entry["waiting"], entry["active"], entry["queue"], entry["missed"]) == (0, 0, [], [])
    assert [(a["id"], a["name"], a["status"], a["load"], a["chats"]) for a in entry["agents"]] == [
        (agent.id, "Ann", "offline", 0, [])
    ]
    await socket.disconnect()


async def test_a_superuser_is_a_supervisor(line):
    user = await sync_to_async(lambda: UserFactory(is_superuser=True, is_staff=True))()
    socket, _snapshot = await supervisor_socket(user)
    await socket.disconnect()


async def _refusal(path):
    socket = await open_socket(path)
    error = await socket.receive_json_from()
    close = await socket.receive_output()
    return error["code"], close["code"]


async def test_no_token_or_a_forged_one_is_closed_with_4401():
    assert await _refusal("/ws/supervisor/") == ("unauthenticated", 4401)
    assert await _refusal("/ws/supervisor/?token=forged") == ("unauthenticated", 4401)


async def test_agents_customers_and_other_staff_are_refused_with_4403(agent, customer):
    agent_token = await sync_to_async(lambda: api_token_issue(user=agent.user))()
    staff = await sync_to_async(lambda: UserFactory(is_staff=True))()
    staff_token = await sync_to_async(lambda: api_token_issue(user=staff))()
    customer_token = await sync_to_async(customer_path)(customer)

    assert await _refusal(f"/ws/supervisor/?token={agent_token}") == ("not_a_supervisor", 4403)
    assert await _refusal(f"/ws/supervisor/?token={staff_token}") == ("not_a_supervisor", 4403)
    assert await _refusal(customer_token.replace("/ws/customer/", "/ws/supervisor/")) == ("not_a_supervisor", 4403)


async def test_a_supervisor_session_from_a_foreign_origin_is_refused(client, line):
    user = await sync_to_async(supervisor_user)()
    await sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    from channels.testing import WebsocketCommunicator

    from cs_platform.asgi import application

    for origin, expected in (("https://evil.example", ("origin_forbidden", 4403)), ("http://testserver", None)):
        socket = WebsocketCommunicator(
            application,
            "/ws/supervisor/",
            headers=[(b"host", b"testserver"), (b"origin", origin.encode()), (b"cookie", cookie)],
        )
        assert (await socket.connect())[0]
        first = await socket.receive_json_from()
        if expected is None:
            assert first["type"] == "hello" and first["user_id"] == user.id
        else:
            assert (first["code"], (await socket.receive_output())["code"]) == expected
        await socket.disconnect()


async def test_the_monitor_is_pushed_as_customers_wait_agents_come_online_and_chats_go_unanswered(
    line, customer, agent
):
    socket, _ = await supervisor_socket()

    # A customer starts: the queue shows them
    customer_ws = await customer_socket(customer)
    conversation = await start(customer_ws)
    entry = await snapshot_where(socket, line, lambda e: e["waiting"] == 1)
    assert [(q["id"], q["queue_position"]) for q in entry["queue"]] == [(conversation["id"], 1)]

    # Ann comes online and gets it: she shows online with one chat, the queue is empty
    agent_ws = await agent_socket(agent)
    await agent_online(agent)
    await expect(agent_ws, "conversation.assigned")
    entry = await snapshot_where(
        socket, line, lambda e: e["waiting"] == 0 and e["agents"][0]["load"] == 1 and e["agents"][0]["chats"]
    )
    assert (entry["agents"][0]["status"], entry["active"]) == ("online", 1)
    assert entry["agents"][0]["chats"][0]["unanswered_since"] is None

    # The customer writes: the chat's clock starts; Ann answers: it stops
    await customer_ws.send_json_to(
        {"type": "message.send", "conversation_id": conversation["id"], "client_msg_id": "c1", "body": "Hello?"}
    )
    entry = await snapshot_where(
        socket, line, lambda e: (chat_of(e, conversation["id"]) or {}).get("unanswered_since") is not None
    )
    await agent_ws.send_json_to(
        {"type": "message.send", "conversation_id": conversation["id"], "client_msg_id": "a1", "body": "Hi!"}
    )
    entry = await snapshot_where(
        socket, line, lambda e: (chat_of(e, conversation["id"]) or {}).get("unanswered_since", "") is None
    )

    # Ann goes away, then her socket closes: the monitor follows
    await agent_ws.send_json_to({"type": "presence.set", "status": "away"})
    await snapshot_where(socket, line, lambda e: e["agents"][0]["status"] == "away")
    await agent_ws.disconnect()
    await snapshot_where(socket, line, lambda e: e["agents"][0]["status"] == "offline")
    await customer_ws.disconnect()
    await socket.disconnect()


async def assigned_chat(customer, agent):
    customer_ws = await customer_socket(customer)
    conversation = await start(customer_ws)
    agent_ws = await agent_socket(agent)
    await agent_online(agent)
    await expect(agent_ws, "conversation.assigned", where=lambda f: f["conversation"]["id"] == conversation["id"])
    return customer_ws, agent_ws, conversation["id"]


async def test_a_whisper_reaches_the_agent_and_watching_supervisors_never_the_customer(line, customer, agent):
    customer_ws, agent_ws, conversation_id = await assigned_chat(customer, agent)
    sam = await sync_to_async(supervisor_user)()
    socket, _ = await supervisor_socket(sam)

    # The supervisor opens the conversation: its transcript, then its live messages
    await socket.send_json_to({"type": "conversation.watch", "conversation_id": conversation_id, "ref": "w"})
    watched = await expect(socket, "conversation.watched")
    assert watched["ref"] == "w" and watched["conversation"]["id"] == conversation_id
    assert watched["conversation"]["agent"] == {"id": agent.id, "name": "Ann"}
    assert [m["body"] for m in watched["messages"]][:1] == ["Welcome!"]
    await customer_ws.send_json_to(
        {"type": "message.send", "conversation_id": conversation_id, "client_msg_id": "c1", "body": "Is it free?"}
    )
    seen = await expect(socket, "message.new", where=lambda f: f["message"]["body"] == "Is it free?")
    assert seen["message"]["sender"] == "customer"

    # It whispers
    await socket.send_json_to(
        {
            "type": "whisper.send",
            "conversation_id": conversation_id,
            "client_msg_id": "w1",
            "body": "Offer the 10% coupon",
            "ref": 3,
        }
    )
    ack = await expect(socket, "whisper.ack")
    assert ack["ref"] == 3 and ack["client_msg_id"] == "w1"
    whisper = ack["message"]
    assert (whisper["sender"], whisper["event"], whisper["internal"], whisper["body"]) == (
        "system",
        "whisper",
        True,
        "Offer the 10% coupon",
    )
    # ... written by Sam, whom agents see by name
    assert whisper["author"] == {"id": sam.id, "name": "Sam Lee"}

    # The agent sees it live; the watching supervisor too
    to_agent = await expect(agent_ws, "message.new", where=lambda f: f["message"]["id"] == whisper["id"])
    assert to_agent["message"] == whisper
    await expect(socket, "message.new", where=lambda f: f["message"]["id"] == whisper["id"])

    # The customer's socket never gets it, up to a marker published after it
    frames = await frames_until_marker(customer_ws, conversation_id)
    assert [f for f in frames if "Offer the 10% coupon" in str(f)] == []
    # The agent's sync names the author too (the stored message, not only the live one)
    await agent_ws.send_json_to({"type": "sync", "conversation_id": conversation_id, "after_seq": 0})
    agent_synced = await expect(agent_ws, "sync.result")
    assert [m.get("author") for m in agent_synced["messages"] if m.get("event") == "whisper"] == [
        {"id": sam.id, "name": "Sam Lee"}
    ]
    # nor does their sync or history
    messages, _ = await database_sync_to_async(messages_after)(
        participant=Participant(kind="customer", id=customer.id), conversation_id=conversation_id, after_seq=0
    )
    assert "Offer the 10% coupon" not in [m.body for m in messages]
    await customer_ws.send_json_to({"type": "sync", "conversation_id": conversation_id, "after_seq": 0})
    synced = await expect(customer_ws, "sync.result")
    assert "Offer the 10% coupon" not in [m["body"] for m in synced["messages"]]

    # A repeated whisper stores nothing new
    await socket.send_json_to(
        {"type": "whisper.send", "conversation_id": conversation_id, "client_msg_id": "w1", "body": "again"}
    )
    again = await expect(socket, "whisper.ack")
    assert again["message"]["id"] == whisper["id"]
    count = await database_sync_to_async(
        Message.objects.filter(conversation_id=conversation_id, event="whisper").count
    )()
    assert count == 1
    for ws in (customer_ws, agent_ws, socket):
        await ws.disconnect()


async def test_a_whisper_is_refused_in_a_closed_or_unknown_conversation(line, customer, agent):
    customer_ws, agent_ws, conversation_id = await assigned_chat(customer, agent)
    await customer_ws.send_json_to({"type": "conversation.close", "conversation_id": conversation_id})
    await expect(customer_ws, "conversation.state", where=lambda f: f["conversation"]["status"] == "closed")
    socket, _ = await supervisor_socket()
    for target, code in ((conversation_id, "conversation_closed"), (999_999, "not_found")):
        await socket.send_json_to(
            {"type": "whisper.send", "conversation_id": target, "client_msg_id": "w", "body": "x", "ref": target}
        )
        error = await expect(socket, "error")
        assert (error["code"], error["ref"]) == (code, target)
    await socket.send_json_to(
        {"type": "message.send", "conversation_id": conversation_id, "client_msg_id": "m", "body": "x"}
    )
    assert (await expect(socket, "error"))["code"] == "unknown_type"
    for ws in (customer_ws, agent_ws, socket):
        await ws.disconnect()


async def test_a_supervisor_transfers_a_chat_to_another_agent_and_to_a_line(line, customer, agent):
    customer_ws, agent_ws, conversation_id = await assigned_chat(customer, agent)
    bob = await sync_to_async(lambda: AgentFactory(display_name="Bob", business_lines=[line], capacity=2))()
    bob_ws = await agent_socket(bob)
    await agent_online(bob)
    socket, _ = await supervisor_socket()

    await socket.send_json_to(
        {"type": "conversation.transfer", "conversation_id": conversation_id, "to_agent_id": bob.id, "ref": "t"}
    )
    state = await expect(socket, "conversation.state", where=lambda f: f.get("ref") == "t")
    assert state["conversation"]["agent"] == {"id": bob.id, "name": "Bob"}
    assigned = await expect(bob_ws, "conversation.assigned")
    assert assigned["conversation"]["id"] == conversation_id
    assert assigned["messages"][-2]["body"] == "A supervisor transferred the conversation to Bob."
    await expect(agent_ws, "conversation.state", where=lambda f: f["conversation"]["agent"]["id"] == bob.id)
    entry = await snapshot_where(socket, line, lambda e: [a["load"] for a in e["agents"]] == [0, 1])
    assert [c["id"] for c in entry["agents"][1]["chats"]] == [conversation_id]

    other = await sync_to_async(lambda: BusinessLineFactory(name="South"))()
    await socket.send_json_to(
        {"type": "conversation.transfer", "conversation_id": conversation_id, "to_business_line": other.key, "ref": "l"}
    )
    state = await expect(socket, "conversation.state", where=lambda f: f.get("ref") == "l")
    assert (state["conversation"]["status"], state["conversation"]["business_line"]) == ("waiting", other.key)

    # Still waiting, it moves on to a third line's queue; it goes to an agent only of its line, online with room
    west = await sync_to_async(lambda: BusinessLineFactory(name="West"))()
    await socket.send_json_to(
        {"type": "conversation.transfer", "conversation_id": conversation_id, "to_business_line": west.key, "ref": "w"}
    )
    state = await expect(socket, "conversation.state", where=lambda f: f.get("ref") == "w")
    assert (state["conversation"]["status"], state["conversation"]["business_line"]) == ("waiting", west.key)
    await socket.send_json_to(
        {"type": "conversation.transfer", "conversation_id": conversation_id, "to_agent_id": bob.id, "ref": "b"}
    )
    error = await expect(socket, "error")
    assert (error["code"], error["ref"]) == ("agent_unavailable", "b")
    for ws in (customer_ws, agent_ws, bob_ws, socket):
        await ws.disconnect()


async def test_supervisors_on_another_worker_hear_of_changes_through_the_channel_layer(line, customer):
    """The hint a change publishes goes through the channel layer's group, so a socket on any worker gets it."""
    from channels.layers import get_channel_layer

    from reports.floor import SUPERVISORS_GROUP, floor_changed_event

    socket, _ = await supervisor_socket()
    await get_channel_layer().group_send(SUPERVISORS_GROUP, floor_changed_event())
    assert (await socket.receive_json_from(timeout=5))["type"] == "monitor.snapshot"
    await socket.disconnect()


async def test_a_floor_too_large_for_one_frame_has_its_lists_cut_and_its_figures_whole(line, settings):
    # Given 40 customers waiting, and frames of at most 6000 bytes
    from tests.factories import ConversationFactory

    await sync_to_async(
        lambda: [ConversationFactory(customer=CustomerFactory(business_line=line)) for _ in range(40)]
    )()
    settings.CHAT_MAX_OUTGOING_FRAME_BYTES = 6000

    # When a supervisor connects
    socket, snapshot = await supervisor_socket()

    # Then the snapshot still comes, with the whole count and the head of the queue
    entry = north(snapshot, line)
    assert entry["waiting"] == 40
    assert 0 < len(entry["queue"]) < 40
    assert [q["queue_position"] for q in entry["queue"]] == list(range(1, len(entry["queue"]) + 1))
    await socket.disconnect()


async def test_a_left_message_appears_among_the_missed_and_refresh_answers_at_once(line, customer):
    socket, _ = await supervisor_socket()

    # When a customer leaves a message while nobody is online
    customer_ws = await customer_socket(customer)
    await customer_ws.send_json_to(
        {"type": "conversation.leave_message", "body": "Call me back", "name": "Ada", "email": "ada@example.com"}
    )
    state = await expect(customer_ws, "conversation.state")
    conversation_id = state["conversation"]["id"]

    # Then the monitor lists it among the missed, as a left message
    entry = await snapshot_where(socket, line, lambda e: bool(e["missed"]))
    assert [(m["id"], m["left_message"], m["close_reason"], m["customer"]["name"]) for m in entry["missed"]] == [
        (conversation_id, True, "offline", "Ada")
    ]
    assert entry["missed_today"] == 0  # a left message is not missed by the wait timeout

    # and `monitor.refresh` answers with the same picture, with its ref
    await socket.send_json_to({"type": "monitor.refresh", "ref": "r1"})
    refreshed = await expect(socket, "monitor.snapshot", where=lambda f: f.get("ref") == "r1")
    assert [m["id"] for m in north(refreshed, line)["missed"]] == [conversation_id]
    await customer_ws.disconnect()
    await socket.disconnect()
