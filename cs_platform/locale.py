"""Compile the translations (`locale/*/LC_MESSAGES/*.po`) to the `.mo` files Django reads, with polib (pure Python,
pinned in requirements.txt): a new machine needs no GNU gettext to run the project. `make run` and `make test` run
this (`python -m cs_platform.locale`), and so does the test session (tests/conftest.py); the `.mo` files are build
output, not committed (docs/i18n.md).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import polib

logger = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES_TRANSLATED = ("zh_Hans",)
# What makemessages leaves out: vendored and generated files, tests, the bench, the examples.
EXTRACT_IGNORE = (
    "node_modules",
    ".venv",
    ".data",
    "staticfiles",
    "tests",
    "bench",
    "examples",
    "docs",
    "static/api_docs",
    "static/admin",
)


def extract() -> None:
    """Bring the .po files up to the strings in the code (GNU gettext's xgettext and msgmerge, through Django's
    makemessages, run in the current folder): new strings arrive untranslated, changed ones fuzzy, which
    tests/test_translations.py refuses until a translator fills them in."""
    from django.core.management import call_command

    for domain in ("django", "djangojs"):
        call_command(
            "makemessages",
            locale=list(LANGUAGES_TRANSLATED),
            domain=domain,
            ignore_patterns=list(EXTRACT_IGNORE),
            no_location=True,
            verbosity=0,
        )


def compile_catalogs(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Write each `.mo` older than its `.po` (or missing); fuzzy entries are left out, as msgfmt does. Returns the
    files written."""
    written = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        catalog = polib.pofile(str(po_path))
        temporary = mo_path.with_suffix(f".mo.{os.getpid()}.tmp")
        catalog.save_as_mofile(str(temporary))
        temporary.replace(mo_path)
        written.append(mo_path)
        logger.info("compiled %s (%s%% translated)", mo_path, catalog.percent_translated())
    return written


if __name__ == "__main__":
    if sys.argv[1:] == ["extract"]:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_platform.settings")
        django.setup()
        extract()
    for path in compile_catalogs():
        sys.stdout.write(f"compiled {path.relative_to(LOCALE_DIR.parent)}\n")
