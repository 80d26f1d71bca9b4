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

    business_line = factory.SubFactory(BusinessLineFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    customer = factory.SubFactory(CustomerFactory)
    business_line = factory.SelfAttribute("customer.business_line")
    channel = "web"
    status = ConversationStatus.WAITING


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    seq = factory.Sequence(lambda n: n + 1)
    sender = Sender.CUSTOMER
    body = "hello"
