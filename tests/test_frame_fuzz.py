"""A frame fuzzer: thousands of arbitrary frames per role, through the real consumer and channel layer.

Hypothesis writes JSON values of every shape, nested structures, strings with NUL and lone surrogates, numbers
far out of range, texts that are not JSON at all, and frames of every known type whose fields hold anything. Each
is followed by a `ping` with a marker `ref`: everything the socket receives before that marker's `pong` answers
the fuzzed frame. Every frame must be answered (a reply or an `error`; only `typing` and `read` are relayed
without one), the socket must stay open, and a normal `message.send` must still work afterwards (issue 9,
Deliver 8).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from agents import presence
from agents.models import Presence
from agents.services import api_token_issue
from chat.models import ConversationStatus
from cs_platform.asgi import application
from cs_platform.redis_clients import sync_client
from customers.services import customer_token_issue
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory, CustomerFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

BATCHES = 125  # examples per role; each sends a batch of 12 to 30 frames: about 2,000 frames per role
ANSWER_TIMEOUT = 15

FRAME_TYPES = [
    "message.send",
    "sync",
    "typing",
    "read",
    "conversation.close",
    "ping",
    "conversation.start",
    "conversation.leave_message",
    "conversation.rate",
    "presence.set",
    "conversation.transfer",
    "conversation.pick",
]
RELAYED_WITHOUT_REPLY = {"typing", "read"}


@dataclass(frozen=True)
class OwnConversation:
    """Stands for one of the conversations the socket may know, picked when the frame is sent."""

    index: int


characters = st.one_of(
    st.characters(codec="utf-8"),
    st.characters(categories=["Cs"]),  # lone surrogates
    st.sampled_from(["\x00", "\ud83d", "\ude00", "\u202e", "\ufeff", '"', "\\"]),
)
odd_text = st.text(alphabet=characters, max_size=20) | st.sampled_from(["", " ", "online", "web", "demo", "a\x00b"])
huge_ints = st.sampled_from([2**31, 2**63 - 1, 2**63, -(2**63), 2**64, 10**30, 10**400, -(10**400)])
numbers = st.integers() | huge_ints | st.floats(allow_nan=True, allow_infinity=True)
scalars = st.none() | st.booleans() | numbers | odd_text
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(odd_text, children, max_size=4),
    max_leaves=12,
)
ids = st.integers(0, 9).map(OwnConversation) | st.integers(-2, 10**6) | json_values
plausible = {
    "conversation_id": ids,
    "to_agent_id": ids,
    "after_seq": st.integers(-1, 40) | numbers | json_values,
    "seq": st.integers(-1, 40) | numbers | json_values,
    "client_msg_id": odd_text | st.uuids().map(str) | json_values,
    "body": odd_text | st.text(max_size=300) | st.just("x" * 4001) | json_values,
    "typing": st.booleans() | json_values,
    "internal": st.booleans() | json_values,
    "attachment_ids": st.lists(st.integers(-1, 10), max_size=12) | json_values,
    "status": st.sampled_from(["online", "away", "offline"]) | json_values,
    "rating": st.integers(-1, 7) | json_values,
    "comment": odd_text | json_values,
    "channel": st.sampled_from(["web", "h5", "app"]) | json_values,
    "name": odd_text | json_values,
    "email": odd_text | st.emails() | json_values,
    "to_business_line": odd_text | json_values,
    "ref": st.text(max_size=70) | st.integers() | json_values,
}
typed_frames = st.fixed_dictionaries({"type": st.sampled_from(FRAME_TYPES) | odd_text}, optional=dict(plausible))
deep = st.integers(30, 3000).map(lambda depth: "[" * depth + "]" * depth)
deep_in_frame = st.integers(30, 2000).map(lambda depth: '{"type":"ping","x":' + "[" * depth + "]" * depth + "}")
raw_texts = (
    st.text(max_size=200)
    | deep
    | deep_in_frame
    | st.sampled_from(
        [
            '{"type":"ping","ref":NaN}',
            '{"type":"sync","conversation_id":1,"after_seq":-Infinity}',
            "{",
            "null",
            "1e999",
            '{"type":"ping","ref":"\\ud800"}',
            '{"type":"message.send","body":"a\\u0000b"}',
            '"\\udfff"',
            "[]" * 5000,
        ]
    )
)
frames = st.one_of(typed_frames, typed_frames, json_values, raw_texts)


@dataclass
class FuzzedSocket:
    """One socket under fuzz, driven from the synchronous Hypothesis test on an event loop of its own."""

    role: str
    loop: asyncio.AbstractEventLoop
    socket: WebsocketCommunicator
    conversation_ids: list[int]
    sent: int = 0

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def text_of(self, frame: Any) -> str:
        if isinstance(frame, str):
            return frame
        if isinstance(frame, dict):
            frame = {key: self._resolve(value) for key, value in frame.items()}
        return json.dumps(frame)  # ensure_ascii: lone surrogates travel as \ud800 escapes, as a browser's would

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, OwnConversation):
            return self.conversation_ids[value.index % len(self.conversation_ids)]
        return value

    async def exchange(self, text: str) -> list[dict[str, Any]]:
        """Send one frame and a marker ping; what came back before the marker's pong."""
        marker = f"fuzz-marker-{self.sent}"
        self.sent += 1
        await self.socket.send_input({"type": "websocket.receive", "text": text})  # send_to refuses ""
        await self.socket.send_to(text_data=json.dumps({"type": "ping", "ref": marker}))
        received = []
        while True:
            frame = await self.socket.receive_json_from(timeout=ANSWER_TIMEOUT)
            self._learn(frame)
            if frame == {"type": "pong", "ref": marker}:
                return received
            received.append(frame)

    def _learn(self, frame: dict[str, Any]) -> None:
        conversation = frame.get("conversation")
        if isinstance(conversation, dict) and conversation.get("id") not in self.conversation_ids:
            self.conversation_ids.append(conversation["id"])

    def check(self, text: str, received: list[dict[str, Any]]) -> None:
        """A reply or an error carries `ref` (null when the frame had none); pushes never do. `internal_error`
        means the server met something it did not foresee: a bug the fuzzer found."""
        replies = [frame for frame in received if "ref" in frame]
        failures = [frame for frame in replies if frame.get("code") == "internal_error"]
        assert not failures, f"the server failed on {text[:300]!r}: {failures!r}"
        if replies:
            return
        sent = _json_or_none(text)
        assert isinstance(sent, dict) and sent.get("type") in RELAYED_WITHOUT_REPLY, (
            f"no answer to {text[:300]!r}; got {received!r}"
        )
        assert sent.get("conversation_id") in self.conversation_ids, f"relayed without being checked: {text[:300]!r}"


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


@pytest.fixture
def fuzz_settings(settings):
    """No rate limit: the fuzzer sends as fast as it can."""
    settings.CHAT_RATE_PER_SECOND = 1_000_000
    settings.CHAT_RATE_BURST = 1_000_000
    return settings


@dataclass
class Team:
    customer: Any
    agent: Any
    conversation_ids: list[int]


@pytest.fixture
def team(fuzz_settings) -> Team:
    """A line with an online agent and a customer, and conversations of that customer in every state."""
    line = BusinessLineFactory(allowed_origins="https://shop.example")
    agent = AgentFactory(business_lines=[line], capacity=3, presence=Presence.ONLINE)
    customer = CustomerFactory(business_line=line)
    conversations = [
        ConversationFactory(customer=customer, status=ConversationStatus.ACTIVE, agent=agent, transcript=["hello"]),
        ConversationFactory(customer=customer, status=ConversationStatus.CLOSED, agent=agent, transcript=["hello"]),
        ConversationFactory(customer=customer, status=ConversationStatus.MISSED, transcript=["hello"]),
        ConversationFactory(
            customer=CustomerFactory(business_line=line), status=ConversationStatus.WAITING, transcript=["hello"]
        ),
    ]
    return Team(customer=customer, agent=agent, conversation_ids=[c.id for c in conversations])


@pytest.fixture
def event_loop_of_the_test() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _open(loop: asyncio.AbstractEventLoop, path: str, headers: list[tuple[bytes, bytes]]) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, path, headers=[(b"host", b"testserver"), *headers])
    connected, _ = loop.run_until_complete(socket.connect(timeout=10))
    assert connected
    hello = loop.run_until_complete(socket.receive_json_from(timeout=10))
    assert hello["type"] == "hello", hello
    return socket


@pytest.fixture(params=["customer", "agent"])
def fuzzed(request, team, event_loop_of_the_test) -> Iterator[FuzzedSocket]:
    loop = event_loop_of_the_test
    if request.param == "customer":
        path = f"/ws/customer/?token={customer_token_issue(customer=team.customer)}"
        socket = _open(loop, path, [(b"origin", b"https://shop.example")])
    else:
        socket = _open(loop, f"/ws/agent/?token={api_token_issue(user=team.agent.user)}", [])
    under_fuzz = FuzzedSocket(
        role=request.param, loop=loop, socket=socket, conversation_ids=list(team.conversation_ids)
    )
    yield under_fuzz
    loop.run_until_complete(socket.disconnect(timeout=10))


def test_every_fuzzed_frame_is_answered_and_the_socket_lives_on(fuzzed, team):
    # Given a socket of each role, when Hypothesis sends it batch after batch of arbitrary frames
    @hypothesis_settings(
        max_examples=BATCHES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(batch=st.lists(frames, min_size=12, max_size=30))
    def fuzz(batch: list[Any]) -> None:
        for frame in batch:
            text = fuzzed.text_of(frame)
            fuzzed.check(text, fuzzed.run(fuzzed.exchange(text)))
        assert not fuzzed.socket.future.done(), "the consumer ended"

    fuzz()

    # Then every frame was answered (checked frame by frame) and the socket is still open and useful
    assert fuzzed.sent >= 1500, fuzzed.sent
    if fuzzed.role == "customer":  # the customer's own open conversation (the fuzzer may have started or closed one)
        fuzzed.run(fuzzed.exchange(json.dumps({"type": "conversation.start"})))
        conversation = team.customer.conversations.exclude(status__in=["closed", "missed"]).get()
    else:  # a fresh chat of this agent's: the fuzzer may have filled their capacity or changed their presence
        customer = CustomerFactory(business_line=team.customer.business_line)
        conversation = ConversationFactory(customer=customer, status=ConversationStatus.ACTIVE, agent=team.agent)
    send = {
        "type": "message.send",
        "conversation_id": conversation.id,
        "client_msg_id": f"after-{fuzzed.role}",
        "body": "Still here after the fuzzer",
        "ref": "after",
    }
    received = fuzzed.run(fuzzed.exchange(json.dumps(send)))
    ack = next(frame for frame in received if frame.get("ref") == "after")
    assert ack["type"] == "message.ack" and ack["message"]["body"] == "Still here after the fuzzer", received
    if fuzzed.role == "agent":
        assert sync_client().zcard(presence._key(team.agent.id)) == 1
