// static/shared/i18n.js: system messages written per reader from their event and params, through Django's catalog
// when the page loaded one (a stand-in here with two Chinese strings), in English without it.
import { test } from "node:test";
import assert from "node:assert/strict";

import { interpolate, ngettext, systemMessageText } from "../../static/shared/i18n.js";

const reassigned = { event: "reassigned", params: { agent: "Alice" }, body: "Alice did not answer in time; reassigning." };

test("without a catalog, the English text, with its parameters", () => {
  assert.equal(systemMessageText({ event: "assigned", params: { agent: "Alice" }, body: "" }, "customer"),
    "Alice joined the conversation.");
  assert.equal(systemMessageText({ event: "closed", params: { by: "idle" }, body: "" }, "customer"),
    "The conversation was closed because there was no reply for a while.");
  assert.equal(ngettext("%(count)s minute", "%(count)s minutes", 2), "%(count)s minutes");
});

test("the customer never reads the name of the agent who did not answer; agents do", () => {
  assert.equal(systemMessageText(reassigned, "customer"), "Sorry for the wait: another agent is taking over.");
  assert.equal(systemMessageText(reassigned, "agent"), "Alice did not answer in time; reassigning.");
});

test("an event or parameters it does not know: the stored text", () => {
  assert.equal(systemMessageText({ event: "something_new", params: {}, body: "Stored." }, "customer"), "Stored.");
  assert.equal(systemMessageText({ event: "closed", params: {}, body: "Stored." }, "agent"), "Stored.");
  assert.equal(systemMessageText({ event: "assigned", body: "Stored." }, "agent"), "Stored.");
});

test("with Django's catalog, the reader's language", () => {
  const catalog = {
    "%(agent)s joined the conversation.": "客服 %(agent)s 已接入会话。",
    "The agent closed the conversation.": "客服已结束会话。",
  };
  globalThis.django = {
    gettext: (msgid) => catalog[msgid] || msgid,
    ngettext: (singular, plural, count) => (count === 1 ? singular : plural),
  };
  try {
    assert.equal(systemMessageText({ event: "assigned", params: { agent: "Alice" }, body: "" }, "customer"),
      "客服 Alice 已接入会话。");
    assert.equal(systemMessageText({ event: "closed", params: { by: "agent" }, body: "" }, "customer"), "客服已结束会话。");
  } finally {
    delete globalThis.django;
  }
});

test("interpolate fills named placeholders and leaves unknown ones", () => {
  assert.equal(interpolate("%(a)s and %(b)s", { a: 1 }), "1 and %(b)s");
});
