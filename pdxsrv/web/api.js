// The one way the console talks to the API: token header on every call, one error banner for {"status": -1}.
const KEY = "pdxsrv.token";
let unauthorized = () => {};

export class ApiError extends Error {
  constructor(message, code) { super(message); this.code = code; this.name = "ApiError"; }
}
export class Unauthorized extends Error {
  constructor(message) { super(message); this.name = "Unauthorized"; }
}

export function token() { return sessionStorage.getItem(KEY); }
export function setToken(value) { value ? sessionStorage.setItem(KEY, value) : sessionStorage.removeItem(KEY); }
export function whenUnauthorized(fn) { unauthorized = fn; }

export function headers(extra = {}) {
  const out = { ...extra };
  const t = token();
  if (t) out.Authorization = `Bearer ${t}`;
  return out;
}

function query(args) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(args)) {
    if (v === undefined || v === null) continue;
    q.set(k, Array.isArray(v) ? v.join(",") : typeof v === "object" ? JSON.stringify(v) : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

async function send(method, path, args) {
  const clean = Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined && v !== null));
  const init = { method, headers: headers(), cache: "no-store" };
  let url = path;
  if (method === "GET" || method === "HEAD") url += query(clean);
  else {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(clean);
  }
  const resp = await fetch(url, init);
  if (resp.status === 401) {
    unauthorized();
    throw new Unauthorized("the server needs its token");
  }
  return resp;
}

// Call the API; resolves to the answer ({status: 1, ...}) or throws ApiError after showing the banner
// (quiet: no banner, the caller handles the refusal).
export async function call(method, path, args = {}, { quiet = false } = {}) {
  const resp = await send(method, path, args);
  let answer;
  try {
    answer = await resp.json();
  } catch {
    answer = { status: -1, message: `${method} ${path}: HTTP ${resp.status}, not a JSON answer`, code: "bad_answer" };
  }
  if (answer.status !== 1) {
    const err = new ApiError(answer.message || `${method} ${path} failed`, answer.code || "error");
    if (!quiet) showError(err.message);
    throw err;
  }
  return answer;
}

export const get = (path, args, opts) => call("GET", path, args, opts);
export const post = (path, args, opts) => call("POST", path, args, opts);
export const put = (path, args, opts) => call("PUT", path, args, opts);
export const del = (path, args, opts) => call("DELETE", path, args, opts);

// A text file through /file (logs, yaml): its text, or null when it is not there.
export async function text(path) {
  const resp = await send("GET", "/file", { path });
  const type = resp.headers.get("Content-Type") || "";
  if (type.startsWith("application/json")) {
    const answer = await resp.json();
    if (answer.status === -1) return null;
  }
  return resp.text();
}

// A binary download (zip): saved by the browser under `filename`; the token goes along as a header.
export async function download(path, args, filename) {
  const resp = await send("GET", path, args);
  const type = resp.headers.get("Content-Type") || "";
  if (type.startsWith("application/json")) {
    const answer = await resp.json();
    showError(answer.message || `download of ${path} failed`);
    throw new ApiError(answer.message, answer.code);
  }
  const blob = await resp.blob();
  const disposition = resp.headers.get("Content-Disposition") || "";
  const named = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = named ? decodeURIComponent(named[1]) : filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  return blob.size;
}

// An image from /file (base64 img_data) as a data: URL.
export async function image(path, did, opts = {}) {
  const answer = await get("/file", { path, did }, opts);
  return dataUrl(answer.img_data);
}

export function dataUrl(b64) {
  const kind = b64.startsWith("/9j/") ? "jpeg" : b64.startsWith("iVBOR") ? "png" : b64.startsWith("Qk") ? "bmp" : "png";
  return `data:image/${kind};base64,${b64}`;
}

export function showError(message) {
  const banner = document.getElementById("banner");
  document.getElementById("banner-text").textContent = message;
  banner.hidden = false;
}

export function clearError() { document.getElementById("banner").hidden = true; }
