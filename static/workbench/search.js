/*
 * Search: past and present conversations of my lines by customer name, email, external id or message text
 * (GET /api/search/?q=), each opened as a read-only transcript (the history API) in a dialog.
 */
import { el } from "../shared/dom.js";
import { gettext, interpolate, systemMessageText } from "../shared/i18n.js";
import { api, formatDateTime, showError } from "./desk.js";
import { protocolTag } from "./words.js";

const form = /** @type {HTMLFormElement} */ (document.getElementById("search-form"));
const field = /** @type {HTMLInputElement} */ (form.querySelector("input[type=search]"));
const results = document.getElementById("search-results");
const error = document.getElementById("search-error");
const dialog = /** @type {HTMLDialogElement} */ (document.getElementById("search-transcript"));
const PAGE = 500;

function customerName(customer) {
  return customer.name || customer.email || `Visitor #${customer.id}`;
}

function who(message, conversation) {
  if (message.sender === "customer") return customerName(conversation.customer);
  if (message.sender === "system") return gettext("System");
  if (conversation.agent && conversation.agent.id === message.agent_id) return conversation.agent.name;
  return message.agent_id ? interpolate(gettext("Agent #%(id)s"), { id: message.agent_id }) : gettext("Agent");
}

async function open(conversation) {
  const title = dialog.querySelector("h2");
  const transcript = dialog.querySelector("ol");
  title.textContent = interpolate(gettext("%(customer)s, conversation #%(id)s (%(status)s, %(started)s)"), {
    customer: customerName(conversation.customer),
    id: conversation.id,
    status: conversation.status,
    started: formatDateTime(conversation.started_at),
  });
  transcript.replaceChildren(el("li", { class: "wb-empty", text: gettext("Loading…") }));
  if (!dialog.open) dialog.showModal();
  const messages = [];
  try {
    let after = 0;
    for (;;) {
      const page = await api("GET", `/api/conversations/${encodeURIComponent(conversation.id)}/messages/?after_seq=${after}&limit=${PAGE}`);
      messages.push(...page.messages);
      if (!page.has_more || !page.messages.length) break;
      after = page.next_after_seq;
    }
  } catch (failure) {
    transcript.replaceChildren(el("li", { class: "wb-empty", text: failure.message }));
    return;
  }
  transcript.replaceChildren(
    ...messages.map((message) =>
      el(
        "li",
        { class: `wb-msg wb-msg--${message.sender}${message.internal ? " wb-msg--internal" : ""}`, "data-seq": String(message.seq) },
        el(
          "div",
          { class: "wb-msg-meta" },
          el("span", { class: "wb-msg-who", text: who(message, conversation) }),
          el("time", { dateTime: message.created_at, text: formatDateTime(message.created_at) }),
          message.internal ? el("span", { class: "wb-msg-flag", text: gettext("Internal note") }) : null,
        ),
        el("div", { class: "wb-msg-body", text: message.sender === "system" ? systemMessageText(message, "agent") : message.body }),
        ...(message.attachments || []).map((file) => el("div", { class: "wb-conv-meta", text: `📎 ${file.name}` })),
      ),
    ),
  );
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const query = field.value.trim();
  if (!query) return;
  results.replaceChildren(el("li", { class: "wb-empty", text: gettext("Searching…") }));
  let hits;
  try {
    hits = (await api("GET", `/api/search/?q=${encodeURIComponent(query)}`)).results;
    showError(error, null);
  } catch (failure) {
    results.replaceChildren();
    showError(error, failure);
    return;
  }
  if (!hits.length) {
    results.replaceChildren(el("li", { class: "wb-empty", text: gettext("No conversation of your lines matches.") }));
    return;
  }
  results.replaceChildren(
    ...hits.map(({ conversation, snippet }) => {
      const button = el(
        "button",
        { type: "button", class: "wb-conv", "data-search-id": String(conversation.id) },
        el(
          "span",
          { class: "wb-conv-top" },
          el("span", { class: "wb-conv-name", text: customerName(conversation.customer) }),
          protocolTag("status", conversation.status, { class: "wb-badge" }),
        ),
        snippet ? el("span", { class: "wb-conv-preview", text: snippet }) : null,
        el("span", { class: "wb-conv-meta", text: `#${conversation.id} · ${formatDateTime(conversation.started_at)} · ${conversation.business_line}` }),
      );
      button.addEventListener("click", () => open(conversation));
      return el("li", {}, button);
    }),
  );
});

dialog.querySelector(".wb-dialog-close").addEventListener("click", () => dialog.close());
