// The console's shell: the token gate, the hash router (#/<view>/<ids>?<query>) and the live event stream.
import * as api from "./api.js";
import * as events from "./events.js";
import { h, clear } from "./dom.js";
import { tokenForm } from "./views/token.js";

const VIEWS = {
  overview: () => import("./views/overview.js"),
  datasets: () => import("./views/datasets.js"),
  tasks: () => import("./views/tasks.js"),
  task: () => import("./views/training.js"),
  results: () => import("./views/results.js"),
  compare: () => import("./views/compare.js"),
  audit: () => import("./views/audit.js"),
};
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const live = document.getElementById("live");
let current = null;
let stream = null;
let gated = false;
let generation = 0;

export function route() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, qs = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const view = parts.shift() || "overview";
  return { view, ids: parts, query: new URLSearchParams(qs) };
}

export function go(hash) { if (location.hash !== hash) location.hash = hash; else show(); }

async function show() {
  if (gated) return;
  const r = route();
  const load = VIEWS[r.view];
  const my = ++generation;
  if (current && current.dispose) current.dispose();
  current = null;
  for (const a of nav.querySelectorAll("a")) {
    const active = a.dataset.view === r.view || (r.view === "task" && a.dataset.view === "tasks");
    a.classList.toggle("active", active);
    if (active) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const root = h("div", { class: "view", data: { view: r.view } });
  clear(main, root);
  if (!load) {
    root.append(h("p", {}, `No such page: ${r.view}. `), h("a", { href: "#/overview" }, "Overview"));
    return;
  }
  try {
    const mod = await load();
    if (my !== generation) return;
    const instance = (await mod.render(root, r, { go })) || {};
    if (my !== generation) { if (instance.dispose) instance.dispose(); return; }
    current = instance;
    root.dataset.ready = "1";
    document.title = `pdxsrv · ${root.querySelector("h1")?.textContent || r.view}`;
  } catch (err) {
    if (err && (err.name === "ApiError" || err.name === "Unauthorized")) return;
    api.showError(`This page failed: ${err && err.message ? err.message : err}`);
    throw err;
  }
}

function dispatch(ev) {
  if (current && current.onEvent) {
    try { current.onEvent(ev); } catch (err) { console.warn("view event handler failed", err); }
  }
}

function setLive(state) {
  live.textContent = { live: "live", reconnecting: "reconnecting…", unauthorized: "token needed", "unauthorized-shown": "token needed" }[state] || state;
  live.className = `live state-${state}`;
  if (state === "unauthorized") gate();
}

// Ask for the token; nothing is loaded until a token the server accepts is given.
function gate() {
  if (gated) return;
  gated = true;
  generation++;
  if (current && current.dispose) current.dispose();
  current = null;
  if (stream) { stream.close(); stream = null; }
  nav.hidden = true;
  setLive("unauthorized-shown");
  api.clearError();
  clear(main, tokenForm(!!api.token(), async (value) => {
    api.setToken(value);
    gated = false;
    await start();
  }));
}

async function start() {
  try {
    await api.get("/workspace", {}, { quiet: true });
  } catch (err) {
    if (err.name === "Unauthorized") return;  // gate() is showing the form
    api.showError(`The server answered: ${err.message}`);
  }
  if (gated) return;
  nav.hidden = false;
  stream = events.connect();
  show();
}

api.whenUnauthorized(gate);
events.listen(dispatch);
events.stateChanged(setLive);
document.getElementById("banner-close").addEventListener("click", () => api.clearError());
window.addEventListener("hashchange", () => { api.clearError(); show(); });
start();
