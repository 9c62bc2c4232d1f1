// Audit: the workspace's event log, newest first, filterable by object id and type, a page at a time (GET /events/log);
// new events arrive live at the top.
import * as api from "../api.js";
import * as events from "../events.js";
import { h, clear, section, table, link, button, busy, when, field } from "../dom.js";

const LIMIT = 50;

export async function render(root, route, app) {
  const id = route.ids[0] || "";
  const type = route.query.get("type") || "";
  const idInput = h("input", { name: "id", value: id, placeholder: "D0001, P0001, T0001, T0001.train.1…" });
  const typeInput = h("input", { name: "type", value: type, placeholder: "task.*, job.state_changed…" });
  const form = h("form", { class: "row", id: "audit-filter" }, field("Object id", idInput), field("Event types", typeInput),
    h("button", { type: "submit", class: "primary" }, "Filter"), link("#/audit", "clear"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = typeInput.value.trim() ? `?type=${encodeURIComponent(typeInput.value.trim())}` : "";
    app.go(`#/audit${idInput.value.trim() ? `/${encodeURIComponent(idInput.value.trim())}` : ""}${q}`);
  });
  const tbody = h("tbody");
  const more = h("div", { class: "pager" });
  const shown = h("span", { class: "muted" });
  root.append(h("h1", {}, "Audit: the event log"), section("Filter", form),
    section(h("span", {}, "Events, newest first ", shown),
      h("table", { id: "audit-table" }, h("thead", {}, h("tr", {}, ["seq", "time", "type", "about", "data"].map((x) => h("th", {}, x)))), tbody), more));
  let count = 0;
  const types = type ? type.split(",").map((t) => t.trim()).filter(Boolean) : [];

  function row(e) {
    const about = events.subjects(e);
    const data = h("td", { class: "mono event-data", title: "click to show it whole" }, JSON.stringify(e.data));
    data.addEventListener("click", () => {
      const whole = data.classList.toggle("whole");
      data.textContent = whole ? JSON.stringify(e.data, null, 2) : JSON.stringify(e.data);
    });
    return h("tr", { data: { seq: String(e.seq) } }, h("td", { class: "num" }, String(e.seq)), h("td", { class: "muted" }, when(e.ts)),
      h("td", { class: "mono" }, e.type, e.v > 1 ? h("span", { class: "muted" }, ` v${e.v}`) : null),
      h("td", {}, [...new Set(about)].map((s) => [link(`#/audit/${encodeURIComponent(s)}`, s), " "])), data);
  }

  async function page(before) {
    const answer = await api.get("/events/log", { before, limit: LIMIT, id: id || undefined, type: type || undefined });
    tbody.append(...answer.events.map(row));
    count += answer.events.length;
    shown.textContent = `(${count} shown)`;
    const older = button("Older events", () => busy(older, () => page(answer.next_before)), { id: "audit-older" });
    clear(more, answer.next_before !== null ? older : h("span", { class: "muted" }, count ? "The beginning of the log." : "No event matches."));
  }
  await page(undefined);
  return {
    onEvent(e) {
      if (id && !events.about(e, id)) return;
      if (types.length && !types.some((t) => new RegExp(`^${t.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`).test(e.type))) return;
      tbody.prepend(row(e));
      count++;
      shown.textContent = `(${count} shown)`;
    },
  };
}
