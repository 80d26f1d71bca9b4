"""The small things customers notice (issue 14, item 5), in Chromium and in both languages (item 7): on the embedding
site's closed launcher an unread badge and a tone (none once muted, none when the site says `data-sound="off"`);
read ticks; a banner while reconnecting; the leave-a-message form when nobody can answer; and, on a phone's H5 page,
the queue position with its estimate in words, "the agent is typing", a tone while the tab is hidden, the days
between messages (after a reload too), a rating with a comment after the close and a new conversation after it.
The widget's size budget is tests/test_widget_size.py."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from chat.models import Conversation, ConversationStatus, Message, Sender
from tests.browser.axe import accessibility_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGUAGES = ["en", "zh-hans"]

TEXT = {
    "en": {
        "open": "Open the chat",
        "open_1_unread": "Open the chat (1 unread)",
        "close": "Close the chat",
        "frame": "Chat with us",
        "minimize": "Close the chat window",
        "sound": "Sound for new messages",
        "start": "Start chat",
        "message_box": "Type your message",
        "send": "Send",
        "chatting": "Chatting with Alice",
        "sent": "Sent",
        "seen": "Seen",
        "leave": "Leave us a message",
        "leave_text": "Nobody is available to chat right now. Leave a message and we will get back to you by email.",
        "your_message": "Your message",
        "send_message": "Send message",
        "left": "Your message is with our team. Need anything else?",
        "new_chat": "Start a new chat",
        "wait_anyway": "Wait for an agent instead",
        "queue_nobody_online": "You are number 1 in the queue · no agents online yet",
        "missed_text": "Sorry, nobody could answer in time. Leave a message and we will get back to you by email.",
        "missed_event": "Sorry, nobody is free right now. Leave us a message and we will get back to you.",
        "lost": "Connection lost. Reconnecting…",
        "queue": "You are number 1 in the queue · about 5 minutes",
        "typing": "Alice is typing…",
        "today": "Today",
        "yesterday": "Yesterday",
        "closed": "The agent closed the conversation.",
        "rating": "How was your chat?",
        "four_stars": "4 stars",
        "comment": "Comment",
        "send_rating": "Send rating",
        "thanks": "Thanks for your feedback!",
        "title": "Acme Shop · Chat",
    },
    "zh-hans": {
        "open": "打开在线客服",
        "open_1_unread": "打开在线客服（1 条未读）",
        "close": "关闭在线客服",
        "frame": "联系我们",
        "minimize": "关闭聊天窗口",
        "sound": "新消息提示音",
        "start": "开始咨询",
        "message_box": "输入消息",
        "send": "发送",
        "chatting": "正在与 Alice 对话",
        "sent": "已发送",
        "seen": "已读",
        "leave": "给我们留言",
        "leave_text": "目前没有客服在线。请留言，我们会通过邮件回复您。",
        "your_message": "留言内容",
        "send_message": "提交留言",
        "left": "您的留言已转交给我们的团队。还有其他需要帮助的吗？",
        "new_chat": "发起新会话",
        "wait_anyway": "继续等待客服",
        "queue_nobody_online": "您目前排在第 1 位 · 暂时没有客服在线",
        "missed_text": "抱歉，暂时没有客服能及时接待。请留言，我们会通过邮件回复您。",
        "missed_event": "抱歉，目前没有空闲的客服。请给我们留言，我们会尽快回复您。",
        "lost": "连接已断开，正在重新连接…",
        "queue": "您目前排在第 1 位 · 预计约 5 分钟",
        "typing": "Alice 正在输入…",
        "today": "今天",
        "yesterday": "昨天",
        "closed": "客服已结束会话。",
        "rating": "您对本次服务满意吗？",
        "four_stars": "4 星",
        "comment": "评价",
        "send_rating": "提交评价",
        "thanks": "感谢您的反馈！",
        "title": "Acme Shop · 在线咨询",
    },
}

# Counts the tones the page starts (static/shared/tone.js: one oscillator per tone), in every frame of the page.
COUNT_TONES = """
window.__tones = 0;
const realStart = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__tones += 1;
  return realStart.apply(this, args);
};
"""

# A tab the test can hide and show (a headless browser's tab is always visible).
HIDEABLE_TAB = """
Object.defineProperty(Document.prototype, "visibilityState", {
  configurable: true, get: () => (window.__hidden ? "hidden" : "visible"),
});
Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => Boolean(window.__hidden) });
window.__setHidden = (hidden) => {
  window.__hidden = hidden;
  document.dispatchEvent(new Event("visibilitychange"));
};
"""

READ_TICKS = "receipt => getComputedStyle(receipt, '::before').content"


def site_with_widget(other_site, server, demo_line, lang: str, extra: str = "") -> str:
    """The business line's own site, its script tag in the given language; allowed to embed the chat."""
    url = other_site(
        f"<!doctype html><html lang='{lang}'><meta charset='utf-8'><title>Shop</title><h1>Shop</h1>"
        f'<script src="{server.url}/static/widget/widget.js" data-business-line="demo" data-lang="{lang}" {extra} '
        "defer></script>"
    )
    demo_line.allowed_origins = f"{server.url}\n{url.rstrip('/')}"
    demo_line.save()
    return url


def chat_with_alice(page: Page, text: dict[str, str], agent) -> tuple[FrameLocator, int]:
    """Opens the launcher, starts a chat, and waits until Alice has it."""
    page.get_by_role("button", name=text["open"], exact=True).click()
    chat = page.frame_locator(f"iframe[title='{text['frame']}']")
    chat.get_by_role("button", name=text["start"]).click()
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]
    expect(chat.locator("#status")).to_have_text(text["chatting"])
    return chat, conversation_id


# What this item added to the chat: the sound switch, the days, the ticks.
ADDED_PARTS = ("#sound", ".day", ".receipt")


def assert_added_parts_accessible(page: Page) -> None:
    """axe-core finds no serious or critical fault in what this item added (the widget as a whole is audited by the
    accessibility tests, issue 14 item 6)."""
    faults = [
        f"{violation['id']}: {node}"
        for violation in accessibility_violations(page)
        for node in violation["nodes"]
        if any(part in node for part in ADDED_PARTS)
    ]
    assert faults == []


def tones(page: Page) -> int:
    return page.evaluate("window.__tones")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_closed_launcher_shows_unread_and_chimes_until_muted_and_receipts_tick(
    page, server, demo_line, alice, scripted_agent, other_site, screenshot, lang
):
    # given: the line's site in this language, an agent online, and a customer chatting with her
    text = TEXT[lang]
    page.add_init_script(COUNT_TONES)
    page.goto(site_with_widget(other_site, server, demo_line, lang))
    agent = scripted_agent(alice)
    agent.go_online()
    chat, conversation_id = chat_with_alice(page, text, agent)

    # when: the customer writes
    chat.get_by_role("textbox", name=text["message_box"]).fill("Where is my parcel?")
    chat.get_by_role("textbox", name=text["message_box"]).press("Enter")

    # then: one tick, "sent" for screen readers
    received = agent.expect("message.new", lambda frame: frame["message"]["sender"] == "customer")["message"]
    receipt = chat.locator("#messages .msg-customer .receipt")
    expect(receipt).to_have_text(text["sent"])
    expect(receipt).to_have_attribute("data-receipt", "sent")
    assert "✓" in receipt.evaluate(READ_TICKS) and "✓✓" not in receipt.evaluate(READ_TICKS)

    # when: the agent reads it
    agent.send({"type": "read", "conversation_id": conversation_id, "seq": received["seq"]})

    # then: two ticks, "seen"
    expect(receipt).to_have_text(text["seen"])
    expect(receipt).to_have_attribute("data-receipt", "seen")
    assert "✓✓" in receipt.evaluate(READ_TICKS)
    assert tones(page) == 0

    # when: the customer closes the panel and the agent answers
    chat.get_by_role("button", name=text["minimize"]).click()
    expect(page.get_by_role("button", name=text["open"], exact=True)).to_be_visible()
    agent.say(conversation_id, "It arrives tomorrow.")

    # then: the launcher counts it, in the page's language, and one tone plays
    launcher = page.get_by_role("button", name=text["open_1_unread"])
    expect(launcher).to_be_visible()
    expect(page.locator("#cs-widget .badge")).to_have_text("1")
    page.wait_for_function("window.__tones >= 1")
    screenshot(page, f"small-things-unread-{lang}")

    # when: the customer opens it, mutes the sound, closes it, and the agent writes again
    launcher.click()
    expect(chat.locator("#messages > li").last).to_contain_text("It arrives tomorrow.")
    sound = chat.get_by_role("button", name=text["sound"])
    expect(sound).to_have_attribute("aria-pressed", "true")
    sound.click()
    expect(sound).to_have_attribute("aria-pressed", "false")
    assert_added_parts_accessible(page)
    chat.get_by_role("button", name=text["minimize"]).click()
    expect(page.get_by_role("button", name=text["open"], exact=True)).to_be_visible()
    agent.say(conversation_id, "Anything else?")

    # then: the badge says so, silently (the frame asks for a tone before it reports the count)
    expect(page.get_by_role("button", name=text["open_1_unread"])).to_be_visible()
    assert tones(page) == 1

    # when: the customer comes back to the site later
    page.reload()
    page.get_by_role("button", name=re.compile(f"^{re.escape(text['open'])}")).click()

    # then: the sound is still off
    expect(chat.get_by_role("button", name=text["sound"])).to_have_attribute("aria-pressed", "false")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_site_that_says_data_sound_off_gets_no_tone_and_no_switch(
    page, server, demo_line, alice, scripted_agent, other_site, lang
):
    # given: a site whose script tag turns the sound off, and a customer chatting with an agent
    text = TEXT[lang]
    page.add_init_script(COUNT_TONES)
    page.goto(site_with_widget(other_site, server, demo_line, lang, extra='data-sound="off"'))
    agent = scripted_agent(alice)
    agent.go_online()
    chat, conversation_id = chat_with_alice(page, text, agent)
    expect(chat.locator("#sound")).to_be_hidden()

    # when: the panel is closed and the agent writes
    chat.get_by_role("button", name=text["minimize"]).click()
    expect(page.get_by_role("button", name=text["open"], exact=True)).to_be_visible()
    agent.say(conversation_id, "Hello?")

    # then: the badge, and no tone
    expect(page.get_by_role("button", name=text["open_1_unread"])).to_be_visible()
    assert tones(page) == 0


@pytest.mark.parametrize("lang", LANGUAGES)
def test_with_nobody_online_the_widget_offers_the_form_and_says_when_it_reconnects(
    page, server, demo_line, other_site, screenshot, lang
):
    # given: nobody online
    text = TEXT[lang]
    page.goto(site_with_widget(other_site, server, demo_line, lang))

    # when
    page.get_by_role("button", name=text["open"], exact=True).click()

    # then: the leave-a-message form, in the page's language
    chat = page.frame_locator(f"iframe[title='{text['frame']}']")
    expect(chat.get_by_role("heading", name=text["leave"])).to_be_visible()
    expect(chat.locator("#leave-text")).to_have_text(text["leave_text"])

    # when: the connection is lost
    server.stop()

    # then: a banner says it is reconnecting, gone once it is back
    expect(chat.locator("#banner")).to_have_text(text["lost"])
    screenshot(page, f"small-things-reconnecting-{lang}")
    server.start()
    expect(chat.locator("#banner")).to_be_hidden()

    # when: the customer leaves a message
    chat.get_by_role("textbox", name=text["your_message"]).fill("Please call me back.")
    chat.get_by_role("button", name=text["send_message"]).click()

    # then
    expect(chat.locator("#ended-text")).to_have_text(text["left"])
    expect(chat.get_by_role("button", name=text["new_chat"])).to_be_visible()
    left = Message.objects.select_related("conversation").get(sender=Sender.CUSTOMER)
    assert (left.body, left.conversation.status) == ("Please call me back.", ConversationStatus.MISSED)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_chat_nobody_answers_in_time_offers_the_form(page, server, demo_line, other_site, routing_sweeps, lang):
    # given: a line that gives up after a second, and a customer who chose to wait anyway
    text = TEXT[lang]
    demo_line.wait_timeout = 1
    page.goto(site_with_widget(other_site, server, demo_line, lang))
    page.get_by_role("button", name=text["open"], exact=True).click()
    chat = page.frame_locator(f"iframe[title='{text['frame']}']")
    chat.get_by_role("button", name=text["wait_anyway"]).click()
    chat.get_by_role("button", name=text["start"]).click()
    expect(chat.locator("#status")).to_have_text(text["queue_nobody_online"])

    # when: the timeouts run
    routing_sweeps()

    # then: the transcript and the form say nobody could answer, in the page's language
    expect(chat.locator("#messages .msg-system.event-missed")).to_have_text(text["missed_event"])
    expect(chat.get_by_role("heading", name=text["leave"])).to_be_visible()
    expect(chat.locator("#leave-text")).to_have_text(text["missed_text"])

    # when
    chat.get_by_role("textbox", name=text["your_message"]).fill("Call me, please.")
    chat.get_by_role("button", name=text["send_message"]).click()

    # then
    expect(chat.locator("#ended-text")).to_have_text(text["left"])
    assert Message.objects.get(sender=Sender.CUSTOMER).body == "Call me, please."


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def written_date(day: date, lang: str) -> str:
    """The date as the language writes it (Intl's medium date style)."""
    if lang == "zh-hans":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day:%b} {day.day}, {day.year}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_on_a_phone_the_h5_page_shows_queue_typing_days_rating_and_a_new_chat(
    phone, server, demo_line, alice, scripted_agent, screenshot, lang
):
    # given: Alice online but with no free seat, so the customer waits; the phone's tab can be hidden
    text = TEXT[lang]
    alice.capacity = 0
    alice.save()
    agent = scripted_agent(alice)
    agent.go_online()
    phone.add_init_script(COUNT_TONES)
    phone.add_init_script(HIDEABLE_TAB)

    # when: the customer writes on the H5 page
    phone.goto(f"{server.url}/h5/?business_line=demo&lang={lang}")
    phone.get_by_role("textbox", name=text["message_box"]).fill("Is anyone there?")
    phone.get_by_role("button", name=text["send"], exact=True).click()

    # then: the queue position and an estimate, in words
    expect(phone.locator("#status")).to_have_text(text["queue"])
    screenshot(phone, f"small-things-h5-queue-{lang}")

    # when: Alice gets a free seat
    alice.capacity = 1
    alice.save()
    agent.go_online()
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]

    # then: she answers, and her typing shows
    expect(phone.locator("#status")).to_have_text(text["chatting"])
    agent.send({"type": "typing", "conversation_id": conversation_id, "typing": True})
    expect(phone.locator("#typing")).to_have_text(text["typing"])
    agent.say(conversation_id, "I am here.")
    expect(phone.locator("#typing")).to_be_hidden()
    expect(phone.locator("#messages .day")).to_have_text([text["today"]])
    assert tones(phone) == 0

    # when: the customer switches to another tab and Alice writes
    phone.evaluate("window.__setHidden(true)")
    agent.say(conversation_id, "Still there?")

    # then: the tab's title counts it, and one tone plays
    expect(phone).to_have_title(f"(1) {text['title']}")
    phone.wait_for_function("window.__tones === 1")
    phone.evaluate("window.__setHidden(false)")
    expect(phone).to_have_title(text["title"])

    # when: the chat's first messages were written days ago (the greeting three days back, the question yesterday),
    # and the page is reloaded
    greeting, question = Message.objects.filter(conversation_id=conversation_id).order_by("seq")[:2]
    three_days_ago = datetime.now(UTC).date() - timedelta(days=3)
    Message.objects.filter(id=greeting.id).update(created_at=noon(three_days_ago))
    Message.objects.filter(id=question.id).update(created_at=noon(datetime.now(UTC).date() - timedelta(days=1)))
    phone.reload()

    # then: each day is named above its first message: the date, then "yesterday", then "today"
    expect(phone.locator("#status")).to_have_text(text["chatting"])
    expect(phone.locator("#messages .day")).to_have_text(
        [written_date(three_days_ago, lang), text["yesterday"], text["today"]]
    )
    expect(phone.locator("#messages > li.starts-day").nth(1)).to_contain_text("Is anyone there?")
    screenshot(phone, f"small-things-h5-days-{lang}")
    assert_added_parts_accessible(phone)

    # when: Alice ends the chat
    agent.request({"type": "conversation.close", "conversation_id": conversation_id}, "conversation.state")

    # then: the customer rates it with a comment
    expect(phone.locator("#messages .msg-system").last).to_contain_text(text["closed"])
    expect(phone.get_by_role("heading", name=text["rating"])).to_be_visible()
    phone.get_by_role("radio", name=text["four_stars"]).click()
    phone.get_by_label(text["comment"]).fill("Quick and kind")
    screenshot(phone, f"small-things-h5-rating-{lang}")
    phone.get_by_role("button", name=text["send_rating"]).click()
    expect(phone.locator("#ended-text")).to_have_text(text["thanks"])
    rated = Conversation.objects.get(id=conversation_id)
    assert (rated.rating, rated.rating_comment) == (4, "Quick and kind")

    # when: the customer starts a new conversation
    phone.get_by_role("button", name=text["new_chat"]).click()
    phone.get_by_role("textbox", name=text["message_box"]).fill("One more thing")
    phone.get_by_role("button", name=text["send"], exact=True).click()

    # then: a second conversation, which Alice gets, shown on its own
    second = agent.expect("conversation.assigned", lambda frame: frame["conversation"]["id"] != conversation_id)
    expect(phone.locator("#status")).to_have_text(text["chatting"])
    expect(phone.locator("#messages")).not_to_contain_text("I am here.")
    expect(phone.locator("#messages")).to_contain_text("One more thing")
    assert Conversation.objects.get(id=second["conversation"]["id"]).status == ConversationStatus.ACTIVE
