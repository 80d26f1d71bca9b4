"""Who may do what: every REST endpoint, admin page and WebSocket frame type, for every role, asserted cell by cell.

The world: business lines L1 and L2; customer A of L1 owns the target conversation, B is another customer of L1
and C a customer of L2; the agent "assigned" (of L1) has A's conversation, "unassigned" is another agent of L1,
"other line" an agent of L2 only; a staff user who is not an agent, a supervisor (group Supervisors) and a
superuser (neither of them agents). Each role uses the credential its client holds: customers their widget token,
agents their API token (on pages, their session cookie), the other users their admin session. Socket cells change
the world, so each has its own; REST and admin cells only read it and share one.

The tables are written out literally; docs/protocol.md ("Who may do what") states the rules behind them. The
first tests check that the tables cover every route of the URL conf, every model of the admin and every frame
type of both consumers, so an endpoint, admin page or frame without a row fails here.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.apps import apps as global_apps
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Q
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient

from agents.models import Agent, ApiToken, Presence
from agents.services import api_token_issue
from chat.consumers import AgentConsumer, CustomerConsumer
from chat.models import Attachment, CloseReason, Conversation, ConversationStatus, Message, Sender
from chat.permissions import Participant
from chat.routing import websocket_application
from chat.services import attachment_upload
from cs_platform.asgi import application
from customers.models import Customer
from customers.services import customer_token_issue
from desk.models import CannedAttachment, CannedReply, CustomerNote, Label
from routing.models import BusinessLine
from routing.services import conversation_transfer
from tests.attachment_storage import attachment_storage, tiny_png
from tests.factories import (
    AgentFactory,
    BusinessLineFactory,
    ConversationFactory,
    CustomerFactory,
    MessageFactory,
    UserFactory,
)
from tests.routing.helpers import routing_keys_clear

pytestmark = pytest.mark.django_db

ANONYMOUS = "anonymous"
CUSTOMER = "customer"  # A: the target conversation is theirs
CUSTOMER_SAME_LINE = "customer_same_line"  # B
CUSTOMER_OTHER_LINE = "customer_other_line"  # C
AGENT_ASSIGNED = "agent_assigned"
AGENT_UNASSIGNED = "agent_unassigned"
AGENT_OTHER_LINE = "agent_other_line"
STAFF = "staff"
SUPERVISOR = "supervisor"
SUPERUSER = "superuser"

ROLES = (
    ANONYMOUS,
    CUSTOMER,
    CUSTOMER_SAME_LINE,
    CUSTOMER_OTHER_LINE,
    AGENT_ASSIGNED,
    AGENT_UNASSIGNED,
    AGENT_OTHER_LINE,
    STAFF,
    SUPERVISOR,
    SUPERUSER,
)
CUSTOMERS = (CUSTOMER, CUSTOMER_SAME_LINE, CUSTOMER_OTHER_LINE)
AGENTS = (AGENT_ASSIGNED, AGENT_UNASSIGNED, AGENT_OTHER_LINE)
USERS = (STAFF, SUPERVISOR, SUPERUSER)

# REST and admin answers: the status, and the error's `code` for JSON errors.
R200 = "200"
R201 = "201"
R204 = "204"
R302 = "302 login"  # redirected to the admin's login page
R302_BACK = "302 /"  # the language switch: back to the page it came from (here none: the demo site)
R400 = "400 invalid_credentials"
R401 = "401 not_authenticated"  # no credential
R401_BAD = "401 authentication_failed"  # a credential REST does not know (a widget token is none of its)
R401_PLAIN = "401"  # the same refusal from the schema and its docs, which answer in their own format
R403 = "403"  # a page refusing a signed-in user
R403_AGENT = "403 not_an_agent"
R403_SUPERVISOR = "403 not_a_supervisor"
R403_DENIED = "403 permission_denied"
R403_IP = "403 forbidden"  # the metrics' refusal: it goes by the caller's address, not their role
R404 = "404 not_found"
R403_NO_LINK = "403 forbidden"  # an attachment asked for without a token and without its link's `sig`

# (method, route as in the URL conf): the answer per role, in the order of ROLES.
REST_MATRIX: dict[tuple[str, str], tuple[str, ...]] = {
    #    anonymous   A           B           C           assigned    unassigned  other line
    #                                                                           staff       supervisor  superuser
    # Asked from an address outside METRICS_ALLOWED_IPS: metrics open to an address or the scraper's token, to no role
    ("GET", "metrics"): (R403_IP, R403_IP, R403_IP, R403_IP, R403_IP, R403_IP, R403_IP, R403_IP, R403_IP, R403_IP),
    ("GET", "healthz"): (R200, R200, R200, R200, R200, R200, R200, R200, R200, R200),
    ("GET", "api/schema/"): (R200, R401_PLAIN, R401_PLAIN, R401_PLAIN, R200, R200, R200, R200, R200, R200),
    ("GET", "api/docs/"): (R200, R401_PLAIN, R401_PLAIN, R401_PLAIN, R200, R200, R200, R200, R200, R200),
    # Customers resume their own session with their visitor token; C's token is of L2, so at L1 it makes a new one
    ("POST", "api/widget/session/"): (R201, R200, R200, R201, R201, R201, R201, R201, R201, R201),
    ("OPTIONS", "api/widget/session/"): (R204, R204, R204, R204, R204, R204, R204, R204, R204, R204),
    # Supervisors and superusers get a token too (`agent_id` null); a staff user who is neither does not
    ("POST", "api/auth/token/"): (R400, R400, R400, R400, R200, R200, R200, R403_AGENT, R200, R200),
    ("GET", "api/customers/<int:customer_id>/conversations/"): (
        R401,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R200,
        R200,
        R404,
        R403_AGENT,
        R403_AGENT,
        R403_AGENT,
    ),
    ("GET", "api/conversations/<int:conversation_id>/messages/"): (
        R401,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R200,
        R200,
        R404,
        R403_AGENT,
        R403_AGENT,
        R403_AGENT,
    ),
    # The transfer picker: agents of the conversation's line, like its messages
    ("GET", "api/conversations/<int:conversation_id>/transfer-targets/"): (
        R401,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R200,
        R200,
        R404,
        R403_AGENT,
        R403_AGENT,
        R403_AGENT,
    ),
    # Every agent reads their own closed conversations (the workbench's "closed today"): nobody else's
    ("GET", "api/conversations/closed/"): (
        R401,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R200,
        R200,
        R200,
        R403_AGENT,
        R403_AGENT,
        R403_AGENT,
    ),
    # Whoever may write to the conversation: its customer, its assigned agent (token, or the workbench's session).
    ("POST", "api/conversations/<int:conversation_id>/attachments/"): (
        R401,
        R201,
        R404,
        R404,
        R201,
        "403 not_assigned",
        R404,
        R403_AGENT,
        R403_AGENT,
        R403_AGENT,
    ),
    # Its customer only (widget token), once it has ended: A's target is active, so even A is refused.
    ("POST", "api/conversations/<int:conversation_id>/transcript/email/"): (
        R401,
        "409 conversation_open",
        R404,
        R404,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R401,
        R401,
        R401,
    ),
    # Asked without the link's `sig`: a token of the conversation's customer or an agent of its line, else refused.
    ("GET", "api/attachments/<int:attachment_id>/download/"): (
        R403_NO_LINK,
        R200,
        R404,
        R404,
        R200,
        R200,
        R404,
        R403_NO_LINK,
        R403_NO_LINK,
        R403_NO_LINK,
    ),
    ("GET", "api/attachments/<int:attachment_id>/thumbnail/"): (
        R403_NO_LINK,
        R200,
        R404,
        R404,
        R200,
        R200,
        R404,
        R403_NO_LINK,
        R403_NO_LINK,
        R403_NO_LINK,
    ),
    # Supervisors' reports and monitor: a customer's widget token is recognised, to be refused as a customer's
    ("GET", "api/reports/summary/"): (
        R401,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R200,
        R200,
    ),
    ("GET", "api/reports/conversations/"): (
        R401,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R200,
        R200,
    ),
    ("GET", "api/monitor/"): (
        R401,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R403_SUPERVISOR,
        R200,
        R200,
    ),
    # The workbench's tools (desk/): agents of the conversation's or customer's line; search answers every agent
    # (another line's finds nothing of L1). Canned replies: agents and supervisors; a line's reply is the
    # supervisors' to change, a personal one its agent's (a supervisor who is no agent has none).
    ("GET", "api/canned-replies/"): (R401, R401_BAD, R401_BAD, R401_BAD, R200, R200, R200, R403_AGENT, R200, R200),
    ("POST", "api/canned-replies/"): (
        R401,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R201,
        R201,
        R201,
        R403_AGENT,
        R403_AGENT,
        R403_AGENT,
    ),
    ("PATCH", "api/canned-replies/<int:reply_id>/"): (
        R401,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R403_DENIED,
        R403_DENIED,
        R404,
        R403_AGENT,
        R200,
        R200,
    ),
    ("DELETE", "api/canned-replies/<int:reply_id>/"): (
        R401,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R403_DENIED,
        R403_DENIED,
        R404,
        R403_AGENT,
        R204,
        R204,
    ),
    ("POST", "api/canned-replies/<int:reply_id>/attachments/"): (
        R401,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R403_DENIED,
        R403_DENIED,
        R404,
        R403_AGENT,
        R201,
        R201,
    ),
    # A line's reply, used in A's conversation: like an upload of the agent's there.
    ("POST", "api/canned-replies/<int:reply_id>/use/"): (
        R401,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R201,
        "403 not_assigned",
        R404,
        R403_AGENT,
        R403_AGENT,
        R403_AGENT,
    ),
    ("GET", "api/conversations/<int:conversation_id>/labels/"): (
        R401,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R200,
        R200,
        R404,
        R403_AGENT,
        R403_AGENT,
        R403_AGENT,
    ),
    ("PUT", "api/conversations/<int:conversation_id>/labels/"): (
        R401,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R200,
        R200,
        R404,
        R403_AGENT,
        R403_AGENT,
        R403_AGENT,
    ),
    ("GET", "api/customers/<int:customer_id>/notes/"): (
        R401,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R200,
        R200,
        R404,
        R403_AGENT,
        R403_AGENT,
        R403_AGENT,
    ),
    ("POST", "api/customers/<int:customer_id>/notes/"): (
        R401,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R201,
        R201,
        R404,
        R403_AGENT,
        R403_AGENT,
        R403_AGENT,
    ),
    # A note of the assigned agent's: its author changes or removes it; a colleague of the line may not.
    ("PATCH", "api/customers/<int:customer_id>/notes/<int:note_id>/"): (
        R401,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R200,
        R403_DENIED,
        R404,
        R403_AGENT,
        R403_AGENT,
        R403_AGENT,
    ),
    ("DELETE", "api/customers/<int:customer_id>/notes/<int:note_id>/"): (
        R401,
        R401_BAD,
        R401_BAD,
        R401_BAD,
        R204,
        R403_DENIED,
        R404,
        R403_AGENT,
        R403_AGENT,
        R403_AGENT,
    ),
    ("GET", "api/search/"): (R401, R401_BAD, R401_BAD, R401_BAD, R200, R200, R200, R403_AGENT, R403_AGENT, R403_AGENT),
    ("GET", "workbench/"): (R302, R302, R302, R302, R200, R200, R200, R403, R403, R403),
    ("GET", "admin/monitor/"): (R302, R302, R302, R302, R403, R403, R403, R403, R200, R200),
    ("GET", "admin/reports/"): (R302, R302, R302, R302, R403, R403, R403, R403, R200, R200),
    ("GET", ""): (R200, R200, R200, R200, R200, R200, R200, R200, R200, R200),
    ("GET", "chat/"): (R200, R200, R200, R200, R200, R200, R200, R200, R200, R200),
    ("GET", "h5/"): (R200, R200, R200, R200, R200, R200, R200, R200, R200, R200),
    # The JavaScript strings' translations and the language switch (a cookie): the same for everyone
    ("GET", "jsi18n/"): (R200, R200, R200, R200, R200, R200, R200, R200, R200, R200),
    ("POST", "i18n/setlang/"): (
        R302_BACK,
        R302_BACK,
        R302_BACK,
        R302_BACK,
        R302_BACK,
        R302_BACK,
        R302_BACK,
        R302_BACK,
        R302_BACK,
        R302_BACK,
    ),
}

# The admin (`admin/`): each registered model's list, and a transcript (A's conversation). Agents are staff users
# (they sign in through the admin's login page for the workbench) with no model permission.
ADMIN_MATRIX: dict[str, tuple[str, ...]] = {
    #                        anonymous A     B     C     assigned unassigned other line staff supervisor superuser
    "auth.Group": (R302, R302, R302, R302, R403, R403, R403, R403, R403, R200),
    "auth.User": (R302, R302, R302, R302, R403, R403, R403, R403, R403, R200),
    "agents.ApiToken": (R302, R302, R302, R302, R403, R403, R403, R403, R403, R200),
    "routing.BusinessLine": (R302, R302, R302, R302, R403, R403, R403, R403, R200, R200),
    "customers.Customer": (R302, R302, R302, R302, R403, R403, R403, R403, R200, R200),
    "agents.Agent": (R302, R302, R302, R302, R403, R403, R403, R403, R200, R200),
    "chat.Conversation": (R302, R302, R302, R302, R403, R403, R403, R403, R200, R200),
    "chat.Conversation transcript": (R302, R302, R302, R302, R403, R403, R403, R403, R200, R200),
    "desk.CannedReply": (R302, R302, R302, R302, R403, R403, R403, R403, R200, R200),
    "desk.Label": (R302, R302, R302, R302, R403, R403, R403, R403, R200, R200),
    # Who read and exported transcripts is not the supervisors' to see
    "audit.AuditEntry": (R302, R302, R302, R302, R403, R403, R403, R403, R403, R200),
}

# The admin's own actions (Django's `delete_selected` follows the delete permission, which only superusers hold
# here), posted on the list with one row: A's conversation to export, B (who has none open) to erase.
DONE = "done"  # the transcripts' CSV; the customer erased
NOT_OFFERED = "not offered"  # the list again, nothing done: the user is not offered the action
ADMIN_ACTIONS_MATRIX: dict[str, tuple[str, ...]] = {
    #                                      anonymous A     B     C     assigned unassigned other line
    #                                                                                  staff supervisor  superuser
    "chat.Conversation export_transcripts": (R302, R302, R302, R302, R403, R403, R403, R403, DONE, DONE),
    "customers.Customer erase_customers": (R302, R302, R302, R302, R403, R403, R403, R403, NOT_OFFERED, DONE),
}

# Frame answers: the direct reply's type, `relayed` (typing and read have no reply: the other side got it), an
# error frame's code, or the socket refused at connect (the frame never handled).
ACK = "message.ack"
SYNC_RESULT = "sync.result"
RELAYED = "relayed"
STATE = "conversation.state"
PONG = "pong"
RATED = "conversation.rated"
PRESENCE = "presence.state"
ASSIGNED = "conversation.assigned"
ANSWERED = "conversation.answered"
NOT_FOUND = "error not_found"
NOT_ASSIGNED = "error not_assigned"
UNKNOWN_TYPE = "error unknown_type"
REFUSED = "closed 4401 unauthenticated"
NOT_SUPERVISOR = "closed 4403 not_a_supervisor"
HELLO = "hello"
CONTEXT_SAVED = "customer.context.saved"

FRAME_MATRIX: dict[str, tuple[str, ...]] = {
    #                              anonymous A             B             C
    #                                        assigned      unassigned    other line    staff    supervisor superuser
    "message.send": (REFUSED, ACK, NOT_FOUND, NOT_FOUND, ACK, NOT_ASSIGNED, NOT_FOUND, REFUSED, REFUSED, REFUSED),
    "sync": (
        REFUSED,
        SYNC_RESULT,
        NOT_FOUND,
        NOT_FOUND,
        SYNC_RESULT,
        SYNC_RESULT,
        NOT_FOUND,
        REFUSED,
        REFUSED,
        REFUSED,
    ),
    "typing": (REFUSED, RELAYED, NOT_FOUND, NOT_FOUND, RELAYED, NOT_ASSIGNED, NOT_FOUND, REFUSED, REFUSED, REFUSED),
    "read": (REFUSED, RELAYED, NOT_FOUND, NOT_FOUND, RELAYED, NOT_ASSIGNED, NOT_FOUND, REFUSED, REFUSED, REFUSED),
    "conversation.close": (
        REFUSED,
        STATE,
        NOT_FOUND,
        NOT_FOUND,
        STATE,
        NOT_ASSIGNED,
        NOT_FOUND,
        REFUSED,
        REFUSED,
        REFUSED,
    ),
    "ping": (REFUSED, PONG, PONG, PONG, PONG, PONG, PONG, REFUSED, REFUSED, REFUSED),
    "conversation.start": (
        REFUSED,
        STATE,
        STATE,
        STATE,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        REFUSED,
        REFUSED,
        REFUSED,
    ),
    "conversation.leave_message": (
        REFUSED,
        STATE,
        STATE,
        STATE,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        REFUSED,
        REFUSED,
        REFUSED,
    ),
    "conversation.rate": (
        REFUSED,
        RATED,
        NOT_FOUND,
        NOT_FOUND,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        REFUSED,
        REFUSED,
        REFUSED,
    ),
    "customer.context": (
        REFUSED,
        CONTEXT_SAVED,
        CONTEXT_SAVED,
        CONTEXT_SAVED,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        REFUSED,
        REFUSED,
        REFUSED,
    ),
    "presence.set": (
        REFUSED,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        PRESENCE,
        PRESENCE,
        PRESENCE,
        REFUSED,
        REFUSED,
        REFUSED,
    ),
    "conversation.transfer": (
        REFUSED,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        STATE,
        NOT_ASSIGNED,
        NOT_FOUND,
        REFUSED,
        REFUSED,
        REFUSED,
    ),
    # A missed conversation has no agent: both agents of L1 may pick it.
    "conversation.pick": (
        REFUSED,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        ASSIGNED,
        ASSIGNED,
        NOT_FOUND,
        REFUSED,
        REFUSED,
        REFUSED,
    ),
    # ... or answer it from the missed list, whatever their load.
    "conversation.answer": (
        REFUSED,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        UNKNOWN_TYPE,
        ANSWERED,
        ANSWERED,
        NOT_FOUND,
        REFUSED,
        REFUSED,
        REFUSED,
    ),
}

# Opening a socket with the role's credential: customers `?token=` with their widget token, agents `?token=` with
# their API token, the other users their admin session cookie, anonymous nothing.
SOCKET_MATRIX: dict[str, tuple[str, ...]] = {
    #                 anonymous, A, B, C; agents assigned, unassigned, of another line; staff, supervisor, superuser
    "/ws/customer/": (REFUSED, HELLO, HELLO, HELLO, REFUSED, REFUSED, REFUSED, REFUSED, REFUSED, REFUSED),
    "/ws/agent/": (REFUSED, REFUSED, REFUSED, REFUSED, HELLO, HELLO, HELLO, REFUSED, REFUSED, REFUSED),
    "/ws/supervisor/": (
        REFUSED,
        NOT_SUPERVISOR,
        NOT_SUPERVISOR,
        NOT_SUPERVISOR,
        NOT_SUPERVISOR,
        NOT_SUPERVISOR,
        NOT_SUPERVISOR,
        NOT_SUPERVISOR,
        HELLO,
        HELLO,
    ),
}

ALLOWED_FRAME_ANSWERS = {ACK, SYNC_RESULT, RELAYED, STATE, PONG, RATED, PRESENCE, ASSIGNED, ANSWERED, CONTEXT_SAVED}
OWN_SITE = "http://testserver"


# The world of one cell


@dataclass
class World:
    line: BusinessLine
    other_line: BusinessLine
    customers: dict[str, Customer]
    agents: dict[str, Agent]
    users: dict[str, Any]
    conversation: Conversation | None
    session_keys: list[str] = field(default_factory=list)
    api_tokens: dict[str, str] = field(default_factory=dict)

    def user(self, role: str) -> Any:
        return self.agents[role].user if role in AGENTS else self.users[role]

    def widget_token(self, role: str) -> str:
        return customer_token_issue(customer=self.customers[role])

    def api_token(self, role: str) -> str:
        """An agent's API token from its login (`build_world`, committed with the world); another user's issued
        when asked, in the asking test's transaction (as an admin might have made one)."""
        return self.api_tokens[role] if role in self.api_tokens else api_token_issue(user=self.user(role))

    def session_cookie(self, role: str) -> str:
        browser = Client()
        browser.force_login(self.user(role))
        key = browser.cookies[settings.SESSION_COOKIE_NAME].value
        self.session_keys.append(key)
        return key


def worlds_delete(worlds: list[World]) -> None:
    """Committed worlds go at the end, children first (the keys protect): conversations (with their messages),
    customers, users (with their agents and tokens), sessions, business lines."""
    lines = [line.pk for world in worlds for line in (world.line, world.other_line)]
    Conversation.objects.filter(Q(business_line__in=lines) | Q(customer__business_line__in=lines)).delete()
    Customer.objects.filter(business_line__in=lines).delete()
    get_user_model().objects.filter(
        pk__in=[world.user(role).pk for world in worlds for role in [*world.agents, *world.users]]
    ).delete()
    Session.objects.filter(session_key__in=[key for world in worlds for key in world.session_keys]).delete()
    BusinessLine.objects.filter(pk__in=lines).delete()


def supervisors_group() -> Group:
    """The group the data migration creates (a transactional test's flush elsewhere in the run may have removed it)."""
    group = Group.objects.filter(name="Supervisors").first()
    if group is None:
        migration = importlib.import_module("chat.migrations.0002_supervisors_group")
        migration.create_supervisors_group(global_apps, SimpleNamespace(connection=connection))
        group = Group.objects.get(name="Supervisors")
    return group


def build_world(*, target: str | None, roles: tuple[str, ...] = ROLES, agents_online: bool = False) -> World:
    """The lines and people of the module docstring (A and the assigned agent always; others only when among
    `roles`, to keep socket cells quick), and A's conversation in the `target` status (None: no conversation)."""
    line, other_line = BusinessLineFactory(), BusinessLineFactory()
    wanted = {CUSTOMER, AGENT_ASSIGNED, *roles}
    presence = Presence.ONLINE if agents_online else Presence.OFFLINE
    agent_lines = {AGENT_ASSIGNED: line, AGENT_UNASSIGNED: line, AGENT_OTHER_LINE: other_line}
    agents = {
        role: AgentFactory(business_lines=[agent_lines[role]], presence=presence, capacity=10, user__is_staff=True)
        for role in AGENTS
        if role in wanted
    }
    api_tokens = {role: api_token_issue(user=agent.user) for role, agent in agents.items()}  # as a login leaves it
    customer_lines = {CUSTOMER: line, CUSTOMER_SAME_LINE: line, CUSTOMER_OTHER_LINE: other_line}
    customers = {role: CustomerFactory(business_line=customer_lines[role]) for role in CUSTOMERS if role in wanted}
    users = {role: UserFactory(is_staff=True, is_superuser=role == SUPERUSER) for role in USERS if role in wanted}
    if SUPERVISOR in users:
        users[SUPERVISOR].groups.add(supervisors_group())
    conversation = None
    if target is not None:
        now = timezone.now()
        assigned = {"agent": agents[AGENT_ASSIGNED], "assigned_at": now}
        fields = {
            ConversationStatus.WAITING: {},
            ConversationStatus.ACTIVE: assigned,
            ConversationStatus.CLOSED: {**assigned, "closed_at": now, "close_reason": CloseReason.CUSTOMER},
            ConversationStatus.MISSED: {"closed_at": now, "close_reason": CloseReason.WAIT_TIMEOUT},
        }[target]
        conversation = ConversationFactory(
            customer=customers[CUSTOMER], status=target, last_seq=1, last_customer_message_at=now, **fields
        )
        MessageFactory(conversation=conversation, seq=1, sender=Sender.CUSTOMER, body="Where is my parcel?")
    return World(line, other_line, customers, agents, users, conversation, api_tokens=api_tokens)


def world_state(world: World) -> dict[str, Any]:
    """What a refused request must leave as it was: the world's conversations, messages, customers and agents."""
    customer_ids = [customer.pk for customer in world.customers.values()]
    conversations = Conversation.objects.filter(customer_id__in=customer_ids)
    return {
        "conversations": list(
            conversations.order_by("id").values(
                "id", "status", "agent_id", "business_line_id", "last_seq", "closed_at", "rating", "rating_comment"
            )
        ),
        "messages": Message.objects.filter(conversation__in=conversations).count(),
        "customers": list(Customer.objects.filter(id__in=customer_ids).order_by("id").values("id", "name", "email")),
        "agents": list(Agent.objects.filter(id__in=[a.pk for a in world.agents.values()]).values("id", "presence")),
        "tokens": ApiToken.objects.filter(
            user__in=[world.user(role) for role in [*world.agents, *world.users]]
        ).count(),
    }


@pytest.fixture(scope="module")
def committed_worlds(django_db_setup, django_db_blocker) -> Iterator[list[World]]:
    """Worlds committed outside the tests' transactions, deleted when the module is done (with this run's routing
    keys). Deleting them at the end, rather than flushing the database after each cell as `transaction=True` does,
    keeps some 400 cells within a minute."""
    worlds: list[World] = []
    yield worlds
    with django_db_blocker.unblock():
        worlds_delete(worlds)
    routing_keys_clear()


@pytest.fixture(scope="module")
def shared_world(committed_worlds, django_db_blocker) -> World:
    """REST and admin cells only read the world: they share one. What a cell writes (a session, a new customer) is
    written in its test's transaction and rolled back."""
    with django_db_blocker.unblock():
        committed_worlds.append(build_world(target=ConversationStatus.ACTIVE))
    return committed_worlds[-1]


@pytest.fixture
def cell_world(committed_worlds) -> Callable[..., Awaitable[World]]:
    """Socket cells change the world, so each builds its own. Sockets read the database in Channels' database
    thread, so the world is committed from that thread: the test's own transaction would hide it from them."""

    async def build(**options: Any) -> World:
        committed_worlds.append(await database_sync_to_async(build_world)(**options))
        return committed_worlds[-1]

    return build


# The tables cover everything there is


def url_routes() -> dict[str, URLPattern]:
    """Every route of the URL conf, outside the admin (its pages are the admin table's), by its full pattern."""
    routes: dict[str, URLPattern] = {}

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if pattern.app_name != "admin":
                    walk(pattern.url_patterns, route)
            else:
                routes[route] = pattern

    walk(get_resolver().url_patterns, "")
    return routes


def class_view_methods(pattern: URLPattern) -> set[str] | None:
    """The methods a class-based view serves (OPTIONS only when it answers it itself); None for a function view."""
    view_class = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
    if view_class is None:
        return None
    own_options = any(
        "options" in vars(klass)
        for klass in view_class.__mro__
        if klass.__module__.split(".")[0] not in ("django", "rest_framework")
    )
    return {
        method.upper()
        for method in view_class.http_method_names
        if hasattr(view_class, method) and (method != "options" or own_options)
    }


def test_the_rest_table_has_every_route_and_method_of_the_url_conf():
    routes = url_routes()
    assert {route for _, route in REST_MATRIX} == set(routes)
    for route, pattern in routes.items():
        served = class_view_methods(pattern)
        if served is not None:
            assert {method for method, table_route in REST_MATRIX if table_route == route} == served, route
    assert set(REQUESTS) == set(REST_MATRIX)


@pytest.mark.parametrize(
    "route", [route for route, pattern in url_routes().items() if class_view_methods(pattern) is None]
)
def test_function_views_serve_only_the_methods_of_the_table(client, route):
    """A function view's methods are in its decorators, not its attributes: every other method must answer 405."""
    listed = {method for method, table_route in REST_MATRIX if table_route == route}
    for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - listed:
        assert client.generic(method, f"/{route}").status_code == 405, (method, route)


def test_the_admin_tables_have_every_model_and_action_of_the_admin():
    registered = {model._meta.label for model in admin.site._registry}
    assert {key.split(" ")[0] for key in ADMIN_MATRIX} == registered
    actions = {
        f"{model._meta.label} {action}"
        for model, model_admin in admin.site._registry.items()
        for action in model_admin.actions or []
    }
    assert set(ADMIN_ACTIONS_MATRIX) == actions


def test_the_frame_table_has_every_frame_type_of_both_sockets():
    assert set(FRAME_MATRIX) == set(CustomerConsumer().handlers()) | set(AgentConsumer().handlers())
    assert set(FRAMES) == set(FRAME_MATRIX)


def test_the_socket_table_has_every_websocket_route():
    assert set(SOCKET_MATRIX) == {f"/{route.pattern}" for route in websocket_application.routes}


def test_every_row_has_a_cell_per_role():
    for table in (REST_MATRIX, ADMIN_MATRIX, ADMIN_ACTIONS_MATRIX, FRAME_MATRIX, SOCKET_MATRIX):
        assert {key: len(row) for key, row in table.items()} == dict.fromkeys(table, len(ROLES))


# REST


def rest_outcome(response) -> str:
    if response.status_code == 302:
        location = response["Location"]
        return R302 if location.startswith(settings.LOGIN_URL) else f"302 {location}"
    if response.status_code >= 400 and response.get("Content-Type", "").startswith("application/json"):
        return f"{response.status_code} {response.json()['code']}"
    return str(response.status_code)


def widget_session_body(world: World, role: str) -> dict[str, Any]:
    """Customers resume their own session (their visitor token); anyone else opens a new one."""
    body = {"business_line": world.line.key, "channel": "web"}
    if role in CUSTOMERS:
        body["visitor_token"] = world.customers[role].visitor_token
    return body


def auth_token_body(world: World, role: str) -> dict[str, Any]:
    """Users ask with their own password; anonymous callers and customers have none to give."""
    username = world.user(role).username if role in AGENTS + USERS else "nobody"
    return {"username": username, "password": "pw"}


PDF = b"%PDF-1.7\n%%EOF\n"


def customer_upload(world: World, file: SimpleUploadedFile | None = None) -> Attachment:
    """A file A uploaded to their conversation (in the cell's transaction, rolled back after it)."""
    return attachment_upload(
        participant=Participant(kind="customer", id=world.customers[CUSTOMER].pk),
        conversation_id=world.conversation.pk,
        upload=file or SimpleUploadedFile("a.pdf", PDF),
    )


@pytest.fixture(autouse=True)
def _attachment_files_in_a_temporary_folder(attachment_storage, monkeypatch):
    monkeypatch.setattr(
        CannedAttachment._meta.get_field("file"), "storage", FileSystemStorage(location=str(attachment_storage))
    )
    return attachment_storage


def report_page_query(world: World) -> str:
    """The reports page over yesterday and today (UTC days, local dates of the page)."""
    today = timezone.now().date()
    return urlencode(
        {
            "business_line": world.line.key,
            "since": str(today - timedelta(days=1)),
            "until": str(today + timedelta(days=1)),
        }
    )


def report_query(world: World) -> str:
    """The reports over the last day of the target's business line."""
    until = timezone.now() + timedelta(minutes=1)
    return urlencode(
        {"business_line": world.line.key, "since": (until - timedelta(days=1)).isoformat(), "until": until.isoformat()}
    )


def line_reply(world: World) -> CannedReply:
    """A canned reply of L1 (in the cell's transaction, rolled back after it)."""
    return CannedReply.objects.create(business_line=world.line, shortcut="hi", title="Hello", body="Hello!")


def assigned_agents_note(world: World) -> CustomerNote:
    """A note of the assigned agent's about A (in the cell's transaction, rolled back after it)."""
    return CustomerNote.objects.create(
        customer=world.customers[CUSTOMER], author=world.agents[AGENT_ASSIGNED], body="Prefers email."
    )


# (method, route): how the cell's request is made, (path, JSON body or None), given the world and the role.
REQUESTS: dict[tuple[str, str], Callable[[World, str], tuple[str, dict[str, Any] | None]]] = {
    ("GET", "metrics"): lambda world, role: ("/metrics", None),
    ("GET", "healthz"): lambda world, role: ("/healthz", None),
    ("GET", "api/schema/"): lambda world, role: ("/api/schema/", None),
    ("GET", "api/docs/"): lambda world, role: ("/api/docs/", None),
    ("POST", "api/widget/session/"): lambda world, role: ("/api/widget/session/", widget_session_body(world, role)),
    ("OPTIONS", "api/widget/session/"): lambda world, role: ("/api/widget/session/", None),
    ("POST", "api/auth/token/"): lambda world, role: ("/api/auth/token/", auth_token_body(world, role)),
    ("GET", "api/customers/<int:customer_id>/conversations/"): lambda world, role: (
        f"/api/customers/{world.customers[CUSTOMER].pk}/conversations/",
        None,
    ),
    ("GET", "api/conversations/<int:conversation_id>/messages/"): lambda world, role: (
        f"/api/conversations/{world.conversation.pk}/messages/",
        None,
    ),
    ("GET", "api/conversations/<int:conversation_id>/transfer-targets/"): lambda world, role: (
        f"/api/conversations/{world.conversation.pk}/transfer-targets/",
        None,
    ),
    ("GET", "api/conversations/closed/"): lambda world, role: (
        f"/api/conversations/closed/?{urlencode({'since': (timezone.now() - timedelta(days=1)).isoformat()})}",
        None,
    ),
    ("POST", "api/conversations/<int:conversation_id>/attachments/"): lambda world, role: (
        f"/api/conversations/{world.conversation.pk}/attachments/",
        SimpleUploadedFile("a.pdf", PDF),
    ),
    ("POST", "api/conversations/<int:conversation_id>/transcript/email/"): lambda world, role: (
        f"/api/conversations/{world.conversation.pk}/transcript/email/",
        {"email": "a@example.com"},
    ),
    ("GET", "api/attachments/<int:attachment_id>/download/"): lambda world, role: (
        f"/api/attachments/{customer_upload(world).pk}/download/",
        None,
    ),
    ("GET", "api/attachments/<int:attachment_id>/thumbnail/"): lambda world, role: (
        f"/api/attachments/{customer_upload(world, SimpleUploadedFile('a.png', tiny_png())).pk}/thumbnail/",
        None,
    ),
    ("GET", "api/reports/summary/"): lambda world, role: (f"/api/reports/summary/?{report_query(world)}", None),
    ("GET", "api/reports/conversations/"): lambda world, role: (
        f"/api/reports/conversations/?{report_query(world)}",
        None,
    ),
    ("GET", "api/monitor/"): lambda world, role: (f"/api/monitor/?business_line={world.line.key}", None),
    ("GET", "api/canned-replies/"): lambda world, role: ("/api/canned-replies/?q=hi", None),
    ("POST", "api/canned-replies/"): lambda world, role: (
        "/api/canned-replies/",
        {"shortcut": "hi", "title": "Hello", "body": "Hello {customer.name}!"},
    ),
    ("PATCH", "api/canned-replies/<int:reply_id>/"): lambda world, role: (
        f"/api/canned-replies/{line_reply(world).pk}/",
        {"body": "Changed"},
    ),
    ("DELETE", "api/canned-replies/<int:reply_id>/"): lambda world, role: (
        f"/api/canned-replies/{line_reply(world).pk}/",
        None,
    ),
    ("POST", "api/canned-replies/<int:reply_id>/attachments/"): lambda world, role: (
        f"/api/canned-replies/{line_reply(world).pk}/attachments/",
        SimpleUploadedFile("a.pdf", PDF),
    ),
    ("POST", "api/canned-replies/<int:reply_id>/use/"): lambda world, role: (
        f"/api/canned-replies/{line_reply(world).pk}/use/",
        {"conversation_id": world.conversation.pk},
    ),
    ("GET", "api/conversations/<int:conversation_id>/labels/"): lambda world, role: (
        f"/api/conversations/{world.conversation.pk}/labels/",
        None,
    ),
    ("PUT", "api/conversations/<int:conversation_id>/labels/"): lambda world, role: (
        f"/api/conversations/{world.conversation.pk}/labels/",
        {"label_ids": [Label.objects.create(business_line=world.line, name="refund").pk]},
    ),
    ("GET", "api/customers/<int:customer_id>/notes/"): lambda world, role: (
        f"/api/customers/{world.customers[CUSTOMER].pk}/notes/",
        None,
    ),
    ("POST", "api/customers/<int:customer_id>/notes/"): lambda world, role: (
        f"/api/customers/{world.customers[CUSTOMER].pk}/notes/",
        {"body": "Prefers email."},
    ),
    ("PATCH", "api/customers/<int:customer_id>/notes/<int:note_id>/"): lambda world, role: (
        f"/api/customers/{world.customers[CUSTOMER].pk}/notes/{assigned_agents_note(world).pk}/",
        {"body": "Prefers the phone."},
    ),
    ("DELETE", "api/customers/<int:customer_id>/notes/<int:note_id>/"): lambda world, role: (
        f"/api/customers/{world.customers[CUSTOMER].pk}/notes/{assigned_agents_note(world).pk}/",
        None,
    ),
    ("GET", "api/search/"): lambda world, role: ("/api/search/?q=parcel", None),
    ("GET", "workbench/"): lambda world, role: ("/workbench/", None),
    ("GET", "admin/monitor/"): lambda world, role: ("/admin/monitor/", None),
    ("GET", "admin/reports/"): lambda world, role: (f"/admin/reports/?{report_page_query(world)}", None),
    ("GET", ""): lambda world, role: ("/", None),
    ("GET", "chat/"): lambda world, role: (f"/chat/?business_line={world.line.key}", None),
    ("GET", "h5/"): lambda world, role: (f"/h5/?business_line={world.line.key}", None),
    ("GET", "jsi18n/"): lambda world, role: ("/jsi18n/?lang=zh-hans", None),
    ("POST", "i18n/setlang/"): lambda world, role: ("/i18n/setlang/", {"language": "zh-hans"}),
}


OUTSIDE_ADDRESS = "203.0.113.7"  # not among METRICS_ALLOWED_IPS


def natural_credential(role: str, route: str) -> str:
    """What the role's client sends: see the module docstring."""
    if role == ANONYMOUS:
        return "none"
    if role in CUSTOMERS or (role in AGENTS and route.startswith("api/")):
        return "header_token"
    return "session"


def rest_call(world: World, role: str, method: str, route: str, credential: str) -> str:
    path, body = REQUESTS[(method, route)](world, role)
    api = APIClient()
    if credential in ("header_token", "query_token"):
        token = world.widget_token(role) if role in CUSTOMERS else world.api_token(role)
        if credential == "header_token":
            api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        else:
            path += f"{'&' if '?' in path else '?'}token={token}"
    elif credential == "session":
        api.force_login(world.user(role))
    if isinstance(body, SimpleUploadedFile):
        return rest_outcome(api.post(path, {"file": body}, format="multipart"))
    response = api.generic(
        method,
        path,
        json.dumps(body) if body is not None else "",
        content_type="application/json",
        REMOTE_ADDR=OUTSIDE_ADDRESS if route == "metrics" else "127.0.0.1",
    )
    return rest_outcome(response)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method, route", list(REST_MATRIX))
def test_rest_matrix(shared_world, method, route, role):
    # Given the world, with A's conversation active and assigned
    world = shared_world
    before = world_state(world)
    # When the role calls the endpoint with its credential
    outcome = rest_call(world, role, method, route, natural_credential(role, route))
    # Then the answer is the table's; a refusal changed nothing
    assert outcome == REST_MATRIX[(method, route)][ROLES.index(role)]
    if int(outcome[:3]) >= 300:
        assert world_state(world) == before


def authenticates(route: str) -> bool:
    """Whether the route's view asks who is calling (and so which credential is used matters)."""
    view_class = getattr(url_routes()[route].callback, "cls", None)
    return view_class is not None and any(permission is not AllowAny for permission in view_class.permission_classes)


ALTERNATIVE_CREDENTIALS = (
    [(role, "query_token") for role in CUSTOMERS]
    + [(role, credential) for role in AGENTS for credential in ("query_token", "session")]
    + [(role, credential) for role in USERS for credential in ("header_token", "query_token")]
)


@pytest.mark.parametrize("role, credential", ALTERNATIVE_CREDENTIALS)
@pytest.mark.parametrize("method, route", [key for key in REST_MATRIX if authenticates(key[1])])
def test_rest_matrix_holds_for_every_credential_of_a_role(shared_world, method, route, role, credential):
    """Agents also use `?token=` and their session; a user who is not an agent may hold a token an admin made."""
    world = shared_world
    assert rest_call(world, role, method, route, credential) == REST_MATRIX[(method, route)][ROLES.index(role)]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(ADMIN_MATRIX))
def test_admin_matrix(shared_world, page, role):
    world = shared_world
    model = global_apps.get_model(page.split(" ")[0])
    view = "change" if page.endswith("transcript") else "changelist"
    args = [world.conversation.pk] if view == "change" else []
    path = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)
    assert rest_outcome(admin_client(world, role).get(path)) == ADMIN_MATRIX[page][ROLES.index(role)]


def admin_client(world: World, role: str) -> APIClient:
    """Customers send their widget token, which the admin ignores; users their session."""
    api = APIClient()
    if role in CUSTOMERS:
        api.credentials(HTTP_AUTHORIZATION=f"Token {world.widget_token(role)}")
    elif role != ANONYMOUS:
        api.force_login(world.user(role))
    return api


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(ADMIN_ACTIONS_MATRIX))
def test_admin_actions_matrix(shared_world, action, role):
    # Given the row the action is for
    label, name = action.split(" ")
    model = global_apps.get_model(label)
    target = shared_world.conversation if model is Conversation else shared_world.customers[CUSTOMER_SAME_LINE]
    changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    # When the role posts it (an erasure with its confirmation and reason)
    response = admin_client(shared_world, role).post(
        changelist,
        {
            "action": name,
            ACTION_CHECKBOX_NAME: [target.pk],
            "index": 0,
            "post": "yes",
            "reason": "Ticket 42",
        },
    )
    # Then the CSV, the customer gone, or nothing done
    outcome = rest_outcome(response)
    if outcome in ("200", f"302 {changelist}"):
        if response["Content-Type"].startswith("text/csv"):
            outcome = DONE
        else:
            outcome = NOT_OFFERED if model.objects.filter(pk=target.pk).exists() else DONE
    assert outcome == ADMIN_ACTIONS_MATRIX[action][ROLES.index(role)]


# WebSocket frames


@dataclass(frozen=True)
class FrameCase:
    """How a frame type is aimed at A's conversation: its status for the cell, and the frame's fields."""

    target: str | None
    fields: Callable[[World], dict[str, Any]]
    agents_online: bool = False


def _on_target(**fields: Any) -> Callable[[World], dict[str, Any]]:
    return lambda world: {"conversation_id": world.conversation.pk, **fields}


FRAMES: dict[str, FrameCase] = {
    "message.send": FrameCase(ConversationStatus.ACTIVE, _on_target(client_msg_id="matrix", body="Any news?")),
    "sync": FrameCase(ConversationStatus.ACTIVE, _on_target(after_seq=0)),
    "typing": FrameCase(ConversationStatus.ACTIVE, _on_target(typing=True)),
    "read": FrameCase(ConversationStatus.ACTIVE, _on_target(seq=1)),
    "conversation.close": FrameCase(ConversationStatus.ACTIVE, _on_target()),
    "ping": FrameCase(None, lambda world: {}),
    "conversation.start": FrameCase(ConversationStatus.WAITING, lambda world: {}),
    "conversation.leave_message": FrameCase(ConversationStatus.WAITING, lambda world: {"body": "Call me back"}),
    "conversation.rate": FrameCase(ConversationStatus.CLOSED, _on_target(rating=5)),
    "customer.context": FrameCase(None, lambda world: {"page_url": "https://shop.example/cart", "language": "en"}),
    "presence.set": FrameCase(None, lambda world: {"status": "away"}),
    "conversation.transfer": FrameCase(
        ConversationStatus.ACTIVE,
        lambda world: {"conversation_id": world.conversation.pk, "to_business_line": world.line.key},
    ),
    "conversation.pick": FrameCase(ConversationStatus.MISSED, _on_target(), agents_online=True),
    "conversation.answer": FrameCase(ConversationStatus.MISSED, _on_target(client_msg_id="matrix", body="Answered")),
}
RELAYS = ("typing", "read")
AGENT_ONLY_FRAMES = set(AgentConsumer().handlers()) - set(CustomerConsumer().handlers())


class Sockets:
    """The sockets of one cell, all closed at its end."""

    def __init__(self) -> None:
        self.open: list[WebsocketCommunicator] = []

    async def __aenter__(self) -> Sockets:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for socket in self.open:
            await socket.disconnect()

    async def connect(self, path: str, *, cookie: str | None = None) -> WebsocketCommunicator:
        headers = [(b"host", b"testserver"), (b"origin", OWN_SITE.encode())]
        if cookie is not None:
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
        socket = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await socket.connect()
        assert connected
        self.open.append(socket)
        return socket

    async def as_role(self, world: World, role: str, *, socket_path: str) -> WebsocketCommunicator:
        """A socket opened with the role's credential (see SOCKET_MATRIX)."""
        if role in CUSTOMERS:
            return await self.connect(f"{socket_path}?token={await database_sync_to_async(world.widget_token)(role)}")
        if role in AGENTS:
            return await self.connect(f"{socket_path}?token={await database_sync_to_async(world.api_token)(role)}")
        if role in USERS:
            return await self.connect(socket_path, cookie=await database_sync_to_async(world.session_cookie)(role))
        return await self.connect(socket_path)

    async def greeted(self, world: World, role: str) -> WebsocketCommunicator:
        socket = await self.as_role(world, role, socket_path="/ws/customer/" if role in CUSTOMERS else "/ws/agent/")
        assert (await socket.receive_json_from(timeout=5))["type"] == HELLO
        return socket


async def next_frame(socket: WebsocketCommunicator, where: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The next frame matching `where`, skipping pushes the cell is not about."""
    for _ in range(50):
        frame = await socket.receive_json_from(timeout=5)
        if where(frame):
            return frame
    raise AssertionError("no matching frame")


async def handshake(socket: WebsocketCommunicator) -> str:
    """`hello`, or how the socket was refused: its error frame, its close code, and nothing after it."""
    first = json.loads((await socket.receive_output(timeout=5))["text"])
    if first["type"] == HELLO:
        return HELLO
    close = await socket.receive_output(timeout=5)
    assert close["type"] == "websocket.close"
    await socket.send_input({"type": "websocket.disconnect", "code": close["code"]})
    await socket.wait(timeout=5)
    assert socket.output_queue.empty(), "a refused socket answered a frame"
    return f"closed {close['code']} {first['code']}"


def actor_socket_path(role: str, frame_type: str) -> str:
    """Customers and anonymous visitors use the customer socket (an agent-only frame: the agent one); users, the
    agent socket."""
    if role in CUSTOMERS or (role == ANONYMOUS and frame_type not in AGENT_ONLY_FRAMES):
        return "/ws/customer/"
    return "/ws/agent/"


async def frame_outcome(sockets: Sockets, world: World, role: str, frame_type: str) -> str:
    case = FRAMES[frame_type]
    actor_path = actor_socket_path(role, frame_type)
    # The other side of A's conversation, to see what typing and read reach
    other_side = AGENT_ASSIGNED if actor_path == "/ws/customer/" else CUSTOMER
    observer = await sockets.greeted(world, other_side) if frame_type in RELAYS else None

    actor = await sockets.as_role(world, role, socket_path=actor_path)
    await actor.send_json_to({"type": frame_type, **case.fields(world), "ref": "cell"})
    await actor.send_json_to({"type": "ping", "ref": "after"})
    greeting = await handshake(actor)
    if greeting != HELLO:
        return greeting

    target_id = world.conversation.pk if world.conversation is not None else None
    reply = await next_frame(
        actor,
        lambda frame: (
            frame.get("ref") in ("cell", "after")
            or (
                # The pick's reply carries no `ref` (docs/protocol.md)
                frame_type == "conversation.pick"
                and frame["type"] == ASSIGNED
                and frame["conversation"]["id"] == target_id
            )
        ),
    )
    if reply["type"] == "error":
        outcome = f"error {reply['code']}"
    elif reply.get("ref") == "after":
        outcome = RELAYED if frame_type in RELAYS else f"no reply to {frame_type}"
    else:
        outcome = reply["type"]

    if observer is not None:
        relayed = lambda frame: frame["type"] in RELAYS  # noqa: E731
        if outcome == RELAYED:
            got = await next_frame(observer, relayed)
            assert (got["type"], got["conversation_id"]) == (frame_type, target_id)
            assert got["sender"] == ("customer" if actor_path == "/ws/customer/" else "agent")
        else:
            # Nothing reached the other side: the next relay it gets is the one its counterpart sends now
            counterpart = await sockets.greeted(world, CUSTOMER if other_side == AGENT_ASSIGNED else AGENT_ASSIGNED)
            await counterpart.send_json_to({"type": "typing", "conversation_id": target_id, "typing": False})
            assert (await next_frame(observer, relayed))["typing"] is False
    return outcome


@pytest.mark.parametrize(
    "frame_type, role",
    [(frame_type, role) for frame_type in FRAME_MATRIX for role in ROLES],
)
async def test_frame_matrix(cell_world, frame_type, role):
    # Given the world, with A's conversation in the state the frame needs
    case = FRAMES[frame_type]
    world = await cell_world(target=case.target, roles=(role,), agents_online=case.agents_online)
    before = await database_sync_to_async(world_state)(world)
    # When the role sends the frame on its socket
    async with Sockets() as sockets:
        outcome = await frame_outcome(sockets, world, role, frame_type)
    # Then the answer is the table's; a refusal changed nothing
    assert outcome == FRAME_MATRIX[frame_type][ROLES.index(role)]
    if outcome not in ALLOWED_FRAME_ANSWERS:
        assert await database_sync_to_async(world_state)(world) == before


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("socket_path", list(SOCKET_MATRIX))
async def test_socket_matrix(cell_world, socket_path, role):
    world = await cell_world(target=ConversationStatus.ACTIVE, roles=(role,))
    async with Sockets() as sockets:
        socket = await sockets.as_role(world, role, socket_path=socket_path)
        assert await handshake(socket) == SOCKET_MATRIX[socket_path][ROLES.index(role)]


@pytest.mark.parametrize("role", AGENTS + USERS)
async def test_the_agent_socket_takes_each_users_other_credential_alike(cell_world, role):
    """Agents also sign in with their session cookie; a user who is not an agent may hold a token an admin made."""
    world = await cell_world(target=ConversationStatus.ACTIVE, roles=(role,))
    async with Sockets() as sockets:
        if role in AGENTS:
            cookie = await database_sync_to_async(world.session_cookie)(role)
            socket = await sockets.connect("/ws/agent/", cookie=cookie)
        else:
            token = await database_sync_to_async(world.api_token)(role)
            socket = await sockets.connect(f"/ws/agent/?token={token}")
        assert await handshake(socket) == SOCKET_MATRIX["/ws/agent/"][ROLES.index(role)]


@pytest.mark.parametrize("role", AGENTS + USERS)
async def test_the_supervisor_socket_takes_each_users_other_credential_alike(cell_world, role):
    """Supervisors also sign in with an API token (`POST /api/auth/token/`); an agent's session is an agent's."""
    world = await cell_world(target=ConversationStatus.ACTIVE, roles=(role,))
    async with Sockets() as sockets:
        if role in AGENTS:
            cookie = await database_sync_to_async(world.session_cookie)(role)
            socket = await sockets.connect("/ws/supervisor/", cookie=cookie)
        else:
            token = await database_sync_to_async(world.api_token)(role)
            socket = await sockets.connect(f"/ws/supervisor/?token={token}")
        assert await handshake(socket) == SOCKET_MATRIX["/ws/supervisor/"][ROLES.index(role)]


# A conversation moved to another business line


# After the assigned agent transferred A's conversation to L2's queue: (GET its messages, GET its customer's
# conversations, the ids listed there). It is L2's now; A stays a customer of L1.
MOVED_MATRIX: dict[str, tuple[str, str, str]] = {
    AGENT_ASSIGNED: (R404, R200, "none"),
    AGENT_UNASSIGNED: (R404, R200, "none"),
    AGENT_OTHER_LINE: (R200, R200, "the moved one"),
}


@pytest.mark.parametrize("role", AGENTS)
def test_a_conversation_moved_to_another_line_is_that_lines(role):
    # Given A's conversation, transferred by its agent to L2's queue
    world = build_world(target=ConversationStatus.ACTIVE)
    conversation_transfer(
        agent_id=world.agents[AGENT_ASSIGNED].pk,
        conversation_id=world.conversation.pk,
        to_business_line=world.other_line.key,
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {world.api_token(role)}")
    # When an agent reads it, and the history of its customer
    messages = api.get(f"/api/conversations/{world.conversation.pk}/messages/")
    history = api.get(f"/api/customers/{world.customers[CUSTOMER].pk}/conversations/")
    # Then L2's agent sees both (the customer with only what is L2's), L1's agents no longer the conversation
    listed = [c["id"] for c in history.json()["conversations"]] if history.status_code == 200 else None
    expected = {"none": [], "the moved one": [world.conversation.pk]}
    outcome = (rest_outcome(messages), rest_outcome(history), listed)
    messages_cell, history_cell, listed_cell = MOVED_MATRIX[role]
    assert outcome == (messages_cell, history_cell, expected[listed_cell])
