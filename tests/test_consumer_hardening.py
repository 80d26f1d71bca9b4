"""What an attacker or a long chat could do to a socket: oversized replies, hostile frames, crashes mid-socket.

Findings 1 and 2 of issue 9: every frame the server sends stays under Daphne's 1 MiB limit, a hostile frame gets
an `error` and leaves the socket open, and a socket that fails anyway cleans up like one that disconnected.
"""

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings

from agents import presence
from chat import events, services, sockets
from chat.consumers import AgentConsumer, ChatConsumer
from chat.models import ConversationStatus, Message
from chat.permissions import Participant
from cs_platform.asgi import application
from cs_platform.redis_clients import sync_client
from tests.factories import AgentFactory, ConversationFactory, long_chat_write
from tests.test_consumers import (
    SHOP,
    agent,
    agent_online,
    agent_path,
    agent_socket,
    customer,
    customer_path,
    customer_socket,
    expect,
    line,
    start,
)

pytestmark = [pytest.mark.django_db(transaction=True)]

# Daphne's default --websocket_max_message_size: a bigger frame closes the socket with 1011.
DAPHNE_MAX_MESSAGE_BYTES = 1024 * 1024
EMOJI_BODY = "\N{GRINNING FACE}" * 4000  # 4,000 characters, 16,000 bytes of UTF-8


def _long_chat(customer, agent, count):
    """An active conversation of `agent` holding `count` customer messages of 4,000 emoji each."""
    conversation = ConversationFactory(
        customer=customer, business_line=customer.business_line, status=ConversationStatus.ACTIVE, agent=agent
    )
    long_chat_write(customer_id=customer.id, conversation_id=conversation.id, count=count)
    return conversation


async def _raw_frame(socket, frame_type, timeout=5):
    """The next frame of `frame_type` as the bytes that went on the wire, and decoded."""
    for _ in range(50):
        text = await socket.receive_from(timeout=timeout)
        frame = json.loads(text)
        if frame["type"] == frame_type:
            return len(text.encode()), frame
    raise AssertionError(f"no {frame_type} frame")


async def _sync_to_the_end(socket, conversation_id, after_seq, seen):
    """Follow `has_more` with `sync` from the last seq received, as the clients do; every page must fit."""
    while True:
        await socket.send_json_to({"type": "sync", "conversation_id": conversation_id, "after_seq": after_seq})
        size, page = await _raw_frame(socket, "sync.result")
        assert size <= settings.CHAT_MAX_OUTGOING_FRAME_BYTES < DAPHNE_MAX_MESSAGE_BYTES
        seen.extend(m["seq"] for m in page["messages"])
        if not page["has_more"]:
            return
        assert page["messages"], "a page that says has_more holds at least one message"
        after_seq = page["messages"][-1]["seq"]


async def test_an_agent_with_a_long_chat_gets_it_in_pages_under_the_frame_limit(customer, agent):
    # Given an assigned chat of 70 messages of 4,000 emoji (over 1 MiB in one frame)
    conversation = await sync_to_async(_long_chat)(customer, agent, 70)
    # When the agent connects
    socket = await agent_socket(agent)
    # Then conversation.assigned fits, says there is more, and sync pages bring the rest, each fitting
    size, assigned = await _raw_frame(socket, "conversation.assigned")
    assert size <= DAPHNE_MAX_MESSAGE_BYTES
    assert assigned["has_more"] is True
    seen = [m["seq"] for m in assigned["messages"]]
    await _sync_to_the_end(socket, conversation.id, seen[-1], seen)
    assert seen == list(range(1, 71))
    await socket.disconnect()


async def test_a_customer_syncing_a_long_chat_from_zero_gets_pages_under_the_frame_limit(customer, agent):
    conversation = await sync_to_async(_long_chat)(customer, agent, 70)
    socket = await customer_socket(customer)
    await expect(socket, "conversation.state")
    seen = []
    await _sync_to_the_end(socket, conversation.id, 0, seen)
    assert seen == list(range(1, 71))
    await socket.disconnect()


async def test_the_count_limit_still_pages_small_messages(customer, agent, settings):
    settings.CHAT_SYNC_LIMIT = 3
    conversation = await sync_to_async(_long_chat)(customer, agent, 0)
    for n in range(5):
        await sync_to_async(services.message_send)(
            participant=Participant(kind="customer", id=customer.id),
            conversation_id=conversation.id,
            client_msg_id=f"s{n}",
            body="short",
        )
    socket = await customer_socket(customer)
    await socket.send_json_to({"type": "sync", "conversation_id": conversation.id, "after_seq": 0})
    page = await expect(socket, "sync.result")
    assert ([m["seq"] for m in page["messages"]], page["has_more"]) == ([1, 2, 3], True)
    await socket.disconnect()


async def test_a_reply_over_the_byte_limit_becomes_an_error_and_the_socket_lives(customer, settings):
    settings.CHAT_MAX_OUTGOING_FRAME_BYTES = 8 * 1024
    socket = await customer_socket(customer)
    conversation = await start(socket)
    # (as a browser sends it: UTF-8, no \u escapes, so it fits in CHAT_MAX_FRAME_BYTES)
    await socket.send_to(
        text_data=json.dumps(
            {
                "type": "message.send",
                "conversation_id": conversation["id"],
                "client_msg_id": "big",
                "body": EMOJI_BODY,
                "ref": "big",
            },
            ensure_ascii=False,
        )
    )
    error = await expect(socket, "error")
    assert (error["code"], error["ref"]) == ("reply_too_large", "big")
    await socket.send_json_to({"type": "ping", "ref": "alive"})
    assert (await expect(socket, "pong"))["ref"] == "alive"
    await socket.disconnect()


async def test_a_reply_that_cannot_be_encoded_becomes_an_error_and_the_socket_lives(customer, monkeypatch):
    async def broken_pong(self, frame, ref):
        await self.send_frame({"type": "pong", "ref": ref, "oops": "\ud800"})

    monkeypatch.setattr(ChatConsumer, "handle_ping", broken_pong)
    socket = await customer_socket(customer)
    await socket.send_json_to({"type": "ping", "ref": "p1"})
    error = await expect(socket, "error")
    assert (error["code"], error["ref"]) == ("internal_error", "p1")
    await socket.send_json_to({"type": "conversation.start", "ref": "alive"})
    assert (await expect(socket, "conversation.state"))["ref"] == "alive"
    await socket.disconnect()


def _presence_entries(agent_id):
    return sync_client().zcard(presence._key(agent_id))


DEEP = "[" * 1100 + "]" * 1100


@pytest.mark.parametrize(
    "raw, code",
    [
        (DEEP, "invalid_json"),
        ('{"type":"ping","ref":"x","deep":' + DEEP + "}", "invalid_json"),
        ('{"type":"ping","ref":"\\ud800"}', "invalid_field"),
        ('{"type":"ping","note":"\\udfff tail"}', "invalid_field"),
        ('{"type":"message.send","conversation_id":CID,"client_msg_id":"s","body":"lone \\ud83d"}', "invalid_field"),
        ('{"type":"message.send","conversation_id":CID,"client_msg_id":"n","body":"a\\u0000b"}', "invalid_field"),
        ('{"type":"message.send","conversation_id":CID,"client_msg_id":"a\\u0000","body":"b"}', "invalid_field"),
        (
            '{"type":"message.send","conversation_id":1' + "0" * 400 + ',"client_msg_id":"h","body":"b"}',
            "invalid_field",
        ),
        ('{"type":"sync","conversation_id":9223372036854775808,"after_seq":0}', "invalid_field"),
        ('{"type":"sync","conversation_id":CID,"after_seq":1e400}', "invalid_field"),
        ('{"type":"sync","conversation_id":CID,"after_seq":NaN}', "invalid_field"),
        ('{"type":"sync","conversation_id":CID,"after_seq":-Infinity}', "invalid_field"),
        ('{"type":"sync","conversation_id":CID,"after_seq":4294967296}', "invalid_field"),
        ('{"type":"conversation.transfer","conversation_id":CID,"to_agent_id":' + "9" * 30 + "}", "invalid_field"),
        ('{"type":"presence.set","status":"\\u0000"}', "invalid_field"),
    ],
)
async def test_a_hostile_frame_gets_an_error_and_the_agent_socket_lives(customer, agent, raw, code):
    # Given an agent with an active chat, online on a socket
    conversation = await sync_to_async(_long_chat)(customer, agent, 0)
    socket = await agent_socket(agent)
    await expect(socket, "conversation.assigned")
    # When a hostile frame arrives
    await socket.send_to(text_data=raw.replace("CID", str(conversation.id)))
    # Then it is refused with a code, nothing is stored, and the socket still answers and is still online
    error = await expect(socket, "error")
    assert error["code"] == code and error["message"]
    await socket.send_json_to({"type": "ping", "ref": "still-there"})
    assert (await expect(socket, "pong"))["ref"] == "still-there"
    assert not await Message.objects.filter(conversation=conversation).aexists()
    assert await sync_to_async(_presence_entries)(agent.id) == 1
    await socket.disconnect()
    assert await sync_to_async(_presence_entries)(agent.id) == 0


@pytest.fixture
def agent_consumers(monkeypatch):
    """The AgentConsumer instances the test's sockets run, to look at their heartbeat task."""
    instances = []
    original = AgentConsumer.on_authenticated

    async def recording(self):
        instances.append(self)
        await original(self)

    monkeypatch.setattr(AgentConsumer, "on_authenticated", recording)
    return instances


async def test_a_socket_that_fails_unexpectedly_cleans_up_like_a_disconnect(agent, agent_consumers, monkeypatch):
    # Given an online agent's socket whose handling of a pushed event fails in a way nobody foresaw
    await agent_online(agent)

    async def failing(self, event):
        raise RuntimeError("unforeseen")

    monkeypatch.setattr(AgentConsumer, "chat_frame", failing)
    socket = await agent_socket(agent)
    await socket.send_json_to({"type": "ping", "ref": "connected"})  # answered once the connect has finished
    await expect(socket, "pong")
    assert await sync_to_async(_presence_entries)(agent.id) == 1
    # When that event arrives
    await get_channel_layer().group_send(events.agent_group(agent.id), events.frame_event({"type": "note"}))
    with pytest.raises(RuntimeError):
        await socket.wait(timeout=5)
    # Then the socket's presence is gone and its heartbeat stopped, as after a normal disconnect
    assert await sync_to_async(_presence_entries)(agent.id) == 0
    (consumer,) = agent_consumers
    assert consumer.heartbeat_task.done()
    assert await sync_to_async(presence.connected_agent_ids)([agent.id]) == set()


@pytest.mark.parametrize("pool_size", [None, 5], ids=["default-pool", "pool-of-5-waits"])
async def test_200_agent_sockets_connecting_and_leaving_at_once_leave_no_presence_behind(line, settings, pool_size):
    # Given 50 agents, each on 4 sockets opened at the same moment (a worker restart's reconnect storm)
    if pool_size is not None:
        settings.REDIS_MAX_CONNECTIONS = pool_size  # this test's event loop gets a pool of its own
    agents = await sync_to_async(lambda: [AgentFactory(business_lines=[line]) for _ in range(50)])()
    paths = [await agent_path(agent) for agent in agents] * 4
    sockets = [WebsocketCommunicator(application, path, headers=[(b"host", b"testserver")]) for path in paths]
    assert all(connected for connected, _ in await asyncio.gather(*(s.connect(timeout=30) for s in sockets)))
    for socket in sockets:
        assert (await socket.receive_json_from(timeout=30))["type"] == "hello"
    await asyncio.gather(*(socket.send_json_to({"type": "ping"}) for socket in sockets))
    for socket in sockets:
        await expect(socket, "pong", timeout=30)
    ids = [agent.id for agent in agents]
    assert await sync_to_async(_presence_total)(ids) == 200
    # When they all close at once
    await asyncio.gather(*(socket.disconnect(timeout=30) for socket in sockets))
    # Then every one of them removed its presence entry
    assert await sync_to_async(_presence_total)(ids) == 0


def _presence_total(agent_ids):
    with sync_client().pipeline(transaction=False) as pipe:
        for agent_id in agent_ids:
            pipe.zcard(presence._key(agent_id))
        return sum(pipe.execute())


# Finding 4 (in part): sockets per token.


async def _attempt(path, origin=SHOP):
    """Open a socket; its first frame (hello or the refusal), and the close code if it was refused."""
    headers = [(b"host", b"testserver"), (b"origin", origin.encode())]
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await socket.connect(timeout=30)
    assert connected
    first = await socket.receive_json_from(timeout=30)
    if first["type"] == "hello":
        return socket, first, None
    return socket, first, (await socket.receive_output(timeout=30))["code"]


async def test_one_customer_token_opens_at_most_the_cap_of_sockets_at_once(customer):
    # Given one customer token, and 30 sockets opened with it at the same moment
    path = customer_path(customer)
    attempts = await asyncio.gather(*(_attempt(path) for _ in range(30)))
    # Then CHAT_MAX_SOCKETS_PER_CUSTOMER (10) open; the others are refused with too_many_connections and 4429
    opened = [socket for socket, first, code in attempts if code is None]
    refused = [(first["code"], code) for socket, first, code in attempts if code is not None]
    assert len(opened) == settings.CHAT_MAX_SOCKETS_PER_CUSTOMER == 10
    assert refused == [("too_many_connections", 4429)] * 20
    # When one of them closes, then a new one opens
    await opened.pop().disconnect(timeout=10)
    last, first, code = await _attempt(path)
    assert (first["type"], code) == ("hello", None)
    for socket in [*opened, last]:
        await socket.disconnect(timeout=10)


async def test_sockets_of_a_crashed_worker_stop_counting_once_expired(customer):
    # Given ten sockets of this customer, registered by a worker that crashed a minute ago (never renewed)
    key = sockets._key("customer", customer.id)
    stale = {f"crashed-worker-socket-{n}": time.time() - 60 for n in range(10)}
    await sync_to_async(sync_client().zadd)(key, stale)
    # When the customer opens a socket, then it is let in
    socket, first, code = await _attempt(customer_path(customer))
    assert (first["type"], code) == ("hello", None)
    await socket.disconnect(timeout=10)
    assert await sync_to_async(sync_client().zcard)(key) == 0


async def test_an_agent_opens_at_most_the_agent_cap_of_sockets(agent, settings):
    settings.CHAT_MAX_SOCKETS_PER_AGENT = 2
    path = await agent_path(agent)
    first, second = await agent_socket(agent), await agent_socket(agent)
    socket, refusal, code = await _attempt(path, origin="http://testserver")
    assert (refusal["code"], code) == ("too_many_connections", 4429)
    for socket in (first, second):
        await socket.disconnect(timeout=10)


async def test_a_customer_sockets_heartbeat_renews_its_entry(customer, settings):
    settings.CHAT_HEARTBEAT_SECONDS = 0.05
    socket = await customer_socket(customer)
    key = sockets._key("customer", customer.id)
    ((_, first_expiry),) = await sync_to_async(sync_client().zrange)(key, 0, -1, withscores=True)
    for _ in range(200):
        ((_, expiry),) = await sync_to_async(sync_client().zrange)(key, 0, -1, withscores=True)
        if expiry > first_expiry:
            break
        await asyncio.sleep(0.05)
    assert expiry > first_expiry
    await socket.disconnect(timeout=10)
    assert await sync_to_async(sync_client().zcard)(key) == 0


async def test_leave_message_beside_an_older_active_chat_is_refused_not_a_database_error(customer, agent):
    # Given a customer whose active chat is older than another one of theirs that ended
    # (a missed chat picked by an agent after the customer had started and closed a new one)
    await sync_to_async(_long_chat)(customer, agent, 0)
    await sync_to_async(ConversationFactory)(
        customer=customer, business_line=customer.business_line, status=ConversationStatus.CLOSED
    )
    socket = await customer_socket(customer)
    # When they leave a message
    await socket.send_json_to({"type": "conversation.leave_message", "body": "Call me", "ref": "lm"})
    # Then they are told to write in the open chat, and nothing is stored
    error = await expect(socket, "error")
    assert (error["code"], error["ref"]) == ("invalid_field", "lm")
    assert not await Message.objects.filter(conversation__customer=customer).aexists()
    assert await customer.conversations.acount() == 2
    await socket.disconnect()
