// Overview: the machine, datasets, projects, tasks with their status names and progress, the running jobs.
import * as api from "../api.js";
import { h, clear, section, table, link, progressBar, setProgress, debounce, duration, num } from "../dom.js";
import { badge, DATASET_STATUS, TASK_STATUS, ACTIVE_TASK, ACTIVE_DATASET } from "../enums.js";

export async function render(root) {
  const body = h("div");
  root.append(h("h1", {}, "Overview"), body);
  const progress = new Map();  // subject id -> last progress report
  const bars = new Map();  // subject id -> progress bar element

  async function load() {
    const [ds, ps, ts, machine, gpus] = await Promise.all([
      api.get("/dataset"), api.get("/project"), api.get("/project/task"),
      api.get("/system", { type: "machine_info" }), api.get("/system", { type: "gpu_memory_size" }),
    ]);
    bars.clear();
    const projects = Object.fromEntries(ps.projects.map((p) => [p.id, p.attr]));
    const running = [
      ...ds.datasets.filter((d) => ACTIVE_DATASET.has(d.attr.dataset_status)).map((d) => ({ id: d.id, what: `import of ${d.attr.name}`, href: `#/datasets/${d.id}`, status: badge(DATASET_STATUS, d.attr.dataset_status) })),
      ...ts.tasks.filter((t) => ACTIVE_TASK.has(t.status)).map((t) => ({ id: t.id, what: `${t.id} of ${projects[t.pid]?.name || t.pid}`, href: `#/task/${t.id}`, status: badge(TASK_STATUS, t.status) })),
    ];
    clear(body,
      h("div", { class: "grid" },
        machineCard(machine.info, gpus.gpu_mem_infos),
        section("Running jobs", table(["job", "status", "progress"], running.map((r) =>
          h("tr", { data: { id: r.id } }, h("td", {}, link(r.href, r.what)), h("td", {}, r.status), h("td", {}, bar(r.id))))),
          h("p", { class: "muted" }, running.length ? "" : "Nothing is running. Start a training from a task's page."))),
      section(`Datasets (${ds.datasets.length})`,
        table(["id", "name", "type", "status", "message"], ds.datasets.map((d) => h("tr", { data: { id: d.id } },
          h("td", {}, link(`#/datasets/${d.id}`, d.id)), h("td", {}, d.attr.name), h("td", {}, d.attr.type),
          h("td", {}, badge(DATASET_STATUS, d.attr.dataset_status)), h("td", { class: "muted" }, d.attr.message || ""))))),
      section(`Projects (${ps.projects.length})`,
        table(["id", "name", "type", "dataset", "tasks"], ps.projects.map((p) => h("tr", { data: { id: p.id } },
          h("td", {}, link(`#/tasks/${p.id}`, p.id)), h("td", {}, p.attr.name), h("td", {}, p.attr.type),
          h("td", {}, p.attr.did ? link(`#/datasets/${p.attr.did}`, p.attr.did) : h("span", { class: "muted" }, "none")),
          h("td", { class: "num" }, String(ts.tasks.filter((t) => t.pid === p.id).length)))))),
      section(`Tasks (${ts.tasks.length})`,
        table(["id", "project", "type", "status", "progress", ""], ts.tasks.map((t) => h("tr", { data: { id: t.id } },
          h("td", {}, link(`#/task/${t.id}`, t.id)), h("td", {}, projects[t.pid]?.name || t.pid), h("td", {}, t.type),
          h("td", {}, badge(TASK_STATUS, t.status), t.parent_id ? h("span", { class: "muted" }, ` prunes ${t.parent_id}`) : null),
          h("td", {}, ACTIVE_TASK.has(t.status) ? bar(t.id) : ""),
          h("td", {}, link(`#/results/${t.id}`, "results")))))),
    );
  }

  function bar(id) {
    const el = progressBar(0, "starting…");
    el.classList.add("small");
    (bars.get(id) || bars.set(id, []).get(id)).push(el);
    paint(id);
    return el;
  }

  function paint(id) {
    const p = progress.get(id);
    if (!p) return;
    let share = 0, label = "";
    if (p.steps && p.num_epochs) {
      share = ((p.epoch - 1) * p.steps + p.step) / (p.num_epochs * p.steps);
      label = `epoch ${p.epoch}/${p.num_epochs}${p.eta ? ` · ETA ${duration(p.eta)}` : ""}`;
    } else if (p.total) {
      share = p.done / p.total;
      label = `${p.phase || ""} ${p.done}/${p.total}`.trim();
    } else if (p.stage) label = p.stage;
    for (const el of bars.get(id) || []) setProgress(el, share, label);
  }

  const refresh = debounce(() => load().catch(() => {}), 400);
  await load();
  const machine = setInterval(async () => {  // machine facts are not events: read them again while the page is open
    const [m, g] = await Promise.all([api.get("/system", { type: "machine_info" }, { quiet: true }),
      api.get("/system", { type: "gpu_memory_size" }, { quiet: true })]).catch(() => [null, null]);
    const card = body.querySelector("#machine");
    if (m && g && card) card.replaceWith(machineCard(m.info, g.gpu_mem_infos));
  }, 5000);
  return {
    onEvent(ev) {
      if (ev.type === "job.reported" && ev.data.kind === "progress") {
        progress.set(ev.data.subject, ev.data.data);
        paint(ev.data.subject);
        return;
      }
      refresh();
    },
    dispose() { refresh.cancel(); clearInterval(machine); },
  };
}

// The machine: cores, CPU use, memory, each GPU's use and memory (GET /system, read again every few seconds).
function machineCard(info, gpus) {
  info = info || {};
  const memUsed = info.mem_total_mb !== undefined ? info.mem_total_mb - (info.mem_available_mb ?? 0) : null;
  const cpu = progressBar((info.cpu_percent ?? 0) / 100, info.cpu_percent !== undefined ? `${num(info.cpu_percent, 0)}%` : "–");
  const mem = progressBar(memUsed !== null && info.mem_total_mb ? memUsed / info.mem_total_mb : 0,
    memUsed !== null ? `${gb(memUsed)} of ${gb(info.mem_total_mb)} GB` : "–");
  cpu.id = "cpu-use";
  mem.id = "memory-use";
  const util = info.gpu_util || [];
  return h("section", { class: "card", id: "machine" }, h("h2", {}, "Machine"),
    h("dl", { class: "kv" },
      h("dt", {}, "system"), h("dd", {}, `${info.sysstr || "?"} · ${info.cpu_num ?? "?"} CPU cores · ${info.gpu_num ?? 0} GPU(s)${info.driver_version ? ` · driver ${info.driver_version}` : ""}`),
      h("dt", {}, "CPU use"), h("dd", {}, cpu),
      h("dt", {}, "memory"), h("dd", {}, mem)),
    h("h3", {}, "GPUs"),
    gpus && gpus.length
      ? table(["GPU", "use", "memory"], gpus.map((g, i) => {
        const used = g.used ?? (g.total - g.free);
        return h("tr", {}, h("td", {}, `GPU ${i}`),
          h("td", {}, util[i] === null || util[i] === undefined ? "–" : progressBar(util[i] / 100, `${util[i]}%`)),
          h("td", {}, progressBar(g.total ? used / g.total : 0, `${num(used)} of ${num(g.total)} MB`)));
      }))
      : h("p", { class: "muted" }, info.message || "No GPU: jobs train on the CPU."));
}

function gb(mb) { return (mb / 1024).toFixed(1); }
