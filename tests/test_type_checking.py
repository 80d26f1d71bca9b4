"""mypy checks every `services.py` and `selectors.py` strictly (pyproject.toml): an app added later gets the same
check as the others, or this test says which module its strict section is missing."""

from __future__ import annotations

import tomllib
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# What `strict = true` would switch on that a per-module section can say (mypy allows `strict` only globally).
STRICT_FLAGS = {
    "disallow_any_generics": True,
    "disallow_subclassing_any": True,
    "disallow_untyped_calls": True,
    "disallow_untyped_defs": True,
    "disallow_incomplete_defs": True,
    "disallow_untyped_decorators": True,
    "warn_return_any": True,
    "implicit_reexport": False,
    "extra_checks": True,
}


def _strict_modules() -> set[str]:
    mypy = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["tool"]["mypy"]
    return {
        module
        for override in mypy["overrides"]
        if all(override.get(flag) == value for flag, value in STRICT_FLAGS.items())
        for module in override["module"]
    }


def test_every_services_and_selectors_module_is_checked_strictly() -> None:
    modules = {
        f"{path.parent.name}.{path.stem}"
        for name in ("services.py", "selectors.py")
        for path in BASE_DIR.glob(f"*/{name}")
    }
    assert {"chat.services", "routing.selectors"} <= modules
    assert modules - _strict_modules() == set()
