/*
 * A customer waiting for my reply: beside each of my live conversations whose last word is the customer's, a
 * running timer since that message, red past the business line's reply target: its `agent_reply_timeout`, the
 * target the supervisors' monitor uses too (the page's config holds them as `reply_targets`, seconds by line key).
 * It decorates the list workbench.js renders, and follows it as it is redrawn.
 */
import { gettext, interpolate } from "../shared/i18n.js";

const TICK_MS = 1000;

/** @param {any} shell what workbench.js shares (records, isLive, formatWait, config, el) */
export function installReplyTimers(shell) {
  const list = document.getElementById("conversation-list");

  /** When the customer's unanswered message came, or null when the last word (not a note, not an event) is mine. */
  function waitingSince(rec) {
    const seqs = [...rec.messages.keys()].sort((a, b) => b - a);
    for (const seq of seqs) {
      const message = rec.messages.get(seq);
      if (message.sender === "system" || message.internal) continue;
      return message.sender === "customer" ? Date.parse(message.created_at) || null : null;
    }
    return null;
  }

  function decorate() {
    const now = Date.now();
    for (const rec of shell.records()) {
      const button = list.querySelector(`[data-conversation-id="${rec.id}"]`);
      if (!button) continue;
      let timer = button.querySelector(".wb-reply-wait");
      const since = shell.isLive(rec) ? waitingSince(rec) : null;
      if (since === null) {
        if (timer) timer.remove();
        continue;
      }
      if (!timer) {
        timer = shell.el("span", { class: "wb-reply-wait" });
        button.querySelector(".wb-conv-top").append(timer);
      }
      const target = Number(shell.config.reply_targets[rec.conversation.business_line]) || 0;
      const waited = Math.max(0, now - since);
      const late = target > 0 && waited > target * 1000;
      timer.textContent = shell.formatWait(waited);
      timer.classList.toggle("is-late", late);
      timer.dataset.late = late ? "true" : "false";
      timer.title = late
        ? interpolate(gettext("Waiting for your reply longer than the line's target (%(target)s s)"), { target })
        : interpolate(gettext("Waiting for your reply (target %(target)s s)"), { target });
    }
  }

  new MutationObserver(() => decorate()).observe(list, { childList: true });
  setInterval(decorate, TICK_MS);
}
