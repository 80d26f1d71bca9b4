"""The admin in Chinese (issue 14, item 1): every registered model's list, add form and change form read in the
reader's language, with no model name, field label, help text, choice, column, filter, action or app name left in
English. The English names are read from the code itself (each under `translation.override("en")`), so a model,
field or column added without its translation fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.db import models
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext, trans_real

from agents.services import api_token_issue
from audit.models import AuditAction
from audit.services import audit_record
from desk.models import CannedReply, CustomerNote, Label
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

CHINESE = "zh-hans"


class VisibleText(HTMLParser):
    """The text a reader sees: every text node outside <script> and <style>, whitespace collapsed."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text and not self._hidden:
            self.nodes.append(text)


def visible_text(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    return parser.nodes


def _normal(text: str) -> str:
    """A label as shown, whatever its decoration: "Display name:" and "display name" are one label."""
    return " ".join(str(text).split()).rstrip(":*").strip().casefold()


def _strings_of(model_admin: admin.ModelAdmin, request) -> Iterator[object]:
    """Every label the project gives one admin page: the model's names, its fields' names, help texts and choices,
    its admin's computed columns, filters, fieldsets and actions, and its inlines' names."""
    model = model_admin.model
    opts = model._meta
    yield opts.verbose_name
    yield opts.verbose_name_plural
    for field in opts.get_fields():
        if not isinstance(field, models.Field):
            continue
        yield field.verbose_name
        yield field.help_text
        for _value, label in field.flatchoices or []:
            yield label
    for name in [*model_admin.list_display, *model_admin.get_readonly_fields(request)]:
        attribute = getattr(model_admin, name, None) if isinstance(name, str) else name
        yield getattr(attribute, "short_description", "")
    for form_field in model_admin.form.declared_fields.values():
        yield form_field.label or ""
        yield form_field.help_text
    for list_filter in model_admin.list_filter:
        yield getattr(list_filter, "title", "")
    for fieldset_name, _options in model_admin.get_fieldsets(request) or []:
        yield fieldset_name or ""
    for _action, _name, description in model_admin.get_actions(request).values():
        yield description
    yield model_admin.search_help_text or ""
    for inline in model_admin.inlines:
        instance: InlineModelAdmin = inline(model, model_admin.admin_site)
        yield instance.verbose_name or ""
        yield instance.verbose_name_plural or ""


def english_labels(request) -> dict[str, str]:
    """Each label of the admin, in English (normalized) -> where it comes from; all but those Chinese keeps as
    they are. A label nobody translated is among them, so a page showing it fails."""
    labels: dict[str, str] = {}
    same = chinese_as_english()
    for model, model_admin in admin.site._registry.items():
        with translation.override("en"):
            english = [str(text) for text in _strings_of(model_admin, request)]
        labels |= {_normal(en): f"{model._meta.label}: {en!r}" for en in english}
    for config in apps.get_app_configs():
        with translation.override("en"):
            labels[_normal(config.verbose_name)] = f"app {config.label}: {config.verbose_name!r}"
    # Django's own column and field name "ID", which its Chinese catalog leaves as it is (no entry)
    same.add("id")
    # the language switch and the line's language offer each language in its own words ("English", "简体中文")
    same |= {_normal(name) for _code, name in settings.LANGUAGES}
    return {label: origin for label, origin in labels.items() if label and label not in same}


def chinese_as_english() -> set[str]:
    """The strings the Chinese catalogs (ours and Django's) keep as they are, on purpose ("ID")."""
    catalog = trans_real.translation(CHINESE)._catalog  # every catalog's entries, merged by Django
    return {_normal(msgid) for msgid in catalog.keys() if isinstance(msgid, str) and catalog.get(msgid) == msgid}  # noqa: SIM118 (a TranslationCatalog is not a dict: no iteration)


def english_left(html: str, labels: dict[str, str]) -> list[str]:
    """The page's text nodes that are an English label: alone ("Display name:"), or in the list filter's heading
    ("By presence", which Django's Chinese writes "以 presence")."""
    with translation.override(CHINESE):
        by = _normal(gettext(" By %(filter_title)s ") % {"filter_title": ""})
    found = []
    for node in visible_text(html):
        text = _normal(node)
        candidates = {text, text.removeprefix(f"{by} ")}
        found += [f"{node!r} ({labels[candidate]})" for candidate in candidates if candidate in labels]
    return found


@pytest.fixture
def world():
    """One row of every model with an admin, through the factories and services, named in Chinese so that no
    data is taken for an English label."""
    line = BusinessLineFactory(name="商城", key="shop")
    agent = AgentFactory(display_name="小王", user=UserFactory(username="xiaowang"), business_lines=[line])
    customer = CustomerFactory(business_line=line, name="李雷", email="li@example.com")
    conversation = ConversationFactory(customer=customer, transcript=["你好"])
    Label.objects.create(business_line=line, name="退款")
    CannedReply.objects.create(business_line=line, shortcut="hi", title="问候", body="您好！")
    CustomerNote.objects.create(customer=customer, author=agent, body="老客户")
    api_token_issue(user=agent.user)
    audit_record(action=AuditAction.TRANSCRIPT_EXPORT, actor_label="xiaowang", target_type="chat.conversation")
    return conversation


@pytest.fixture
def superuser(client):
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    client.cookies["django_language"] = CHINESE
    return user


def admin_pages(request) -> Iterator[str]:
    """The admin's home, each app's page, and every registered model's list, add form (when it may be added) and
    change form (of its first row)."""
    yield reverse("admin:index")
    for app_label in sorted({model._meta.app_label for model in admin.site._registry}):
        yield reverse("admin:app_list", args=[app_label])
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        yield reverse("admin:{}_{}_changelist".format(*info))
        if model_admin.has_add_permission(request):
            yield reverse("admin:{}_{}_add".format(*info))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            yield reverse("admin:{}_{}_change".format(*info), args=[first.pk])


def test_every_admin_page_reads_in_chinese_with_no_english_label_left(client, superuser, world):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    labels = english_labels(request)
    # the check can fail: the English labels it looks for include the models', the fields' and the columns'
    assert {"business line", "display name", "waiting", "handled by", "team member", "team picture"} <= set(labels)

    pages = list(admin_pages(request))
    left = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Language"] == CHINESE, url
        if found := english_left(response.content.decode(), labels):
            left[url] = found

    assert left == {}
    assert len(pages) > 3 * len(admin.site._registry)
    # the headings for screen readers Django's own Chinese lacks (cs_platform/django_words.py)
    assert {"模型名称", "添加链接", "修改或查看列表链接"} <= set(visible_text(client.get("/admin/").content.decode()))


def test_the_english_admin_keeps_its_english_labels(client, superuser, world):
    client.cookies["django_language"] = "en"
    request = RequestFactory().get("/admin/")
    request.user = superuser
    labels = english_labels(request)

    html = client.get(reverse("admin:agents_agent_change", args=[world.business_line.agents.get().pk])).content
    found = english_left(html.decode(), labels)

    assert any("Display name:" in entry for entry in found)
    assert any("Most open conversations at once." in entry for entry in found)


def test_the_conversation_list_shows_its_columns_filters_and_statuses_in_chinese(client, superuser, world):
    html = client.get(reverse("admin:chat_conversation_changelist")).content.decode()
    nodes = visible_text(html)

    for column in ("客户", "业务线", "渠道", "状态", "客服", "开始时间", "评分"):
        assert column in nodes, column
    assert "以 状态" in nodes  # the status filter's title
    assert "以 结果（按报表口径）" in nodes
    assert "排队中" in nodes  # the waiting conversation's status, and the filter's choice
    assert "网站聊天窗口" in nodes  # its channel
    assert "星期一" in nodes  # the weekday filter's choices, in Django's own catalog
    assert "将所选聊天记录导出为 CSV" in nodes
    transcript = visible_text(client.get(reverse("admin:chat_conversation_change", args=[world.pk])).content.decode())
    assert f"会话 #{world.pk}" in transcript  # the record's name, in the breadcrumbs
    customers = visible_text(client.get(reverse("admin:customers_customer_changelist")).content.decode())
    assert {"姓名", "邮箱", "外部 ID", "首次渠道", "以 首次渠道"} <= set(customers)  # a person's name, not a thing's


def test_the_wire_values_stay_english_under_chinese_labels(world):
    with translation.override(CHINESE):
        assert world.status == "waiting"
        assert world.get_status_display() == "排队中"
        assert world.channel == "web"
        assert capfirst(world._meta.get_field("close_reason").verbose_name) == "结束原因"


def test_the_admins_messages_and_the_rest_errors_are_in_the_readers_language(client, superuser, world):
    customer = world.customer
    response = client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "erase_customers", "_selected_action": [customer.pk], "post": "yes", "reason": "工单 42"},
        follow=True,
    )

    notices = [str(message) for message in response.context["messages"]]
    assert notices == [
        f"未删除：客户 {customer.pk} 有进行中的会话（#{world.pk}）："
        "请在会话结束后（由客服或客户结束，或超时结束）再删除。"
    ]
    refused = client.get("/api/reports/summary/?business_line=nope", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert refused.status_code == 404
    assert refused.json() == {"code": "business_line_not_found", "message": "未知的业务线。"}


@pytest.mark.parametrize("language", ["en", CHINESE])
def test_a_business_lines_team_lists_its_agents_by_name(client, superuser, world, language):
    # given: the business line 商城, whose team is the agent 小王
    client.cookies["django_language"] = language
    line = world.customer.business_line

    # when: its change page is opened
    html = client.get(reverse("admin:routing_businessline_change", args=[line.pk])).content.decode()

    # then: each row of the team says the agent's name, not Django's name for the relation's row
    rows = re.findall(r'<td class="original">\s*<p>(.*?)</p>', html, flags=re.S)
    assert [" ".join(visible_text(row)) for row in rows] == ["小王"]
    assert "object (" not in html
