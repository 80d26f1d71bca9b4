"""Accessibility checks in the browser tests (issue 14, item 6): axe-core, pinned in package.json and installed by
`npm ci` (`make lint`), injected into every frame of a page through Playwright, where the page's
Content-Security-Policy does not apply to it. axe checks what is rendered and visible, so a test opens each state
(a form, a dialog, a card) before it asks."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Frame, Page

from cs_platform.stack import BASE_DIR
from tests.browser.content_policy import audit

AXE_SOURCE = BASE_DIR / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = frozenset({"serious", "critical"})

RUN_AXE = """async () => {
  const results = await axe.run(document, { iframes: false, resultTypes: ["violations"] });
  return results.violations.map((violation) => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    nodes: violation.nodes.map((node) => `${node.target.join(" ")}: ${node.failureSummary}`),
  }));
}"""


def _axe_source() -> str:
    if not AXE_SOURCE.exists():
        raise AssertionError(f"No {AXE_SOURCE}: `npm ci` (run by `make lint` and `make test`) installs axe-core.")
    return AXE_SOURCE.read_text(encoding="utf-8")


def _frame_violations(frame: Frame, source: str) -> list[dict[str, Any]]:
    if not frame.evaluate("() => typeof window.axe === 'object'"):
        frame.evaluate(source)
    return [{**violation, "frame": frame.url} for violation in frame.evaluate(RUN_AXE)]


def accessibility_violations(page: Page, impacts: frozenset[str] = BLOCKING_IMPACTS) -> list[dict[str, Any]]:
    """axe-core's violations of these impacts on the page and in each of its frames (the widget's chat frame on
    a customer's site), each with the frame's URL and the elements at fault."""
    source = _axe_source()
    found: list[dict[str, Any]] = []
    with audit(page):
        for frame in page.frames:
            if frame.url.startswith(("about:", "data:")) or frame.is_detached():
                continue
            violations = _frame_violations(frame, source)
            found.extend(violation for violation in violations if violation["impact"] in impacts)
    return found


def assert_accessible(page: Page) -> None:
    """No serious or critical violation on the page as it is now, with axe's own words for each one found."""
    violations = accessibility_violations(page)
    report = "\n".join(
        f"{violation['impact']} {violation['id']} ({violation['help']}) in {violation['frame']}:\n    "
        + "\n    ".join(violation["nodes"])
        for violation in violations
    )
    assert not violations, f"axe-core found {len(violations)} serious or critical violations:\n{report}"
