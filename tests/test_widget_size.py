"""The widget's size budget (issue 14, item 5): what a customer's browser downloads, gzip-compressed as the server
sends it. The loader every page of a site carries (widget.js, widget.css and the tone it may load) stays under
25 KB; the chat page (its HTML as served, chat.css, chat.js with every ES module it imports, and the Chinese catalog
of /jsi18n/, the larger one) under 60 KB. A size, not a timing: it fails when a change makes the widget heavier than
promised."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from cs_platform.stack import BASE_DIR
from tests.factories import BusinessLineFactory

pytestmark = pytest.mark.django_db

STATIC = BASE_DIR / "static"
LOADER_BUDGET = 25 * 1024
CHAT_PAGE_BUDGET = 60 * 1024
IMPORT = re.compile(r"""^\s*(?:import|export)\b[^"';]*?from\s*["']([^"']+)["']""", re.MULTILINE)


def gzipped(content: bytes) -> int:
    return len(gzip.compress(content, compresslevel=9))


def module_graph(entry: Path) -> list[Path]:
    """The ES module and every module it imports, statically, through any depth."""
    seen: list[Path] = []
    pending = [entry.resolve()]
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.append(module)
        for specifier in IMPORT.findall(module.read_text(encoding="utf-8")):
            pending.append((module.parent / specifier).resolve())
    return seen


def test_the_module_graph_follows_every_import(tmp_path):
    # given: three modules, one imported twice and one re-exported
    (tmp_path / "a.js").write_text('import { b } from "./b.js";\nimport {\n  c,\n} from "./lib/c.js";\n')
    (tmp_path / "b.js").write_text('export { c } from "./lib/c.js";\n')
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "c.js").write_text("export const c = 1;\n")

    # then
    assert sorted(path.name for path in module_graph(tmp_path / "a.js")) == ["a.js", "b.js", "c.js"]


def test_the_loader_stays_under_25_kb_compressed():
    # widget.js loads the tone's module too, when a first message chimes
    files = [STATIC / "widget" / "widget.js", STATIC / "widget" / "widget.css", STATIC / "shared" / "tone.js"]
    assert 'import(new URL("../shared/tone.js"' in files[0].read_text(encoding="utf-8")
    loader = sum(gzipped(path.read_bytes()) for path in files)
    assert loader < LOADER_BUDGET, f"the loader is {loader} bytes gzipped"


def test_the_chat_page_stays_under_60_kb_compressed(client):
    # given: a business line with a greeting, as customers see it
    BusinessLineFactory(key="shop", greeting="Hello! How can we help you today?")

    # when: the page and its catalog, as served in Chinese
    page = client.get("/h5/", {"business_line": "shop", "lang": "zh-hans"})
    catalog = client.get("/jsi18n/", {"lang": "zh-hans"})

    # then
    assert page.status_code == catalog.status_code == 200
    html = page.content.decode()
    assert '<html lang="zh-hans"' in html
    modules = module_graph(STATIC / "widget" / "chat.js")
    assert {"chat.js", "client.js", "i18n.js", "tone.js"} <= {module.name for module in modules}
    parts = {
        "html": gzipped(page.content),
        "catalog": gzipped(catalog.content),
        "chat.css": gzipped((STATIC / "widget" / "chat.css").read_bytes()),
        **{module.name: gzipped(module.read_bytes()) for module in modules},
    }
    assert sum(parts.values()) < CHAT_PAGE_BUDGET, parts
