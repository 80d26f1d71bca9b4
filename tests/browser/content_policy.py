"""Content-Security-Policy violations in a browser test: each one fails the test (cs_platform/content_policy.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import ConsoleMessage, Page

# Run in every frame before its own scripts: each Content-Security-Policy violation (a refused script, style, frame,
# socket) is logged, and the console listener of `watch_content_security_policy` fails the test on it.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`Content Security Policy violation: ${event.effectiveDirective} refused ${event.blockedURI} `
    + `on ${event.documentURI}`);
});
"""

# Pages under an accessibility audit (tests/browser/axe.py): axe-core sets inline styles while it measures, which
# the policy refuses and which does not change what it reports; only those refusals are let through meanwhile.
_AUDITED: set[int] = set()


@contextmanager
def audit(target: Page) -> Iterator[None]:
    """While axe-core runs on `target`, its refused inline styles are not the page's violations."""
    _AUDITED.add(id(target))
    try:
        yield
    finally:
        _AUDITED.discard(id(target))


def watch_content_security_policy(target: Page, problems: list[str]) -> None:
    """Add every violation of the site's policy, in any frame, to `problems` (which the page's fixture asserts
    empty): from the listener above or from Chromium's own console message."""

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" not in message.text:
            return
        if id(target) in _AUDITED and "style-src" in message.text:
            return
        problems.append(f"{message.type}: {message.text}")

    target.add_init_script(REPORT_CSP_VIOLATIONS)
    target.on("console", on_console)
