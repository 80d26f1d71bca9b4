"""The customer's side is accessible (issue 14, item 6; docs/accessibility.md), in English and Chinese: axe-core finds
no serious or critical violation in any state a customer sees, on the demo site's widget and on the H5 page; the
widget works from the keyboard alone (into the chat and back to the launcher, focus kept inside the full-screen
panel and the end-chat question); screen readers get names, roles, live regions and errors tied to their fields;
text on a business line's own colour stays readable, light or dark."""

from __future__ import annotations

import gettext as gettext_module
import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Frame, FrameLocator, Locator, Page, expect

from chat.models import Conversation
from cs_platform.stack import BASE_DIR
from customers.contrast import contrast_ratio
from tests.browser.axe import assert_accessible
from tests.browser.content_policy import watch_content_security_policy
from tests.browser.test_widget import one_pixel_png

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGUAGES = ["en", "zh-hans"]
BROWSER_LOCALES = {"en": "en-US", "zh-hans": "zh-CN"}
CATALOGS = {
    domain: gettext_module.translation(domain, localedir=BASE_DIR / "locale", languages=["zh_Hans"])
    for domain in ("djangojs", "django")
}


def said(language: str, text: str, plural: str | None = None, count: int = 1) -> str:
    """The words the page shows for `text` in this language (the project's own catalogs, JavaScript's first)."""
    if language == "en":
        return text if plural is None or count == 1 else plural
    for catalog in CATALOGS.values():
        translated = catalog.gettext(text) if plural is None else catalog.ngettext(text, plural, count)
        if translated not in (text, plural):
            return translated
    raise AssertionError(f"no Chinese for {text!r}")


def watched(browser: Browser, language: str, **options) -> Iterator[Page]:
    """A page in a browser asking for this language; script errors, dialogs and CSP violations fail the test."""
    context = browser.new_context(locale=BROWSER_LOCALES[language], **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    watch_content_security_policy(page, problems)
    yield page
    context.close()
    assert problems == []


@pytest.fixture(params=LANGUAGES)
def language(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def desk(browser: Browser, language: str) -> Iterator[Page]:
    """A desktop browser in the test's language."""
    yield from watched(browser, language, viewport={"width": 1280, "height": 800})


@pytest.fixture
def handset(browser: Browser, language: str) -> Iterator[Page]:
    """A phone (touch screen, 390 pixels wide) in the test's language."""
    yield from watched(browser, language, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)


@pytest.fixture
def narrow(browser: Browser, language: str) -> Iterator[Page]:
    """A phone-sized window driven by a keyboard: the widget's panel opens full-screen."""
    yield from watched(browser, language, viewport={"width": 390, "height": 844})


def chat_frame(page: Page, language: str) -> FrameLocator:
    return page.frame_locator(f"iframe[title='{said(language, 'Chat with us')}']")


def launcher(page: Page, language: str):
    return page.get_by_role("button", name=re.compile(re.escape(said(language, "Open the chat"))))


def open_widget(page: Page, server_url: str, language: str) -> FrameLocator:
    page.goto(f"{server_url}/")
    launcher(page, language).click()
    return chat_frame(page, language)


def frame_of(page: Page, language: str) -> Frame:
    frame = page.locator(f"iframe[title='{said(language, 'Chat with us')}']").element_handle().content_frame()
    assert frame is not None
    return frame


def focused_in(frame: Frame) -> str | None:
    """The id (or first class) of the focused control in this frame, None while the frame has not the focus."""
    return frame.evaluate(
        """() => document.hasFocus() && document.activeElement !== document.body
            ? document.activeElement.id || document.activeElement.className : null"""
    )


def launcher_focused(page: Page) -> bool:
    return page.evaluate(
        """() => { const host = document.activeElement;
            return Boolean(host && host.shadowRoot
              && host.shadowRoot.activeElement === host.shadowRoot.querySelector('.launcher')); }"""
    )


def tab_until(page: Page, reached: Callable[[], bool], *, shift: bool = False, most: int = 40) -> None:
    """Presses Tab (or Shift+Tab) until `reached` says so: a bounded number of times."""
    for _ in range(most):
        if reached():
            return
        page.keyboard.press("Shift+Tab" if shift else "Tab")
    assert reached(), f"not reached in {most} presses of Tab"


def start_with_agent(chat: FrameLocator, agent, language: str) -> int:
    chat.get_by_role("textbox", name=said(language, "Type your message")).fill("Hello, where is my parcel?")
    chat.get_by_role("button", name=said(language, "Send"), exact=True).click()
    return agent.expect("conversation.assigned")["conversation"]["id"]


def test_every_state_of_the_widget_passes_axe(desk, server, demo_line, alice, scripted_agent, tmp_path, language):
    page = desk
    # the closed launcher on the demo site
    page.goto(f"{server.url}/")
    expect(launcher(page, language)).to_be_visible()
    assert_accessible(page)

    # nobody online: the leave-a-message form, and its error tied to the field
    chat = open_widget(page, server.url, language)
    expect(chat.get_by_role("heading", name=said(language, "Leave us a message"))).to_be_visible()
    assert_accessible(page)
    chat.get_by_role("button", name=said(language, "Send message")).click()
    message_box = chat.get_by_role("textbox", name=said(language, "Your message"))
    expect(message_box).to_have_attribute("aria-invalid", "true")
    expect(message_box).to_have_accessible_description(said(language, "Please write your message."))
    assert_accessible(page)

    # waiting in the queue
    chat.get_by_role("button", name=said(language, "Wait for an agent instead")).click()
    chat.get_by_role("button", name=said(language, "Start chat")).click()
    expect(chat.locator("#status")).to_contain_text(
        said(language, "You are number %(position)s in the queue").replace("%(position)s", "1")
    )
    assert_accessible(page)

    # chatting: the agent answers with a link, the customer sends a picture and a file, the agent types
    agent = scripted_agent(alice)
    agent.go_online()
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]
    agent.say(conversation_id, "Track it at https://example.com/track/1234 please.")
    expect(chat.get_by_role("link", name="https://example.com/track/1234")).to_be_visible()
    picture = tmp_path / "parcel.png"
    picture.write_bytes(one_pixel_png())
    chat.locator("#attach-input").set_input_files(str(picture))
    expect(chat.get_by_role("img", name="parcel.png")).to_be_visible()
    receipt = tmp_path / "receipt.txt"
    receipt.write_text("order 1234")
    chat.locator("#attach-input").set_input_files(str(receipt))
    expect(chat.get_by_role("link", name=re.compile("receipt.txt"))).to_be_visible()
    agent.send({"type": "typing", "conversation_id": conversation_id, "typing": True})
    expect(chat.locator("#typing")).to_be_visible()
    expect(chat.locator("#pending > li")).to_have_count(0)
    assert_accessible(page)

    # the emoji picker open
    chat.get_by_role("button", name=said(language, "Insert emoji")).click()
    expect(chat.get_by_role("listbox", name=said(language, "Emoji"))).to_be_visible()
    assert_accessible(page)
    page.keyboard.press("Escape")

    # the end-chat question
    chat.get_by_role("button", name=said(language, "End chat")).click()
    expect(chat.get_by_role("alertdialog", name=said(language, "End this chat?"))).to_be_visible()
    assert_accessible(page)

    # the rating card, then the ended card with "new conversation"
    chat.get_by_role("alertdialog").get_by_role("button", name=said(language, "End chat")).click()
    expect(chat.get_by_role("heading", name=said(language, "How was your chat?"))).to_be_visible()
    assert_accessible(page)
    chat.get_by_role(
        "radio", name=said(language, "%(count)s star", "%(count)s stars", 5).replace("%(count)s", "5")
    ).click()
    chat.get_by_role("button", name=said(language, "Send rating")).click()
    expect(chat.get_by_role("button", name=said(language, "Start a new chat"))).to_be_visible()
    assert_accessible(page)


def test_the_pre_chat_form_passes_axe_and_ties_its_errors_to_the_fields(
    desk, server, demo_line, alice, scripted_agent, language
):
    scripted_agent(alice).go_online()
    demo_line.prechat_name = "required"
    demo_line.prechat_email = "optional"
    demo_line.prechat_question = "required"
    demo_line.save()
    chat = open_widget(desk, server.url, language)
    name = chat.get_by_role("textbox", name=re.compile("^" + said(language, "Name")))
    expect(name).to_be_visible()
    assert_accessible(desk)

    chat.get_by_role("button", name=said(language, "Start chat")).click()
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description(said(language, "Please fill in the required fields."))
    expect(name).to_be_focused()
    assert_accessible(desk)

    # a bad email moves the mark to its field
    name.fill("Ada")
    chat.get_by_role("textbox", name=re.compile("^" + said(language, "Email"))).fill("ada@example")
    chat.get_by_role("textbox", name=re.compile("^" + said(language, "Your question"))).fill("Size 38?")
    chat.get_by_role("button", name=said(language, "Start chat")).click()
    email = chat.get_by_role("textbox", name=re.compile("^" + said(language, "Email")))
    expect(email).to_have_accessible_description(said(language, "Please check your email address."))
    expect(name).not_to_have_attribute("aria-invalid", "true")


def test_the_h5_page_passes_axe_on_a_phone(handset, server, demo_line, alice, scripted_agent, language):
    page = handset
    # nobody online: the leave-a-message form
    page.goto(f"{server.url}/h5/?business_line=demo")
    expect(page.get_by_role("heading", name=said(language, "Leave us a message"))).to_be_visible()
    assert_accessible(page)

    # an agent online: the intro, then a chat
    agent = scripted_agent(alice)
    agent.go_online()
    page.reload()
    expect(page.get_by_role("button", name=said(language, "Start chat"))).to_be_visible()
    assert_accessible(page)
    page.get_by_role("textbox", name=said(language, "Type your message")).fill("Hello from my phone")
    page.get_by_role("button", name=said(language, "Send"), exact=True).click()
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]
    agent.say(conversation_id, "Hello! See https://example.com/help")
    expect(page.get_by_role("link", name="https://example.com/help")).to_be_visible()
    expect(page.locator("#pending > li")).to_have_count(0)
    assert_accessible(page)

    # the end-chat question, the rating, the ended card
    page.get_by_role("button", name=said(language, "End chat")).click()
    expect(page.get_by_role("alertdialog", name=said(language, "End this chat?"))).to_be_visible()
    assert_accessible(page)
    page.get_by_role("alertdialog").get_by_role("button", name=said(language, "End chat")).click()
    expect(page.get_by_role("heading", name=said(language, "How was your chat?"))).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name=said(language, "Skip")).click()
    expect(page.get_by_role("button", name=said(language, "Start a new chat"))).to_be_visible()
    assert_accessible(page)


def test_the_widget_works_from_the_keyboard_alone(desk, server, demo_line, alice, scripted_agent, screenshot, language):
    page = desk
    agent = scripted_agent(alice)
    agent.go_online()
    page.goto(f"{server.url}/")

    # Tab reaches the launcher; Enter opens the chat with the message box focused
    tab_until(page, lambda: launcher_focused(page))
    page.keyboard.press("Enter")
    frame = frame_of(page, language)
    expect(page.get_by_role("button", name=said(language, "Close the chat"))).to_have_attribute("aria-expanded", "true")
    chat = chat_frame(page, language)
    expect(chat.get_by_role("textbox", name=said(language, "Type your message"))).to_be_focused()

    # the customer types and sends with the keyboard
    page.keyboard.type("Hello by keyboard")
    page.keyboard.press("Enter")
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]
    expect(chat.locator("#status")).to_have_text(said(language, "Chatting with %(name)s").replace("%(name)s", "Alice"))
    agent.say(conversation_id, "Here: https://example.com/track")

    # Tab reaches every control of the chat
    seen: set[str | None] = set()
    wanted = {"end-chat", "minimize", "emoji-button", "attach-button", "input", "send"}

    def all_seen() -> bool:
        seen.add(focused_in(frame))
        return wanted <= seen

    tab_until(page, all_seen)

    # the emoji picker: Enter opens it on its first emoji, arrows move, Enter picks, Escape would close it
    tab_until(page, lambda: focused_in(frame) == "emoji-button")
    page.keyboard.press("Enter")
    expect(chat.get_by_role("option").first).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(chat.get_by_role("option").nth(1)).to_be_focused()
    page.keyboard.press("Enter")
    composer = chat.get_by_role("textbox", name=said(language, "Type your message"))
    expect(composer).to_be_focused()
    expect(composer).to_have_value("😂")
    page.keyboard.press("Enter")
    agent.expect("message.new", lambda frame_: frame_["message"]["body"] == "😂")

    # Escape closes the widget and the focus is back on the launcher
    page.keyboard.press("Escape")
    expect(launcher(page, language)).to_have_attribute("aria-expanded", "false")
    assert launcher_focused(page)

    # Space opens it again; the end-chat question keeps the focus inside itself and gives it back when dismissed
    page.keyboard.press("Space")
    expect(composer).to_be_focused()
    tab_until(page, lambda: focused_in(frame) == "end-chat", shift=True)
    page.keyboard.press("Enter")
    dialog = chat.get_by_role("alertdialog", name=said(language, "End this chat?"))
    expect(dialog.get_by_role("button", name=said(language, "End chat"))).to_be_focused()
    screenshot(page, f"41-keyboard-end-chat-question-{language}")
    for _ in range(3):
        page.keyboard.press("Tab")
        assert focused_in(frame) in {"confirm-end-yes", "confirm-end-cancel"}
    page.keyboard.press("Shift+Tab")
    assert focused_in(frame) in {"confirm-end-yes", "confirm-end-cancel"}
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(chat.get_by_role("button", name=said(language, "End chat"))).to_be_focused()
    expect(launcher(page, language)).to_have_count(0)  # the widget stayed open: Escape closed the question only

    # the customer ends the chat and rates it with the arrow keys
    page.keyboard.press("Enter")
    tab_until(page, lambda: focused_in(frame) == "confirm-end-yes")
    page.keyboard.press("Enter")
    stars = chat.get_by_role("radiogroup", name=said(language, "Rating from 1 to 5 stars"))
    expect(stars.get_by_role("radio").first).to_be_focused()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    four = said(language, "%(count)s star", "%(count)s stars", 4).replace("%(count)s", "4")
    expect(stars.get_by_role("radio", name=four)).to_be_focused()
    expect(stars.get_by_role("radio", name=four)).to_have_attribute("aria-checked", "true")
    page.keyboard.press("Tab")
    expect(chat.get_by_role("textbox", name=said(language, "Comment"))).to_be_focused()
    page.keyboard.type("Fast")
    tab_until(page, lambda: focused_in(frame) == "rating-submit")
    page.keyboard.press("Enter")
    expect(chat.get_by_role("button", name=said(language, "Start a new chat"))).to_be_focused()
    conversation = Conversation.objects.get(id=conversation_id)
    assert (conversation.rating, conversation.rating_comment) == (4, "Fast")


def test_the_full_screen_panel_keeps_the_focus_inside(narrow, server, demo_line, alice, scripted_agent, language):
    page = narrow
    agent = scripted_agent(alice)
    agent.go_online()
    page.goto(f"{server.url}/")
    tab_until(page, lambda: launcher_focused(page))
    page.keyboard.press("Enter")
    frame = frame_of(page, language)
    chat = chat_frame(page, language)
    expect(chat.get_by_role("textbox", name=said(language, "Type your message"))).to_be_focused()
    expect(page.get_by_role("dialog", name=said(language, "Chat"))).to_have_attribute("aria-modal", "true")

    # Tab goes round the panel's controls and never leaves it: from the last control to the first
    controls = frame.evaluate(
        """() => [...document.querySelectorAll("a[href], button, input, textarea")]
            .filter((node) => node.tabIndex >= 0 && !node.disabled && node.getClientRects().length)
            .map((node) => node.id)"""
    )
    first, last = controls[0], controls[-1]
    assert last == "send", controls
    order: list[str | None] = []
    for _ in range(2 * len(controls) + 1):
        page.keyboard.press("Tab")
        order.append(focused_in(frame))
    assert None not in order, order
    assert order.count(first) >= 2, order  # round again
    assert order[order.index(last) + 1] == first, order

    # Shift+Tab from the first control goes to the last
    tab_until(page, lambda: focused_in(frame) == first)
    page.keyboard.press("Shift+Tab")
    assert focused_in(frame) == last

    # Escape closes it, and the focus is on the launcher again
    page.keyboard.press("Escape")
    expect(launcher(page, language)).to_be_visible()
    assert launcher_focused(page)


def test_screen_readers_hear_new_messages_typing_and_the_unread_count(
    desk, server, demo_line, alice, scripted_agent, language
):
    page = desk
    agent = scripted_agent(alice)
    agent.go_online()
    chat = open_widget(page, server.url, language)
    conversation_id = start_with_agent(chat, agent, language)

    # the agent's messages are read out from a polite log, with who wrote them
    agent.say(conversation_id, "On its way.")
    log = chat.get_by_role("log", name=said(language, "New messages"))
    expect(log).to_have_attribute("aria-live", "polite")
    expect(log).to_contain_text(
        said(language, "%(name)s: %(text)s").replace("%(name)s", "Alice").replace("%(text)s", "On its way.")
    )
    expect(log).not_to_contain_text("Hello, where is my parcel?")

    # the typing indicator is a status
    agent.send({"type": "typing", "conversation_id": conversation_id, "typing": True})
    typing = said(language, "%(name)s is typing…").replace("%(name)s", "Alice")
    expect(chat.get_by_role("status").filter(has_text=typing)).to_be_visible()
    expect(
        chat.get_by_role("status").filter(
            has_text=said(language, "Chatting with %(name)s").replace("%(name)s", "Alice")
        )
    ).to_be_visible()

    # the closed launcher says how many messages are unread
    chat.get_by_role("button", name=said(language, "Close the chat window")).click()
    agent.say(conversation_id, "Anything else?")
    unread = said(language, "Open the chat (%(count)s unread)").replace("%(count)s", "1")
    page.get_by_role("button", name=unread).click()
    expect(log).to_contain_text("Anything else?")

    # the rating's stars are a named radio group of named radios
    chat.get_by_role("button", name=said(language, "End chat")).click()
    chat.get_by_role("alertdialog").get_by_role("button", name=said(language, "End chat")).click()
    group = chat.get_by_role("radiogroup", name=said(language, "Rating from 1 to 5 stars"))
    for count in range(1, 6):
        name = said(language, "%(count)s star", "%(count)s stars", count).replace("%(count)s", str(count))
        expect(group.get_by_role("radio", name=name, exact=True)).to_have_attribute("aria-checked", "false")

    # and each star, chosen or not, is outlined at 3:1 or more on the card (WCAG non-text contrast)
    card = rgb_hex(chat.locator("#rating-card").evaluate("node => getComputedStyle(node).backgroundColor"))
    stars = group.get_by_role("radio")
    assert all(width != "0px" and contrast_ratio(color, card) >= 3 for width, color in star_outlines(stars))
    stars.nth(2).click()
    expect(stars.nth(2)).to_have_attribute("aria-checked", "true")
    assert all(width != "0px" and contrast_ratio(color, card) >= 3 for width, color in star_outlines(stars))


def star_outlines(stars: Locator) -> list[tuple[str, str]]:
    """Each star's computed outline: its width (`1.5px`) and colour (`#868e96`)."""
    read = "node => [getComputedStyle(node).webkitTextStrokeWidth, getComputedStyle(node).webkitTextStrokeColor]"
    return [(width, rgb_hex(color)) for width, color in (star.evaluate(read) for star in stars.all())]


def rgb_hex(css_color: str) -> str:
    """`rgb(255, 235, 59)` as `#ffeb3b`."""
    red, green, blue = (int(part) for part in re.findall(r"\d+", css_color)[:3])
    return f"#{red:02x}{green:02x}{blue:02x}"


@pytest.mark.parametrize("color", ["#ffeb3b", "#1e3a8a"])
def test_text_on_the_lines_own_colour_stays_readable(page, server, demo_line, alice, scripted_agent, screenshot, color):
    # given: a line whose admin picked a light (or a dark) colour, and an agent online
    demo_line.widget_color = color
    demo_line.launcher_text = "Chat with us"
    demo_line.save()
    agent = scripted_agent(alice)
    agent.go_online()

    # then: the launcher's text reads on the colour
    page.goto(f"{server.url}/")
    button = launcher(page, "en")
    expect(button).to_have_css("background-color", re.compile(r"rgb"))
    assert rgb_hex(button.evaluate("node => getComputedStyle(node).backgroundColor")) == color
    assert contrast_ratio(rgb_hex(button.evaluate("node => getComputedStyle(node).color")), color) >= 4.5
    assert_accessible(page)

    # when: the customer chats (their bubbles, the header and the buttons wear the colour)
    chat = open_widget(page, server.url, "en")
    conversation_id = start_with_agent(chat, agent, "en")
    agent.say(conversation_id, "Hello!")
    expect(chat.locator("#pending > li")).to_have_count(0)
    assert_accessible(page)
    # the header is a gradient, which axe leaves unchecked: its text is measured here
    title_color = chat.locator("#title").evaluate("node => getComputedStyle(node).color")
    assert contrast_ratio(rgb_hex(title_color), color) >= 4.5
    bubble = chat.locator("#messages .msg-customer .bubble").first
    assert contrast_ratio(rgb_hex(bubble.evaluate("node => getComputedStyle(node).color")), color) >= 4.5

    # and: the rating card's buttons, and the transcript's outlined button in the colour's readable shade
    chat.get_by_role("button", name="End chat").click()
    chat.get_by_role("alertdialog").get_by_role("button", name="End chat").click()
    chat.get_by_role("radio", name="3 stars").click()
    expect(chat.get_by_role("button", name="Email me the transcript")).to_be_visible()
    assert_accessible(page)
    screenshot(page, f"40-widget-colour-{color[1:]}")
