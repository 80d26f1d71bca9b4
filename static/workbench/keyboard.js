/*
 * Keyboard shortcuts for a whole shift, listed behind `?`, and all of them can be turned off (a switch kept in
 * localStorage): a screen reader's or a browser extension's keys then pass untouched. Letters act only outside
 * text fields; Alt+arrows work in the composer too.
 */
import { gettext } from "../shared/i18n.js";
import { settingsStorage } from "./alerts.js";

const SWITCH_KEY = "cs-workbench:shortcuts";

export const SHORTCUTS = [
  ["?", gettext("Show this list")],
  [gettext("j  or  Alt+↓"), gettext("Next conversation")],
  [gettext("k  or  Alt+↑"), gettext("Previous conversation")],
  ["r", gettext("Write a reply (focus the composer)")],
  ["Esc", gettext("Leave the composer")],
  ["Shift+C", gettext("Close the conversation (asks first)")],
];

/** @param {any} shell what workbench.js shares (el, notify) */
export function installKeyboard(shell) {
  const { el } = shell;
  const storage = settingsStorage();
  const toggle = /** @type {HTMLInputElement} */ (document.getElementById("shortcuts-switch"));
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById("shortcuts-dialog"));
  const list = document.getElementById("shortcuts-list");
  const composer = /** @type {HTMLTextAreaElement} */ (document.getElementById("composer-input"));

  toggle.checked = storage.getItem(SWITCH_KEY) !== "off";
  toggle.addEventListener("change", () => storage.setItem(SWITCH_KEY, toggle.checked ? "on" : "off"));
  list.replaceChildren(...SHORTCUTS.flatMap(([keys, what]) => [el("dt", {}, el("kbd", { text: keys })), el("dd", { text: what })]));
  document.getElementById("shortcuts-dialog-close").addEventListener("click", () => dialog.close());

  function conversationButtons() {
    return [...document.querySelectorAll("#conversation-list [data-conversation-id]")];
  }

  function move(step) {
    const buttons = conversationButtons();
    if (!buttons.length) return;
    const current = buttons.findIndex((button) => button.getAttribute("aria-current") === "true");
    const next = current === -1 ? (step > 0 ? 0 : buttons.length - 1) : (current + step + buttons.length) % buttons.length;
    const target = /** @type {HTMLButtonElement} */ (buttons[next]);
    target.click();
    // workbench.js redraws the list on select: focus the new button for the keyboard's user
    const again = document.querySelector(`#conversation-list [data-conversation-id="${target.dataset.conversationId}"]`);
    if (again instanceof HTMLElement) again.focus();
  }

  function inTextField(target) {
    return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", (event) => {
    if (!toggle.checked || event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey) return;
    if (event.altKey && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      move(event.key === "ArrowDown" ? 1 : -1);
      return;
    }
    if (event.altKey) return;
    if (event.key === "Escape" && event.target === composer) {
      composer.blur();
      return;
    }
    if (inTextField(event.target) || document.querySelector("dialog[open]:not(#shortcuts-dialog)")) return;
    let handled = true;
    if (event.key === "?") {
      if (dialog.open) dialog.close();
      else dialog.showModal();
    } else if (event.key === "j") move(1);
    else if (event.key === "k") move(-1);
    else if (event.key === "r") {
      if (!composer.closest("form").hidden && !composer.disabled) composer.focus();
    } else if (event.key === "C" && event.shiftKey) {
      const close = /** @type {HTMLButtonElement} */ (document.getElementById("close-button"));
      if (!close.closest("[hidden]") && !close.disabled) close.click();
    } else handled = false;
    if (handled) event.preventDefault();
  });
}
