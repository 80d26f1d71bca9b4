"""The agent's tools through their services and selectors: canned replies, labels, customer notes, search."""

import pytest
from django.contrib.auth.models import Group

from chat.events import line_agents_group
from chat.models import Sender
from cs_platform.errors import ErrorCode
from desk import selectors, services
from desk.errors import DeskError
from desk.models import CannedReply, CustomerNote, Label
from privacy.services import customer_erase
from tests.factories import (
    AgentFactory,
    BusinessLineFactory,
    ConversationFactory,
    CustomerFactory,
    MessageFactory,
    UserFactory,
)
from tests.routing.helpers import GroupListener

pytestmark = pytest.mark.django_db


@pytest.fixture
def line():
    return BusinessLineFactory(name="Shop")


@pytest.fixture
def agent(line):
    return AgentFactory(display_name="Alice", business_lines=[line])


@pytest.fixture
def supervisor():
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="Supervisors")[0])
    return user


# Canned replies


def test_an_agent_sees_their_own_and_their_lines_replies_personal_first(line, agent):
    other_line = BusinessLineFactory()
    CannedReply.objects.create(business_line=line, shortcut="hi", title="Line hello", body="Hello!")
    CannedReply.objects.create(business_line=other_line, shortcut="hi", title="Foreign hello", body="Hi!")
    CannedReply.objects.create(agent=AgentFactory(business_lines=[line]), shortcut="hi", title="Bob's", body="Yo")
    services.canned_reply_create(user=agent.user, shortcut="/HI", title="My hello", body="Hey {customer.name}")

    found = selectors.canned_replies_search(user=agent.user)

    assert [(r.shortcut, r.title) for r in found] == [("hi", "My hello"), ("hi", "Line hello")]


def test_search_as_you_type_matches_the_shortcut_prefix_or_the_text(line, agent):
    CannedReply.objects.create(business_line=line, shortcut="refund", title="Refunds", body="Refunds take 5 days.")
    CannedReply.objects.create(business_line=line, shortcut="bye", title="Goodbye", body="Have a nice day!")

    assert [r.shortcut for r in selectors.canned_replies_search(user=agent.user, query="/ref")] == ["refund"]
    assert [r.shortcut for r in selectors.canned_replies_search(user=agent.user, query="nice")] == ["bye"]


def test_variables_are_filled_and_an_unknown_or_empty_one_stays_visible(line, agent):
    customer = CustomerFactory(business_line=line, name="Wang Fang", email="", external_id="u-7")
    conversation = ConversationFactory(customer=customer)
    variables = selectors.canned_reply_variables(conversation=conversation, agent=agent)

    text = selectors.canned_reply_render(
        "Hi {customer.name} ({customer.external_id}), {agent.name} of {business_line.name} here. "
        "Mail: {customer.email}. {order.number} {not a variable}",
        variables,
    )

    assert text == "Hi Wang Fang (u-7), Alice of Shop here. Mail: {customer.email}. {order.number} {not a variable}"


def test_a_duplicate_shortcut_or_a_bad_one_is_refused_and_stores_nothing(line, agent):
    services.canned_reply_create(user=agent.user, shortcut="hi", title="Hello", body="Hello!")

    with pytest.raises(DeskError) as duplicate:
        services.canned_reply_create(user=agent.user, shortcut="hi", title="Again", body="Again")
    with pytest.raises(DeskError) as bad:
        services.canned_reply_create(user=agent.user, shortcut="two words", title="x", body="x")

    assert (duplicate.value.code, duplicate.value.field) == (ErrorCode.INVALID_FIELD, "shortcut")
    assert (bad.value.code, bad.value.field) == (ErrorCode.INVALID_FIELD, "shortcut")
    assert list(CannedReply.objects.values_list("title", flat=True)) == ["Hello"]


def test_line_replies_are_kept_by_supervisors_only(line, agent, supervisor):
    with pytest.raises(DeskError) as refused:
        services.canned_reply_create(user=agent.user, shortcut="hi", title="Hello", body="Hi", business_line=line)
    reply = services.canned_reply_create(user=supervisor, shortcut="hi", title="Hello", body="Hi", business_line=line)
    with pytest.raises(DeskError) as edit_refused:
        services.canned_reply_update(user=agent.user, reply_id=reply.pk, body="Changed")
    services.canned_reply_update(user=supervisor, reply_id=reply.pk, body="Hello there")

    assert refused.value.code == ErrorCode.NOT_A_SUPERVISOR
    assert edit_refused.value.code == ErrorCode.PERMISSION_DENIED
    assert CannedReply.objects.get().body == "Hello there"


def test_an_agent_cannot_touch_another_agents_personal_reply(line, agent):
    bob = AgentFactory(business_lines=[line])
    reply = services.canned_reply_create(user=bob.user, shortcut="mine", title="Bob's", body="Bob's words")

    with pytest.raises(DeskError) as refused:
        services.canned_reply_delete(user=agent.user, reply_id=reply.pk)

    assert refused.value.code == ErrorCode.NOT_FOUND
    assert CannedReply.objects.filter(pk=reply.pk).exists()


# Labels


def test_labels_are_set_and_removed_within_the_conversations_line(line, agent):
    refund, vip = (
        Label.objects.create(business_line=line, name="refund"),
        Label.objects.create(business_line=line, name="vip"),
    )
    conversation = ConversationFactory(customer=CustomerFactory(business_line=line))

    services.conversation_labels_set(agent_id=agent.pk, conversation_id=conversation.pk, label_ids=[vip.pk, refund.pk])
    after_set = [label.name for label in selectors.labels_of_conversation(conversation_id=conversation.pk)]
    services.conversation_labels_set(agent_id=agent.pk, conversation_id=conversation.pk, label_ids=[vip.pk])

    assert after_set == ["refund", "vip"]
    assert [label.name for label in selectors.labels_of_conversation(conversation_id=conversation.pk)] == ["vip"]


def test_a_foreign_label_or_conversation_is_refused_and_changes_nothing(line, agent):
    foreign_line = BusinessLineFactory()
    foreign_label = Label.objects.create(business_line=foreign_line, name="spam")
    own = ConversationFactory(customer=CustomerFactory(business_line=line))
    foreign = ConversationFactory(customer=CustomerFactory(business_line=foreign_line))

    with pytest.raises(DeskError) as wrong_label:
        services.conversation_labels_set(agent_id=agent.pk, conversation_id=own.pk, label_ids=[foreign_label.pk])
    with pytest.raises(DeskError) as wrong_conversation:
        services.conversation_labels_set(agent_id=agent.pk, conversation_id=foreign.pk, label_ids=[foreign_label.pk])

    assert (wrong_label.value.code, wrong_conversation.value.code) == (ErrorCode.INVALID_FIELD, ErrorCode.NOT_FOUND)
    assert list(foreign_label.conversations.all()) == []


# Customer notes


def test_a_note_is_seen_by_every_agent_of_the_line_and_no_other(line, agent):
    colleague = AgentFactory(display_name="Bob", business_lines=[line])
    stranger = AgentFactory(business_lines=[BusinessLineFactory()])
    customer = CustomerFactory(business_line=line)

    services.customer_note_add(agent_id=agent.pk, customer_id=customer.pk, body="  Prefers email.  ")
    with pytest.raises(DeskError) as refused:
        services.customer_note_add(agent_id=stranger.pk, customer_id=customer.pk, body="Hi")

    notes = selectors.customer_notes(agent_id=colleague.pk, customer_id=customer.pk)
    assert [(n.body, n.author.display_name) for n in notes] == [("Prefers email.", "Alice")]
    assert selectors.customer_notes(agent_id=stranger.pk, customer_id=customer.pk) is None
    assert refused.value.code == ErrorCode.NOT_FOUND
    assert CustomerNote.objects.count() == 1


def test_an_empty_note_is_refused(line, agent):
    customer = CustomerFactory(business_line=line)
    with pytest.raises(DeskError) as refused:
        services.customer_note_add(agent_id=agent.pk, customer_id=customer.pk, body="   ")
    assert refused.value.code == ErrorCode.INVALID_FIELD
    assert CustomerNote.objects.count() == 0


# Search


def test_a_query_becomes_prefixes_and_cjk_bigrams():
    query = selectors.search_query_parse("我想退货 refund it's 单")

    assert query == selectors.SearchQuery(
        tsquery="'我想' & '想退' & '退货' & '单':* & 'refund':* & 'it''s':*", cjk_runs=("我想退货", "单")
    )
    assert selectors.search_query_parse("  :* & ") is None


def search(agent, text):
    query = selectors.search_query_parse(text)
    return [
        (hit.conversation.pk, hit.snippet) for hit in selectors.conversations_search(agent_id=agent.pk, query=query)
    ]


def test_chinese_text_is_found_by_any_part_of_it(line, agent):
    chinese = ConversationFactory(
        customer=CustomerFactory(business_line=line), transcript=["你好", "我想退货，订单号是12345"]
    )
    ConversationFactory(customer=CustomerFactory(business_line=line), transcript=["货物退回来了"])

    assert search(agent, "退货") == [(chinese.pk, "我想退货，订单号是12345")]
    assert search(agent, "想退货") == [(chinese.pk, "我想退货，订单号是12345")]
    assert search(agent, "订单号 12345") == [(chinese.pk, "我想退货，订单号是12345")]
    assert search(agent, "货退") == []  # both bigrams' characters are there, not in this order


def test_words_are_prefixes_and_customers_match_by_name_email_and_external_id(line, agent):
    customer = CustomerFactory(business_line=line, name="Wang Fang", email="fang@example.com", external_id="u-1001")
    conversation = ConversationFactory(customer=customer, transcript=["Where is my parcel?"])

    assert search(agent, "parc") == [(conversation.pk, "Where is my parcel?")]
    assert search(agent, "wang") == [(conversation.pk, "")]
    assert search(agent, "fang@example.com") == [(conversation.pk, "")]
    assert search(agent, "u-1001") == [(conversation.pk, "")]


def test_system_events_are_not_searched_and_internal_notes_are(line, agent):
    conversation = ConversationFactory(customer=CustomerFactory(business_line=line))
    MessageFactory(conversation=conversation, seq=1, sender=Sender.SYSTEM, body="Alice joined", event="assigned")
    MessageFactory(
        conversation=conversation, seq=2, sender=Sender.AGENT, agent=agent, body="VIP customer", is_internal_note=True
    )

    assert search(agent, "joined") == []
    assert search(agent, "vip") == [(conversation.pk, "VIP customer")]


def test_a_conversation_of_another_line_is_not_found(line, agent):
    foreign = BusinessLineFactory()
    ConversationFactory(customer=CustomerFactory(business_line=foreign, name="Zhang Wei"), transcript=["我想退货"])

    assert search(agent, "退货") == []
    assert search(agent, "zhang") == []


def test_search_uses_the_indexes(line, agent):
    from django.db import connection

    ConversationFactory(customer=CustomerFactory(business_line=line), transcript=["我想退货"])
    query = selectors.search_query_parse("退货")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"EXPLAIN SELECT m.id FROM chat_message m WHERE {selectors.MESSAGE_INDEXED} AND "
            f"{selectors.MESSAGE_VECTOR} @@ to_tsquery('simple', %s)",
            [query.tsquery],
        )
        message_plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(
            f"EXPLAIN SELECT cu.id FROM customers_customer cu WHERE {selectors.CUSTOMER_VECTOR} @@ "
            "to_tsquery('simple', %s)",
            [query.tsquery],
        )
        customer_plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "desk_message_search_idx" in message_plan
    assert "desk_customer_search_idx" in customer_plan


def test_erasing_a_customer_erases_the_notes_about_them(line, agent):
    customer = CustomerFactory(business_line=line)
    services.customer_note_add(agent_id=agent.pk, customer_id=customer.pk, body="Lives at 1 Main Street.")

    customer_erase(customer_id=customer.pk, reason="Request #7")

    assert not CustomerNote.objects.exists()


def test_a_note_is_changed_or_removed_by_its_author_only_and_the_line_hears_each_change(
    line, agent, django_capture_on_commit_callbacks
):
    colleague = AgentFactory(display_name="Bob", business_lines=[line])
    stranger = AgentFactory(business_lines=[BusinessLineFactory()])
    customer = CustomerFactory(business_line=line)
    note = services.customer_note_add(agent_id=agent.pk, customer_id=customer.pk, body="Prefers email.")
    listener = GroupListener([line_agents_group(line.pk)])
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.customer_note_update(
                agent_id=agent.pk, customer_id=customer.pk, note_id=note.pk, body=" Prefers phone. "
            )
        changed = listener.frames_until_marker()
        for who, expected in ((colleague, ErrorCode.PERMISSION_DENIED), (stranger, ErrorCode.NOT_FOUND)):
            with pytest.raises(DeskError) as refused:
                services.customer_note_delete(agent_id=who.pk, customer_id=customer.pk, note_id=note.pk)
            assert refused.value.code == expected
        with pytest.raises(DeskError) as blank:
            services.customer_note_update(agent_id=agent.pk, customer_id=customer.pk, note_id=note.pk, body=" ")
        assert CustomerNote.objects.get().body == "Prefers phone."
        with django_capture_on_commit_callbacks(execute=True):
            services.customer_note_delete(agent_id=agent.pk, customer_id=customer.pk, note_id=note.pk)
        removed = listener.frames_until_marker()
    finally:
        listener.close()

    assert blank.value.code == ErrorCode.INVALID_FIELD
    assert [(f["type"], f["customer_id"], [n["body"] for n in f["notes"]]) for f in changed] == [
        ("customer.notes", customer.pk, ["Prefers phone."])
    ]
    assert removed == [{"type": "customer.notes", "customer_id": customer.pk, "notes": []}]
    assert not CustomerNote.objects.exists()


def test_labels_are_heard_by_the_line_the_conversation_is_in_now(line, agent, django_capture_on_commit_callbacks):
    billing = BusinessLineFactory()
    moved = ConversationFactory(customer=CustomerFactory(business_line=line), business_line=billing)
    disputed = Label.objects.create(business_line=billing, name="disputed")
    colleague = AgentFactory(business_lines=[billing])
    listener = GroupListener([line_agents_group(line.pk), line_agents_group(billing.pk)])
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.conversation_labels_set(agent_id=colleague.pk, conversation_id=moved.pk, label_ids=[disputed.pk])
        events = listener.events_until_marker()
    finally:
        listener.close()

    frames = [event["frame"] for event in events if event["type"] == "chat.frame"]
    assert frames == [
        {
            "type": "conversation.labels",
            "conversation_id": moved.pk,
            "labels": [{"id": disputed.pk, "name": "disputed"}],
        }
    ]
