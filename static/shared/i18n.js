// @ts-check
/**
 * The page's language: Django's JavaScript catalog (`/jsi18n/?lang=`, an external script loaded before the ES
 * modules, docs/i18n.md) defines `django.gettext` and friends; without it (node's tests) the English text stands.
 * Dates and numbers through Intl in the page's language (`<html lang>`). System messages (assigned, transferred,
 * closed, ...) are written here from their `event` and `params`, in the reader's language; the stored `body` is the
 * fallback for an event this client does not know.
 */

/**
 * @typedef {object} DjangoCatalog
 * @property {(msgid: string) => string} gettext
 * @property {(singular: string, plural: string, count: number) => string} ngettext
 */

/** @returns {DjangoCatalog | undefined} */
function catalog() {
  const django = /** @type {{django?: DjangoCatalog}} */ (globalThis).django;
  return django && typeof django.gettext === "function" ? django : undefined;
}

/** @param {string} msgid @returns {string} */
export function gettext(msgid) {
  const django = catalog();
  return django ? django.gettext(msgid) : msgid;
}

/** @param {string} singular @param {string} plural @param {number} count @returns {string} */
export function ngettext(singular, plural, count) {
  const django = catalog();
  if (django) return django.ngettext(singular, plural, count);
  return count === 1 ? singular : plural;
}

/**
 * `%(name)s` placeholders filled from `values` (Django's named interpolation, the form the .po files keep).
 * @param {string} text @param {Record<string, string | number>} values @returns {string}
 */
export function interpolate(text, values) {
  return text.replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** The page's language (BCP 47), as the server wrote it in `<html lang>`. */
export function pageLanguage() {
  return (typeof document !== "undefined" && document.documentElement.lang) || "en";
}

/** @param {string | Date} when @returns {string} the time of day, as the reader's language writes it */
export function formatTime(when) {
  return new Intl.DateTimeFormat(pageLanguage(), { hour: "2-digit", minute: "2-digit" }).format(new Date(when));
}

/** @param {string | Date} when @returns {string} the day, as the reader's language writes it */
export function formatDate(when) {
  return new Intl.DateTimeFormat(pageLanguage(), { dateStyle: "medium" }).format(new Date(when));
}

/** @param {number} value @returns {string} */
export function formatNumber(value) {
  return new Intl.NumberFormat(pageLanguage()).format(value);
}

/**
 * A system message in the reader's language. The customer never reads an agent's name in a notice about that agent
 * not answering.
 * @param {{event?: string, params?: Record<string, string>, body: string}} message
 * @param {"customer" | "agent"} reader
 * @returns {string}
 */
export function systemMessageText(message, reader) {
  const params = message.params || {};
  switch (message.event) {
    case "assigned":
      return params.agent ? interpolate(gettext("%(agent)s joined the conversation."), params) : message.body;
    case "reassigned":
      if (reader === "customer") return gettext("Sorry for the wait: another agent is taking over.");
      return params.agent ? interpolate(gettext("%(agent)s did not answer in time; reassigning."), params) : message.body;
    case "transferred":
      if (params.line) return interpolate(gettext("Transferred to %(line)s; waiting for an agent."), params);
      if (params.agent && reader === "customer") return interpolate(gettext("Transferred to %(agent)s."), params);
      if (params.agent && params.by) {
        return interpolate(gettext("%(by)s transferred the conversation to %(agent)s."), params);
      }
      return message.body;
    case "requeued":
      if (params.by === "hand_back") return gettext("Your agent had to step away; another agent will be with you shortly.");
      if (reader === "customer") return gettext("Your agent was disconnected; finding another agent for you.");
      return gettext("The agent was disconnected; finding another agent.");
    case "closed":
      if (params.by === "agent") return gettext("The agent closed the conversation.");
      if (params.by === "customer") return gettext("The customer closed the conversation.");
      if (params.by === "idle") return gettext("The conversation was closed because there was no reply for a while.");
      if (params.by === "answer") return gettext("An agent answered your message.");
      return message.body;
    case "missed":
      return gettext("Sorry, nobody is free right now. Leave us a message and we will get back to you.");
    case "left_message":
      return gettext("Thanks! We got your message and will get back to you.");
    default:
      return message.body;
  }
}
