"""The benchmark's own data, made and checked through Django in a subprocess on the bench database.

`create` makes business lines with their agents and prints the agents' API tokens as JSON. The tokens are
minted here rather than through `POST /api/auth/token/`: that login costs one PBKDF2 hash per agent, which
is not what the benchmark measures, and the agents get no usable password at all.
`check` reads a business line's conversations back and prints the burst invariants as JSON.

    python -m bench.django_setup create '{"lines": [{"key": "bench-relay", "agents": 100, "capacity": 1}]}'
    python -m bench.django_setup check bench-burst-1
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import django


def create(spec: dict[str, Any]) -> dict[str, Any]:
    """Business lines `spec["lines"]` (key, agents, capacity, and optional `settings`: fields of the line), each
    with its own agents (offline until they say)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from agents.models import Agent
    from agents.services import api_token_issue
    from routing.models import BusinessLine

    user_model = get_user_model()
    lines: dict[str, Any] = {}
    with transaction.atomic():
        for line_spec in spec["lines"]:
            key = line_spec["key"]
            line = BusinessLine.objects.create(name=key, key=key, **line_spec.get("settings", {}))
            users = user_model.objects.bulk_create(
                user_model(username=f"{key}-agent{n}", password=make_password(None), is_staff=True)
                for n in range(line_spec["agents"])
            )
            agents = Agent.objects.bulk_create(
                Agent(user=user, display_name=user.username, capacity=line_spec["capacity"]) for user in users
            )
            Agent.business_lines.through.objects.bulk_create(
                Agent.business_lines.through(agent_id=agent.id, businessline_id=line.id) for agent in agents
            )
            lines[key] = {
                "capacity": line_spec["capacity"],
                "agents": [
                    {"agent_id": agent.id, "token": api_token_issue(user=user)} for agent, user in zip(agents, users)
                ],
            }
    return {"lines": lines}


def check(line_key: str) -> dict[str, Any]:
    """What the database says about a business line after a burst: who holds what, and any breach."""
    from django.db.models import Count

    from agents.models import Agent
    from chat.models import Conversation, ConversationStatus, Message

    conversations = Conversation.objects.filter(business_line__key=line_key)
    active = conversations.filter(status=ConversationStatus.ACTIVE)
    load = dict(active.values_list("agent_id").annotate(count=Count("id")))
    capacity = dict(Agent.objects.filter(business_lines__key=line_key).values_list("id", "capacity"))
    assigned_events = (
        Message.objects.filter(conversation__in=conversations, event="assigned")
        .values("conversation_id")
        .annotate(count=Count("id"))
        .filter(count__gt=1)
    )
    return {
        "conversations": conversations.count(),
        "active": active.count(),
        "waiting": conversations.filter(status=ConversationStatus.WAITING).count(),
        "agents_over_capacity": sorted(a for a, n in load.items() if n > capacity.get(a, 0)),
        "conversations_assigned_twice": sorted(row["conversation_id"] for row in assigned_events),
    }


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_platform.settings")
    django.setup()
    if len(argv) == 2 and argv[0] == "create":
        result = create(json.loads(argv[1]))
    elif len(argv) == 2 and argv[0] == "check":
        result = check(argv[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
