/*
 * Drafts per conversation: what the agent started writing stays with its conversation when they switch to another
 * and back, and across a reload (localStorage, per agent). A sent message clears its draft; a draft of a
 * conversation that ended is dropped when the page starts.
 */
import { settingsStorage } from "./alerts.js";

const MAX_DRAFT = 20000;

/** @param {any} shell what workbench.js shares (config, client, selected) */
export function installDrafts(shell) {
  const storage = settingsStorage();
  const key = `cs-workbench:drafts:${shell.config.agent_id}`;
  const composer = /** @type {HTMLTextAreaElement} */ (document.getElementById("composer-input"));

  function all() {
    try {
      const stored = JSON.parse(storage.getItem(key) || "{}");
      return stored && typeof stored === "object" ? stored : {};
    } catch (error) {
      return {};
    }
  }

  function save(id, text) {
    const drafts = all();
    if (text) drafts[id] = text.slice(0, MAX_DRAFT);
    else delete drafts[id];
    try {
      storage.setItem(key, JSON.stringify(drafts));
    } catch (error) {
      // Storage full or refused: the draft lives as long as the page.
    }
  }

  function remember() {
    const rec = shell.selected();
    if (rec) save(rec.id, composer.value);
  }

  composer.addEventListener("input", remember);
  composer.addEventListener("change", remember);

  // Conversations that ended while the page was away: their drafts have nowhere to go.
  shell.client.on("ready", () => {
    const drafts = all();
    for (const id of Object.keys(drafts)) {
      const held = shell.client.records.get(Number(id));
      if (!held || (held.conversation && ["closed", "missed"].includes(held.conversation.status))) save(id, "");
    }
  });

  return {
    /** The draft of a conversation, for the composer when it is selected. */
    load: (id) => all()[id] || "",
    clear: (id) => save(id, ""),
    remember,
  };
}
