// The shared protocol client (static/shared/client.js) against a fake socket: node --test tests/client/
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { reconnectDelay } from "../../static/shared/backoff.js";
import { UploadRefused, uploadAttachment } from "../../static/shared/client.js";
import {
  MemoryStorage,
  connect,
  conversation,
  hello,
  makeClient,
  message,
  sentOfType,
} from "./fakes.mjs";

describe("reconnecting", () => {
  test("a lost socket is reopened after the backoff, which doubles and resets once the server says hello", () => {
    // given
    const harness = makeClient();
    const { client, clock, server, events } = harness;
    connect(harness);

    // when: the connection drops, twice without getting through
    server.socket.drop(1006);

    // then: the first retry waits half of 500 ms (random 0), the next half of 1 s
    assert.equal(server.sockets.length, 1);
    clock.advance(249);
    assert.equal(server.sockets.length, 1);
    clock.advance(1);
    assert.equal(server.sockets.length, 2);
    server.socket.drop(1006);
    clock.advance(499);
    assert.equal(server.sockets.length, 2);
    clock.advance(1);
    assert.equal(server.sockets.length, 3);

    // when: this one gets through, then drops
    connect(harness);
    server.socket.drop(1006);
    clock.advance(250);

    // then: back to the first delay
    assert.equal(server.sockets.length, 4);
    assert.deepEqual(
      events.filter(([name]) => name === "status").map(([, value]) => value.state),
      ["connecting", "connected", "reconnecting", "reconnecting", "reconnecting", "reconnecting", "connected", "reconnecting", "reconnecting"],
    );
    assert.equal(client.state, "reconnecting");
  });

  test("the backoff has jitter and a ceiling", () => {
    assert.equal(reconnectDelay(0, () => 0), 250);
    assert.equal(reconnectDelay(0, () => 0.5), 375);
    assert.equal(reconnectDelay(3, () => 0), 2000);
    assert.equal(reconnectDelay(40, () => 0), 15000);
    assert.equal(reconnectDelay(40, () => 0.5), 22500);
  });

  test("a socket refused at connect (4401, 4403) is not reopened with the same credential", () => {
    for (const code of [4401, 4403]) {
      // given
      const harness = makeClient();
      connect(harness);

      // when
      harness.server.socket.drop(code);
      harness.clock.advance(60_000);

      // then
      assert.equal(harness.server.sockets.length, 1);
      assert.deepEqual(harness.events.filter(([name]) => name === "status").at(-1)[1], { state: "refused", code });
    }
  });

  test("too many sockets (4429) is retried with the backoff", () => {
    const harness = makeClient();
    connect(harness);
    harness.server.socket.drop(4429);
    harness.clock.advance(250);
    assert.equal(harness.server.sockets.length, 2);
  });

  test("a socket silent since the last ping is taken for dead and replaced", () => {
    // given
    const harness = makeClient();
    const socket = connect(harness);

    // when: a heartbeat's ping, then nothing for another heartbeat
    harness.clock.advance(15_000);
    assert.equal(sentOfType(socket, "ping").filter((frame) => frame.ref === undefined).length, 1);
    harness.clock.advance(15_000);

    // then
    assert.equal(socket.readyState, 3);
    harness.clock.advance(250);
    assert.equal(harness.server.sockets.length, 2);
  });

  test("a socket that answers its pings stays", () => {
    const harness = makeClient();
    const socket = connect(harness);
    for (let beat = 0; beat < 4; beat += 1) {
      harness.clock.advance(15_000);
      socket.push({ type: "pong", ref: null });
    }
    assert.equal(harness.server.sockets.length, 1);
    assert.equal(socket.readyState, 1);
  });
});

describe("the outbox", () => {
  test("a message not acknowledged before the socket dropped is resent with the same client_msg_id", () => {
    // given: a message on the wire
    const harness = makeClient();
    const { client, server, clock, events } = harness;
    connect(harness, { conversations: [conversation(1, { last_seq: 0 })] });
    client.sendMessage({ conversationId: 1, body: "Are you there?" });
    const first = sentOfType(server.socket, "message.send");
    assert.deepEqual(first, [
      { type: "message.send", conversation_id: 1, client_msg_id: "id-1", body: "Are you there?", ref: "msg:id-1" },
    ]);

    // when: the socket drops before the ack, and a new one connects
    server.socket.drop(1006);
    clock.advance(250);
    const socket = connect(harness, { conversations: [conversation(1, { last_seq: 0 })] });

    // then: sent again, the same frame
    assert.deepEqual(sentOfType(socket, "message.send"), first);

    // when: acknowledged (and pushed, as the server does)
    const stored = message(1, 1, { sender: "customer", client_msg_id: "id-1", body: "Are you there?", agent_id: undefined });
    socket.push({ type: "message.ack", client_msg_id: "id-1", message: stored, ref: "msg:id-1" });
    socket.push({ type: "message.new", message: stored });

    // then: out of the outbox, and held once
    assert.equal(client.outbox.items.size, 0);
    assert.deepEqual(client.record(1).sorted().map((m) => m.seq), [1]);
    assert.deepEqual(
      events.filter(([name]) => name === "outbox").map(([, value]) => value.change),
      ["added", "acked"],
    );
  });

  test("messages are put on the wire one at a time per conversation, in the order written", () => {
    // given
    const harness = makeClient();
    const { client, server } = harness;
    const socket = connect(harness, { conversations: [conversation(1)] });

    // when
    client.sendMessage({ conversationId: 1, body: "one" });
    client.sendMessage({ conversationId: 1, body: "two" });

    // then: the second waits for the first's ack
    assert.deepEqual(sentOfType(socket, "message.send").map((f) => f.body), ["one"]);
    socket.push({
      type: "message.ack",
      client_msg_id: "id-1",
      message: message(1, 1, { sender: "customer", client_msg_id: "id-1", body: "one" }),
      ref: "msg:id-1",
    });
    assert.deepEqual(sentOfType(socket, "message.send").map((f) => f.body), ["one", "two"]);
    assert.equal(server.refused.length, 0);
  });

  test("a send refused for the rate is retried at the limiter's pace, and the next waits for it", () => {
    // given: a server whose bucket is empty once
    const harness = makeClient({ server: { rate: 20, burst: 3 } });
    const { client, server, clock } = harness;
    const socket = connect(harness, { conversations: [conversation(1)] });
    // hello's marker ping took one token; two more frames the page sent take the rest
    client.send({ type: "conversation.rate", conversation_id: 1, rating: 5, ref: "rate" });
    client.send({ type: "typing", conversation_id: 1, typing: true });

    // when
    client.sendMessage({ conversationId: 1, body: "one" });
    client.sendMessage({ conversationId: 1, body: "two" });

    // then: refused, and not given up
    assert.equal(server.refused.length, 1);
    assert.equal(client.outbox.get("id-1").status, "sending");
    // then: resent once the pace allows (1/20 s for one token), the same frame; "two" not before "one" is acked
    clock.advance(49);
    assert.equal(sentOfType(socket, "message.send").length, 1);
    clock.advance(1);
    const sends = sentOfType(socket, "message.send");
    assert.deepEqual(sends.map((f) => f.client_msg_id), ["id-1", "id-1"]);
    assert.equal(server.refused.length, 1);
    socket.push({
      type: "message.ack",
      client_msg_id: "id-1",
      message: message(1, 1, { sender: "customer", client_msg_id: "id-1", body: "one" }),
      ref: "msg:id-1",
    });
    clock.advance(50);
    assert.deepEqual(sentOfType(socket, "message.send").map((f) => f.body), ["one", "one", "two"]);
    assert.equal(harness.events.filter(([name]) => name === "error").length, 0);
  });

  test("sixty messages written at once all go through, in order, none refused", () => {
    // given: a server that acks what it accepts and stores it with the next seq
    let seq = 0;
    const stored = [];
    const answer = (socket, frame) => {
      if (frame.type !== "message.send") return;
      seq += 1;
      stored.push(frame.body);
      const saved = message(frame.conversation_id, seq, { sender: "customer", client_msg_id: frame.client_msg_id, body: frame.body });
      socket.push({ type: "message.ack", client_msg_id: frame.client_msg_id, message: saved, ref: frame.ref });
      socket.push({ type: "message.new", message: saved });
    };
    const harness = makeClient({ server: { answer } });
    const { client, server, clock } = harness;
    connect(harness, { conversations: [conversation(1)] });

    // when
    const bodies = Array.from({ length: 60 }, (_, index) => `message ${index + 1}`);
    for (const body of bodies) client.sendMessage({ conversationId: 1, body });
    clock.advance(5_000);

    // then
    assert.deepEqual(stored, bodies);
    assert.equal(server.refused.length, 0);
    assert.equal(client.outbox.items.size, 0);
  });

  test("a refusal other than the rate marks the message failed; the next ones still go, and retry sends it again", () => {
    // given
    const harness = makeClient();
    const { client, events } = harness;
    const socket = connect(harness, { conversations: [conversation(1)] });
    client.sendMessage({ conversationId: 1, body: "x".repeat(10) });
    client.sendMessage({ conversationId: 1, body: "short" });

    // when
    socket.push({ type: "error", code: "body_too_long", message: "too long", ref: "msg:id-1" });

    // then
    assert.equal(client.outbox.get("id-1").status, "failed");
    assert.deepEqual(events.filter(([name]) => name === "outbox").at(-1)[1].change, "failed");
    assert.deepEqual(sentOfType(socket, "message.send").map((f) => f.client_msg_id), ["id-1", "id-2"]);

    // when: retried into another conversation
    socket.push({
      type: "message.ack",
      client_msg_id: "id-2",
      message: message(1, 1, { sender: "customer", client_msg_id: "id-2", body: "short" }),
      ref: "msg:id-2",
    });
    client.retry("id-1", 2);

    // then
    assert.deepEqual(sentOfType(socket, "message.send").at(-1), {
      type: "message.send",
      conversation_id: 2,
      client_msg_id: "id-1",
      body: "x".repeat(10),
      ref: "msg:id-1",
    });
  });

  test("unsent messages outlive a reload and are resent with their own client_msg_id", () => {
    // given: two messages written, the first on the wire, then the page goes away
    const storage = new MemoryStorage();
    const before = makeClient({ storage });
    connect(before, { conversations: [conversation(1)] });
    before.client.sendMessage({ conversationId: 1, body: "first" });
    before.client.sendMessage({ conversationId: 1, body: "second" });

    // when: the page is loaded again (a new client, new ids for anything new) and connects
    const after = makeClient({ storage, ids: () => "new-id" });
    const socket = connect(after, { conversations: [conversation(1)] });

    // then: restored, and resent in order with the ids they had
    assert.deepEqual(
      after.events.filter(([name]) => name === "outbox").map(([, value]) => [value.change, value.item.body]),
      [["restored", "first"], ["restored", "second"]],
    );
    assert.deepEqual(sentOfType(socket, "message.send").map((f) => [f.client_msg_id, f.body]), [["id-1", "first"]]);
    socket.push({
      type: "message.ack",
      client_msg_id: "id-1",
      message: message(1, 1, { sender: "customer", client_msg_id: "id-1", body: "first" }),
      ref: "msg:id-1",
    });
    assert.deepEqual(sentOfType(socket, "message.send").map((f) => f.client_msg_id), ["id-1", "id-2"]);
    assert.deepEqual(JSON.parse(storage.getItem("cs-test:customer:7")).outbox.map((item) => item.body), ["second"]);
  });
});

describe("gaps and sync", () => {
  test("a message past a gap fetches the gap with sync from the last contiguous seq", () => {
    // given
    const harness = makeClient();
    const { client } = harness;
    const socket = connect(harness, { conversations: [conversation(1)] });
    socket.push({ type: "message.new", message: message(1, 1) });

    // when
    socket.push({ type: "message.new", message: message(1, 3) });

    // then
    assert.deepEqual(sentOfType(socket, "sync"), [{ type: "sync", conversation_id: 1, after_seq: 1, ref: "sync:1" }]);
    socket.push({ type: "sync.result", conversation_id: 1, messages: [message(1, 2), message(1, 3)], has_more: false, ref: "sync:1" });
    const record = client.record(1);
    assert.deepEqual(record.sorted().map((m) => m.seq), [1, 2, 3]);
    assert.equal(record.contiguousSeq, 3);
    assert.equal(sentOfType(socket, "sync").length, 1);
  });

  test("a state whose last_seq is ahead is synced, page after page while has_more", () => {
    // given
    const harness = makeClient();
    const { client } = harness;

    // when: the server announces a conversation of 5 messages
    const socket = connect(harness, { conversations: [conversation(1, { last_seq: 5 })] });

    // then
    assert.deepEqual(sentOfType(socket, "sync").at(-1), { type: "sync", conversation_id: 1, after_seq: 0, ref: "sync:1" });
    socket.push({ type: "sync.result", conversation_id: 1, messages: [message(1, 1), message(1, 2)], has_more: true, ref: "sync:1" });
    assert.deepEqual(sentOfType(socket, "sync").at(-1), { type: "sync", conversation_id: 1, after_seq: 2, ref: "sync:1" });
    socket.push({ type: "sync.result", conversation_id: 1, messages: [message(1, 3), message(1, 5)], has_more: false, ref: "sync:1" });

    // then: complete; 4 is not this side's to see (an internal note), so nothing more is asked
    assert.equal(client.record(1).contiguousSeq, 5);
    assert.equal(sentOfType(socket, "sync").length, 2);
  });

  test("an agent's conversation.assigned cut with has_more is synced on from its last seq", () => {
    const harness = makeClient({ role: "agent" });
    const { client, server } = harness;
    client.start();
    const socket = server.socket;
    socket.push(hello("agent"));
    socket.push({
      type: "conversation.assigned",
      conversation: conversation(4, { last_seq: 70 }),
      messages: [message(4, 1), message(4, 2)],
      has_more: true,
    });
    socket.push({ type: "pong", ref: "ready" });
    assert.deepEqual(sentOfType(socket, "sync"), [{ type: "sync", conversation_id: 4, after_seq: 2, ref: "sync:4" }]);
    assert.equal(client.isOpen(client.record(4)), true);
  });

  test("after a reconnect every open conversation is synced from the last seq held", () => {
    // given
    const harness = makeClient({ role: "agent" });
    const { server, clock } = harness;
    connect(harness, { role: "agent", conversations: [conversation(4, { last_seq: 2 })] });
    server.socket.push({ type: "sync.result", conversation_id: 4, messages: [message(4, 1), message(4, 2)], has_more: false, ref: "sync:4" });

    // when
    server.socket.drop(1006);
    clock.advance(250);
    harness.client.start();
    server.socket.push(hello("agent"));

    // then: before the server's own frames arrive
    assert.deepEqual(sentOfType(server.socket, "sync"), [{ type: "sync", conversation_id: 4, after_seq: 2, ref: "sync:4" }]);
  });

  test("duplicate frames show a message once", () => {
    const harness = makeClient();
    const { events } = harness;
    const socket = connect(harness, { conversations: [conversation(1)] });
    const own = message(1, 1, { sender: "customer", client_msg_id: "c-1" });
    socket.push({ type: "message.new", message: own });
    socket.push({ type: "message.ack", client_msg_id: "c-1", message: own, ref: "msg:c-1" });
    socket.push({ type: "message.new", message: own });
    socket.push({ type: "sync.result", conversation_id: 1, messages: [own], has_more: false, ref: "sync:1" });
    const shown = events.filter(([name]) => name === "messages").flatMap(([, value]) => value.messages.map((m) => m.seq));
    assert.deepEqual(shown, [1]);
  });

  test("frames out of order are held in seq order, and the hole they show is synced", () => {
    // given
    const harness = makeClient();
    const { client } = harness;
    const socket = connect(harness, { conversations: [conversation(1)] });

    // when: 2 arrives before 1
    socket.push({ type: "message.new", message: message(1, 2) });

    // then: 1 is asked for
    assert.deepEqual(sentOfType(socket, "sync"), [{ type: "sync", conversation_id: 1, after_seq: 0, ref: "sync:1" }]);

    // when: the late push of 1 arrives, then the sync answer
    socket.push({ type: "message.new", message: message(1, 1) });
    socket.push({ type: "sync.result", conversation_id: 1, messages: [message(1, 1), message(1, 2)], has_more: false, ref: "sync:1" });

    // then
    assert.deepEqual(client.record(1).sorted().map((m) => m.seq), [1, 2]);
    assert.equal(client.record(1).contiguousSeq, 2);
    assert.equal(sentOfType(socket, "sync").length, 1);
  });

  test("a gap found while a sync is on its way is asked for again once it answers", () => {
    const harness = makeClient();
    const socket = connect(harness, { conversations: [conversation(1)] });
    socket.push({ type: "message.new", message: message(1, 2) });
    socket.push({ type: "message.new", message: message(1, 5) });
    assert.equal(sentOfType(socket, "sync").length, 1);
    socket.push({ type: "sync.result", conversation_id: 1, messages: [message(1, 1), message(1, 2)], has_more: false, ref: "sync:1" });
    assert.deepEqual(sentOfType(socket, "sync").at(-1), { type: "sync", conversation_id: 1, after_seq: 2, ref: "sync:1" });
  });

  test("a sync refused for the rate is sent again", () => {
    const harness = makeClient();
    const { clock } = harness;
    const socket = connect(harness, { conversations: [conversation(1, { last_seq: 3 })] });
    socket.push({ type: "error", code: "rate_limited", message: "slow down", ref: "sync:1" });
    clock.advance(100);
    assert.deepEqual(sentOfType(socket, "sync").map((f) => f.after_seq), [0, 0]);
    assert.equal(harness.events.filter(([name]) => name === "error").length, 0);
  });
});

describe("what the server says", () => {
  test("a conversation the server no longer announces after a reconnect is not open, its state left as sent", () => {
    // given: an active conversation
    const harness = makeClient();
    const { client, server, clock } = harness;
    const state = conversation(1, { last_seq: 2 });
    connect(harness, { conversations: [state] });
    server.socket.push({ type: "sync.result", conversation_id: 1, messages: [message(1, 1), message(1, 2)], has_more: false, ref: "sync:1" });

    // when: it ends while the page is away; the new socket announces nothing
    server.socket.drop(1006);
    clock.advance(250);
    const socket = connect(harness);

    // then: no longer open, the closing event fetched, and the status is still what the server last said
    const record = client.record(1);
    assert.equal(record.announced, false);
    assert.equal(client.isOpen(record), false);
    assert.deepEqual(record.conversation, state);
    assert.deepEqual(sentOfType(socket, "sync"), [{ type: "sync", conversation_id: 1, after_seq: 2, ref: "sync:1" }]);
  });

  test("the other side's read position is kept across a reload", () => {
    // given: the agent read up to 4
    const storage = new MemoryStorage();
    const before = makeClient({ storage });
    const socket = connect(before, { conversations: [conversation(1, { last_seq: 0 })] });
    socket.push({ type: "read", conversation_id: 1, seq: 4, sender: "agent" });
    socket.push({ type: "read", conversation_id: 1, seq: 9, sender: "customer" });
    assert.equal(before.client.record(1).otherReadSeq, 4);

    // when: the page is loaded again
    const after = makeClient({ storage });
    connect(after, { conversations: [conversation(1)] });

    // then
    assert.equal(after.client.record(1).otherReadSeq, 4);
  });

  test("a read receipt refused because the conversation ended a moment ago is not the user's error", () => {
    // given: the closing event arrives before the closed state, and the page reports it read
    const harness = makeClient();
    const { client, events } = harness;
    const socket = connect(harness, { conversations: [conversation(1)] });
    socket.push({ type: "message.new", message: message(1, 1, { sender: "system", event: "closed", agent_id: undefined }) });
    client.markRead(1, 1);
    assert.deepEqual(sentOfType(socket, "read"), [{ type: "read", conversation_id: 1, seq: 1, ref: "read:1" }]);

    // when
    socket.push({ type: "conversation.state", conversation: conversation(1, { status: "closed", last_seq: 1 }) });
    socket.push({ type: "error", code: "conversation_closed", message: "Conversation is closed", ref: "read:1" });

    // then: nothing for the page to show, and no more reads for an ended conversation
    assert.equal(events.filter(([name]) => name === "error").length, 0);
    client.markRead(1, 2);
    assert.equal(sentOfType(socket, "read").length, 1);
  });

  test("a refusal of the page's own frame reaches the page; one for the rate is sent again instead", () => {
    const harness = makeClient({ server: { burst: 2 } });
    const { client, events, clock } = harness;
    const socket = connect(harness);
    client.send({ type: "conversation.start", ref: "start" });
    client.send({ type: "conversation.leave_message", body: "hi", ref: "leave" });
    clock.advance(100);
    assert.deepEqual(sentOfType(socket, "conversation.leave_message").length, 2);
    socket.push({ type: "error", code: "invalid_field", message: "bad", ref: "start" });
    assert.deepEqual(events.filter(([name]) => name === "error").map(([, frame]) => frame.ref), ["start"]);
  });
});

describe("attachments", () => {
  test("a message with attachments carries their ids, and keeps them across a reload", () => {
    // given
    const storage = new MemoryStorage();
    const harness = makeClient({ storage });
    connect(harness, { conversations: [conversation(1, { last_seq: 0 })] });

    // when
    harness.client.sendMessage({ conversationId: 1, body: "", attachmentIds: [7, 8] });

    // then
    assert.deepEqual(sentOfType(harness.server.socket, "message.send"), [
      { type: "message.send", conversation_id: 1, client_msg_id: "id-1", body: "", attachment_ids: [7, 8], ref: "msg:id-1" },
    ]);
    const reloaded = makeClient({ storage });
    connect(reloaded, { conversations: [conversation(1, { last_seq: 0 })] });
    assert.deepEqual(sentOfType(reloaded.server.socket, "message.send")[0].attachment_ids, [7, 8]);
  });

  /** A fake XMLHttpRequest class that records each request and answers `status` and `body` when sent. */
  const fakeRequests = (calls, status, body, progress = []) =>
    class {
      constructor() {
        this.headers = {};
        this.upload = {};
      }
      open(method, url) {
        this.url = url;
      }
      setRequestHeader(name, value) {
        this.headers[name] = value;
      }
      send(form) {
        calls.push([this.url, this.headers.Authorization, form.get("file").name]);
        for (const [loaded, total] of progress) this.upload.onprogress?.({ loaded, total, lengthComputable: true });
        this.status = status;
        this.responseText = JSON.stringify(body);
        this.onload();
      }
    };

  test("an upload posts the file with the token and answers the attachment, or the server's refusal", async () => {
    const calls = [];
    const answer = (status, body) => fakeRequests(calls, status, body);
    const file = new Blob(["%PDF-1.7"]);
    const attachment = { id: 7, name: "a.pdf", content_type: "application/pdf", size: 8, url: "/api/attachments/7/download/?sig=s" };

    const stored = await uploadAttachment({ conversationId: 3, token: "t", file, name: "a.pdf", XMLHttpRequestImpl: answer(201, attachment) });
    const refused = await uploadAttachment({
      conversationId: 3, token: "t", file, name: "big.pdf",
      XMLHttpRequestImpl: answer(413, { code: "file_too_large", message: "The file is larger than 10 bytes" }),
    }).catch((error) => error);

    assert.deepEqual(stored, attachment);
    assert.ok(refused instanceof UploadRefused);
    assert.deepEqual([refused.code, refused.message], ["file_too_large", "The file is larger than 10 bytes"]);
    assert.deepEqual(calls, [
      ["/api/conversations/3/attachments/", "Token t", "a.pdf"],
      ["/api/conversations/3/attachments/", "Token t", "big.pdf"],
    ]);
  });

  test("an upload asks for the server's words in the page's language, which may not be the browser's", async () => {
    const seen = [];
    const recording = class extends fakeRequests([], 201, {}) {
      send(form) {
        seen.push(this.headers["Accept-Language"]);
        super.send(form);
      }
    };
    globalThis.document = /** @type {any} */ ({ documentElement: { lang: "zh-hans" } });
    try {
      await uploadAttachment({ conversationId: 5, token: "t", file: new Blob(["x"]), name: "c.txt", XMLHttpRequestImpl: recording });
    } finally {
      delete globalThis.document;
    }

    assert.deepEqual(seen, ["zh-hans"]);
  });

  test("an upload reports its progress in bytes sent of the total", async () => {
    const calls = [];
    const reported = [];
    const attachment = { id: 9, name: "b.pdf", content_type: "application/pdf", size: 8, url: "/api/attachments/9/download/?sig=s" };

    const stored = await uploadAttachment({
      conversationId: 4, csrfToken: "c", file: new Blob(["%PDF-1.7"]), name: "b.pdf",
      onProgress: (sent, total) => reported.push([sent, total]),
      XMLHttpRequestImpl: fakeRequests(calls, 201, attachment, [[0, 200], [120, 200], [200, 200]]),
    });

    assert.deepEqual(stored, attachment);
    assert.deepEqual(reported, [[0, 200], [120, 200], [200, 200]]);
  });
});
