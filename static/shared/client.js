// @ts-check
/**
 * The protocol client of docs/protocol.md, the one the customer's chat (widget and H5 page) and the agents'
 * workbench share: the socket and its heartbeat, reconnecting with backoff, the pace of the server's rate limit,
 * the outbox (resent with the same `client_msg_id` until acknowledged, kept across reloads), gap detection and
 * `sync` (following `has_more`), and the dispatch of every frame to the page.
 *
 * It keeps only what the server says: conversation objects as last sent, messages by seq, the other side's read
 * position as relayed. The page renders from that and from the events below; it decides nothing about the server.
 *
 * @typedef {import("./types.js").Role} Role
 * @typedef {import("./types.js").Message} Message
 * @typedef {import("./types.js").Attachment} Attachment
 * @typedef {import("./types.js").Conversation} Conversation
 * @typedef {import("./types.js").HelloFrame} HelloFrame
 * @typedef {import("./types.js").ErrorFrame} ErrorFrame
 * @typedef {import("./types.js").Frame} Frame
 * @typedef {import("./types.js").SocketLike} SocketLike
 * @typedef {import("./types.js").Clock} Clock
 * @typedef {import("./types.js").StorageLike} StorageLike
 * @typedef {import("./outbox.js").OutboxItem} OutboxItem
 * @typedef {import("./outbox.js").SavedItem} SavedItem
 *
 * @typedef {"connecting" | "connected" | "reconnecting" | "refused"} ConnectionState
 *
 * @typedef {object} ClientOptions
 * @property {Role} role
 * @property {() => string} url  the socket's URL, asked again on every connect (a customer token may change)
 * @property {(url: string) => SocketLike} [createSocket]
 * @property {Clock} [clock]
 * @property {() => number} [random]
 * @property {() => string} [newId]  a fresh `client_msg_id`
 * @property {StorageLike | null} [storage]  where the outbox and read positions outlive a reload
 * @property {(hello: HelloFrame) => string | null} [storageKey]  the key for this customer or agent
 *
 * @typedef {object} ClientEvents
 * @property {{state: ConnectionState, code?: number}} status
 * @property {HelloFrame} hello
 * @property {void} ready  hello and the frames the server sends unasked after it have arrived
 * @property {{record: import("./conversation.js").ConversationRecord, frame: Frame, previous: Conversation | null}} conversation
 * @property {{record: import("./conversation.js").ConversationRecord, messages: Message[]}} messages
 * @property {{record: import("./conversation.js").ConversationRecord}} read
 * @property {{item: OutboxItem, change: "added" | "restored" | "failed" | "acked" | "removed", frame?: ErrorFrame}} outbox
 * @property {ErrorFrame} error  a refusal of a frame the page sent itself (not a message, sync, read or typing)
 * @property {Frame} frame  every frame, after the client has taken what it keeps
 */

import { reconnectDelay } from "./backoff.js";
import { ConversationRecord } from "./conversation.js";
import { gettext, pageLanguage } from "./i18n.js";
import { Outbox } from "./outbox.js";
import { Pacer } from "./pacer.js";

export { ConversationRecord } from "./conversation.js";

export const OPEN_STATUSES = new Set(["waiting", "active"]);
export const ENDED_STATUSES = new Set(["closed", "missed"]);
const SOCKET_OPEN = 1;
// Refused at connect (docs/protocol.md, "Refusal and close codes"): reconnecting with the same credential is useless.
const CLOSE_UNAUTHENTICATED = 4401;
const CLOSE_FORBIDDEN = 4403;
const READY_REF = "ready";
const DEFAULT_LIMITS = { rate_per_second: 20, rate_burst: 40 };

/** @type {Clock} */
const browserClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(/** @type {number} */ (handle)),
};

/** A refused upload: `code` is the server's (`file_too_large`, `file_type_not_allowed`, ...) or `network`. */
export class UploadRefused extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * Uploads a file to send in a conversation (docs/protocol.md, "Attachments: upload and download"): the answer's
 * `id` then goes into `sendMessage`'s `attachmentIds`. The server decides the file's type from its content.
 * A customer sends their widget token; the workbench its session cookie with the page's CSRF token.
 * XMLHttpRequest rather than fetch, because only it reports upload progress: `onProgress(sent, total)` in bytes.
 * @param {{conversationId: number, token?: string, csrfToken?: string, file: Blob, name?: string,
 *   onProgress?: (sent: number, total: number) => void, XMLHttpRequestImpl?: typeof XMLHttpRequest}} upload
 * @returns {Promise<Attachment>}
 */
export function uploadAttachment({
  conversationId, token, csrfToken, file, name, onProgress, XMLHttpRequestImpl = globalThis.XMLHttpRequest,
}) {
  const form = new FormData();
  form.append("file", file, name || ("name" in file && typeof file.name === "string" ? file.name : "file"));
  const request = new XMLHttpRequestImpl();
  request.open("POST", `/api/conversations/${conversationId}/attachments/`);
  request.withCredentials = true;
  request.setRequestHeader("Accept-Language", pageLanguage()); // the server's refusal in the page's language
  if (token) request.setRequestHeader("Authorization", `Token ${token}`);
  else request.setRequestHeader("X-CSRFToken", csrfToken || "");
  if (onProgress) {
    request.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
  }
  return new Promise((resolve, reject) => {
    request.onerror = () => {
      reject(new UploadRefused("network", gettext("The file could not be sent. Check your connection and try again.")));
    };
    request.onload = () => {
      /** @type {Record<string, any>} */
      let answer = {};
      try {
        answer = JSON.parse(request.responseText);
      } catch {
        // A body that is not JSON (a proxy's error page) leaves the generic refusal below.
      }
      if (request.status === 201) resolve(/** @type {Attachment} */ (answer));
      else reject(new UploadRefused(answer.code || `http_${request.status}`, answer.message || gettext("The file was refused.")));
    };
    request.send(form);
  });
}

/** A random UUID (36 characters), also where `crypto.randomUUID` is missing (plain HTTP). */
export function newClientMsgId() {
  if (typeof globalThis.crypto.randomUUID === "function") return globalThis.crypto.randomUUID();
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * @param {unknown} value
 * @returns {value is Record<string, any>}
 */
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class ProtocolClient {
  /** @param {ClientOptions} options */
  constructor(options) {
    this.role = options.role;
    this.url = options.url;
    this.createSocket = options.createSocket || ((url) => /** @type {SocketLike} */ (new WebSocket(url)));
    this.clock = options.clock || browserClock;
    this.random = options.random || Math.random;
    this.newId = options.newId || newClientMsgId;
    this.storage = options.storage || null;
    this.storageKeyOf = options.storageKey || (() => null);
    /** @type {string | null} */
    this.storageKey = null;
    /** @type {Record<string, number>} read positions loaded from storage, applied as conversations appear */
    this.savedReads = {};

    /** @type {SocketLike | null} */
    this.socket = null;
    /** @type {ConnectionState | "idle"} */
    this.state = "idle";
    this.attempt = 0;
    /** @type {unknown} */
    this.reconnectTimer = null;
    /** @type {unknown} */
    this.heartbeatTimer = null;
    this.pingSentAt = 0;
    this.lastFrameAt = 0;
    /** @type {HelloFrame | null} */
    this.hello = null;
    /** hello arrived on the current socket */
    this.connected = false;
    /** ... and so did the frames the server sends unasked after it */
    this.ready = false;
    /** @type {Set<number>} conversations the server announced on the current socket before `ready` */
    this.announcedNow = new Set();

    /** @type {Map<number, ConversationRecord>} */
    this.records = new Map();
    this.outbox = new Outbox();
    this.pacer = new Pacer(DEFAULT_LIMITS.rate_per_second, DEFAULT_LIMITS.rate_burst, this.clock.now());
    /** @type {{frame: Frame, key: string | null}[]} frames waiting for the pacer */
    this.queue = [];
    /** @type {unknown} */
    this.flushTimer = null;
    /** @type {Map<string | number, Frame>} frames of the page with a `ref`, until their reply: resent if refused for the rate */
    this.awaitingReply = new Map();

    /** @type {Map<string, Set<(value: any) => void>>} */
    this.listeners = new Map();
  }

  /**
   * @template {keyof ClientEvents} K
   * @param {K} name
   * @param {(value: ClientEvents[K]) => void} listener
   */
  on(name, listener) {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener);
  }

  /**
   * @template {keyof ClientEvents} K
   * @param {K} name
   * @param {ClientEvents[K]} value
   */
  emit(name, value) {
    for (const listener of this.listeners.get(name) || []) listener(value);
  }

  // ---- The connection ----------------------------------------------------------------------------------------

  /** Opens the socket (again, after a refusal the page has dealt with, e.g. a fresh customer token). */
  start() {
    this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.socket) return;
    const socket = this.createSocket(this.url());
    this.socket = socket;
    this.setState(this.attempt ? "reconnecting" : "connecting");
    socket.addEventListener("message", (event) => {
      if (socket !== this.socket) return;
      this.lastFrameAt = this.clock.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (isObject(frame) && typeof frame.type === "string") this.receive(/** @type {Frame} */ (frame));
    });
    socket.addEventListener("close", (event) => {
      if (socket === this.socket) this.lost(typeof event.code === "number" ? event.code : 1006);
    });
  }

  /** Closes for good (until `start`). */
  stop() {
    this.drop();
    this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.state = "idle";
  }

  /** The network is back (the browser's `online` event): try at once instead of waiting out the backoff. */
  reconnectNow() {
    if (this.socket || this.state === "refused" || this.state === "idle") return;
    this.attempt = 0;
    this.start();
  }

  /** How long the page should wait before its own retry of what the socket needs (a customer's session call). */
  nextDelay() {
    const delay = reconnectDelay(this.attempt, this.random);
    this.attempt += 1;
    return delay;
  }

  /** @param {ConnectionState} state @param {number} [code] */
  setState(state, code) {
    this.state = state;
    this.emit("status", code === undefined ? { state } : { state, code });
  }

  /** @param {number} code */
  lost(code) {
    this.drop();
    if (code === CLOSE_UNAUTHENTICATED || code === CLOSE_FORBIDDEN) {
      // The page decides: a customer's widget fetches a fresh token and calls start(); the workbench stops.
      this.setState("refused", code);
      return;
    }
    this.setState("reconnecting", code);
    this.reconnectTimer = this.clock.setTimeout(() => this.start(), this.nextDelay());
  }

  /** Forgets the current socket and everything that belonged to it; what must survive is requeued. */
  drop() {
    const socket = this.socket;
    this.socket = null;
    this.connected = false;
    this.ready = false;
    this.pingSentAt = 0;
    this.clock.clearTimeout(this.heartbeatTimer);
    this.clock.clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.queue = [];
    this.awaitingReply.clear();
    this.outbox.requeue();
    for (const record of this.records.values()) {
      record.syncing = false;
      record.syncAgain = false;
    }
    if (socket && socket.readyState <= SOCKET_OPEN) socket.close();
  }

  /**
   * A ping every `hello.heartbeat` seconds; a socket that said nothing since the previous ping is dead though not
   * closed. Timers of hidden tabs may run late, so only silence after a ping counts, never the gap between pings.
   * @param {number} seconds
   */
  heartbeat(seconds) {
    this.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = this.clock.setTimeout(() => {
      if (!this.socket) return;
      if (this.pingSentAt && this.lastFrameAt < this.pingSentAt) {
        this.lost(1006);
        return;
      }
      this.pingSentAt = this.clock.now();
      this.enqueue({ type: "ping" });
      this.heartbeat(seconds);
    }, Math.max(5, seconds) * 1000);
  }

  // ---- Sending -----------------------------------------------------------------------------------------------

  /**
   * Sends a frame of the page once the server has said hello on this socket; false when not connected (the page
   * says so). A frame with a `ref` refused with `rate_limited` is sent again, at the limiter's pace.
   * @param {Frame} frame
   * @returns {boolean}
   */
  send(frame) {
    if (!this.connected) return false;
    if (typeof frame.ref === "string" || typeof frame.ref === "number") this.awaitingReply.set(frame.ref, frame);
    this.enqueue(frame);
    return true;
  }

  /**
   * @param {Frame} frame
   * @param {string | null} [key] a frame with the same key still waiting is replaced (typing, read)
   */
  enqueue(frame, key = null) {
    if (!this.socket) return;
    const waiting = key === null ? -1 : this.queue.findIndex((entry) => entry.key === key);
    if (waiting >= 0) this.queue[waiting] = { frame, key };
    else this.queue.push({ frame, key });
    this.flush();
  }

  flush() {
    this.clock.clearTimeout(this.flushTimer);
    this.flushTimer = null;
    while (this.queue.length && this.socket && this.socket.readyState === SOCKET_OPEN) {
      const wait = this.pacer.wait(this.clock.now());
      if (wait > 0) {
        this.flushTimer = this.clock.setTimeout(() => this.flush(), wait);
        return;
      }
      this.pacer.take(this.clock.now());
      const entry = /** @type {{frame: Frame}} */ (this.queue.shift());
      this.socket.send(JSON.stringify(entry.frame));
    }
  }

  /**
   * Writes a message: shown as pending by the page until the server acknowledges it.
   * @param {{conversationId: number | null, body: string, internal?: boolean, attachmentIds?: number[]}} message
   * @returns {OutboxItem}
   */
  sendMessage({ conversationId, body, internal = false, attachmentIds = [] }) {
    const item = this.outbox.add(this.newId(), conversationId, body, internal, attachmentIds);
    this.save();
    this.emit("outbox", { item, change: "added" });
    this.pumpOutbox();
    return item;
  }

  /**
   * Messages written before their conversation existed now belong to it.
   * @param {number} conversationId
   */
  assignOutbox(conversationId) {
    for (const item of this.outbox.items.values()) {
      if (item.conversation_id === null) item.conversation_id = conversationId;
    }
    this.save();
    this.pumpOutbox();
  }

  /**
   * A refused message is tried again (in another conversation, when given).
   * @param {string} clientMsgId
   * @param {number} [conversationId]
   */
  retry(clientMsgId, conversationId) {
    const item = this.outbox.get(clientMsgId);
    if (!item) return;
    if (conversationId !== undefined) item.conversation_id = conversationId;
    item.status = "queued";
    item.error = null;
    this.save();
    this.pumpOutbox();
  }

  /** @param {string} clientMsgId */
  discard(clientMsgId) {
    const item = this.outbox.remove(clientMsgId);
    if (!item) return;
    this.save();
    this.emit("outbox", { item, change: "removed" });
  }

  pumpOutbox() {
    if (!this.ready) return;
    for (const item of this.outbox.due()) {
      item.status = "sending";
      /** @type {Frame} */
      const frame = {
        type: "message.send",
        conversation_id: item.conversation_id,
        client_msg_id: item.client_msg_id,
        body: item.body,
        ref: `msg:${item.client_msg_id}`,
      };
      if (item.internal) frame.internal = true;
      if (item.attachment_ids.length) frame.attachment_ids = item.attachment_ids;
      this.enqueue(frame);
    }
  }

  /**
   * Tells the other side this side has seen the conversation up to `seq`, while it is open to this side.
   * @param {number} conversationId
   * @param {number} seq
   */
  markRead(conversationId, seq) {
    const record = this.records.get(conversationId);
    if (!record || !this.ready || !this.isOpen(record) || seq <= record.readSentSeq) return;
    record.readSentSeq = seq;
    // The ref makes a refusal (the conversation ended a moment ago) the client's own, never shown to the user.
    const ref = `read:${conversationId}`;
    this.enqueue({ type: "read", conversation_id: conversationId, seq, ref }, ref);
  }

  /**
   * @param {number} conversationId
   * @param {boolean} typing
   * @returns {boolean} whether it was sent
   */
  sendTyping(conversationId, typing) {
    const record = this.records.get(conversationId);
    if (!record || !this.ready || !this.isOpen(record)) return false;
    const ref = `typing:${conversationId}`;
    this.enqueue({ type: "typing", conversation_id: conversationId, typing, ref }, ref);
    return true;
  }

  // ---- What the client holds ---------------------------------------------------------------------------------

  /** @param {number} id */
  record(id) {
    let record = this.records.get(id);
    if (!record) {
      record = new ConversationRecord(id);
      record.otherReadSeq = Number(this.savedReads[String(id)]) || 0;
      this.records.set(id, record);
    }
    return record;
  }

  /**
   * Open to this side, as the server last said: a customer's waiting or active conversation, an agent's active
   * conversation assigned to them; and listed by the server when this socket connected.
   * @param {ConversationRecord} record
   */
  isOpen(record) {
    const conversation = record.conversation;
    if (!conversation || !record.announced) return false;
    if (this.role === "customer") return OPEN_STATUSES.has(conversation.status);
    return conversation.status === "active" && Boolean(conversation.agent) && conversation.agent?.id === this.hello?.agent_id;
  }

  /**
   * A conversation object the server gave another way (an agent's REST history) for one held here: its state now.
   * @param {Conversation} conversation
   */
  replaceConversation(conversation) {
    const record = this.records.get(conversation.id);
    if (record && record.conversation) record.conversation = conversation;
  }

  /** @param {Message} message */
  isOwn(message) {
    if (this.role === "customer") return message.sender === "customer";
    return message.sender === "agent" && message.agent_id === this.hello?.agent_id;
  }

  /**
   * @param {ConversationRecord} record
   * @param {Message[]} messages
   */
  keep(record, messages) {
    for (const message of messages) {
      if (!this.isOwn(message) || !message.client_msg_id) continue;
      const item = this.outbox.remove(message.client_msg_id);
      if (item) {
        this.emit("outbox", { item, change: "acked" });
        this.save();
      }
    }
    const added = record.add(messages);
    if (added.length) this.emit("messages", { record, messages: added });
    if (this.outbox.items.size) this.pumpOutbox();
  }

  /** @param {ConversationRecord} record */
  requestSync(record) {
    if (!this.connected) return;
    if (record.syncing) {
      record.syncAgain = true;
      return;
    }
    record.syncing = true;
    record.syncAgain = false;
    record.syncTarget = Math.max(record.highestSeq, record.conversation ? record.conversation.last_seq : 0);
    this.enqueue({ type: "sync", conversation_id: record.id, after_seq: record.contiguousSeq, ref: `sync:${record.id}` });
  }

  save() {
    if (!this.storage || !this.storageKey) return;
    /** @type {Record<string, number>} */
    const reads = { ...this.savedReads };
    for (const record of this.records.values()) {
      if (record.otherReadSeq) reads[String(record.id)] = record.otherReadSeq;
    }
    this.savedReads = reads;
    try {
      this.storage.setItem(this.storageKey, JSON.stringify({ outbox: this.outbox.saved(), reads }));
    } catch (error) {
      /* storage full or forbidden (private mode): kept for this page only */
    }
  }

  /** @param {string} key */
  load(key) {
    this.storageKey = key;
    if (!this.storage) return;
    let saved = null;
    try {
      saved = JSON.parse(this.storage.getItem(key) || "null");
    } catch (error) {
      saved = null;
    }
    if (!isObject(saved)) return;
    if (isObject(saved.reads)) {
      for (const [id, seq] of Object.entries(saved.reads)) {
        if (typeof seq !== "number") continue;
        this.savedReads[id] = Math.max(this.savedReads[id] || 0, seq);
        const record = this.records.get(Number(id));
        if (record) record.otherReadSeq = Math.max(record.otherReadSeq, seq);
      }
    }
    if (Array.isArray(saved.outbox)) {
      for (const item of this.outbox.restore(/** @type {SavedItem[]} */ (saved.outbox))) {
        this.emit("outbox", { item, change: "restored" });
      }
    }
  }

  // ---- Frames from the server --------------------------------------------------------------------------------

  /** @param {Frame} frame */
  receive(frame) {
    if (frame.ref !== undefined && frame.ref !== null && frame.type !== "error") this.awaitingReply.delete(frame.ref);
    switch (frame.type) {
      case "hello":
        this.onHello(/** @type {HelloFrame} */ (/** @type {unknown} */ (frame)));
        break;
      case "pong":
        if (frame.ref === READY_REF) this.onReady();
        break;
      case "conversation.state":
        this.onConversation(frame, /** @type {Conversation} */ (frame.conversation), []);
        break;
      case "conversation.assigned":
        this.onConversation(frame, /** @type {Conversation} */ (frame.conversation), /** @type {Message[]} */ (frame.messages || []));
        break;
      case "message.new":
      case "message.ack":
        this.onMessage(/** @type {Message} */ (frame.message));
        break;
      case "sync.result":
        this.onSyncResult(frame);
        break;
      case "read":
        this.onRead(frame);
        break;
      case "error":
        if (!this.onError(/** @type {ErrorFrame} */ (/** @type {unknown} */ (frame)))) {
          this.emit("error", /** @type {ErrorFrame} */ (/** @type {unknown} */ (frame)));
        }
        break;
      default:
        break;
    }
    this.emit("frame", frame);
  }

  /** @param {HelloFrame} hello */
  onHello(hello) {
    this.hello = hello;
    this.connected = true;
    this.attempt = 0;
    this.announcedNow = new Set();
    const limits = hello.limits || DEFAULT_LIMITS;
    this.pacer = new Pacer(limits.rate_per_second, limits.rate_burst, this.clock.now());
    this.heartbeat(hello.heartbeat || 15);
    const key = this.storageKeyOf(hello);
    if (key && key !== this.storageKey) this.load(key);
    this.setState("connected");
    this.emit("hello", hello);
    // Resume every conversation held open from the last seq seen (protocol.md, delivery), then mark the end of
    // the frames the server sends unasked after hello: its reply comes after them.
    for (const record of this.records.values()) {
      if (this.isOpen(record)) this.requestSync(record);
    }
    this.enqueue({ type: "ping", ref: READY_REF });
  }

  onReady() {
    this.ready = true;
    for (const record of this.records.values()) {
      const wasOpen = this.isOpen(record);
      record.announced = this.announcedNow.has(record.id);
      // Ended while away: its transcript (the closing event) is fetched; its state stays as the server last sent.
      if (wasOpen && !record.announced) this.requestSync(record);
    }
    this.emit("ready", undefined);
    this.pumpOutbox();
  }

  /**
   * @param {Frame} frame
   * @param {Conversation} conversation
   * @param {Message[]} messages
   */
  onConversation(frame, conversation, messages) {
    if (!isObject(conversation) || typeof conversation.id !== "number") return;
    // An agent holds the conversations assigned to it; a state of another one (a reply about a conversation it
    // no longer has) is the page's business only.
    if (this.role === "agent" && frame.type === "conversation.state" && !this.records.has(conversation.id)) return;
    const record = this.record(conversation.id);
    const previous = record.conversation;
    record.conversation = conversation;
    record.announced = true;
    if (!this.ready) this.announcedNow.add(conversation.id);
    this.emit("conversation", { record, frame, previous });
    if (messages.length) {
      this.keep(record, messages);
      // A page of the conversation from seq 1: complete up to its last message.
      record.heldThrough(messages[messages.length - 1].seq);
    }
    if (frame.has_more === true || record.behind()) this.requestSync(record);
  }

  /** @param {Message} message */
  onMessage(message) {
    if (!isObject(message) || typeof message.seq !== "number") return;
    const record = this.records.get(message.conversation_id);
    if (!record) {
      // An ack of a message of a conversation not held (an agent's, taken away meanwhile): still acknowledged.
      if (message.client_msg_id && this.isOwn(message)) {
        const item = this.outbox.remove(message.client_msg_id);
        if (item) this.emit("outbox", { item, change: "acked" });
        this.save();
        this.pumpOutbox();
      }
      return;
    }
    this.keep(record, [message]);
    // A gap: the seq after the contiguous run is missing. Pushes are at-most-once and may come out of order.
    if (record.highestSeq > record.contiguousSeq) this.requestSync(record);
  }

  /** @param {Frame} frame */
  onSyncResult(frame) {
    const record = typeof frame.conversation_id === "number" ? this.records.get(frame.conversation_id) : undefined;
    if (!record || !record.syncing) {
      if (record) this.keep(record, /** @type {Message[]} */ (frame.messages || []));
      return;
    }
    const messages = /** @type {Message[]} */ (frame.messages || []);
    this.keep(record, messages);
    record.syncing = false;
    if (frame.has_more === true && messages.length) {
      record.heldThrough(messages[messages.length - 1].seq);
      record.syncAgain = false;
      this.requestSync(record);
      return;
    }
    // The sync answer is complete: numbers still missing up to what was asked for are not this side's to see.
    record.heldThrough(record.syncTarget);
    if (record.syncAgain || record.behind()) {
      record.syncAgain = false;
      this.requestSync(record);
    }
  }

  /** @param {Frame} frame */
  onRead(frame) {
    if (frame.sender === this.role || typeof frame.conversation_id !== "number" || typeof frame.seq !== "number") return;
    const record = this.records.get(frame.conversation_id);
    if (!record || frame.seq <= record.otherReadSeq) return;
    record.otherReadSeq = frame.seq;
    this.save();
    this.emit("read", { record });
  }

  /**
   * Refusals of what the client sent itself; true when handled here.
   * @param {ErrorFrame} frame
   */
  onError(frame) {
    const limited = frame.code === "rate_limited";
    if (limited) this.pacer.drain(this.clock.now());
    const ref = frame.ref;
    if (typeof ref !== "string" && typeof ref !== "number") return limited;
    const text = String(ref);
    if (text.startsWith("msg:")) {
      const item = this.outbox.get(text.slice(4));
      if (!item) return true;
      if (limited) {
        item.status = "queued";
        this.pumpOutbox();
        return true;
      }
      item.status = "failed";
      item.error = frame.code;
      this.save();
      this.emit("outbox", { item, change: "failed", frame });
      this.pumpOutbox();
      return true;
    }
    if (text.startsWith("sync:")) {
      const record = this.records.get(Number(text.slice(5)));
      if (record) {
        record.syncing = false;
        if (limited) this.requestSync(record);
      }
      return true;
    }
    if (text.startsWith("read:") || text.startsWith("typing:") || text === READY_REF) {
      if (text === READY_REF && limited) this.enqueue({ type: "ping", ref: READY_REF });
      return true;
    }
    const refused = this.awaitingReply.get(ref);
    if (limited && refused) {
      this.enqueue(refused);
      return true;
    }
    this.awaitingReply.delete(ref);
    return false;
  }
}
