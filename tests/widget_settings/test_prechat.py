"""The pre-chat form, per business line: its answers are checked against the line's form, land on the customer
and become the conversation's first customer message; the widget session carries the form and the appearance."""

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from chat.errors import ChatError
from chat.lifecycle import conversation_start
from chat.models import Sender
from routing.models import PrechatMode
from tests.factories import BusinessLineFactory, CustomerFactory

pytestmark = pytest.mark.django_db

REQUIRED, OPTIONAL, OFF = PrechatMode.REQUIRED, PrechatMode.OPTIONAL, PrechatMode.OFF


@pytest.fixture
def line():
    return BusinessLineFactory(
        prechat_name=REQUIRED, prechat_email=OPTIONAL, prechat_phone=OPTIONAL, prechat_question=REQUIRED
    )


def customer_messages(conversation):
    return list(conversation.messages.filter(sender=Sender.CUSTOMER).values_list("body", flat=True))


def test_answers_land_on_the_customer_and_as_the_first_message(line):
    customer = CustomerFactory(business_line=line, name="", email="")

    conversation, created = conversation_start(
        customer=customer,
        channel="web",
        prechat={"name": " Ada ", "email": "ada@example.com", "phone": "+86 138 0000 0000", "question": "Refund?"},
    )

    assert created
    customer.refresh_from_db()
    assert (customer.name, customer.email, customer.phone) == ("Ada", "ada@example.com", "+86 138 0000 0000")
    assert customer_messages(conversation) == ["Name: Ada\nEmail: ada@example.com\nPhone: +86 138 0000 0000\n\nRefund?"]
    assert list(conversation.messages.values_list("sender", "event")) == [
        ("system", "greeting"),
        ("customer", ""),
    ]


def test_the_first_messages_labels_are_in_the_customers_language(line):
    # given: a customer whose widget speaks Chinese, starting from a request in English
    customer = CustomerFactory(business_line=line, name="", email="", language="zh-hans")

    # when
    conversation, _ = conversation_start(
        customer=customer, channel="h5", prechat={"name": "阿达", "email": "ada@example.com", "question": "能退款吗？"}
    )

    # then: the message is theirs, labelled as their chat reads
    with translation.override("zh-hans"):
        name, email = gettext("Name"), gettext("Email")
    assert name != "Name"
    assert customer_messages(conversation) == [f"{name}: 阿达\n{email}: ada@example.com\n\n能退款吗？"]


def test_only_the_question_asked_becomes_the_first_message_as_is():
    line = BusinessLineFactory(prechat_question=OPTIONAL)
    conversation, _ = conversation_start(
        customer=CustomerFactory(business_line=line), channel="web", prechat={"question": "Do you ship to Mars?"}
    )
    assert customer_messages(conversation) == ["Do you ship to Mars?"]


def test_a_required_answer_already_known_of_the_customer_need_not_be_given_again(line):
    customer = CustomerFactory(business_line=line, name="Ada")
    conversation, _ = conversation_start(customer=customer, channel="web", prechat={"question": "Refund?"})
    assert customer_messages(conversation) == ["Refund?"]


@pytest.mark.parametrize(
    ("prechat", "message", "field"),
    [
        ({"question": "Refund?"}, "prechat.name is required", "prechat.name"),
        ({"name": "Ada"}, "prechat.question is required", "prechat.question"),
        (
            {"name": "Ada", "question": "?", "email": "not-an-address"},
            "prechat.email is not an email address",
            "prechat.email",
        ),
        ({"name": "Ada", "question": "?", "phone": "call me"}, "prechat.phone is not a phone number", "prechat.phone"),
        ({"name": 7, "question": "?"}, "prechat.name must be a string", "prechat.name"),
        ({"name": "x" * 201, "question": "?"}, "prechat.name is longer than 200 characters", "prechat.name"),
        ({"name": "Ada", "question": "?", "company": "Acme"}, "prechat: not asked here: company", "prechat.company"),
    ],
)
def test_bad_answers_are_refused_and_change_nothing(line, prechat, message, field):
    customer = CustomerFactory(business_line=line, name="", email="")

    with pytest.raises(ChatError) as refusal:
        conversation_start(customer=customer, channel="web", prechat=prechat)

    assert (refusal.value.code, refusal.value.message, refusal.value.field) == ("invalid_field", message, field)
    customer.refresh_from_db()
    assert (customer.name, customer.email, customer.phone) == ("", "", "")
    assert customer.conversations.count() == 0


def test_a_line_without_a_form_starts_as_before():
    line = BusinessLineFactory()
    conversation, created = conversation_start(customer=CustomerFactory(business_line=line), channel="web")
    assert created and customer_messages(conversation) == []


def test_the_widget_session_carries_the_appearance_and_the_form():
    line = BusinessLineFactory(
        name="Acme Shop",
        allowed_origins="https://shop.example",
        widget_color="#0f766e",
        widget_position="left",
        widget_title="Acme help",
        team_name="The Acme team",
        launcher_text="Chat with us",
        greeting="Hi!",
        prechat_email=REQUIRED,
    )
    response = Client().post(
        "/api/widget/session/",
        {"business_line": line.key, "channel": "web"},
        content_type="application/json",
        HTTP_ORIGIN="https://shop.example",
    )
    body = response.json()
    assert (body["appearance"], body["prechat_form"]) == (
        {
            "color": "#0f766e",
            "text_color": "#ffffff",
            "accent_color": "#0f766e",
            "position": "left",
            "title": "Acme help",
            "greeting": "Hi!",
            "team_name": "The Acme team",
            "team_picture": None,
            "launcher_text": "Chat with us",
        },
        {"name": "off", "email": "required", "phone": "off", "question": "off"},
    )
