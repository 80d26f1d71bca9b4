"""The reader's language, from a tag a page or browser gives (`zh-CN`, `zh-hans`, `en-US`), as one of ours
(settings.LANGUAGES), and the JavaScript catalog in it (docs/i18n.md)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import get_supported_language_variant
from django.views.i18n import JavaScriptCatalog


def supported_language(tag: str) -> str | None:
    """One of our languages for a BCP 47 tag (`zh-CN` is `zh-hans`), or None for a tag we do not speak."""
    tag = tag.strip().lower().replace("_", "-")
    if not tag or len(tag) > 35:
        return None
    try:
        return get_supported_language_variant(tag)
    except LookupError:
        return None


class LanguageCatalog(JavaScriptCatalog):
    """Django's JavaScript catalog, an external script (the CSP forbids inline ones) that defines `django.gettext`
    and friends for the ES modules (static/shared/i18n.js). `?lang=` picks the language, as the chat page's own
    (the widget's `data-lang`); without it, the request's (LocaleMiddleware)."""

    def get(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        language = supported_language(request.GET.get("lang", "")) or translation.get_language()
        with translation.override(language):
            response = super().get(request, *args, **kwargs)
        response["Vary"] = "Accept-Language, Cookie"
        return response
