// @ts-check
/**
 * Messages written on this side and not yet acknowledged. Each keeps its `client_msg_id` for ever, so a resend
 * (after a reconnect, a `rate_limited` refusal or a reload) is stored once by the server. One message per
 * conversation is on the wire at a time, so they are stored in the order they were written even when the server
 * refuses one of them.
 *
 * @typedef {"queued" | "sending" | "failed"} OutboxStatus
 * @typedef {object} OutboxItem
 * @property {string} client_msg_id
 * @property {number | null} conversation_id  null until the conversation exists (written before it started)
 * @property {string} body
 * @property {boolean} internal  an agent's internal note
 * @property {number[]} attachment_ids  uploaded files sent with it (`POST /api/conversations/{id}/attachments/`)
 * @property {OutboxStatus} status
 * @property {string | null} error  the error code of a refusal that is not retried
 * @typedef {{client_msg_id: string, conversation_id: number | null, body: string, internal?: boolean,
 *   attachment_ids?: number[]}} SavedItem
 */

export class Outbox {
  constructor() {
    /** @type {Map<string, OutboxItem>} in the order written */
    this.items = new Map();
  }

  /**
   * @param {string} clientMsgId
   * @param {number | null} conversationId
   * @param {string} body
   * @param {boolean} internal
   * @param {number[]} [attachmentIds]
   * @returns {OutboxItem}
   */
  add(clientMsgId, conversationId, body, internal, attachmentIds = []) {
    const item = { client_msg_id: clientMsgId, conversation_id: conversationId, body, internal, attachment_ids: attachmentIds, status: /** @type {OutboxStatus} */ ("queued"), error: null };
    this.items.set(clientMsgId, item);
    return item;
  }

  /**
   * Items saved before a reload, unless already held; returns the ones added.
   * @param {SavedItem[]} saved
   * @returns {OutboxItem[]}
   */
  restore(saved) {
    /** @type {OutboxItem[]} */
    const restored = [];
    for (const entry of saved) {
      if (!entry || typeof entry.client_msg_id !== "string" || typeof entry.body !== "string") continue;
      if (this.items.has(entry.client_msg_id)) continue;
      const conversationId = typeof entry.conversation_id === "number" ? entry.conversation_id : null;
      const attachmentIds = Array.isArray(entry.attachment_ids) ? entry.attachment_ids.filter((id) => Number.isInteger(id)) : [];
      restored.push(this.add(entry.client_msg_id, conversationId, entry.body, Boolean(entry.internal), attachmentIds));
    }
    return restored;
  }

  /** @param {string} clientMsgId */
  get(clientMsgId) {
    return this.items.get(clientMsgId);
  }

  /** @param {string} clientMsgId */
  remove(clientMsgId) {
    const item = this.items.get(clientMsgId);
    this.items.delete(clientMsgId);
    return item;
  }

  /**
   * The next item to put on the wire for each conversation that has none on it.
   * @returns {OutboxItem[]}
   */
  due() {
    /** @type {Map<number, OutboxItem | null>} */
    const next = new Map();
    for (const item of this.items.values()) {
      if (item.conversation_id === null || item.status === "failed") continue;
      const id = item.conversation_id;
      if (item.status === "sending") next.set(id, null);
      else if (!next.has(id)) next.set(id, item);
    }
    return /** @type {OutboxItem[]} */ ([...next.values()].filter(Boolean));
  }

  /** The socket went away: what was on the wire is sent again on the next one. */
  requeue() {
    for (const item of this.items.values()) {
      if (item.status === "sending") item.status = "queued";
    }
  }

  /** @returns {SavedItem[]} what a reload should send again (refused ones are shown, not kept) */
  saved() {
    return [...this.items.values()]
      .filter((item) => item.status !== "failed")
      .map((item) => ({
        client_msg_id: item.client_msg_id,
        conversation_id: item.conversation_id,
        body: item.body,
        ...(item.internal ? { internal: true } : {}),
        ...(item.attachment_ids.length ? { attachment_ids: item.attachment_ids } : {}),
      }));
  }
}
