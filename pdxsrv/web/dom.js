// Small DOM helpers: elements are built node by node, never parsed from strings.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "data") for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = dv;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function link(href, text, attrs = {}) { return h("a", { href, ...attrs }, text); }

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

export function table(headers, rows, attrs = {}) {
  return h("table", attrs,
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, "none yet"))));
}

export function num(x, digits = 4) {
  if (x === null || x === undefined || x === "") return "–";
  if (typeof x !== "number") return String(x);
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(2) : x.toFixed(digits).replace(/\.?0+$/, "");
}

export function pct(x) { return x === null || x === undefined ? "–" : `${(x * 100).toFixed(1)}%`; }

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  return hh ? `${hh} h ${mm} min` : mm ? `${mm} min ${ss} s` : `${ss} s`;
}

export function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

export function when(ts) {
  if (!ts) return "";
  const d = new Date(ts * 1000);
  return d.toLocaleString(undefined, { hour12: false });
}

export function progressBar(share, label = "") {
  const bar = h("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" },
    h("div", { class: "fill" }), h("span", { class: "bar-label" }));
  setProgress(bar, share, label);
  return bar;
}

export function setProgress(bar, share, label = "") {
  const v = Math.max(0, Math.min(1, share || 0));
  bar.querySelector(".fill").style.width = `${(v * 100).toFixed(1)}%`;
  bar.setAttribute("aria-valuenow", String(Math.round(v * 100)));
  bar.querySelector(".bar-label").textContent = label || `${Math.round(v * 100)}%`;
}

// Run fn at most once per `ms`, the last call winning (refreshes after bursts of events).
export function debounce(fn, ms = 300) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => { timer = null; fn(...args); }, ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

// What a person typed or chose in a view's named inputs, put back when a refresh redraws them: an event
// arriving while someone fills a form must not undo what they typed. `keep(el)` restores and follows `el`.
export function typedValues() {
  const values = new Map();
  return {
    keep(el) {
      if (values.has(el.name)) el.value = values.get(el.name);
      const save = () => values.set(el.name, el.value);
      el.addEventListener("input", save);
      el.addEventListener("change", save);
      return el;
    },
    forget(name) { values.delete(name); },
  };
}

export function field(label, input, help) {
  return h("label", { class: "field" }, h("span", { class: "field-label" }, label), input,
    help ? h("small", { class: "help" }, help) : null);
}

export function button(text, onclick, attrs = {}) {
  return h("button", { type: "button", onclick, ...attrs }, text);
}

// Disable a button while an async action runs (errors are shown by the banner already).
export async function busy(btn, action) {
  btn.disabled = true;
  try {
    return await action();
  } catch (err) {
    if (err && (err.name === "ApiError" || err.name === "Unauthorized")) return undefined;  // shown already
    throw err;
  } finally {
    btn.disabled = false;
  }
}
