"""factory-boy factories for the domain model; tests build state with these and with services."""

import factory
from django.contrib.auth import get_user_model

from agents.models import Agent, Presence
from chat.models import Conversation, ConversationStatus, Message, Sender
from customers.models import Customer
from routing.models import BusinessLine


class BusinessLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessLine

    name = factory.Sequence(lambda n: f"Business line {n}")
    key = factory.Sequence(lambda n: f"line-{n}")
    identity_secret = "test-identity-secret"
    allowed_origins = "http://testserver\nhttp://127.0.0.1"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw")


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    display_name = factory.Sequence(lambda n: f"Agent {n}")
    capacity = 3
    presence = Presence.OFFLINE

    @factory.post_generation
    def business_lines(self, create, extracted, **kwargs):
        if create and extracted:
            self.business_lines.set(extracted)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        skip_postgeneration_save = True

    business_line = factory.SubFactory(BusinessLineFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")

    @factory.post_generation
    def last_seen(self, create, extracted, **kwargs):
        """`last_seen=DATETIME`: a customer last seen then. The column is stamped on insert and by the session
        service with the time of day, so a customer not seen for weeks (retention) is made by writing it."""
        if not create or extracted is None:
            return
        Customer.objects.filter(pk=self.pk).update(last_seen_at=extracted)
        self.last_seen_at = extracted


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation
        skip_postgeneration_save = True

    customer = factory.SubFactory(CustomerFactory)
    business_line = factory.SelfAttribute("customer.business_line")
    channel = "web"
    status = ConversationStatus.WAITING

    @factory.post_generation
    def transcript(self, create, extracted, **kwargs):
        """`transcript=["hello", ...]`: customer messages seq 1..n, and `last_seq` n, as the send service leaves
        them. For a conversation already in a given state (closed, missed...) with messages, where a test is about
        something else: through the services, each state would take a whole chat and, for missed, the sweep."""
        if not create or not extracted:
            return
        for seq, body in enumerate(extracted, start=1):
            MessageFactory(conversation=self, seq=seq, body=body)
        self.last_seq = len(extracted)
        self.save(update_fields=["last_seq"])


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    seq = factory.Sequence(lambda n: n + 1)
    sender = Sender.CUSTOMER
    body = "hello"


LONG_BODY = "\N{GRINNING FACE}" * 3996  # with a 4-character prefix: 4,000 characters, about 16,000 bytes


def long_chat_write(*, customer_id: int, conversation_id: int, count: int) -> None:
    """`count` customer messages of 4,000 characters ("00 😀😀…", "01 😀😀…", …) through the send service, so
    sequence numbers and counters are what a real chat has; 66 of them are over 1 MiB."""
    from chat import services
    from chat.permissions import Participant

    writer = Participant(kind="customer", id=customer_id)
    for n in range(count):
        services.message_send(
            participant=writer, conversation_id=conversation_id, client_msg_id=f"long-{n}", body=f"{n:02d} {LONG_BODY}"
        )
