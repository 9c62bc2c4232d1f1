// The live training view of one task: start, stop, resume; progress with epoch, step and ETA; loss, learning-rate
// and evaluation curves fed by /events/stream (the task's history replayed from seq 0, then live); the log tail.
import * as api from "../api.js";
import * as events from "../events.js";
import { h, clear, section, link, button, busy, progressBar, setProgress, debounce, duration, num, field, typedValues } from "../dom.js";
import { badge, TASK_STATUS, TRAINING, TRAINED } from "../enums.js";
import { lineChart } from "../charts.js";

const LOG_LINES = 80;

export async function render(root, route, app) {
  const tid = route.ids[0];
  if (!tid) { app.go("#/tasks"); return {}; }
  const head = h("h1", {}, `Task ${tid}`);
  const actions = h("div", { class: "row", id: "actions" });
  const message = h("p", { class: "error", id: "task-message" });
  const bar = progressBar(0, "not started");
  bar.id = "train-progress";
  const facts = h("div", { class: "stats", id: "train-facts" });
  const loss = lineChart({ title: "Loss", series: ["loss"], xLabel: "step" });
  loss.el.id = "loss-chart";
  const lr = lineChart({ title: "Learning rate", series: ["learning rate"], xLabel: "step" });
  lr.el.id = "lr-chart";
  let evalChart = null;
  const evalSlot = h("div", { class: "chart", id: "eval-chart" }, h("div", { class: "chart-title" }, "Evaluation metric"),
    h("div", { class: "chart-empty muted" }, "after the first saved epoch"));
  const logOut = h("pre", { class: "log", id: "log-tail" }, "");
  const logTabs = h("div", { class: "tabs" });
  const params = h("div");
  root.append(head, section("Training", h("div", { class: "stack" }, actions, message, bar, facts)),
    h("div", { class: "charts" }, h("div", { class: "card" }, loss.el), h("div", { class: "card" }, lr.el), h("div", { class: "card" }, evalSlot)),
    h("div", { class: "grid two" }, section("Log", logTabs, logOut), params));

  let task = null;   // {id, pid, path, status, ...} from GET /project/task
  let status = null; // GET /project/task {tid, resume}
  let trainJob = null;
  let liveNow = 0;   // points received while the task was training
  const typed = typedValues();  // the epoch typed into "from epoch", kept when a refresh redraws the actions
  let logName = route.query.get("log") || "reports";
  const reports = [];  // the training job's reports as log lines, from the events

  async function load() {
    const [all, st] = await Promise.all([api.get("/project/task"), api.get("/project/task", { tid, resume: true })]);
    task = all.tasks.find((t) => t.id === tid);
    status = st;
    if (!task) { clear(head, `Task ${tid} does not exist`); return; }
    clear(head, `Task ${tid}`, badge(TASK_STATUS, st.task_status), h("span", { class: "muted" }, `${st.type} · project `),
      link(`#/tasks/${task.pid}`, task.pid), task.parent_id ? h("span", { class: "muted" }, ` · prunes ${task.parent_id}`) : null);
    message.textContent = st.message && (st.task_status === 10 || st.task_status === 9) ? st.message : "";
    renderActions();
    await Promise.all([loadSummary(), loadLog()]);
  }

  function renderActions() {
    const s = status.task_status;
    const out = [];
    if (s === 0 || s === 1) out.push(button("Start training", () => busy(out[0], () => start(false)), { class: "primary", id: "start" }));
    if (TRAINING.has(s)) out.push(button("Stop", (e) => busy(e.target, async () => { await api.put("/project/task/train", { tid, act: "stop" }); await load(); }), { id: "stop", class: "danger" }));
    if (status.resumable && !TRAINING.has(s)) {
      const last = String(status.max_saved_epochs || 1);
      const epoch = typed.keep(h("input", { type: "number", name: "resume-epoch", min: "1", max: last, step: "1", value: last }));
      const go = button("Resume", () => busy(go, async () => {
        await api.put("/project/task/train", { tid, act: "resume", epoch: Number(epoch.value) });
        typed.forget("resume-epoch");
        await load();
      }), { id: "resume" });
      out.push(h("span", { class: "row" }, field("from epoch", epoch), go));
    }
    if (!TRAINING.has(s) && (s === 8 || s === 10 || TRAINED.has(s))) {
      const again = button("Train afresh (replaces its model)", () => busy(again, () => start(true)), { id: "train-again" });
      out.push(again);
    }
    out.push(link(`#/results/${tid}`, "Results →"), link(`#/compare/${tid}`, "Compare"), link(`#/audit/${tid}`, "Audit"));
    clear(actions, out);
  }

  async function start(discard) {
    await api.post("/project/task/train", { tid, discard: discard || undefined });
    await load();
  }

  async function loadSummary() {
    const [m, p] = await Promise.all([
      api.get("/project/task/metrics", { tid, type: "train" }, { quiet: true }).catch(() => null),
      api.get("/project/task/params", { tid }, { quiet: true }).catch(() => null),
    ]);
    const t = m?.train_log;
    if (t) {
      const best = t.best ? `${t.best.metric} ${num(t.best.value)} (epoch ${t.best.epoch})` : "–";
      clear(facts,
        stat(t.train_stage || (t.progress >= 1 ? "Train Complete" : "–"), "stage", "stage"), stat(t.running_duration ? t.running_duration.replace("小时", " h ").replace("分", " min ").replace("秒", " s") : "–", "running time"),
        stat(best, "best model", "best"),
        t.pruning && Object.keys(t.pruning).length ? stat(Object.entries(t.pruning).map(([k, v]) => `${k} ${typeof v === "number" ? num(v, 3) : JSON.stringify(v)}`).join(" · "), "pruning", "pruning") : null,
        t.train_error ? stat(t.train_error, "error") : null);
      const tm = t.train_metrics;
      const where = tm && tm.Epoch ? `epoch ${tm.Epoch}/${status.num_epochs || (p && p.train && p.train.num_epochs) || "?"} · step ${tm.Step}/${tm.Steps}` : "";
      if (!TRAINING.has(status.task_status)) setProgress(bar, t.progress || 0, [t.train_stage || (t.progress >= 1 ? "Train Complete" : ""), where].filter(Boolean).join(" · "));
    } else clear(facts, h("span", { class: "muted" }, "Not trained yet."));
    if (p) {
      clear(params, section("Parameters", h("dl", { class: "kv", id: "params" }, Object.entries(p.train || {}).map(([k, v]) => [h("dt", {}, k), h("dd", { class: "mono" }, JSON.stringify(v))]))));
    }
  }

  async function loadLog() {
    if (!task) return;
    clear(logTabs, ["reports", "out.log", "err.log"].map((n) => button(n, () => { logName = n; loadLog(); }, { class: n === logName ? "active" : "", data: { log: n } })));
    if (logName === "reports") { showReports(); return; }
    const text = await api.text(`${task.path}/${logName}`).catch(() => null);
    if (text === null) { logOut.textContent = `(${logName} does not exist yet)`; return; }
    const lines = text.split("\n");
    logOut.textContent = lines.slice(-LOG_LINES).join("\n") || `(${logName} is empty)`;
    logOut.scrollTop = logOut.scrollHeight;
  }

  function showReports() {
    if (logName !== "reports") return;
    logOut.textContent = reports.slice(-LOG_LINES).join("\n") || "(no report yet)";
    logOut.scrollTop = logOut.scrollHeight;
  }

  function report(ev, text) {
    const t = new Date(ev.ts * 1000).toLocaleTimeString(undefined, { hour12: false });
    reports.push(`${t}  ${text}`);
    if (reports.length > 1000) reports.splice(0, reports.length - 1000);
    showReports();
  }

  function stat(value, label, id) {
    return h("div", { class: "stat", id: id ? `fact-${id}` : null }, h("b", {}, value), h("span", {}, label));
  }

  // The curves and the progress bar, from the task's events.
  function onTaskEvent(ev) {
    const d = ev.data || {};
    if (ev.type === "task.job_started" && d.kind === "train") {
      trainJob = d.job;
      if (d.resume_epoch === null || d.resume_epoch === undefined) { loss.clear(); lr.clear(); if (evalChart) evalChart.clear(); }
      report(ev, d.resume_epoch ? `training resumed from epoch ${d.resume_epoch} (${d.job})` : `training started (${d.job})`);
      return;
    }
    if (ev.type === "job.state_changed" && String(d.id).startsWith(`${tid}.train.`)) {
      report(ev, `job ${d.id} ${d.state}${d.exit_code !== null && d.exit_code !== undefined ? ` (exit ${d.exit_code})` : ""}${d.message ? `: ${d.message}` : ""}`);
      for (const line of d.err_tail || []) report(ev, `  ${line}`);
      return;
    }
    if (ev.type !== "job.reported" || !String(d.id).startsWith(`${tid}.train.`)) return;
    trainJob = d.id;
    const r = d.data || {};
    if (d.kind === "progress" && r.step !== undefined) {
      const x = (r.epoch - 1) * (r.steps || 0) + r.step;
      loss.push(x, [r.loss]);
      lr.push(x, [r.lr]);
      if (status && TRAINING.has(status.task_status)) { liveNow++; loss.el.dataset.live = String(liveNow); }
      const share = r.num_epochs && r.steps ? x / (r.num_epochs * r.steps) : 0;
      const phase = r.phase === "evaluating" ? ` · evaluating epoch ${r.epoch}` : r.phase === "downloading" ? " · downloading weights" : "";
      report(ev, `epoch ${r.epoch}/${r.num_epochs} step ${r.step}/${r.steps}  loss ${num(r.loss)}  lr ${num(r.lr)}${r.speed ? `  ${num(r.speed, 1)} img/s` : ""}${r.phase ? `  (${r.phase})` : ""}`);
      setProgress(bar, share, `epoch ${r.epoch}/${r.num_epochs} · step ${r.step}/${r.steps}${r.eta !== undefined ? ` · ETA ${duration(r.eta)}` : ""}${phase}`);
    } else if (d.kind === "progress" && r.phase === "downloading" && r.total) {
      setProgress(bar, r.done / r.total, "downloading pretrained weights");
    } else if (d.kind === "metric" && r.metrics) {
      const names = Object.keys(r.metrics);
      if (!evalChart) {
        evalChart = lineChart({ title: `Evaluation (${names.join(", ")})`, series: names, xLabel: "epoch", xInt: true });
        evalChart.el.id = "eval-chart";
        evalSlot.replaceWith(evalChart.el);
      }
      evalChart.push(r.epoch, names.map((n) => r.metrics[n]));
      report(ev, `evaluation of epoch ${r.epoch}: ${names.map((n) => `${n} ${num(r.metrics[n])}`).join(", ")}${r.best ? `  (best: epoch ${r.best.epoch})` : ""}`);
    } else if (d.kind === "done") {
      report(ev, r.ok ? `done${r.stopped ? " (stopped)" : ""}${r.epoch ? ` after epoch ${r.epoch}` : ""}` : `failed: ${r.error || r.message || JSON.stringify(r).slice(0, 200)}`);
    } else if (d.kind === "log") {
      report(ev, r.message || r.text || JSON.stringify(r));
    }
  }

  const refresh = debounce(() => load().catch(() => {}), 250);
  const refreshLog = debounce(() => loadLog().catch(() => {}), 2000);
  await load();
  const history = events.follow({ tid, since: 0 }, (ev) => {
    onTaskEvent(ev);
    if (ev.type === "job.reported" && ev.data.kind === "progress") refreshLog();
    else if (ev.type !== "job.reported" || ev.data.kind === "done") refresh();
  });
  return {
    dispose() { history.close(); refresh.cancel(); refreshLog.cancel(); loss.destroy(); lr.destroy(); if (evalChart) evalChart.destroy(); },
  };
}
