/*
 * The agent workbench: the shared protocol client (static/shared/client.js) on /ws/agent/ (the session cookie, same
 * origin), and the REST history API. The client keeps every conversation's messages by seq, fills gaps with `sync`,
 * resends what is not acknowledged and reconnects; this module renders what it holds and turns the agent's actions
 * into frames. Every text from the server is put in the page with textContent, never as HTML.
 */
// The tools first: canned.js's keydown must run before this module's (Enter picks a reply, not sends).
import "./canned.js";
import "./labels.js";
import "./notes.js";
import "./search.js";
import { el } from "../shared/dom.js";
import { gettext, interpolate, pageLanguage, systemMessageText } from "../shared/i18n.js";
import { ENDED_STATUSES as ENDED, ProtocolClient, uploadAttachment } from "../shared/client.js";
import { installAlerts } from "./alerts.js";
import { installMissedAnswer } from "./answer.js";
import { installClosedToday } from "./closed.js";
import { installContact } from "./contact.js";
import { installDrafts } from "./drafts.js";
import { installKeyboard } from "./keyboard.js";
import { installPresencePrompt } from "./presence.js";
import { installReplyTimers } from "./replytimer.js";
import { installTransfer } from "./transfer.js";
import { humanError, linkifiedNodes, protocolTag, protocolText } from "./words.js";

const config = JSON.parse(document.getElementById("workbench-config").textContent);
const TYPING_REPEAT_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_SHOWN_MS = 6000;
const NOTICE_MS = 10000;
const HISTORY_PAGE = 500;
const WAIT_TICK_MS = 1000;

const $ = (id) => document.getElementById(id);
const ui = {
  connection: $("connection-status"),
  notices: $("notices"),
  presence: document.querySelectorAll("#presence-switch input[name=presence]"),
  list: $("conversation-list"),
  listEmpty: $("conversation-empty"),
  queue: $("queue-list"),
  queueEmpty: $("queue-empty"),
  queueHeading: $("queue-heading"),
  missed: $("missed-list"),
  missedEmpty: $("missed-empty"),
  missedHeading: $("missed-heading"),
  chatTitle: $("chat-title"),
  chatMeta: $("chat-meta"),
  actions: $("chat-actions"),
  closeButton: $("close-button"),
  transcript: $("transcript"),
  typing: $("typing-indicator"),
  composer: $("composer"),
  input: $("composer-input"),
  internal: $("internal-note"),
  attach: $("attach-input"),
  canned: $("canned-replies"),
  customerEmpty: $("customer-empty"),
  customerDetails: $("customer-details"),
  historyHeading: $("history-heading"),
  historyList: $("history-list"),
  historyView: $("history-view"),
  historyTitle: $("history-title"),
  historyTranscript: $("history-transcript"),
};

const state = {
  presence: null,
  views: new Map(), // conversation id -> what this page adds to the client's record (unread, typing)
  // The last `queue.snapshot`: the waiting and missed conversations of my lines, each with `since`, when its wait
  // began on this browser's clock (so a skewed clock still shows the right wait).
  queue: { waiting: [], missed: [] },
  selectedId: null,
  customer: null,
  historyConversationId: null,
  baseTitle: document.title,
};

function sessionStorageOrNull() {
  try {
    const storage = window.sessionStorage;
    storage.getItem("cs-workbench");
    return storage;
  } catch (error) {
    return null;
  }
}

const client = new ProtocolClient({
  role: "agent",
  url: () => `${window.location.protocol === "https:" ? "wss:" : "ws:"}//${window.location.host}${config.socket_path}`,
  storage: sessionStorageOrNull(),
  storageKey: (hello) => `cs-workbench:agent:${hello.agent_id}`,
});

// ---- Small helpers -------------------------------------------------------------------------------------

function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString(pageLanguage(), { hour: "2-digit", minute: "2-digit" });
}

function formatDateTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString(pageLanguage(), { dateStyle: "medium", timeStyle: "short" });
}

function customerName(conversation) {
  const customer = conversation && conversation.customer;
  if (!customer) return gettext("Customer");
  return customer.name || customer.email || interpolate(gettext("Visitor #%(id)s"), { id: customer.id });
}

function notify(text, level) {
  const item = el("li", { class: level || "info", text });
  ui.notices.append(item);
  setTimeout(() => item.remove(), NOTICE_MS);
}

// ---- Conversations held by the page --------------------------------------------------------------------

/**
 * A conversation as the page renders it: the client's record (what the server said) and this page's own view of
 * it (unread count, the customer's typing, the agent's typing throttle).
 */
function record(id) {
  let view = state.views.get(id);
  if (!view) {
    view = {
      id,
      unread: 0,
      customerTypingUntil: 0,
      typingSentAt: 0,
      typingIdleTimer: null,
      lastActivity: 0,
      get held() {
        return client.records.get(id);
      },
      get conversation() {
        return this.held ? this.held.conversation : null;
      },
      get messages() {
        return this.held ? this.held.messages : new Map();
      },
      get highestSeq() {
        return this.held ? this.held.highestSeq : 0;
      },
      get customerReadSeq() {
        return this.held ? this.held.otherReadSeq : 0;
      },
      get pending() {
        return [...client.outbox.items.values()].filter((item) => item.conversation_id === id);
      },
    };
    state.views.set(id, view);
  }
  return view;
}

function records() {
  return [...client.records.keys()].map(record);
}

function isMine(rec) {
  const conversation = rec.conversation;
  return Boolean(conversation && conversation.agent && conversation.agent.id === config.agent_id);
}

/** Subscribed and writable: active, assigned to this agent, and so listed by the server on this socket. */
function isLive(rec) {
  return Boolean(rec && rec.held && client.isOpen(rec.held));
}

/** A conversation status (or statusLabel's own words) as the agent reads it; data-status keeps the protocol value. */
function statusText(status) {
  return protocolText("status", status);
}

function statusLabel(rec) {
  const conversation = rec.conversation;
  if (!conversation) return "loading";
  if (!ENDED.has(conversation.status) && !isMine(rec)) return "transferred";
  return conversation.status;
}

function isVisible(rec) {
  return rec.id === state.selectedId && document.visibilityState === "visible";
}

function setConnection(name, text) {
  ui.connection.dataset.state = name;
  ui.connection.textContent = text;
}

function setPresence(status) {
  state.presence = status || null;
  for (const input of ui.presence) input.checked = input.value === state.presence;
  renderQueue();
  renderMissed();
}

/** Routing would give me one more: online, with fewer live conversations than my capacity. */
function hasRoom() {
  return state.presence === "online" && records().filter(isLive).length < config.capacity;
}

function formatWait(milliseconds) {
  const total = Math.max(0, Math.floor(milliseconds / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}

function tickWaits() {
  const now = Date.now();
  for (const timer of document.querySelectorAll(".wb-wait[data-since]")) {
    timer.textContent = formatWait(now - Number(timer.dataset.since));
  }
}

// ---- What the protocol client reports ------------------------------------------------------------------

client.on("status", ({ state: connection, code }) => {
  if (connection === "connecting") setConnection("connecting", gettext("Connecting…"));
  else if (connection === "connected") setConnection("connected", gettext("Connected"));
  else if (connection === "refused") setConnection("refused", gettext("Signed out: reload the page to log in again"));
  else if (code === 4429) setConnection("reconnecting", gettext("Open in too many tabs: close one; retrying…"));
  else if (code !== undefined) setConnection("reconnecting", gettext("Disconnected: reconnecting…"));
  renderAll();
});

client.on("hello", (hello) => {
  if (hello.limits && hello.limits.max_body_chars) ui.input.maxLength = hello.limits.max_body_chars;
  setPresence(hello.presence);
});

client.on("ready", () => {
  // Conversations the server no longer lists as this agent's (closed, transferred, requeued while this page was
  // away): their state now, from the history API.
  for (const rec of records()) {
    if (rec.held && !rec.held.announced && rec.conversation && !ENDED.has(rec.conversation.status)) {
      refreshState(rec.conversation);
    }
  }
  renderAll();
});

client.on("conversation", ({ record: held, frame, previous }) => {
  const conversation = held.conversation;
  const rec = record(conversation.id);
  if (!rec.lastActivity) rec.lastActivity = Date.parse(conversation.started_at) || 0;
  if (frame.type === "conversation.assigned") {
    const isNew = !previous || !(previous.agent && previous.agent.id === config.agent_id) || ENDED.has(previous.status);
    dropFromQueue(conversation.id);
    if (isNew && state.selectedId === null) select(conversation.id);
    if (isNew && state.selectedId !== conversation.id) {
      notify(interpolate(gettext("New conversation with %(customer)s"), { customer: customerName(conversation) }), "info");
    }
  } else {
    const wasMine = Boolean(previous && previous.agent && previous.agent.id === config.agent_id);
    if (wasMine && !isMine(rec) && !ENDED.has(conversation.status)) {
      const customer = customerName(conversation);
      const text = conversation.agent
        ? interpolate(gettext("Conversation with %(customer)s transferred to %(agent)s."), { customer, agent: conversation.agent.name })
        : interpolate(gettext("Conversation with %(customer)s transferred to the %(line)s queue."), { customer, line: conversation.business_line });
      notify(text, "success");
    }
    if (rec.id === state.selectedId && ENDED.has(conversation.status)) loadCustomer(conversation.customer.id, true);
  }
  renderAll();
});

client.on("messages", ({ record: held, messages }) => {
  const rec = record(held.id);
  for (const message of messages) {
    rec.lastActivity = Math.max(rec.lastActivity, Date.parse(message.created_at) || 0);
    if (message.sender === "customer") {
      rec.customerTypingUntil = 0;
      if (!isVisible(rec)) rec.unread += 1;
    }
  }
  renderAll();
});

client.on("read", ({ record: held }) => {
  if (held.id === state.selectedId) renderTranscript();
});

client.on("outbox", ({ change, frame }) => {
  if (change === "failed") notify(interpolate(gettext("Message not sent: %(reason)s"), { reason: humanError(frame) }), "error");
  renderTranscript();
});

client.on("error", (frame) => {
  notify(humanError(frame), "error");
});

client.on("frame", (frame) => {
  if (frame.type === "presence.state") setPresence(frame.status);
  else if (frame.type === "typing") onTyping(frame);
  else if (frame.type === "queue.snapshot") onQueueSnapshot(frame);
  // The tools (desk.js) hear the rest: labels and notes changed by a colleague.
  document.dispatchEvent(new CustomEvent("workbench:frame", { detail: frame }));
});

function onTyping(frame) {
  if (frame.sender !== "customer" || !client.records.has(frame.conversation_id)) return;
  const rec = record(frame.conversation_id);
  rec.customerTypingUntil = frame.typing ? Date.now() + TYPING_SHOWN_MS : 0;
  renderTyping();
  if (frame.typing) setTimeout(renderTyping, TYPING_SHOWN_MS + 50);
}

/** The server's whole list of what waits for an agent in my lines: it replaces the one before. */
function onQueueSnapshot(frame) {
  const now = Date.now();
  const timed = (list) =>
    (Array.isArray(list) ? list : []).map((conversation) => ({
      ...conversation,
      since: now - (Number(conversation.waited_seconds) || 0) * 1000,
    }));
  state.queue = { waiting: timed(frame.waiting), missed: timed(frame.missed) };
  renderQueue();
  renderMissed();
}

/** Taken by me: gone from my lists at once (the next snapshot says the same for everyone). */
function dropFromQueue(id) {
  state.queue = {
    waiting: state.queue.waiting.filter((conversation) => conversation.id !== id),
    missed: state.queue.missed.filter((conversation) => conversation.id !== id),
  };
}

async function refreshState(conversation) {
  try {
    const data = await getJson(config.customer_history_url.replace("{id}", encodeURIComponent(conversation.customer.id)));
    const now = data.conversations.find((item) => item.id === conversation.id);
    if (now) client.replaceConversation(now);
    renderAll();
  } catch (error) {
    notify(interpolate(gettext("Customer history: %(reason)s"), { reason: error.message }), "error");
  }
}


function selected() {
  return state.selectedId !== null && client.records.has(state.selectedId) ? record(state.selectedId) : undefined;
}

// ---- What the agent does -------------------------------------------------------------------------------

function select(id) {
  state.selectedId = id;
  const rec = client.records.has(id) ? record(id) : null;
  ui.input.value = drafts.load(id);
  ui.internal.checked = false;
  ui.composer.classList.remove("is-internal");
  if (rec) {
    rec.unread = 0;
    loadCustomer(rec.conversation.customer.id, false);
  }
  renderAll();
  scrollToEnd(true);
  ui.input.focus();
}

function submitMessage() {
  const rec = selected();
  const body = ui.input.value;
  if (!isLive(rec) || !body.trim()) return;
  stopTyping(rec);
  client.sendMessage({ conversationId: rec.id, body, internal: ui.internal.checked });
  ui.input.value = "";
  drafts.clear(rec.id);
  renderTranscript();
  scrollToEnd(true);
}

/** Uploads the chosen file with the session, then sends it (as a note when the note box is ticked). */
async function attachFile(file) {
  const rec = selected();
  if (!file || !isLive(rec)) return;
  ui.attach.disabled = true;
  const progress = document.createElement("progress");
  progress.className = "wb-upload-progress";
  progress.max = 1;
  progress.value = 0;
  progress.setAttribute("aria-label", file.name ? interpolate(gettext("Sending %(name)s"), { name: file.name }) : gettext("Sending the file"));
  ui.attach.closest("label").after(progress);
  try {
    const attachment = await uploadAttachment({
      conversationId: rec.id, csrfToken: config.csrf_token, file,
      onProgress: (sent, total) => Object.assign(progress, { max: total || 1, value: sent }),
    });
    client.sendMessage({ conversationId: rec.id, body: "", internal: ui.internal.checked, attachmentIds: [attachment.id] });
    renderTranscript();
    scrollToEnd(true);
  } catch (error) {
    notify(interpolate(gettext("File not sent: %(reason)s"), { reason: error.message }), "error");
  } finally {
    progress.remove();
    ui.attach.disabled = false;
    ui.attach.value = "";
  }
}

function typed() {
  const rec = selected();
  if (!isLive(rec) || ui.internal.checked) return;
  const now = Date.now();
  if (now - rec.typingSentAt > TYPING_REPEAT_MS) {
    if (client.sendTyping(rec.id, true)) rec.typingSentAt = now;
  }
  clearTimeout(rec.typingIdleTimer);
  rec.typingIdleTimer = setTimeout(() => stopTyping(rec), TYPING_IDLE_MS);
}

function stopTyping(rec) {
  clearTimeout(rec.typingIdleTimer);
  if (rec.typingSentAt && isLive(rec)) client.sendTyping(rec.id, false);
  rec.typingSentAt = 0;
}

/** Tell the customer what the agent has seen: only while the conversation is on screen. */
function markRead() {
  const rec = selected();
  if (!rec || !isVisible(rec)) return;
  rec.unread = 0;
  if (isLive(rec)) client.markRead(rec.id, rec.highestSeq);
}

function insertCanned(text) {
  const input = ui.input;
  const start = input.selectionStart ?? input.value.length;
  const end = input.selectionEnd ?? input.value.length;
  input.value = input.value.slice(0, start) + text + input.value.slice(end);
  const caret = start + text.length;
  input.setSelectionRange(caret, caret);
  input.focus();
  drafts.remember();
  typed();
}

// ---- The customer panel (REST, with the session cookie) ------------------------------------------------

async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.status === 401 || response.status === 403) {
    throw new Error(gettext("Your session has expired: reload the page to log in again."));
  }
  if (!response.ok) throw new Error(interpolate(gettext("The server answered %(status)s."), { status: response.status }));
  return response.json();
}

async function loadCustomer(customerId, keepView) {
  if (!keepView) {
    state.historyConversationId = null;
    ui.historyView.hidden = true;
  }
  try {
    const data = await getJson(config.customer_history_url.replace("{id}", encodeURIComponent(customerId)));
    const rec = selected();
    if (!rec || rec.conversation.customer.id !== data.customer.id) return;
    state.customer = data;
    renderCustomer();
  } catch (error) {
    notify(interpolate(gettext("Customer history: %(reason)s"), { reason: error.message }), "error");
  }
}

async function openHistory(conversation) {
  state.historyConversationId = conversation.id;
  ui.historyTitle.textContent = interpolate(gettext("Conversation #%(id)s (%(channel)s, %(started)s)"), {
    id: conversation.id,
    channel: protocolText("channel", conversation.channel),
    started: formatDateTime(conversation.started_at),
  });
  ui.historyTranscript.replaceChildren(el("li", { class: "wb-empty", text: gettext("Loading…") }));
  ui.historyView.hidden = false;
  renderCustomer();
  const messages = [];
  try {
    let afterSeq = 0;
    for (;;) {
      const url = `${config.messages_url.replace("{id}", encodeURIComponent(conversation.id))}?after_seq=${afterSeq}&limit=${HISTORY_PAGE}`;
      const page = await getJson(url);
      messages.push(...page.messages);
      if (!page.has_more || !page.messages.length) break;
      afterSeq = page.next_after_seq;
    }
  } catch (error) {
    ui.historyTranscript.replaceChildren(el("li", { class: "wb-empty", text: error.message }));
    return;
  }
  if (state.historyConversationId !== conversation.id) return;
  ui.historyTranscript.replaceChildren(...messages.map((message) => messageItem(message, { conversation })));
}

// ---- Rendering -----------------------------------------------------------------------------------------

function renderAll() {
  renderList();
  renderQueue();
  renderMissed();
  renderChat();
  markRead();
  renderTitle();
}

function sortedRecords() {
  const rank = (rec) => (isLive(rec) ? 0 : rec.conversation && !ENDED.has(rec.conversation.status) ? 1 : 2);
  // A conversation handed to someone else leaves my list at once (still readable while it is on screen).
  return records()
    .filter((rec) => rec.conversation && statusLabel(rec) !== "transferred")
    .sort((a, b) => rank(a) - rank(b) || b.lastActivity - a.lastActivity || b.id - a.id);
}

function lastText(rec) {
  const seqs = [...rec.messages.keys()].sort((a, b) => b - a);
  for (const seq of seqs) {
    const message = rec.messages.get(seq);
    if (message.sender !== "system" && !message.internal) return message.body;
  }
  return "";
}

function renderList() {
  const records = sortedRecords();
  ui.listEmpty.hidden = records.length > 0;
  ui.list.replaceChildren(
    ...records.map((rec) => {
      const conversation = rec.conversation;
      const status = statusLabel(rec);
      const button = el(
        "button",
        {
          type: "button",
          class: `wb-conv${rec.id === state.selectedId ? " is-selected" : ""}`,
          "data-conversation-id": String(rec.id),
          "aria-current": rec.id === state.selectedId ? "true" : null,
        },
        el(
          "span",
          { class: "wb-conv-top" },
          el("span", { class: "wb-conv-name", text: customerName(conversation) }),
          rec.unread ? el("span", { class: "wb-unread", text: String(rec.unread), title: gettext("Unread messages") }) : null,
          el("span", { class: "wb-badge", "data-status": status, text: statusText(status) }),
        ),
        el("span", { class: "wb-conv-preview", text: lastText(rec) || " " }),
        el("span", { class: "wb-conv-meta" }, `#${rec.id} · `, protocolTag("channel", conversation.channel), ` · ${conversation.business_line}`),
      );
      button.addEventListener("click", () => select(rec.id));
      return el("li", {}, button);
    }),
  );
}

function take(id) {
  if (!client.send({ type: "conversation.pick", conversation_id: id, ref: `pick:${id}` })) {
    notify(gettext("Not connected: try again in a moment."), "warning");
  }
}

/** One conversation waiting for an agent: who, what they wrote, how long they have waited, and the action. */
function queueItem(conversation, { idAttribute, action, detail, extra }) {
  let button = null;
  if (action) {
    const room = hasRoom();
    button = el("button", {
      type: "button",
      class: "button wb-take",
      text: action,
      disabled: !room,
      title: room ? null : gettext("Go online, with room for one more conversation, to take it"),
      "data-pick": String(conversation.id),
    });
    button.addEventListener("click", () => take(conversation.id));
  }
  return el(
    "li",
    { [idAttribute]: String(conversation.id) },
    el(
      "div",
      { class: "wb-missed" },
      el(
        "div",
        { class: "wb-missed-text" },
        el(
          "span",
          { class: "wb-conv-top" },
          el("span", { class: "wb-conv-name", text: customerName(conversation) }),
          el("span", {
            class: "wb-wait",
            title: gettext("Waiting for"),
            "data-since": String(conversation.since),
            text: formatWait(Date.now() - conversation.since),
          }),
        ),
        el("span", { class: "wb-conv-preview", text: conversation.preview || gettext("(no message yet)") }),
        el("span", { class: "wb-conv-meta", text: `#${conversation.id} · ${conversation.business_line} · ${detail}` }),
      ),
      button || extra ? el("div", { class: "wb-missed-actions" }, button, extra) : null,
    ),
  );
}

function renderQueue() {
  const room = hasRoom();
  const items = state.queue.waiting;
  ui.queueEmpty.hidden = items.length > 0;
  ui.queueHeading.textContent = interpolate(gettext("Waiting queue (%(count)s)"), { count: items.length });
  ui.queue.replaceChildren(
    ...items.map((conversation) =>
      queueItem(conversation, {
        idAttribute: "data-queue-id",
        action: room ? gettext("Take") : null,
        detail: interpolate(gettext("position %(position)s"), { position: conversation.queue_position }),
      }),
    ),
  );
}

function renderMissed() {
  const items = state.queue.missed;
  ui.missedEmpty.hidden = items.length > 0;
  ui.missedHeading.textContent = interpolate(gettext("Missed conversations and messages (%(count)s)"), { count: items.length });
  ui.missed.replaceChildren(
    ...items.map((conversation) => {
      const left = conversation.close_reason === "offline";
      // Answering takes no slot (answer.js); taking it to chat on does.
      const answer = el("button", { type: "button", class: "button wb-take", text: gettext("Answer"), "data-answer": String(conversation.id) });
      answer.addEventListener("click", () => missedAnswer.open(conversation));
      return queueItem(conversation, {
        idAttribute: "data-missed-id",
        action: gettext("Take"),
        detail: left ? gettext("left a message") : gettext("nobody was free in time"),
        extra: answer,
      });
    }),
  );
}

/** Tells the tools (desk.js) which conversation is on screen. */
function announceSelection(rec) {
  const detail = rec && rec.conversation ? { conversation: rec.conversation, live: isLive(rec) } : null;
  document.dispatchEvent(new CustomEvent("workbench:selection", { detail }));
}

function renderChat() {
  const rec = selected();
  announceSelection(rec);
  if (!rec || !rec.conversation) {
    ui.chatTitle.textContent = gettext("No conversation selected");
    ui.chatMeta.textContent = "";
    ui.actions.hidden = true;
    ui.composer.hidden = true;
    ui.transcript.replaceChildren(
      el("li", { class: "wb-empty", text: gettext("Select one of your conversations on the left, or go online to receive one.") }),
    );
    ui.typing.hidden = true;
    return;
  }
  const conversation = rec.conversation;
  const live = isLive(rec);
  ui.chatTitle.textContent = interpolate(gettext("%(customer)s, conversation #%(id)s"), { customer: customerName(conversation), id: conversation.id });
  const parts = [
    interpolate(gettext("Status: %(status)s"), { status: statusText(statusLabel(rec)) }),
    interpolate(gettext("Channel: %(channel)s"), { channel: protocolText("channel", conversation.channel) }),
    interpolate(gettext("Business line: %(line)s"), { line: conversation.business_line }),
  ];
  if (conversation.started_at) parts.push(interpolate(gettext("Started %(when)s"), { when: formatDateTime(conversation.started_at) }));
  if (conversation.close_reason) parts.push(protocolText("close-reason", conversation.close_reason));
  ui.chatMeta.textContent = parts.join(" · ");
  ui.actions.hidden = !live;
  ui.composer.hidden = !live;
  const canWrite = live && client.ready;
  for (const control of ui.composer.querySelectorAll("textarea, input, select")) control.disabled = !canWrite;
  for (const control of ui.actions.querySelectorAll("input, button")) control.disabled = !canWrite;
  renderTranscript();
  renderTyping();
}

function renderTranscript() {
  const rec = selected();
  if (!rec || !rec.conversation) return;
  const nearEnd = ui.transcript.scrollHeight - ui.transcript.scrollTop - ui.transcript.clientHeight < 60;
  const items = [...rec.messages.values()]
    .sort((a, b) => a.seq - b.seq)
    .map((message) => messageItem(message, { conversation: rec.conversation, readSeq: rec.customerReadSeq }));
  for (const pending of rec.pending) items.push(pendingItem(pending));
  ui.transcript.replaceChildren(...items);
  scrollToEnd(nearEnd);
}

function senderLabel(message, conversation) {
  if (message.sender === "customer") return customerName(conversation);
  if (message.event === "whisper") return interpolate(gettext("%(name)s (whisper)"), { name: message.author?.name || gettext("Supervisor") });
  if (message.sender === "system") return gettext("System");
  if (message.agent_id === config.agent_id) return gettext("You");
  if (conversation && conversation.agent && conversation.agent.id === message.agent_id) return conversation.agent.name;
  // An earlier agent of a transferred conversation: by their name, from the page's config.
  return (message.agent_id && config.agent_names[message.agent_id]) || gettext("Agent");
}

const INLINE_IMAGES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/** An image as a preview (opens full size), any other file as a card with its name and size. */
function attachmentView(attachment) {
  const href = /^\//.test(attachment.url) ? attachment.url : null;
  const link = el("a", { class: "wb-attachment", target: "_blank", rel: "noopener noreferrer" });
  if (href) link.href = href;
  if (INLINE_IMAGES.has(attachment.content_type)) {
    const image = el("img", { class: "wb-attachment-image", alt: attachment.name });
    const preview = attachment.thumbnail_url || attachment.url;
    if (href && /^\//.test(preview)) image.src = preview;
    link.append(image);
  } else {
    link.append(`${attachment.name} (${Math.max(1, Math.round(attachment.size / 1024))} KB)`);
  }
  return link;
}

function messageItem(message, { conversation, readSeq }) {
  const classes = ["wb-msg", `wb-msg--${message.sender}`];
  if (message.internal) classes.push("wb-msg--internal");
  const own = message.sender === "agent" && message.agent_id === config.agent_id;
  let receipt = null;
  if (own && !message.internal && readSeq !== undefined) {
    const read = readSeq >= message.seq;
    receipt = el("span", { class: "wb-msg-receipt", "data-receipt": read ? "read" : "sent", text: read ? gettext("Read") : gettext("Sent") });
  }
  const meta = el(
    "div",
    { class: "wb-msg-meta" },
    el("span", { class: "wb-msg-who", text: senderLabel(message, conversation) }),
    el("time", { dateTime: message.created_at, text: formatTime(message.created_at) }),
    message.internal ? el("span", { class: "wb-msg-flag", text: message.event === "transfer_note" ? gettext("Transfer note") : gettext("Internal note") }) : null,
    receipt,
  );
  const text = message.sender === "system" ? systemMessageText(message, "agent") : message.body;
  const body = el("div", { class: "wb-msg-body" }, ...linkifiedNodes(text));
  const attachment = message.attachment && /^(\/|https?:)/.test(message.attachment.url)
    ? el("a", { href: message.attachment.url, text: message.attachment.name || gettext("attachment"), target: "_blank", rel: "noopener noreferrer" })
    : null;
  const files = (message.attachments || []).map(attachmentView);
  return el("li", { class: classes.join(" "), "data-seq": String(message.seq), "data-sender": message.sender }, meta, body, attachment, ...files);
}

function pendingItem(pending) {
  const failed = pending.status === "failed";
  const classes = ["wb-msg", "wb-msg--agent", "wb-msg--pending"];
  if (pending.internal) classes.push("wb-msg--internal");
  if (failed) classes.push("wb-msg--failed");
  let retry = null;
  if (failed) {
    retry = el("button", { type: "button", class: "button wb-retry", text: gettext("Retry") });
    retry.addEventListener("click", () => {
      client.retry(pending.client_msg_id);
      renderTranscript();
    });
  }
  const meta = el(
    "div",
    { class: "wb-msg-meta" },
    el("span", { class: "wb-msg-who", text: gettext("You") }),
    pending.internal ? el("span", { class: "wb-msg-flag", text: gettext("Internal note") }) : null,
    el("span", {
      class: "wb-msg-receipt",
      "data-receipt": failed ? "failed" : "pending",
      text: failed ? gettext("Not sent") : gettext("Sending…"),
    }),
    retry,
  );
  return el("li", { class: classes.join(" "), "data-pending": pending.client_msg_id }, meta, el("div", { class: "wb-msg-body", text: pending.body || (pending.attachment_ids.length ? "📎 Sending a file…" : "") }));
}

function renderTyping() {
  const rec = selected();
  ui.typing.hidden = !(rec && isLive(rec) && rec.customerTypingUntil > Date.now());
  if (rec) ui.typing.textContent = interpolate(gettext("%(customer)s is typing…"), { customer: customerName(rec.conversation) });
}

function renderCustomer() {
  const data = state.customer;
  const rec = selected();
  if (!data || !rec || rec.conversation.customer.id !== data.customer.id) {
    ui.customerEmpty.hidden = false;
    ui.customerDetails.hidden = true;
    ui.historyHeading.hidden = true;
    ui.historyList.replaceChildren();
    contact.render(null, null);
    return;
  }
  const customer = data.customer;
  const rows = [
    [gettext("Name"), customer.name || gettext("(not given)")],
    [gettext("Email"), customer.email || gettext("(not given)")],
    [gettext("Channel"), protocolText("channel", rec.conversation.channel)],
    [gettext("First channel"), protocolText("channel", customer.first_channel)],
    [gettext("External id"), customer.external_id || gettext("(anonymous visitor)")],
    [gettext("First seen"), formatDateTime(customer.first_seen_at)],
    [gettext("Last seen"), formatDateTime(customer.last_seen_at)],
  ];
  ui.customerDetails.replaceChildren(...rows.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: value })]));
  ui.customerEmpty.hidden = true;
  ui.customerDetails.hidden = false;
  contact.render(data, rec);
  ui.historyHeading.hidden = false;
  ui.historyList.replaceChildren(
    ...data.conversations.map((conversation) => {
      const current = conversation.id === rec.id;
      const button = el(
        "button",
        {
          type: "button",
          class: `wb-conv${current ? " is-current" : ""}${conversation.id === state.historyConversationId ? " is-selected" : ""}`,
          "data-history-id": String(conversation.id),
        },
        el(
          "span",
          { class: "wb-conv-top" },
          el("span", { class: "wb-conv-name", text: current ? interpolate(gettext("#%(id)s (this one)"), { id: conversation.id }) : `#${conversation.id}` }),
          el("span", { class: "wb-badge", "data-status": conversation.status, text: statusText(conversation.status) }),
        ),
        el(
          "span",
          { class: "wb-conv-meta" },
          `${formatDateTime(conversation.started_at)} · `,
          protocolTag("channel", conversation.channel),
          ` · ${conversation.agent ? conversation.agent.name : gettext("no agent")}`,
        ),
      );
      button.addEventListener("click", () => openHistory(conversation));
      return el("li", {}, button);
    }),
  );
}

function renderTitle() {
  let unread = 0;
  for (const rec of records()) unread += rec.unread;
  document.title = unread ? `(${unread}) ${state.baseTitle}` : state.baseTitle;
}

function scrollToEnd(force) {
  if (force) ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

// ---- Wiring --------------------------------------------------------------------------------------------

for (const input of ui.presence) {
  input.addEventListener("change", () => {
    const wanted = input.value;
    setPresence(state.presence);
    if (!client.send({ type: "presence.set", status: wanted, ref: "presence" })) notify(gettext("Not connected: try again in a moment."), "warning");
  });
}

ui.attach.addEventListener("change", () => attachFile(ui.attach.files[0]));
// A pasted screenshot or a file dropped on the composer is attached like a chosen one.
ui.input.addEventListener("paste", (event) => {
  const file = event.clipboardData && event.clipboardData.files[0];
  if (!file) return;
  event.preventDefault();
  attachFile(file);
});
ui.composer.addEventListener("dragover", (event) => {
  if (event.dataTransfer && [...event.dataTransfer.types].includes("Files")) event.preventDefault();
});
ui.composer.addEventListener("drop", (event) => {
  const file = event.dataTransfer && event.dataTransfer.files[0];
  if (!file) return;
  event.preventDefault();
  attachFile(file);
});
ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  submitMessage();
});

ui.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submitMessage();
  }
});

ui.input.addEventListener("input", typed);

ui.internal.addEventListener("change", () => {
  ui.composer.classList.toggle("is-internal", ui.internal.checked);
  const rec = selected();
  if (rec && ui.internal.checked) stopTyping(rec);
});

ui.canned.addEventListener("change", () => {
  if (ui.canned.value) insertCanned(ui.canned.value);
  ui.canned.value = "";
});

ui.closeButton.addEventListener("click", () => {
  const rec = selected();
  if (!isLive(rec) || !window.confirm(interpolate(gettext("Close the conversation with %(customer)s?"), { customer: customerName(rec.conversation) }))) return;
  stopTyping(rec);
  client.send({ type: "conversation.close", conversation_id: rec.id, ref: `close:${rec.id}` });
});

// A canned reply's files, copied into the conversation by canned.js: sent like a chosen file.
document.addEventListener("workbench:send-attachments", (event) => {
  const { conversationId, attachmentIds } = event.detail;
  const rec = selected();
  if (!isLive(rec) || rec.id !== conversationId) return;
  client.sendMessage({ conversationId, body: "", internal: ui.internal.checked, attachmentIds });
  renderTranscript();
  scrollToEnd(true);
});

document.addEventListener("visibilitychange", () => {
  markRead();
  renderList();
  renderTitle();
});

// What the workbench's own modules (static/workbench/*.js) use of this page.
const shell = {
  client, config, el, getJson, notify, messageItem, customerName, formatTime, formatDateTime, formatWait, select, selected, records, isLive,
  reloadCustomer: (customerId) => loadCustomer(customerId, true),
  dropFromMissed: (id) => {
    dropFromQueue(id);
    renderMissed();
  },
};
installClosedToday(shell);
installAlerts(shell);
installReplyTimers(shell);
installTransfer(shell);
const contact = installContact(shell);
const drafts = installDrafts(shell);
installKeyboard(shell);
installPresencePrompt(shell);
const missedAnswer = installMissedAnswer(shell);

setInterval(tickWaits, WAIT_TICK_MS);
client.start();
