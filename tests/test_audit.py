"""The audit log: exports and admin edits are recorded with who, when and from where; only superusers read it,
and nobody changes it."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from audit.models import AuditAction, AuditEntry
from audit.services import audit_record
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db

AUDIT_LIST = reverse("admin:audit_auditentry_changelist")


def supervisor_user():
    user = UserFactory(username="supervisor", is_staff=True)
    user.groups.add(Group.objects.get(name="Supervisors"))
    return user


@pytest.fixture
def entry():
    return audit_record(
        action=AuditAction.CUSTOMER_ERASE,
        actor_label="dpo",
        target_type="customers.customer",
        target_id=7,
        details={"reason": "ticket-audit-visible"},
    )


def test_a_supervisor_cannot_see_the_audit_log(client, entry):
    # given
    client.force_login(supervisor_user())

    # when
    listing = client.get(AUDIT_LIST)
    detail = client.get(reverse("admin:audit_auditentry_change", args=[entry.pk]))
    index = client.get(reverse("admin:index"))

    # then
    assert (listing.status_code, detail.status_code) == (403, 403)
    assert AUDIT_LIST not in index.content.decode()


def test_staff_granted_the_view_permission_still_cannot_see_it(client, entry):
    # given
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_auditentry"))
    client.force_login(user)

    # when / then
    assert client.get(AUDIT_LIST).status_code == 403


def test_a_superuser_reads_the_audit_log_and_cannot_change_it(client, entry):
    # given
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    change_url = reverse("admin:audit_auditentry_change", args=[entry.pk])

    # when
    listing = client.get(AUDIT_LIST)
    detail = client.get(change_url)
    add = client.get(reverse("admin:audit_auditentry_add"))
    delete = client.post(reverse("admin:audit_auditentry_delete", args=[entry.pk]), {"post": "yes"})
    change = client.post(change_url, {"action": "admin.add", "target_id": "8"})

    # then
    assert listing.status_code == 200
    assert [e.pk for e in listing.context["cl"].result_list] == [entry.pk]
    assert detail.status_code == 200 and "ticket-audit-visible" in detail.content.decode()
    assert (add.status_code, delete.status_code, change.status_code) == (403, 403, 403)
    entry.refresh_from_db()
    assert (entry.action, entry.target_id) == (AuditAction.CUSTOMER_ERASE, "7")
    assert "delete_selected" not in listing.content.decode()


def test_a_transcript_export_is_recorded_with_who_from_where_and_which_conversations(client):
    # given
    supervisor = supervisor_user()
    client.force_login(supervisor)
    first, second, _not_exported = ConversationFactory(), ConversationFactory(), ConversationFactory()
    MessageFactory(conversation=first, seq=1)

    # when
    response = client.post(
        reverse("admin:chat_conversation_changelist"),
        {"action": "export_transcripts", "_selected_action": [second.pk, first.pk]},
    )

    # then
    assert response.status_code == 200
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.actor_label, entry.address, entry.target_type) == (
        AuditAction.TRANSCRIPT_EXPORT,
        supervisor,
        "supervisor",
        "127.0.0.1",
        "chat.conversation",
    )
    assert entry.details == {"conversations": 2, "conversation_ids": sorted([first.pk, second.pk])}


def test_an_admin_edit_is_recorded_with_the_changed_fields(client):
    # given
    line = BusinessLineFactory()
    agent = AgentFactory(business_lines=[line], capacity=1)
    boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client.force_login(boss)

    # when
    response = client.post(
        reverse("admin:agents_agent_change", args=[agent.pk]),
        {"user": agent.user_id, "display_name": agent.display_name, "capacity": 4, "business_lines": [line.id]},
    )

    # then
    assert response.status_code == 302
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.target_type, entry.target_id, entry.address) == (
        AuditAction.ADMIN_CHANGE,
        boss,
        "agents.agent",
        str(agent.pk),
        "127.0.0.1",
    )
    assert entry.details == {"changes": [{"changed": {"fields": ["Capacity"]}}]}


def test_adding_and_deleting_a_group_in_the_admin_is_recorded(client):
    # given
    boss = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(boss)

    # when
    added = client.post(reverse("admin:auth_group_add"), {"name": "Team leads"})
    group = Group.objects.get(name="Team leads")
    deleted = client.post(reverse("admin:auth_group_delete", args=[group.pk]), {"post": "yes"})

    # then
    assert (added.status_code, deleted.status_code) == (302, 302)
    assert list(AuditEntry.objects.order_by("id").values_list("action", "target_type", "target_id")) == [
        (AuditAction.ADMIN_ADD, "auth.group", str(group.pk)),
        (AuditAction.ADMIN_DELETE, "auth.group", str(group.pk)),
    ]


def test_behind_a_trusted_proxy_the_entry_keeps_the_address_the_proxy_saw(client, settings):
    # given one proxy in front of the web workers, which appends the client's address to X-Forwarded-For
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    line = BusinessLineFactory()
    agent = AgentFactory(business_lines=[line], capacity=1)
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))

    # when
    client.post(
        reverse("admin:agents_agent_change", args=[agent.pk]),
        {"user": agent.user_id, "display_name": agent.display_name, "capacity": 4, "business_lines": [line.id]},
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )

    # then
    assert AuditEntry.objects.get().address == "203.0.113.9"
