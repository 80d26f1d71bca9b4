/*
 * The customer's chat: the page widget.js frames (/chat/) and the full-page mobile chat (/h5/).
 *
 * Speaks the protocol of docs/protocol.md: POST /api/widget/session/ for a token, then one WebSocket
 * (/ws/customer/?token=...). Messages are kept by seq (deduplicated, ordered); what the customer sends stays
 * "pending" until acked and is resent with the same client_msg_id after a reconnect; `sync` fills any gap.
 * Every piece of text from the network is written with textContent, never as HTML.
 */
(() => {
  "use strict";

  const config = JSON.parse(document.getElementById("cs-config").textContent);
  const $ = (id) => document.getElementById(id);
  const el = {
    chat: $("chat"), title: $("title"), status: $("status"), avatar: $("avatar"), endChat: $("end-chat"),
    minimize: $("minimize"), confirmEnd: $("confirm-end"), confirmEndYes: $("confirm-end-yes"),
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
  };

  const OPEN = new Set(["waiting", "active"]);
  const TYPING_SEND_EVERY_MS = 3000;
  const TYPING_IDLE_MS = 4000;
  const TYPING_SHOWN_MS = 6000;
  const RECONNECT_MAX_MS = 30000;
  const EMOJI = ["😀", "😂", "😊", "😍", "🤔", "😅", "😢", "😡", "👍", "👎", "👏", "🙏", "🙌", "👋", "💪", "🎉",
    "❤️", "🔥", "✅", "❌", "⭐", "📦", "🚚", "💳", "📞", "✉️", "⏰", "☕", "🙂", "😉", "😮", "🤝"];
  const ERROR_TEXT = {
    rate_limited: "You are sending messages a little too fast. Please wait a moment.",
    body_too_long: "That message is too long. Please shorten it and try again.",
    frame_too_large: "That message is too long. Please shorten it and try again.",
    conversation_closed: "This chat has ended. Start a new one to keep talking.",
    not_found: "We could not find that conversation.",
    invalid_field: "Something in that request was not quite right. Please check it and try again.",
    internal_error: "Something went wrong on our side. Please try again.",
    too_many_connections: "This chat is open in too many windows. Close one of them to chat here.",
  };

  /* ---------- Storage: survives reloads; falls back to memory where the browser forbids it ---------- */

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

  /* ---------- State ---------- */

  const state = {
    identity: {},
    started: false,
    token: null,
    socket: null,
    connected: false,
    ready: false, // hello and the unasked conversation.state frames have arrived on this socket
    attempt: 0,
    reconnectTimer: null,
    heartbeatTimer: null,
    heartbeatSeconds: 15,
    lastFrameAt: 0,
    pingSentAt: 0,
    maxBodyChars: 4000,
    maxFrameBytes: 16384,
    offline: false,
    announced: new Set(), // conversations the server announced on this socket
    conversation: null,
    messages: new Map(), // seq -> message of the current conversation
    agentNames: new Map(), // agent id -> display name, from conversation.state
    maxSeq: 0,
    contiguous: 0, // every seq up to here is held or known to be invisible (internal notes)
    syncing: false,
    syncTarget: 0,
    outbox: new Map(), // client_msg_id -> {client_msg_id, conversation_id, body, el, failed}
    startRequested: false,
    waitAnyway: false,
    rated: new Set(),
    ratingSkipped: new Set(),
    justLeftMessage: false,
    agentRead: 0,
    readSent: 0,
    panelOpen: !config.embed,
    typingSentAt: 0,
    typingIdleTimer: null,
    typingShownTimer: null,
    toastTimer: null,
    parentOrigin: null,
    view: null,
    fatal: false,
  };

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

  window.addEventListener("message", (event) => {
    if (!parentWindow || event.source !== parentWindow) return;
    const data = event.data;
    if (!data || data.source !== "cs-widget") return;
    if (data.type === "init" && state.parentOrigin === null) {
      state.parentOrigin = event.origin;
      state.identity = pickIdentity(data.identity);
      state.panelOpen = Boolean(data.open);
      if (store.read().visitor_token || state.identity.external_id || state.panelOpen) begin();
      else render();
      reportUnread();
    } else if (data.type === "visibility" && state.parentOrigin !== null) {
      state.panelOpen = Boolean(data.open);
      if (state.panelOpen) {
        begin();
        markRead();
        if (!matchMedia("(pointer: coarse)").matches) el.input.focus();
      }
      reportUnread();
    }
  });

  /* ---------- Session and socket ---------- */

  function begin() {
    if (state.started) return;
    state.started = true;
    openSession();
  }

  async function openSession() {
    const body = { business_line: config.business_line, channel: config.channel, ...state.identity };
    const visitorToken = store.read().visitor_token;
    if (visitorToken) body.visitor_token = visitorToken;
    let response;
    let answer = {};
    try {
      response = await fetch(config.session_url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        credentials: "omit",
      });
      answer = await response.json().catch(() => ({}));
    } catch (error) {
      showBanner("We cannot reach the chat right now. Retrying…");
      scheduleReconnect(openSession);
      return;
    }
    if (!response.ok) {
      if (response.status === 429) {
        // Too many sessions from this network: say so, and try again when the server says the window ends.
        const seconds = Math.max(1, Number(response.headers.get("Retry-After")) || 30);
        showBanner(answer.message || "Too many chats were opened from your network. Please try again in a minute.");
        clearTimeout(state.reconnectTimer);
        state.reconnectTimer = setTimeout(openSession, seconds * 1000);
        return;
      }
      if (["identity_invalid", "identity_expired"].includes(answer.code) && state.identity.external_id) {
        state.identity = pickIdentity({ name: state.identity.name, email: state.identity.email });
        openSession();
        return;
      }
      if (response.status >= 500) {
        showBanner("The chat is having trouble. Retrying…");
        scheduleReconnect(openSession);
        return;
      }
      fatal(answer.code === "origin_forbidden"
        ? "This chat cannot be opened from this website."
        : "The chat is not available right now. Please try again later.");
      return;
    }
    store.write({ visitor_token: answer.visitor_token });
    state.token = answer.token;
    connect();
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    if (state.socket) return;
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${window.location.host}${config.socket_path}?token=${encodeURIComponent(state.token)}`;
    const socket = new WebSocket(url);
    state.socket = socket;
    socket.addEventListener("message", (event) => {
      if (socket !== state.socket) return;
      state.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      handleFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      if (socket !== state.socket) return;
      dropSocket();
      if (event.code === 4401) {
        showBanner("Reconnecting…");
        scheduleReconnect(openSession);
      } else if (event.code === 4403) {
        fatal("This chat cannot be opened from this website.");
      } else if (event.code === 4429) {
        // Too many sockets on this token (other tabs): one may close, so keep trying, slowly.
        showBanner("This chat is open in too many windows. Close one of them to chat here.");
        scheduleReconnect(connect);
      } else {
        showBanner("Connection lost. Reconnecting…");
        scheduleReconnect(connect);
      }
    });
  }

  function dropSocket() {
    const socket = state.socket;
    state.socket = null;
    state.connected = false;
    state.ready = false;
    state.pingSentAt = 0;
    clearInterval(state.heartbeatTimer);
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close();
    renderStatus();
  }

  function scheduleReconnect(action) {
    clearTimeout(state.reconnectTimer);
    const delay = Math.min(RECONNECT_MAX_MS, 1000 * 2 ** state.attempt) * (0.5 + Math.random() / 2);
    state.attempt += 1;
    state.reconnectTimer = setTimeout(action, delay);
  }

  window.addEventListener("online", () => {
    if (state.started && !state.socket && state.token) {
      state.attempt = 0;
      connect();
    }
  });

  function startHeartbeat() {
    // A ping every `heartbeat` seconds; a socket that has said nothing since the last ping is dead. Timers
    // of hidden tabs may run late, so only the silence after a ping counts, never the gap between pings.
    clearInterval(state.heartbeatTimer);
    state.heartbeatTimer = setInterval(() => {
      if (state.pingSentAt && state.lastFrameAt < state.pingSentAt) {
        dropSocket();
        showBanner("Connection lost. Reconnecting…");
        scheduleReconnect(connect);
        return;
      }
      if (send({ type: "ping" })) state.pingSentAt = Date.now();
    }, state.heartbeatSeconds * 1000);
  }

  function send(frame) {
    if (!state.socket || state.socket.readyState !== WebSocket.OPEN) return false;
    state.socket.send(JSON.stringify(frame));
    return true;
  }

  /* ---------- Frames from the server ---------- */

  function handleFrame(frame) {
    switch (frame.type) {
      case "hello": return onHello(frame);
      case "pong": return onPong(frame);
      case "conversation.state": return onConversationState(frame);
      case "message.ack": return onAck(frame);
      case "message.new": return onNewMessage(frame.message);
      case "sync.result": return onSyncResult(frame);
      case "typing": return onTyping(frame);
      case "read": return onRead(frame);
      case "conversation.rated": return onRated(frame);
      case "error": return onError(frame);
      default: return undefined;
    }
  }

  function onHello(frame) {
    state.connected = true;
    state.attempt = 0;
    state.offline = Boolean(frame.offline);
    state.announced = new Set();
    if (frame.limits && frame.limits.max_body_chars) state.maxBodyChars = frame.limits.max_body_chars;
    if (frame.limits && frame.limits.max_frame_bytes) state.maxFrameBytes = frame.limits.max_frame_bytes;
    if (frame.heartbeat) state.heartbeatSeconds = frame.heartbeat;
    hideBanner();
    startHeartbeat();
    // The server sends this socket's open conversations right after hello: the pong marks their end.
    send({ type: "ping", ref: "ready" });
  }

  function onPong(frame) {
    if (frame.ref !== "ready") return;
    state.ready = true;
    const current = state.conversation;
    if (current && OPEN.has(current.status) && !state.announced.has(current.id)) {
      // It ended while we were away: the transcript says how.
      current.status = "closed";
      current.endedUnseen = true;
      requestSync(true);
    }
    restoreOutbox();
    flushOutbox();
    if (state.startRequested) send({ type: "conversation.start", channel: config.channel, ref: "start" });
    render();
  }

  function onConversationState(frame) {
    const conversation = frame.conversation;
    const current = state.conversation;
    const isReply = frame.ref === "start" || frame.ref === "leave";
    if (!state.ready) state.announced.add(conversation.id);
    if (current && conversation.id !== current.id) {
      if (!isReply && !OPEN.has(conversation.status)) return;
      switchConversation();
    }
    state.conversation = conversation;
    if (conversation.agent) learnAgentName(conversation.agent);
    if (frame.ref === "start" || (state.startRequested && OPEN.has(conversation.status))) {
      state.startRequested = false;
      for (const item of state.outbox.values()) {
        if (item.conversation_id === null) item.conversation_id = conversation.id;
      }
      saveOutbox();
      flushOutbox();
    }
    if (frame.ref === "leave") state.justLeftMessage = true;
    if (typeof conversation.offline === "boolean") state.offline = conversation.offline;
    if (!state.ready || conversation.last_seq > state.contiguous) requestSync(true);
    if (!OPEN.has(conversation.status)) hideTyping();
    render();
  }

  function learnAgentName(agent) {
    if (state.agentNames.get(agent.id) === agent.name) return;
    state.agentNames.set(agent.id, agent.name);
    for (const who of el.messages.querySelectorAll(".who")) {
      if (who.dataset.agentId === String(agent.id)) who.textContent = agent.name;
    }
  }

  function switchConversation() {
    state.messages = new Map();
    state.maxSeq = 0;
    state.contiguous = 0;
    state.syncing = false;
    state.agentRead = 0;
    state.readSent = 0;
    el.messages.replaceChildren();
    hideTyping();
  }

  function onAck(frame) {
    const message = frame.message;
    if (state.conversation && message.conversation_id === state.conversation.id) addMessage(message);
    else removeFromOutbox(frame.client_msg_id);
  }

  function onNewMessage(message) {
    if (!state.conversation || message.conversation_id !== state.conversation.id || message.internal) return;
    if (message.seq > state.contiguous + 1 && !state.messages.has(message.seq)) requestSync(false);
    addMessage(message);
    if (message.sender === "agent") hideTyping();
    markRead();
  }

  function requestSync(force) {
    const conversation = state.conversation;
    if (!conversation || !state.connected) return;
    if (state.syncing && !force) return;
    state.syncing = true;
    state.syncTarget = Math.max(state.maxSeq, conversation.last_seq || 0);
    send({ type: "sync", conversation_id: conversation.id, after_seq: state.contiguous,
      ref: `sync:${conversation.id}` });
  }

  function onSyncResult(frame) {
    if (!state.conversation || frame.conversation_id !== state.conversation.id) return;
    for (const message of frame.messages) addMessage(message);
    if (frame.has_more) {
      const last = frame.messages.length ? frame.messages[frame.messages.length - 1].seq : state.contiguous;
      state.contiguous = Math.max(state.contiguous, last);
      send({ type: "sync", conversation_id: frame.conversation_id, after_seq: state.contiguous,
        ref: `sync:${frame.conversation_id}` });
      return;
    }
    state.syncing = false;
    state.contiguous = Math.max(state.contiguous, state.syncTarget);
    advanceContiguous();
    if (state.maxSeq > state.contiguous) requestSync(false);
    inferEndFromTranscript();
    markRead();
    render();
  }

  function inferEndFromTranscript() {
    const conversation = state.conversation;
    if (!conversation || !conversation.endedUnseen) return;
    conversation.endedUnseen = false;
    const events = new Set([...state.messages.values()].map((message) => message.event));
    if (events.has("left_message")) {
      conversation.status = "missed";
      conversation.close_reason = "offline";
    } else if (events.has("missed")) {
      conversation.status = "missed";
      conversation.leave_message = true;
    }
  }

  function onTyping(frame) {
    if (frame.sender !== "agent" || !state.conversation || frame.conversation_id !== state.conversation.id) return;
    if (!frame.typing) {
      hideTyping();
      return;
    }
    const agent = state.conversation.agent;
    el.typingText.textContent = `${agent ? agent.name : "The agent"} is typing…`;
    el.typing.hidden = false;
    clearTimeout(state.typingShownTimer);
    state.typingShownTimer = setTimeout(hideTyping, TYPING_SHOWN_MS);
    scrollToBottom(false);
  }

  function hideTyping() {
    clearTimeout(state.typingShownTimer);
    el.typing.hidden = true;
  }

  function onRead(frame) {
    if (frame.sender !== "agent" || !state.conversation || frame.conversation_id !== state.conversation.id) return;
    state.agentRead = Math.max(state.agentRead, frame.seq);
    for (const item of el.messages.querySelectorAll(".msg-customer")) {
      const receipt = item.querySelector(".receipt");
      if (receipt) receipt.textContent = Number(item.dataset.seq) <= state.agentRead ? "Seen" : "Sent";
    }
  }

  function onRated(frame) {
    state.rated.add(frame.conversation_id);
    render();
  }

  function onError(frame) {
    const ref = typeof frame.ref === "string" ? frame.ref : "";
    if (ref.startsWith("m:")) {
      const item = state.outbox.get(ref.slice(2));
      if (item) markFailed(item);
    } else if (ref === "rate") {
      el.ratingSubmit.disabled = false;
      showFormError(el.ratingError, politeError(frame.code));
      return;
    } else if (ref === "leave") {
      el.leaveSubmit.disabled = false;
      showFormError(el.leaveError, politeError(frame.code));
      return;
    } else if (ref === "start") {
      state.startRequested = false;
    } else if (ref.startsWith("sync:")) {
      state.syncing = false;
    }
    showToast(politeError(frame.code));
  }

  function politeError(code) {
    return ERROR_TEXT[code] || "Sorry, something went wrong. Please try again.";
  }

  /* ---------- Messages ---------- */

  function addMessage(message) {
    if (message.internal) return;
    if (message.sender === "customer" && message.client_msg_id) removeFromOutbox(message.client_msg_id);
    if (state.messages.has(message.seq)) return;
    state.messages.set(message.seq, message);
    state.maxSeq = Math.max(state.maxSeq, message.seq);
    advanceContiguous();
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

  function advanceContiguous() {
    while (state.messages.has(state.contiguous + 1)) state.contiguous += 1;
  }

  function renderMessage(message) {
    const item = document.createElement("li");
    item.dataset.seq = String(message.seq);
    if (message.sender === "system" && message.event !== "greeting") {
      item.className = `msg msg-system event-${message.event || "notice"}`;
      const text = document.createElement("p");
      text.textContent = message.body;
      item.append(text);
      return item;
    }
    const side = message.sender === "customer" ? "customer" : "agent";
    item.className = `msg msg-${side}${message.event === "greeting" ? " msg-greeting" : ""}`;
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.append(linkified(message.body));
    if (message.attachment) bubble.append(attachmentLink(message.attachment));
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
      who.textContent = state.agentNames.get(message.agent_id) || "Agent";
      meta.append(who, " · ");
    } else if (message.event === "greeting") {
      parts.push(config.business_line_name);
    }
    if (message.created_at) {
      parts.push(new Date(message.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    }
    meta.append(parts.join(" · "));
    if (message.sender === "customer") {
      const receipt = document.createElement("span");
      receipt.className = "receipt";
      receipt.textContent = message.seq && message.seq <= state.agentRead ? "Seen" : "Sent";
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

  /* ---------- Sending: pending until acked, resent with the same client_msg_id ---------- */

  function newClientMsgId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  function enqueue(body, conversationId) {
    const item = { client_msg_id: newClientMsgId(), conversation_id: conversationId, body, failed: false };
    item.el = renderPending(item);
    state.outbox.set(item.client_msg_id, item);
    saveOutbox();
    scrollToBottom(false);
    return item;
  }

  function renderPending(item) {
    const node = document.createElement("li");
    node.className = "msg msg-customer is-pending";
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.append(linkified(item.body));
    const meta = document.createElement("div");
    meta.className = "meta";
    const receipt = document.createElement("span");
    receipt.className = "receipt";
    receipt.textContent = "Sending…";
    meta.append(receipt);
    node.append(bubble, meta);
    el.pending.append(node);
    return node;
  }

  function sendItem(item) {
    if (item.conversation_id === null) return;
    send({ type: "message.send", conversation_id: item.conversation_id, client_msg_id: item.client_msg_id,
      body: item.body, ref: `m:${item.client_msg_id}` });
  }

  function flushOutbox() {
    if (!state.ready) return;
    for (const item of state.outbox.values()) {
      if (!item.failed) sendItem(item);
    }
  }

  function removeFromOutbox(clientMsgId) {
    const item = state.outbox.get(clientMsgId);
    if (!item) return;
    item.el.remove();
    state.outbox.delete(clientMsgId);
    saveOutbox();
  }

  function markFailed(item) {
    item.failed = true;
    item.el.classList.remove("is-pending");
    item.el.classList.add("is-failed");
    const receipt = item.el.querySelector(".receipt");
    receipt.textContent = "Not sent. ";
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "retry";
    retry.textContent = "Retry";
    retry.addEventListener("click", () => {
      if (!state.conversation || !OPEN.has(state.conversation.status)) {
        removeFromOutbox(item.client_msg_id);
        startChat(item.body);
        return;
      }
      item.failed = false;
      item.conversation_id = state.conversation.id;
      item.el.classList.remove("is-failed");
      item.el.classList.add("is-pending");
      receipt.textContent = "Sending…";
      sendItem(item);
    });
    receipt.append(retry);
  }

  function saveOutbox() {
    const kept = [...state.outbox.values()]
      .filter((item) => item.conversation_id !== null && !item.failed)
      .map(({ client_msg_id, conversation_id, body }) => ({ client_msg_id, conversation_id, body }));
    store.write({ outbox: kept });
  }

  function restoreOutbox() {
    // Messages typed just before a reload that were never acked: sent again, with their own ids.
    for (const saved of store.read().outbox || []) {
      if (state.outbox.has(saved.client_msg_id)) continue;
      if (!state.conversation || saved.conversation_id !== state.conversation.id) continue;
      const item = { ...saved, failed: false };
      item.el = renderPending(item);
      state.outbox.set(item.client_msg_id, item);
    }
  }

  function startChat(firstBody) {
    if (state.conversation && !OPEN.has(state.conversation.status)) {
      state.conversation = null;
      switchConversation();
    }
    state.justLeftMessage = false;
    state.startRequested = true;
    if (firstBody) enqueue(firstBody, null);
    if (state.ready) send({ type: "conversation.start", channel: config.channel, ref: "start" });
    render();
  }

  function submitComposer() {
    const body = el.input.value;
    if (!body.trim()) return;
    const frameBytes = new TextEncoder().encode(JSON.stringify({ type: "message.send", conversation_id: 1,
      client_msg_id: "x".repeat(36), body, ref: `m:${"x".repeat(36)}` })).length;
    if ([...body].length > state.maxBodyChars || frameBytes + 32 > state.maxFrameBytes) {
      showToast("That message is too long. Please shorten it and try again.");
      return;
    }
    el.input.value = "";
    autoGrow();
    stopTyping();
    begin();
    const conversation = state.conversation;
    if (conversation && OPEN.has(conversation.status)) {
      sendItem(enqueue(body, conversation.id));
    } else if (state.startRequested) {
      enqueue(body, null);
    } else {
      startChat(body);
    }
  }

  /* ---------- Typing (throttled) and read receipts (when really seen) ---------- */

  function onInput() {
    autoGrow();
    const conversation = state.conversation;
    if (!conversation || conversation.status !== "active") return;
    if (!el.input.value.trim()) {
      stopTyping();
      return;
    }
    const now = Date.now();
    if (now - state.typingSentAt > TYPING_SEND_EVERY_MS) {
      if (send({ type: "typing", conversation_id: conversation.id, typing: true })) state.typingSentAt = now;
    }
    clearTimeout(state.typingIdleTimer);
    state.typingIdleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(state.typingIdleTimer);
    if (!state.typingSentAt) return;
    state.typingSentAt = 0;
    const conversation = state.conversation;
    if (conversation && conversation.status === "active") {
      send({ type: "typing", conversation_id: conversation.id, typing: false });
    }
  }

  function isSeen() {
    return state.panelOpen && document.visibilityState === "visible";
  }

  function markRead() {
    const conversation = state.conversation;
    if (!conversation || !isSeen()) return;
    const seenKey = `seen:${conversation.id}`;
    if (state.maxSeq > (store.read()[seenKey] || 0)) store.write({ [seenKey]: state.maxSeq });
    reportUnread();
    if (!OPEN.has(conversation.status) || !state.ready || state.maxSeq <= state.readSent) return;
    if (send({ type: "read", conversation_id: conversation.id, seq: state.maxSeq })) state.readSent = state.maxSeq;
  }

  function unreadCount() {
    const conversation = state.conversation;
    if (!conversation) return 0;
    const seen = store.read()[`seen:${conversation.id}`] || 0;
    let count = 0;
    for (const message of state.messages.values()) {
      if (message.seq > seen && message.sender === "agent") count += 1;
    }
    return count;
  }

  function reportUnread() {
    const count = isSeen() ? 0 : unreadCount();
    postParent({ type: "unread", count });
    if (!config.embed) document.title = `${count ? `(${count}) ` : ""}${config.business_line_name} · Chat`;
  }

  document.addEventListener("visibilitychange", () => {
    markRead();
    reportUnread();
  });

  /* ---------- Rendering ---------- */

  function render() {
    const conversation = state.conversation;
    let view = "loading";
    if (!state.started && config.embed) view = "intro";
    else if (state.fatal) view = "fatal";
    else if (conversation && OPEN.has(conversation.status)) {
      view = conversation.status === "waiting" && state.offline && !state.waitAnyway && !conversation.agent
        ? "leave" : "chat";
    } else if (conversation && conversation.status === "closed") {
      view = state.rated.has(conversation.id) || state.ratingSkipped.has(conversation.id) ? "ended" : "rating";
    } else if (conversation && conversation.status === "missed") {
      view = conversation.close_reason === "offline" || state.justLeftMessage || leftAMessage() ? "ended" : "leave";
    } else if (state.startRequested) view = "chat";
    else if (state.ready) view = state.offline && !state.waitAnyway ? "leave" : "intro";
    el.chat.dataset.view = view;

    el.intro.hidden = view !== "intro";
    el.leaveCard.hidden = view !== "leave";
    el.ratingCard.hidden = view !== "rating";
    el.endedCard.hidden = view !== "ended";
    el.composer.hidden = !["intro", "chat"].includes(view);
    el.endChat.hidden = !(conversation && OPEN.has(conversation.status));
    if (el.endChat.hidden) el.confirmEnd.hidden = true;
    el.waitAnyway.hidden = Boolean(conversation && conversation.status === "missed");

    if (view === "leave") renderLeaveCard(conversation);
    if (view === "ended") renderEnded(conversation);
    renderStatus();
    renderAvatar();
    if (view !== state.view) {
      state.view = view;
      scrollToBottom(false);
    }
  }

  function leftAMessage() {
    for (const message of state.messages.values()) {
      if (message.event === "left_message") return true;
    }
    return false;
  }

  function renderLeaveCard(conversation) {
    const missed = conversation && conversation.status === "missed";
    el.leaveText.textContent = missed
      ? "Sorry, nobody could answer in time. Leave a message and we will get back to you by email."
      : "Nobody is available to chat right now. Leave a message and we will get back to you by email.";
    const customer = conversation && conversation.customer;
    if (customer && !el.leaveName.value && customer.name) el.leaveName.value = customer.name;
    if (customer && !el.leaveEmail.value && customer.email) el.leaveEmail.value = customer.email;
    if (!el.leaveName.value && state.identity.name) el.leaveName.value = state.identity.name;
    if (!el.leaveEmail.value && state.identity.email) el.leaveEmail.value = state.identity.email;
  }

  function renderEnded(conversation) {
    if (conversation.status === "missed") {
      el.endedText.textContent = "Your message is with our team. Need anything else?";
    } else if (state.rated.has(conversation.id)) {
      el.endedText.textContent = "Thanks for your feedback!";
    } else {
      el.endedText.textContent = "This chat has ended.";
    }
  }

  function renderStatus() {
    const conversation = state.conversation;
    let text;
    if (state.fatal) text = "Unavailable";
    else if (!state.started && config.embed) text = "We usually reply in a few minutes";
    else if (!state.connected) text = state.token ? "Reconnecting…" : "Connecting…";
    else if (conversation && conversation.status === "active") {
      text = conversation.agent ? `Chatting with ${conversation.agent.name}` : "Chatting";
    } else if (conversation && conversation.status === "waiting") {
      text = waitingText(conversation);
    } else if (conversation && !OPEN.has(conversation.status)) text = "Chat ended";
    else text = state.offline ? "We are away right now" : "We usually reply in a few minutes";
    el.status.textContent = text;
  }

  function waitingText(conversation) {
    if (state.offline && !conversation.queue_position) return "Waiting for an agent";
    const parts = [];
    if (conversation.queue_position) parts.push(`You are number ${conversation.queue_position} in the queue`);
    else parts.push("Waiting for an agent");
    if (state.offline) parts.push("no agents online yet");
    else if (typeof conversation.estimated_wait_seconds === "number") {
      parts.push(`about ${formatWait(conversation.estimated_wait_seconds)}`);
    }
    return parts.join(" · ");
  }

  function formatWait(seconds) {
    if (seconds < 60) return "1 minute";
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return `${minutes} minute${minutes === 1 ? "" : "s"}`;
    const hours = Math.round(minutes / 60);
    return `${hours} hour${hours === 1 ? "" : "s"}`;
  }

  function renderAvatar() {
    const agent = state.conversation && state.conversation.status === "active" && state.conversation.agent;
    const name = agent ? agent.name : config.business_line_name;
    el.avatar.textContent = (name.trim()[0] || "?").toUpperCase();
    el.avatar.classList.toggle("is-agent", Boolean(agent));
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

  function showFormError(node, text) {
    node.textContent = text;
    node.hidden = false;
  }

  function fatal(text) {
    state.fatal = true;
    clearTimeout(state.reconnectTimer);
    showBanner(text);
    render();
  }

  /* ---------- Controls ---------- */

  el.greeting.textContent = config.greeting || "Hi! Ask us anything: we are happy to help.";

  el.composerForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submitComposer();
  });
  el.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submitComposer();
    } else if (event.key === "Escape" && config.embed) {
      postParent({ type: "close" });
    }
  });
  el.input.addEventListener("input", onInput);
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
    state.conversation = null;
    state.justLeftMessage = false;
    switchConversation();
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
  el.confirmEndCancel.addEventListener("click", () => { el.confirmEnd.hidden = true; });
  el.confirmEndYes.addEventListener("click", () => {
    el.confirmEnd.hidden = true;
    const conversation = state.conversation;
    if (!conversation) return;
    stopTyping();
    if (!send({ type: "conversation.close", conversation_id: conversation.id, ref: "close" })) {
      showToast("You are offline. Please try again when the connection is back.");
    }
  });
  if (el.minimize) el.minimize.addEventListener("click", () => postParent({ type: "close" }));

  el.leaveForm.addEventListener("submit", (event) => {
    event.preventDefault();
    el.leaveError.hidden = true;
    const body = el.leaveBody.value.trim();
    const name = el.leaveName.value.trim();
    const email = el.leaveEmail.value.trim();
    if (!body) {
      showFormError(el.leaveError, "Please write your message.");
      el.leaveBody.focus();
      return;
    }
    if (email && !el.leaveEmail.checkValidity()) {
      showFormError(el.leaveError, "Please check your email address.");
      el.leaveEmail.focus();
      return;
    }
    const frame = { type: "conversation.leave_message", body, channel: config.channel, ref: "leave" };
    if (name) frame.name = name;
    if (email) frame.email = email;
    if (send(frame)) el.leaveSubmit.disabled = true;
    else showFormError(el.leaveError, "You are offline. Please try again when the connection is back.");
  });

  let chosenRating = 0;
  for (let value = 1; value <= 5; value += 1) {
    const star = document.createElement("button");
    star.type = "button";
    star.className = "star";
    star.setAttribute("role", "radio");
    star.setAttribute("aria-checked", "false");
    star.setAttribute("aria-label", `${value} star${value === 1 ? "" : "s"}`);
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
    const conversation = state.conversation;
    if (!conversation || !chosenRating) return;
    el.ratingError.hidden = true;
    const frame = { type: "conversation.rate", conversation_id: conversation.id, rating: chosenRating,
      comment: el.ratingComment.value.trim(), ref: "rate" };
    if (send(frame)) el.ratingSubmit.disabled = true;
    else showFormError(el.ratingError, "You are offline. Please try again when the connection is back.");
  });
  el.ratingSkip.addEventListener("click", () => {
    if (state.conversation) state.ratingSkipped.add(state.conversation.id);
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
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") toggleEmoji(false);
  });

  /* ---------- Start ---------- */

  render();
  if (parentWindow) parentWindow.postMessage({ source: "cs-chat", type: "ready" }, "*");
  else begin();
})();
