from django.apps import AppConfig


class PlatformConfig(AppConfig):
    """The project's own checks (`cs_platform/checks.py`); the project package holds no models."""

    name = "cs_platform"

    def ready(self) -> None:
        from cs_platform import checks  # noqa: F401  (registers the checks)
