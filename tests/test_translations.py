"""Both languages, whole (issue 14, item 1): every string the templates, the Python code and the browser modules
mark for translation has its Simplified Chinese in locale/zh_Hans, and the compiled catalogs are what pages and
system messages read.

The extraction is the project's own (`cs_platform.locale.extract`, Django's makemessages over GNU gettext's
xgettext and msgmerge, which `make test` installs when missing), run on a copy of the sources with the committed
.po files: a string left untranslated comes out with an empty msgstr, a changed one fuzzy, a removed one obsolete.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polib
import pytest
from django.test import override_settings
from django.utils import translation

from chat.system_messages import Reader, system_message_text
from cs_platform import locale

BASE_DIR = Path(__file__).resolve().parent.parent
SOURCES_SKIPPED = {
    ".git",
    ".venv",
    "node_modules",
    ".data",
    "staticfiles",
    "locale",
    "artifacts",
    "media",
    ".mypy_cache",
    ".pytest_cache",
    ".hypothesis",
    ".ruff_cache",
}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, polib.POFile]:
    """The .po files as makemessages leaves them after reading a copy of today's sources."""
    root = tmp_path_factory.mktemp("sources")
    for entry in BASE_DIR.iterdir():
        if entry.name in SOURCES_SKIPPED or entry.is_symlink():
            continue
        if entry.is_dir():
            shutil.copytree(entry, root / entry.name, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
        else:
            shutil.copy2(entry, root / entry.name)
    shutil.copytree(BASE_DIR / "locale", root / "locale", ignore=shutil.ignore_patterns("*.mo"))
    with pytest.MonkeyPatch.context() as patch, override_settings(LOCALE_PATHS=[root / "locale"]):
        patch.chdir(root)
        locale.extract()
    return {
        domain: polib.pofile(str(root / "locale" / "zh_Hans" / "LC_MESSAGES" / f"{domain}.po"))
        for domain in ("django", "djangojs")
    }


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_string_has_its_chinese(extracted: dict[str, polib.POFile], domain: str) -> None:
    catalog = extracted[domain]
    untranslated = [entry.msgid for entry in catalog.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalog.fuzzy_entries()]
    assert (untranslated, fuzzy) == ([], [])
    assert len(catalog.translated_entries()) > 100


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_the_committed_catalog_holds_no_string_the_code_dropped(
    extracted: dict[str, polib.POFile], domain: str
) -> None:
    assert [entry.msgid for entry in extracted[domain].obsolete_entries()] == []


def test_the_extraction_reads_the_customer_pages_and_their_scripts(extracted: dict[str, polib.POFile]) -> None:
    """The files that matter most are read at all: the chat page, the loader's words (sent by the chat page) and the
    system messages shared by every client."""
    assert extracted["django"].find("Type your message…").msgstr == "请输入消息…"
    assert extracted["djangojs"].find("Open the chat").msgstr == "打开在线客服"
    assert extracted["djangojs"].find("%(agent)s joined the conversation.").msgstr == "客服 %(agent)s 已接入会话。"


def test_the_extraction_reads_the_workbench_scripts(extracted: dict[str, polib.POFile]) -> None:
    """The agents' workbench scripts are extracted too (issue 14, item 1): nothing of static/ is left out."""
    assert "static/workbench" not in locale.EXTRACT_IGNORE
    assert extracted["djangojs"].find("Connected").msgstr == "已连接"


def test_compiling_writes_a_catalog_django_reads(tmp_path: Path) -> None:
    """polib's .mo (no GNU gettext needed), fuzzy entries left out as msgfmt does."""
    folder = tmp_path / "zh_Hans" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    catalog = polib.POFile()
    catalog.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Plural-Forms": "nplurals=1; plural=0;"}
    catalog.append(polib.POEntry(msgid="Start chat", msgstr="开始咨询"))
    catalog.append(polib.POEntry(msgid="Send", msgstr="发送", flags=["fuzzy"]))
    catalog.save(str(folder / "django.po"))

    assert locale.compile_catalogs(tmp_path) == [folder / "django.mo"]
    assert locale.compile_catalogs(tmp_path) == []  # up to date: nothing written again
    compiled = polib.mofile(str(folder / "django.mo"))
    assert [(entry.msgid, entry.msgstr) for entry in compiled] == [("Start chat", "开始咨询")]


@pytest.mark.parametrize(
    ("event", "params", "reader", "expected"),
    [
        ("assigned", {"agent": "Wang"}, "customer", "客服 Wang 已接入会话。"),
        ("reassigned", {"agent": "Wang"}, "customer", "抱歉让您久等了，另一位客服将为您继续服务。"),
        ("reassigned", {"agent": "Wang"}, "agent", "Wang 未及时回复，正在重新分配。"),
        ("transferred", {"by": "Li", "agent": "Wang"}, "agent", "Li 已将会话转接给 Wang。"),
        ("transferred", {"line": "售后"}, "customer", "已转接至售后，正在等待客服接入。"),
        ("closed", {"by": "idle"}, "customer", "由于长时间没有回复，会话已自动结束。"),
        ("closed", {"by": "agent"}, "customer", "客服已结束会话。"),
        ("requeued", {"by": "hand_back"}, "agent", "您的客服暂时离开，另一位客服稍后将为您服务。"),
        ("missed", {}, "customer", "抱歉，目前没有空闲的客服。请给我们留言，我们会尽快回复您。"),
        ("closed", {}, "customer", "stored text"),  # parameters this does not know: the stored text
    ],
)
def test_system_messages_in_the_readers_language(
    event: str, params: dict[str, str], reader: Reader, expected: str
) -> None:
    with translation.override("zh-hans"):
        text = system_message_text(event=event, params=params, body="stored text", reader=reader)
    assert text == expected
