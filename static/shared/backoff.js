// @ts-check
/** The one reconnect policy of the browser client: exponential backoff with jitter, capped. */

export const BACKOFF_FIRST_MS = 500;
export const BACKOFF_MAX_MS = 30000;

/**
 * How long to wait before attempt number `attempt` (0 for the first retry): 500 ms doubling up to 30 s, of which a
 * random half is taken off, so that many clients dropped together (a worker restart) do not return together.
 * @param {number} attempt
 * @param {() => number} [random] a number in [0, 1)
 * @returns {number} milliseconds
 */
export function reconnectDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(attempt, 16));
  return ceiling * (0.5 + random() / 2);
}
