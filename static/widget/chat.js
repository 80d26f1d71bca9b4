/*
 * The customer's chat: the page widget.js frames (/chat/) and the full-page mobile chat (/h5/).
 *
 * POST /api/widget/session/ for a token, then the shared protocol client (static/shared/client.js) on
 * /ws/customer/?token=...: it keeps the messages by seq, resends what is not acknowledged, fills gaps with `sync`
 * and reconnects. This module only renders what it holds and turns the customer's actions into frames.
 * Every piece of text from the network is written with textContent, never as HTML.
 */
import { ProtocolClient, OPEN_STATUSES as OPEN, uploadAttachment } from "../shared/client.js";
import { formatDate, formatTime, gettext, interpolate, ngettext, pageLanguage, systemMessageText } from "../shared/i18n.js";
import { playTone } from "../shared/tone.js";

const config = JSON.parse(document.getElementById("cs-config").textContent);
const $ = (id) => document.getElementById(id);
const el = {
  chat: $("chat"), title: $("title"), status: $("status"), avatar: $("avatar"), endChat: $("end-chat"),
  minimize: $("minimize"), sound: $("sound"), confirmEnd: $("confirm-end"), confirmEndYes: $("confirm-end-yes"),
  confirmEndCancel: $("confirm-end-cancel"), banner: $("banner"), body: $("body"), intro: $("intro"),
  greeting: $("greeting"), start: $("start"), messages: $("messages"), pending: $("pending"),
  leaveCard: $("leave-card"), leaveTitle: $("leave-title"), leaveText: $("leave-text"), leaveForm: $("leave-form"),
  leaveName: $("leave-name"), leaveEmail: $("leave-email"), leaveBody: $("leave-body"),
  leaveError: $("leave-error"), leaveSubmit: $("leave-submit"), waitAnyway: $("wait-anyway"),
  ratingCard: $("rating-card"), ratingForm: $("rating-form"), stars: $("stars"), ratingComment: $("rating-comment"),
  ratingError: $("rating-error"), ratingSkip: $("rating-skip"), ratingSubmit: $("rating-submit"),
  endedCard: $("ended-card"), endedText: $("ended-text"), newChat: $("new-chat"), typing: $("typing"),
  typingText: $("typing-text"), toast: $("toast"), composer: $("composer"), composerForm: $("composer-form"),
  input: $("input"), emojiButton: $("emoji-button"), emojiPanel: $("emoji-panel"),
  attachButton: $("attach-button"), attachInput: $("attach-input"),
  avatarLetter: $("avatar-letter"), avatarPicture: $("avatar-picture"), introAvatar: $("intro-avatar"),
  introPicture: $("intro-picture"), introName: $("intro-name"), teamName: $("team-name"), startHint: $("start-hint"),
  prechatForm: $("prechat-form"), prechatError: $("prechat-error"), prechatSubmit: $("prechat-submit"),
  transcriptCard: $("transcript-card"), transcriptForm: $("transcript-form"),
  transcriptEmailLabel: $("transcript-email-label"), transcriptEmail: $("transcript-email"),
  transcriptError: $("transcript-error"), transcriptDone: $("transcript-done"), transcriptSubmit: $("transcript-submit"),
};

const TYPING_SEND_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_SHOWN_MS = 6000;
const EMOJI = ["😀", "😂", "😊", "😍", "🤔", "😅", "😢", "😡", "👍", "👎", "👏", "🙏", "🙌", "👋", "💪", "🎉",
  "❤️", "🔥", "✅", "❌", "⭐", "📦", "🚚", "💳", "📞", "✉️", "⏰", "☕", "🙂", "😉", "😮", "🤝"];
const ERROR_TEXT = {
  rate_limited: gettext("You are sending messages a little too fast. Please wait a moment."),
  body_too_long: gettext("That message is too long. Please shorten it and try again."),
  frame_too_large: gettext("That message is too long. Please shorten it and try again."),
  conversation_closed: gettext("This chat has ended. Start a new one to keep talking."),
  not_found: gettext("We could not find that conversation."),
  invalid_field: gettext("Something in that request was not quite right. Please check it and try again."),
  internal_error: gettext("Something went wrong on our side. Please try again."),
  too_many_connections: gettext("This chat is open in too many windows. Close one of them to chat here."),
};
// The system events that end a conversation, as the server writes them in the transcript (docs/protocol.md).
const ENDING_EVENTS = new Set(["closed", "missed", "left_message"]);

/* ---------- Storage: survives reloads; falls back to memory where the browser forbids it ---------- */

function localStorageOrNull() {
  try {
    const storage = window.localStorage;
    storage.getItem("cs-chat");
    return storage;
  } catch (error) {
    return null;
  }
}

const storageKey = `cs-chat:${config.business_line}`;
const memory = {};
const store = {
  read() {
    try {
      return JSON.parse(window.localStorage.getItem(storageKey)) || {};
    } catch (error) {
      return { ...memory };
    }
  },
  write(patch) {
    const next = { ...this.read(), ...patch };
    Object.assign(memory, next);
    try {
      window.localStorage.setItem(storageKey, JSON.stringify(next));
    } catch (error) {
      /* private mode or blocked storage: the memory copy lasts for this page */
    }
  },
};

/* ---------- State of this page (what the server said is in the client) ---------- */

const state = {
  pageContext: config.embed ? {} : ownContext(),
  attributes: {},
  identity: {},
  started: false,
  token: null,
  maxBodyChars: 4000,
  maxFrameBytes: 16384,
  offline: false,
  currentId: null, // the conversation on screen
  agentNames: new Map(), // agent id -> display name, from conversation.state
  startRequested: false,
  waitAnyway: false,
  rated: new Set(),
  ratingSkipped: new Set(),
  prechat: null, // the pre-chat form's answers, sent with conversation.start
  transcriptSentTo: new Map(), // conversation id -> the address its transcript went to
  email: "", // an address the customer gave for a transcript, once the server took it
  justLeftMessage: false,
  panelOpen: !config.embed,
  typingSentAt: 0,
  typingIdleTimer: null,
  typingShownTimer: null,
  toastTimer: null,
  sessionTimer: null,
  parentOrigin: null,
  view: null,
  fatal: false,
  siteSound: true, // the embedding site's `data-sound` (widget.js): "off" turns the tone and its switch off
};

const client = new ProtocolClient({
  role: "customer",
  url: () => {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${window.location.host}${config.socket_path}?token=${encodeURIComponent(state.token)}`;
  },
  storage: localStorageOrNull(),
  // Unsent messages and the agent's read position, per customer of this business line.
  storageKey: (hello) => `${storageKey}:customer:${hello.customer_id}`,
});

function currentRecord() {
  return state.currentId === null ? null : client.records.get(state.currentId) || null;
}

function currentConversation() {
  const record = currentRecord();
  return record ? record.conversation : null;
}

function isOpen() {
  const record = currentRecord();
  return Boolean(record && client.isOpen(record));
}

/**
 * How the conversation on screen stands, from what the server said: its last state, or, for one that ended while
 * this page was not connected (the server sends no state for it then), the ending event it wrote in the transcript.
 */
function standing(record) {
  if (client.isOpen(record)) return record.conversation.status;
  if (record.announced || !OPEN.has(record.conversation.status)) return record.conversation.status;
  const event = lastEndingEvent(record);
  if (event === "closed") return "closed";
  if (event === "missed" || event === "left_message") return "missed";
  return "ended";
}

function lastEndingEvent(record) {
  for (const message of [...record.messages.values()].sort((a, b) => b.seq - a.seq)) {
    if (message.sender === "system" && ENDING_EVENTS.has(message.event)) return message.event;
  }
  return null;
}

/* ---------- The host page (embed mode): unread count, open/close ---------- */

const parentWindow = config.embed && window.parent !== window ? window.parent : null;

function postParent(message) {
  if (parentWindow && state.parentOrigin) {
    parentWindow.postMessage({ source: "cs-chat", ...message }, state.parentOrigin);
  }
}

function pickIdentity(raw) {
  const identity = {};
  for (const key of ["external_id", "identity_hash", "identity_expires", "name", "email"]) {
    if (raw && typeof raw[key] === "string" && raw[key].trim()) identity[key] = raw[key].trim();
  }
  return identity;
}

/* ---------- Where the customer is, for the agents' contact panel (`customer.context`) ---------- */

// Each field with the longest value the server keeps (customers/services.py, CONTEXT_FIELDS).
const CONTEXT_FIELDS = { page_url: 2000, page_title: 300, referrer: 2000, language: 35, time_zone: 64 };

/** The chat's own page (the H5 page, or the frame until the host page says where it is). */
function ownContext() {
  let timeZone = "";
  try {
    timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (error) {
    timeZone = "";
  }
  return { page_url: window.location.href, page_title: document.title, referrer: document.referrer, language: navigator.language || "", time_zone: timeZone };
}

function takeContext(data) {
  const context = data && typeof data.context === "object" && data.context ? data.context : {};
  for (const field of Object.keys(CONTEXT_FIELDS)) {
    if (typeof context[field] === "string") state.pageContext[field] = context[field];
  }
  if (data && data.attributes && typeof data.attributes === "object" && !Array.isArray(data.attributes)) {
    state.attributes = { ...state.attributes, ...data.attributes };
  }
}

function sendContext() {
  if (!client.ready) return;
  const frame = { type: "customer.context", ref: "context" };
  for (const [field, longest] of Object.entries(CONTEXT_FIELDS)) {
    if (state.pageContext[field]) frame[field] = String(state.pageContext[field]).slice(0, longest);
  }
  if (Object.keys(state.attributes).length) frame.attributes = state.attributes;
  client.send(frame);
}

client.on("ready", sendContext);

window.addEventListener("message", (event) => {
  if (!parentWindow || event.source !== parentWindow) return;
  const data = event.data;
  if (!data || data.source !== "cs-widget") return;
  if (data.type === "init" && state.parentOrigin === null) {
    state.parentOrigin = event.origin;
    state.identity = pickIdentity(data.identity);
    state.siteSound = data.sound !== false;
    takeContext(data);
    state.panelOpen = Boolean(data.open);
    if (store.read().visitor_token || state.identity.external_id || state.panelOpen) begin();
    else render();
    reportUnread();
  } else if (data.type === "context" && state.parentOrigin !== null) {
    takeContext(data);
    sendContext();
  } else if (data.type === "visibility" && state.parentOrigin !== null) {
    state.panelOpen = Boolean(data.open);
    if (state.panelOpen) {
      begin();
      markRead();
      if (!matchMedia("(pointer: coarse)").matches) focusView();
    }
    reportUnread();
  }
});

/* ---------- Session ---------- */

function begin() {
  if (state.started || config.preview) return;
  state.started = true;
  openSession();
}

function retrySession() {
  clearTimeout(state.sessionTimer);
  state.sessionTimer = setTimeout(openSession, client.nextDelay());
}

async function openSession() {
  const body = { business_line: config.business_line, channel: config.channel, ...state.identity };
  // The customer's language, for what is written to them later (emails): the page's when it says one, else the browser's.
  const language = config.language || navigator.language;
  if (language) body.language = language;
  const visitorToken = store.read().visitor_token;
  if (visitorToken) body.visitor_token = visitorToken;
  let response;
  let answer = {};
  try {
    response = await fetch(config.session_url, {
      method: "POST",
      // The server's refusals in the page's language, which may not be the browser's (the widget's data-lang).
      headers: { "Content-Type": "application/json", Accept: "application/json", "Accept-Language": pageLanguage() },
      body: JSON.stringify(body),
      credentials: "omit",
    });
    answer = await response.json().catch(() => ({}));
  } catch (error) {
    showBanner(gettext("We cannot reach the chat right now. Retrying…"));
    retrySession();
    return;
  }
  if (!response.ok) {
    if (response.status === 429) {
      // Too many sessions from this network: say so, and try again when the server says the window ends.
      const seconds = Math.max(1, Number(response.headers.get("Retry-After")) || 30);
      showBanner(answer.message || gettext("Too many chats were opened from your network. Please try again in a minute."));
      clearTimeout(state.sessionTimer);
      state.sessionTimer = setTimeout(openSession, seconds * 1000);
      return;
    }
    const linkRefusal = config.identity_refusals && config.identity_refusals[answer.code];
    if (linkRefusal) {
      // A signed link's identity is the user's: never carry on as an anonymous visitor in its place.
      fatal(linkRefusal);
      return;
    }
    if (["identity_invalid", "identity_expired"].includes(answer.code) && state.identity.external_id) {
      state.identity = pickIdentity({ name: state.identity.name, email: state.identity.email });
      openSession();
      return;
    }
    if (response.status >= 500) {
      showBanner(gettext("The chat is having trouble. Retrying…"));
      retrySession();
      return;
    }
    fatal(answer.code === "origin_forbidden"
      ? gettext("This chat cannot be opened from this website.")
      : gettext("The chat is not available right now. Please try again later."));
    return;
  }
  store.write({ visitor_token: answer.visitor_token });
  state.token = answer.token;
  client.start();
}

window.addEventListener("online", () => client.reconnectNow());

/* ---------- What the protocol client reports ---------- */

client.on("status", ({ state: connection, code }) => {
  if (connection === "connected") hideBanner();
  else if (connection === "reconnecting" && code === 4429) {
    // Too many sockets on this token (other tabs): one may close, so the client keeps trying, slowly.
    showBanner(gettext("This chat is open in too many windows. Close one of them to chat here."));
  } else if (connection === "reconnecting" && code !== undefined) showBanner(gettext("Connection lost. Reconnecting…"));
  else if (connection === "refused" && code === 4403) fatal(gettext("This chat cannot be opened from this website."));
  else if (connection === "refused") {
    // The token expired: a fresh one from the session call, for the same customer.
    showBanner(gettext("Reconnecting…"));
    retrySession();
  }
  renderStatus();
});

client.on("hello", (hello) => {
  state.offline = Boolean(hello.offline);
  if (hello.limits && hello.limits.max_body_chars) state.maxBodyChars = hello.limits.max_body_chars;
  if (hello.limits && hello.limits.max_frame_bytes) state.maxFrameBytes = hello.limits.max_frame_bytes;
});

client.on("ready", () => {
  // Messages written before a conversation existed (this page, or the one before a reload) start one, or join the
  // open one the server answers with.
  const unassigned = [...client.outbox.items.values()].some((item) => item.conversation_id === null);
  if (isOpen() && unassigned) client.assignOutbox(state.currentId);
  else if (state.startRequested || unassigned) {
    state.startRequested = true;
    client.send(startFrame());
  }
  render();
});

client.on("conversation", ({ record, frame }) => {
  const conversation = record.conversation;
  const isReply = frame.ref === "start" || frame.ref === "leave";
  if (state.currentId !== null && conversation.id !== state.currentId) {
    if (!isReply && !OPEN.has(conversation.status)) return;
  }
  if (conversation.id !== state.currentId) showConversation(record);
  if (conversation.agent) learnAgentName(conversation.agent);
  if (frame.ref === "start" || (state.startRequested && OPEN.has(conversation.status))) {
    state.startRequested = false;
    state.prechat = null;
    el.prechatSubmit.disabled = Boolean(config.preview);
    client.assignOutbox(conversation.id);
    renderPending();
  }
  if (frame.ref === "leave") state.justLeftMessage = true;
  if (typeof conversation.offline === "boolean") state.offline = conversation.offline;
  if (!OPEN.has(conversation.status)) hideTyping();
  render();
});

client.on("messages", ({ record, messages }) => {
  if (record.id !== state.currentId) return;
  chime(record, messages);
  for (const message of messages) {
    addMessage(message);
    if (message.sender === "agent") hideTyping();
  }
  renderDays();
  markRead();
  render();
});

client.on("read", ({ record }) => {
  if (record.id === state.currentId) renderReceipts();
});

client.on("outbox", ({ item, change, frame }) => {
  if (change === "failed") {
    if (item.conversation_id !== null && item.conversation_id !== state.currentId) {
      // Written in a conversation no longer on screen (before a reload) and refused: nothing to retry it in.
      client.discard(item.client_msg_id);
      return;
    }
    showToast(politeError(frame.code));
  }
  renderPending();
  if (change === "added") scrollToBottom(false);
});

client.on("error", (frame) => {
  const ref = typeof frame.ref === "string" ? frame.ref : "";
  if (ref === "rate") {
    el.ratingSubmit.disabled = false;
    showFormError(el.ratingError, politeError(frame.code));
    return;
  }
  if (ref === "leave") {
    el.leaveSubmit.disabled = false;
    showFormError(el.leaveError, politeError(frame.code));
    return;
  }
  if (ref === "start") {
    state.startRequested = false;
    if (state.prechat) {
      // The form's answers were refused (a required one missing, a malformed email): say so beside the form.
      state.prechat = null;
      el.prechatSubmit.disabled = false;
      showFormError(el.prechatError, prechatRefusal(frame), refusedPrechatField(frame));
      render();
      return;
    }
  }
  showToast(politeError(frame.code));
});

client.on("frame", (frame) => {
  if (frame.type === "typing") onTyping(frame);
  else if (frame.type === "conversation.rated") onRated(frame);
});

function showConversation(record) {
  state.currentId = record.id;
  el.messages.replaceChildren();
  hideTyping();
  for (const message of record.sorted()) addMessage(message);
  renderDays();
  renderPending();
}

function learnAgentName(agent) {
  if (state.agentNames.get(agent.id) === agent.name) return;
  state.agentNames.set(agent.id, agent.name);
  for (const who of el.messages.querySelectorAll(".who")) {
    if (who.dataset.agentId === String(agent.id)) who.textContent = agent.name;
  }
}

function onTyping(frame) {
  const conversation = currentConversation();
  if (frame.sender !== "agent" || !conversation || frame.conversation_id !== conversation.id) return;
  if (!frame.typing) {
    hideTyping();
    return;
  }
  const agent = conversation.agent;
  el.typingText.textContent = agent ? interpolate(gettext("%(name)s is typing…"), { name: agent.name }) : gettext("The agent is typing…");
  el.typing.hidden = false;
  clearTimeout(state.typingShownTimer);
  state.typingShownTimer = setTimeout(hideTyping, TYPING_SHOWN_MS);
  scrollToBottom(false);
}

function hideTyping() {
  clearTimeout(state.typingShownTimer);
  el.typing.hidden = true;
}

function onRated(frame) {
  state.rated.add(frame.conversation_id);
  render();
}

function politeError(code) {
  return ERROR_TEXT[code] || gettext("Sorry, something went wrong. Please try again.");
}

/* ---------- Messages ---------- */

function addMessage(message) {
  if (message.internal) return;
  const nearBottom = isNearBottom();
  const item = renderMessage(message);
  let after = null;
  for (const existing of el.messages.children) {
    if (Number(existing.dataset.seq) > message.seq) {
      after = existing;
      break;
    }
  }
  el.messages.insertBefore(item, after);
  reportUnread();
  scrollToBottom(!nearBottom && message.sender !== "customer");
}

function agentReadSeq() {
  const record = currentRecord();
  return record ? record.otherReadSeq : 0;
}

function renderReceipts() {
  const read = agentReadSeq();
  for (const item of el.messages.querySelectorAll(".msg-customer")) {
    const receipt = item.querySelector(".receipt");
    if (receipt) setReceipt(receipt, Number(item.dataset.seq) <= read);
  }
}

function renderMessage(message) {
  const item = document.createElement("li");
  item.dataset.seq = String(message.seq);
  if (message.created_at) item.dataset.at = message.created_at;
  if (message.sender === "system" && message.event !== "greeting") {
    item.className = `msg msg-system event-${message.event || "notice"}`;
    const text = document.createElement("p");
    text.textContent = systemMessageText(message, "customer");
    item.append(text);
    return item;
  }
  const side = message.sender === "customer" ? "customer" : "agent";
  item.className = `msg msg-${side}${message.event === "greeting" ? " msg-greeting" : ""}`;
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  if (message.body) bubble.append(linkified(message.body));
  if (message.attachment) bubble.append(attachmentLink(message.attachment));
  for (const attachment of message.attachments || []) bubble.append(attachmentView(attachment));
  item.append(bubble, messageMeta(message));
  return item;
}

function messageMeta(message) {
  const meta = document.createElement("div");
  meta.className = "meta";
  const parts = [];
  if (message.sender === "agent") {
    const who = document.createElement("span");
    who.className = "who";
    who.dataset.agentId = String(message.agent_id);
    who.textContent = state.agentNames.get(message.agent_id) || gettext("Agent");
    meta.append(who, " · ");
  } else if (message.event === "greeting") {
    parts.push(config.business_line_name);
  }
  if (message.created_at) {
    parts.push(formatTime(message.created_at));
  }
  meta.append(parts.join(" · "));
  if (message.sender === "customer") {
    const receipt = document.createElement("span");
    receipt.className = "receipt";
    setReceipt(receipt, Boolean(message.seq && message.seq <= agentReadSeq()));
    meta.append(receipt);
  }
  return meta;
}

function linkified(body) {
  const text = document.createElement("p");
  text.className = "text";
  const pattern = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)]/g;
  let last = 0;
  for (const match of body.matchAll(pattern)) {
    text.append(document.createTextNode(body.slice(last, match.index)));
    const link = document.createElement("a");
    link.href = match[0];
    link.textContent = match[0];
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    text.append(link);
    last = match.index + match[0].length;
  }
  text.append(document.createTextNode(body.slice(last)));
  return text;
}

function attachmentLink(attachment) {
  const link = document.createElement("a");
  link.className = "attachment";
  link.textContent = `📎 ${attachment.name}`;
  const url = new URL(attachment.url, window.location.href);
  if (url.protocol === "https:" || url.protocol === "http:") link.href = url.href;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  return link;
}

const INLINE_IMAGES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/** An image as a preview (opens full size), any other file as a card with its name and size. */
function attachmentView(attachment) {
  const url = new URL(attachment.url, window.location.href);
  const link = document.createElement("a");
  if (url.origin === window.location.origin) link.href = url.href;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  if (INLINE_IMAGES.has(attachment.content_type)) {
    link.className = "attachment-image";
    const image = document.createElement("img");
    image.alt = attachment.name;
    const preview = new URL(attachment.thumbnail_url || attachment.url, window.location.href);
    if (link.href && preview.origin === window.location.origin) image.src = preview.href;
    link.append(image);
    return link;
  }
  link.className = "attachment-card";
  const name = document.createElement("span");
  name.className = "attachment-name";
  name.textContent = attachment.name;
  const size = document.createElement("span");
  size.className = "attachment-size";
  size.textContent = readableSize(attachment.size);
  link.append("📄 ", name, " ", size);
  return link;
}

function readableSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const UPLOAD_REFUSALS = {
  file_too_large: gettext("That file is too large to send."),
  file_type_not_allowed: gettext("Files of that type cannot be sent here."),
  conversation_closed: gettext("This chat has ended."),
};

/** Uploads the chosen file, then sends it as a message (the outbox resends it like any other). */
async function attachFile(file) {
  if (!file) return;
  if (!isOpen() || !state.token) {
    showToast(gettext("Send a message first to start the chat, then attach your file."));
    return;
  }
  const conversationId = state.currentId;
  el.attachButton.disabled = true;
  showToast(file.name ? interpolate(gettext("Sending %(name)s…"), { name: file.name }) : gettext("Sending your file…"));
  const progress = uploadProgress(file);
  el.composer.insertBefore(progress, el.composerForm);
  try {
    const attachment = await uploadAttachment({
      conversationId, token: state.token, file,
      onProgress: (sent, total) => Object.assign(progress, { max: total || 1, value: sent }),
    });
    client.sendMessage({ conversationId, body: "", attachmentIds: [attachment.id] });
    el.toast.hidden = true;
  } catch (error) {
    showToast(UPLOAD_REFUSALS[error.code] || error.message || gettext("The file could not be sent."));
  } finally {
    progress.remove();
    el.attachButton.disabled = false;
    el.attachInput.value = "";
  }
}

/** The bar one upload fills while its bytes go out; removed once the server has stored or refused the file. */
function uploadProgress(file) {
  const progress = document.createElement("progress");
  progress.className = "upload-progress";
  progress.max = 1;
  progress.value = 0;
  progress.setAttribute("aria-label", file.name ? interpolate(gettext("Sending %(name)s…"), { name: file.name }) : gettext("Sending your file…"));
  return progress;
}

/* ---------- Sending: pending until acked (the client resends and keeps them) ---------- */

function renderPending() {
  const items = [...client.outbox.items.values()].filter(
    (item) => item.conversation_id === null || item.conversation_id === state.currentId,
  );
  el.pending.replaceChildren(...items.map(pendingItem));
}

function pendingItem(item) {
  const failed = item.status === "failed";
  const node = document.createElement("li");
  node.className = `msg msg-customer ${failed ? "is-failed" : "is-pending"}`;
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  bubble.append(linkified(item.body || (item.attachment_ids.length ? gettext("📎 Sending a file…") : "")));
  const meta = document.createElement("div");
  meta.className = "meta";
  const receipt = document.createElement("span");
  receipt.className = "receipt";
  receipt.textContent = failed ? gettext("Not sent. ") : gettext("Sending…");
  if (failed) {
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "retry";
    retry.textContent = gettext("Retry");
    retry.addEventListener("click", () => {
      if (!isOpen()) {
        client.discard(item.client_msg_id);
        startChat(item.body);
        return;
      }
      client.retry(item.client_msg_id, state.currentId);
      renderPending();
    });
    receipt.append(retry);
  }
  meta.append(receipt);
  node.append(bubble, meta);
  return node;
}

function startChat(firstBody) {
  if (currentRecord() && !isOpen()) {
    state.currentId = null;
    el.messages.replaceChildren();
    hideTyping();
  }
  state.justLeftMessage = false;
  state.startRequested = true;
  if (firstBody) client.sendMessage({ conversationId: null, body: firstBody });
  if (client.ready) client.send(startFrame());
  render();
}

/** `conversation.start`, with the pre-chat form's answers when the customer gave some (docs/protocol.md). */
function startFrame() {
  const frame = { type: "conversation.start", channel: config.channel, ref: "start" };
  if (state.prechat) frame.prechat = state.prechat;
  return frame;
}

function submitComposer() {
  const body = el.input.value;
  if (!body.trim()) return;
  const frameBytes = new TextEncoder().encode(JSON.stringify({ type: "message.send", conversation_id: 1,
    client_msg_id: "x".repeat(36), body, ref: `msg:${"x".repeat(36)}` })).length;
  if ([...body].length > state.maxBodyChars || frameBytes + 32 > state.maxFrameBytes) {
    showToast(gettext("That message is too long. Please shorten it and try again."));
    return;
  }
  el.input.value = "";
  autoGrow();
  stopTyping();
  begin();
  if (isOpen()) client.sendMessage({ conversationId: state.currentId, body });
  else if (state.startRequested) client.sendMessage({ conversationId: null, body });
  else startChat(body);
}

/* ---------- Typing (throttled) and read receipts (when really seen) ---------- */

function onInput() {
  autoGrow();
  const conversation = currentConversation();
  if (!conversation || conversation.status !== "active" || !isOpen()) return;
  if (!el.input.value.trim()) {
    stopTyping();
    return;
  }
  const now = Date.now();
  if (now - state.typingSentAt > TYPING_SEND_EVERY_MS) {
    if (client.sendTyping(conversation.id, true)) state.typingSentAt = now;
  }
  clearTimeout(state.typingIdleTimer);
  state.typingIdleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(state.typingIdleTimer);
  if (!state.typingSentAt) return;
  state.typingSentAt = 0;
  const conversation = currentConversation();
  if (conversation && conversation.status === "active") client.sendTyping(conversation.id, false);
}

function isSeen() {
  return state.panelOpen && document.visibilityState === "visible";
}

function markRead() {
  const record = currentRecord();
  if (!record || !isSeen()) return;
  const seenKey = `seen:${record.id}`;
  if (record.highestSeq > (store.read()[seenKey] || 0)) store.write({ [seenKey]: record.highestSeq });
  reportUnread();
  client.markRead(record.id, record.highestSeq);
}

function unreadCount() {
  const record = currentRecord();
  if (!record) return 0;
  const seen = store.read()[`seen:${record.id}`] || 0;
  let count = 0;
  for (const message of record.messages.values()) {
    if (message.seq > seen && message.sender === "agent") count += 1;
  }
  return count;
}

function reportUnread() {
  const count = isSeen() ? 0 : unreadCount();
  postParent({ type: "unread", count });
  if (!config.embed) document.title = `${count ? `(${count}) ` : ""}${interpolate(gettext("%(title)s · Chat"), { title: config.business_line_name })}`;
}

document.addEventListener("visibilitychange", () => {
  markRead();
  reportUnread();
});

/* ---------- Small things customers notice (issue 14): ticks, days, a tone ---------- */

/** A customer message's receipt: ✓ sent, ✓✓ seen (drawn by chat.css); the word stays for screen readers. */
function setReceipt(receipt, seen) {
  receipt.dataset.receipt = seen ? "seen" : "sent";
  receipt.textContent = seen ? gettext("Seen") : gettext("Sent");
  receipt.title = receipt.textContent;
}

function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

/** "Today", "Yesterday", else the date as the page's language writes it; days in the customer's own time zone. */
function dayLabel(date) {
  const now = new Date();
  if (dayKey(date) === dayKey(now)) return gettext("Today");
  if (dayKey(date) === dayKey(new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1))) return gettext("Yesterday");
  return formatDate(date);
}

/**
 * The day above the first message of each day. It lives inside that message's item (chat.css draws it across the
 * transcript), so the list holds messages only; redrawn after each batch, as synced messages may land in between.
 */
function renderDays() {
  let previous = null;
  for (const item of el.messages.children) {
    const when = item.dataset.at ? new Date(item.dataset.at) : null;
    const key = when ? dayKey(when) : previous;
    let divider = item.querySelector(":scope > .day");
    if (when && key !== previous) {
      if (!divider) {
        divider = document.createElement("div");
        divider.className = "day";
        item.prepend(divider);
      }
      divider.textContent = dayLabel(when);
    } else if (divider) divider.remove();
    item.classList.toggle("starts-day", Boolean(when && key !== previous));
    previous = key;
  }
}

function soundOn() {
  return state.siteSound && !store.read().sound_off;
}

/**
 * One short tone for new agent messages the customer is not looking at (the panel closed, or the tab hidden), each
 * message once, even across reloads. The embedding page plays it (widget.js: its launcher is what the customer
 * clicked, so the browser lets it); the H5 page plays it itself. Browsers allow sound only after the customer has
 * used the page, so nothing plays before.
 */
function chime(record, messages) {
  if (isSeen() || !soundOn()) return;
  const stored = store.read();
  const heard = Math.max(stored[`chimed:${record.id}`] || 0, stored[`seen:${record.id}`] || 0);
  const fresh = messages.filter((message) => message.sender === "agent" && !message.internal && message.seq > heard);
  if (!fresh.length) return;
  store.write({ [`chimed:${record.id}`]: Math.max(...fresh.map((message) => message.seq)) });
  if (parentWindow) postParent({ type: "chime" });
  else playTone();
}

function renderSound() {
  el.sound.hidden = !state.siteSound;
  el.sound.setAttribute("aria-pressed", String(soundOn()));
}

el.sound.addEventListener("click", () => {
  store.write({ sound_off: soundOn() });
  renderSound();
});

/* ---------- Rendering ---------- */

function render() {
  const record = currentRecord();
  const conversation = record ? record.conversation : null;
  const status = record ? standing(record) : null;
  const open = OPEN.has(status);
  let view = "loading";
  if (!state.started && config.embed) view = "intro";
  else if (state.fatal) view = "fatal";
  else if (open) {
    view = status === "waiting" && state.offline && !state.waitAnyway && !conversation.agent ? "leave" : "chat";
  } else if (status === "closed") {
    view = state.rated.has(conversation.id) || state.ratingSkipped.has(conversation.id) ? "ended" : "rating";
  } else if (status === "missed") {
    view = conversation.close_reason === "offline" || state.justLeftMessage || lastEndingEvent(record) === "left_message"
      ? "ended" : "leave";
  } else if (status === "ended") view = "ended";
  else if (state.startRequested) view = "chat";
  else if (client.ready) view = state.offline && !state.waitAnyway ? "leave" : "intro";
  el.chat.dataset.view = view;

  el.intro.hidden = view !== "intro";
  const asking = view === "intro" && prechatAsked;
  el.prechatForm.hidden = !asking;
  el.start.hidden = asking;
  el.startHint.hidden = asking;
  if (asking) prefillPrechat(conversation);
  el.leaveCard.hidden = view !== "leave";
  el.ratingCard.hidden = view !== "rating";
  el.endedCard.hidden = view !== "ended";
  el.composer.hidden = !["intro", "chat"].includes(view) || (view === "intro" && prechatAsked);
  el.endChat.hidden = !open;
  if (el.endChat.hidden) el.confirmEnd.hidden = true;
  el.waitAnyway.hidden = status === "missed";

  if (view === "leave") renderLeaveCard(status === "missed" ? conversation : null, conversation);
  if (view === "ended") renderEnded(status, conversation);
  // Offered for a chat that ended with an agent (closed); a left message alone holds only the customer's words.
  el.transcriptCard.hidden = !(conversation && status === "closed" && ["rating", "ended"].includes(view));
  if (!el.transcriptCard.hidden) renderTranscriptCard(conversation);
  renderStatus();
  renderAvatar();
  renderSound();
  if (view !== state.view) {
    state.view = view;
    scrollToBottom(false);
  }
  keepFocus();
}

function renderLeaveCard(missedConversation, conversation) {
  const missed = Boolean(missedConversation);
  el.leaveText.textContent = missed
    ? gettext("Sorry, nobody could answer in time. Leave a message and we will get back to you by email.")
    : gettext("Nobody is available to chat right now. Leave a message and we will get back to you by email.");
  const customer = conversation && conversation.customer;
  if (customer && !el.leaveName.value && customer.name) el.leaveName.value = customer.name;
  if (customer && !el.leaveEmail.value && customer.email) el.leaveEmail.value = customer.email;
  if (!el.leaveName.value && state.identity.name) el.leaveName.value = state.identity.name;
  if (!el.leaveEmail.value && state.identity.email) el.leaveEmail.value = state.identity.email;
}

function renderEnded(status, conversation) {
  if (status === "missed") {
    el.endedText.textContent = gettext("Your message is with our team. Need anything else?");
  } else if (conversation && state.rated.has(conversation.id)) {
    el.endedText.textContent = gettext("Thanks for your feedback!");
  } else {
    el.endedText.textContent = gettext("This chat has ended.");
  }
}

/** The address a transcript goes to without asking: the customer's known email. */
function knownEmail(conversation) {
  return (conversation.customer && conversation.customer.email) || state.email || state.identity.email || "";
}

function renderTranscriptCard(conversation) {
  const sentTo = state.transcriptSentTo.get(conversation.id);
  el.transcriptDone.hidden = !sentTo;
  if (sentTo) el.transcriptDone.textContent = interpolate(gettext("We are sending the transcript to %(email)s."), { email: sentTo });
  el.transcriptSubmit.hidden = Boolean(sentTo);
  el.transcriptEmailLabel.hidden = Boolean(sentTo) || Boolean(knownEmail(conversation));
}

const TRANSCRIPT_REFUSALS = {
  rate_limited: gettext("You asked for several transcripts already. Please try again later."),
  invalid_request: gettext("Please check your email address."),
  invalid_field: gettext("Please enter your email address."),
  conversation_open: gettext("The transcript can be sent once the chat has ended."),
};

/** POST /api/conversations/{id}/transcript/email/ with the customer's token (docs/protocol.md). */
async function requestTranscript() {
  const conversation = currentConversation();
  if (!conversation || !state.token) return;
  el.transcriptError.hidden = true;
  const asking = !el.transcriptEmailLabel.hidden;
  const email = el.transcriptEmail.value.trim();
  if (asking && (!email || !el.transcriptEmail.checkValidity())) {
    showFormError(el.transcriptError, email ? gettext("Please check your email address.") : gettext("Please enter your email address."), el.transcriptEmail);
    el.transcriptEmail.focus();
    return;
  }
  el.transcriptSubmit.disabled = true;
  let response;
  let answer = {};
  try {
    response = await fetch(`/api/conversations/${conversation.id}/transcript/email/`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "Accept-Language": pageLanguage(),
        Authorization: `Token ${state.token}`,
      },
      body: JSON.stringify(asking ? { email } : {}),
      credentials: "omit",
    });
    answer = await response.json().catch(() => ({}));
  } catch (error) {
    showFormError(el.transcriptError, gettext("You are offline. Please try again when the connection is back."));
    return;
  } finally {
    el.transcriptSubmit.disabled = false;
  }
  if (!response.ok) {
    showFormError(el.transcriptError, TRANSCRIPT_REFUSALS[answer.code] || politeError(answer.code));
    return;
  }
  state.email = state.email || answer.email;
  state.transcriptSentTo.set(conversation.id, answer.email);
  render();
}

function renderStatus() {
  const record = currentRecord();
  const conversation = record ? record.conversation : null;
  const status = record ? standing(record) : null;
  let text;
  if (state.fatal) text = gettext("Unavailable");
  else if (!state.started && config.embed) text = gettext("We usually reply in a few minutes");
  else if (!client.connected) text = state.token ? gettext("Reconnecting…") : gettext("Connecting…");
  else if (status === "active") {
    text = conversation.agent ? interpolate(gettext("Chatting with %(name)s"), { name: conversation.agent.name }) : gettext("Chatting");
  } else if (status === "waiting") {
    text = waitingText(conversation);
  } else if (status) text = gettext("Chat ended");
  else text = state.offline ? gettext("We are away right now") : gettext("We usually reply in a few minutes");
  el.status.textContent = text;
}

function waitingText(conversation) {
  if (state.offline && !conversation.queue_position) return gettext("Waiting for an agent");
  const parts = [];
  if (conversation.queue_position) parts.push(interpolate(gettext("You are number %(position)s in the queue"), { position: conversation.queue_position }));
  else parts.push(gettext("Waiting for an agent"));
  if (state.offline) parts.push(gettext("no agents online yet"));
  else if (typeof conversation.estimated_wait_seconds === "number") {
    parts.push(interpolate(gettext("about %(wait)s"), { wait: formatWait(conversation.estimated_wait_seconds) }));
  }
  return parts.join(" · ");
}

function formatWait(seconds) {
  const minutes = Math.max(1, Math.round(seconds / 60));
  if (minutes < 60) return interpolate(ngettext("%(count)s minute", "%(count)s minutes", minutes), { count: minutes });
  const hours = Math.round(minutes / 60);
  return interpolate(ngettext("%(count)s hour", "%(count)s hours", hours), { count: hours });
}

function renderAvatar() {
  const record = currentRecord();
  const agent = record && standing(record) === "active" && record.conversation.agent;
  const name = agent ? agent.name : appearance.title || config.business_line_name;
  el.avatarLetter.textContent = (name.trim()[0] || "?").toUpperCase();
  el.avatar.classList.toggle("is-agent", Boolean(agent));
  el.avatar.classList.toggle("has-picture", Boolean(appearance.team_picture) && !agent);
}

function isNearBottom() {
  return el.body.scrollHeight - el.body.scrollTop - el.body.clientHeight < 80;
}

function scrollToBottom(onlyIfNear) {
  if (onlyIfNear) return;
  el.body.scrollTop = el.body.scrollHeight;
}

function showBanner(text) {
  el.banner.textContent = text;
  el.banner.hidden = false;
}

function hideBanner() {
  el.banner.hidden = true;
}

function showToast(text) {
  el.toast.textContent = text;
  el.toast.hidden = false;
  clearTimeout(state.toastTimer);
  state.toastTimer = setTimeout(() => { el.toast.hidden = true; }, 6000);
}

/** Shows a form's error; `field`, when one is at fault, is marked invalid and described by it (screen readers). */
function showFormError(node, text, field) {
  node.textContent = text;
  node.hidden = false;
  if (field) markInvalid(field, node);
}

function fatal(text) {
  state.fatal = true;
  clearTimeout(state.sessionTimer);
  client.stop();
  showBanner(text);
  render();
}

/* ---------- Controls ---------- */

/* ---------- The business line's appearance and pre-chat form (admin; docs/protocol.md) ---------- */

const appearance = config.appearance || {};
const prechatForm = config.prechat_form || {};
const prechatAsked = Object.values(prechatForm).some((mode) => mode !== "off");

function applyAppearance() {
  const root = document.documentElement.style;
  if (/^#[0-9a-fA-F]{6}$/.test(appearance.color || "")) {
    // CSSOM, not an inline style attribute: allowed by the page's Content-Security-Policy.
    root.setProperty("--brand", appearance.color);
    root.setProperty("--brand-dark", appearance.color);
    root.setProperty("--brand-soft", `${appearance.color}1a`);
  }
  if (appearance.title) {
    el.title.textContent = appearance.title;
    el.introName.textContent = appearance.title;
  }
  el.teamName.hidden = !appearance.team_name;
  el.teamName.textContent = appearance.team_name || "";
  for (const [picture, holder] of [[el.avatarPicture, el.avatar], [el.introPicture, el.introAvatar]]) {
    picture.hidden = !appearance.team_picture;
    if (appearance.team_picture) picture.src = appearance.team_picture;
    holder.classList.toggle("has-picture", Boolean(appearance.team_picture));
  }
  for (const label of el.prechatForm.querySelectorAll("label[data-field]")) {
    const mode = prechatForm[label.dataset.field] || "off";
    label.hidden = mode === "off";
    label.querySelector(".optional").hidden = mode !== "optional";
    label.querySelector("input, textarea").required = mode === "required";
  }
  if (config.preview) {
    for (const control of [el.start, el.prechatSubmit, el.input]) control.disabled = true;
  }
}

/** The server's refusal of the form's answers, said for people: the error's `field` names the refused answer
 * (`prechat.email`; docs/protocol.md), and an empty answer there is a required one missing. */
function prechatRefusal(frame) {
  if (frame.code !== "invalid_field") return politeError(frame.code);
  const input = refusedPrechatField(frame);
  if (input && !input.value.trim()) return gettext("Please fill in the required fields.");
  if (frame.field === "prechat.email") return gettext("Please check your email address.");
  if (frame.field === "prechat.phone") return gettext("Please check your phone number.");
  return gettext("Please check your answers.");
}

/** Known answers (the site's identity, the customer's last conversation) fill the form's empty fields. */
function prefillPrechat(conversation) {
  const customer = (conversation && conversation.customer) || {};
  for (const field of ["name", "email"]) {
    const input = $(`prechat-${field}`);
    if (!input.value) input.value = customer[field] || state.identity[field] || "";
  }
}

el.prechatForm.addEventListener("submit", (event) => {
  event.preventDefault();
  el.prechatError.hidden = true;
  const answers = {};
  for (const field of ["name", "email", "phone", "question"]) {
    const mode = prechatForm[field] || "off";
    if (mode === "off") continue;
    const input = $(`prechat-${field}`);
    const value = input.value.trim();
    if (!value && mode === "required") {
      showFormError(el.prechatError, gettext("Please fill in the required fields."), input);
      input.focus();
      return;
    }
    if (value && !input.checkValidity()) {
      showFormError(el.prechatError, field === "email" ? gettext("Please check your email address.") : gettext("Please check your answers."), input);
      input.focus();
      return;
    }
    if (value) answers[field] = value;
  }
  state.prechat = answers;
  el.prechatSubmit.disabled = true;
  begin();
  startChat(null);
});

applyAppearance();
applyReadableColors();
el.greeting.textContent = appearance.greeting || config.greeting || gettext("Hi! Ask us anything: we are happy to help.");

el.composerForm.addEventListener("submit", (event) => {
  event.preventDefault();
  submitComposer();
});
el.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    submitComposer();
  }
});
el.input.addEventListener("input", onInput);
el.attachButton.addEventListener("click", () => el.attachInput.click());
el.attachInput.addEventListener("change", () => attachFile(el.attachInput.files[0]));
// A pasted screenshot or a file dropped on the chat is attached like a chosen one.
el.input.addEventListener("paste", (event) => {
  const file = event.clipboardData && event.clipboardData.files[0];
  if (!file) return;
  event.preventDefault();
  attachFile(file);
});
el.chat.addEventListener("dragover", (event) => {
  if (event.dataTransfer && [...event.dataTransfer.types].includes("Files")) event.preventDefault();
});
el.chat.addEventListener("drop", (event) => {
  const file = event.dataTransfer && event.dataTransfer.files[0];
  if (!file) return;
  event.preventDefault();
  attachFile(file);
});
el.input.addEventListener("blur", stopTyping);

function autoGrow() {
  el.input.style.height = "auto";
  el.input.style.height = `${Math.min(el.input.scrollHeight, 120)}px`;
}

el.start.addEventListener("click", () => {
  begin();
  startChat(null);
  el.input.focus();
});
el.newChat.addEventListener("click", () => {
  state.waitAnyway = false;
  state.currentId = null;
  state.justLeftMessage = false;
  el.messages.replaceChildren();
  hideTyping();
  renderPending();
  el.leaveBody.value = "";
  render();
});
el.waitAnyway.addEventListener("click", () => {
  state.waitAnyway = true;
  render();
});

el.endChat.addEventListener("click", () => {
  el.confirmEnd.hidden = false;
  el.confirmEndYes.focus();
});
el.confirmEndCancel.addEventListener("click", () => {
  el.confirmEnd.hidden = true;
  el.endChat.focus();
});
el.confirmEndYes.addEventListener("click", () => {
  el.confirmEnd.hidden = true;
  const conversation = currentConversation();
  if (!conversation) return;
  stopTyping();
  if (!client.send({ type: "conversation.close", conversation_id: conversation.id, ref: "close" })) {
    showToast(gettext("You are offline. Please try again when the connection is back."));
  }
});
if (el.minimize) {
  el.minimize.addEventListener("click", () => {
    // Closed from this click on: a message arriving before the page answers "visibility" stays unread.
    state.panelOpen = false;
    postParent({ type: "close" });
  });
}

el.leaveForm.addEventListener("submit", (event) => {
  event.preventDefault();
  el.leaveError.hidden = true;
  const body = el.leaveBody.value.trim();
  const name = el.leaveName.value.trim();
  const email = el.leaveEmail.value.trim();
  if (!body) {
    showFormError(el.leaveError, gettext("Please write your message."), el.leaveBody);
    el.leaveBody.focus();
    return;
  }
  if (email && !el.leaveEmail.checkValidity()) {
    showFormError(el.leaveError, gettext("Please check your email address."), el.leaveEmail);
    el.leaveEmail.focus();
    return;
  }
  const frame = { type: "conversation.leave_message", body, channel: config.channel, ref: "leave" };
  if (name) frame.name = name;
  if (email) frame.email = email;
  if (client.send(frame)) el.leaveSubmit.disabled = true;
  else showFormError(el.leaveError, gettext("You are offline. Please try again when the connection is back."));
});

let chosenRating = 0;
for (let value = 1; value <= 5; value += 1) {
  const star = document.createElement("button");
  star.type = "button";
  star.className = "star";
  star.setAttribute("role", "radio");
  star.setAttribute("aria-checked", "false");
  star.setAttribute("aria-label", interpolate(ngettext("%(count)s star", "%(count)s stars", value), { count: value }));
  star.dataset.value = String(value);
  star.textContent = "★";
  star.addEventListener("click", () => {
    chosenRating = value;
    for (const other of el.stars.children) {
      const on = Number(other.dataset.value) <= value;
      other.classList.toggle("is-on", on);
      other.setAttribute("aria-checked", String(Number(other.dataset.value) === value));
    }
    el.ratingSubmit.disabled = false;
  });
  el.stars.append(star);
}
el.ratingForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const conversation = currentConversation();
  if (!conversation || !chosenRating) return;
  el.ratingError.hidden = true;
  const frame = { type: "conversation.rate", conversation_id: conversation.id, rating: chosenRating,
    comment: el.ratingComment.value.trim(), ref: "rate" };
  if (client.send(frame)) el.ratingSubmit.disabled = true;
  else showFormError(el.ratingError, gettext("You are offline. Please try again when the connection is back."));
});
el.transcriptForm.addEventListener("submit", (event) => {
  event.preventDefault();
  requestTranscript();
});
el.ratingSkip.addEventListener("click", () => {
  if (state.currentId !== null) state.ratingSkipped.add(state.currentId);
  render();
});

for (const emoji of EMOJI) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "emoji";
  button.setAttribute("role", "option");
  button.textContent = emoji;
  button.addEventListener("click", () => {
    const { selectionStart, selectionEnd } = el.input;
    el.input.setRangeText(emoji, selectionStart, selectionEnd, "end");
    toggleEmoji(false);
    el.input.focus();
    onInput();
  });
  el.emojiPanel.append(button);
}
function toggleEmoji(open) {
  el.emojiPanel.hidden = !open;
  el.emojiButton.setAttribute("aria-expanded", String(open));
}
el.emojiButton.addEventListener("click", () => toggleEmoji(el.emojiPanel.hidden));
document.addEventListener("click", (event) => {
  if (!el.emojiPanel.hidden && !el.emojiPanel.contains(event.target) && !el.emojiButton.contains(event.target)) {
    toggleEmoji(false);
  }
});

/* ---------- Accessibility (issue 14; docs/accessibility.md): focus, keys, what screen readers hear, contrast ---------- */

const FOCUSABLE = ["a[href]", "button", "input", "textarea", "select", "[tabindex]"]
  .map((selector) => `${selector}:not([disabled]):not([tabindex="-1"])`).join(", ");
const announcer = $("announcer");
let lastFocused = null;
// The host page shows the panel full-screen (a phone-sized page): the panel is modal, Tab goes round inside it.
let modalPanel = false;

function isShown(element) {
  return element.isConnected && element.getClientRects().length > 0;
}

function focusables(scope) {
  return [...scope.querySelectorAll(FOCUSABLE)].filter(isShown);
}

/** Where a keyboard user starts in each view: the message box, the form's first field, the rating, the button. */
function focusView() {
  const view = el.chat.dataset.view;
  let target = null;
  if (view === "rating") target = el.stars.querySelector('[tabindex="0"]');
  else if (view === "ended") target = el.newChat;
  else if (view === "leave") target = el.leaveName;
  else if (isShown(el.input)) target = el.input;
  else if (isShown(el.prechatForm)) target = focusables(el.prechatForm)[0];
  if (!target || !isShown(target)) target = focusables(el.body)[0] || focusables(document)[0];
  if (target) target.focus();
}

document.addEventListener("focusin", (event) => { lastFocused = event.target; });

/**
 * The control the customer was on went away with its view (a sent form, an ended chat): carry on from the new
 * view's first control, not from nowhere. Only while this page has the focus, so it never takes it from the host page.
 */
function keepFocus() {
  if (!lastFocused || isShown(lastFocused) || !document.hasFocus()) return;
  const active = document.activeElement;
  if (active && active !== document.body && isShown(active)) return;
  lastFocused = null;
  focusView();
}

/** Tab and Shift+Tab go round inside the end-chat question while it is asked, and inside the full-screen panel. */
function trapTab(event) {
  if (event.key !== "Tab") return;
  let scope = null;
  if (!el.confirmEnd.hidden) scope = el.confirmEnd;
  else if (modalPanel) scope = document;
  if (!scope) return;
  const controls = focusables(scope);
  if (!controls.length) return;
  const first = controls[0];
  const last = controls[controls.length - 1];
  const active = document.activeElement;
  let next = null;
  if (!controls.includes(active)) next = event.shiftKey ? last : first;
  else if (event.shiftKey && active === first) next = last;
  else if (!event.shiftKey && active === last) next = first;
  if (next) {
    event.preventDefault();
    next.focus();
  }
}

/** Escape closes what is open, innermost first: the emoji picker, the end-chat question, then the widget. */
function onEscape(event) {
  if (event.key !== "Escape") return;
  if (!el.emojiPanel.hidden) {
    toggleEmoji(false);
    el.emojiButton.focus();
  } else if (!el.confirmEnd.hidden) el.confirmEndCancel.click();
  else if (config.embed) postParent({ type: "close" });
  else return;
  event.preventDefault();
  event.stopPropagation();
}

window.addEventListener("keydown", onEscape, true);
window.addEventListener("keydown", trapTab);
window.addEventListener("message", (event) => {
  if (!parentWindow || event.source !== parentWindow || event.origin !== state.parentOrigin) return;
  const data = event.data;
  if (data && data.source === "cs-widget" && data.type === "layout") modalPanel = Boolean(data.modal);
});

/** A field at fault says so and points at the error that explains it; a new try clears the marks. */
function markInvalid(field, error) {
  field.setAttribute("aria-invalid", "true");
  field.setAttribute("aria-describedby", error.id);
}

document.addEventListener("submit", (event) => {
  for (const field of event.target.querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
    field.removeAttribute("aria-describedby");
  }
}, true);

/** The pre-chat field the server refused (the error's `field`: docs/protocol.md), if one. */
function refusedPrechatField(frame) {
  const match = /^prechat\.(name|email|phone|question)$/.exec(typeof frame.field === "string" ? frame.field : "");
  return match ? $(`prechat-${match[1]}`) : null;
}

/** What a screen reader says for a message that arrives: who wrote it and what, or the system's words. */
function spokenText(message) {
  if (message.sender === "system" && message.event !== "greeting") return systemMessageText(message, "customer");
  const who = message.sender === "agent"
    ? state.agentNames.get(message.agent_id) || gettext("Agent")
    : appearance.title || config.business_line_name;
  const files = [message.attachment, ...(message.attachments || [])].filter(Boolean)
    .map((attachment) => interpolate(gettext("file %(name)s"), { name: attachment.name }));
  return interpolate(gettext("%(name)s: %(text)s"), { name: who, text: [message.body, ...files].filter(Boolean).join(" ") });
}

// New messages from the other side, read out politely (the log keeps the last few; the transcript is the list).
client.on("messages", ({ record, messages }) => {
  if (record.id !== state.currentId) return;
  for (const message of messages.filter((one) => one.sender !== "customer" && !one.internal).slice(-3)) {
    const line = document.createElement("p");
    line.textContent = spokenText(message);
    announcer.append(line);
  }
  while (announcer.children.length > 5) announcer.firstElementChild.remove();
});

/** The rating's stars are one radio group: one Tab stop, arrow keys move and choose. */
function rovingStars() {
  for (const star of el.stars.children) star.tabIndex = Number(star.dataset.value) === (chosenRating || 1) ? 0 : -1;
}

el.stars.addEventListener("click", rovingStars);
el.stars.addEventListener("keydown", (event) => {
  const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
  if (!step) return;
  event.preventDefault();
  let next = ((chosenRating - 1 + step + 5) % 5) + 1;
  if (!chosenRating) next = step > 0 ? 1 : 5;
  const star = el.stars.children[next - 1];
  star.click();
  star.focus();
});
rovingStars();

/** The emoji picker: opened, it takes the focus; arrow keys move in its grid of eight columns. */
const EMOJI_COLUMNS = 8;
el.emojiButton.addEventListener("click", () => {
  if (!el.emojiPanel.hidden) el.emojiPanel.firstElementChild.focus();
});
el.emojiPanel.addEventListener("keydown", (event) => {
  const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: EMOJI_COLUMNS, ArrowUp: -EMOJI_COLUMNS }[event.key];
  const options = [...el.emojiPanel.children];
  const index = options.indexOf(document.activeElement);
  if (!step || index < 0) return;
  event.preventDefault();
  options[(index + step + options.length) % options.length].focus();
});
for (const option of [...el.emojiPanel.children].slice(1)) option.tabIndex = -1;

/** Text on the line's colour in black or white, and its colour as text on white, as the server chose them (readable). */
function applyReadableColors() {
  const root = document.documentElement.style;
  if (/^#[0-9a-fA-F]{6}$/.test(appearance.text_color || "")) root.setProperty("--on-brand", appearance.text_color);
  if (/^#[0-9a-fA-F]{6}$/.test(appearance.accent_color || "")) root.setProperty("--brand-ink", appearance.accent_color);
}

/* ---------- Start ---------- */

/**
 * The H5 page's signed link (docs/app.md): the server checked it, and its identity opens the session (a reload
 * checks it again, so the same customer comes back until it expires). A refused one is said, and nothing starts.
 */
function takeLinkIdentity() {
  if (config.identity_refused) {
    fatal(config.identity_refused);
    return false;
  }
  if (config.identity && config.identity.external_id) state.identity = pickIdentity(config.identity);
  return true;
}

render();
if (parentWindow) {
  // The launcher's look is public (it is on the line's every page): the host script applies it.
  const launcher = { color: appearance.color, text_color: appearance.text_color, position: appearance.position,
    launcher_text: appearance.launcher_text };
  // The launcher's words in the page's language (the loader has no catalog of its own: one translation system).
  const strings = {
    open: gettext("Open the chat"),
    close: gettext("Close the chat"),
    open_unread: gettext("Open the chat (%(count)s unread)"),
    panel: gettext("Chat"),
    frame: gettext("Chat with us"),
  };
  parentWindow.postMessage({ source: "cs-chat", type: "ready", appearance: launcher, strings }, "*");
} else if (takeLinkIdentity()) begin();
