// Results of a task: evaluation report, predict a dropped image, export (infer, ONNX, quantized) with its files and
// one archive to download, pruning (sensitivities, pruned retraining); and the models (pretrained, exported).
import * as api from "../api.js";
import * as events from "../events.js";
import { h, clear, section, table, link, button, busy, field, debounce, num, pct, bytes, when, typedValues } from "../dom.js";
import { badge, TASK_STATUS, PREDICT_STATUS, PRUNE_STATUS, EXPORTED_TYPE, TRAINED } from "../enums.js";
import { heatmap, lineChart } from "../charts.js";
import { taskTable } from "./tasks.js";

export async function render(root, route, app) {
  return route.ids[0] ? one(root, route.ids[0], app) : index(root);
}

async function index(root) {
  const body = h("div");
  root.append(h("h1", {}, "Results and models"), body);
  async function load() {
    const [ts, pre, exp] = await Promise.all([api.get("/project/task"), api.get("/model", { type: "pretrained" }), api.get("/model", { type: "exported" })]);
    clear(body,
      section("Trained tasks", taskTable(ts.tasks.filter((t) => TRAINED.has(t.status)))),
      modelsCard(pre.pretrained_models, exp.exported_models));
  }
  const refresh = debounce(() => load().catch(() => {}));
  await load();
  return { onEvent: (ev) => { if (!ev.type.startsWith("job.reported")) refresh(); }, dispose: refresh.cancel };
}

function modelsCard(pretrained, exported) {
  return h("div", { class: "grid two", id: "models" },
    section(`Pretrained models (${pretrained.length})`, table(["id", "name", "model", "type", "from", "created"], pretrained.map((m) => h("tr", {},
      h("td", {}, m.id), h("td", {}, m.name), h("td", {}, m.model), h("td", {}, m.type), h("td", {}, m.tid ? link(`#/results/${m.tid}`, m.tid) : ""), h("td", { class: "muted" }, m.create_time || ""))))),
    section(`Exported models (${exported.length})`, table(["id", "name", "model", "kind", "from", "path"], exported.map((m) => h("tr", {},
      h("td", {}, m.id), h("td", {}, m.name), h("td", {}, m.model), h("td", {}, EXPORTED_TYPE[m.exported_type] ?? String(m.exported_type)),
      h("td", {}, m.tid ? link(`#/results/${m.tid}`, m.tid) : ""), h("td", { class: "mono" }, m.path || ""))))));
}

async function one(root, tid, app) {
  const head = h("h1", {}, `Results of ${tid}`);
  const evalCard = h("section", { class: "card", id: "evaluation" });
  const predictCard = h("section", { class: "card", id: "predict" });
  const exportCard = h("section", { class: "card", id: "export" });
  const pruneCard = h("section", { class: "card", id: "prune" });
  const modelsSlot = h("div");
  root.append(head, evalCard, h("div", { class: "grid two" }, predictCard, exportCard), pruneCard, modelsSlot);
  let task = null, status = null;
  const typed = typedValues();  // what was typed or chosen in the cards' forms, kept when they are redrawn

  async function loadTask() {
    const [all, st] = await Promise.all([api.get("/project/task"), api.get("/project/task", { tid })]);
    task = all.tasks.find((t) => t.id === tid);
    status = st;
    clear(head, `Results of `, link(`#/task/${tid}`, tid), badge(TASK_STATUS, st.task_status), h("span", { class: "muted" }, st.type));
  }

  // Evaluation: metrics, the confusion matrix as a heat map, the per-class table.
  async function loadEvaluation() {
    const ev = await api.get("/project/task/evaluate", { tid }, { quiet: true }).catch(() => null);
    const start = button("Evaluate", () => busy(start, async () => { await api.post("/project/task/evaluate", { tid }); await loadEvaluation(); }), { class: "primary", id: "evaluate" });
    const running = ev && ev.evaluate_status === 11;
    start.disabled = running || !TRAINED.has(status.task_status);
    const r = ev && ev.evaluate_status === 5 ? ev.result : null;
    clear(evalCard, h("div", { class: "spread" }, h("h2", {}, "Evaluation"), h("span", { class: "row" },
      ev ? badge(TASK_STATUS, ev.evaluate_status) : null, start)),
      running ? h("p", { class: "muted" }, "Evaluating…") : null,
      ev && ev.evaluate_status === 12 ? h("p", { class: "error" }, ev.message) : null,
      r ? report(r) : h("p", { class: "muted" }, TRAINED.has(status.task_status) ? "Not evaluated yet: Evaluate runs the best model on the validation set." : "Train the task first."));
  }

  // Predict: drop an image (or choose one), POST it as base64, show the result image (GET /file).
  function renderPredict() {
    const input = h("input", { type: "file", accept: "image/*", id: "predict-file", hidden: true });
    const drop = h("div", { class: "drop", id: "drop", tabindex: "0" }, "Drop an image here, or click to choose one");
    const out = h("div", { class: "stack", id: "predict-result" });
    const run = async (file) => {
      if (!file) return;
      const b64 = await new Promise((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => resolve(String(reader.result).split(",")[1] || "");
        reader.onerror = () => reject(reader.error);
        reader.readAsDataURL(file);
      });
      clear(out, h("p", { class: "muted" }, `Predicting ${file.name}…`));
      try {
        await api.post("/project/task/predict", { tid, image_data: b64 });
      } catch { clear(out); return; }
      await showPrediction(out);
    };
    drop.addEventListener("click", () => input.click());
    drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") input.click(); });
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); run(e.dataTransfer.files[0]); });
    input.addEventListener("change", () => run(input.files[0]));
    clear(predictCard, h("h2", {}, "Predict"), TRAINED.has(status.task_status) ? [drop, input] : h("p", { class: "muted" }, "Train the task first."), out);
    predictCard.showPrediction = () => showPrediction(out);
  }

  async function showPrediction(out) {
    const p = await api.get("/project/task/predict", { tid }, { quiet: true }).catch(() => null);
    if (!p) return;
    if (p.predict_status === 0) { clear(out, h("p", { class: "muted" }, `Predicting… ${p.predict_num ?? 0}/${p.total_num ?? 1}`)); return; }
    if (p.predict_status === 2) { clear(out, h("p", { class: "error" }, p.message)); return; }
    const first = (p.results || [])[0];
    if (!first) return;
    const img = h("img", { alt: "prediction", id: "predict-image" });
    clear(out, badge(PREDICT_STATUS, p.predict_status), h("div", { class: "result-img" }, img), summary(first.result));
    img.src = await api.image(first.path);
  }

  // Export: infer, ONNX or quantized; the export's files (GET /browse) and one zip (GET /project/task/export/archive).
  async function loadExport() {
    const ex = await api.get("/project/task/export", { tid }, { quiet: true }).catch(() => null);
    const kind = typed.keep(h("select", { name: "export-type", id: "export-type" },
      h("option", { value: "infer" }, "inference model (Paddle)"), h("option", { value: "onnx" }, "ONNX"), h("option", { value: "quant" }, "quantized inference model")));
    const dir = h("input", { name: "save_dir", id: "export-dir", class: "mono", size: "48" });
    const suggest = () => { dir.value = `${task.path}/export/${kind.value}`; };
    kind.addEventListener("change", () => { typed.forget("save_dir"); suggest(); });
    suggest();
    typed.keep(dir);
    const go = button("Export", () => busy(go, async () => {
      const quant = kind.value === "quant";
      await api.post("/project/task/export", { tid, type: quant ? "infer" : kind.value, quant: quant || undefined, save_dir: dir.value.trim() });
      await loadExport();
    }), { class: "primary", id: "export-start" });
    go.disabled = !TRAINED.has(status.task_status) || status.task_status === 6;
    const files = h("div", { id: "export-files" });
    const done = ex && ex.export_status === 7 && ex.save_dir;
    const dl = button("Download as zip", () => busy(dl, () => api.download("/project/task/export/archive", { tid }, `${tid}-export.zip`)), { id: "export-download" });
    clear(exportCard, h("h2", {}, "Export"),
      h("div", { class: "row" }, kind, go, ex ? badge(TASK_STATUS, ex.export_status) : null),
      field("into the folder", dir),
      ex && ex.message ? h("p", { class: ex.export_status === 13 ? "error" : "muted" }, ex.message) : null,
      done ? [h("p", {}, "Folder: ", h("code", {}, ex.save_dir)), files, h("div", { class: "row" }, dl)] : null);
    if (done) {
      const listing = await api.get("/browse", { path: ex.save_dir }, { quiet: true }).catch(() => null);
      if (listing) clear(files, table(["file", "size", "modified"], listing.entries.map((e) => h("tr", {}, h("td", { class: "mono" }, e.name + (e.is_dir ? "/" : "")), h("td", { class: "num" }, e.is_dir ? "" : bytes(e.size)), h("td", { class: "muted" }, when(e.mtime))))));
    }
  }

  // Pruning: the sensitivity analysis and its chart; a pruned retraining as a child task.
  async function loadPrune() {
    const pr = await api.get("/project/task/prune", { tid }, { quiet: true }).catch(() => null);
    const analyse = button("Analyse sensitivities", () => busy(analyse, async () => { await api.post("/project/task/prune", { tid }); await loadPrune(); }), { id: "prune-start" });
    analyse.disabled = !TRAINED.has(status.task_status) || (pr && (pr.prune_status === 0 || pr.prune_status === 1));
    const parts = [h("div", { class: "spread" }, h("h2", {}, "Pruning"), h("span", { class: "row" }, pr && pr.prune_status !== undefined && pr.prune_status !== null ? badge(PRUNE_STATUS, pr.prune_status) : null, analyse))];
    if (pr && pr.prune_status === 2) {
      const m = await api.get("/project/task/metrics", { tid, type: "sensitivities" }, { quiet: true }).catch(() => null);
      if (m) parts.push(sensitivityChart(m.sensitivities));
      const flops = typed.keep(h("input", { type: "number", name: "pruned_flops", min: "0.05", max: "0.9", step: "0.05", value: "0.3" }));
      const retrain = button("Start pruned retraining", () => busy(retrain, async () => {
        const { tid: child } = await api.post("/project/task", { pid: task.pid, parent_id: tid, desc: `${tid} pruned by ${flops.value}` });
        await api.post("/project/task/train", { tid: child, pruned_flops: Number(flops.value) });
        app.go(`#/task/${child}`);
      }), { class: "primary", id: "prune-retrain" });
      parts.push(h("div", { class: "row" }, field("Share of FLOPs to remove", flops), retrain));
    } else if (pr && pr.message) parts.push(h("p", { class: "muted" }, pr.message));
    else parts.push(h("p", { class: "muted" }, "The analysis prunes each layer in turn and measures what it costs; a pruned retraining then removes the cheapest channels."));
    clear(pruneCard, parts);
  }

  async function loadModels() {
    const [pre, exp] = await Promise.all([api.get("/model", { type: "pretrained" }), api.get("/model", { type: "exported" })]);
    const name = typed.keep(h("input", { name: "pretrained-name", value: `${tid} model` }));
    const save = button("Save as a pretrained model", () => busy(save, async () => { await api.post("/model", { type: "pretrained", pid: task.pid, tid, name: name.value }); await loadModels(); }), { id: "save-pretrained" });
    save.disabled = !TRAINED.has(status.task_status);
    clear(modelsSlot, h("div", { class: "row card" }, name, save),
      modelsCard(pre.pretrained_models.filter((m) => m.tid === tid), exp.exported_models.filter((m) => m.tid === tid)));
  }

  async function loadAll() {
    await loadTask();
    renderPredict();
    await Promise.all([loadEvaluation(), loadExport(), loadPrune(), loadModels(), showPrediction(predictCard.querySelector("#predict-result"))]);
  }

  const refresh = debounce(() => loadAll().catch(() => {}), 300);
  const debounced = {
    predict: debounce(() => showPrediction(predictCard.querySelector("#predict-result")).catch(() => {}), 200),
  };
  await loadAll();
  return {
    onEvent(ev) {
      if (!events.about(ev, tid)) return;
      if (ev.type === "job.reported" && ev.data.kind !== "done") return;
      const kind = String(ev.data.id || "").split(".")[1];
      if (kind === "predict" && ev.type.startsWith("job.")) debounced.predict();  // the drop zone stays as it is
      else refresh();  // a job began or ended: what each card offers depends on the task's status
    },
    dispose() { refresh.cancel(); Object.values(debounced).forEach((d) => d.cancel()); },
  };
}

function report(r) {
  const scalars = Object.entries(r).filter(([k, v]) => typeof v === "number" && !["topk", "images", "epoch"].includes(k));
  const perClass = Object.entries(r).find(([k, v]) => v && typeof v === "object" && !Array.isArray(v) && k !== "PRF1_average" &&
    Object.values(v).every((x) => x && typeof x === "object" && !Array.isArray(x)));
  const matrix = r.Confusion_Matrix || r.confusion_matrix;
  return h("div", { class: "stack" },
    h("div", { class: "stats", id: "eval-metrics" }, scalars.map(([k, v]) => h("div", { class: "stat" }, h("b", {}, v <= 1 && v >= 0 ? pct(v) : num(v)), h("span", {}, k))),
      r.images !== undefined ? h("div", { class: "stat" }, h("b", {}, String(r.images)), h("span", {}, `${r.part || ""} images`)) : null),
    h("div", { class: "grid two" },
      matrix ? h("div", { id: "confusion" }, h("h3", {}, "Confusion matrix"), heatmap(matrix, r.label_list)) : null,
      perClass ? h("div", { id: "per-class" }, h("h3", {}, `Per class (${perClass[0]})`), classTable(perClass[1])) : null),
    r.PRF1_average ? h("p", { class: "muted" }, `Average: ${Object.entries(r.PRF1_average.over_all || {}).map(([k, v]) => `${k} ${num(v, 3)}`).join(" · ")}`) : null);
}

function classTable(byClass) {
  const cols = [...new Set(Object.values(byClass).flatMap((o) => Object.keys(o)))];
  return table(["class", ...cols], Object.entries(byClass).map(([name, o]) => h("tr", { data: { class: name } }, h("td", {}, name),
    cols.map((c) => h("td", { class: "num" }, typeof o[c] === "number" ? num(o[c], 3) : String(o[c] ?? "–"))))), { class: "per-class" });
}

function summary(result) {
  if (!result) return null;
  if (result.category !== undefined) {
    return h("div", { id: "predict-summary" }, h("p", {}, h("b", {}, result.category), ` · score ${num(result.score, 3)}`),
      result.topk ? table(["class", "score"], result.topk.map((t) => h("tr", {}, h("td", {}, t.category), h("td", { class: "num" }, num(t.score, 3))))) : null);
  }
  if (result.class_pixels) {
    return h("div", { id: "predict-summary" }, table(["class", "pixels"], Object.entries(result.class_pixels).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "num" }, String(v))))));
  }
  if (Array.isArray(result)) return h("p", { id: "predict-summary" }, `${result.length} objects found`);
  if (Array.isArray(result.boxes)) return h("p", { id: "predict-summary" }, `${result.boxes.length} objects found`);
  return h("pre", { class: "log", id: "predict-summary" }, JSON.stringify(result, null, 1).slice(0, 2000));
}

function sensitivityChart(s) {
  if (!s || !s.layers) return h("p", { class: "muted" }, "No sensitivities.");
  const ratios = (s.ratios || []).map(Number);
  const layers = Object.entries(s.layers).sort((a, b) => sum(b[1].loss) - sum(a[1].loss)).slice(0, 8);
  const chart = lineChart({ title: `Loss of ${s.metric || "the metric"} when one layer is pruned (the 8 most sensitive)`, series: layers.map(([n]) => n), xLabel: "pruned share" });
  chart.el.id = "sensitivity-chart";
  chart.set(ratios, layers.map(([, l]) => ratios.map((r) => l.loss[String(r)] ?? l.loss[r.toFixed(1)] ?? null)));
  return h("div", { class: "stack" }, chart.el, h("p", { class: "muted" }, `baseline ${s.metric} ${num(s.baseline, 3)} · ${Object.keys(s.layers).length} prunable layers`));
}

function sum(loss) { return Object.values(loss || {}).reduce((a, b) => a + (b || 0), 0); }
