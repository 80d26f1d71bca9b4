// A fake socket, a manual clock and an in-memory storage for the protocol client's unit tests (node --test).
import { ProtocolClient } from "../../static/shared/client.js";

export const HELLO_LIMITS = {
  max_frame_bytes: 16384,
  max_body_chars: 4000,
  rate_per_second: 20,
  rate_burst: 40,
  sync_limit: 1000,
  max_outgoing_frame_bytes: 524288,
};

/** Timers that run only when the test moves time forward. */
export class ManualClock {
  constructor() {
    this.time = 1_000_000;
    this.timers = new Map();
    this.nextHandle = 1;
  }

  now() {
    return this.time;
  }

  setTimeout(callback, ms) {
    const handle = this.nextHandle++;
    this.timers.set(handle, { at: this.time + ms, callback });
    return handle;
  }

  clearTimeout(handle) {
    this.timers.delete(handle);
  }

  /** Moves time forward by `ms`, running each timer due on the way, in order. */
  advance(ms) {
    const end = this.time + ms;
    for (;;) {
      let next = null;
      for (const [handle, timer] of this.timers) {
        if (timer.at <= end && (next === null || timer.at < next[1].at)) next = [handle, timer];
      }
      if (next === null) break;
      this.timers.delete(next[0]);
      this.time = Math.max(this.time, next[1].at);
      next[1].callback();
    }
    this.time = end;
  }
}

/** A WebSocket the test plays the server of: what the client sent, and frames and closes from the server. */
export class FakeSocket {
  constructor(url, server) {
    this.url = url;
    this.server = server;
    this.readyState = 1;
    this.sent = [];
    this.listeners = { message: [], close: [] };
  }

  addEventListener(type, listener) {
    (this.listeners[type] ||= []).push(listener);
  }

  send(data) {
    if (this.readyState !== 1) throw new Error("send on a closed socket");
    const frame = JSON.parse(data);
    this.sent.push(frame);
    this.server.received(this, frame);
  }

  close() {
    this.readyState = 3;
  }

  /** The server sends `frame`. */
  push(frame) {
    for (const listener of this.listeners.message) listener({ data: JSON.stringify(frame) });
  }

  /** The connection ends, with `code`. */
  drop(code = 1006) {
    this.readyState = 3;
    for (const listener of this.listeners.close) listener({ code });
  }
}

/** In-memory Web Storage. */
export class MemoryStorage {
  constructor() {
    this.items = new Map();
  }

  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }

  setItem(key, value) {
    this.items.set(key, String(value));
  }
}

/**
 * The server side of a test: the sockets the client opened, a token bucket like the consumer's (refusing frames
 * over the rate with `rate_limited`), and optional automatic answers.
 */
export class FakeServer {
  constructor(clock, { rate = 20, burst = 40, answer = null } = {}) {
    this.clock = clock;
    this.sockets = [];
    this.rate = rate / 1000;
    this.burst = burst;
    this.answer = answer;
    this.refused = [];
    this.resetBucket();
  }

  resetBucket() {
    this.tokens = this.burst;
    this.updated = this.clock.now();
  }

  connect(url) {
    const socket = new FakeSocket(url, this);
    this.sockets.push(socket);
    this.resetBucket();
    return socket;
  }

  get socket() {
    return this.sockets[this.sockets.length - 1];
  }

  received(socket, frame) {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.updated) * this.rate);
    this.updated = now;
    if (this.tokens < 1) {
      this.refused.push(frame);
      socket.push({ type: "error", code: "rate_limited", message: "Too many frames; slow down", ref: frame.ref ?? null });
      return;
    }
    this.tokens -= 1;
    if (this.answer) this.answer(socket, frame);
  }
}

/** A customer's (or agent's) client on a fake server and clock. */
export function makeClient({ role = "customer", storage = null, server: serverOptions = {}, ids = null } = {}) {
  const clock = new ManualClock();
  const server = new FakeServer(clock, serverOptions);
  let counter = 0;
  const client = new ProtocolClient({
    role,
    url: () => "ws://test/ws/customer/?token=t",
    createSocket: (url) => server.connect(url),
    clock,
    random: () => 0,
    newId: ids || (() => `id-${++counter}`),
    storage,
    storageKey: (hello) => (hello.customer_id ? `cs-test:customer:${hello.customer_id}` : `cs-test:agent:${hello.agent_id}`),
  });
  const events = [];
  for (const name of ["status", "ready", "conversation", "messages", "read", "outbox", "error"]) {
    client.on(name, (value) => events.push([name, value]));
  }
  return { client, clock, server, events };
}

export function hello(role = "customer", extra = {}) {
  return role === "customer"
    ? { type: "hello", role, customer_id: 7, offline: false, heartbeat: 15, limits: HELLO_LIMITS, ...extra }
    : { type: "hello", role, agent_id: 3, presence: "online", heartbeat: 15, limits: HELLO_LIMITS, ...extra };
}

export function conversation(id, extra = {}) {
  return {
    id,
    status: "active",
    channel: "web",
    business_line: "demo",
    customer: { id: 7, name: "", email: "" },
    agent: { id: 3, name: "Alice" },
    queue_position: null,
    last_seq: 0,
    started_at: "2026-11-27T05:33:44.815546+00:00",
    closed_at: null,
    close_reason: null,
    ...extra,
  };
}

export function message(conversationId, seq, extra = {}) {
  return {
    id: 100 + seq,
    conversation_id: conversationId,
    seq,
    sender: "agent",
    body: `message ${seq}`,
    client_msg_id: null,
    created_at: "2026-11-27T05:33:46.352258+00:00",
    agent_id: 3,
    ...extra,
  };
}

/**
 * Connects: hello, the open conversations the server announces unasked, then the reply to the client's marker.
 */
export function connect(harness, { role = "customer", conversations = [] } = {}) {
  const { client, server } = harness;
  if (!server.socket || server.socket.readyState !== 1) client.start();
  const socket = server.socket;
  socket.push(hello(role));
  for (const item of conversations) {
    socket.push(
      role === "customer"
        ? { type: "conversation.state", conversation: item }
        : { type: "conversation.assigned", conversation: item, messages: [], has_more: false },
    );
  }
  socket.push({ type: "pong", ref: "ready" });
  return socket;
}

export function sentOfType(socket, type) {
  return socket.sent.filter((frame) => frame.type === type);
}
