"""A native app's chat, in Python: the flow of docs/app.md, runnable against any deployment.

Opens a widget session (anonymous, or as a user your back end signed: see examples/h5_link.py), the customer
socket, starts or rejoins the customer's open conversation, sends one message, and then keeps the unread count
of the agent's answers as they are pushed. When the socket drops it reconnects (a new session if the token has
expired) and resumes with `sync` from the highest `seq` it holds, so answers written while it was away are
counted too. After `--replies` answers it marks them read (`read`) and exits. Each step is one JSON line on
stdout. Needs `websockets` (in requirements.txt).

    python examples/app_client.py --server http://127.0.0.1:8000 --business-line demo --say "Where is my order?"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.request
import uuid
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

TOKEN_REFUSED = 4401  # the token expired (or is forged): open a new session


def say(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


class AppChat:
    """One customer's chat as an app keeps it: the token, the conversation, the messages held, the read mark."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.token = ""
        self.visitor_token = ""
        self.conversation_id: int | None = None
        self.held: dict[int, dict[str, Any]] = {}  # seq -> message
        self.read_seq = 0
        self.replies = 0
        self.sent = False  # acknowledged
        self.sent_on: ClientConnection | None = None  # the socket it was last sent on
        self.client_msg_id = f"app-{uuid.uuid4().hex}"

    @property
    def unread(self) -> int:
        return sum(1 for seq, message in self.held.items() if message["sender"] == "agent" and seq > self.read_seq)

    def open_session(self) -> None:
        """`POST /api/widget/session/`: the customer token (and, anonymous, the visitor token to keep)."""
        body: dict[str, Any] = {"business_line": self.args.business_line, "channel": "app"}
        if self.args.external_id:
            body.update(
                external_id=self.args.external_id,
                identity_hash=self.args.identity_hash,
                identity_expires=int(self.args.identity_expires),
            )
        elif self.visitor_token:
            body["visitor_token"] = self.visitor_token
        request = urllib.request.Request(
            f"{self.args.server.rstrip('/')}/api/widget/session/",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            session = json.loads(response.read())
        self.token, self.visitor_token = session["token"], session.get("visitor_token") or ""
        say("session", customer_id=session["customer_id"])

    async def run(self) -> None:
        """Connect, converse, and on any loss reconnect with a growing pause (a new session if the token is
        refused) until the answers waited for have come."""
        self.open_session()
        delay = 0.2
        while True:
            socket_url = self.args.server.replace("http", "ws", 1).rstrip("/") + f"/ws/customer/?token={self.token}"
            code: int | None = None
            try:
                async with connect(socket_url, open_timeout=10) as socket:
                    delay = 0.2
                    await self.converse(socket)
                code = socket.close_code
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
            except (OSError, InvalidStatus, TimeoutError) as error:
                say("unreachable", error=type(error).__name__)
            if self.replies >= self.args.replies:
                return
            say("disconnected", code=code)
            if code == TOKEN_REFUSED:
                self.open_session()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def converse(self, socket: ClientConnection) -> None:
        """One socket's life: `hello`, the open conversation (or a new one), catch up, then pushes."""
        async for raw in socket:
            frame = json.loads(raw)
            kind = frame["type"]
            if kind == "hello":
                say("connected", customer_id=frame["customer_id"])
                if self.conversation_id is None:
                    await socket.send(json.dumps({"type": "conversation.start", "channel": "app", "ref": "start"}))
            elif kind == "conversation.state":
                await self.on_conversation(socket, frame["conversation"])
            elif kind == "sync.result":
                for message in frame["messages"]:
                    self.hold(message, via="sync")
                if frame["has_more"]:
                    await self.sync(socket)
            elif kind == "message.new" and frame["message"]["conversation_id"] == self.conversation_id:
                self.hold(frame["message"], via="push")
            elif kind == "message.ack":
                self.hold(frame["message"], via="ack")
            elif kind == "error":
                say("error", code=frame["code"], message=frame["message"])
            if self.replies >= self.args.replies:
                await self.mark_read(socket)
                return

    async def on_conversation(self, socket: ClientConnection, conversation: dict[str, Any]) -> None:
        if self.conversation_id not in (None, conversation["id"]):
            return
        self.conversation_id = conversation["id"]
        say("conversation", id=conversation["id"], status=conversation["status"], last_seq=conversation["last_seq"])
        if conversation["last_seq"] > max(self.held, default=0):
            await self.sync(socket)
        if not self.sent and self.sent_on is not socket:
            # Sent again with the same client_msg_id after a reconnect until acknowledged: stored once.
            self.sent_on = socket
            await socket.send(
                json.dumps(
                    {
                        "type": "message.send",
                        "conversation_id": self.conversation_id,
                        "client_msg_id": self.client_msg_id,
                        "body": self.args.say,
                    }
                )
            )

    async def sync(self, socket: ClientConnection) -> None:
        after_seq = max(self.held, default=0)
        await socket.send(json.dumps({"type": "sync", "conversation_id": self.conversation_id, "after_seq": after_seq}))

    def hold(self, message: dict[str, Any], *, via: str) -> None:
        if message["seq"] in self.held:
            return
        self.held[message["seq"]] = message
        if message.get("client_msg_id") == self.client_msg_id:
            self.sent = True
        if message["sender"] == "agent":
            self.replies += 1
        say("message", seq=message["seq"], sender=message["sender"], body=message["body"], via=via, unread=self.unread)

    async def mark_read(self, socket: ClientConnection) -> None:
        """The user looked: `read` up to the newest seq held (relayed to the agent), and the badge goes to 0."""
        self.read_seq = max(self.held, default=0)
        await socket.send(json.dumps({"type": "read", "conversation_id": self.conversation_id, "seq": self.read_seq}))
        say("read", seq=self.read_seq, unread=self.unread)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="the chat's address, e.g. http://127.0.0.1:8000")
    parser.add_argument("--business-line", required=True, help="the business line's widget key")
    parser.add_argument("--say", default="Hello from the app", help="the message to send")
    parser.add_argument("--replies", type=int, default=1, help="agent answers to wait for before marking read")
    parser.add_argument("--external-id", default="", help="your user's id, with the two fields your back end signed")
    parser.add_argument("--identity-expires", default="")
    parser.add_argument("--identity-hash", default="")
    args = parser.parse_args()
    try:
        asyncio.run(AppChat(args).run())
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
