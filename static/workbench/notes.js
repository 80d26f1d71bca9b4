/*
 * Notes about the customer on screen: kept on the customer, read and written by every agent of the line
 * (GET/POST /api/customers/{id}/notes/), changed or removed by their author (PATCH/DELETE .../notes/{id}/), never
 * shown to the customer; a colleague's change arrives live (`customer.notes`).
 */
import { gettext } from "../shared/i18n.js";
import { el } from "../shared/dom.js";
import { api, formatDateTime, onSelection, onServerFrame, ownAgentId, showError } from "./desk.js";

const box = document.getElementById("customer-notes");
const list = box.querySelector(".wb-note-list");
const form = /** @type {HTMLFormElement} */ (box.querySelector("form"));
const text = /** @type {HTMLTextAreaElement} */ (form.querySelector("textarea"));
const error = box.querySelector(".wb-tool-error");
// `editing`: the note being rewritten and its form, kept while the list re-renders (a colleague's note arrives).
const state = { customerId: null, notes: [], editing: null };

function url(id, noteId) {
  const notes = `/api/customers/${encodeURIComponent(id)}/notes/`;
  return noteId === undefined ? notes : `${notes}${encodeURIComponent(noteId)}/`;
}

function noteItem(note) {
  const item = el("li", { class: "wb-note", "data-note-id": String(note.id) });
  if (state.editing && state.editing.id === note.id) {
    item.append(state.editing.form);
    return item;
  }
  item.append(
    el("div", { class: "wb-note-body", text: note.body }),
    el("div", { class: "wb-conv-meta", text: `${note.author.name} · ${formatDateTime(note.created_at)}` }),
  );
  if (note.author.id === ownAgentId()) {
    const change = el("button", { type: "button", class: "button wb-note-action", text: gettext("Edit") });
    const remove = el("button", { type: "button", class: "button wb-note-action", text: gettext("Remove") });
    change.addEventListener("click", () => startEditing(note));
    remove.addEventListener("click", () => write("DELETE", note.id));
    item.append(el("div", { class: "wb-note-actions" }, change, remove));
  }
  return item;
}

function render(notes) {
  state.notes = notes;
  if (state.editing && !notes.some((note) => note.id === state.editing.id)) state.editing = null;
  list.replaceChildren(
    ...(notes.length ? notes.map(noteItem) : [el("li", { class: "wb-empty", text: gettext("No notes about this customer yet.") })]),
  );
}

function startEditing(note) {
  const input = /** @type {HTMLTextAreaElement} */ (el("textarea", { rows: 3, value: note.body, "aria-label": gettext("Note") }));
  const save = el("button", { type: "submit", class: "button default", text: gettext("Save") });
  const cancel = el("button", { type: "button", class: "button", text: gettext("Cancel") });
  const editor = /** @type {HTMLFormElement} */ (el("form", { class: "wb-note-form" }, input, el("div", { class: "wb-note-actions" }, save, cancel)));
  editor.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.value.trim()) write("PATCH", note.id, { body: input.value });
  });
  cancel.addEventListener("click", () => {
    state.editing = null;
    render(state.notes);
  });
  state.editing = { id: note.id, form: editor };
  render(state.notes);
  input.focus();
}

/** Changes or removes one of my notes, then shows the list as it is now. */
async function write(method, noteId, data) {
  const id = state.customerId;
  try {
    await api(method, url(id, noteId), data);
    state.editing = null;
    showError(error, null);
  } catch (failure) {
    showError(error, failure);
  }
  refresh(id);
}

async function refresh(id) {
  try {
    const data = await api("GET", url(id));
    if (id === state.customerId) render(data.notes);
  } catch (failure) {
    showError(error, failure);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = state.customerId;
  if (id === null || !text.value.trim()) return;
  try {
    await api("POST", url(id), { body: text.value });
    text.value = "";
    showError(error, null);
  } catch (failure) {
    showError(error, failure);
  }
  refresh(id);
});

onSelection((selection) => {
  const id = selection ? selection.conversation.customer.id : null;
  if (id === state.customerId) return;
  state.customerId = id;
  state.editing = null;
  box.hidden = id === null;
  list.replaceChildren();
  showError(error, null);
  if (id !== null) refresh(id);
});

onServerFrame("customer.notes", (frame) => {
  if (frame.customer_id === state.customerId) render(frame.notes);
});
