// @ts-check
/**
 * The tone for a new message the customer is not looking at: made with the Web Audio API (no sound file to fetch),
 * short and quiet. Browsers let a page make sound only once the person has used it (a click, a key); before that
 * this plays nothing rather than queue a sound for later. Used by the H5 page (chat.js) and, loaded when first
 * needed, by the embedding page's loader (widget.js), whose launcher the customer clicked.
 */

/** @type {AudioContext | null} */
let context = null;

/** @returns {boolean} whether the browser says the person has used this page (true where it cannot say) */
function pageWasUsed() {
  const activation = /** @type {{userActivation?: {hasBeenActive: boolean}}} */ (globalThis.navigator || {})
    .userActivation;
  return activation ? activation.hasBeenActive : true;
}

/** @returns {boolean} whether a tone started */
export function playTone() {
  const Context = globalThis.AudioContext;
  if (!Context || !pageWasUsed()) return false;
  try {
    context = context || new Context();
    if (context.state === "suspended") context.resume().catch(() => undefined);
    const start = context.currentTime;
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = "sine";
    oscillator.frequency.setValueAtTime(880, start);
    oscillator.frequency.setValueAtTime(1175, start + 0.1);
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.35);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(start);
    oscillator.stop(start + 0.35);
    return true;
  } catch (error) {
    return false; // no audio output here: the unread badge still says it
  }
}
