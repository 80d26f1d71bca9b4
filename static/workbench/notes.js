/*
 * Notes about the customer on screen: kept on the customer, read and written by every agent of the line
 * (GET/POST /api/customers/{id}/notes/), never shown to the customer; a colleague's note arrives live
 * (`customer.notes`).
 */
import { gettext } from "../shared/i18n.js";
import { el } from "../shared/dom.js";
import { api, formatDateTime, onSelection, onServerFrame, showError } from "./desk.js";

const box = document.getElementById("customer-notes");
const list = box.querySelector(".wb-note-list");
const form = /** @type {HTMLFormElement} */ (box.querySelector("form"));
const text = /** @type {HTMLTextAreaElement} */ (form.querySelector("textarea"));
const error = box.querySelector(".wb-tool-error");
const state = { customerId: null };

function url(id) {
  return `/api/customers/${encodeURIComponent(id)}/notes/`;
}

function render(notes) {
  list.replaceChildren(
    ...(notes.length
      ? notes.map((note) =>
          el(
            "li",
            { class: "wb-note", "data-note-id": String(note.id) },
            el("div", { class: "wb-note-body", text: note.body }),
            el("div", { class: "wb-conv-meta", text: `${note.author.name} · ${formatDateTime(note.created_at)}` }),
          ),
        )
      : [el("li", { class: "wb-empty", text: gettext("No notes about this customer yet.") })]),
  );
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
  box.hidden = id === null;
  list.replaceChildren();
  showError(error, null);
  if (id !== null) refresh(id);
});

onServerFrame("customer.notes", (frame) => {
  if (frame.customer_id === state.customerId) render(frame.notes);
});
