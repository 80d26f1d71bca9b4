/*
 * The supervisors' live monitor: one socket to /ws/supervisor/ (the session cookie, same origin) pushes a
 * `monitor.snapshot` whenever the floor changes (docs/protocol.md, "Supervisors"); this module renders the latest one
 * and ticks its clocks on the browser's own clock between pushes (each figure is counted from when its snapshot
 * arrived, so a skewed clock still shows the right wait). A click on a chat, a waiting or a missed conversation
 * watches it: its transcript, live, with whisper and transfer. Every text from the server goes into the page with
 * textContent, never as HTML.
 */
import { reconnectDelay } from "../shared/backoff.js";
import { newClientMsgId } from "../shared/client.js";
import { gettext, interpolate, systemMessageText } from "../shared/i18n.js";

const config = JSON.parse(document.getElementById("monitor-config").textContent);
const TICK_MS = 1000;
const NOTICE_MS = 10000;
const STATUS_ORDER = ["online", "away", "offline"];
const STATUS_NAMES = { online: gettext("Online"), away: gettext("Away"), offline: gettext("Offline") };

const $ = (id) => document.getElementById(id);
const ui = {
  connection: $("connection-status"),
  notices: $("notices"),
  lines: $("lines"),
  linesEmpty: $("lines-empty"),
  watch: $("watch"),
  watchTitle: $("watch-title"),
  watchMeta: $("watch-meta"),
  transcript: $("watch-transcript"),
  whisperForm: $("whisper-form"),
  whisperInput: $("whisper-input"),
  transferForm: $("transfer-form"),
  transferTarget: $("transfer-target"),
  unwatch: $("unwatch-button"),
};

const state = {
  socket: null,
  attempt: 0,
  snapshot: null,
  receivedAt: 0, // performance.now() when the snapshot arrived
  watchedId: null,
  watched: null, // the watched conversation's payload
  messages: new Map(), // seq -> message of the watched conversation
  pendingWhisper: null, // {id, body, conversationId} until its whisper.ack
};

/** Build an element: `el("li", {class: "x", text: "y", data: {conversationId: 3}}, child, ...)`. */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.className = value;
    else if (key === "data") Object.assign(node.dataset, value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function clock(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** Seconds now of a figure that was `seconds` when the snapshot arrived. */
function since(seconds) {
  return seconds + (performance.now() - state.receivedAt) / 1000;
}

function notice(text, level = "error") {
  const item = el("li", { class: level, text });
  ui.notices.append(item);
  setTimeout(() => item.remove(), NOTICE_MS);
}

function setConnection(stateName, text) {
  ui.connection.dataset.state = stateName;
  ui.connection.textContent = text;
}

// The socket

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}${config.socket_path}`);
  state.socket = socket;
  socket.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
  socket.addEventListener("close", (event) => {
    if (state.socket !== socket) return;
    state.socket = null;
    if (event.code === 4401) {
      location.assign(config.login_url);
      return;
    }
    if (event.code === 4403) {
      setConnection("refused", gettext("Refused: supervisors only"));
      return;
    }
    const delay = reconnectDelay(state.attempt++);
    setConnection("reconnecting", gettext("Reconnecting…"));
    setTimeout(connect, delay);
  });
}

function send(frame) {
  if (!state.socket || state.socket.readyState !== WebSocket.OPEN) {
    notice(gettext("Not connected; try again in a moment."));
    return false;
  }
  state.socket.send(JSON.stringify(frame));
  return true;
}

function onFrame(frame) {
  switch (frame.type) {
    case "hello":
      state.attempt = 0;
      setConnection("connected", interpolate(gettext("Live: %(name)s"), { name: frame.name }));
      if (state.watchedId !== null) send({ type: "conversation.watch", conversation_id: state.watchedId });
      break;
    case "monitor.snapshot":
      state.snapshot = frame;
      state.receivedAt = performance.now();
      render();
      break;
    case "conversation.watched":
      if (frame.conversation.id !== state.watchedId) break;
      state.watched = frame.conversation;
      state.messages.clear();
      for (const message of frame.messages) state.messages.set(message.seq, message);
      renderWatch();
      if (frame.has_more) syncWatched();
      break;
    case "sync.result":
      if (frame.conversation_id !== state.watchedId) break;
      for (const message of frame.messages) state.messages.set(message.seq, message);
      renderWatch();
      if (frame.has_more) syncWatched();
      break;
    case "message.new":
      if (frame.message.conversation_id !== state.watchedId) break;
      state.messages.set(frame.message.seq, frame.message);
      renderWatch();
      break;
    case "conversation.state":
      if (frame.conversation.id !== state.watchedId) break;
      state.watched = frame.conversation;
      renderWatch();
      if (frame.ref === "transfer") notice(gettext("Transferred."), "success");
      break;
    case "whisper.ack":
      if (state.pendingWhisper?.id === frame.client_msg_id) {
        state.pendingWhisper = null;
        ui.whisperInput.value = "";
      }
      if (frame.message.conversation_id === state.watchedId) {
        state.messages.set(frame.message.seq, frame.message);
        renderWatch();
      }
      break;
    case "error":
      notice(frame.message);
      break;
    default:
      break;
  }
}

function syncWatched() {
  const seqs = [...state.messages.keys()];
  send({ type: "sync", conversation_id: state.watchedId, after_seq: seqs.length ? Math.max(...seqs) : 0 });
}

// The floor

function render() {
  const lines = state.snapshot.lines;
  ui.linesEmpty.hidden = lines.length > 0;
  if (!lines.length) ui.linesEmpty.textContent = gettext("No business lines yet.");
  for (const node of [...ui.lines.querySelectorAll(".mon-line")]) node.remove();
  for (const line of lines) ui.lines.append(renderLine(line));
  if (state.watched) renderTransferTargets();
  tick();
}

function figure(label, value, className, extra = {}) {
  return el("div", { class: `mon-figure ${className}`, ...extra }, el("span", { class: "mon-figure-label", text: label }), el("strong", { class: "mon-figure-value", text: value }));
}

function renderLine(line) {
  const section = el("section", { class: "module mon-line", id: `line-${line.business_line.key}`, data: { line: line.business_line.key } });
  section.append(el("h2", { text: `${line.business_line.name} (${line.business_line.key})` }));
  const figures = el(
    "div",
    { class: "mon-figures" },
    figure(gettext("Waiting"), line.waiting, "mon-waiting"),
    figure(gettext("Longest wait"), clock(line.longest_wait_seconds), "mon-longest", { data: line.longest_wait_seconds === null ? {} : { seconds: line.longest_wait_seconds } }),
    figure(gettext("Active chats"), line.active, "mon-active"),
    figure(gettext("Missed today"), line.missed_today, "mon-missed-today"),
    figure(gettext("Reply target breaches"), line.breaches, "mon-breaches"),
  );
  figures.querySelector(".mon-breaches").append(el("span", { class: "mon-figure-note", text: interpolate(gettext("target %(time)s"), { time: clock(line.reply_target_seconds) }) }));
  section.append(figures);
  const columns = el("div", { class: "mon-columns" });
  columns.append(renderQueue(line), renderAgents(line), renderMissed(line));
  section.append(columns);
  return section;
}

function conversationItem(conversation, ...details) {
  const customer = conversation.customer.name || conversation.customer.email || interpolate(gettext("Customer #%(id)s"), { id: conversation.customer.id });
  const item = el(
    "li",
    { class: "mon-item", data: { conversationId: conversation.id }, tabindex: 0, role: "button" },
    el("span", { class: "mon-item-who", text: customer }),
    el("span", { class: "mon-item-channel", text: conversation.channel }),
    ...details,
  );
  if (conversation.id === state.watchedId) item.classList.add("is-watched");
  const open = () => watch(conversation.id);
  item.addEventListener("click", open);
  item.addEventListener("keydown", (event) => {
    if (event.key === "Enter") open();
  });
  return item;
}

function ticking(seconds, className) {
  return el("span", { class: `mon-clock ${className}`, data: { seconds }, text: clock(seconds) });
}

function renderQueue(line) {
  const column = el("div", { class: "mon-column mon-queue" }, el("h3", { text: `Queue (${line.waiting})` }));
  const list = el("ol", { class: "mon-list", "aria-label": gettext("Queue") });
  for (const conversation of line.queue) {
    list.append(conversationItem(conversation, el("span", { class: "mon-pos", text: `#${conversation.queue_position}` }), ticking(conversation.waited_seconds, "mon-wait")));
  }
  column.append(list);
  if (!line.queue.length) column.append(el("p", { class: "mon-empty", text: gettext("Nobody is waiting.") }));
  return column;
}

function renderAgents(line) {
  const column = el("div", { class: "mon-column mon-agents" }, el("h3", { text: gettext("Agents") }));
  for (const status of STATUS_ORDER) {
    const agents = line.agents.filter((agent) => agent.status === status);
    if (!agents.length) continue;
    column.append(el("h4", { class: `mon-status-heading mon-${status}`, text: `${STATUS_NAMES[status]} (${agents.length})` }));
    const list = el("ul", { class: "mon-list mon-agent-list" });
    for (const agent of agents) {
      const full = agent.load >= agent.capacity;
      const row = el(
        "li",
        { class: `mon-agent mon-${agent.status}`, data: { agentId: agent.id, status: agent.status } },
        el(
          "div",
          { class: "mon-agent-head" },
          el("span", { class: "mon-agent-name", text: agent.name }),
          el("span", { class: `mon-load${full ? " is-full" : ""}`, text: `${agent.load} / ${agent.capacity}` }),
        ),
      );
      const chats = el("ul", { class: "mon-chats" });
      for (const chat of agent.chats) {
        // The customer's wait for an answer runs from their first unanswered message; their last one is beside it.
        const waiting =
          chat.unanswered_seconds === null
            ? [el("span", { class: "mon-answered", text: gettext("answered") })]
            : [
                ticking(chat.unanswered_seconds, "mon-unanswered"),
                chat.last_unanswered_seconds < chat.unanswered_seconds
                  ? el("span", { class: "mon-last" }, el("span", { text: gettext("last ") }), ticking(chat.last_unanswered_seconds, "mon-last-clock"))
                  : null,
              ];
        const item = conversationItem(chat, ...waiting);
        item.title = gettext("Time since the customer's first unanswered message (and since their last one)");
        item.classList.add("mon-chat");
        item.dataset.target = String(line.reply_target_seconds);
        chats.append(item);
      }
      row.append(chats);
      list.append(row);
    }
    column.append(list);
  }
  if (!line.agents.length) column.append(el("p", { class: "mon-empty", text: gettext("No agents in this line's team.") }));
  return column;
}

function renderMissed(line) {
  const column = el("div", { class: "mon-column mon-missed" }, el("h3", { text: interpolate(gettext("Missed and left messages (%(count)s)"), { count: line.missed.length }) }));
  const list = el("ul", { class: "mon-list", "aria-label": gettext("Missed and left messages") });
  for (const conversation of line.missed) {
    list.append(conversationItem(conversation, el("span", { class: "mon-kind", text: conversation.left_message ? "left a message" : "missed" }), ticking(conversation.missed_seconds, "mon-wait")));
  }
  column.append(list);
  if (!line.missed.length) column.append(el("p", { class: "mon-empty", text: gettext("Nothing waits for an answer.") }));
  return column;
}

/** Every clock moves on; a chat whose customer has waited past the reply target is marked as a breach. */
function tick() {
  if (!state.snapshot) return;
  for (const node of ui.lines.querySelectorAll("[data-seconds]")) {
    const seconds = since(Number(node.dataset.seconds));
    const value = node.classList.contains("mon-figure") ? node.querySelector(".mon-figure-value") : node;
    value.textContent = clock(seconds);
  }
  for (const line of ui.lines.querySelectorAll(".mon-line")) {
    let breaches = 0;
    for (const chat of line.querySelectorAll(".mon-chat")) {
      const running = chat.querySelector(".mon-unanswered");
      const breach = running !== null && since(Number(running.dataset.seconds)) > Number(chat.dataset.target);
      chat.classList.toggle("is-breach", breach);
      breaches += breach ? 1 : 0;
    }
    const figureEl = line.querySelector(".mon-breaches");
    figureEl.querySelector(".mon-figure-value").textContent = String(breaches);
    figureEl.classList.toggle("is-breach", breaches > 0);
  }
}

// One conversation

function watch(conversationId) {
  if (state.watchedId !== null && state.watchedId !== conversationId) {
    send({ type: "conversation.unwatch", conversation_id: state.watchedId });
  }
  state.watchedId = conversationId;
  state.watched = null;
  state.messages.clear();
  ui.watch.hidden = false;
  ui.watchTitle.textContent = `Conversation #${conversationId}`;
  ui.watchMeta.textContent = gettext("Loading…");
  ui.transcript.replaceChildren();
  send({ type: "conversation.watch", conversation_id: conversationId });
  for (const node of ui.lines.querySelectorAll(".mon-item")) {
    node.classList.toggle("is-watched", Number(node.dataset.conversationId) === conversationId);
  }
}

function senderName(message) {
  if (message.event === "whisper") {
    return interpolate(gettext("%(name)s (whisper)"), { name: message.author?.name || gettext("Supervisor") });
  }
  if (message.sender === "system") return gettext("System");
  if (message.sender === "customer") return state.watched?.customer?.name || gettext("Customer");
  const agent = state.watched?.agent;
  if (agent && agent.id === message.agent_id) return agent.name;
  return message.agent_id ? interpolate(gettext("Agent #%(id)s"), { id: message.agent_id }) : gettext("Agent");
}

function renderWatch() {
  const conversation = state.watched;
  if (!conversation) return;
  const customer = conversation.customer.name || interpolate(gettext("Customer #%(id)s"), { id: conversation.customer.id });
  ui.watchTitle.textContent = interpolate(gettext("Conversation #%(id)s: %(customer)s"), { id: conversation.id, customer });
  const agent = conversation.agent ? conversation.agent.name : gettext("no agent");
  ui.watchMeta.textContent = `${conversation.status} · ${conversation.channel} · ${conversation.business_line} · ${agent}`;
  ui.watch.dataset.status = conversation.status;
  const items = [...state.messages.values()].sort((a, b) => a.seq - b.seq);
  ui.transcript.replaceChildren(
    ...items.map((message) => {
      const classes = ["mon-msg", `mon-msg--${message.sender}`];
      if (message.internal) classes.push("mon-msg--internal");
      return el(
        "li",
        { class: classes.join(" "), data: { seq: message.seq } },
        el("span", { class: "mon-msg-who", text: senderName(message) }),
        message.internal ? el("span", { class: "mon-msg-flag", text: gettext("Internal: the customer does not see this") }) : null,
        el("span", { class: "mon-msg-body", text: (message.sender === "system" ? systemMessageText(message, "agent") : message.body) || (message.attachments?.length ? `[${message.attachments.map((a) => a.name).join(", ")}]` : "") }),
      );
    }),
  );
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
  const open = conversation.status === "waiting" || conversation.status === "active";
  ui.whisperForm.hidden = !open;
  ui.transferForm.hidden = !open; // a waiting conversation too: to an agent with room, or to another line's queue
  renderTransferTargets();
}

function renderTransferTargets() {
  const conversation = state.watched;
  if (!conversation || !state.snapshot) return;
  const chosen = ui.transferTarget.value;
  const options = [];
  for (const line of state.snapshot.lines) {
    if (line.business_line.key !== conversation.business_line) continue;
    for (const agent of line.agents) {
      if (agent.status !== "online" || (conversation.agent && agent.id === conversation.agent.id)) continue;
      options.push(el("option", { value: `agent:${agent.id}`, text: `${agent.name} (${agent.load}/${agent.capacity})` }));
    }
  }
  for (const line of state.snapshot.lines) {
    // A waiting conversation is already in its own line's queue.
    if (conversation.status === "waiting" && line.business_line.key === conversation.business_line) continue;
    options.push(el("option", { value: `line:${line.business_line.key}`, text: interpolate(gettext("Queue of %(line)s"), { line: line.business_line.name }) }));
  }
  ui.transferTarget.replaceChildren(...options);
  if ([...ui.transferTarget.options].some((option) => option.value === chosen)) ui.transferTarget.value = chosen;
}

ui.whisperForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const body = ui.whisperInput.value.trim();
  if (!body || state.watchedId === null) return;
  // The same text sent again before its ack (a double click, a retry after a reconnect) keeps its id: stored once.
  const pending = state.pendingWhisper;
  const id = pending && pending.body === body && pending.conversationId === state.watchedId ? pending.id : newClientMsgId();
  state.pendingWhisper = { id, body, conversationId: state.watchedId };
  send({ type: "whisper.send", conversation_id: state.watchedId, client_msg_id: id, body });
});

ui.whisperInput.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    ui.whisperForm.requestSubmit();
  }
});

ui.transferForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const [kind, value] = ui.transferTarget.value.split(/:(.*)/s);
  if (state.watchedId === null || !value) return;
  const target = kind === "agent" ? { to_agent_id: Number(value) } : { to_business_line: value };
  send({ type: "conversation.transfer", conversation_id: state.watchedId, ...target, ref: "transfer" });
});

ui.unwatch.addEventListener("click", () => {
  if (state.watchedId !== null) send({ type: "conversation.unwatch", conversation_id: state.watchedId });
  state.watchedId = null;
  state.watched = null;
  ui.watch.hidden = true;
  for (const node of ui.lines.querySelectorAll(".mon-item.is-watched")) node.classList.remove("is-watched");
});

setInterval(tick, TICK_MS);
connect();
