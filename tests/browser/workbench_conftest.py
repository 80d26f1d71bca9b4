"""Fixtures for the workbench's browser tests: two real Daphne workers and a Celery worker on the test database
(started by the harness, tests/integration/harness.py), Debian's Chromium driven by Playwright, and scripted
customers (and agents) speaking the WebSocket protocol from a thread of their own.

Imported by tests/browser/test_workbench.py; tests/browser/conftest.py belongs to the widget's tests, so every
fixture here has a name of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection
from playwright.sync_api import Browser, Page, WebSocket, expect, sync_playwright

from agents.models import Agent
from cs_platform.stack import BASE_DIR, Stack, WebWorker
from routing.models import BusinessLine
from tests.browser.content_policy import watch_content_security_policy
from tests.factories import AgentFactory, BusinessLineFactory
from tests.integration import wsclient
from tests.integration.harness import agent_login, customer_session, stack_on_test_database

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = BASE_DIR / "artifacts" / "screenshots"
REDIS_PREFIX = f"csworkbench{os.getpid()}"
PASSWORD = "pw"

expect.set_options(timeout=15_000)


@dataclass
class WorkbenchSite:
    """`web` serves the agent's page; customers and scripted agents use `chat`, so `web` can restart alone. One
    Celery worker (`--pool solo`) runs assignment and the sweep as tasks, as in production; no beat."""

    stack: Stack

    @property
    def web(self) -> WebWorker:
        return self.stack.web[0]

    @property
    def chat(self) -> WebWorker:
        return self.stack.web[1]

    def run_sweep(self) -> None:
        """Send `routing.tasks.sweep` to this site's Celery worker, as beat would (timeouts, then assignment)."""
        app = Celery(
            "workbench-tests",
            broker=settings.REDIS_URL,
            broker_transport_options={"global_keyprefix": f"{REDIS_PREFIX}:celery:"},
        )
        try:
            app.send_task("routing.tasks.sweep", queue=f"{REDIS_PREFIX}-default")
        finally:
            app.close()


@pytest.fixture(scope="module")
def workbench_processes(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkbenchSite]:
    """Started once for the module, from this thread (a child is signalled when the thread that started it
    ends)."""
    with stack_on_test_database(
        tmp_path_factory.mktemp("workbench-processes"), redis_prefix=REDIS_PREFIX, web=2, pool="solo", beat=False
    ) as stack:
        yield WorkbenchSite(stack=stack)


@pytest.fixture
def workbench_site(workbench_processes: WorkbenchSite, request: pytest.FixtureRequest) -> WorkbenchSite:
    """Every process running at the start of the test (a test may restart `web`); their logs since then join
    a failure report (tests/conftest.py's report hook)."""
    workbench_processes.stack.ensure_running()
    request.node.process_log_offsets = workbench_processes.stack.log_offsets()
    return workbench_processes


@pytest.fixture(scope="module")
def workbench_browser() -> Iterator[Browser]:
    """Chromium for the module. Playwright's sync API keeps an event loop in this thread, which Django takes
    for async code; the tests' ORM calls never overlap it, so Django is told so while the browser runs."""
    if not CHROMIUM.exists():
        pytest.fail("No /usr/bin/chromium: `apt-get install -y chromium` installs it.")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()


@dataclass
class Team:
    line: BusinessLine
    agent: Agent

    @property
    def username(self) -> str:
        return self.agent.user.username


@pytest.fixture
def team(workbench_site: WorkbenchSite) -> Team:
    """A business line and its agent Alice, a staff user (the admin's login form admits staff only)."""
    line = BusinessLineFactory(name="Acme Shop", greeting="Hello! How can we help you today?")
    agent = AgentFactory(
        display_name="Alice", business_lines=[line], user__is_staff=True, user__first_name="Alice", capacity=3
    )
    return Team(line=line, agent=agent)


@dataclass
class AgentPage:
    """The workbench in a browser tab, with every frame its socket sent (for checks on the protocol)."""

    page: Page
    base_url: str
    sent: list[dict[str, Any]] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def login(self, username: str, password: str = PASSWORD) -> None:
        """Through the admin's login form, where /workbench/ sends anonymous visitors."""
        self.page.goto(f"{self.base_url}/workbench/")
        expect(self.page).to_have_url(f"{self.base_url}/admin/login/?next=/workbench/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("#login-form input[type=submit]")

    def open_workbench(self, username: str) -> None:
        self.login(username)
        expect(self.page).to_have_url(f"{self.base_url}/workbench/")
        expect(self.connection).to_have_attribute("data-state", "connected")

    def set_presence(self, status: str) -> None:
        """Clicks the switch; the radio follows the server's `presence.state`, not the click."""
        self.page.locator("#presence-switch label").filter(has=self.page.locator(f"input[value={status}]")).click()
        expect(self.page.locator(f"#presence-switch input[value={status}]")).to_be_checked()

    @property
    def connection(self):
        return self.page.locator("#connection-status")

    def conversation(self, conversation_id: int):
        return self.page.locator(f"#conversation-list [data-conversation-id='{conversation_id}']")

    def transcript_message(self, body: str):
        return self.page.locator("#transcript .wb-msg").filter(has=self.page.get_by_text(body, exact=True))

    def write(self, text: str) -> None:
        """Types a reply and presses Enter, as an agent does."""
        composer = self.page.locator("#composer-input")
        composer.fill(text)
        composer.press("Enter")

    def sent_frames(self, frame_type: str) -> list[dict[str, Any]]:
        return [frame for frame in self.sent if frame.get("type") == frame_type]

    def watch(self, socket: WebSocket) -> None:
        def record(payload: str | bytes) -> None:
            if isinstance(payload, str):
                self.sent.append(json.loads(payload))

        socket.on("framesent", record)


@pytest.fixture
def agent_page(workbench_browser: Browser, workbench_site: WorkbenchSite) -> Iterator[AgentPage]:
    """A fresh browser profile on the `web` worker. Script errors and Content-Security-Policy violations (on the
    admin's login page too) fail the test; so does any dialog but the workbench's own close confirmation (an
    injected script's alert would be one)."""
    context = workbench_browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    agent_page = AgentPage(page=page, base_url=workbench_site.web.url)
    page.on("websocket", agent_page.watch)
    page.on("pageerror", lambda error: agent_page.problems.append(f"page error: {error}"))
    watch_content_security_policy(page, agent_page.problems)

    def on_console(message: Any) -> None:
        """Errors the workbench logs (a refused script or style would be one); the admin's login page asks for
        a favicon nobody serves, so only the workbench counts."""
        if message.type == "error" and page.url.startswith(f"{agent_page.base_url}/workbench/"):
            agent_page.console_errors.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", on_console)

    def on_dialog(dialog: Any) -> None:
        agent_page.dialogs.append(dialog.message)
        if dialog.type == "confirm" and dialog.message.startswith("Close the conversation"):
            dialog.accept()
        else:
            agent_page.problems.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

    page.on("dialog", on_dialog)
    yield agent_page
    context.close()
    assert agent_page.problems == []


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    """Saves the page as artifacts/screenshots/NAME.png, for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page: Page, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return save


def in_thread(function: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Runs ORM code away from this thread, whose event loop (Playwright's) would make the events that code
    publishes fail; the thread's database connection is closed after it."""

    def run() -> Any:
        try:
            return function(**kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


class ScriptedSocket:
    """A customer's app or an agent's script for a synchronous test: wsclient's asyncio client on an event
    loop of its own thread (the test's thread belongs to Playwright)."""

    def __init__(self, *, url: str, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()
        self.client: wsclient.Client = self._run(wsclient.connect(url, name=name))
        self.hello = self.expect("hello")

    def _run(self, coroutine: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def expect(self, type_: str, predicate: Callable[[dict], bool] | None = None, timeout: float = 15.0) -> dict:
        """The first frame of this type matching `predicate`, received or still to come."""
        return self._run(self.client.expect(type_, predicate, timeout=timeout), timeout + 5)

    def request(self, frame: dict, reply_type: str) -> dict:
        reply = self._run(self.client.request(frame, reply_type))
        assert reply["type"] == reply_type, reply
        return reply

    def send(self, frame: dict) -> None:
        self._run(self.client.send(frame))

    def say(self, conversation_id: int, body: str) -> dict:
        """`message.send`; returns the acknowledged message."""
        frame = {
            "type": "message.send",
            "conversation_id": conversation_id,
            "client_msg_id": uuid.uuid4().hex,
            "body": body,
        }
        return self.request(frame, "message.ack")["message"]

    def received(self) -> list[dict]:
        return list(self.client.received)

    def close(self) -> None:
        try:
            self._run(self.client.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()


class ScriptedCustomer(ScriptedSocket):
    """A native app's customer: `POST /api/widget/session/` without an Origin, then `/ws/customer/`."""

    def start(self) -> dict:
        return self.request({"type": "conversation.start"}, "conversation.state")["conversation"]

    def start_with_agent(self) -> dict:
        """Starts a conversation and waits until an agent has it. Writing at once could race the assignment:
        it skips a waiting conversation whose row a message send holds locked, until the next sweep (which
        these tests do not run on a timer)."""
        conversation = self.start()
        if conversation["status"] == "active":
            return conversation
        return self.expect(
            "conversation.state",
            lambda f: f["conversation"]["id"] == conversation["id"] and f["conversation"]["status"] == "active",
        )["conversation"]

    def close_conversation(self, conversation_id: int) -> dict:
        return self.request({"type": "conversation.close", "conversation_id": conversation_id}, "conversation.state")


@pytest.fixture
def scripted(workbench_site: WorkbenchSite) -> Iterator[Callable[..., ScriptedSocket]]:
    """Opens customers' and agents' sockets on the `chat` worker; all are closed at the end of the test.

    `scripted(line=LINE, name=..., email=...)` is a new customer of the business line;
    `scripted(agent=AGENT)` is that agent's socket with an API token."""
    sockets: list[ScriptedSocket] = []
    worker = workbench_site.chat

    def open_socket(*, line: BusinessLine | None = None, agent: Agent | None = None, **fields: Any) -> ScriptedSocket:
        if agent is not None:
            token = agent_login(worker, agent.user.username, PASSWORD)["token"]
            socket: ScriptedSocket = ScriptedSocket(
                url=worker.ws_url(f"/ws/agent/?token={token}"), name=f"agent {agent.display_name}"
            )
        else:
            assert line is not None
            session = customer_session(worker, line.key, channel="app", **fields)
            socket = ScriptedCustomer(
                url=worker.ws_url(f"/ws/customer/?token={session['token']}"), name=f"customer {fields}"
            )
        sockets.append(socket)
        return socket

    yield open_socket
    for socket in sockets:
        socket.close()
