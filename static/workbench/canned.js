/*
 * Canned replies: typed as `/shortcut` in the composer, filtered as one types, inserted with Enter or Tab with their
 * variables filled by the server for the conversation on screen (GET /api/canned-replies/?conversation_id=); also
 * the "Insert a canned reply" list, and the agent's own replies kept in the "Canned replies" panel.
 */
import { gettext, interpolate } from "../shared/i18n.js";
import { el } from "../shared/dom.js";
import { api, csrfToken, onSelection, showError } from "./desk.js";

const input = /** @type {HTMLTextAreaElement} */ (document.getElementById("composer-input"));
const select = /** @type {HTMLSelectElement} */ (document.getElementById("canned-replies"));
const picker = document.getElementById("canned-picker");
const filesBar = document.getElementById("canned-files");
const manager = document.getElementById("canned-manager");
const SHORTCUT_AT_CARET = /(^|\s)\/([a-z0-9_-]*)$/i;

const state = { conversationId: null, replies: [], loading: null, matches: [], active: 0, slash: null };

async function load() {
  if (state.conversationId === null) return [];
  const id = state.conversationId;
  const data = await api("GET", `/api/canned-replies/?conversation_id=${encodeURIComponent(id)}`);
  if (id === state.conversationId) state.replies = data.results;
  return state.replies;
}

function reload() {
  state.loading = load().catch(() => []);
  state.loading.then(renderSelect);
  return state.loading;
}

function renderSelect() {
  const first = select.options[0];
  select.replaceChildren(
    first,
    ...state.replies.map((reply) => el("option", { value: reply.text ?? reply.body, text: `/${reply.shortcut} · ${reply.title}` })),
  );
}

// ---- The `/shortcut` picker ----------------------------------------------------------------------------

function closePicker() {
  state.slash = null;
  state.matches = [];
  picker.hidden = true;
  picker.replaceChildren();
  input.removeAttribute("aria-activedescendant");
}

function renderPicker() {
  if (!state.matches.length) {
    picker.replaceChildren(el("li", { class: "wb-empty", text: gettext("No canned reply matches.") }));
  } else {
    picker.replaceChildren(
      ...state.matches.map((reply, index) => {
        const item = el(
          "li",
          {
            id: `canned-option-${reply.id}`,
            role: "option",
            class: `wb-canned-option${index === state.active ? " is-active" : ""}`,
            "aria-selected": index === state.active ? "true" : "false",
            "data-shortcut": reply.shortcut,
          },
          el("span", { class: "wb-canned-shortcut", text: `/${reply.shortcut}` }),
          el("span", { class: "wb-canned-title", text: reply.attachments.length ? `${reply.title} 📎${reply.attachments.length}` : reply.title }),
          el("span", { class: "wb-canned-preview", text: reply.text ?? reply.body }),
        );
        item.addEventListener("mousedown", (event) => {
          event.preventDefault();
          insert(reply);
        });
        return item;
      }),
    );
    input.setAttribute("aria-activedescendant", `canned-option-${state.matches[state.active].id}`);
  }
  picker.hidden = false;
}

async function updatePicker() {
  const caret = input.selectionStart ?? input.value.length;
  const match = SHORTCUT_AT_CARET.exec(input.value.slice(0, caret));
  if (!match) {
    closePicker();
    return;
  }
  const typed = match[2].toLowerCase();
  state.slash = { start: caret - typed.length - 1, end: caret };
  const replies = state.replies.length ? state.replies : await (state.loading || reload());
  if (!state.slash) return;
  const byShortcut = replies.filter((reply) => reply.shortcut.startsWith(typed));
  const byText = replies.filter(
    (reply) => !reply.shortcut.startsWith(typed) && `${reply.title} ${reply.body}`.toLowerCase().includes(typed),
  );
  state.matches = [...byShortcut, ...byText].slice(0, 8);
  state.active = Math.min(state.active, Math.max(0, state.matches.length - 1));
  renderPicker();
}

function insert(reply) {
  const text = reply.text ?? reply.body;
  const { start, end } = state.slash || { start: input.selectionStart ?? 0, end: input.selectionEnd ?? 0 };
  input.value = input.value.slice(0, start) + text + input.value.slice(end);
  const caret = start + text.length;
  input.setSelectionRange(caret, caret);
  closePicker();
  input.focus();
  input.dispatchEvent(new Event("input", { bubbles: true }));
  offerFiles(reply);
}

// ---- A reply's files: copied into the conversation (POST .../use/) when the agent sends them --------------

function offerFiles(reply) {
  if (!reply.attachments || !reply.attachments.length) {
    filesBar.hidden = true;
    return;
  }
  const conversationId = state.conversationId;
  const send = el("button", { type: "button", class: "button wb-small", text: gettext("Send the files") });
  const dismiss = el("button", { type: "button", class: "button wb-small", text: gettext("Not now") });
  const error = el("span", { class: "wb-tool-error", hidden: true });
  send.addEventListener("click", async () => {
    send.disabled = true;
    try {
      const used = await api("POST", `/api/canned-replies/${reply.id}/use/`, { conversation_id: conversationId });
      document.dispatchEvent(
        new CustomEvent("workbench:send-attachments", {
          detail: { conversationId, attachmentIds: used.attachments.map((file) => file.id) },
        }),
      );
      filesBar.hidden = true;
    } catch (failure) {
      send.disabled = false;
      showError(error, failure);
    }
  });
  dismiss.addEventListener("click", () => {
    filesBar.hidden = true;
  });
  filesBar.replaceChildren(
    el("span", {
      text: interpolate(gettext("📎 Files of /%(shortcut)s: %(files)s"), {
        shortcut: reply.shortcut,
        files: reply.attachments.map((file) => file.name).join(", "),
      }),
    }),
    send,
    dismiss,
    error,
  );
  filesBar.hidden = false;
}

// Registered before workbench.js's own keydown (this module is imported first), so Enter picks, not sends.
input.addEventListener(
  "keydown",
  (event) => {
    if (picker.hidden || !state.matches.length) {
      if (event.key === "Escape") closePicker();
      return;
    }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : -1;
      state.active = (state.active + step + state.matches.length) % state.matches.length;
      renderPicker();
    } else if ((event.key === "Enter" && !event.shiftKey && !event.isComposing) || event.key === "Tab") {
      insert(state.matches[state.active]);
    } else if (event.key === "Escape") {
      closePicker();
    } else {
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
  },
  { capture: true },
);
input.addEventListener("input", () => {
  state.active = 0;
  updatePicker();
});
// Closed by a click elsewhere (not on blur: the workbench re-renders the composer's controls while one types).
document.addEventListener("mousedown", (event) => {
  if (!picker.hidden && event.target !== input && !picker.contains(/** @type {Node} */ (event.target))) closePicker();
});

// ---- The agent's own replies ---------------------------------------------------------------------------

const list = manager.querySelector(".wb-canned-list");
const form = /** @type {HTMLFormElement} */ (manager.querySelector("form"));
const error = manager.querySelector(".wb-tool-error");
let editing = null;

async function renderManager() {
  let replies;
  try {
    replies = (await api("GET", "/api/canned-replies/")).results;
  } catch (failure) {
    showError(error, failure);
    return;
  }
  list.replaceChildren(
    ...replies.map((reply) => {
      const actions = [];
      if (reply.editable) {
        const edit = el("button", { type: "button", class: "button wb-small", text: gettext("Edit") });
        edit.addEventListener("click", () => {
          editing = reply.id;
          form.elements.namedItem("shortcut").value = reply.shortcut;
          form.elements.namedItem("title").value = reply.title;
          form.elements.namedItem("body").value = reply.body;
          form.querySelector("[type=submit]").value = gettext("Save");
        });
        const remove = el("button", { type: "button", class: "button wb-small", text: gettext("Delete") });
        remove.addEventListener("click", async () => {
          if (!window.confirm(interpolate(gettext("Delete the canned reply /%(shortcut)s?"), { shortcut: reply.shortcut }))) return;
          try {
            await api("DELETE", `/api/canned-replies/${reply.id}/`);
            showError(error, null);
          } catch (failure) {
            showError(error, failure);
          }
          changed();
        });
        actions.push(edit, remove);
      }
      return el(
        "li",
        { "data-canned-id": String(reply.id) },
        el("span", { class: "wb-canned-shortcut", text: `/${reply.shortcut}` }),
        el("span", { class: "wb-canned-title", text: reply.title }),
        el("span", { class: "wb-conv-meta", text: reply.personal ? gettext("Mine") : interpolate(gettext("Line %(line)s"), { line: reply.business_line }) }),
        ...reply.attachments.map((file) => el("span", { class: "wb-conv-meta", text: `📎 ${file.name}` })),
        ...actions,
      );
    }),
  );
}

/** A file for a reply: multipart with the session's CSRF token; its type is decided by the server. */
async function uploadFile(replyId, file) {
  const body = new FormData();
  body.append("file", file);
  const response = await fetch(`/api/canned-replies/${replyId}/attachments/`, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    body,
  });
  if (!response.ok) {
    let answer = null;
    try {
      answer = await response.json();
    } catch (error) {
      answer = null;
    }
    const reason = (answer && answer.message) || interpolate(gettext("the server answered %(status)s"), { status: response.status });
    throw new Error(interpolate(gettext("%(file)s: %(reason)s"), { file: file.name, reason }));
  }
}

function changed() {
  renderManager();
  reload();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = {
    shortcut: form.elements.namedItem("shortcut").value,
    title: form.elements.namedItem("title").value,
    body: form.elements.namedItem("body").value,
  };
  const file = form.elements.namedItem("file").files[0];
  try {
    const saved = editing === null
      ? await api("POST", "/api/canned-replies/", data)
      : await api("PATCH", `/api/canned-replies/${editing}/`, data);
    if (file) await uploadFile(saved.id, file);
    showError(error, null);
    editing = null;
    form.reset();
    form.querySelector("[type=submit]").value = gettext("Add");
  } catch (failure) {
    showError(error, failure);
  }
  changed();
});

manager.addEventListener("toggle", () => {
  if (manager.open) renderManager();
});

onSelection((selection) => {
  state.conversationId = selection ? selection.conversation.id : null;
  state.replies = [];
  state.loading = null;
  closePicker();
  if (state.conversationId !== null) reload();
});
