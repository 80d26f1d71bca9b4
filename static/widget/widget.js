/*
 * The customer-service widget, embedded with one tag:
 *
 *   <script src="https://chat.example.com/static/widget/widget.js" data-business-line="KEY" defer></script>
 *
 * Optional attributes for a logged-in user of the site: data-external-id, data-identity-hash (hex
 * HMAC-SHA256 of the external id with the business line's identity secret, computed by the site's backend),
 * data-identity-expires (unix seconds; then the hash is of "external_id:identity_expires"), data-name,
 * data-email. data-lang="zh-hans" (or "en", or any BCP 47 tag such as "zh-CN") picks the chat's language; without it,
 * the browser's. data-sound="off" turns off the short tone a new message makes while the chat is closed or the page
 * hidden (the customer can also mute it in the panel; remembered).
 *
 * It adds a launcher button and a panel holding an <iframe> of the product's own chat page, so the chat's
 * CSS and JS never meet the host page's. The launcher and panel live in a shadow root for the same reason.
 * The frame and this script talk by postMessage only: identity (and data-sound) in; unread count, "chime" and
 * "close" out.
 * Page API: window.CSWidget.open(), .close(), .toggle(), and .setAttributes({plan: "pro", cart_total: 42}): facts
 * about the visitor the agents see in their contact panel (flat; text, numbers, true/false or null), merged over
 * the ones set before. The page's address, title and referrer, the browser's language and time zone go with them.
 * A page with a Content-Security-Policy allows the chat's origin in script-src, style-src (widget.css) and
 * frame-src; nothing inline is needed.
 */
(() => {
  "use strict";

  const script = document.currentScript;
  if (!script || window.CSWidget) return;
  const businessLine = script.dataset.businessLine;
  if (!businessLine) {
    console.error("[cs-widget] the script tag needs data-business-line=\"YOUR_WIDGET_KEY\"");
    return;
  }

  const chatOrigin = new URL(script.src, window.location.href).origin;
  const identity = {};
  for (const [attribute, field] of [["externalId", "external_id"], ["identityHash", "identity_hash"],
    ["identityExpires", "identity_expires"], ["name", "name"], ["email", "email"]]) {
    if (script.dataset[attribute]) identity[field] = script.dataset[attribute];
  }
  const chatUrl = new URL("/chat/", chatOrigin);
  const params = { business_line: businessLine, channel: "web", embed: "1" };
  // data-preview="1": the admin's preview of a business line's widget; its chat opens no session.
  if (script.dataset.preview === "1") params.preview = "1";
  // The chat's language: the embedding page's `data-lang`, else the browser's (docs/i18n.md).
  const lang = script.dataset.lang || navigator.language || "";
  if (lang) params.lang = lang;
  chatUrl.search = new URLSearchParams(params).toString();
  const OPEN_KEY = "cs-widget-open";
  const soundOn = script.dataset.sound !== "off";

  const CHAT_ICON = '<svg class="icon-chat" viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M12 3C6.9 3 3 6.5 3 10.9c0 2.4 1.2 4.6 3.1 6L5.4 20.4a.6.6 0 00.9.6l3.6-2.1c.7.1 1.4.2 2.1.2 5.1 0 9-3.5 9-8.1S17.1 3 12 3zm-4 9.2a1.2 1.2 0 110-2.4 1.2 1.2 0 010 2.4zm4 0a1.2 1.2 0 110-2.4 1.2 1.2 0 010 2.4zm4 0a1.2 1.2 0 110-2.4 1.2 1.2 0 010 2.4z"/></svg>';
  const CLOSE_ICON = '<svg class="icon-close" viewBox="0 0 24 24" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2.4" stroke-linecap="round"/></svg>';

  const host = document.createElement("div");
  host.id = "cs-widget";
  const root = host.attachShadow({ mode: "open" });
  // Styles from a file beside this script (a page's Content-Security-Policy may forbid inline styles); the widget
  // shows once they apply.
  const style = document.createElement("link");
  style.rel = "stylesheet";
  style.href = new URL("widget.css", script.src).href;

  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.setAttribute("aria-label", "Open the chat");
  launcher.setAttribute("aria-expanded", "false");
  launcher.innerHTML = CHAT_ICON + CLOSE_ICON; // constant markup, no user text
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.hidden = true;
  const launcherText = document.createElement("span");
  launcherText.className = "launcher-text";
  launcherText.hidden = true;
  launcher.append(launcherText, badge);

  const panel = document.createElement("div");
  panel.className = "panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Chat");
  const frame = document.createElement("iframe");
  frame.title = "Chat with us";
  frame.src = chatUrl.href;
  frame.setAttribute("allow", "clipboard-write");
  panel.append(frame);
  panel.hidden = true;
  launcher.hidden = true;
  style.addEventListener("load", () => {
    panel.hidden = false;
    launcher.hidden = false;
  });
  style.addEventListener("error", () => console.error(`[cs-widget] could not load ${style.href}`));
  root.append(style, panel, launcher);

  let open = false;
  let frameReady = false;
  let unread = 0;
  const attributes = {};

  /** Where the visitor is: for the agent's contact panel (the frame only sees its own address). */
  function pageContext() {
    let timeZone = "";
    try {
      timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      timeZone = "";
    }
    return {
      page_url: window.location.href.slice(0, 2000),
      page_title: document.title.slice(0, 300),
      referrer: document.referrer.slice(0, 2000),
      language: (navigator.language || "").slice(0, 35),
      time_zone: timeZone.slice(0, 64),
    };
  }

  function setAttributes(values) {
    if (!values || typeof values !== "object" || Array.isArray(values)) {
      console.error("[cs-widget] setAttributes takes an object, e.g. {plan: \"pro\"}");
      return;
    }
    for (const [key, value] of Object.entries(values)) {
      if (value === null || ["string", "number", "boolean"].includes(typeof value)) attributes[key] = value;
      else console.error(`[cs-widget] attribute ${key}: text, a number, true, false or null only`);
    }
    tellFrame({ type: "context", context: pageContext(), attributes: { ...attributes } });
  }
  // The launcher's words until the chat page sends them in its language (its "ready" message).
  const strings = {
    open: "Open the chat",
    close: "Close the chat",
    open_unread: "Open the chat (%(count)s unread)",
    panel: "Chat",
    frame: "Chat with us",
  };

  function tellFrame(message) {
    if (frameReady && frame.contentWindow) {
      frame.contentWindow.postMessage({ source: "cs-widget", ...message }, chatOrigin);
    }
  }

  function setOpen(value) {
    open = Boolean(value);
    host.toggleAttribute("data-open", open);
    launcher.setAttribute("aria-expanded", String(open));
    try {
      window.sessionStorage.setItem(OPEN_KEY, open ? "1" : "");
    } catch (error) {
      /* storage blocked: the panel just starts closed on the next page */
    }
    tellFrame({ type: "visibility", open });
    showUnread();
  }

  function showUnread() {
    badge.hidden = unread === 0 || open;
    badge.textContent = unread > 9 ? "9+" : String(unread);
    let label = open ? strings.close : strings.open;
    if (unread && !open) label = strings.open_unread.replace("%(count)s", String(unread));
    launcher.setAttribute("aria-label", label);
  }

  window.addEventListener("message", (event) => {
    if (event.origin !== chatOrigin || event.source !== frame.contentWindow) return;
    const data = event.data;
    if (!data || data.source !== "cs-chat") return;
    if (data.type === "ready") {
      frameReady = true;
      applyStrings(data.strings || {});
      applyAppearance(data.appearance || {});
      tellFrame({ type: "init", identity, open, sound: soundOn, context: pageContext(), attributes: { ...attributes } });
    } else if (data.type === "unread") {
      unread = Number.isInteger(data.count) && data.count > 0 ? data.count : 0;
      showUnread();
    } else if (data.type === "chime") {
      chime();
    } else if (data.type === "close") {
      setOpen(false);
      launcher.focus({ preventScroll: true });
    }
  });

  // The tone for a new message (the frame asks; static/shared/tone.js, loaded when first needed): played by this page,
  // because the browser allows sound where the customer clicked, and the launcher is here.
  let tone = null;
  function chime() {
    if (!soundOn) return;
    tone = tone || import(new URL("../shared/tone.js", script.src).href);
    tone.then((module) => module.playTone()).catch(() => {
      tone = null;
    });
  }

  /** The launcher's and panel's labels, translated by the chat page. */
  function applyStrings(given) {
    for (const key of Object.keys(strings)) {
      if (typeof given[key] === "string" && given[key]) strings[key] = given[key];
    }
    panel.setAttribute("aria-label", strings.panel);
    frame.title = strings.frame;
    showUnread();
  }

  /** The business line's launcher (admin): colour, side of the page, text beside the icon. */
  function applyAppearance(appearance) {
    if (/^#[0-9a-fA-F]{6}$/.test(appearance.color || "")) host.style.setProperty("--cs-brand", appearance.color);
    host.dataset.position = appearance.position === "left" ? "left" : "right";
    const text = typeof appearance.launcher_text === "string" ? appearance.launcher_text.trim() : "";
    launcherText.textContent = text;
    launcherText.hidden = !text;
    launcher.classList.toggle("has-text", Boolean(text));
  }

  launcher.addEventListener("click", () => setOpen(!open));
  // A page that changes its address without loading (a single-page app) tells the frame where it went.
  for (const name of ["popstate", "hashchange"]) {
    window.addEventListener(name, () => tellFrame({ type: "context", context: pageContext(), attributes: { ...attributes } }));
  }

  function mount() {
    document.body.append(host);
    let remembered = false;
    try {
      remembered = window.sessionStorage.getItem(OPEN_KEY) === "1";
    } catch (error) {
      remembered = false;
    }
    if (remembered) setOpen(true);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  window.CSWidget = {
    open: () => setOpen(true),
    close: () => setOpen(false),
    toggle: () => setOpen(!open),
    setAttributes,
  };
})();
