/*
 * What the workbench says to the agent in plain words: refusals from the server explained by what happened, not by
 * a field name or an error code, and links in messages made clickable safely (http and https only, as text nodes
 * around real anchors: nothing a customer writes is ever parsed as HTML).
 */
import { el } from "../shared/dom.js";
import { gettext } from "../shared/i18n.js";

// Protocol values (docs/protocol.md) as the agent reads them, in one place: the page shows these words and keeps
// the value itself in a data attribute (`data-channel`, `data-status`, ...) for styles, scripts and tests.
const WORDS = {
  channel: {
    web: gettext("Website"),
    h5: gettext("Mobile web (H5)"),
    app: gettext("App"),
  },
  status: {
    waiting: gettext("waiting"),
    active: gettext("active"),
    closed: gettext("closed"),
    missed: gettext("missed"),
    // the workbench's own states of a conversation in its list
    transferred: gettext("transferred"),
    loading: gettext("loading"),
  },
  "close-reason": {
    customer: gettext("closed by the customer"),
    agent: gettext("closed by the agent"),
    idle: gettext("the customer went quiet"),
    wait_timeout: gettext("nobody was free in time"),
    offline: gettext("a message left while nobody could answer"),
    answered: gettext("answered from the missed list"),
  },
  presence: {
    online: gettext("Online"),
    away: gettext("Away"),
    offline: gettext("Offline"),
  },
};

/**
 * The words for a protocol value: `protocolText("channel", "h5")`. A value this page does not know yet (a newer
 * server) is shown as it is rather than hidden.
 * @param {"channel" | "status" | "close-reason" | "presence"} kind
 * @param {string | null | undefined} value
 */
export function protocolText(kind, value) {
  if (!value) return "";
  return WORDS[kind][value] || value;
}

/**
 * A span with a protocol value's words and the value in `data-KIND` (`data-channel="app"`).
 * @param {"channel" | "status" | "close-reason" | "presence"} kind
 * @param {string | null | undefined} value
 * @param {Record<string, any>} [props] more properties of the span (its class)
 */
export function protocolTag(kind, value, props = {}) {
  return el("span", { ...props, [`data-${kind}`]: value || null, text: protocolText(kind, value) });
}

const ERRORS = {
  not_found: gettext("That conversation is no longer in your business lines (it moved or is gone)."),
  already_answered: gettext("Another agent has already answered or taken it."),
  not_assigned: gettext("This conversation is no longer assigned to you, so you cannot act on it."),
  conversation_closed: gettext("This conversation has ended: nothing more can be sent to it."),
  rate_limited: gettext("You are sending faster than the server accepts: wait a moment, your messages will follow."),
  body_too_long: gettext("That message is too long to send: shorten it or split it in two."),
  frame_too_large: gettext("That was too large to send in one go."),
  invalid_json: gettext("The workbench sent something the server could not read. Reload the page if it happens again."),
  invalid_field: gettext("The server could not do that: the request was not complete. Reload the page if it happens again."),
  unknown_type: gettext("The server does not know that action. Reload the page: the workbench may be out of date."),
  internal_error: gettext("Something went wrong on the server. Try again in a moment."),
  reply_too_large: gettext("The server's answer would have been too large. Try again in a moment."),
};

// Server messages already meant for people, kept as they are for these codes (they name who or what is missing).
const OWN_WORDS = new Set(["agent_unavailable", "file_too_large", "file_type_not_allowed", "file_rejected"]);

/** A refusal from the server (`error` frame) as a sentence for the agent. */
export function humanError(frame) {
  const code = frame && frame.code;
  if (code && OWN_WORDS.has(code) && frame.message) return sentence(frame.message);
  if (code && ERRORS[code]) return ERRORS[code];
  return gettext("That did not work. Try again in a moment, or reload the page.");
}

function sentence(text) {
  const trimmed = String(text).trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

const LINK = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)]/g;

/** Text and links of a message body: the same rule as the customer's chat (static/widget/chat.js). */
export function linkifiedNodes(body) {
  const nodes = [];
  let last = 0;
  for (const match of String(body || "").matchAll(LINK)) {
    nodes.push(document.createTextNode(body.slice(last, match.index)));
    const link = document.createElement("a");
    link.href = match[0];
    link.textContent = match[0];
    link.target = "_blank";
    link.rel = "noopener noreferrer nofollow";
    nodes.push(link);
    last = match.index + match[0].length;
  }
  nodes.push(document.createTextNode(String(body || "").slice(last)));
  return nodes;
}
