/*
 * Transfer with a picker: the other agents of the conversation's business line with their presence and load, and
 * the other business lines with their queues (`GET /api/conversations/{id}/transfer-targets/`), and an optional
 * note for whoever takes the chat. The note travels in `conversation.transfer` and is stored as an internal note
 * (agents only, never the customer); the receiving agent is told of it when the chat arrives.
 */
import { gettext, interpolate, ngettext } from "../shared/i18n.js";
import { protocolTag } from "./words.js";

/** @param {any} shell what workbench.js shares (client, config, el, getJson, notify, selected, customerName) */
export function installTransfer(shell) {
  const { client, config, el } = shell;
  const button = document.getElementById("transfer-button");
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById("transfer-dialog"));
  const form = /** @type {HTMLFormElement} */ (document.getElementById("transfer-form"));
  const agents = document.getElementById("transfer-agents");
  const lines = document.getElementById("transfer-lines");
  const note = /** @type {HTMLTextAreaElement} */ (document.getElementById("transfer-note"));
  const submit = /** @type {HTMLInputElement} */ (document.getElementById("transfer-submit"));
  const title = document.getElementById("transfer-title");
  let conversationId = null;

  function option(value, label, detail, { disabled = false, presence = null } = {}) {
    const input = el("input", { type: "radio", name: "target", value, disabled });
    return el(
      "li",
      { class: `wb-pick${disabled ? " is-disabled" : ""}` },
      el(
        "label",
        {},
        input,
        el("span", { class: "wb-pick-name", text: label }),
        presence ? protocolTag("presence", presence, { class: "wb-presence-dot" }) : null,
        el("span", { class: "wb-pick-detail", text: detail }),
      ),
    );
  }

  function render(targets) {
    agents.replaceChildren(
      ...(targets.agents.length
        ? targets.agents.map((agent) =>
            option(
              `agent:${agent.id}`,
              agent.name,
              interpolate(
                agent.available
                  ? gettext("%(load)s of %(capacity)s chats")
                  : agent.presence === "online"
                    ? gettext("%(load)s of %(capacity)s chats · full")
                    : gettext("%(load)s of %(capacity)s chats · not available"),
                { load: agent.load, capacity: agent.capacity },
              ),
              { disabled: !agent.available, presence: agent.presence },
            ),
          )
        : [el("li", { class: "wb-empty", text: gettext("Nobody else works on this line.") })]),
    );
    lines.replaceChildren(
      ...(targets.business_lines.length
        ? targets.business_lines.map((line) =>
            option(
              `line:${line.key}`,
              line.name,
              interpolate(ngettext("%(waiting)s waiting · %(online)s agent online", "%(waiting)s waiting · %(online)s agents online", line.agents_online), {
                waiting: line.waiting,
                online: line.agents_online,
              }),
            ),
          )
        : [el("li", { class: "wb-empty", text: gettext("There is no other business line.") })]),
    );
    submit.disabled = false;
  }

  async function open() {
    const rec = shell.selected();
    if (!rec || !shell.isLive(rec)) return;
    conversationId = rec.id;
    title.textContent = interpolate(gettext("Transfer %(customer)s, conversation #%(id)s"), { customer: shell.customerName(rec.conversation), id: rec.id });
    form.reset();
    submit.disabled = true;
    agents.replaceChildren(el("li", { class: "wb-empty", text: gettext("Loading…") }));
    lines.replaceChildren();
    dialog.showModal();
    try {
      render(await shell.getJson(config.transfer_targets_url.replace("{id}", encodeURIComponent(rec.id))));
    } catch (error) {
      agents.replaceChildren(el("li", { class: "wb-empty", text: interpolate(gettext("Could not load who can take it: %(reason)s"), { reason: error.message }) }));
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = /** @type {HTMLInputElement | null} */ (form.querySelector("input[name=target]:checked"));
    if (!chosen) {
      shell.notify(gettext("Choose an agent or a business line to transfer to."), "warning");
      return;
    }
    const [kind, value] = [chosen.value.slice(0, chosen.value.indexOf(":")), chosen.value.slice(chosen.value.indexOf(":") + 1)];
    const frame = { type: "conversation.transfer", conversation_id: conversationId, ref: `transfer:${conversationId}` };
    if (kind === "agent") frame.to_agent_id = Number(value);
    else frame.to_business_line = value;
    if (note.value.trim()) frame.note = note.value.trim();
    if (!client.send(frame)) {
      shell.notify(gettext("Not connected: try again in a moment."), "warning");
      return;
    }
    dialog.close();
  });
  document.getElementById("transfer-cancel").addEventListener("click", () => dialog.close());
  button.addEventListener("click", open);

  // The receiving side: a chat that came with a note says so at once.
  client.on("conversation", ({ record, frame, previous }) => {
    if (frame.type !== "conversation.assigned") return;
    if (previous && previous.agent && previous.agent.id === config.agent_id && previous.status === "active") return;
    const notes = (frame.messages || []).filter((message) => message.event === "transfer_note" && message.agent_id !== config.agent_id);
    const last = notes[notes.length - 1];
    if (last) shell.notify(interpolate(gettext("Transferred to you with a note: “%(note)s”"), { note: last.body }), "info");
  });
}
