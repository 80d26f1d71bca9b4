/*
 * The customer-service widget, embedded with one tag:
 *
 *   <script src="https://chat.example.com/static/widget/widget.js" data-business-line="KEY" defer></script>
 *
 * Optional attributes for a logged-in user of the site: data-external-id, data-identity-hash (hex
 * HMAC-SHA256 of the external id with the business line's identity secret, computed by the site's backend),
 * data-name, data-email.
 *
 * It adds a launcher button and a panel holding an <iframe> of the product's own chat page, so the chat's
 * CSS and JS never meet the host page's. The launcher and panel live in a shadow root for the same reason.
 * The frame and this script talk by postMessage only: identity in, unread count and "close" out.
 * Page API: window.CSWidget.open(), .close(), .toggle().
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
    ["name", "name"], ["email", "email"]]) {
    if (script.dataset[attribute]) identity[field] = script.dataset[attribute];
  }
  const chatUrl = new URL("/chat/", chatOrigin);
  chatUrl.search = new URLSearchParams({ business_line: businessLine, channel: "web", embed: "1" }).toString();
  const OPEN_KEY = "cs-widget-open";

  const STYLE = `
    :host { all: initial; }
    .launcher {
      position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
      width: 60px; height: 60px; border-radius: 50%; border: 0; padding: 0; cursor: pointer;
      background: linear-gradient(135deg, #4f46e5, #4338ca); color: #fff;
      box-shadow: 0 8px 24px rgba(67, 56, 202, .35), 0 2px 6px rgba(0, 0, 0, .15);
      display: grid; place-items: center; transition: transform .15s ease, box-shadow .15s ease;
      -webkit-tap-highlight-color: transparent;
    }
    .launcher:hover { transform: scale(1.06); }
    .launcher:focus-visible { outline: 3px solid #a5b4fc; outline-offset: 3px; }
    .launcher svg { width: 28px; height: 28px; }
    .launcher .icon-close { display: none; }
    :host([data-open]) .launcher .icon-chat { display: none; }
    :host([data-open]) .launcher .icon-close { display: block; }
    .badge {
      position: absolute; top: -4px; right: -4px; min-width: 22px; height: 22px; padding: 0 6px;
      box-sizing: border-box; border-radius: 11px; background: #e11d48; color: #fff; border: 2px solid #fff;
      font: 700 12px/18px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; text-align: center;
    }
    .badge[hidden] { display: none; }
    .panel {
      position: fixed; right: 20px; bottom: 92px; z-index: 2147483000;
      width: 380px; height: min(640px, calc(100vh - 120px)); border-radius: 16px; overflow: hidden;
      background: #fff; box-shadow: 0 18px 50px rgba(15, 23, 42, .25), 0 4px 12px rgba(15, 23, 42, .12);
      opacity: 0; transform: translateY(16px) scale(.98); transform-origin: bottom right;
      visibility: hidden; pointer-events: none;
      transition: opacity .18s ease, transform .18s ease, visibility 0s linear .18s;
    }
    :host([data-open]) .panel {
      opacity: 1; transform: none; visibility: visible; pointer-events: auto;
      transition: opacity .18s ease, transform .18s ease;
    }
    iframe { display: block; width: 100%; height: 100%; border: 0; }
    @media (max-width: 480px) {
      .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; }
      :host([data-open]) .launcher { display: none; }
    }
    @media (prefers-reduced-motion: reduce) { .panel, .launcher { transition: none; } }
  `;
  const CHAT_ICON = '<svg class="icon-chat" viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M12 3C6.9 3 3 6.5 3 10.9c0 2.4 1.2 4.6 3.1 6L5.4 20.4a.6.6 0 00.9.6l3.6-2.1c.7.1 1.4.2 2.1.2 5.1 0 9-3.5 9-8.1S17.1 3 12 3zm-4 9.2a1.2 1.2 0 110-2.4 1.2 1.2 0 010 2.4zm4 0a1.2 1.2 0 110-2.4 1.2 1.2 0 010 2.4zm4 0a1.2 1.2 0 110-2.4 1.2 1.2 0 010 2.4z"/></svg>';
  const CLOSE_ICON = '<svg class="icon-close" viewBox="0 0 24 24" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2.4" stroke-linecap="round"/></svg>';

  const host = document.createElement("div");
  host.id = "cs-widget";
  const root = host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = STYLE;

  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.setAttribute("aria-label", "Open the chat");
  launcher.setAttribute("aria-expanded", "false");
  launcher.innerHTML = CHAT_ICON + CLOSE_ICON; // constant markup, no user text
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.hidden = true;
  launcher.append(badge);

  const panel = document.createElement("div");
  panel.className = "panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Chat");
  const frame = document.createElement("iframe");
  frame.title = "Chat with us";
  frame.src = chatUrl.href;
  frame.setAttribute("allow", "clipboard-write");
  panel.append(frame);
  root.append(style, panel, launcher);

  let open = false;
  let frameReady = false;
  let unread = 0;

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
    let label = open ? "Close the chat" : "Open the chat";
    if (unread && !open) label = `Open the chat (${unread} unread)`;
    launcher.setAttribute("aria-label", label);
  }

  window.addEventListener("message", (event) => {
    if (event.origin !== chatOrigin || event.source !== frame.contentWindow) return;
    const data = event.data;
    if (!data || data.source !== "cs-chat") return;
    if (data.type === "ready") {
      frameReady = true;
      tellFrame({ type: "init", identity, open });
    } else if (data.type === "unread") {
      unread = Number.isInteger(data.count) && data.count > 0 ? data.count : 0;
      showUnread();
    } else if (data.type === "close") {
      setOpen(false);
      launcher.focus({ preventScroll: true });
    }
  });

  launcher.addEventListener("click", () => setOpen(!open));

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
  };
})();
