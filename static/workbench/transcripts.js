/*
 * Reading a whole transcript over REST (`GET /api/conversations/{id}/messages/`), page by page: for conversations
 * the socket no longer carries (closed today, search results, the customer's history).
 */

const PAGE = 500;

/**
 * Every message of a conversation, in seq order.
 * @param {{ messagesUrl: string, getJson: (url: string) => Promise<any> }} api
 * @param {number} conversationId
 */
export async function fetchTranscript({ messagesUrl, getJson }, conversationId) {
  const messages = [];
  let afterSeq = 0;
  for (;;) {
    const url = `${messagesUrl.replace("{id}", encodeURIComponent(conversationId))}?after_seq=${afterSeq}&limit=${PAGE}`;
    const page = await getJson(url);
    messages.push(...page.messages);
    if (!page.has_more || !page.messages.length) return messages;
    afterSeq = page.next_after_seq;
  }
}
