"""The supervisors' socket (`/ws/supervisor/`): the live monitor, pushed; watching, whispering in and transferring
any live conversation.

A supervisor signs in with their admin session (the product's own pages only) or an API token from
`POST /api/auth/token/`; agents and customers are refused (`not_a_supervisor`, 4403). The socket joins the
supervisors' group, which `reports.floor` tells of every committed change, and the groups of the conversations
it shows (their messages move the "unanswered" clocks); each change makes one read of `floor_live` after the
socket's interval, whatever worker the change happened on. Frames: docs/protocol.md, "Supervisors".
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import User

from agents.selectors import api_token_find, is_supervisor
from chat import events, frames, selectors, services
from chat.consumers import (
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHENTICATED,
    ChatConsumer,
    Handler,
    _field_body,
    _field_int,
    _field_str,
    _limits,
    _room_for_messages,
)
from chat.payloads import message_payload, user_display_name
from chat.permissions import Participant, conversation_for
from cs_platform import metrics
from cs_platform.errors import ErrorCode
from cs_platform.origins import own_site_socket
from customers.selectors import customer_id_from_token
from reports.floor import SUPERVISORS_GROUP
from reports.floor_selectors import floor_live
from routing import services as routing
from routing.selectors import conversation_state

logger = logging.getLogger(__name__)

# Frames of a conversation's group that change what the monitor shows (the clocks of unanswered messages).
_MONITOR_FRAMES = {"message.new", "conversation.state"}
# Bytes kept free in a snapshot's frame for its `ref`.
_REF_ROOM = 200

# The worker's latest read of the floor: (time.monotonic() when the read began, the snapshot). Touched only in the
# worker's one database thread (`database_sync_to_async`), so reads queued behind each other share it.
_latest_floor: tuple[float, dict[str, Any]] | None = None


def floor_since(since: float) -> dict[str, Any]:
    """A snapshot that reflects every change committed before `since` (a `time.monotonic()` of this worker): the
    latest one when it was read after that, else a new read. Every supervisor socket of a worker hears a change at
    about the same moment and queues its read on the same database thread: the first read serves them all."""
    global _latest_floor
    if _latest_floor is not None and _latest_floor[0] >= since:
        return _latest_floor[1]
    started = time.monotonic()
    snapshot = _floor_that_fits()
    _latest_floor = (started, snapshot)
    return snapshot


def _floor_that_fits() -> dict[str, Any]:
    """The floor, its lists cut shorter (halved until it fits) when the frame would be over the largest frame the
    server sends (CHAT_MAX_OUTGOING_FRAME_BYTES): the figures stay whole, the longest lists lose their tails."""
    limit = settings.CHAT_QUEUE_SNAPSHOT_LIMIT
    while True:
        snapshot = floor_live(list_limit=limit)
        if frames.wire_size(snapshot) + _REF_ROOM <= settings.CHAT_MAX_OUTGOING_FRAME_BYTES or limit == 0:
            return snapshot
        limit //= 2
        logger.warning("monitor snapshot too large for one frame: lists cut to %s entries each", limit)


def _supervisor_for_token(token: str) -> tuple[User | None, bool]:
    """The supervisor behind an API token, and whether the token was someone's (an agent's or a customer's)."""
    found = api_token_find(token=token)
    if found is not None:
        return (found.user if is_supervisor(user=found.user) else None), True
    return None, customer_id_from_token(token=token) is not None


def _supervisor_for_session(user: Any) -> tuple[User | None, bool]:
    if not isinstance(user, User) or not user.is_active:
        return None, False
    return (user if is_supervisor(user=user) else None), True


class SupervisorConsumer(ChatConsumer):
    role = "supervisor"
    snapshot_task: asyncio.Task[None] | None = None
    snapshot_read_at = 0.0
    heard_at = 0.0  # when the socket last heard of a change (time.monotonic()): a read must begin after it
    in_supervisors_group = False

    async def authenticate(self) -> tuple[ErrorCode, str, int] | None:
        token = self._query_param("token")
        if token:
            user, known = await database_sync_to_async(_supervisor_for_token)(token)
        else:
            user, known = await database_sync_to_async(_supervisor_for_session)(self.scope.get("user"))
            if user is not None and not own_site_socket(self.scope):
                return ErrorCode.ORIGIN_FORBIDDEN, "Cross-site supervisor sockets are refused", CLOSE_FORBIDDEN
        if user is None and known:
            return ErrorCode.NOT_A_SUPERVISOR, "Only supervisors may open the monitor", CLOSE_FORBIDDEN
        if user is None:
            return ErrorCode.UNAUTHENTICATED, "A supervisor's session or API token is required", CLOSE_UNAUTHENTICATED
        self.user = user
        self.watched: set[int] = set()
        self.participant = Participant(kind="supervisor", id=user.pk)
        return None

    def own_group(self) -> str:
        return f"supervisor.{self.user.pk}"

    def handlers(self) -> dict[str, Handler]:
        return {
            "conversation.watch": self.handle_watch,
            "conversation.unwatch": self.handle_unwatch,
            "whisper.send": self.handle_whisper,
            "conversation.transfer": self.handle_transfer,
            "monitor.refresh": self.handle_refresh,
            "sync": self.handle_sync,
            "ping": self.handle_ping,
        }

    async def on_authenticated(self) -> None:
        await self.send_frame(
            {
                "type": "hello",
                "role": self.role,
                "user_id": self.user.pk,
                "name": user_display_name(self.user),
                **_limits(),
            }
        )
        # Join before the first read: a change committed in between is in the snapshot or announced after it.
        await self.channel_layer.group_add(SUPERVISORS_GROUP, self.channel_name)
        self.in_supervisors_group = True
        self.heard_at = time.monotonic()
        await self._snapshot_send()

    # The monitor

    async def floor_changed(self, event: dict[str, Any]) -> None:
        self._snapshot_soon()

    def _snapshot_soon(self) -> None:
        """A fresh snapshot now, or when the interval since the last read is over: changes within it make one
        read, after the last of them (a trailing read, so the final state always goes out)."""
        self.heard_at = time.monotonic()
        if self.snapshot_task is not None:
            return
        delay = self.snapshot_read_at + settings.MONITOR_PUSH_INTERVAL - time.monotonic()
        self.snapshot_task = asyncio.create_task(self._snapshot_after(max(delay, 0.0)))

    async def _snapshot_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.snapshot_task = None  # a change announced from now on is not in the read below: it schedules the next
        try:
            await self._snapshot_send()
        except Exception as error:
            logger.exception("supervisor %s: monitor snapshot failed; the next change sends one", self._who())
            metrics.error_caught("monitor_snapshot", error)

    async def _snapshot_send(self, ref: Any = None) -> None:
        self.snapshot_read_at = time.monotonic()
        snapshot = await database_sync_to_async(floor_since)(self.heard_at)
        await self.send_frame({**snapshot, "ref": ref} if ref is not None else snapshot)
        await self._listen_to(
            {chat["id"] for line in snapshot["lines"] for agent in line["agents"] for chat in agent["chats"]}
        )

    async def _listen_to(self, shown: set[int]) -> None:
        """Listen to the conversations the monitor shows and the ones watched, no others. A conversation joined
        now may have moved between the read and the join: one more read follows."""
        wanted = shown | self.watched
        for conversation_id in self.joined - wanted:
            await self.unsubscribe(conversation_id)
        joined_now = [conversation_id for conversation_id in wanted if await self.join(conversation_id)]
        if joined_now:
            self._snapshot_soon()

    async def handle_refresh(self, frame: dict[str, Any], ref: Any) -> None:
        self.heard_at = time.monotonic()
        await self._snapshot_send(ref)

    async def _heartbeat(self) -> None:
        """Also the safety net: an agent whose worker died drops off the monitor when their presence expires."""
        await super()._heartbeat()
        self._snapshot_soon()

    # One conversation

    async def chat_frame(self, event: dict[str, Any]) -> None:
        """A conversation's event (agents' audience included: supervisors see internal notes and whispers)."""
        frame = event["frame"]
        conversation_id = _frame_conversation_id(frame)
        if conversation_id in self.watched:
            await self.send_frame(frame)
        if frame["type"] in _MONITOR_FRAMES:
            self._snapshot_soon()

    async def handle_watch(self, frame: dict[str, Any], ref: Any) -> None:
        """Send the conversation with its first page of messages (internal notes too), then its live frames."""
        conversation_id = _field_int(frame, "conversation_id", minimum=1)
        self.watched.add(conversation_id)
        try:
            await self.join(conversation_id)
            watched = await database_sync_to_async(self._watched_frame)(conversation_id, ref)
        except BaseException:
            self.watched.discard(conversation_id)
            raise
        await self.send_frame(watched)

    def _watched_frame(self, conversation_id: int, ref: Any) -> dict[str, Any]:
        conversation_for(self.authenticated, conversation_id)  # not_found for an unknown id
        state = conversation_state(selectors.conversation_with_relations(conversation_id=conversation_id))
        watched = {"type": "conversation.watched", "conversation": state["conversation"], "ref": ref}
        messages, has_more = selectors.message_payloads_page(
            participant=self.authenticated,
            conversation_id=conversation_id,
            after_seq=0,
            max_bytes=_room_for_messages(watched),
        )
        return {**watched, "messages": messages, "has_more": has_more}

    async def handle_unwatch(self, frame: dict[str, Any], ref: Any) -> None:
        conversation_id = _field_int(frame, "conversation_id", minimum=1)
        self.watched.discard(conversation_id)
        await self.send_frame({"type": "conversation.unwatched", "conversation_id": conversation_id, "ref": ref})
        self._snapshot_soon()  # stops listening to it unless the monitor shows it

    async def handle_whisper(self, frame: dict[str, Any], ref: Any) -> None:
        conversation_id = _field_int(frame, "conversation_id", minimum=1)
        client_msg_id = _field_str(frame, "client_msg_id", max_length=64)
        body = _field_body(frame)
        payload = await events.call_and_publish(
            self._whisper, conversation_id=conversation_id, client_msg_id=client_msg_id, body=body
        )
        await self.send_frame({"type": "whisper.ack", "client_msg_id": client_msg_id, "message": payload, "ref": ref})

    def _whisper(self, *, conversation_id: int, client_msg_id: str, body: str) -> dict[str, Any]:
        message, _created = services.whisper_send(
            supervisor=self.authenticated, conversation_id=conversation_id, client_msg_id=client_msg_id, body=body
        )
        return message_payload(message)

    async def handle_transfer(self, frame: dict[str, Any], ref: Any) -> None:
        conversation_id = _field_int(frame, "conversation_id", minimum=1)
        state = await events.call_and_publish(
            self._transfer_and_load, conversation_id, frame.get("to_agent_id"), frame.get("to_business_line")
        )
        await self.send_frame({**state, "ref": ref})

    def _transfer_and_load(self, conversation_id: int, to_agent_id: Any, to_business_line: Any) -> dict[str, Any]:
        routing.conversation_transfer_by_supervisor(
            supervisor=self.authenticated,
            conversation_id=conversation_id,
            to_agent_id=to_agent_id,
            to_business_line=to_business_line,
        )
        return self._state_frame(conversation_id)

    async def disconnect(self, code: int) -> None:
        if self.snapshot_task is not None:
            self.snapshot_task.cancel()
        if self.in_supervisors_group:
            await self._clean_up_step(
                f"leaving {SUPERVISORS_GROUP}", self.channel_layer.group_discard(SUPERVISORS_GROUP, self.channel_name)
            )
        await super().disconnect(code)


def _frame_conversation_id(frame: dict[str, Any]) -> int | None:
    if "conversation_id" in frame:
        return frame["conversation_id"]
    for key in ("message", "conversation"):
        inner = frame.get(key)
        if isinstance(inner, dict):
            return inner.get("conversation_id", inner.get("id"))
    return None
