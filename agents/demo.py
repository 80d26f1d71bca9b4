"""The demo data behind `manage.py seed_demo`: one business line, three agents and a supervisor, the line's canned
replies and labels.

Running it again resets the same rows (password, capacity, secret, team) instead of adding new ones, so an
operator can always get back to a known demo state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import transaction

from agents.models import Agent
from desk.models import CannedReply, Label
from routing.models import BusinessLine

DEMO_INBOX = "team@acme-shop.example"
DEMO_KEY = "demo"
DEMO_NAME = "Demo"
DEMO_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")
DEFAULT_PASSWORD = "demo"
DEFAULT_CAPACITY = 3
DEFAULT_IDENTITY_SECRET = "demo-identity-secret"
DEMO_AGENTS = (("agent1", "Alice"), ("agent2", "Bob"), ("agent3", "Carol"))
SUPERVISOR_USERNAME = "supervisor"
SUPERVISORS_GROUP = "Supervisors"
DEMO_CANNED_REPLIES = (
    ("hello", "Greeting", "Hello {customer.name}! I am {agent.name} from {business_line.name}. How can I help you?"),
    ("check", "Checking", "Let me check that for you, one moment please."),
    ("order", "Order number", "Could you tell me your order number?"),
    ("more", "Anything else", "Is there anything else I can help you with?"),
    ("bye", "Goodbye", "Thank you for chatting with us. Have a nice day!"),
)
DEMO_LABELS = ("refund", "shipping", "vip")


@dataclass
class DemoSeed:
    """What `demo_seed` left in the database, and which of it is new (the rest was reset)."""

    business_line: BusinessLine
    agents: list[Agent]
    supervisor: User
    password: str
    created: set[str] = field(default_factory=set)


def _staff_user(*, username: str, first_name: str, password: str, created: set[str]) -> User:
    user, is_new = get_user_model().objects.get_or_create(username=username)
    if is_new:
        created.add(username)
    user.first_name = first_name
    user.is_staff = True
    user.is_active = True
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def demo_seed(
    *,
    password: str = DEFAULT_PASSWORD,
    capacity: int = DEFAULT_CAPACITY,
    identity_secret: str = DEFAULT_IDENTITY_SECRET,
) -> DemoSeed:
    """Create or reset the `demo` business line, its agents `agent1`-`agent3` and a `supervisor`."""
    created: set[str] = set()
    business_line, is_new = BusinessLine.objects.update_or_create(
        key=DEMO_KEY,
        defaults={
            "name": DEMO_NAME,
            "identity_secret": identity_secret,
            "allowed_origins": "\n".join(DEMO_ORIGINS),
            # Left messages are emailed here: `make run` prints them (EMAIL_URL unset), so the demo shows them.
            "inbox_email": DEMO_INBOX,
            "business_hours": {},
            "time_zone": "UTC",
            "wait_timeout": settings.ROUTING_WAIT_TIMEOUT,
            "agent_reply_timeout": settings.ROUTING_AGENT_REPLY_TIMEOUT,
            "disconnect_grace": settings.ROUTING_DISCONNECT_GRACE,
            "idle_timeout": settings.ROUTING_IDLE_TIMEOUT,
        },
    )
    if is_new:
        created.add(DEMO_KEY)

    agents = []
    for username, display_name in DEMO_AGENTS:
        user = _staff_user(username=username, first_name=display_name, password=password, created=created)
        agent, _ = Agent.objects.update_or_create(
            user=user, defaults={"display_name": display_name, "capacity": capacity}
        )
        agent.business_lines.add(business_line)
        agents.append(agent)

    for shortcut, title, body in DEMO_CANNED_REPLIES:
        CannedReply.objects.update_or_create(
            business_line=business_line, shortcut=shortcut, defaults={"title": title, "body": body}
        )
    for name in DEMO_LABELS:
        Label.objects.get_or_create(business_line=business_line, name=name)

    supervisor = _staff_user(username=SUPERVISOR_USERNAME, first_name="Sam", password=password, created=created)
    # The group and its permissions come from a data migration; only its membership is ours to set.
    group, _ = Group.objects.get_or_create(name=SUPERVISORS_GROUP)
    supervisor.groups.add(group)

    return DemoSeed(
        business_line=business_line, agents=agents, supervisor=supervisor, password=password, created=created
    )
