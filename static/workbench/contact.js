/*
 * The contact panel's second half: where the customer is and what the site says about them. From the customer
 * object of `GET /api/customers/{id}/conversations/` (its `context`, `attributes` and `conversation_count`); the
 * page address and referrer as links that open safely (http and https only, in a new tab, no referrer, no
 * opener). A `customer.updated` push (their page moved, the site set attributes) reloads it.
 */
import { gettext, interpolate, pageLanguage } from "../shared/i18n.js";

const CONTEXT_FIELDS = ["page_url", "page_title", "referrer", "language", "time_zone", "user_agent"];

/** "Chrome 131 on Windows": enough for an agent to picture the customer's screen, no library needed. */
export function describeBrowser(userAgent) {
  if (!userAgent) return "";
  const browsers = [
    ["Edge", /Edg(?:e|A|iOS)?\/(\d+)/],
    ["Opera", /OPR\/(\d+)/],
    ["Samsung Internet", /SamsungBrowser\/(\d+)/],
    ["WeChat", /MicroMessenger\/(\d+)/],
    ["Firefox", /(?:Firefox|FxiOS)\/(\d+)/],
    ["Chrome", /(?:Chrome|CriOS)\/(\d+)/],
    ["Safari", /Version\/(\d+)[\d.]* (?:Mobile\/\S+ )?Safari/],
  ];
  const systems = [
    ["iOS", /iPhone|iPad|iPod/],
    ["Android", /Android/],
    ["Windows", /Windows/],
    ["macOS", /Mac OS X|Macintosh/],
    ["ChromeOS", /CrOS/],
    ["Linux", /Linux/],
  ];
  let browser = "";
  for (const [name, pattern] of browsers) {
    const match = userAgent.match(pattern);
    if (match) {
      browser = `${name} ${match[1]}`;
      break;
    }
  }
  const system = (systems.find(([, pattern]) => pattern.test(userAgent)) || [""])[0];
  if (!browser && !system) return userAgent.slice(0, 80);
  if (!system) return browser;
  return interpolate(gettext("%(browser)s on %(system)s"), { browser: browser || gettext("A browser"), system });
}

/** A link for an address of the customer's page, or plain text when it is not http(s) (never `javascript:`). */
function safeLink(el, address, text) {
  let url = null;
  try {
    url = new URL(address);
  } catch (error) {
    url = null;
  }
  if (!url || !["http:", "https:"].includes(url.protocol)) return el("span", { text: text || address });
  return el("a", { href: url.href, text: text || url.href, target: "_blank", rel: "noopener noreferrer nofollow" });
}

function localTime(timeZone) {
  try {
    return new Date().toLocaleTimeString(pageLanguage(), { timeZone, hour: "2-digit", minute: "2-digit" });
  } catch (error) {
    return "";
  }
}

/** A browser's language tag (`en-GB`) named in the reader's language; the tag itself where Intl cannot name it. */
function languageName(tag) {
  try {
    return new Intl.DisplayNames([pageLanguage()], { type: "language" }).of(tag) || tag;
  } catch (error) {
    return tag;
  }
}

/** @param {any} shell what workbench.js shares (client, el, selected, reloadCustomer, formatTime) */
export function installContact(shell) {
  const { el } = shell;
  const heading = document.getElementById("contact-heading");
  const details = document.getElementById("contact-details");

  function render(data, rec) {
    if (!data || !rec) {
      heading.hidden = true;
      details.hidden = true;
      details.replaceChildren();
      return;
    }
    const customer = data.customer;
    const context = customer.context || {};
    const rows = [];
    if (context.page_url) rows.push([gettext("Page"), safeLink(el, context.page_url, context.page_title || context.page_url)]);
    if (context.referrer) rows.push([gettext("Came from"), safeLink(el, context.referrer)]);
    const browser = describeBrowser(context.user_agent || "");
    if (browser) rows.push([gettext("Browser"), el("span", { text: browser, title: context.user_agent })]);
    if (context.language) {
      rows.push([gettext("Language"), el("span", { text: languageName(context.language), title: context.language, "data-language": context.language })]);
    }
    if (context.time_zone) {
      const now = localTime(context.time_zone);
      rows.push([
        gettext("Time zone"),
        el("span", { text: now ? interpolate(gettext("%(zone)s (%(time)s there)"), { zone: context.time_zone, time: now }) : context.time_zone }),
      ]);
    }
    const earlier = Math.max(0, (Number(customer.conversation_count) || 0) - 1);
    rows.push([gettext("Earlier chats"), el("span", { text: String(earlier), "data-earlier": String(earlier) })]);
    for (const [key, value] of Object.entries(customer.attributes || {})) {
      rows.push([key, el("span", { class: "wb-attribute", text: value === null ? "—" : String(value) })]);
    }
    details.replaceChildren(...rows.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", {}, value)]));
    heading.hidden = false;
    details.hidden = false;
  }

  shell.client.on("frame", (frame) => {
    if (frame.type !== "customer.updated") return;
    const rec = shell.selected();
    if (rec && rec.conversation && rec.conversation.customer.id === frame.customer_id) shell.reloadCustomer(frame.customer_id);
  });

  return { render, fields: CONTEXT_FIELDS };
}
