// Datasets: create; import from a directory chosen in the server's allowed directories; split with a seed;
// per-class counts; browse the images with their labels drawn.
import * as api from "../api.js";
import * as events from "../events.js";
import { h, clear, section, table, link, field, button, busy, progressBar, setProgress, debounce, bytes, num, typedValues } from "../dom.js";
import { badge, DATASET_STATUS, PROJECT_TYPES, ACTIVE_DATASET } from "../enums.js";
import { bars } from "../charts.js";

const PAGE = 12;

export async function render(root, route, app) {
  return route.ids[0] ? one(root, route.ids[0], route, app) : list(root, app);
}

async function list(root, app) {
  const body = h("div");
  const name = h("input", { name: "name", required: true, placeholder: "e.g. flowers" });
  const type = h("select", { name: "dataset_type" }, PROJECT_TYPES.map((t) => h("option", { value: t }, t)));
  const desc = h("input", { name: "desc", placeholder: "optional" });
  const form = h("form", { class: "row", id: "create-dataset" }, field("Name", name), field("Type", type), field("Description", desc),
    h("button", { type: "submit", class: "primary" }, "Create dataset"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const btn = form.querySelector("button");
    const answer = await busy(btn, () => api.post("/dataset", { name: name.value.trim(), dataset_type: type.value, desc: desc.value }));
    if (answer) app.go(`#/datasets/${answer.did}`);
  });
  root.append(h("h1", {}, "Datasets"), section("New dataset", form), body);

  async function load() {
    const ds = await api.get("/dataset");
    clear(body, section(`All datasets (${ds.datasets.length})`, table(["id", "name", "type", "status", "created", "message"],
      ds.datasets.map((d) => h("tr", { data: { id: d.id } }, h("td", {}, link(`#/datasets/${d.id}`, d.id)), h("td", {}, link(`#/datasets/${d.id}`, d.attr.name)),
        h("td", {}, d.attr.type), h("td", {}, badge(DATASET_STATUS, d.attr.dataset_status)), h("td", { class: "muted" }, d.attr.create_time || ""),
        h("td", { class: "muted" }, d.attr.message || ""))))));
  }
  const refresh = debounce(() => load().catch(() => {}));
  await load();
  return { onEvent(ev) { if (ev.type.startsWith("dataset.") || ev.type === "job.state_changed") refresh(); }, dispose: refresh.cancel };
}

async function one(root, did, route, app) {
  const head = h("h1", {}, `Dataset ${did}`);
  const summary = h("div");
  const importCard = h("div");
  const splitCard = h("div");
  const detailsCard = h("div");
  const imagesCard = h("div");
  root.append(head, summary, h("div", { class: "grid two" }, importCard, splitCard), detailsCard, imagesCard);
  const importBar = progressBar(0, "");
  let ds = null;
  let details = null;
  // What the person chose, kept when an event redraws the page: the folder browsed, the image filter and page.
  const kept = { browse: null, cls: "", part: "all", page: Number(route.query.get("page") || 0), status: null, details: null };
  const typed = typedValues();  // the project name typed beside the facts, which every refresh redraws

  async function load() {
    ds = await api.get("/dataset", { did });
    clear(head, `Dataset ${did} · ${ds.attr.name}`, badge(DATASET_STATUS, ds.dataset_status));
    clear(summary, h("section", { class: "card" }, h("dl", { class: "kv" },
      h("dt", {}, "type"), h("dd", {}, ds.attr.type),
      h("dt", {}, "directory"), h("dd", { class: "mono" }, ds.attr.path || ""),
      h("dt", {}, "created"), h("dd", {}, ds.attr.create_time || ""),
      h("dt", {}, "projects"), h("dd", {}, ds.attr.pids && ds.attr.pids.length ? ds.attr.pids.map((p) => [link(`#/tasks/${p}`, p), " "]) : newProject()),
      ds.message ? [h("dt", {}, "message"), h("dd", { class: ds.dataset_status === 2 || ds.dataset_status === 5 ? "error" : "" }, ds.message)] : null)));
    if (kept.status !== ds.dataset_status) renderImport();  // not while someone browses, unless the status moved
    details = ds.dataset_status >= 4 && ds.dataset_status !== 5 ? (await api.get("/dataset/details", { did })).details : null;
    const same = kept.status === ds.dataset_status && kept.details === JSON.stringify(details);
    kept.status = ds.dataset_status;
    kept.details = JSON.stringify(details);
    if (same) return;
    renderSplit();
    renderDetails();
  }

  function newProject() {
    const name = typed.keep(h("input", { name: "project-name", placeholder: "project name", value: `${ds.attr.name} project` }));
    const btn = button("Create a project on it", () => busy(btn, async () => {
      const { pid } = await api.post("/project", { name: name.value.trim() || ds.attr.name, project_type: ds.attr.type });
      await api.put("/workspace", { struct: "project", id: pid, attr_dict: { did } });
      app.go(`#/tasks/${pid}`);
    }), { id: "new-project" });
    return ds.dataset_status === 6 ? h("span", { class: "row" }, name, btn) : h("span", { class: "muted" }, "none (split the dataset, then create a project on it)");
  }

  // The import: a browser of the server's allowed directories (GET /browse), then PUT /dataset {did, path}.
  function renderImport() {
    const active = ACTIVE_DATASET.has(ds.dataset_status);
    const chosen = h("code", { class: "crumbs", id: "browse-path" }, "");
    const listEl = h("div", { class: "browser", id: "browser" });
    const up = button("↑ Up", () => open(up.dataset.parent || null), { id: "browse-up" });
    const go = button("Import this folder", () => busy(go, async () => {
      await api.put("/dataset", { did, path: chosen.textContent });
      await load();
    }), { class: "primary", id: "import-here", disabled: true });
    async function open(path) {
      const answer = await api.get("/browse", path ? { path } : {});
      kept.browse = answer.path;
      chosen.textContent = answer.path || "";
      go.disabled = !answer.path;
      up.disabled = !answer.path;
      up.dataset.parent = answer.parent || "";
      clear(listEl, answer.entries.map((e) => h("div", {
        class: `entry ${e.is_dir ? "dir" : "file"}`, data: { path: e.path, name: e.name },
        onclick: e.is_dir ? () => open(e.path) : null,
      }, h("span", { class: "name" }, `${answer.path ? e.name : e.path}${e.is_dir ? "/" : ""}`), h("span", { class: "size" }, e.is_dir ? "" : bytes(e.size)))),
      answer.entries.length ? null : h("div", { class: "entry file" }, "(empty)"),
      answer.truncated ? h("div", { class: "entry file" }, "… more entries than can be listed") : null);
    }
    clear(importCard, section("Import",
      active ? h("div", { class: "stack" }, h("p", {}, "Importing… ", badge(DATASET_STATUS, ds.dataset_status)), importBar)
        : h("div", { class: "stack" },
          h("p", { class: "muted" }, ds.dataset_status >= 4 ? "Imported. Importing again replaces the files." :
            "Choose the folder that holds the dataset (for classification: one sub-folder per class), among the directories this server may read."),
          h("div", { class: "row" }, up, h("span", {}, "Folder: "), chosen), listEl, h("div", { class: "row" }, go))));
    if (!active) open(kept.browse).catch(() => open(null).catch(() => {}));
  }

  function renderSplit() {
    if (!details) { clear(splitCard, section("Split", h("p", { class: "muted" }, "Import the dataset first."))); return; }
    const val = h("input", { type: "number", name: "val_split", min: "0", max: "0.9", step: "0.05", value: "0.2" });
    const test = h("input", { type: "number", name: "test_split", min: "0", max: "0.9", step: "0.05", value: "0.1" });
    const seed = h("input", { type: "number", name: "seed", min: "0", step: "1", value: "2026" });
    const counts = [["train", details.train_files?.length ?? 0], ["val", details.val_files?.length ?? 0], ["test", details.test_files?.length ?? 0]];
    const form = h("form", { class: "stack", id: "split-form" },
      h("div", { class: "row" }, field("Validation share", val), field("Test share", test), field("Seed", seed, "same seed, same split")),
      h("button", { type: "submit", class: "primary" }, ds.dataset_status === 6 ? "Split again" : "Split"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      await busy(form.querySelector("button"), async () => {
        await api.put("/dataset/split", { did, val_split: Number(val.value), test_split: Number(test.value), seed: Number(seed.value) });
        await load();
      });
    });
    clear(splitCard, section("Split", ds.dataset_status === 6
      ? h("div", { class: "stats", id: "split-counts" }, counts.map(([k, v]) => h("div", { class: "stat" }, h("b", {}, String(v)), h("span", {}, `${k} images`))))
      : h("p", { class: "muted" }, "Not split yet."), form));
  }

  function renderDetails() {
    if (!details) { clear(detailsCard); clear(imagesCard); return; }
    const st = details.image_stats || {};
    clear(detailsCard, h("div", { class: "grid two" },
      section("Images per class", bars("", Object.entries(details.class_counts || {}), { format: (v) => String(v) })),
      section("Statistics", h("dl", { class: "kv" },
        h("dt", {}, "images"), h("dd", {}, String(st.count ?? Object.keys(details.file_info || {}).length)),
        h("dt", {}, "classes"), h("dd", {}, (details.labels || []).join(", ")),
        h("dt", {}, "width"), h("dd", {}, st.min_width !== undefined ? `${st.min_width}–${st.max_width} px (mean ${num(st.mean_width, 1)})` : "–"),
        h("dt", {}, "height"), h("dd", {}, st.min_height !== undefined ? `${st.min_height}–${st.max_height} px (mean ${num(st.mean_height, 1)})` : "–"),
        h("dt", {}, "bands"), h("dd", {}, String(details.bands ?? 3))))));
    renderImages();
  }

  // The image browser: a page of thumbnails with their labels drawn (GET /file {path, did}); filter by class and split.
  function renderImages() {
    const labels = details.labels || [];
    const cls = h("select", { name: "class" }, h("option", { value: "" }, "all classes"), labels.map((l) => h("option", { value: l }, l)));
    const part = h("select", { name: "part" }, ["all", "train", "val", "test"].map((p) => h("option", { value: p }, p === "all" ? "all splits" : p)));
    const gallery = h("div", { class: "gallery", id: "gallery" });
    const preview = h("div", { class: "preview" });
    const pager = h("div", { class: "pager" });
    cls.value = kept.cls;
    part.value = kept.part;
    let page = kept.page;
    const files = () => {
      let names = Object.keys(details.file_info || {});
      if (cls.value) names = details.label_info?.[cls.value] || [];
      if (part.value !== "all") {
        const inPart = new Set(details[`${part.value}_files`] || []);
        names = names.filter((n) => inPart.has(n));
      }
      return names;
    };
    const caption = (name) => {
      const info = details.file_info[name];
      return typeof info === "string" && !info.includes("/") ? info : name.split("/").pop();
    };
    function show() {
      const names = files();
      const pages = Math.max(1, Math.ceil(names.length / PAGE));
      page = Math.min(page, pages - 1);
      kept.page = page;
      clear(gallery, names.slice(page * PAGE, page * PAGE + PAGE).map((name) => {
        const img = h("img", { alt: name });
        const fig = h("figure", { class: "thumb", data: { name }, title: name, onclick: () => big(name, img.src) }, img, h("figcaption", {}, caption(name)));
        api.image(`${ds.attr.path}/${name}`, did, { quiet: true }).then((src) => { img.src = src; fig.dataset.loaded = "1"; }).catch(() => { fig.classList.add("error"); });
        return fig;
      }), names.length ? null : h("p", { class: "muted" }, "No image here."));
      clear(pager, button("‹ Previous", () => { page--; show(); }, { disabled: page <= 0 }),
        h("span", {}, `page ${page + 1} of ${pages} · ${names.length} images`),
        button("Next ›", () => { page++; show(); }, { disabled: page >= pages - 1 }));
    }
    function big(name, src) {
      clear(preview, h("div", { class: "card" }, h("div", { class: "spread" }, h("b", {}, name), button("Close", () => clear(preview))),
        h("img", { src, alt: name }), h("p", { class: "muted" }, `label: ${JSON.stringify(details.file_info[name])}`)));
    }
    cls.addEventListener("change", () => { kept.cls = cls.value; page = 0; show(); });
    part.addEventListener("change", () => { kept.part = part.value; page = 0; show(); });
    clear(imagesCard, section("Images with their labels", h("div", { class: "row" }, cls, part), preview, gallery, pager));
    show();
  }

  const refresh = debounce(() => load().catch(() => {}), 300);
  await load();
  return {
    onEvent(ev) {
      if (!events.about(ev, did)) return;
      if (ev.type === "job.reported" && ev.data.kind === "progress") {
        const p = ev.data.data;
        if (p.total) setProgress(importBar, p.done / p.total, `${p.phase || "importing"} ${p.done}/${p.total}`);
        return;
      }
      refresh();
    },
    dispose: refresh.cancel,
  };
}
