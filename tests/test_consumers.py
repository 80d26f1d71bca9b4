"""Every frame of the protocol and every error, through Channels' WebsocketCommunicator."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from agents.models import Presence
from agents.services import agent_presence_set, api_token_issue
from chat.events import conversation_group, frame_event
from chat.models import Conversation, ConversationStatus, Message
from cs_platform.asgi import application
from customers.services import customer_token_issue
from tests.factories import AgentFactory, BusinessLineFactory, CustomerFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

SHOP = "https://shop.example"


async def open_socket(path, *, origin=None, host="testserver"):
    headers = [(b"host", host.encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await socket.connect()
    assert connected
    return socket


async def expect(socket, frame_type, timeout=10, where=lambda frame: True):
    """The next frame of `frame_type` matching `where`, skipping others (their order is not part of the contract).
    The wait is only as long as the frame takes; its bound is for a machine busy with other work, not a limit."""
    for _ in range(50):
        frame = await socket.receive_json_from(timeout=timeout)
        if frame["type"] == frame_type and where(frame):
            return frame
    raise AssertionError(f"no {frame_type} frame")


async def frames_until_marker(socket, conversation_id):
    """Every frame the socket gets before a marker published to the conversation's group after them.

    The channel layer keeps the order of one group's events, so whatever was pushed to the conversation before
    the marker arrives first: a leak shows up here however slow the machine, unlike a fixed wait.
    """
    marker = {"type": "test.marker", "conversation_id": conversation_id}
    await get_channel_layer().group_send(conversation_group(conversation_id), frame_event(marker))
    frames = []
    while (frame := await socket.receive_json_from(timeout=5)) != marker:
        frames.append(frame)
    return frames


@pytest.fixture
def line(db):
    return BusinessLineFactory(allowed_origins=SHOP, greeting="Welcome!")


@pytest.fixture
def customer(line):
    return CustomerFactory(business_line=line)


@pytest.fixture
def agent(line):
    return AgentFactory(business_lines=[line], capacity=2)


def customer_path(customer):
    return f"/ws/customer/?token={customer_token_issue(customer=customer)}"


async def agent_path(agent):
    token = await sync_to_async(lambda: api_token_issue(user=agent.user))()
    return f"/ws/agent/?token={token}"


async def agent_online(agent):
    """The agent chooses to be online, through the presence service (what `presence.set` calls)."""
    await database_sync_to_async(agent_presence_set)(agent_id=agent.id, status=Presence.ONLINE)


async def customer_socket(customer, origin=SHOP):
    socket = await open_socket(customer_path(customer), origin=origin)
    hello = await socket.receive_json_from()
    assert hello["type"] == "hello" and hello["customer_id"] == customer.id
    return socket


async def agent_socket(agent):
    socket = await open_socket(await agent_path(agent))
    hello = await socket.receive_json_from()
    assert hello["type"] == "hello" and hello["agent_id"] == agent.id
    return socket


async def start(socket):
    await socket.send_json_to({"type": "conversation.start", "ref": "s1"})
    state = await expect(socket, "conversation.state")
    return state["conversation"]


async def test_customer_starts_waits_and_is_assigned_with_messages_written_while_waiting(customer, agent):
    customer_ws = await customer_socket(customer)
    conversation = await start(customer_ws)
    assert conversation["status"] == "waiting" and conversation["queue_position"] == 1
    assert conversation["agent"] is None

    await customer_ws.send_json_to(
        {
            "type": "message.send",
            "conversation_id": conversation["id"],
            "client_msg_id": "m1",
            "body": "Is anyone there?",
            "ref": 7,
        }
    )
    ack = await expect(customer_ws, "message.ack")
    assert ack["ref"] == 7 and ack["client_msg_id"] == "m1" and ack["message"]["seq"] == 2

    agent_ws = await agent_socket(agent)
    await agent_ws.send_json_to({"type": "presence.set", "status": "online", "ref": "p"})
    assigned = await expect(agent_ws, "conversation.assigned")
    assert assigned["conversation"]["id"] == conversation["id"]
    assert assigned["conversation"]["agent"] == {"id": agent.id, "name": agent.display_name}
    bodies = [m["body"] for m in assigned["messages"]]
    assert bodies[:2] == ["Welcome!", "Is anyone there?"]
    assert [m["seq"] for m in assigned["messages"]] == list(range(1, len(bodies) + 1))

    state = await expect(customer_ws, "conversation.state")
    while state["conversation"]["status"] != "active":
        state = await expect(customer_ws, "conversation.state")
    assert state["conversation"]["agent"]["id"] == agent.id

    await agent_ws.send_json_to(
        {
            "type": "message.send",
            "conversation_id": conversation["id"],
            "client_msg_id": "a1",
            "body": "Hello, how can I help?",
        }
    )
    ack = await expect(agent_ws, "message.ack")
    new = await expect(customer_ws, "message.new", where=lambda f: f["message"]["sender"] == "agent")
    assert new["message"] == ack["message"]
    await customer_ws.disconnect()
    await agent_ws.disconnect()


async def test_every_socket_of_the_conversation_gets_message_new(customer):
    first = await customer_socket(customer)
    conversation = await start(first)
    second = await customer_socket(customer)
    resent = await expect(second, "conversation.state")
    assert resent["conversation"]["id"] == conversation["id"]
    await first.send_json_to(
        {"type": "message.send", "conversation_id": conversation["id"], "client_msg_id": "x", "body": "from tab one"}
    )
    await expect(first, "message.ack")
    for socket in (first, second):
        new = await expect(socket, "message.new")
        assert new["message"]["body"] == "from tab one"
    await first.disconnect()
    await second.disconnect()


async def test_a_send_survives_its_database_connection_being_cut(customer, agent):
    # Given a customer chatting with an agent: the worker's database thread holds the connection that stored it
    from tests.factories import ConversationFactory

    conversation = await database_sync_to_async(ConversationFactory)(
        customer=customer, business_line=customer.business_line, status=ConversationStatus.ACTIVE, agent=agent
    )
    socket = await customer_socket(customer)
    frame = {"type": "message.send", "conversation_id": conversation.id, "body": "first"}
    await socket.send_json_to({**frame, "client_msg_id": "c1"})
    await expect(socket, "message.ack")
    # When PostgreSQL ends the connection that stored it (a restart, a failover, an idle timeout)
    pid = await sync_to_async(_backend_pid, thread_sensitive=True)()
    _end_connection_from_outside(pid)
    # Then the next message is still stored and acked, on a new connection
    await socket.send_json_to({**frame, "client_msg_id": "c2", "body": "second"})
    ack = await expect(socket, "message.ack")
    assert ack["message"]["body"] == "second" and ack["message"]["seq"] == 2
    assert await Message.objects.filter(conversation_id=conversation.id, client_msg_id="c2").acount() == 1
    await socket.disconnect()


def _backend_pid():
    """The PostgreSQL session of the database thread's connection, asked on that connection without closing it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _end_connection_from_outside(pid):
    """From a session of its own, as a server or an administrator would."""
    import psycopg
    from django.db import connection

    params = {
        key: value
        for key, value in connection.get_connection_params().items()
        if key not in ("cursor_factory", "context")
    }
    with psycopg.connect(**params, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


async def test_repeated_client_msg_id_acks_the_original(customer):
    socket = await customer_socket(customer)
    conversation = await start(socket)
    frame = {"type": "message.send", "conversation_id": conversation["id"], "client_msg_id": "dup", "body": "once"}
    await socket.send_json_to(frame)
    first = await expect(socket, "message.ack")
    await socket.send_json_to({**frame, "body": "twice"})
    second = await expect(socket, "message.ack")
    assert second["message"] == first["message"]
    assert await Message.objects.filter(client_msg_id="dup").acount() == 1
    await socket.disconnect()


async def test_sync_returns_every_later_message_in_order(customer):
    socket = await customer_socket(customer)
    conversation = await start(socket)
    for i in range(4):
        await socket.send_json_to(
            {"type": "message.send", "conversation_id": conversation["id"], "client_msg_id": f"m{i}", "body": f"n{i}"}
        )
        await expect(socket, "message.ack")
    await socket.send_json_to({"type": "sync", "conversation_id": conversation["id"], "after_seq": 2, "ref": "r"})
    result = await expect(socket, "sync.result")
    assert result["ref"] == "r" and result["has_more"] is False
    assert [m["seq"] for m in result["messages"]] == [3, 4, 5]
    assert [m["body"] for m in result["messages"]] == ["n1", "n2", "n3"]
    await socket.disconnect()


async def test_typing_and_read_reach_the_other_side_with_sender(customer, agent):
    await agent_online(agent)
    agent_ws = await agent_socket(agent)
    customer_ws = await customer_socket(customer)
    conversation = await start(customer_ws)
    await expect(agent_ws, "conversation.assigned")

    await customer_ws.send_json_to({"type": "typing", "conversation_id": conversation["id"], "typing": True})
    typing = await expect(agent_ws, "typing")
    assert typing == {"type": "typing", "conversation_id": conversation["id"], "typing": True, "sender": "customer"}

    await agent_ws.send_json_to({"type": "read", "conversation_id": conversation["id"], "seq": 2})
    read = await expect(customer_ws, "read")
    assert read == {"type": "read", "conversation_id": conversation["id"], "seq": 2, "sender": "agent"}
    await customer_ws.disconnect()
    await agent_ws.disconnect()


async def test_close_tells_every_socket_including_the_agent(customer, agent):
    await agent_online(agent)
    agent_ws = await agent_socket(agent)
    customer_ws = await customer_socket(customer)
    conversation = await start(customer_ws)
    await expect(agent_ws, "conversation.assigned")
    await customer_ws.send_json_to({"type": "conversation.close", "conversation_id": conversation["id"], "ref": 1})
    reply = await expect(customer_ws, "conversation.state")
    while reply.get("ref") != 1:
        reply = await expect(customer_ws, "conversation.state")
    assert reply["conversation"]["status"] == "closed"
    agent_state = await expect(agent_ws, "conversation.state")
    assert agent_state["conversation"]["status"] == "closed"
    await customer_ws.disconnect()
    await agent_ws.disconnect()


async def test_internal_notes_reach_agents_only(customer, agent):
    await agent_online(agent)
    agent_ws = await agent_socket(agent)
    customer_ws = await customer_socket(customer)
    conversation = await start(customer_ws)
    await expect(agent_ws, "conversation.assigned")
    await agent_ws.send_json_to(
        {
            "type": "message.send",
            "conversation_id": conversation["id"],
            "client_msg_id": "note",
            "body": "VIP customer",
            "internal": True,
        }
    )
    note = await expect(agent_ws, "message.new")
    assert note["message"]["internal"] is True
    pushed = await frames_until_marker(customer_ws, conversation["id"])
    assert "VIP customer" not in json.dumps(pushed)
    await customer_ws.send_json_to({"type": "sync", "conversation_id": conversation["id"], "after_seq": 0})
    result = await expect(customer_ws, "sync.result")
    assert "VIP customer" not in [m["body"] for m in result["messages"]]
    await customer_ws.disconnect()
    await agent_ws.disconnect()


@pytest.mark.parametrize(
    "raw, code",
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        (json.dumps({"type": "nope"}), "unknown_type"),
        (json.dumps({"type": ["list"]}), "unknown_type"),
        (json.dumps({"type": "presence.set", "status": "online"}), "unknown_type"),
        (
            json.dumps({"type": "message.send", "conversation_id": "1", "client_msg_id": "a", "body": "b"}),
            "invalid_field",
        ),
        (
            json.dumps({"type": "message.send", "conversation_id": 999999, "client_msg_id": "a", "body": "b"}),
            "not_found",
        ),
        (json.dumps({"type": "message.send", "conversation_id": 1, "client_msg_id": "", "body": "b"}), "invalid_field"),
        (
            json.dumps({"type": "message.send", "conversation_id": 1, "client_msg_id": "a", "body": "  "}),
            "invalid_field",
        ),
        (
            json.dumps({"type": "message.send", "conversation_id": 1, "client_msg_id": "a", "body": "x" * 4001}),
            "body_too_long",
        ),
        (json.dumps({"type": "sync", "conversation_id": 1, "after_seq": -1}), "invalid_field"),
        (json.dumps({"type": "typing", "conversation_id": 1, "typing": True}), "not_found"),
        (json.dumps({"type": "message.send", "body": "x" * 20000}), "frame_too_large"),
    ],
)
async def test_bad_input_gets_an_error_frame_and_the_socket_keeps_working(customer, raw, code):
    socket = await customer_socket(customer)
    await socket.send_to(text_data=raw)
    error = await expect(socket, "error")
    assert error["code"] == code and error["message"]
    await socket.send_json_to({"type": "ping", "ref": "still-there"})
    assert (await expect(socket, "pong"))["ref"] == "still-there"
    assert not await Message.objects.filter(conversation__customer=customer).aexists()
    await socket.disconnect()


@pytest.mark.parametrize(
    "frame, field",
    [
        ({"type": "message.send", "conversation_id": "1", "client_msg_id": "a", "body": "b"}, "conversation_id"),
        ({"type": "message.send", "conversation_id": 1, "client_msg_id": "", "body": "b"}, "client_msg_id"),
        ({"type": "message.send", "conversation_id": 1, "client_msg_id": "a", "body": "  "}, "body"),
        ({"type": "message.send", "conversation_id": 1, "client_msg_id": "a", "body": "x" * 4001}, "body"),
        ({"type": "message.send", "conversation_id": 1, "client_msg_id": "a", "attachment_ids": "1"}, "attachment_ids"),
        ({"type": "sync", "conversation_id": 1, "after_seq": -1}, "after_seq"),
        ({"type": "conversation.rate", "conversation_id": 1, "rating": 5, "comment": 7}, "comment"),
        ({"type": "conversation.start", "channel": "fax"}, "channel"),
    ],
)
async def test_a_refused_field_is_named_for_the_client_to_point_at(customer, frame, field):
    socket = await customer_socket(customer)
    await socket.send_json_to(frame)
    error = await expect(socket, "error")
    assert error["code"] in ("invalid_field", "body_too_long") and error["field"] == field
    await socket.disconnect()


async def test_a_refusal_that_names_no_field_has_no_field_member(customer):
    socket = await customer_socket(customer)
    await socket.send_json_to({"type": "sync", "conversation_id": 424242, "after_seq": 0})
    error = await expect(socket, "error")
    assert error["code"] == "not_found" and "field" not in error
    await socket.disconnect()


async def test_error_echoes_ref(customer):
    socket = await customer_socket(customer)
    await socket.send_json_to({"type": "sync", "conversation_id": 424242, "after_seq": 0, "ref": "abc"})
    error = await expect(socket, "error")
    assert (error["code"], error["ref"]) == ("not_found", "abc")
    await socket.disconnect()


async def test_too_many_frames_are_rate_limited(customer, settings):
    settings.CHAT_RATE_BURST = 5
    settings.CHAT_RATE_PER_SECOND = 0  # no refill while the test runs, however slow the machine
    socket = await customer_socket(customer)
    for _ in range(8):
        await socket.send_json_to({"type": "ping"})
    frames = [await socket.receive_json_from() for _ in range(8)]
    assert [f["type"] for f in frames].count("pong") == 5
    assert {f["code"] for f in frames if f["type"] == "error"} == {"rate_limited"}
    await socket.disconnect()


async def test_customer_cannot_touch_another_customers_conversation(customer, line):
    owner_ws = await customer_socket(customer)
    conversation = await start(owner_ws)
    intruder = await CustomerFactory._meta.model.objects.acreate(business_line=line, name="Mallory")
    intruder_ws = await customer_socket(intruder)
    for frame in (
        {"type": "sync", "conversation_id": conversation["id"], "after_seq": 0},
        {"type": "message.send", "conversation_id": conversation["id"], "client_msg_id": "z", "body": "hi"},
        {"type": "conversation.close", "conversation_id": conversation["id"]},
        {"type": "read", "conversation_id": conversation["id"], "seq": 1},
    ):
        await intruder_ws.send_json_to(frame)
        assert (await expect(intruder_ws, "error"))["code"] == "not_found"
    pushed = await frames_until_marker(owner_ws, conversation["id"])
    assert [f for f in pushed if f["type"] != "conversation.state" or f["conversation"]["status"] != "waiting"] == []
    await owner_ws.disconnect()
    await intruder_ws.disconnect()


async def test_agent_of_another_business_line_cannot_read_the_conversation(customer):
    outsider = await _agent_elsewhere()
    customer_ws = await customer_socket(customer)
    conversation = await start(customer_ws)
    agent_ws = await agent_socket(outsider)
    await agent_ws.send_json_to({"type": "sync", "conversation_id": conversation["id"], "after_seq": 0})
    assert (await expect(agent_ws, "error"))["code"] == "not_found"
    await customer_ws.disconnect()
    await agent_ws.disconnect()


async def _agent_elsewhere():
    from asgiref.sync import sync_to_async

    return await sync_to_async(lambda: AgentFactory(business_lines=[BusinessLineFactory()]))()


@pytest.mark.parametrize(
    "path", ["/ws/customer/", "/ws/customer/?token=forged", "/ws/agent/", "/ws/agent/?token=forged"]
)
async def test_missing_or_forged_tokens_are_closed_with_4401(path):
    socket = await open_socket(path)
    error = await socket.receive_json_from()
    assert error["code"] == "unauthenticated"
    assert (await socket.receive_output())["code"] == 4401


async def test_customer_socket_from_a_foreign_origin_is_closed_with_4403(customer):
    socket = await open_socket(customer_path(customer), origin="https://evil.example")
    assert (await socket.receive_json_from())["code"] == "origin_forbidden"
    assert (await socket.receive_output())["code"] == 4403


async def test_agent_session_socket_from_a_foreign_origin_is_refused(agent, client):
    from asgiref.sync import sync_to_async

    await sync_to_async(client.force_login)(agent.user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    for origin, expected in (("https://evil.example", 4403), ("http://testserver", None)):
        socket = WebsocketCommunicator(
            application,
            "/ws/agent/",
            headers=[(b"host", b"testserver"), (b"origin", origin.encode()), (b"cookie", cookie)],
        )
        await socket.connect()
        first = await socket.receive_json_from()
        if expected is None:
            assert first["type"] == "hello" and first["agent_id"] == agent.id
            await socket.disconnect()
        else:
            assert first["code"] == "origin_forbidden"
            assert (await socket.receive_output())["code"] == expected


async def test_presence_set_rejects_unknown_status(agent):
    socket = await agent_socket(agent)
    await socket.send_json_to({"type": "presence.set", "status": "sleeping", "ref": 3})
    error = await expect(socket, "error")
    assert (error["code"], error["ref"]) == ("invalid_field", 3)
    await agent.arefresh_from_db()
    assert agent.presence == Presence.OFFLINE
    await socket.disconnect()


async def test_reconnecting_agent_gets_its_conversations_back(customer, agent):
    await agent_online(agent)
    first = await agent_socket(agent)
    customer_ws = await customer_socket(customer)
    conversation = await start(customer_ws)
    await expect(first, "conversation.assigned")
    await first.disconnect()
    second = await agent_socket(agent)
    again = await expect(second, "conversation.assigned")
    assert again["conversation"]["id"] == conversation["id"]
    assert (await ConversationStatus_of(conversation["id"])) == ConversationStatus.ACTIVE
    await second.disconnect()
    await customer_ws.disconnect()


async def ConversationStatus_of(conversation_id):
    from chat.models import Conversation

    return (await Conversation.objects.aget(id=conversation_id)).status


async def test_hello_is_not_offline_while_an_online_agent_of_the_line_has_a_socket(customer, agent, line):
    # Given an agent of the line who chose online and has a live socket, and one who chose online but has none
    agent_ws = await agent_socket(agent)
    await agent_ws.send_json_to({"type": "presence.set", "status": "online", "ref": "on"})
    await expect(agent_ws, "presence.state")
    await sync_to_async(lambda: AgentFactory(business_lines=[line], presence=Presence.ONLINE))()

    # When the customer connects
    customer_ws = await open_socket(customer_path(customer), origin=SHOP)
    hello = await customer_ws.receive_json_from()

    # Then `hello` does not offer to leave a message
    assert hello["type"] == "hello" and hello["offline"] is False
    await customer_ws.disconnect()
    await agent_ws.disconnect()


async def test_nobody_online_the_customer_is_offered_to_leave_a_message(customer):
    socket = await open_socket(customer_path(customer), origin=SHOP)
    hello = await socket.receive_json_from()
    assert hello["offline"] is True
    await socket.send_json_to(
        {
            "type": "conversation.leave_message",
            "body": "Call me back please",
            "name": "Ann",
            "email": "ann@example.com",
            "ref": "lm",
        }
    )
    state = await expect(socket, "conversation.state", where=lambda f: f.get("ref") == "lm")
    assert state["conversation"]["status"] == "missed" and state["conversation"]["leave_message"] is True
    await customer.arefresh_from_db()
    assert (customer.name, customer.email) == ("Ann", "ann@example.com")
    bodies = [m.body async for m in Message.objects.filter(conversation_id=state["conversation"]["id"])]
    assert "Call me back please" in bodies
    await socket.disconnect()


async def test_left_messages_while_one_is_unanswered_join_it(customer):
    socket = await customer_socket(customer)
    replies = []
    for n in range(5):
        await socket.send_json_to({"type": "conversation.leave_message", "body": f"Call me back ({n})", "ref": n})
        replies.append(await expect(socket, "conversation.state", where=lambda f, n=n: f.get("ref") == n))

    assert len({reply["conversation"]["id"] for reply in replies}) == 1
    assert {reply["conversation"]["status"] for reply in replies} == {"missed"}
    assert await Conversation.objects.filter(customer=customer).acount() == 1
    bodies = [m.body async for m in Message.objects.filter(sender="customer").order_by("seq")]
    assert bodies == [f"Call me back ({n})" for n in range(5)]
    await socket.disconnect()


async def test_agent_picks_a_missed_conversation_from_the_queue(customer, agent):
    customer_ws = await customer_socket(customer)
    await customer_ws.send_json_to({"type": "conversation.leave_message", "body": "Anyone?"})
    missed = (await expect(customer_ws, "conversation.state"))["conversation"]
    await agent_online(agent)
    agent_ws = await agent_socket(agent)
    await agent_ws.send_json_to({"type": "conversation.pick", "conversation_id": missed["id"]})
    assigned = await expect(agent_ws, "conversation.assigned")
    assert assigned["conversation"]["id"] == missed["id"] and assigned["conversation"]["status"] == "active"
    assert "Anyone?" in [m["body"] for m in assigned["messages"]]
    await customer_ws.disconnect()
    await agent_ws.disconnect()


async def test_transfer_to_another_agent_moves_the_conversation(customer, agent, line):
    from asgiref.sync import sync_to_async

    colleague = await sync_to_async(lambda: AgentFactory(business_lines=[line], presence=Presence.ONLINE))()
    await agent_online(agent)
    agent_ws = await agent_socket(agent)
    customer_ws = await customer_socket(customer)
    conversation = await start(customer_ws)
    await expect(agent_ws, "conversation.assigned")
    colleague_ws = await agent_socket(colleague)

    await agent_ws.send_json_to(
        {
            "type": "conversation.transfer",
            "conversation_id": conversation["id"],
            "to_agent_id": colleague.id,
            "ref": "t",
        }
    )
    reply = await expect(agent_ws, "conversation.state", where=lambda f: f.get("ref") == "t")
    assert reply["conversation"]["agent"]["id"] == colleague.id
    assigned = await expect(colleague_ws, "conversation.assigned")
    assert assigned["conversation"]["id"] == conversation["id"]
    seen = await expect(
        customer_ws, "conversation.state", where=lambda f: (f["conversation"]["agent"] or {}).get("id") == colleague.id
    )
    assert seen["conversation"]["status"] == "active"

    await agent_ws.send_json_to(
        {"type": "message.send", "conversation_id": conversation["id"], "client_msg_id": "late", "body": "still me?"}
    )
    assert (await expect(agent_ws, "error"))["code"] == "not_assigned"
    for socket in (agent_ws, colleague_ws, customer_ws):
        await socket.disconnect()


async def test_transfer_to_an_unavailable_agent_is_refused(customer, agent, line):
    from asgiref.sync import sync_to_async

    offline_colleague = await sync_to_async(lambda: AgentFactory(business_lines=[line]))()
    await agent_online(agent)
    agent_ws = await agent_socket(agent)
    customer_ws = await customer_socket(customer)
    conversation = await start(customer_ws)
    await expect(agent_ws, "conversation.assigned")
    for extra, code in (
        ({"to_agent_id": offline_colleague.id}, "agent_unavailable"),
        ({"to_agent_id": "x"}, "invalid_field"),
        ({}, "invalid_field"),
        ({"to_business_line": "no-such-line"}, "not_found"),
    ):
        await agent_ws.send_json_to({"type": "conversation.transfer", "conversation_id": conversation["id"], **extra})
        assert (await expect(agent_ws, "error"))["code"] == code
    for socket in (agent_ws, customer_ws):
        await socket.disconnect()


async def test_customer_rates_a_closed_conversation(customer):
    socket = await customer_socket(customer)
    conversation = await start(socket)
    await socket.send_json_to({"type": "conversation.rate", "conversation_id": conversation["id"], "rating": 5})
    assert (await expect(socket, "error"))["code"] == "invalid_field"
    await socket.send_json_to({"type": "conversation.close", "conversation_id": conversation["id"]})
    await expect(socket, "conversation.state", where=lambda f: f["conversation"]["status"] == "closed")
    for bad in (0, 6, "5", True):
        await socket.send_json_to({"type": "conversation.rate", "conversation_id": conversation["id"], "rating": bad})
        assert (await expect(socket, "error"))["code"] == "invalid_field"
    await socket.send_json_to(
        {
            "type": "conversation.rate",
            "conversation_id": conversation["id"],
            "rating": 4,
            "comment": "Quick and kind",
            "ref": "r",
        }
    )
    rated = await expect(socket, "conversation.rated")
    assert (rated["rating"], rated["ref"]) == (4, "r")
    from chat.models import Conversation

    stored = await Conversation.objects.aget(id=conversation["id"])
    assert (stored.rating, stored.rating_comment) == (4, "Quick and kind")
    await socket.disconnect()
