// Reads /events/stream with fetch (so the token header goes along; EventSource cannot send it), parses the
// Server-Sent Events itself, reconnects with Last-Event-ID, and dispatches each event to the listeners.
import { headers } from "./api.js";

const listeners = new Set();
let onState = () => {};

export function listen(fn) { listeners.add(fn); return () => listeners.delete(fn); }
export function stateChanged(fn) { onState = fn; }

// The console's live stream: every workspace event from now on, to every listener.
export function connect() {
  return follow({}, (ev) => { for (const fn of [...listeners]) fn(ev); }, (state) => onState(state));
}

// Follow the events matching `filter` ({tid, did, pid, type, since}); `since: 0` replays the history first.
// Returns {close()}.
export function follow(filter, onEvent, stateFn = () => {}) {
  const ctl = new AbortController();
  let last = null;
  let closed = false;
  let delay = 500;

  async function once() {
    const q = new URLSearchParams();
    for (const k of ["tid", "did", "pid", "type"]) if (filter[k]) q.set(k, filter[k]);
    const h = headers({ Accept: "text/event-stream" });
    if (last !== null) h["Last-Event-ID"] = String(last);
    else if (filter.since !== undefined && filter.since !== null) q.set("since", String(filter.since));
    const qs = q.toString();
    const resp = await fetch(`/events/stream${qs ? `?${qs}` : ""}`, { headers: h, signal: ctl.signal, cache: "no-store" });
    if (resp.status === 401) return "unauthorized";
    if (!resp.ok || !resp.body) throw new Error(`events stream: HTTP ${resp.status}`);
    stateFn("live");
    delay = 500;
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return "ended";
      buf += value.replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const ev = parse(block);
        if (!ev) continue;
        if (ev.id !== null) last = ev.id;
        try { onEvent(ev.data); } catch (err) { console.warn("event handler failed", err); }
      }
    }
  }

  (async () => {
    while (!closed) {
      let how;
      try { how = await once(); } catch (err) { if (closed) return; how = "failed"; }
      if (closed) return;
      if (how === "unauthorized") { stateFn("unauthorized"); return; }
      stateFn("reconnecting");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
    }
  })();
  return { close() { closed = true; ctl.abort(); } };
}

function parse(block) {
  let id = null, data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "id") id = Number(value);
    else if (name === "data") data.push(value);
  }
  if (!data.length) return null;
  try { return { id, data: JSON.parse(data.join("\n")) }; } catch { return null; }
}

// What an event is about (task, dataset, project ids), as the server's filter sees it.
export function subjects(ev) {
  const d = ev.data || {};
  return ["id", "tid", "did", "pid", "subject"].map((k) => d[k]).filter((v) => typeof v === "string");
}

export function about(ev, id) { return subjects(ev).some((s) => s === id || s.startsWith(`${id}.`)); }
