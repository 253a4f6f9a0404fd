// Following the events: `GET /events/stream` read with fetch (so that the bearer
// token goes in a header, which EventSource cannot send), long polls of
// `/events` where the server offers no stream. The position is the offset of
// the last event handed over: a reconnect resumes after it, and an event at or
// below it is never handed over twice.

import { authHeaders, errorOf, ApiError } from "./api.js";

const STALL_MS = 45000; // no byte for this long: the stream is given up and reopened
const POLL_S = 25;

export class Feed {
  // onEvent(event) for each event; onResync(status) after a 409; onState("live"|"offline"|"polling").
  constructor({ after, log, onEvent, onResync, onState, onUnauthorized }) {
    this.after = after;
    this.log = log;
    this.onEvent = onEvent;
    this.onResync = onResync;
    this.onState = onState;
    this.onUnauthorized = onUnauthorized;
    this.useStream = true;
    this.stopped = false;
    this.controller = null;
    this.retryMs = 1000;
    this.failures = 0;
  }

  start() {
    this.loop();
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
  }

  // Drop the current connection and reconnect at once (e.g. when the page comes back online).
  kick() {
    if (this.controller) this.controller.abort();
  }

  async loop() {
    while (!this.stopped) {
      try {
        if (this.useStream) {
          await this.followStream();
          if (!this.stopped && this.useStream) await sleep(this.retryMs); // the stream ended
        } else {
          await this.poll();
        }
        this.failures = 0;
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof ApiError) {
          if (error.status === 401) { this.onUnauthorized(error); return; }
          if (error.status === 409) { await this.resync(error); continue; }
        }
        this.onState("offline");
        this.failures += 1;
        await sleep(Math.min(5000, 200 * 2 ** (this.failures - 1)));
      }
    }
  }

  async resync(error) {
    const status = await this.onResync(error);
    this.after = status.offset;
    this.log = status.log;
  }

  deliver(event) {
    if (typeof event.offset !== "number" || event.offset <= this.after) return; // seen already
    this.after = event.offset;
    this.onEvent(event);
  }

  async followStream() {
    const controller = new AbortController();
    this.controller = controller;
    const query = new URLSearchParams({ after: String(this.after) });
    if (this.log) query.set("log", this.log);
    let timer = setTimeout(() => controller.abort(), STALL_MS);
    try {
      const response = await fetch(`/events/stream?${query}`, {
        headers: authHeaders({ Accept: "text/event-stream" }),
        signal: controller.signal,
        cache: "no-store",
      });
      if ([404, 405, 501].includes(response.status)) {
        this.useStream = false; // no stream here: long polls from now on
        return;
      }
      if (!response.ok) throw await errorOf(response);
      this.onState("live");
      this.failures = 0;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      let lines = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        clearTimeout(timer);
        timer = setTimeout(() => controller.abort(), STALL_MS);
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, end).replace(/\r$/, "");
          buffer = buffer.slice(end + 1);
          if (line) { lines.push(line); continue; }
          this.dispatch(lines);
          lines = [];
        }
      }
    } finally {
      clearTimeout(timer);
      if (this.controller === controller) this.controller = null;
    }
  }

  dispatch(lines) {
    let id = null;
    const data = [];
    for (const line of lines) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (name === "id") id = value;
      else if (name === "data") data.push(value);
      else if (name === "retry" && /^[0-9]{1,9}$/.test(value)) this.retryMs = Math.min(60000, Number(value));
    }
    if (data.length) {
      this.deliver(JSON.parse(data.join("\n")));
    } else if (id !== null && /^[0-9]+$/.test(id) && Number(id) > this.after) {
      this.after = Number(id); // past events this user may not see
    }
  }

  async poll() {
    const controller = new AbortController();
    this.controller = controller;
    const query = new URLSearchParams({ after: String(this.after), timeout: String(POLL_S) });
    if (this.log) query.set("log", this.log);
    try {
      const response = await fetch(`/events?${query}`, {
        headers: authHeaders({ Accept: "application/json" }),
        signal: controller.signal,
        cache: "no-store",
      });
      if (!response.ok) throw await errorOf(response);
      this.onState("polling");
      const page = await response.json();
      for (const event of page.events) this.deliver(event);
      if (page.next > this.after) this.after = page.next;
      this.log = page.log;
    } finally {
      if (this.controller === controller) this.controller = null;
    }
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
