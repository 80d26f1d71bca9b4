"""WebSocket edges of the live chat: parse a frame, check it, call a service or selector, reply.

Each worker holds only its own sockets. A socket subscribes to channel-layer groups (its conversations, its
agent or customer), and every worker forwards a group's events to the sockets it holds. The protocol is in
docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, WebSocketDisconnectEvent
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils.translation import gettext

from agents import presence
from agents.selectors import agent_for_api_token, agent_for_user
from agents.services import agent_connected, agent_disconnected, agent_presence_set
from chat import events, frames, lifecycle, selectors, services, sockets
from chat.coalescing import CoalescedPush
from chat.errors import ChatError
from chat.models import ConversationStatus
from chat.payloads import conversation_payload, message_payload
from chat.permissions import Participant, conversation_for, require_writable
from cs_platform import logcontext, metrics
from cs_platform.errors import ErrorCode
from cs_platform.origins import own_site_socket, widget_origin_allowed
from customers.selectors import SocketCustomer, customer_for_socket
from customers.services import CONTEXT_FIELDS, customer_context_set
from routing import services as routing
from routing.selectors import (
    agent_business_line_ids,
    agent_queue_snapshot,
    business_line_offline_among,
    conversation_state,
)

if TYPE_CHECKING:
    from channels.consumer import _ChannelScope  # the stubs' name for a consumer's scope

logger = logging.getLogger(__name__)

ENDED_STATUSES = {ConversationStatus.CLOSED.value, ConversationStatus.MISSED.value}
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY_SOCKETS = 4429
# What `disconnect` is told when the socket ends because the server failed (WebSocket's "internal error").
CLOSE_SERVER_FAILED = 1011
# Ids are PostgreSQL bigints; sequence numbers are integers.
MAX_ID = frames.MAX_INT
MAX_SEQ = 2**31 - 1

Handler = Callable[[dict[str, Any], Any], Awaitable[None]]


class TokenBucket:
    """Per-socket rate limit: `rate` frames a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def _field_int(frame: dict[str, Any], name: str, *, minimum: int = 0, maximum: int = MAX_ID) -> int:
    value = frame.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise ChatError(ErrorCode.INVALID_FIELD, f"{name} must be an integer from {minimum} to {maximum}", field=name)
    return value


def _field_str(frame: dict[str, Any], name: str, *, max_length: int) -> str:
    value = frame.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ChatError(ErrorCode.INVALID_FIELD, f"{name} must be a non-empty string", field=name)
    if len(value) > max_length:
        raise ChatError(ErrorCode.INVALID_FIELD, f"{name} is longer than {max_length} characters", field=name)
    return value


def _field_bool(frame: dict[str, Any], name: str, *, default: bool | None = None) -> bool:
    value = frame.get(name, default)
    if not isinstance(value, bool):
        raise ChatError(ErrorCode.INVALID_FIELD, f"{name} must be true or false", field=name)
    return value


def _field_attachment_ids(frame: dict[str, Any]) -> list[int]:
    """`attachment_ids`: absent or a list of at most CHAT_MAX_ATTACHMENTS distinct ids."""
    value = frame.get("attachment_ids", [])
    if (
        not isinstance(value, list)
        or len(value) > settings.CHAT_MAX_ATTACHMENTS
        or not all(isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= MAX_ID for i in value)
        or len(set(value)) != len(value)
    ):
        raise ChatError(
            ErrorCode.INVALID_FIELD,
            f"attachment_ids must be a list of at most {settings.CHAT_MAX_ATTACHMENTS} distinct attachment ids",
            field="attachment_ids",
        )
    return value


def _field_body(frame: dict[str, Any], *, optional: bool = False) -> str:
    """`body`: text; it may be absent or empty only beside attachments."""
    value = frame.get("body")
    if optional and (value is None or value == ""):
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ChatError(ErrorCode.INVALID_FIELD, gettext("body must be a non-empty string"), field="body")
    if len(value) > settings.CHAT_MAX_BODY_CHARS:
        raise ChatError(
            ErrorCode.BODY_TOO_LONG, f"body is longer than {settings.CHAT_MAX_BODY_CHARS} characters", field="body"
        )
    return value


class ChatConsumer(AsyncWebsocketConsumer):
    """What customer and agent sockets share: framing, limits, errors, subscriptions and relays."""

    role: str = ""
    participant: Participant | None = None
    heartbeat_task: asyncio.Task[None] | None = None
    released = False

    async def __call__(self, scope: _ChannelScope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        """Channels' consumer loop, with the disconnect clean-up run however it ends.

        An exception escaping a handler ends Channels' loop without `websocket_disconnect`: the socket closes
        with 1011, and an agent's heartbeat would keep them online forever. Here it releases the socket anyway.
        """
        try:
            await super().__call__(scope, receive, send)
        except Exception as error:
            logger.exception("%s socket %s failed; releasing it as for a disconnect", self.role, self._who())
            metrics.error_caught("consumer", error)
            raise
        finally:
            await self._release(CLOSE_SERVER_FAILED)

    @property
    def authenticated(self) -> Participant:
        """Who this socket speaks for; every frame is handled after `authenticate` set it."""
        if self.participant is None:
            raise RuntimeError(f"{self.role} socket used before it was authenticated")
        return self.participant

    async def websocket_disconnect(self, message: WebSocketDisconnectEvent) -> None:
        await self._release(message.get("code", 1000))
        raise StopConsumer()

    async def _release(self, code: int) -> None:
        """Run `disconnect` once, whichever way the socket ended first."""
        if self.released:
            return
        self.released = True
        await self.disconnect(code)

    async def connect(self) -> None:
        self.joined: set[int] = set()
        self.bucket = TokenBucket(settings.CHAT_RATE_PER_SECOND, settings.CHAT_RATE_BURST)
        await self.accept()
        try:
            refusal = await self.authenticate()
        except Exception as error:
            logger.exception("%s socket: authentication failed unexpectedly", self.role)
            metrics.error_caught("consumer", error)
            refusal = (ErrorCode.INTERNAL_ERROR, "Authentication failed", CLOSE_UNAUTHENTICATED)
        if refusal is None:
            refusal = await self._count_socket_in()
        if refusal is not None:
            self.participant = None  # nothing was set up, so nothing is to be released
            code, message, close_code = refusal
            await self.send_frame({"type": "error", "code": code, "message": message})
            await self.close(code=close_code)
            return
        logcontext.bind(**{f"{self.authenticated.kind}_id": self.authenticated.id})
        await self.channel_layer.group_add(self.own_group(), self.channel_name)
        metrics.socket_opened(self.role, self.channel_name)
        await self.on_authenticated()
        self.heartbeat_task = asyncio.create_task(self._heartbeat_forever())

    async def _count_socket_in(self) -> tuple[ErrorCode, str, int] | None:
        """Refuse a socket past its owner's cap; with Redis away, let it in uncounted (its heartbeat counts it)."""
        try:
            opened = await sockets.socket_open(
                role=self.role, owner_id=self.authenticated.id, connection=self.channel_name
            )
        except Exception as error:
            logger.exception("%s %s: sockets could not be counted; letting this one in", self.role, self._who())
            metrics.error_caught("socket_count", error, backend="redis")
            return None
        if opened:
            return None
        cap = sockets.socket_cap(self.role)
        return (
            ErrorCode.TOO_MANY_CONNECTIONS,
            f"At most {cap} sockets may be open at once for one {self.role}; close one first",
            CLOSE_TOO_MANY_SOCKETS,
        )

    async def _heartbeat(self) -> None:
        """Every CHAT_HEARTBEAT_SECONDS: keep this socket counted (agents: and present) on every worker."""
        await sockets.socket_renew(role=self.role, owner_id=self.authenticated.id, connection=self.channel_name)

    async def _heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(settings.CHAT_HEARTBEAT_SECONDS)
            try:
                await self._heartbeat()
            except Exception as error:
                logger.exception("%s %s: heartbeat failed", self.role, self._who())
                metrics.error_caught("heartbeat", error)

    async def _stop_heartbeat(self) -> None:
        """Cancel the heartbeat and wait until it is over, so it cannot register the socket again after it left."""
        if self.heartbeat_task is not None:
            self.heartbeat_task.cancel()
            await asyncio.wait([self.heartbeat_task])

    async def disconnect(self, code: int) -> None:
        """Leave every group; each step runs even if one before it failed (Redis away: the groups expire)."""
        metrics.socket_closed(self.role, self.channel_name)
        if self.participant is None:
            return
        await self._stop_heartbeat()
        await self._clean_up_step(
            "removing it from its owner's sockets (it will expire)",
            sockets.socket_close(role=self.role, owner_id=self.authenticated.id, connection=self.channel_name),
        )
        groups = [events.conversation_group(conversation_id) for conversation_id in self.joined]
        for group in [*groups, self.own_group()]:
            await self._clean_up_step(f"leaving {group}", self.channel_layer.group_discard(group, self.channel_name))

    async def _clean_up_step(self, what: str, step: Awaitable[Any], *, where: str = "release") -> None:
        """One step of releasing a socket, each of which talks to Redis: a failure is logged and counted."""
        try:
            await step
        except Exception as error:
            logger.exception("%s %s: %s failed while releasing the socket", self.role, self._who(), what)
            metrics.error_caught(where, error, backend="redis")

    def _who(self) -> str:
        return str(self.participant.id) if self.participant is not None else "(unauthenticated)"

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch, without its `aclose_old_connections()` before every handler.

        That call is a hop to the worker's one database thread for every frame and every delivered event, so
        each `message.new` fanned out to a socket queued behind other sockets' database work. Every database
        call of these consumers goes through `database_sync_to_async`, which closes stale connections itself.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        logcontext.conversation_bound(message.get("conversation_id"))
        await handler(message)

    # Role hooks

    async def authenticate(self) -> tuple[ErrorCode, str, int] | None:
        raise NotImplementedError

    def own_group(self) -> str:
        raise NotImplementedError

    async def on_authenticated(self) -> None:
        raise NotImplementedError

    async def on_join(self, conversation_id: int) -> None:
        raise NotImplementedError

    def handlers(self) -> dict[str, Handler]:
        return {
            "message.send": self.handle_message_send,
            "sync": self.handle_sync,
            "typing": self.handle_typing,
            "read": self.handle_read,
            "conversation.close": self.handle_conversation_close,
            "ping": self.handle_ping,
        }

    # Framing

    async def send_frame(self, frame: dict[str, Any]) -> None:
        """Send, never more than the socket can carry: a frame that cannot go out becomes an `error` frame."""
        try:
            text = frames.frame_encode(frame)
        except frames.FrameUnsendable as unsendable:
            conversation = frame.get("conversation") or {}
            logger.error(
                "%s %s: %s frame not sent (conversation %s): %s",
                self.role,
                self._who(),
                frame.get("type"),
                frame.get("conversation_id", conversation.get("id") if isinstance(conversation, dict) else None),
                unsendable,
            )
            frame = {
                "type": "error",
                "code": unsendable.code.value,
                "message": _UNSENDABLE[unsendable.code],
                "ref": frames.frame_ref(frame),
            }
            text = frames.frame_encode(frame)
        await self.send(text_data=text)
        metrics.frame_sent(self.role, frame)

    async def send_error(self, code: ErrorCode, message: str, ref: Any = None, *, field: str | None = None) -> None:
        """An `error` frame; `field` (the refused field's dotted path) only when the refusal names one."""
        frame: dict[str, Any] = {"type": "error", "code": code.value, "message": message, "ref": ref}
        if field is not None:
            frame["field"] = field
        await self.send_frame(frame)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.participant is None:
            return
        if text_data is None:
            await self.send_error(ErrorCode.INVALID_JSON, "Frames are JSON text, not binary")
            return
        if len(text_data.encode(errors="surrogatepass")) > settings.CHAT_MAX_FRAME_BYTES:
            await self.send_error(
                ErrorCode.FRAME_TOO_LARGE, f"Frames are limited to {settings.CHAT_MAX_FRAME_BYTES} bytes"
            )
            return
        refusal: frames.FrameRefused | None = None
        try:
            frame = frames.frame_decode(text_data)
        except frames.FrameRefused as refused:
            frame, refusal = {}, refused
        ref = refusal.ref if refusal is not None else frames.frame_ref(frame)
        if not self.bucket.take():
            await self.send_error(ErrorCode.RATE_LIMITED, "Too many frames; slow down", ref)
            return
        if refusal is not None:
            await self.send_error(refusal.code, refusal.message, ref)
            return
        frame_type = frame.get("type")
        handler = self.handlers().get(frame_type) if isinstance(frame_type, str) else None
        metrics.frame_received(
            self.role, frame_type if handler is not None and isinstance(frame_type, str) else "unknown"
        )
        logcontext.conversation_bound(frame.get("conversation_id"))
        if handler is None:
            await self.send_error(ErrorCode.UNKNOWN_TYPE, f"Unknown frame type for the {self.role} socket", ref)
            return
        try:
            await handler(frame, ref)
        except ChatError as error:
            await self.send_error(error.code, error.message, ref, field=error.field)
        except Exception as error:
            logger.exception("%s %s: frame %s failed", self.role, self.authenticated.id, frame.get("type"))
            metrics.error_caught("consumer", error)
            await self.send_error(ErrorCode.INTERNAL_ERROR, "The server could not handle this frame", ref)

    # Frames both sides send

    async def handle_message_send(self, frame: dict[str, Any], ref: Any) -> None:
        started = time.perf_counter()
        conversation_id = _field_int(frame, "conversation_id", minimum=1)
        client_msg_id = _field_str(frame, "client_msg_id", max_length=64)
        attachment_ids = _field_attachment_ids(frame)
        body = _field_body(frame, optional=bool(attachment_ids))
        internal = _field_bool(frame, "internal", default=False) if self.authenticated.is_agent else False
        message, _created = await events.call_and_publish(
            services.message_send,
            idempotent=True,
            participant=self.authenticated,
            conversation_id=conversation_id,
            client_msg_id=client_msg_id,
            body=body,
            internal=internal,
            attachment_ids=attachment_ids,
        )
        await self.send_frame(
            {"type": "message.ack", "client_msg_id": client_msg_id, "message": message_payload(message), "ref": ref}
        )
        metrics.message_send_timed(self.role, started)

    async def handle_sync(self, frame: dict[str, Any], ref: Any) -> None:
        conversation_id = _field_int(frame, "conversation_id", minimum=1)
        after_seq = _field_int(frame, "after_seq", minimum=0, maximum=MAX_SEQ)
        result = {"type": "sync.result", "conversation_id": conversation_id, "ref": ref}
        messages, has_more = await database_sync_to_async(selectors.message_payloads_page)(
            participant=self.authenticated,
            conversation_id=conversation_id,
            after_seq=after_seq,
            max_bytes=_room_for_messages(result),
        )
        await self.send_frame({**result, "messages": messages, "has_more": has_more})

    async def handle_typing(self, frame: dict[str, Any], ref: Any) -> None:
        conversation_id = await self._joined_conversation(frame)
        typing = _field_bool(frame, "typing")
        await self._relay(conversation_id, {"type": "typing", "conversation_id": conversation_id, "typing": typing})

    async def handle_read(self, frame: dict[str, Any], ref: Any) -> None:
        conversation_id = await self._joined_conversation(frame)
        seq = _field_int(frame, "seq", minimum=0, maximum=MAX_SEQ)
        await self._relay(conversation_id, {"type": "read", "conversation_id": conversation_id, "seq": seq})

    async def handle_conversation_close(self, frame: dict[str, Any], ref: Any) -> None:
        conversation_id = _field_int(frame, "conversation_id", minimum=1)
        conversation = await events.call_and_publish(self._close_and_load, conversation_id)
        await self.send_frame({**conversation, "ref": ref})

    async def handle_ping(self, frame: dict[str, Any], ref: Any) -> None:
        await self.send_frame({"type": "pong", "ref": ref})

    def _close_and_load(self, conversation_id: int) -> dict[str, Any]:
        lifecycle.conversation_close(participant=self.authenticated, conversation_id=conversation_id)
        return self._state_frame(conversation_id)

    def _state_frame(self, conversation_id: int) -> dict[str, Any]:
        return conversation_state(selectors.conversation_with_relations(conversation_id=conversation_id))

    async def _joined_conversation(self, frame: dict[str, Any]) -> int:
        """Typing and read receipts need no database on a subscribed socket: it is subscribed only to conversations
        it may write to. Otherwise the permission rule says why not (`not_found`, `conversation_closed`,
        `not_assigned`), as it does for `message.send`."""
        conversation_id = _field_int(frame, "conversation_id", minimum=1)
        if conversation_id not in self.joined:
            await database_sync_to_async(self._require_writable)(conversation_id)
        return conversation_id

    def _require_writable(self, conversation_id: int) -> None:
        require_writable(self.authenticated, conversation_for(self.authenticated, conversation_id))

    async def _relay(self, conversation_id: int, frame: dict[str, Any]) -> None:
        event = events.frame_event({**frame, "sender": self.role})
        event["skip_role"] = self.role
        await self.channel_layer.group_send(events.conversation_group(conversation_id), event)

    # Channel-layer events

    async def chat_frame(self, event: dict[str, Any]) -> None:
        if event.get("audience") == events.AUDIENCE_AGENTS and self.role != "agent":
            return
        if event.get("skip_role") == self.role:
            return
        frame = event["frame"]
        await self.send_frame(frame)
        if frame["type"] == "conversation.state" and frame["conversation"]["status"] in ENDED_STATUSES:
            await self.unsubscribe(frame["conversation"]["id"])

    async def chat_join(self, event: dict[str, Any]) -> None:
        if await self.join(event["conversation_id"]):
            await self.on_join(event["conversation_id"])

    async def chat_leave(self, event: dict[str, Any]) -> None:
        await self.unsubscribe(event["conversation_id"])

    async def unsubscribe(self, conversation_id: int) -> None:
        self.joined.discard(conversation_id)
        await self.channel_layer.group_discard(events.conversation_group(conversation_id), self.channel_name)

    async def join(self, conversation_id: int) -> bool:
        """Subscribe before reading the state, so nothing committed in between is missed.

        True if this call subscribed the socket; False if it already was (or another task of the socket, the
        heartbeat or an event, is subscribing it now). A subscription that failed (Redis away) is forgotten, so
        the next join tries again.
        """
        if conversation_id in self.joined:
            return False
        self.joined.add(conversation_id)
        try:
            await self.channel_layer.group_add(events.conversation_group(conversation_id), self.channel_name)
        except BaseException:
            self.joined.discard(conversation_id)
            raise
        return True

    def _query_param(self, name: str) -> str | None:
        values = parse_qs(self.scope.get("query_string", b"").decode("latin1")).get(name)
        return values[0] if values else None

    def _header(self, name: bytes) -> str | None:
        for key, value in self.scope.get("headers", []):
            if key == name:
                return value.decode("latin1")
        return None


class CustomerConsumer(ChatConsumer):
    role = "customer"

    async def authenticate(self) -> tuple[ErrorCode, str, int] | None:
        # One read before `hello`, on the database thread's kept connection (retried on a new one if it was lost).
        found: SocketCustomer | None = await events.call_and_publish(
            customer_for_socket, idempotent=True, token=self._query_param("token") or ""
        )
        if found is None:
            return ErrorCode.UNAUTHENTICATED, "Missing, forged or expired customer token", CLOSE_UNAUTHENTICATED
        customer = found.customer
        if not widget_origin_allowed(
            business_line=customer.business_line, origin=self._header(b"origin"), host=self._header(b"host") or ""
        ):
            return ErrorCode.ORIGIN_FORBIDDEN, "This site may not open the chat", CLOSE_FORBIDDEN
        self.customer = customer
        self.socket_customer = found
        self.participant = Participant(kind="customer", id=customer.id)
        return None

    def own_group(self) -> str:
        return events.customer_group(self.customer.id)

    def handlers(self) -> dict[str, Handler]:
        return {
            **super().handlers(),
            "conversation.start": self.handle_conversation_start,
            "conversation.leave_message": self.handle_leave_message,
            "conversation.rate": self.handle_rate,
            "customer.context": self.handle_customer_context,
        }

    async def on_authenticated(self) -> None:
        offline = await business_line_offline_among(
            self.customer.business_line, online_agent_ids=self.socket_customer.online_agent_ids
        )
        await self.send_frame(
            {"type": "hello", "role": self.role, "customer_id": self.customer.id, "offline": offline, **_limits()}
        )
        # Open conversations, then an answered left message the customer comes back to (it ended while they were
        # away: an agent answered it, and the widget shows the answer).
        shown = [*self.socket_customer.open_conversation_ids, *self.socket_customer.answered_conversation_ids]
        for conversation_id in shown:
            await self.join(conversation_id)
        for conversation_id in shown:
            await self.on_join(conversation_id)

    async def on_join(self, conversation_id: int) -> None:
        frame = await database_sync_to_async(self._state_frame)(conversation_id)
        await self.send_frame(frame)

    async def handle_conversation_start(self, frame: dict[str, Any], ref: Any) -> None:
        channel = frame.get("channel", self.customer.first_channel)
        prechat = frame.get("prechat")
        if prechat is not None and not isinstance(prechat, dict):
            raise ChatError(ErrorCode.INVALID_FIELD, gettext("prechat must be an object"), field="prechat")
        conversation, _created = await events.call_and_publish(
            lifecycle.conversation_start,
            customer=self.customer,
            channel=channel,
            prechat=prechat,
        )
        await self.join(conversation.id)
        state = await database_sync_to_async(self._state_frame)(conversation.id)
        await self.send_frame({**state, "ref": ref})

    async def handle_rate(self, frame: dict[str, Any], ref: Any) -> None:
        conversation_id = _field_int(frame, "conversation_id", minimum=1)
        comment = frame.get("comment", "")
        if not isinstance(comment, str) or len(comment) > settings.CHAT_MAX_BODY_CHARS:
            raise ChatError(
                ErrorCode.INVALID_FIELD,
                f"comment must be text of at most {settings.CHAT_MAX_BODY_CHARS} characters",
                field="comment",
            )
        conversation = await events.call_and_publish(
            services.conversation_rate,
            customer_id=self.customer.id,
            conversation_id=conversation_id,
            rating=frame.get("rating"),
            comment=comment,
        )
        await self.send_frame(
            {
                "type": "conversation.rated",
                "conversation_id": conversation.id,
                "rating": conversation.rating,
                "ref": ref,
            }
        )

    async def handle_customer_context(self, frame: dict[str, Any], ref: Any) -> None:
        """Where the customer is (the page, its title, referrer, language, time zone) and the site's attributes,
        for the agents' contact panel; the browser's user agent comes from the handshake, not the frame."""
        context = {name: frame[name] for name in (*CONTEXT_FIELDS, "attributes") if name in frame}
        await events.call_and_publish(
            customer_context_set,
            customer_id=self.customer.id,
            context=context,
            user_agent=self._header(b"user-agent") or "",
        )
        await self.send_frame({"type": "customer.context.saved", "ref": ref})

    async def handle_leave_message(self, frame: dict[str, Any], ref: Any) -> None:
        body = _field_body(frame)
        contact: dict[str, Any] = {
            name: _field_str(frame, name, max_length=200) for name in ("name", "email") if name in frame
        }
        conversation = await events.call_and_publish(
            lifecycle.conversation_leave_message,
            customer=self.customer,
            channel=frame.get("channel", self.customer.first_channel),
            body=body,
            **contact,
        )
        await self.join(conversation.id)
        state = await database_sync_to_async(self._state_frame)(conversation.id)
        await self.send_frame({**state, "ref": ref})


class AgentConsumer(ChatConsumer):
    role = "agent"
    queue_lines: tuple[int, ...] = ()
    queue_push: CoalescedPush | None = None
    queue_sent: list[Any] | None = None

    async def authenticate(self) -> tuple[ErrorCode, str, int] | None:
        token = self._query_param("token")
        if token:
            agent = await database_sync_to_async(agent_for_api_token)(token=token)
        else:
            user = self.scope.get("user")
            agent = (
                await database_sync_to_async(agent_for_user)(user=user) if user is not None and user.is_active else None
            )
            if agent is not None and not own_site_socket(self.scope):
                return ErrorCode.ORIGIN_FORBIDDEN, "Cross-site agent sockets are refused", CLOSE_FORBIDDEN
        if agent is None:
            return ErrorCode.UNAUTHENTICATED, "An agent session or API token is required", CLOSE_UNAUTHENTICATED
        self.agent = agent
        self.participant = Participant(kind="agent", id=agent.id)
        return None

    def own_group(self) -> str:
        return events.agent_group(self.agent.id)

    def handlers(self) -> dict[str, Handler]:
        return {
            **super().handlers(),
            "presence.set": self.handle_presence_set,
            "conversation.transfer": self.handle_transfer,
            "conversation.pick": self.handle_pick,
            "conversation.answer": self.handle_answer,
        }

    async def on_authenticated(self) -> None:
        await self.send_frame(
            {
                "type": "hello",
                "role": self.role,
                "agent_id": self.agent.id,
                "presence": self.agent.presence,
                **_limits(),
            }
        )
        await self._join_assigned()
        await self._presence_register()
        await self._queue_subscribe()

    async def _queue_subscribe(self) -> None:
        """Join the agents' group of each of the agent's business lines, then send the first `queue.snapshot`: a
        change committed in between is in the snapshot or announced to the groups, never lost."""
        self.queue_lock = asyncio.Lock()
        self.queue_push = CoalescedPush(
            self._queue_snapshot_send,
            interval=lambda: settings.CHAT_QUEUE_SNAPSHOT_INTERVAL,
            name="queue_snapshot",
            who=lambda: f"agent {self._who()}",
        )
        self.queue_lines = tuple(await database_sync_to_async(agent_business_line_ids)(agent_id=self.agent.id))
        for business_line_id in self.queue_lines:
            await self.channel_layer.group_add(events.line_agents_group(business_line_id), self.channel_name)
        await self.queue_push.now()

    async def chat_queue(self, event: dict[str, Any]) -> None:
        """A line's waiting or missed conversations changed: a fresh snapshot, at most one frame per interval."""
        if self.queue_push is not None:
            self.queue_push.soon()

    async def _queue_snapshot_send(self) -> None:
        """Read the snapshot and send it unless it says what the last one said (a wait only grew longer)."""
        async with self.queue_lock:
            frame = await database_sync_to_async(agent_queue_snapshot)(agent_id=self.agent.id)
            unchanged = [
                [{k: v for k, v in c.items() if k != "waited_seconds"} for c in frame[name]]
                for name in ("waiting", "missed")
            ]
            if unchanged == self.queue_sent:
                return
            self.queue_sent = unchanged
            await self.send_frame(frame)

    async def _join_assigned(self) -> None:
        """Load every conversation assigned to this agent that the socket does not hold yet (at connect)."""
        conversations = await database_sync_to_async(selectors.agent_active_conversations)(agent_id=self.agent.id)
        joined_now = [conversation.id for conversation in conversations if await self.join(conversation.id)]
        for conversation_id in joined_now:
            await self.on_join(conversation_id)

    async def disconnect(self, code: int) -> None:
        """Stop renewing presence, then remove this socket's own entry: routing sees the agent leave at once."""
        if self.participant is not None:
            await self._stop_heartbeat()
            await self._clean_up_step(
                "presence removal (it will expire)",
                presence.connection_remove(agent_id=self.agent.id, connection=self.channel_name),
                where="presence",
            )
            await self._clean_up_step(
                "telling supervisors", events.call_and_publish(agent_disconnected, agent_id=self.agent.id)
            )
            if self.queue_push is not None:
                self.queue_push.cancel()
            for business_line_id in self.queue_lines:
                group = events.line_agents_group(business_line_id)
                await self._clean_up_step(
                    f"leaving {group}", self.channel_layer.group_discard(group, self.channel_name)
                )
        await super().disconnect(code)

    async def _heartbeat(self) -> None:
        await super()._heartbeat()
        await self._presence_register()

    async def _presence_register(self) -> None:
        first_live = await presence.connection_register(agent_id=self.agent.id, connection=self.channel_name)
        if first_live:
            await events.call_and_publish(agent_connected, agent_id=self.agent.id)

    async def on_join(self, conversation_id: int) -> None:
        frame = await database_sync_to_async(self._assigned_frame)(conversation_id)
        if frame is not None:
            await self.send_frame(frame)

    def _assigned_frame(self, conversation_id: int, **extra: Any) -> dict[str, Any] | None:
        """The conversation and its first page of messages; the client syncs on from there when `has_more`."""
        conversation = selectors.conversation_with_relations(conversation_id=conversation_id)
        if conversation.agent_id != self.agent.id:
            return None
        assigned = {"type": "conversation.assigned", "conversation": conversation_payload(conversation), **extra}
        messages, has_more = selectors.message_payloads_page(
            participant=self.authenticated,
            conversation_id=conversation_id,
            after_seq=0,
            max_bytes=_room_for_messages(assigned),
        )
        return {**assigned, "messages": messages, "has_more": has_more}

    async def handle_transfer(self, frame: dict[str, Any], ref: Any) -> None:
        conversation_id = _field_int(frame, "conversation_id", minimum=1)
        state = await events.call_and_publish(
            self._transfer_and_load,
            conversation_id,
            frame.get("to_agent_id"),
            frame.get("to_business_line"),
            frame.get("note"),
        )
        await self.send_frame({**state, "ref": ref})

    def _transfer_and_load(
        self, conversation_id: int, to_agent_id: Any, to_business_line: Any, note: Any
    ) -> dict[str, Any]:
        routing.conversation_transfer(
            agent_id=self.agent.id,
            conversation_id=conversation_id,
            to_agent_id=to_agent_id,
            to_business_line=to_business_line,
            note=note,
        )
        return self._state_frame(conversation_id)

    async def handle_pick(self, frame: dict[str, Any], ref: Any) -> None:
        conversation_id = _field_int(frame, "conversation_id", minimum=1)
        await events.call_and_publish(routing.assignment_pick, agent_id=self.agent.id, conversation_id=conversation_id)
        await self.join(conversation_id)
        assigned = await database_sync_to_async(self._assigned_frame)(conversation_id, ref=ref)
        if assigned is not None:
            await self.send_frame(assigned)

    async def handle_answer(self, frame: dict[str, Any], ref: Any) -> None:
        """An answer to a missed conversation or a left message, from the missed list: no slot taken, nothing to
        join (the conversation is closed once answered)."""
        conversation_id = _field_int(frame, "conversation_id", minimum=1)
        client_msg_id = _field_str(frame, "client_msg_id", max_length=64)
        body = _field_body(frame)
        answered = await events.call_and_publish(self._answer_and_load, conversation_id, client_msg_id, body)
        await self.send_frame({**answered, "ref": ref})

    def _answer_and_load(self, conversation_id: int, client_msg_id: str, body: str) -> dict[str, Any]:
        answer = lifecycle.conversation_answer(
            agent_id=self.agent.id, conversation_id=conversation_id, client_msg_id=client_msg_id, body=body
        )
        conversation = self._state_frame(conversation_id)["conversation"]
        return {"type": "conversation.answered", "conversation": conversation, "message": message_payload(answer)}

    async def chat_leave(self, event: dict[str, Any]) -> None:
        """Transferred or requeued away from this agent: say so, then stop listening to it."""
        conversation_id = event["conversation_id"]
        if conversation_id in self.joined:
            state = await database_sync_to_async(self._state_frame)(conversation_id)
            await self.send_frame(state)
        await self.unsubscribe(conversation_id)

    async def handle_presence_set(self, frame: dict[str, Any], ref: Any) -> None:
        status = frame.get("status")
        hand_back = _field_bool(frame, "hand_back", default=False)
        if hand_back and status not in ("away", "offline"):
            raise ChatError(ErrorCode.INVALID_FIELD, "hand_back goes with status away or offline", field="hand_back")
        await events.call_and_publish(agent_presence_set, agent_id=self.agent.id, status=status)
        if hand_back:
            await events.call_and_publish(routing.agent_conversations_hand_back, agent_id=self.agent.id)
        await self.send_frame({"type": "presence.state", "agent_id": self.agent.id, "status": status, "ref": ref})


# What a client is told when a frame meant for it could not be sent (the server logs the details).
_UNSENDABLE = {
    ErrorCode.REPLY_TOO_LARGE: "The reply would be larger than the server sends; it was not sent",
    ErrorCode.INTERNAL_ERROR: "The server could not encode this reply",
}


def _room_for_messages(envelope: dict[str, Any]) -> int:
    """Bytes left for `messages` in a frame of `envelope` (with `"has_more":false`, the longer value)."""
    around = frames.wire_size({**envelope, "messages": [], "has_more": False})
    return settings.CHAT_MAX_OUTGOING_FRAME_BYTES - around


def _limits() -> dict[str, Any]:
    return {
        "heartbeat": settings.CHAT_HEARTBEAT_SECONDS,
        "limits": {
            "max_frame_bytes": settings.CHAT_MAX_FRAME_BYTES,
            "max_body_chars": settings.CHAT_MAX_BODY_CHARS,
            "rate_per_second": settings.CHAT_RATE_PER_SECOND,
            "rate_burst": settings.CHAT_RATE_BURST,
            "sync_limit": settings.CHAT_SYNC_LIMIT,
            "max_outgoing_frame_bytes": settings.CHAT_MAX_OUTGOING_FRAME_BYTES,
        },
    }
