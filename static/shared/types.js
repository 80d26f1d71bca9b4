// @ts-check
/**
 * The shapes of docs/protocol.md that the browser client reads, as JSDoc types (checked by `tsc --checkJs`).
 * Only what the client itself uses is spelled out; the rest of a frame passes through to the page untouched.
 *
 * @typedef {"customer" | "agent"} Role
 * @typedef {"waiting" | "active" | "closed" | "missed"} ConversationStatus
 *
 * @typedef {object} Message
 * @property {number} id
 * @property {number} conversation_id
 * @property {number} seq
 * @property {"customer" | "agent" | "system"} sender
 * @property {string} body
 * @property {string | null} client_msg_id
 * @property {string} created_at
 * @property {string} [event]
 * @property {Record<string, string>} [params]  a system message's parameters, for its text in the reader's language
 * @property {number} [agent_id]
 * @property {{id: number, name: string}} [author]  who wrote a supervisor's whisper (agents' and supervisors' sockets)
 * @property {boolean} [internal]
 * @property {{url: string, name: string}} [attachment]
 * @property {Attachment[]} [attachments]  the files sent with it (docs/protocol.md, "Attachment")
 *
 * @typedef {object} Attachment
 * @property {number} id
 * @property {string} name
 * @property {string} content_type
 * @property {number} size
 * @property {string} url  a signed path on the server, valid for ATTACHMENT_LINK_MAX_AGE seconds
 * @property {number} [width]  images only
 * @property {number} [height]  images only
 * @property {string} [thumbnail_url]  images only: a WebP of at most 320x320
 *
 * @typedef {object} Conversation
 * @property {number} id
 * @property {ConversationStatus} status
 * @property {string} channel
 * @property {string} business_line
 * @property {{id: number, name: string, email: string}} customer
 * @property {{id: number, name: string} | null} agent
 * @property {number | null} queue_position
 * @property {number} last_seq
 * @property {string} started_at
 * @property {string | null} closed_at
 * @property {string | null} close_reason
 * @property {number} [estimated_wait_seconds]
 * @property {boolean} [offline]
 * @property {boolean} [leave_message]
 *
 * @typedef {object} Limits
 * @property {number} max_frame_bytes
 * @property {number} max_body_chars
 * @property {number} rate_per_second
 * @property {number} rate_burst
 * @property {number} sync_limit
 * @property {number} max_outgoing_frame_bytes
 *
 * @typedef {object} HelloFrame
 * @property {"hello"} type
 * @property {Role} role
 * @property {number} [customer_id]
 * @property {number} [agent_id]
 * @property {boolean} [offline]
 * @property {string} [presence]
 * @property {number} heartbeat
 * @property {Limits} limits
 *
 * @typedef {{type: string, ref?: string | number | null, [field: string]: unknown}} Frame
 *
 * @typedef {object} ErrorFrame
 * @property {"error"} type
 * @property {string} code
 * @property {string} message
 * @property {string | number | null} [ref]
 *
 * @typedef {object} SocketLike  What the client needs of a WebSocket (the browser's, or a test's fake).
 * @property {number} readyState
 * @property {(data: string) => void} send
 * @property {(code?: number) => void} close
 * @property {(type: string, listener: (event: any) => void) => void} addEventListener
 *
 * @typedef {object} Clock  Time and timers (the browser's, or a test's manual clock).
 * @property {() => number} now  milliseconds
 * @property {(callback: () => void, ms: number) => unknown} setTimeout
 * @property {(handle: unknown) => void} clearTimeout
 *
 * @typedef {object} StorageLike  The part of the Web Storage API used to keep state across reloads.
 * @property {(key: string) => string | null} getItem
 * @property {(key: string, value: string) => void} setItem
 */
export {};
