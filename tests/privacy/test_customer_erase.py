"""Erasing one customer on request, through the service, the command and the Customer admin's action: everything
of theirs goes (conversations, messages, files, the customer), nothing of anyone else, and the audit log keeps
who, when, why and the customer's id, without their personal data."""

import json

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.urls import reverse

from audit.models import AuditAction, AuditEntry
from chat.models import Conversation, ConversationStatus, Message
from cs_platform.errors import ErrorCode
from customers.models import Customer
from privacy.services import Deleted, ErasureRefused, customer_erase
from tests.factories import BusinessLineFactory, CustomerFactory, UserFactory
from tests.privacy.helpers import stored_files, transcript

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:customers_customer_changelist")


@pytest.fixture
def two_customers():
    """Ada, to be erased, and Bob of the same business line, who must keep everything."""
    line = BusinessLineFactory(key="retail")
    ada = CustomerFactory(business_line=line, name="Ada Lovelace", email="ada@example.com", external_id="u-ada")
    bob = CustomerFactory(business_line=line, name="Bob", external_id="u-bob")
    ada_conversations = [
        transcript(customer=ada, status=ConversationStatus.CLOSED, files=2),
        transcript(customer=ada, status=ConversationStatus.MISSED),
    ]
    bob_conversations = [transcript(customer=bob, status=ConversationStatus.CLOSED)]
    return ada, bob, ada_conversations, bob_conversations


def assert_erased(ada, ada_conversations, files):
    assert not Customer.objects.filter(pk=ada.pk).exists()
    assert not Conversation.objects.filter(pk__in=[c.pk for c in ada_conversations]).exists()
    assert not Message.objects.filter(conversation_id__in=[c.pk for c in ada_conversations]).exists()
    assert not any(default_storage.exists(name) for name in files)


def assert_untouched(bob, bob_conversations):
    assert Customer.objects.filter(pk=bob.pk).exists()
    assert Conversation.objects.filter(customer=bob).count() == len(bob_conversations)
    assert Message.objects.filter(conversation__customer=bob).count() == 2 * len(bob_conversations)
    assert all(default_storage.exists(name) for c in bob_conversations for name in stored_files(c))


def erase_entry(customer) -> AuditEntry:
    return AuditEntry.objects.get(action=AuditAction.CUSTOMER_ERASE, target_id=str(customer.pk))


def test_erase_removes_everything_of_the_customer_and_nothing_of_another(
    two_customers, django_capture_on_commit_callbacks
):
    # given
    ada, bob, ada_conversations, bob_conversations = two_customers
    files = [name for c in ada_conversations for name in stored_files(c)]
    officer = UserFactory(username="dpo", is_staff=True, is_superuser=True)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        deleted = customer_erase(customer_id=ada.pk, reason="Request #123", actor=officer, address="10.0.0.7")

    # then
    assert deleted == Deleted(conversations=2, messages=4, files=3, customers=1)
    assert_erased(ada, ada_conversations, files)
    assert_untouched(bob, bob_conversations)
    entry = erase_entry(ada)
    assert (entry.actor, entry.actor_label, entry.target_type, entry.address) == (
        officer,
        "dpo",
        "customers.customer",
        "10.0.0.7",
    )
    assert entry.details == {
        "reason": "Request #123",
        "business_line_id": ada.business_line_id,
        "conversations": 2,
        "messages": 4,
        "files": 3,
        "customers": 1,
    }
    assert not any(value in json.dumps(entry.details) for value in ["Ada", "ada@example.com", "u-ada"])


def test_erase_removes_the_customers_name_from_the_admins_own_history(two_customers):
    # given: Django's LogEntry of an admin edit keeps the customer's name
    ada, bob, _, _ = two_customers
    customer_type = ContentType.objects.get_for_model(Customer)
    editor = UserFactory(is_staff=True)
    for customer in (ada, bob):
        LogEntry.objects.create(
            user=editor,
            content_type=customer_type,
            object_id=str(customer.pk),
            object_repr=customer.name,
            action_flag=CHANGE,
        )

    # when
    customer_erase(customer_id=ada.pk, reason="Request #123")

    # then
    repr_of = dict(LogEntry.objects.values_list("object_id", "object_repr"))
    assert repr_of == {str(ada.pk): "(erased customer)", str(bob.pk): "Bob"}


@pytest.mark.parametrize("status", [ConversationStatus.WAITING, ConversationStatus.ACTIVE])
def test_a_customer_in_an_open_conversation_is_not_erased(two_customers, status):
    # given
    ada, _, ada_conversations, _ = two_customers
    live = transcript(customer=ada, status=status)

    # when
    with pytest.raises(ErasureRefused) as refused:
        customer_erase(customer_id=ada.pk, reason="Request #123")

    # then
    assert refused.value.code == ErrorCode.CUSTOMER_HAS_OPEN_CONVERSATION
    assert f"#{live.pk}" in refused.value.message
    assert Conversation.objects.filter(customer=ada).count() == len(ada_conversations) + 1
    assert Message.objects.filter(conversation__customer=ada).count() == 2 * (len(ada_conversations) + 1)
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("customer_id", "reason", "code"),
    [(0, "Request #123", ErrorCode.CUSTOMER_NOT_FOUND), (None, "  ", ErrorCode.REASON_REQUIRED)],
    ids=["unknown customer", "no reason"],
)
def test_erase_refuses_an_unknown_customer_or_no_reason(two_customers, customer_id, reason, code):
    # given
    ada = two_customers[0]

    # when
    with pytest.raises(ErasureRefused) as refused:
        customer_erase(customer_id=ada.pk if customer_id is None else customer_id, reason=reason)

    # then
    assert refused.value.code == code
    assert Customer.objects.filter(pk=ada.pk).exists()
    assert not AuditEntry.objects.exists()


# The command


@pytest.mark.parametrize("by", ["id", "external_id"])
def test_the_command_erases_by_id_or_by_external_id(two_customers, by, django_capture_on_commit_callbacks):
    # given
    ada, bob, ada_conversations, bob_conversations = two_customers
    files = [name for c in ada_conversations for name in stored_files(c)]
    arguments = [str(ada.pk)] if by == "id" else ["--external-id", "u-ada", "--business-line", "retail"]

    # when
    with django_capture_on_commit_callbacks(execute=True):
        call_command("erase_customer", *arguments, "--reason", "Ticket 42")

    # then
    assert_erased(ada, ada_conversations, files)
    assert_untouched(bob, bob_conversations)
    entry = erase_entry(ada)
    assert entry.actor is None
    assert entry.actor_label.startswith("manage.py erase_customer (")
    assert entry.details["reason"] == "Ticket 42"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "Give either a customer id or --external-id"),
        (["1", "--external-id", "u-ada", "--business-line", "retail"], "Give either a customer id or --external-id"),
        (["--external-id", "u-ada"], "--external-id needs --business-line"),
        (["--external-id", "nobody", "--business-line", "retail"], "No customer with external id 'nobody'"),
        (["0"], "customer_not_found"),
    ],
    ids=["nothing", "both", "no business line", "unknown external id", "unknown id"],
)
def test_the_command_says_clearly_what_is_wrong(two_customers, arguments, message):
    # when
    with pytest.raises(CommandError) as error:
        call_command("erase_customer", *arguments, "--reason", "Ticket 42")

    # then
    assert message in str(error.value)
    assert Customer.objects.count() == 2


def test_the_command_refuses_a_customer_in_an_open_conversation(two_customers):
    # given
    ada = two_customers[0]
    transcript(customer=ada, status=ConversationStatus.WAITING)

    # when
    with pytest.raises(CommandError) as error:
        call_command("erase_customer", str(ada.pk), "--reason", "Ticket 42")

    # then
    assert "customer_has_open_conversation" in str(error.value)
    assert Customer.objects.filter(pk=ada.pk).exists()


# The admin action


def erase_action(client, customers, **extra):
    return client.post(
        CHANGELIST, {"action": "erase_customers", "_selected_action": [c.pk for c in customers], **extra}
    )


@pytest.fixture
def superuser(client):
    user = UserFactory(username="admin", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_the_admin_action_asks_for_a_reason_then_erases(
    client, superuser, two_customers, django_capture_on_commit_callbacks
):
    # given
    ada, bob, ada_conversations, bob_conversations = two_customers
    files = [name for c in ada_conversations for name in stored_files(c)]

    # when
    confirmation = erase_action(client, [ada])
    without_reason = erase_action(client, [ada], post="yes", reason="")
    with django_capture_on_commit_callbacks(execute=True):
        done = erase_action(client, [ada], post="yes", reason="Request by email, ticket 7")

    # then
    assert confirmation.status_code == 200
    assert "Ada Lovelace" in confirmation.content.decode()
    assert 'name="reason"' in confirmation.content.decode()
    assert without_reason.status_code == 200 and without_reason.context["form"].errors
    assert done.status_code == 302
    assert_erased(ada, ada_conversations, files)
    assert_untouched(bob, bob_conversations)
    entry = erase_entry(ada)
    assert (entry.actor, entry.address, entry.details["reason"]) == (
        superuser,
        "127.0.0.1",
        "Request by email, ticket 7",
    )


def test_the_admin_action_erases_who_it_can_and_says_who_it_could_not(client, superuser, two_customers):
    # given
    ada, bob, _, _ = two_customers
    live = transcript(customer=bob, status=ConversationStatus.ACTIVE)

    # when
    response = erase_action(client, [ada, bob], post="yes", reason="Ticket 9")

    # then
    messages = [str(message) for message in response.wsgi_request._messages]
    assert not Customer.objects.filter(pk=ada.pk).exists()
    assert Customer.objects.filter(pk=bob.pk).exists()
    assert Conversation.objects.filter(pk=live.pk).exists()
    assert any(f"open conversation (#{live.pk})" in message for message in messages)
    assert "Erased 1 customer(s) with their transcripts." in messages


def test_a_supervisor_is_neither_offered_nor_allowed_the_erasure(client, two_customers):
    # given
    ada = two_customers[0]
    supervisor = UserFactory(is_staff=True)
    supervisor.groups.add(Group.objects.get(name="Supervisors"))
    client.force_login(supervisor)

    # when
    page = client.get(CHANGELIST)
    attempt = erase_action(client, [ada], post="yes", reason="Ticket 9")

    # then
    assert page.status_code == 200
    assert "erase_customers" not in page.content.decode()
    assert attempt.status_code == 200  # the list again: the action is not one of theirs
    assert Customer.objects.filter(pk=ada.pk).exists()
    assert not AuditEntry.objects.exists()
