/*
 * The agent workbench: one WebSocket to /ws/agent/ (the session cookie, same origin) and the REST history API.
 * The protocol is docs/protocol.md. Messages are kept per conversation by seq (so pushes, acks and sync results
 * never show twice), missing ranges are fetched with `sync`, and after a reconnect every conversation held is
 * synced from the last seq seen. Every text from the server is put in the page with textContent, never as HTML.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("workbench-config").textContent);
  const ENDED = new Set(["closed", "missed"]);
  const REFUSED_CODES = new Set([4401, 4403]);
  const TOO_MANY_SOCKETS = 4429;
  const TYPING_REPEAT_MS = 3000;
  const TYPING_IDLE_MS = 4000;
  const TYPING_SHOWN_MS = 6000;
  const BACKOFF_FIRST_MS = 500;
  const BACKOFF_MAX_MS = 30000;
  const NOTICE_MS = 10000;
  const HISTORY_PAGE = 500;

  const $ = (id) => document.getElementById(id);
  const ui = {
    connection: $("connection-status"),
    notices: $("notices"),
    presence: document.querySelectorAll("#presence-switch input[name=presence]"),
    list: $("conversation-list"),
    listEmpty: $("conversation-empty"),
    missed: $("missed-list"),
    missedEmpty: $("missed-empty"),
    chatTitle: $("chat-title"),
    chatMeta: $("chat-meta"),
    actions: $("chat-actions"),
    transferAgent: $("transfer-agent-form"),
    transferLine: $("transfer-line-form"),
    closeButton: $("close-button"),
    transcript: $("transcript"),
    typing: $("typing-indicator"),
    composer: $("composer"),
    input: $("composer-input"),
    internal: $("internal-note"),
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
    socket: null,
    ready: false,
    attempts: 0,
    refused: false,
    heartbeatTimer: null,
    awaitingPong: false,
    presence: null,
    conversations: new Map(),
    missed: new Map(),
    selectedId: null,
    customer: null,
    historyConversationId: null,
    baseTitle: document.title,
  };

  // ---- Small helpers -------------------------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("data-") || key.startsWith("aria-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  function newClientMsgId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function formatTime(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function formatDateTime(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }

  function customerName(conversation) {
    const customer = conversation && conversation.customer;
    if (!customer) return "Customer";
    return customer.name || customer.email || `Visitor #${customer.id}`;
  }

  function notify(text, level) {
    const item = el("li", { class: level || "info", text });
    ui.notices.append(item);
    setTimeout(() => item.remove(), NOTICE_MS);
  }

  // ---- Conversations held by the page --------------------------------------------------------------------

  function record(id) {
    let rec = state.conversations.get(id);
    if (!rec) {
      rec = {
        id,
        conversation: null,
        messages: new Map(),
        contiguousSeq: 0,
        highestSeq: 0,
        unread: 0,
        pending: new Map(),
        customerReadSeq: 0,
        readSentSeq: 0,
        customerTypingUntil: 0,
        typingSentAt: 0,
        typingIdleTimer: null,
        syncing: false,
        lastActivity: 0,
      };
      state.conversations.set(id, rec);
    }
    return rec;
  }

  function isMine(rec) {
    const conversation = rec.conversation;
    return Boolean(conversation && conversation.agent && conversation.agent.id === config.agent_id);
  }

  /** Subscribed and writable: active and assigned to this agent (typing and read need the subscription). */
  function isLive(rec) {
    return Boolean(rec && rec.conversation && rec.conversation.status === "active" && isMine(rec));
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

  /** Merge messages by seq; returns how many were new. Acks, pushes and sync results may repeat each other. */
  function addMessages(rec, messages) {
    let added = 0;
    for (const message of messages) {
      if (message.sender === "agent" && message.client_msg_id) rec.pending.delete(message.client_msg_id);
      if (rec.messages.has(message.seq)) continue;
      rec.messages.set(message.seq, message);
      added += 1;
      rec.highestSeq = Math.max(rec.highestSeq, message.seq);
      rec.lastActivity = Math.max(rec.lastActivity, Date.parse(message.created_at) || 0);
      if (message.sender === "customer") {
        rec.customerTypingUntil = 0;
        if (!isVisible(rec)) rec.unread += 1;
      }
      if (message.event === "closed" && rec.conversation && !ENDED.has(rec.conversation.status)) {
        // Closed while this page was away: the transcript says so before any conversation.state does.
        rec.conversation = { ...rec.conversation, status: "closed" };
      }
    }
    while (rec.messages.has(rec.contiguousSeq + 1)) rec.contiguousSeq += 1;
    return added;
  }

  function setConversation(rec, conversation) {
    rec.conversation = conversation;
    if (!rec.lastActivity) rec.lastActivity = Date.parse(conversation.started_at) || 0;
  }

  // ---- The socket ----------------------------------------------------------------------------------------

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${window.location.host}${config.socket_path}`);
    state.socket = socket;
    state.ready = false;
    setConnection("connecting", "Connecting…");
    socket.addEventListener("message", (event) => {
      if (socket !== state.socket) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (frame && typeof frame.type === "string") handleFrame(frame);
    });
    socket.addEventListener("close", (event) => lost(socket, event.code));
  }

  /** The socket ended (or stopped answering): reconnect with exponential backoff, unless it was refused. */
  function lost(socket, code) {
    if (socket !== state.socket) return;
    state.socket = null;
    state.ready = false;
    clearInterval(state.heartbeatTimer);
    if (REFUSED_CODES.has(code)) {
      state.refused = true;
      setConnection("refused", "Signed out: reload the page to log in again");
      renderAll();
      return;
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** state.attempts) * (0.75 + Math.random() * 0.5);
    state.attempts += 1;
    if (code === TOO_MANY_SOCKETS) setConnection("reconnecting", "Open in too many tabs: close one; retrying…");
    else setConnection("reconnecting", "Disconnected: reconnecting…");
    renderAll();
    setTimeout(connect, delay);
  }

  function send(frame) {
    const socket = state.socket;
    if (!socket || !state.ready || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  function setConnection(name, text) {
    ui.connection.dataset.state = name;
    ui.connection.textContent = text;
  }

  /** A ping every heartbeat; no pong by the next one means the connection is dead though not closed. */
  function startHeartbeat(seconds) {
    clearInterval(state.heartbeatTimer);
    state.awaitingPong = false;
    const socket = state.socket;
    state.heartbeatTimer = setInterval(() => {
      if (state.awaitingPong) {
        socket.close();
        lost(socket, 1006);
        return;
      }
      state.awaitingPong = send({ type: "ping" });
    }, Math.max(5, seconds || 15) * 1000);
  }

  function requestSync(rec) {
    if (rec.syncing) return;
    rec.syncing = send({ type: "sync", conversation_id: rec.id, after_seq: rec.contiguousSeq, ref: `sync:${rec.id}` });
  }

  function sendPending(rec, pending) {
    const frame = {
      type: "message.send",
      conversation_id: rec.id,
      client_msg_id: pending.clientMsgId,
      body: pending.body,
      ref: `msg:${rec.id}:${pending.clientMsgId}`,
    };
    if (pending.internal) frame.internal = true;
    pending.failed = false;
    send(frame);
  }

  // ---- Frames from the server ----------------------------------------------------------------------------

  const handlers = {
    hello(frame) {
      state.ready = true;
      state.attempts = 0;
      setConnection("connected", "Connected");
      if (frame.limits && frame.limits.max_body_chars) ui.input.maxLength = frame.limits.max_body_chars;
      setPresence(frame.presence);
      startHeartbeat(frame.heartbeat);
      for (const rec of state.conversations.values()) {
        rec.syncing = false;
        if (!rec.conversation || !ENDED.has(rec.conversation.status)) requestSync(rec);
        for (const pending of rec.pending.values()) sendPending(rec, pending);
      }
      renderAll();
    },

    pong() {
      state.awaitingPong = false;
    },

    "presence.state"(frame) {
      setPresence(frame.status);
    },

    "conversation.assigned"(frame) {
      const conversation = frame.conversation;
      const isNew = !state.conversations.has(conversation.id) || !isMine(record(conversation.id));
      const rec = record(conversation.id);
      setConversation(rec, conversation);
      addMessages(rec, frame.messages || []);
      state.missed.delete(conversation.id);
      if (frame.has_more || conversation.last_seq > rec.contiguousSeq) requestSync(rec);
      if (isNew && state.selectedId === null) select(conversation.id);
      if (isNew && state.selectedId !== conversation.id) notify(`New conversation with ${customerName(conversation)}`, "info");
      renderAll();
    },

    "conversation.state"(frame) {
      const conversation = frame.conversation;
      if (!state.conversations.has(conversation.id)) return;
      const rec = record(conversation.id);
      const wasMine = isMine(rec);
      setConversation(rec, conversation);
      if (conversation.last_seq > rec.contiguousSeq) requestSync(rec);
      if (wasMine && !isMine(rec) && !ENDED.has(conversation.status)) {
        const to = conversation.agent ? conversation.agent.name : `the ${conversation.business_line} queue`;
        notify(`Conversation with ${customerName(conversation)} transferred to ${to}.`, "success");
      }
      if (rec.id === state.selectedId && ENDED.has(conversation.status)) loadCustomer(conversation.customer.id, true);
      renderAll();
    },

    "message.new"(frame) {
      receiveMessage(frame.message);
    },

    "message.ack"(frame) {
      receiveMessage(frame.message);
    },

    "sync.result"(frame) {
      const id = frame.conversation_id;
      if (state.missed.has(id)) {
        const first = (frame.messages || []).find((message) => message.sender === "customer");
        state.missed.get(id).preview = first ? first.body : "";
        renderMissed();
      }
      if (!state.conversations.has(id)) return;
      const rec = record(id);
      rec.syncing = false;
      addMessages(rec, frame.messages || []);
      if (frame.has_more) {
        requestSync(rec);
      } else if (frame.messages && frame.messages.length) {
        rec.contiguousSeq = Math.max(rec.contiguousSeq, frame.messages[frame.messages.length - 1].seq);
      }
      renderAll();
    },

    typing(frame) {
      if (frame.sender !== "customer" || !state.conversations.has(frame.conversation_id)) return;
      const rec = record(frame.conversation_id);
      rec.customerTypingUntil = frame.typing ? Date.now() + TYPING_SHOWN_MS : 0;
      renderTyping();
      if (frame.typing) setTimeout(renderTyping, TYPING_SHOWN_MS + 50);
    },

    read(frame) {
      if (frame.sender !== "customer" || !state.conversations.has(frame.conversation_id)) return;
      const rec = record(frame.conversation_id);
      rec.customerReadSeq = Math.max(rec.customerReadSeq, frame.seq);
      if (rec.id === state.selectedId) renderTranscript();
    },

    "conversation.missed"(frame) {
      const id = frame.conversation_id;
      if (state.conversations.has(id) && isMine(record(id)) && !ENDED.has(record(id).conversation.status)) return;
      state.missed.set(id, { id, preview: null });
      send({ type: "sync", conversation_id: id, after_seq: 0, ref: `missed:${id}` });
      renderMissed();
    },

    error(frame) {
      const ref = typeof frame.ref === "string" ? frame.ref : "";
      const [kind, id, clientMsgId] = ref.split(":");
      if (kind === "msg") {
        const rec = state.conversations.get(Number(id));
        const pending = rec && rec.pending.get(clientMsgId);
        if (pending) pending.failed = true;
        renderTranscript();
        notify(`Message not sent: ${frame.message}`, "error");
        return;
      }
      if (kind === "sync" || kind === "missed") {
        const rec = state.conversations.get(Number(id));
        if (rec) rec.syncing = false;
        return;
      }
      notify(frame.message || frame.code, "error");
    },
  };

  function handleFrame(frame) {
    const handler = handlers[frame.type];
    if (handler) handler(frame);
  }

  function receiveMessage(message) {
    if (!message || !state.conversations.has(message.conversation_id)) return;
    const rec = record(message.conversation_id);
    addMessages(rec, [message]);
    if (rec.highestSeq > rec.contiguousSeq) requestSync(rec);
    renderAll();
  }

  function setPresence(status) {
    state.presence = status || null;
    for (const input of ui.presence) input.checked = input.value === state.presence;
  }

  // ---- What the agent does -------------------------------------------------------------------------------

  function select(id) {
    state.selectedId = id;
    const rec = state.conversations.get(id);
    ui.input.value = "";
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
    const rec = state.conversations.get(state.selectedId);
    const body = ui.input.value;
    if (!isLive(rec) || !body.trim()) return;
    const pending = { clientMsgId: newClientMsgId(), body, internal: ui.internal.checked, failed: false };
    rec.pending.set(pending.clientMsgId, pending);
    stopTyping(rec);
    sendPending(rec, pending);
    ui.input.value = "";
    renderTranscript();
    scrollToEnd(true);
  }

  function typed() {
    const rec = state.conversations.get(state.selectedId);
    if (!isLive(rec) || ui.internal.checked) return;
    const now = Date.now();
    if (now - rec.typingSentAt > TYPING_REPEAT_MS) {
      if (send({ type: "typing", conversation_id: rec.id, typing: true })) rec.typingSentAt = now;
    }
    clearTimeout(rec.typingIdleTimer);
    rec.typingIdleTimer = setTimeout(() => stopTyping(rec), TYPING_IDLE_MS);
  }

  function stopTyping(rec) {
    clearTimeout(rec.typingIdleTimer);
    if (rec.typingSentAt && isLive(rec)) send({ type: "typing", conversation_id: rec.id, typing: false });
    rec.typingSentAt = 0;
  }

  /** Tell the customer what the agent has seen: only while the conversation is on screen. */
  function markRead() {
    const rec = state.conversations.get(state.selectedId);
    if (!rec || !isVisible(rec)) return;
    rec.unread = 0;
    if (isLive(rec) && rec.highestSeq > rec.readSentSeq) {
      if (send({ type: "read", conversation_id: rec.id, seq: rec.highestSeq })) rec.readSentSeq = rec.highestSeq;
    }
  }

  function insertCanned(text) {
    const input = ui.input;
    const start = input.selectionStart ?? input.value.length;
    const end = input.selectionEnd ?? input.value.length;
    input.value = input.value.slice(0, start) + text + input.value.slice(end);
    const caret = start + text.length;
    input.setSelectionRange(caret, caret);
    input.focus();
    typed();
  }

  // ---- The customer panel (REST, with the session cookie) ------------------------------------------------

  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.status === 401 || response.status === 403) {
      throw new Error("Your session has expired: reload the page to log in again.");
    }
    if (!response.ok) throw new Error(`The server answered ${response.status}.`);
    return response.json();
  }

  async function loadCustomer(customerId, keepView) {
    if (!keepView) {
      state.historyConversationId = null;
      ui.historyView.hidden = true;
    }
    try {
      const data = await getJson(config.customer_history_url.replace("{id}", encodeURIComponent(customerId)));
      const rec = state.conversations.get(state.selectedId);
      if (!rec || rec.conversation.customer.id !== data.customer.id) return;
      state.customer = data;
      renderCustomer();
    } catch (error) {
      notify(`Customer history: ${error.message}`, "error");
    }
  }

  async function openHistory(conversation) {
    state.historyConversationId = conversation.id;
    ui.historyTitle.textContent = `Conversation #${conversation.id} (${conversation.channel}, ${formatDateTime(conversation.started_at)})`;
    ui.historyTranscript.replaceChildren(el("li", { class: "wb-empty", text: "Loading…" }));
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
    renderMissed();
    renderChat();
    markRead();
    renderTitle();
  }

  function sortedRecords() {
    const rank = (rec) => (isLive(rec) ? 0 : rec.conversation && !ENDED.has(rec.conversation.status) ? 1 : 2);
    return [...state.conversations.values()]
      .filter((rec) => rec.conversation)
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
            rec.unread ? el("span", { class: "wb-unread", text: String(rec.unread), title: "Unread messages" }) : null,
            el("span", { class: "wb-badge", "data-status": status, text: status }),
          ),
          el("span", { class: "wb-conv-preview", text: lastText(rec) || " " }),
          el("span", { class: "wb-conv-meta", text: `#${rec.id} · ${conversation.channel} · ${conversation.business_line}` }),
        );
        button.addEventListener("click", () => select(rec.id));
        return el("li", {}, button);
      }),
    );
  }

  function renderMissed() {
    const items = [...state.missed.values()].sort((a, b) => b.id - a.id);
    ui.missedEmpty.hidden = items.length > 0;
    ui.missed.replaceChildren(
      ...items.map((item) => {
        const pick = el("button", { type: "button", class: "button", text: "Pick", "data-pick": String(item.id) });
        pick.addEventListener("click", () => {
          if (!send({ type: "conversation.pick", conversation_id: item.id, ref: `pick:${item.id}` })) {
            notify("Not connected: try again in a moment.", "warning");
          }
        });
        return el(
          "li",
          { "data-missed-id": String(item.id) },
          el(
            "div",
            { class: "wb-missed" },
            el(
              "div",
              { class: "wb-missed-text" },
              el("span", { class: "wb-conv-name", text: `Conversation #${item.id}` }),
              el("span", { class: "wb-conv-preview", text: item.preview === null ? "Loading…" : item.preview || "(no message)" }),
            ),
            pick,
          ),
        );
      }),
    );
  }

  function renderChat() {
    const rec = state.conversations.get(state.selectedId);
    if (!rec || !rec.conversation) {
      ui.chatTitle.textContent = "No conversation selected";
      ui.chatMeta.textContent = "";
      ui.actions.hidden = true;
      ui.composer.hidden = true;
      ui.transcript.replaceChildren(
        el("li", { class: "wb-empty", text: "Select one of your conversations on the left, or go online to receive one." }),
      );
      ui.typing.hidden = true;
      return;
    }
    const conversation = rec.conversation;
    const live = isLive(rec);
    ui.chatTitle.textContent = `${customerName(conversation)}, conversation #${conversation.id}`;
    const parts = [`Status: ${statusLabel(rec)}`, `Channel: ${conversation.channel}`, `Business line: ${conversation.business_line}`];
    if (conversation.started_at) parts.push(`Started ${formatDateTime(conversation.started_at)}`);
    if (conversation.close_reason) parts.push(`Ended by: ${conversation.close_reason}`);
    ui.chatMeta.textContent = parts.join(" · ");
    ui.actions.hidden = !live;
    ui.composer.hidden = !live;
    const canWrite = live && state.ready;
    for (const control of ui.composer.querySelectorAll("textarea, input, select")) control.disabled = !canWrite;
    for (const control of ui.actions.querySelectorAll("input, button")) control.disabled = !canWrite;
    renderTranscript();
    renderTyping();
  }

  function renderTranscript() {
    const rec = state.conversations.get(state.selectedId);
    if (!rec || !rec.conversation) return;
    const nearEnd = ui.transcript.scrollHeight - ui.transcript.scrollTop - ui.transcript.clientHeight < 60;
    const items = [...rec.messages.values()]
      .sort((a, b) => a.seq - b.seq)
      .map((message) => messageItem(message, { conversation: rec.conversation, readSeq: rec.customerReadSeq }));
    for (const pending of rec.pending.values()) items.push(pendingItem(rec, pending));
    ui.transcript.replaceChildren(...items);
    scrollToEnd(nearEnd);
  }

  function senderLabel(message, conversation) {
    if (message.sender === "customer") return customerName(conversation);
    if (message.sender === "system") return "System";
    if (message.agent_id === config.agent_id) return "You";
    if (conversation && conversation.agent && conversation.agent.id === message.agent_id) return conversation.agent.name;
    return message.agent_id ? `Agent #${message.agent_id}` : "Agent";
  }

  function messageItem(message, { conversation, readSeq }) {
    const classes = ["wb-msg", `wb-msg--${message.sender}`];
    if (message.internal) classes.push("wb-msg--internal");
    const own = message.sender === "agent" && message.agent_id === config.agent_id;
    let receipt = null;
    if (own && !message.internal && readSeq !== undefined) {
      const read = readSeq >= message.seq;
      receipt = el("span", { class: "wb-msg-receipt", "data-receipt": read ? "read" : "sent", text: read ? "Read" : "Sent" });
    }
    const meta = el(
      "div",
      { class: "wb-msg-meta" },
      el("span", { class: "wb-msg-who", text: senderLabel(message, conversation) }),
      el("time", { dateTime: message.created_at, text: formatTime(message.created_at) }),
      message.internal ? el("span", { class: "wb-msg-flag", text: "Internal note" }) : null,
      receipt,
    );
    const body = el("div", { class: "wb-msg-body", text: message.body });
    const attachment = message.attachment && /^(\/|https?:)/.test(message.attachment.url)
      ? el("a", { href: message.attachment.url, text: message.attachment.name || "attachment", target: "_blank", rel: "noopener noreferrer" })
      : null;
    return el("li", { class: classes.join(" "), "data-seq": String(message.seq), "data-sender": message.sender }, meta, body, attachment);
  }

  function pendingItem(rec, pending) {
    const classes = ["wb-msg", "wb-msg--agent", "wb-msg--pending"];
    if (pending.internal) classes.push("wb-msg--internal");
    if (pending.failed) classes.push("wb-msg--failed");
    let retry = null;
    if (pending.failed) {
      retry = el("button", { type: "button", class: "button wb-retry", text: "Retry" });
      retry.addEventListener("click", () => {
        sendPending(rec, pending);
        renderTranscript();
      });
    }
    const meta = el(
      "div",
      { class: "wb-msg-meta" },
      el("span", { class: "wb-msg-who", text: "You" }),
      pending.internal ? el("span", { class: "wb-msg-flag", text: "Internal note" }) : null,
      el("span", {
        class: "wb-msg-receipt",
        "data-receipt": pending.failed ? "failed" : "pending",
        text: pending.failed ? "Not sent" : "Sending…",
      }),
      retry,
    );
    return el("li", { class: classes.join(" "), "data-pending": pending.clientMsgId }, meta, el("div", { class: "wb-msg-body", text: pending.body }));
  }

  function renderTyping() {
    const rec = state.conversations.get(state.selectedId);
    ui.typing.hidden = !(rec && isLive(rec) && rec.customerTypingUntil > Date.now());
    if (rec) ui.typing.textContent = `${customerName(rec.conversation)} is typing…`;
  }

  function renderCustomer() {
    const data = state.customer;
    const rec = state.conversations.get(state.selectedId);
    if (!data || !rec || rec.conversation.customer.id !== data.customer.id) {
      ui.customerEmpty.hidden = false;
      ui.customerDetails.hidden = true;
      ui.historyHeading.hidden = true;
      ui.historyList.replaceChildren();
      return;
    }
    const customer = data.customer;
    const rows = [
      ["Name", customer.name || "(not given)"],
      ["Email", customer.email || "(not given)"],
      ["Channel", rec.conversation.channel],
      ["First channel", customer.first_channel],
      ["External id", customer.external_id || "(anonymous visitor)"],
      ["First seen", formatDateTime(customer.first_seen_at)],
      ["Last seen", formatDateTime(customer.last_seen_at)],
    ];
    ui.customerDetails.replaceChildren(...rows.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: value })]));
    ui.customerEmpty.hidden = true;
    ui.customerDetails.hidden = false;
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
            el("span", { class: "wb-conv-name", text: `#${conversation.id}${current ? " (this one)" : ""}` }),
            el("span", { class: "wb-badge", "data-status": conversation.status, text: conversation.status }),
          ),
          el("span", {
            class: "wb-conv-meta",
            text: `${formatDateTime(conversation.started_at)} · ${conversation.channel} · ${conversation.agent ? conversation.agent.name : "no agent"}`,
          }),
        );
        button.addEventListener("click", () => openHistory(conversation));
        return el("li", {}, button);
      }),
    );
  }

  function renderTitle() {
    let unread = 0;
    for (const rec of state.conversations.values()) unread += rec.unread;
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
      if (!send({ type: "presence.set", status: wanted, ref: "presence" })) notify("Not connected: try again in a moment.", "warning");
    });
  }

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
    const rec = state.conversations.get(state.selectedId);
    if (rec && ui.internal.checked) stopTyping(rec);
  });

  ui.canned.addEventListener("change", () => {
    if (ui.canned.value) insertCanned(ui.canned.value);
    ui.canned.value = "";
  });

  ui.closeButton.addEventListener("click", () => {
    const rec = state.conversations.get(state.selectedId);
    if (!isLive(rec) || !window.confirm(`Close the conversation with ${customerName(rec.conversation)}?`)) return;
    stopTyping(rec);
    send({ type: "conversation.close", conversation_id: rec.id, ref: `close:${rec.id}` });
  });

  ui.transferAgent.addEventListener("submit", (event) => {
    event.preventDefault();
    const rec = state.conversations.get(state.selectedId);
    const agentId = Number.parseInt(ui.transferAgent.elements.agent_id.value, 10);
    if (!isLive(rec) || !Number.isInteger(agentId)) return;
    send({ type: "conversation.transfer", conversation_id: rec.id, to_agent_id: agentId, ref: `transfer:${rec.id}` });
    ui.transferAgent.reset();
  });

  ui.transferLine.addEventListener("submit", (event) => {
    event.preventDefault();
    const rec = state.conversations.get(state.selectedId);
    const key = ui.transferLine.elements.business_line.value.trim();
    if (!isLive(rec) || !key) return;
    send({ type: "conversation.transfer", conversation_id: rec.id, to_business_line: key, ref: `transfer:${rec.id}` });
    ui.transferLine.reset();
  });

  document.addEventListener("visibilitychange", () => {
    markRead();
    renderList();
    renderTitle();
  });

  connect();
})();
