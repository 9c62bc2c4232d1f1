// Compare tasks: their loss and evaluation curves overlaid (from the event log), their parameters side by side.
import * as api from "../api.js";
import { h, clear, section, table, link, debounce, num } from "../dom.js";
import { badge, TASK_STATUS } from "../enums.js";
import { lineChart } from "../charts.js";

const MAX_PAGES = 20;

export async function render(root, route, app) {
  const chosen = new Set((route.ids[0] || "").split(",").filter(Boolean));
  const picker = h("div", { class: "row", id: "compare-pick" });
  const body = h("div");
  root.append(h("h1", {}, "Compare tasks"), section("Tasks", picker, h("p", { class: "muted" }, "Tick the tasks to compare; the link of this page keeps the choice.")), body);
  const all = (await api.get("/project/task")).tasks;
  clear(picker, all.map((t) => {
    const box = h("input", { type: "checkbox", name: t.id, checked: chosen.has(t.id) });
    box.addEventListener("change", () => {
      if (box.checked) chosen.add(t.id); else chosen.delete(t.id);
      app.go(`#/compare/${[...chosen].join(",")}`);
    });
    return h("label", { class: "row" }, box, `${t.id} (${t.type}) `, badge(TASK_STATUS, t.status));
  }), all.length ? null : h("span", { class: "muted" }, "No task yet."));
  const ids = [...chosen].filter((id) => all.some((t) => t.id === id));
  if (!ids.length) { body.append(h("p", { class: "muted" }, "Choose two or more tasks.")); return {}; }

  const runs = await Promise.all(ids.map(history));
  const params = await Promise.all(ids.map((tid) => api.get("/project/task/params", { tid }, { quiet: true }).then((p) => p.train).catch(() => ({}))));
  const loss = lineChart({ title: "Loss (by share of training done)", series: ids, xLabel: "training done (%)" });
  loss.el.id = "compare-loss";
  const xs = [...new Set(runs.flatMap((r) => r.loss.map(([x]) => x)))].sort((a, b) => a - b);
  loss.set(xs, runs.map((r) => { const m = new Map(r.loss); return xs.map((x) => m.get(x) ?? null); }));
  const metricName = runs.find((r) => r.metric)?.metric || "metric";
  const evals = lineChart({ title: `Evaluation (${metricName})`, series: ids, xLabel: "epoch", xInt: true });
  evals.el.id = "compare-eval";
  const epochs = [...new Set(runs.flatMap((r) => r.evals.map(([e]) => e)))].sort((a, b) => a - b);
  evals.set(epochs, runs.map((r) => { const m = new Map(r.evals); return epochs.map((e) => m.get(e) ?? null); }));
  const keys = [...new Set(params.flatMap((p) => Object.keys(p || {})))];
  const differs = (k) => new Set(params.map((p) => JSON.stringify(p?.[k]))).size > 1;
  keys.sort((a, b) => differs(b) - differs(a));
  clear(body, h("div", { class: "charts" }, h("div", { class: "card" }, loss.el), h("div", { class: "card" }, evals.el)),
    section("Parameters (differences first)", table(["parameter", ...ids.map((id) => link(`#/task/${id}`, id))],
      keys.map((k) => h("tr", { class: differs(k) ? "diff" : "" }, h("td", {}, k), params.map((p) => h("td", { class: "mono" }, JSON.stringify(p?.[k] ?? null))))), { id: "compare-params" })),
    section("Best results", table(["task", "best", "epochs"], runs.map((r, i) => h("tr", {}, h("td", {}, ids[i]),
      h("td", {}, r.best ? `${r.best.metric} ${num(r.best.value)} (epoch ${r.best.epoch})` : "–"), h("td", { class: "num" }, String(r.evals.length)))))));
  const refresh = debounce(() => app.go(location.hash), 1500);
  return {
    onEvent(ev) { if (ev.type === "job.reported" && ev.data.kind === "done" && ids.includes(ev.data.subject)) refresh(); },
    dispose() { refresh.cancel(); loss.destroy(); evals.destroy(); },
  };
}

// A task's latest training run from the event log: loss by share of training done, metric by epoch.
async function history(tid) {
  const found = [];
  let before = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await api.get("/events/log", { id: tid, type: "job.reported,task.job_started", limit: 1000, before }, { quiet: true }).catch(() => null);
    if (!answer) break;
    found.push(...answer.events);
    const fresh = answer.events.find((e) => e.type === "task.job_started" && e.data.kind === "train" && (e.data.resume_epoch === null || e.data.resume_epoch === undefined));
    if (fresh || answer.next_before === null) break;
    before = answer.next_before;
  }
  found.reverse();
  let start = 0;
  found.forEach((e, i) => { if (e.type === "task.job_started" && e.data.kind === "train" && (e.data.resume_epoch ?? null) === null) start = i; });
  const loss = [], evals = [];
  let metric = null, best = null;
  for (const e of found.slice(start)) {
    if (e.type !== "job.reported" || !String(e.data.id).startsWith(`${tid}.train.`)) continue;
    const r = e.data.data || {};
    if (e.data.kind === "progress" && r.step !== undefined && r.steps && r.num_epochs) {
      loss.push([Math.round((((r.epoch - 1) * r.steps + r.step) / (r.num_epochs * r.steps)) * 1000) / 10, r.loss]);
    } else if (e.data.kind === "metric" && r.metrics) {
      metric = metric || Object.keys(r.metrics)[0];
      evals.push([r.epoch, r.metrics[metric]]);
      best = r.best || best;
    }
  }
  return { loss, evals, metric, best };
}
