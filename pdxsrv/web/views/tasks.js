// Projects and their tasks; a task is created from a form built from the recommended parameters
// (GET /project/task/params {pid}) and the parameter schema (/openapi.json components.schemas.TrainParams.<type>).
import * as api from "../api.js";
import { h, clear, section, table, link, field, button, busy, debounce, duration } from "../dom.js";
import { badge, TASK_STATUS, DATASET_STATUS, PROJECT_TYPES } from "../enums.js";

// The fields shown first; the others are under "More parameters".
const MAIN = ["model", "num_epochs", "batch_size", "learning_rate", "image_shape", "pretrain_weights", "optimizer", "lr_policy",
              "save_interval_epochs", "cuda_visible_devices", "backbone"];
let openapi = null;

// The training-parameter schema of a project type, from /openapi.json (fetched once).
export async function schemaOf(type) {
  if (!openapi) {
    openapi = fetch("/openapi.json", { headers: api.headers(), cache: "no-store" })
      .then((r) => (r.ok ? r.json() : null)).catch(() => null);
  }
  const doc = await openapi;
  return doc?.components?.schemas?.[`TrainParams.${type}`] || null;
}

export async function render(root, route, app) {
  return route.ids[0] ? project(root, route.ids[0], route, app) : projects(root, app);
}

async function projects(root, app) {
  const body = h("div");
  const name = h("input", { name: "name", required: true, placeholder: "e.g. flowers classifier" });
  const type = h("select", { name: "project_type" }, PROJECT_TYPES.map((t) => h("option", { value: t }, t)));
  const dataset = h("select", { name: "did" });
  const form = h("form", { class: "row", id: "create-project" }, field("Name", name), field("Type", type), field("Dataset", dataset),
    h("button", { type: "submit", class: "primary" }, "Create project"));
  let datasets = [];
  const fillDatasets = () => clear(dataset, h("option", { value: "" }, "(choose later)"),
    datasets.filter((d) => d.attr.type === type.value && d.attr.dataset_status === 6).map((d) => h("option", { value: d.id }, `${d.id} · ${d.attr.name}`)));
  type.addEventListener("change", fillDatasets);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    await busy(form.querySelector("button"), async () => {
      const { pid } = await api.post("/project", { name: name.value.trim(), project_type: type.value });
      if (dataset.value) await api.put("/workspace", { struct: "project", id: pid, attr_dict: { did: dataset.value } });
      app.go(`#/tasks/${pid}`);
    });
  });
  root.append(h("h1", {}, "Projects and tasks"), section("New project", form), body);

  async function load() {
    const [ps, ts, ds] = await Promise.all([api.get("/project"), api.get("/project/task"), api.get("/dataset")]);
    datasets = ds.datasets;
    fillDatasets();
    clear(body, ps.projects.map((p) => {
      const tasks = ts.tasks.filter((t) => t.pid === p.id);
      return section(h("span", {}, link(`#/tasks/${p.id}`, `${p.id} · ${p.attr.name}`), h("span", { class: "muted" }, ` ${p.attr.type}`)),
        taskTable(tasks));
    }), ps.projects.length ? null : h("p", { class: "muted" }, "No project yet."));
  }
  const refresh = debounce(() => load().catch(() => {}));
  await load();
  return { onEvent: () => refresh(), dispose: refresh.cancel };
}

export function taskTable(tasks) {
  return table(["task", "description", "status", "created", ""], tasks.map((t) => h("tr", { data: { id: t.id } },
    h("td", {}, link(`#/task/${t.id}`, t.id)), h("td", {}, t.desc || t.name || "", t.parent_id ? h("span", { class: "muted" }, ` (prunes ${t.parent_id})`) : null),
    h("td", {}, badge(TASK_STATUS, t.status)), h("td", { class: "muted" }, t.create_time || ""),
    h("td", {}, link(`#/results/${t.id}`, "results")))));
}

async function project(root, pid, route, app) {
  const head = h("h1", {}, `Project ${pid}`);
  const info = h("div");
  const tasksCard = h("div");
  const formCard = h("div", { id: "new-task" });
  root.append(head, h("div", { class: "grid two" }, info, tasksCard), formCard);
  let p = null;

  async function load() {
    const [answer, ts, ds] = await Promise.all([api.get("/project", { id: pid }), api.get("/project/task", { pid }), api.get("/dataset")]);
    p = answer.attr;
    clear(head, `Project ${pid} · ${p.name}`, h("span", { class: "badge idle" }, p.type));
    const choose = h("select", { name: "bind-did" }, h("option", { value: "" }, "choose a split dataset"),
      ds.datasets.filter((d) => d.attr.type === p.type && d.attr.dataset_status === 6).map((d) => h("option", { value: d.id }, `${d.id} · ${d.attr.name}`)));
    const bind = button("Use this dataset", () => busy(bind, async () => {
      if (!choose.value) return;
      await api.put("/workspace", { struct: "project", id: pid, attr_dict: { did: choose.value } });
      await load();
    }));
    const dataset = ds.datasets.find((d) => d.id === p.did);
    clear(info, section("Project", h("dl", { class: "kv" },
      h("dt", {}, "type"), h("dd", {}, p.type),
      h("dt", {}, "dataset"), h("dd", {}, dataset ? [link(`#/datasets/${dataset.id}`, `${dataset.id} · ${dataset.attr.name}`), " ", badge(DATASET_STATUS, dataset.attr.dataset_status)] : h("span", { class: "row" }, choose, bind)),
      h("dt", {}, "created"), h("dd", {}, p.create_time || ""),
      h("dt", {}, "description"), h("dd", {}, p.desc || "–"))));
    clear(tasksCard, section(`Tasks (${ts.tasks.length})`, taskTable(ts.tasks)));
    if (!formCard.dataset.built) await buildForm();
  }

  async function buildForm(modelType) {
    if (!p.did) { clear(formCard, section("New task", h("p", { class: "muted" }, "Bind a split dataset to the project first."))); return; }
    const [rec, schema] = await Promise.all([api.get("/project/task/params", { pid, model_type: modelType }), schemaOf(p.type)]);
    formCard.dataset.built = "1";
    clear(formCard, taskForm(p, rec, schema, {
      onModel: (m) => buildForm(m),
      submit: async (train, desc) => {
        const { tid } = await api.post("/project/task", { pid, train, desc });
        app.go(`#/task/${tid}`);
      },
    }));
  }

  const refresh = debounce(() => load().catch(() => {}));
  await load();
  return { onEvent: (ev) => { if (ev.type.startsWith("task.") || ev.type.startsWith("project.") || ev.type === "job.state_changed") refresh(); }, dispose: refresh.cancel };
}

// The task form: one input per parameter, typed and bounded by the schema, filled with the recommended values.
export function taskForm(p, rec, schema, { onModel, submit, title = "New task", action = "Create task" }) {
  const props = schema?.properties || {};
  const values = rec.train || {};
  const keys = [...new Set([...MAIN.filter((k) => k in values || (k in props && !props[k].deprecated)), ...Object.keys(values),
                            ...Object.keys(props).filter((k) => !props[k].deprecated)])];
  const inputs = {};
  const fields = keys.map((k) => {
    const input = inputFor(k, props[k] || {}, values[k]);
    inputs[k] = input;
    const s = props[k] || {};
    const check = input.type === "checkbox";
    return h("label", { class: `field${check ? " check" : ""}`, title: s.description || "" },
      check ? [input, h("span", { class: "field-label" }, k)] : [h("span", { class: "field-label" }, k), input],
      s.description ? h("small", { class: "help" }, brief(s)) : null);
  });
  const main = fields.filter((_, i) => MAIN.includes(keys[i]));
  const more = fields.filter((_, i) => !MAIN.includes(keys[i]));
  const desc = h("input", { name: "desc", placeholder: "what this run tries" });
  const estimate = h("div", { class: "stats", id: "estimate" });
  const base = rec.estimate || null;

  function current() {
    const out = {};
    for (const [k, input] of Object.entries(inputs)) out[k] = read(input, props[k] || {}, values[k]);
    return out;
  }
  function paintEstimate() {
    if (!base) { clear(estimate, h("span", { class: "muted" }, "no estimate")); return; }
    const now = current();
    const area = (s) => (Array.isArray(s) ? (s[0] || 1) * (s[1] || s[0] || 1) : 1);
    const scale = ((now.num_epochs || 1) / (values.num_epochs || 1)) * (area(now.image_shape) / area(values.image_shape));
    clear(estimate,
      h("div", { class: "stat" }, h("b", { id: "estimate-time" }, duration(base.seconds * (Number.isFinite(scale) ? scale : 1))), h("span", {}, "estimated training time")),
      h("div", { class: "stat" }, h("b", { id: "recipe" }, rec.recipe || "–"), h("span", {}, "recipe")),
      h("p", { class: "help" }, `${base.basis || ""}${scale !== 1 ? " — scaled to the epochs and image size chosen here" : ""}.`,
        rec.recipe === "from_scratch" ? " No pretrained weights are available here: the recipe trains from scratch." : rec.recipe === "fine_tune" ? " Fine-tunes published pretrained weights." : ""));
  }
  const form = h("form", { class: "card", id: "task-form" },
    h("h2", {}, title), estimate,
    h("div", { class: "form-grid" }, field("Description", desc), main),
    more.length ? h("details", {}, h("summary", {}, `More parameters (${more.length}): augmentation, schedule, normalisation`), h("div", { class: "form-grid" }, more)) : null,
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary", id: "create-task" }, action)));
  form.dataset.model = values.model || "";
  form.addEventListener("input", debounce(paintEstimate, 150));
  if (inputs.model && onModel) inputs.model.addEventListener("change", () => onModel(inputs.model.value));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    await busy(form.querySelector("button[type=submit]"), () => submit(current(), desc.value));
  });
  paintEstimate();
  return form;
}

// The schema's description, without the list of choices the select already shows, cut to a line or two.
function brief(s) {
  let text = s.enum ? s.description.replace(/\s*\([^()]*\)\s*$/, "") : s.description;
  if (text.length > 120) text = `${text.slice(0, 117).replace(/\s+\S*$/, "")}…`;
  return text;
}

function inputFor(key, s, value) {
  const types = [].concat(s.type || []);
  const v = value === undefined ? s.default : value;
  if (s.enum) return h("select", { name: key }, s.enum.map((x) => h("option", { value: x, selected: x === v }, x)));
  if (types.includes("boolean") || typeof v === "boolean") return h("input", { type: "checkbox", name: key, checked: !!v });
  if (types.includes("integer") || types.includes("number") || typeof v === "number") {
    const int = types.includes("integer");
    const min = s.minimum ?? s.exclusiveMinimum, max = s.maximum ?? s.exclusiveMaximum;
    return h("input", { type: "number", name: key, value: v ?? "", step: int ? "1" : "any", min: min ?? null, max: max ?? null, placeholder: v === null ? "null" : null });
  }
  if (types.includes("array") || Array.isArray(v)) return h("input", { name: key, value: Array.isArray(v) ? v.join(", ") : "", placeholder: "comma-separated", data: { array: "1" } });
  return h("input", { name: key, value: v ?? "", placeholder: v === null ? "null (none)" : "" });
}

function read(input, s, original) {
  const types = [].concat(s.type || []);
  if (input.type === "checkbox") return input.checked;
  if (input.tagName === "SELECT") return input.value;
  if (input.type === "number") {
    if (input.value === "") return types.includes("null") || original === null ? null : original;
    return Number(input.value);
  }
  if (input.dataset.array) {
    const itemType = s.items?.type;
    const parts = input.value.split(",").map((x) => x.trim()).filter(Boolean);
    if (itemType === "boolean" || (Array.isArray(original) && typeof original[0] === "boolean")) return parts.map((x) => x === "true");
    if (itemType === "string") return parts;
    return parts.map(Number);
  }
  if (input.value === "" && (original === null || types.includes("null")) && original !== "") return null;
  return input.value;
}
