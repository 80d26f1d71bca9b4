// static/shared/tone.js: a tone only once the person has used the page (the browsers' autoplay rule), one
// oscillator per tone, one audio context for them all, and no error where the page has no audio.
import { test } from "node:test";
import assert from "node:assert/strict";

import { playTone } from "../../static/shared/tone.js";

function fakeAudio() {
  const made = { contexts: 0, started: 0 };
  const param = { setValueAtTime() {}, exponentialRampToValueAtTime() {} };
  const node = () => ({ connect: (next) => next, start: () => { made.started += 1; }, stop() {}, frequency: param, gain: param });
  globalThis.AudioContext = class {
    constructor() {
      made.contexts += 1;
      this.state = "running";
      this.currentTime = 0;
      this.destination = {};
    }
    createOscillator() { return node(); }
    createGain() { return node(); }
  };
  return made;
}

function pageUsed(used) {
  Object.defineProperty(globalThis, "navigator", { value: { userActivation: { hasBeenActive: used } }, configurable: true });
}

test("before the person has used the page: silence, and no audio context", () => {
  const made = fakeAudio();
  pageUsed(false);
  assert.equal(playTone(), false);
  assert.deepEqual(made, { contexts: 0, started: 0 });
});

test("once used: one oscillator per tone, one context for all", () => {
  const made = fakeAudio();
  pageUsed(true);
  assert.equal(playTone(), true);
  assert.equal(playTone(), true);
  assert.deepEqual(made, { contexts: 1, started: 2 });
});

test("no Web Audio in this browser: nothing, and no error", () => {
  pageUsed(true);
  delete globalThis.AudioContext;
  assert.equal(playTone(), false);
});
