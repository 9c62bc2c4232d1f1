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
  return {
    onEvent(ev) {
      if (ev.type === "job.reported" && ev.data.kind === "progress") {
        progress.set(ev.data.subject, ev.data.data);
        paint(ev.data.subject);
        return;
      }
      refresh();
    },
    dispose() { refresh.cancel(); },
  };
}

function machineCard(info, gpus) {
  const facts = Object.entries(info || {}).filter(([k]) => k !== "message");
  return section("Machine",
    h("div", { class: "stats" }, facts.map(([k, v]) => h("div", { class: "stat" }, h("b", {}, typeof v === "object" ? JSON.stringify(v) : String(v)), h("span", {}, label(k))))),
    info && info.message ? h("p", { class: "muted" }, info.message) : null,
    h("h3", {}, "GPUs"),
    gpus && gpus.length
      ? table(["GPU", "memory used", "free", "total"], gpus.map((g, i) => {
        const used = g.used ?? (g.total - g.free);
        const b = progressBar(g.total ? used / g.total : 0, `${num(used)} / ${num(g.total)} MB`);
        return h("tr", {}, h("td", {}, `GPU ${i}`), h("td", {}, b), h("td", { class: "num" }, `${num(g.free)} MB`), h("td", { class: "num" }, `${num(g.total)} MB`));
      }))
      : h("p", { class: "muted" }, "No GPU: jobs train on the CPU."));
}

function label(key) {
  return { cpu_num: "CPU cores", gpu_num: "GPUs", sysstr: "system", driver_version: "driver", gpu_free_mem: "GPU free memory" }[key] || key.replace(/_/g, " ");
}
