// @ts-check
/**
 * One conversation as this client holds it: the server's conversation object exactly as last sent, its messages
 * keyed by `seq` (so acks, pushes and sync results that repeat each other show once), and what is needed to find
 * and fill gaps (docs/protocol.md, "Delivery guarantees and what a client does").
 *
 * @typedef {import("./types.js").Conversation} Conversation
 * @typedef {import("./types.js").Message} Message
 */

export class ConversationRecord {
  /** @param {number} id */
  constructor(id) {
    this.id = id;
    /** @type {Conversation | null} the last conversation object the server sent; never changed here */
    this.conversation = null;
    /**
     * Whether the server listed this conversation among the open ones of the socket it last connected (a customer's
     * `conversation.state`, an agent's `conversation.assigned`, sent unasked after `hello`): `false` means it ended
     * (or, for an agent, was taken away) while this page was not connected.
     */
    this.announced = true;
    /** @type {Map<number, Message>} */
    this.messages = new Map();
    this.highestSeq = 0;
    /** every seq up to here is held, or known not to be visible to this side (a customer skips internal notes) */
    this.contiguousSeq = 0;
    this.syncing = false;
    this.syncAgain = false;
    this.syncTarget = 0;
    /** the highest seq the other side said it has read (a relayed `read` frame) */
    this.otherReadSeq = 0;
    /** the highest seq this side has reported read */
    this.readSentSeq = 0;
  }

  /**
   * Keeps the messages not held yet; returns those, in seq order.
   * @param {Message[]} messages
   * @returns {Message[]}
   */
  add(messages) {
    /** @type {Message[]} */
    const added = [];
    for (const message of messages) {
      if (this.messages.has(message.seq)) continue;
      this.messages.set(message.seq, message);
      this.highestSeq = Math.max(this.highestSeq, message.seq);
      added.push(message);
    }
    this.advance();
    return added.sort((a, b) => a.seq - b.seq);
  }

  /**
   * Every seq up to `seq` is accounted for (a complete `sync.result` said so).
   * @param {number} seq
   */
  heldThrough(seq) {
    this.contiguousSeq = Math.max(this.contiguousSeq, seq);
    this.advance();
  }

  advance() {
    while (this.messages.has(this.contiguousSeq + 1)) this.contiguousSeq += 1;
  }

  /** Something is missing: a seq held past a hole, or the server's `last_seq` past what is held. */
  behind() {
    const lastSeq = this.conversation ? this.conversation.last_seq : 0;
    return this.highestSeq > this.contiguousSeq || lastSeq > this.contiguousSeq;
  }

  /** @returns {Message[]} */
  sorted() {
    return [...this.messages.values()].sort((a, b) => a.seq - b.seq);
  }
}
