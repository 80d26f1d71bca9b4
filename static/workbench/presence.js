/*
 * Presence that tells the truth: choosing Away or Offline with chats open asks what becomes of them. Keep them
 * (answer them until they are closed; no new ones come) or hand them back to the queue at once, for a colleague
 * (`presence.set` with `hand_back`). The question comes before workbench.js sends anything: its change listener
 * on the radio buttons is stopped in the capture phase, and the chosen frame is sent from here.
 */
import { gettext, interpolate, ngettext } from "../shared/i18n.js";

/** @param {any} shell what workbench.js shares (client, records, isLive, notify) */
export function installPresencePrompt(shell) {
  const { client } = shell;
  const group = document.getElementById("presence-switch");
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById("presence-dialog"));
  const question = document.getElementById("presence-dialog-question");
  let presence = null;
  let wanted = null;

  client.on("hello", (hello) => (presence = hello.presence));
  client.on("frame", (frame) => {
    if (frame.type === "presence.state") presence = frame.status;
  });

  function showPresence() {
    for (const input of group.querySelectorAll("input[name=presence]")) {
      /** @type {HTMLInputElement} */ (input).checked = input.value === presence;
    }
  }

  group.addEventListener(
    "change",
    (event) => {
      const input = /** @type {HTMLInputElement} */ (event.target);
      const open = shell.records().filter(shell.isLive).length;
      if (!["away", "offline"].includes(input.value) || open === 0) return;
      event.stopPropagation();
      wanted = input.value;
      showPresence();
      const asking =
        wanted === "away"
          ? ngettext(
              "You have %(count)s open chat. Going Away, what should become of it?",
              "You have %(count)s open chats. Going Away, what should become of them?",
              open,
            )
          : ngettext(
              "You have %(count)s open chat. Going Offline, what should become of it?",
              "You have %(count)s open chats. Going Offline, what should become of them?",
              open,
            );
      question.textContent = interpolate(asking, { count: open });
      dialog.showModal();
    },
    { capture: true },
  );

  function choose(handBack) {
    dialog.close();
    const frame = { type: "presence.set", status: wanted, ref: "presence" };
    if (handBack) frame.hand_back = true;
    if (!client.send(frame)) shell.notify(gettext("Not connected: try again in a moment."), "warning");
  }

  document.getElementById("presence-keep").addEventListener("click", () => choose(false));
  document.getElementById("presence-hand-back").addEventListener("click", () => choose(true));
  document.getElementById("presence-cancel").addEventListener("click", () => dialog.close());
}
