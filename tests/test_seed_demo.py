"""`manage.py seed_demo`: creates the demo business line, agents and supervisor, and resets them when run again."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command

from agents.models import Agent
from desk.models import CannedReply, Label
from routing.models import BusinessLine

DEMO_USERNAMES = ["agent1", "agent2", "agent3", "supervisor"]

pytestmark = pytest.mark.django_db


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_demo_creates_the_demo_with_defaults():
    # when
    output = _seed()

    # then
    line = BusinessLine.objects.get(key="demo")
    assert line.name == "Demo"
    assert line.identity_secret == "demo-identity-secret"
    assert {"http://127.0.0.1:8000", "http://localhost:8000"} <= set(line.allowed_origin_list)
    agents = Agent.objects.filter(business_lines=line).select_related("user").order_by("user__username")
    assert [agent.user.username for agent in agents] == ["agent1", "agent2", "agent3"]
    assert all(agent.capacity == 3 and agent.display_name and agent.user.is_staff for agent in agents)
    supervisor = get_user_model().objects.get(username="supervisor")
    assert supervisor.is_staff and not supervisor.is_superuser
    assert list(supervisor.groups.values_list("name", flat=True)) == ["Supervisors"]
    assert not Agent.objects.filter(user=supervisor).exists()
    for username in DEMO_USERNAMES:
        assert authenticate(username=username, password="demo") is not None
        assert username in output
    assert "created" in output
    assert sorted(CannedReply.objects.filter(business_line=line).values_list("shortcut", flat=True)) == [
        "bye",
        "check",
        "hello",
        "more",
        "order",
    ]
    assert sorted(Label.objects.filter(business_line=line).values_list("name", flat=True)) == [
        "refund",
        "shipping",
        "vip",
    ]
    assert "Canned replies of the line: /hello, /check, /order, /more, /bye; labels: refund, shipping, vip" in output


def test_seed_demo_twice_makes_no_duplicates_and_resets_password_capacity_and_secret():
    # given
    _seed()

    # when
    output = _seed("--password", "second-pw", "--capacity", "5", "--identity-secret", "other-secret")

    # then
    assert BusinessLine.objects.filter(key="demo").count() == 1
    assert BusinessLine.objects.get(key="demo").identity_secret == "other-secret"
    assert get_user_model().objects.filter(username__in=DEMO_USERNAMES).count() == 4
    assert Agent.objects.count() == 3
    assert CannedReply.objects.count() == 5
    assert Label.objects.count() == 3
    assert set(Agent.objects.values_list("capacity", flat=True)) == {5}
    assert Group.objects.filter(name="Supervisors").count() == 1
    for username in DEMO_USERNAMES:
        assert authenticate(username=username, password="second-pw") is not None
        assert authenticate(username=username, password="demo") is None
    assert "reset" in output and "created" not in output


def test_seed_demo_joins_the_existing_supervisors_group_and_keeps_its_permissions():
    # given the group as the data migration leaves it
    group, _ = Group.objects.get_or_create(name="Supervisors")
    group.permissions.add(Permission.objects.get(codename="view_businessline"))
    permissions_before = set(group.permissions.values_list("codename", flat=True))

    # when
    _seed()

    # then
    assert Group.objects.filter(name="Supervisors").count() == 1
    assert set(group.permissions.values_list("codename", flat=True)) == permissions_before
    assert get_user_model().objects.get(username="supervisor").groups.get() == group


@pytest.mark.parametrize("args", [["--capacity", "0"], ["--password", ""]])
def test_seed_demo_refuses_bad_options_and_changes_nothing(args):
    # when
    with pytest.raises(CommandError):
        _seed(*args)

    # then
    assert not BusinessLine.objects.filter(key="demo").exists()
    assert not get_user_model().objects.filter(username__in=DEMO_USERNAMES).exists()
