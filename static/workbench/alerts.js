/*
 * Never miss a chat: while the page is not in front of the agent (another tab, another window), a new assignment
 * or a new customer message plays a short sound (if the switch is on) and shows a desktop notification (if the
 * agent allowed them: asked once, from a banner, never by surprise). The tab's title counts unread messages
 * (workbench.js). Optionally, the agent goes `away` by themself after a chosen idle time, so routing stops giving
 * chats to a desk nobody sits at. The switch and the idle time are kept in localStorage, per browser.
 */
import { gettext, interpolate, ngettext } from "../shared/i18n.js";

const SOUND_KEY = "cs-workbench:sound";
const AUTO_AWAY_KEY = "cs-workbench:auto-away";
const NOTIFY_ASKED_KEY = "cs-workbench:notifications-asked";
const IDLE_CHECK_MS = 1000;
const BODY_PREVIEW = 140;

/** localStorage, or a stand-in when the browser refuses it (private modes): settings then last for the page. */
export function settingsStorage() {
  try {
    const storage = window.localStorage;
    storage.getItem(SOUND_KEY);
    return storage;
  } catch (error) {
    const values = new Map();
    return {
      getItem: (key) => (values.has(key) ? values.get(key) : null),
      setItem: (key, value) => values.set(key, String(value)),
      removeItem: (key) => values.delete(key),
    };
  }
}

/** The page is in front of the agent: its tab shown and its window focused. */
export function pageInFront() {
  return document.visibilityState === "visible" && document.hasFocus();
}

/** @param {any} shell what workbench.js shares (client, config, el, notify, customerName, select) */
export function installAlerts(shell) {
  const { client, config, el } = shell;
  const storage = settingsStorage();
  const soundSwitch = /** @type {HTMLInputElement} */ (document.getElementById("sound-switch"));
  const autoAway = /** @type {HTMLSelectElement} */ (document.getElementById("auto-away"));
  const prompt = document.getElementById("notify-prompt");
  let audio = null;
  let presence = null;
  let lastActivity = Date.now();

  // ---- Sound ----
  soundSwitch.checked = storage.getItem(SOUND_KEY) !== "off";
  soundSwitch.addEventListener("change", () => storage.setItem(SOUND_KEY, soundSwitch.checked ? "on" : "off"));

  /** Two short tones, made on the spot (no file to fetch, nothing for the CSP to allow). */
  function chime() {
    if (!soundSwitch.checked) return;
    const AudioContextClass = window.AudioContext || /** @type {any} */ (window).webkitAudioContext;
    if (!AudioContextClass) return;
    audio = audio || new AudioContextClass();
    if (audio.state === "suspended") audio.resume().catch(() => {});
    const start = audio.currentTime;
    [880, 1320].forEach((frequency, index) => {
      const tone = audio.createOscillator();
      const volume = audio.createGain();
      tone.frequency.value = frequency;
      volume.gain.setValueAtTime(0.0001, start + index * 0.15);
      volume.gain.exponentialRampToValueAtTime(0.2, start + index * 0.15 + 0.02);
      volume.gain.exponentialRampToValueAtTime(0.0001, start + index * 0.15 + 0.14);
      tone.connect(volume).connect(audio.destination);
      tone.start(start + index * 0.15);
      tone.stop(start + index * 0.15 + 0.15);
    });
  }

  // ---- Desktop notifications ----
  const canNotify = "Notification" in window;

  function renderPrompt() {
    prompt.hidden = !(canNotify && Notification.permission === "default" && storage.getItem(NOTIFY_ASKED_KEY) === null);
  }

  document.getElementById("notify-allow").addEventListener("click", async () => {
    storage.setItem(NOTIFY_ASKED_KEY, "asked");
    prompt.hidden = true;
    try {
      const answer = await Notification.requestPermission();
      if (answer !== "granted") shell.notify(gettext("Notifications stay off. You can allow them later in the browser's site settings."), "info");
    } catch (error) {
      shell.notify(gettext("This browser did not let the workbench ask for notifications."), "warning");
    }
  });
  document.getElementById("notify-dismiss").addEventListener("click", () => {
    storage.setItem(NOTIFY_ASKED_KEY, "dismissed");
    prompt.hidden = true;
  });

  function desktopNotice(title, body, conversationId) {
    if (!canNotify || Notification.permission !== "granted") return;
    try {
      const notice = new Notification(title, { body: body.slice(0, BODY_PREVIEW), tag: `cs-conversation-${conversationId}` });
      notice.addEventListener("click", () => {
        window.focus();
        shell.select(conversationId);
        notice.close();
      });
    } catch (error) {
      // Some browsers only show notifications from a service worker: the sound and the title still tell.
    }
  }

  function alert(title, body, conversationId) {
    if (pageInFront()) return;
    chime();
    desktopNotice(title, body, conversationId);
  }

  let justAssigned = null;
  client.on("conversation", ({ record, frame, previous }) => {
    if (frame.type !== "conversation.assigned" || !client.ready) return;
    const conversation = record.conversation;
    const wasMine = previous && previous.agent && previous.agent.id === config.agent_id && previous.status === "active";
    if (wasMine || frame.ref) return; // a reconnect's replay, or one I took myself
    // Its messages (what the customer wrote while waiting) come with it: one alert for both.
    justAssigned = conversation.id;
    queueMicrotask(() => (justAssigned = null));
    alert(
      interpolate(gettext("New conversation: %(customer)s"), { customer: shell.customerName(conversation) }),
      gettext("A customer is waiting for your answer."),
      conversation.id,
    );
  });

  client.on("messages", ({ record, messages }) => {
    if (!client.ready || record.id === justAssigned) return; // catching up after a reconnect is no news
    const fresh = messages.filter((message) => message.sender === "customer");
    if (!fresh.length) return;
    const last = fresh[fresh.length - 1];
    const text = last.body || (last.attachments && last.attachments.length ? gettext("sent a file") : "");
    alert(interpolate(gettext("%(customer)s wrote"), { customer: shell.customerName(record.conversation) }), text, record.id);
  });

  // ---- Auto-away ----
  autoAway.value = storage.getItem(AUTO_AWAY_KEY) || "0";
  if (autoAway.value === "") {
    // A stored idle time of a test or an older page that the menu does not list: keep it, as a choice of its own.
    const seconds = Number(storage.getItem(AUTO_AWAY_KEY)) || 0;
    autoAway.append(el("option", { value: String(seconds), text: interpolate(gettext("after %(seconds)s s"), { seconds }) }));
    autoAway.value = String(seconds);
  }
  autoAway.addEventListener("change", () => storage.setItem(AUTO_AWAY_KEY, autoAway.value));

  for (const name of ["pointerdown", "pointermove", "keydown", "wheel", "focus"]) {
    window.addEventListener(name, () => (lastActivity = Date.now()), { passive: true, capture: true });
  }
  client.on("hello", (hello) => {
    presence = hello.presence;
    lastActivity = Date.now();
  });
  client.on("frame", (frame) => {
    if (frame.type === "presence.state") {
      presence = frame.status;
      lastActivity = Date.now();
    }
  });

  setInterval(() => {
    const seconds = Number(autoAway.value) || 0;
    if (!seconds || presence !== "online" || Date.now() - lastActivity < seconds * 1000) return;
    if (client.send({ type: "presence.set", status: "away", ref: "auto-away" })) {
      presence = "away";
      const minutes = Math.round(seconds / 60);
      shell.notify(
        minutes >= 1
          ? interpolate(
              ngettext(
                "You were set to Away after %(count)s minute without activity: no new chats come to you. Go Online when you are back.",
                "You were set to Away after %(count)s minutes without activity: no new chats come to you. Go Online when you are back.",
                minutes,
              ),
              { count: minutes },
            )
          : interpolate(
              gettext("You were set to Away after %(count)s seconds without activity: no new chats come to you. Go Online when you are back."),
              { count: seconds },
            ),
        "warning",
      );
    }
  }, IDLE_CHECK_MS);

  renderPrompt();
}
