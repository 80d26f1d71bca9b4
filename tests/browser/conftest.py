"""Fixtures for the browser tests: a real Daphne worker and a Celery worker on the test database (started by the
harness, tests/integration/harness.py), Debian's Chromium driven by Playwright, and a scripted agent speaking the
WebSocket protocol (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from agents.models import Agent
from cs_platform.stack import BASE_DIR, CeleryBeat, Stack, WebWorker
from routing.models import BusinessLine
from tests.browser.content_policy import watch_content_security_policy
from tests.factories import AgentFactory, BusinessLineFactory
from tests.integration import wsclient
from tests.integration.harness import agent_login, stack_on_test_database

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
REDIS_PREFIX = f"csbrowser{os.getpid()}"

expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def chat_processes(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One web worker and one Celery worker (`--pool solo`) for a module, no beat (`routing_sweeps` starts one)."""
    with stack_on_test_database(
        tmp_path_factory.mktemp("browser-processes"), redis_prefix=REDIS_PREFIX, web=1, pool="solo", beat=False
    ) as stack:
        yield stack


@pytest.fixture
def server(chat_processes: Stack, request: pytest.FixtureRequest) -> WebWorker:
    """The web worker, running; its log and Celery's join a failure report."""
    chat_processes.ensure_running()
    request.node.process_log_offsets = chat_processes.log_offsets()
    return chat_processes.web[0]


@pytest.fixture
def routing_sweeps(server: WebWorker, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[], None]]:
    """Starts Celery beat, sweeping every half second, so the business lines' timeouts fire during the test."""
    beat = CeleryBeat(name="beat", env={**server.env, "ROUTING_SWEEP_INTERVAL": "0.5"}, log_dir=tmp_path)

    def start() -> None:
        beat.start()
        request.node.process_log_offsets[beat] = 0

    yield start
    beat.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for a module. Playwright's sync API keeps an event loop running in this thread, which Django
    takes for async code; the tests' ORM calls never overlap it, so Django is told so for this module only."""
    if not CHROMIUM.exists():
        pytest.fail("No /usr/bin/chromium: `make chromium` (or `apt-get install -y chromium`) installs it.")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh profile per test: no visitor token, no storage left over."""
    browser_context = browser.new_context(viewport={"width": 1280, "height": 800})
    browser_context.set_default_timeout(10_000)
    yield browser_context
    browser_context.close()


PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def phone_context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh profile on a phone-sized touch screen."""
    browser_context = browser.new_context(**PHONE)
    browser_context.set_default_timeout(10_000)
    yield browser_context
    browser_context.close()


def _watched_page(browser_context: BrowserContext) -> Iterator[Page]:
    """A page whose uncaught script errors, dialogs (a sign of injected script) and Content-Security-Policy
    violations fail the test."""
    new_page = browser_context.new_page()
    problems: list[str] = []
    new_page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    watch_content_security_policy(new_page, problems)
    new_page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    yield new_page
    assert problems == []


def phone_page(browser: Browser, **options: Any) -> Iterator[Page]:
    """A watched page on a phone of its own (nothing stored from another visit); `options` give its browser's
    locale, time zone..."""
    browser_context = browser.new_context(**PHONE, **options)
    browser_context.set_default_timeout(10_000)
    try:
        yield from _watched_page(browser_context)
    finally:
        browser_context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    yield from _watched_page(context)


@pytest.fixture
def phone(phone_context: BrowserContext) -> Iterator[Page]:
    yield from _watched_page(phone_context)


@pytest.fixture
def other_site() -> Iterator[Callable[[str], str]]:
    """Another web site (its own origin, on loopback) serving one page: a business line's site embedding the
    widget. Returns the page's URL."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    site = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()

    def serve(html: str) -> str:
        pages["/"] = html.encode()
        return f"http://127.0.0.1:{site.server_address[1]}/"

    yield serve
    site.shutdown()
    site.server_close()
    thread.join(timeout=5)


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    """Saves the page as artifacts/screenshots/NAME.png, for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(target: Page, name: str) -> None:
        target.screenshot(path=str(SCREENSHOTS / f"{name}.png"), animations="disabled")

    return save


@pytest.fixture
def demo_line(server: WebWorker) -> BusinessLine:
    """The business line the demo site's script tag names, with the test server as its site."""
    return BusinessLineFactory(
        key="demo", name="Acme Shop", allowed_origins=server.url, greeting="Hello! How can we help you today?"
    )


@pytest.fixture
def alice(demo_line: BusinessLine) -> Agent:
    return AgentFactory(display_name="Alice", business_lines=[demo_line])


class ScriptedAgent:
    """An agent's socket for a synchronous test: wsclient's asyncio client on an event loop of its own thread."""

    def __init__(self, *, url: str, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"agent {name}", daemon=True)
        self._thread.start()
        self.client = self._run(wsclient.connect(url, name=name))
        self.hello = self.expect("hello")

    def _run(self, coroutine: Any, timeout: float = 20.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def expect(self, type_: str, predicate: Callable[[dict], bool] | None = None, timeout: float = 10.0) -> dict:
        """The first frame of this type matching `predicate`, received or still to come."""
        return self._run(self.client.expect(type_, predicate, timeout=timeout), timeout + 5)

    def request(self, frame: dict, reply_type: str) -> dict:
        reply = self._run(self.client.request(frame, reply_type))
        assert reply["type"] == reply_type, reply
        return reply

    def send(self, frame: dict) -> None:
        self._run(self.client.send(frame))

    def go_online(self) -> None:
        self.request({"type": "presence.set", "status": "online"}, "presence.state")

    def say(self, conversation_id: int, body: str) -> dict:
        frame = {
            "type": "message.send",
            "conversation_id": conversation_id,
            "client_msg_id": uuid.uuid4().hex,
            "body": body,
        }
        return self.request(frame, "message.ack")["message"]

    def close(self) -> None:
        try:
            self._run(self.client.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()


@pytest.fixture
def scripted_agent(server: WebWorker) -> Iterator[Callable[[Agent], ScriptedAgent]]:
    """Connects an agent's socket with an API token (`POST /api/auth/token/`); closed at the end of the test."""
    agents: list[ScriptedAgent] = []

    def connect(agent: Agent) -> ScriptedAgent:
        token = agent_login(server, agent.user.username)["token"]
        scripted = ScriptedAgent(url=server.ws_url(f"/ws/agent/?token={token}"), name=agent.display_name)
        agents.append(scripted)
        return scripted

    yield connect
    for scripted in agents:
        scripted.close()
