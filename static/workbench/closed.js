/*
 * "Closed today": the conversations this agent closed since the start of their (local) day, from
 * `GET /api/conversations/closed/`, so they are still there after a reload. Each opens read-only, as a transcript
 * in a dialog. The list is read again when the socket is ready and whenever one of mine closes.
 */
import { el } from "../shared/dom.js";
import { gettext, interpolate } from "../shared/i18n.js";
import { fetchTranscript } from "./transcripts.js";
import { protocolTag } from "./words.js";

const REFRESH_DELAY_MS = 300;

/** Who ended it: every conversation listed here was this agent's, so "agent" is the agent reading. */
function closeReason(reason) {
  if (reason === "agent") return el("span", { "data-close-reason": reason, text: gettext("closed by you") });
  return reason ? protocolTag("close-reason", reason) : protocolTag("status", "closed");
}

/** @param {any} shell what workbench.js shares: client, config, el, getJson, notify, messageItem, customerName... */
export function installClosedToday(shell) {
  const { client, config, el } = shell;
  const list = document.getElementById("closed-list");
  const empty = document.getElementById("closed-empty");
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById("transcript-dialog"));
  const title = document.getElementById("transcript-dialog-title");
  const transcript = document.getElementById("transcript-dialog-messages");
  let timer = null;
  let openId = null;

  function startOfToday() {
    const day = new Date();
    day.setHours(0, 0, 0, 0);
    return day;
  }

  async function refresh() {
    timer = null;
    try {
      const url = `${config.closed_url}?since=${encodeURIComponent(startOfToday().toISOString())}`;
      render((await shell.getJson(url)).conversations);
    } catch (error) {
      shell.notify(interpolate(gettext("Closed conversations could not be loaded: %(reason)s"), { reason: error.message }), "error");
    }
  }

  function refreshSoon() {
    if (timer === null) timer = setTimeout(refresh, REFRESH_DELAY_MS);
  }

  function render(conversations) {
    empty.hidden = conversations.length > 0;
    list.replaceChildren(
      ...conversations.map((conversation) => {
        const button = el(
          "button",
          { type: "button", class: "wb-conv", "data-closed-id": String(conversation.id) },
          el(
            "span",
            { class: "wb-conv-top" },
            el("span", { class: "wb-conv-name", text: shell.customerName(conversation) }),
            el("time", { class: "wb-conv-time", dateTime: conversation.closed_at, text: shell.formatTime(conversation.closed_at) }),
          ),
          el(
            "span",
            { class: "wb-conv-meta" },
            `#${conversation.id} · `,
            protocolTag("channel", conversation.channel),
            ` · ${conversation.business_line} · `,
            closeReason(conversation.close_reason),
          ),
        );
        button.addEventListener("click", () => open(conversation));
        return el("li", {}, button);
      }),
    );
  }

  async function open(conversation) {
    openId = conversation.id;
    title.textContent = interpolate(gettext("%(customer)s, conversation #%(id)s (closed %(closed)s)"), {
      customer: shell.customerName(conversation),
      id: conversation.id,
      closed: shell.formatDateTime(conversation.closed_at),
    });
    transcript.replaceChildren(el("li", { class: "wb-empty", text: gettext("Loading…") }));
    if (!dialog.open) dialog.showModal();
    try {
      const messages = await fetchTranscript({ messagesUrl: config.messages_url, getJson: shell.getJson }, conversation.id);
      if (openId !== conversation.id) return;
      transcript.replaceChildren(...messages.map((message) => shell.messageItem(message, { conversation })));
    } catch (error) {
      transcript.replaceChildren(el("li", { class: "wb-empty", text: error.message }));
    }
  }

  document.getElementById("transcript-dialog-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    openId = null;
  });
  client.on("ready", refreshSoon);
  client.on("conversation", ({ record, previous }) => {
    const conversation = record.conversation;
    const mine = conversation.agent && conversation.agent.id === config.agent_id;
    if (mine && conversation.status === "closed" && (!previous || previous.status !== "closed")) refreshSoon();
  });
}
