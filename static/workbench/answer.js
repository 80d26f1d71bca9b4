/*
 * "Answer" on the missed list: a short reply to a missed conversation or a left message, sent with
 * `conversation.answer` without taking the conversation, so an agent with no free slot answers too. The answer
 * reaches the customer when they come back (or by email); the conversation then leaves every agent's missed list.
 * One composer under the list, kept across the list's re-renders (each `queue.snapshot` redraws it).
 */
import { gettext, interpolate } from "../shared/i18n.js";
import { newClientMsgId } from "../shared/client.js";
import { humanError } from "./words.js";

/** @param {any} shell what workbench.js shares: client, el, notify, customerName... */
export function installMissedAnswer(shell) {
  const { client, el } = shell;
  const input = /** @type {HTMLTextAreaElement} */ (el("textarea", { id: "missed-answer-input", rows: 3, required: true }));
  const heading = el("label", { htmlFor: "missed-answer-input", class: "wb-missed-answer-label" });
  const send = el("button", { type: "submit", class: "button default", text: gettext("Send the answer") });
  const cancel = el("button", { type: "button", class: "button", text: gettext("Cancel") });
  const error = el("p", { class: "errornote wb-tool-error", hidden: true });
  const form = /** @type {HTMLFormElement} */ (
    el("form", { id: "missed-answer", class: "wb-missed-answer", hidden: true }, heading, input, el("div", { class: "wb-missed-answer-actions" }, send, cancel), error)
  );
  document.getElementById("missed-list").after(form);
  /** @type {{conversation: any, clientMsgId: string, pending: boolean} | null} */
  let target = null;

  function showError(text) {
    error.textContent = text || "";
    error.hidden = !text;
  }

  function close() {
    target = null;
    form.hidden = true;
    input.value = "";
    showError("");
  }

  function open(conversation) {
    if (!target || target.conversation.id !== conversation.id) {
      target = { conversation, clientMsgId: newClientMsgId(), pending: false };
      input.value = "";
    }
    heading.textContent = interpolate(gettext("Your answer to %(customer)s (they read it when they come back, or by email)"), {
      customer: shell.customerName(conversation),
    });
    showError("");
    send.disabled = false;
    form.hidden = false;
    input.focus();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!target || target.pending || !input.value.trim()) return;
    const id = target.conversation.id;
    const frame = { type: "conversation.answer", conversation_id: id, client_msg_id: target.clientMsgId, body: input.value, ref: `answer:${id}` };
    if (!client.send(frame)) {
      showError(gettext("Not connected: try again in a moment."));
      return;
    }
    target.pending = true;
    send.disabled = true;
  });
  cancel.addEventListener("click", close);

  client.on("frame", (frame) => {
    if (!target) return;
    const id = target.conversation.id;
    if (frame.type === "conversation.answered" && frame.ref === `answer:${id}`) {
      shell.notify(interpolate(gettext("Answer sent to %(customer)s."), { customer: shell.customerName(target.conversation) }), "success");
      shell.dropFromMissed(id);
      close();
    } else if (frame.type === "queue.snapshot" && !target.pending && !(frame.missed || []).some((item) => item.id === id)) {
      // Someone else answered or took it while this agent was writing.
      shell.notify(gettext("Another agent has already answered or taken it."), "warning");
      close();
    }
  });
  client.on("error", (frame) => {
    if (!target || frame.ref !== `answer:${target.conversation.id}`) return;
    target.pending = false;
    send.disabled = false;
    showError(humanError(frame));
  });

  return { open };
}
