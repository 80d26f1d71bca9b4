/*
 * A conversation's labels (its business line's, kept by supervisors in the admin): shown under the chat's title,
 * added from a list and removed with ×, over PUT /api/conversations/{id}/labels/; a colleague's change arrives
 * live (`conversation.labels`).
 */
import { gettext, interpolate } from "../shared/i18n.js";
import { el } from "../shared/dom.js";
import { api, onSelection, onServerFrame, showError } from "./desk.js";

const box = document.getElementById("conversation-labels");
const chips = box.querySelector(".wb-label-chips");
const add = /** @type {HTMLSelectElement} */ (box.querySelector("select"));
const error = box.querySelector(".wb-tool-error");
const state = { conversationId: null, labels: [], available: [] };

function url(id) {
  return `/api/conversations/${encodeURIComponent(id)}/labels/`;
}

function render() {
  box.hidden = state.conversationId === null;
  chips.replaceChildren(
    ...state.labels.map((label) => {
      const remove = el("button", { type: "button", class: "wb-label-remove", text: "×", "aria-label": interpolate(gettext("Remove the label %(label)s"), { label: label.name }) });
      remove.addEventListener("click", () => save(state.labels.filter((x) => x.id !== label.id)));
      return el("span", { class: "wb-label", "data-label": label.name }, el("span", { text: label.name }), remove);
    }),
  );
  const set = new Set(state.labels.map((label) => label.id));
  const free = state.available.filter((label) => !set.has(label.id));
  add.replaceChildren(
    el("option", { value: "", text: state.available.length ? gettext("Add a label…") : gettext("No labels in this line") }),
    ...free.map((label) => el("option", { value: String(label.id), text: label.name })),
  );
  add.disabled = !free.length;
}

function take(data, id) {
  if (id !== state.conversationId) return;
  state.labels = data.labels;
  state.available = data.available;
  render();
}

async function save(labels) {
  const id = state.conversationId;
  try {
    take(await api("PUT", url(id), { label_ids: labels.map((label) => label.id) }), id);
    showError(error, null);
  } catch (failure) {
    showError(error, failure);
  }
}

add.addEventListener("change", () => {
  const label = state.available.find((x) => String(x.id) === add.value);
  if (label) save([...state.labels, label]);
});

onSelection(async (selection) => {
  const id = selection ? selection.conversation.id : null;
  if (id === state.conversationId) return;
  state.conversationId = id;
  state.labels = [];
  state.available = [];
  showError(error, null);
  render();
  if (id === null) return;
  try {
    take(await api("GET", url(id)), id);
  } catch (failure) {
    showError(error, failure);
  }
});

onServerFrame("conversation.labels", (frame) => {
  if (frame.conversation_id !== state.conversationId) return;
  state.labels = frame.labels;
  render();
});
