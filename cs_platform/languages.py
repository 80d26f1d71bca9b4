"""The reader's language, from a tag a page or browser gives (`zh-CN`, `zh-hans`, `en-US`), as one of ours
(settings.LANGUAGES), and the JavaScript catalog in it (docs/i18n.md)."""

from __future__ import annotations

import hashlib

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import get_conditional_response, patch_cache_control
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
    (the widget's `data-lang`); without it, the request's (LocaleMiddleware).

    Every chat page loads it, and it changes only with a deploy: a browser keeps it for an hour and then asks again
    with its ETag, which a catalog unchanged since answers with an empty 304."""

    MAX_AGE_SECONDS = 3600

    def get(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        asked = supported_language(request.GET.get("lang", ""))
        with translation.override(asked or translation.get_language()):
            response = super().get(request, *args, **kwargs)
        if not asked:
            response["Vary"] = "Accept-Language, Cookie"
        patch_cache_control(response, public=True, max_age=self.MAX_AGE_SECONDS)
        response["ETag"] = f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'
        return get_conditional_response(request, etag=response["ETag"], response=response) or response
