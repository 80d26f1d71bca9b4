"""What a reader sees in each of our languages, read from the project's own catalogs, so a browser test in Chinese
follows locale/zh_Hans/LC_MESSAGES/*.po instead of repeating its words. English is the msgid itself.

`words(language, msgid, **values)`: the browser's modules' words (djangojs.po), `%(name)s` filled from `values`;
`page_words(...)`: the same for what Django writes (templates, Python, and Django's own admin), through Django's
gettext. Either fails when the Chinese is missing, empty or fuzzy, rather than let an English string pass for it.
"""

from __future__ import annotations

from functools import cache

import polib
from django.conf import settings
from django.utils import translation

LANGUAGES = ("en", "zh-hans")
# The tag a browser in each language sends (Accept-Language, navigator.language), and the short name in file names.
BROWSER_LOCALE = {"en": "en-US", "zh-hans": "zh-CN"}
SUFFIX = {"en": "", "zh-hans": "-zh"}


@cache
def _script_catalog() -> dict[str, polib.POEntry]:
    path = settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "djangojs.po"
    return {entry.msgid: entry for entry in polib.pofile(str(path)) if not entry.obsolete}


def _filled(text: str, values: dict[str, object]) -> str:
    return text % values if values else text


def words(language: str, msgid: str, **values: object) -> str:
    """`msgid` of the browser's modules in `language`."""
    if language == "en":
        return _filled(msgid, values)
    entry = _script_catalog().get(msgid)
    assert entry is not None, f"not in djangojs.po: {msgid!r}"
    assert entry.msgstr and not entry.fuzzy, f"no Chinese in djangojs.po for {msgid!r}"
    return _filled(entry.msgstr, values)


def page_words(language: str, msgid: str, **values: object) -> str:
    """`msgid` of a template, of Python code or of Django itself, in `language`."""
    with translation.override(language):
        text = translation.gettext(msgid)
    assert language == "en" or text != msgid, f"no {language} for {msgid!r}"
    return _filled(text, values)
