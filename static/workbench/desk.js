/*
 * What the workbench's tools share (canned.js, labels.js, notes.js, search.js): REST calls with the session cookie
 * (and its CSRF token for writes) and the conversation on
 * screen, which workbench.js announces with a `workbench:selection` event on every render.
 */
import { gettext, interpolate, pageLanguage } from "../shared/i18n.js";

const config = JSON.parse(document.getElementById("workbench-config").textContent);

export function csrfToken() {
  return config.csrf_token;
}

/** The id of the agent at this workbench. */
export function ownAgentId() {
  return config.agent_id;
}

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** The server's own words for a refusal: the first field's message, else its `message`. */
function refusalText(status, body) {
  if (status === 401 || status === 403) {
    if (body && body.code === "permission_denied" && body.message) return body.message;
    if (!body || ["not_authenticated", "authentication_failed"].includes(body.code)) {
      return gettext("Your session has expired: reload the page to log in again.");
    }
  }
  if (body && body.errors) {
    const first = Object.values(body.errors)[0];
    if (Array.isArray(first) && first.length) return String(first[0]);
  }
  return (body && body.message) || interpolate(gettext("The server answered %(status)s."), { status });
}

export async function api(method, url, data) {
  const headers = { Accept: "application/json" };
  const options = { method, credentials: "same-origin", headers };
  if (method !== "GET") headers["X-CSRFToken"] = config.csrf_token;
  if (data !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(data);
  }
  const response = await fetch(url, options);
  if (response.status === 204) return null;
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    body = null;
  }
  if (!response.ok) throw new ApiError(refusalText(response.status, body), response.status, body);
  return body;
}


export function formatDateTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString(pageLanguage(), { dateStyle: "medium", timeStyle: "short" });
}

/** Shows a refusal or failure beside a tool, cleared by the next success. */
export function showError(node, error) {
  node.textContent = error ? error.message || String(error) : "";
  node.hidden = !error;
}

/**
 * Calls `listener({conversation, live})` when another conversation comes on screen, and `listener(null)` when none
 * is. Only a change of conversation counts: a tool keeps what the agent is doing in it while it re-renders.
 */
export function onSelection(listener) {
  let last = "";
  document.addEventListener("workbench:selection", (event) => {
    const detail = event.detail;
    const key = detail ? String(detail.conversation.id) : "";
    if (key === last) return;
    last = key;
    listener(detail);
  });
}

/** Calls `listener(frame)` for every server frame of this type the workbench's socket receives. */
export function onServerFrame(type, listener) {
  document.addEventListener("workbench:frame", (event) => {
    if (event.detail && event.detail.type === type) listener(event.detail);
  });
}
