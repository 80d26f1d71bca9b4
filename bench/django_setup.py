"""The benchmark's own data, made and checked through Django in a subprocess on the bench database.

`create` makes business lines with their agents and prints the agents' API tokens as JSON. The tokens are
minted here rather than through `POST /api/auth/token/`: that login costs one PBKDF2 hash per agent, which
is not what the benchmark measures, and the agents get no usable password at all.
`check` reads a business line's conversations back and prints the burst invariants as JSON.
`reports-fill` makes the reports scenario's business line: its agents, customers and conversations (ended, with
every timestamp the reports read), inserted by PostgreSQL from `generate_series`, and a supervisor to read them.

    python -m bench.django_setup create '{"lines": [{"key": "bench-relay", "agents": 100, "capacity": 1}]}'
    python -m bench.django_setup check bench-burst-1
    python -m bench.django_setup reports-fill '{"conversations": 1000000, "customers": 100000, "agents": 50}'
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


REPORTS_LINE = "bench-reports"
REPORTS_DAYS = 365
REPORTS_SUPERVISOR = "bench-supervisor"
# The conversations of a year, spread evenly with some jitter, ending before "now" of the run: 5 % missed, the rest
# answered and closed by one of the line's agents; 40 % rated. random() after setseed() makes every run the same.
REPORTS_CUSTOMERS_SQL = """
INSERT INTO customers_customer
    (business_line_id, visitor_token, external_id, name, email, phone, language, first_channel, attributes, context,
     first_seen_at, last_seen_at)
SELECT %(line)s, 'bench-reports-' || n, NULL, 'Customer ' || n, '', '', '', 'web', '{}', '{}', now(), now()
FROM generate_series(1, %(customers)s) AS n
"""
REPORTS_CONVERSATIONS_SQL = """
INSERT INTO chat_conversation
    (customer_id, business_line_id, channel, status, agent_id, priority, started_at, queued_at, waiting_since,
     assigned_at, first_assigned_at, first_agent_reply_at, missed_at, last_customer_message_at,
     last_agent_message_at, closed_at, close_reason, rating, rating_comment, last_seq, handler_ids,
     answers_by_email, answers_emailed_seq)
SELECT c.customer_id, %(line)s, c.channel,
    CASE WHEN c.missed THEN 'missed' ELSE 'closed' END,
    CASE WHEN c.missed THEN NULL ELSE c.agent_id END,
    0, c.started, c.started, c.started,
    CASE WHEN c.missed THEN NULL ELSE c.started + c.wait END,
    CASE WHEN c.missed THEN NULL ELSE c.started + c.wait END,
    CASE WHEN c.missed THEN NULL ELSE c.started + c.reply END,
    CASE WHEN c.missed THEN c.started + interval '300 seconds' END,
    c.started, CASE WHEN c.missed THEN NULL ELSE c.started + c.reply END,
    CASE WHEN c.missed THEN c.started + interval '300 seconds' ELSE c.started + c.wait + c.handling END,
    CASE WHEN c.missed THEN 'wait_timeout' ELSE 'agent' END,
    CASE WHEN NOT c.missed AND c.rated THEN c.rating END,
    '', 4,
    CASE WHEN c.missed THEN ARRAY[]::integer[] ELSE ARRAY[c.agent_id] END,
    false, 0
FROM (
    SELECT
        first_customer + n %% %(customers)s AS customer_id,
        (ARRAY['web', 'web', 'h5', 'app'])[1 + n %% 4] AS channel,
        agents[1 + n %% array_length(agents, 1)] AS agent_id,
        now() - interval '1 hour' - (%(days)s * interval '1 day') * (1 - n::double precision / %(conversations)s)
            + random() * interval '30 seconds' AS started,
        random() < 0.05 AS missed,
        make_interval(secs => 5 + random() * 295) AS wait,
        make_interval(secs => 310 + random() * 120) AS reply,
        make_interval(secs => 60 + random() * 1200) AS handling,
        random() < 0.4 AS rated,
        1 + floor(random() * 5)::integer AS rating
    FROM generate_series(0, %(conversations)s - 1) AS n,
        (SELECT array_agg(agent_id ORDER BY agent_id) AS agents FROM agents_agent_business_lines
         WHERE businessline_id = %(line)s) AS team,
        (SELECT min(id) AS first_customer FROM customers_customer WHERE business_line_id = %(line)s) AS customers
) AS c
"""


def reports_fill(spec: dict[str, Any]) -> dict[str, Any]:
    """The reports scenario's line (`conversations`, `customers`, `agents`) and a supervisor with a token and a
    password (the reports page needs a session), timed."""
    import time

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    from agents.services import api_token_issue
    from routing.models import BusinessLine

    create(
        {
            "lines": [
                {
                    "key": REPORTS_LINE,
                    "agents": spec["agents"],
                    "capacity": 10,
                    "settings": {"time_zone": "Asia/Shanghai"},
                }
            ]
        }
    )
    line = BusinessLine.objects.get(key=REPORTS_LINE)
    supervisor = get_user_model().objects.create_user(
        username=REPORTS_SUPERVISOR, password=spec["password"], is_staff=True
    )
    supervisor.groups.add(Group.objects.get(name="Supervisors"))
    params = {
        "line": line.id,
        "customers": spec["customers"],
        "conversations": spec["conversations"],
        "days": REPORTS_DAYS,
    }
    began = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(REPORTS_CUSTOMERS_SQL, params)
        cursor.execute(REPORTS_CONVERSATIONS_SQL, params)
    inserted = time.perf_counter() - began
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
        cursor.execute("ANALYZE chat_conversation")
    return {
        "line": REPORTS_LINE,
        "days": REPORTS_DAYS,
        "conversations": spec["conversations"],
        "insert_seconds": round(inserted, 1),
        "token": api_token_issue(user=supervisor),
        "username": REPORTS_SUPERVISOR,
    }


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_platform.settings")
    django.setup()
    if len(argv) == 2 and argv[0] == "create":
        result = create(json.loads(argv[1]))
    elif len(argv) == 2 and argv[0] == "check":
        result = check(argv[1])
    elif len(argv) == 2 and argv[0] == "reports-fill":
        result = reports_fill(json.loads(argv[1]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
