"""Many assigners at once on the real PostgreSQL: threads of this process, and separate OS processes.

Whatever interleaving happens, no conversation is assigned twice, no agent goes past capacity, nothing deadlocks.
Loops are bounded; nothing here measures time.
"""

import json
import os
import random
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from agents.models import Agent
from chat.lifecycle import conversation_close, conversation_start
from chat.models import Conversation, ConversationStatus, Message
from chat.permissions import Participant
from routing.services import assignment_run, line_changed_run
from tests.factories import BusinessLineFactory, ConversationFactory, CustomerFactory
from tests.routing.helpers import agent_in, invariant_violations

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def over_capacity_now() -> list[tuple[int, int, int]]:
    """Agents past capacity, read in one statement (one snapshot), so it is exact at that instant."""
    return [
        row
        for row in Agent.objects.annotate(
            active=Count("conversations", filter=Q(conversations__status=ConversationStatus.ACTIVE))
        ).values_list("id", "active", "capacity")
        if row[1] > row[2]
    ]


def assigned_twice() -> list[int]:
    """Conversations with more than one `assigned` event (nothing in these tests requeues or transfers)."""
    return list(
        Message.objects.filter(sender="system", event="assigned")
        .values("conversation_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("conversation_id", flat=True)
    )


def run_threads(targets) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(target):
        try:
            target()
        except BaseException as error:  # every failure of a thread fails the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=guarded, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return errors


def test_threads_assigning_while_others_start_and_close_conversations():
    # given two lines whose teams share an agent, everyone online and connected
    lines = [BusinessLineFactory(), BusinessLineFactory()]
    for team, capacity in (((0,), 2), ((0,), 2), ((0,), 1), ((1,), 2), ((1,), 1), ((0, 1), 2)):
        agent_in(*(lines[i] for i in team), capacity=capacity)
    customers = [CustomerFactory(business_line=lines[n % 2]) for n in range(60)]
    done = threading.Event()
    over_capacity_seen: list = []

    def assigner(n: int):
        def run():
            for i in range(25):
                line = lines[(n + i) % 2]
                if n % 2:
                    assignment_run(business_line_id=line.id)
                else:
                    line_changed_run(business_line_id=line.id)

        return run

    def starter(mine):
        def run():
            for customer in mine:
                conversation_start(customer=customer, channel="web")

        return run

    def closer(seed: int):
        def run():
            pick = random.Random(seed)
            for _ in range(30):
                conversation = Conversation.objects.filter(status=ConversationStatus.ACTIVE).order_by("?").first()
                if conversation is not None:
                    who = (
                        Participant(kind="agent", id=conversation.agent_id)
                        if pick.random() < 0.5
                        else Participant(kind="customer", id=conversation.customer_id)
                    )
                    conversation_close(participant=who, conversation_id=conversation.id)

        return run

    def watcher():
        try:
            while not done.is_set():
                over_capacity_seen.extend(over_capacity_now())
        finally:
            connection.close()

    # when 4 assigners, 2 starters and 2 closers run at once, watched by a ninth thread
    watching = threading.Thread(target=watcher)
    watching.start()
    try:
        errors = run_threads(
            [assigner(n) for n in range(4)] + [starter(customers[0::2]), starter(customers[1::2]), closer(1), closer(2)]
        )
    finally:
        done.set()
        watching.join(30)
    # then nothing failed or deadlocked, nobody was ever past capacity, nothing was assigned twice
    assert errors == []
    assert over_capacity_seen == []
    assert assigned_twice() == []
    assert Conversation.objects.count() == 60
    # and once the rule runs again, nothing waits while someone has room
    for line in lines:
        assignment_run(business_line_id=line.id)
    assert invariant_violations(lines=lines, after_routing_run=True) == []


def database_url_of_the_test_database() -> str:
    """The project's DATABASE_URL (given, or the embedded server's) pointed at the test database."""
    url = urlsplit(settings.DATABASE_URL)
    return urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}"))


def test_processes_assigning_a_burst_fill_every_slot_exactly_once():
    # given 200 waiting conversations and 20 online, connected agents of capacity 3
    line = BusinessLineFactory()
    start = timezone.now() - timedelta(minutes=1)
    burst = [
        ConversationFactory(customer__business_line=line, queued_at=start + timedelta(milliseconds=n))
        for n in range(200)
    ]
    agents = [agent_in(line, capacity=3) for _ in range(20)]
    # when three OS processes run the rule at the same moment
    environment = {
        **os.environ,
        "DATABASE_URL": database_url_of_the_test_database(),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_PREFIX": settings.REDIS_PREFIX,
        "DJANGO_SETTINGS_MODULE": "cs_platform.settings",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.routing.assigner_process", str(line.id)],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for process in processes:
            assert process.stdout.readline().strip() == "ready", process.stderr.read()
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    # then they exited cleanly, together assigned exactly 60, none twice, nobody past capacity, and the oldest
    # first, but for the few a process skipped because another held them locked at the moment slots ran out
    assert [process.returncode for process in processes] == [0, 0, 0], [err for _, err in outputs]
    assert not any("Traceback" in err for _, err in outputs), [err for _, err in outputs]
    assigned = [conversation_id for out, _ in outputs for conversation_id in json.loads(out.strip().splitlines()[-1])]
    assert len(assigned) == 60
    assert len(set(assigned)) == 60
    assert set(assigned) <= {c.id for c in burst[: 60 + len(processes) - 1]}
    assert Conversation.objects.filter(status=ConversationStatus.ACTIVE).count() == 60
    assert Conversation.objects.filter(status=ConversationStatus.WAITING).count() == 140
    assert (
        sorted(
            Agent.objects.filter(id__in=[a.id for a in agents])
            .annotate(active=Count("conversations", filter=Q(conversations__status=ConversationStatus.ACTIVE)))
            .values_list("active", flat=True)
        )
        == [3] * 20
    )
    assert assigned_twice() == []
    assert invariant_violations(lines=[line], after_routing_run=True) == []
