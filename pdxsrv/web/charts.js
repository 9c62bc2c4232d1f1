// Charts: line charts with the vendored uPlot, bars and heat maps as plain elements.
import uPlot from "./vendor/uplot/uPlot.esm.js";
import { h, num } from "./dom.js";

export const COLORS = ["#1f5fbf", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#c2255c", "#5c940d"];

// A line chart over x; `series` are names. Returns {el, push(x, ys), set(xs, columns), points(), destroy()}.
// The element's data-points attribute says how many x values it holds (what a test or a person counts).
export function lineChart({ title, series, xLabel = "", yLabel = "", height = 220, logY = false, xTime = false, xInt = false }) {
  const el = h("div", { class: "chart", data: { points: "0" } }, h("div", { class: "chart-title" }, title));
  const body = h("div", { class: "chart-body" });
  const empty = h("div", { class: "chart-empty muted" }, "no data yet");
  el.append(body, empty);
  let xs = [];
  let cols = series.map(() => []);
  let plot = null;

  function opts(width) {
    return {
      width, height,
      scales: { x: { time: xTime }, y: { distr: logY ? 3 : 1 } },
      axes: [{ label: xLabel, stroke: "#555", grid: { stroke: "#eee" }, ...(xInt ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] } : {}) },
             { label: yLabel, stroke: "#555", grid: { stroke: "#eee" }, size: 60, values: (u, v) => v.map((x) => num(x, 3)) }],
      series: [{ label: xLabel || "x", value: (u, v) => (v === null ? "–" : num(v, 3)) },
               ...series.map((name, i) => ({ label: name, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true,
                                             points: { show: true, size: 4 }, value: (u, v) => (v === null ? "–" : num(v, 4)) }))],
      legend: { show: true },
      cursor: { drag: { x: true, y: false } },
    };
  }

  function width() { return Math.max(240, (body.clientWidth || el.clientWidth || 480) - 4); }

  function draw() {
    el.dataset.points = String(xs.length);
    empty.hidden = xs.length > 0;
    if (!xs.length) { if (plot) { plot.destroy(); plot = null; } return; }
    const data = [xs, ...cols];
    if (!plot) plot = new uPlot(opts(width()), data, body);
    else plot.setData(data);
  }

  const resize = new ResizeObserver(() => { if (plot) plot.setSize({ width: width(), height }); });
  resize.observe(body);

  return {
    el,
    push(x, ys) {
      const i = xs.indexOf(x);
      if (i >= 0) ys.forEach((y, j) => { if (y !== undefined && y !== null) cols[j][i] = y; });
      else {
        let at = xs.length;
        while (at > 0 && xs[at - 1] > x) at--;
        xs.splice(at, 0, x);
        cols.forEach((c, j) => c.splice(at, 0, ys[j] ?? null));
      }
      draw();
    },
    set(newXs, columns) { xs = [...newXs]; cols = columns.map((c) => [...c]); draw(); },
    clear() { xs = []; cols = series.map(() => []); draw(); },
    points() { return xs.length; },
    destroy() { resize.disconnect(); if (plot) plot.destroy(); },
  };
}

// Horizontal bars: [[label, value], ...]
export function bars(title, entries, { format = (v) => num(v), max = null } = {}) {
  const top = max ?? Math.max(1e-9, ...entries.map(([, v]) => v || 0));
  return h("div", { class: "bars" }, title ? h("div", { class: "chart-title" }, title) : null,
    entries.map(([label, value]) => {
      const fill = h("div", { class: "bars-fill" });
      fill.style.width = `${Math.max(0, Math.min(1, (value || 0) / top)) * 100}%`;
      return h("div", { class: "bars-row" }, h("span", { class: "bars-label", title: label }, label),
        h("div", { class: "bars-track" }, fill), h("span", { class: "bars-value" }, format(value)));
    }));
}

// A confusion matrix as a heat map table: rows are the true classes, columns the predicted ones.
export function heatmap(matrix, labels) {
  const n = matrix.length;
  const names = labels && labels.length === n ? labels
    : labels && labels.length === n - 1 ? [...labels, "background"]  // detection: the last row is what was not found
      : matrix.map((_, i) => String(i));
  const rowSums = matrix.map((r) => r.reduce((a, b) => a + b, 0));
  const head = h("tr", {}, h("th", { class: "corner" }, "true \\ predicted"), names.map((l) => h("th", { title: l }, l)));
  const rows = matrix.map((row, i) => h("tr", {}, h("th", { title: names[i] }, names[i]), row.map((v, j) => {
    const share = rowSums[i] ? v / rowSums[i] : 0;
    const cell = h("td", { title: `${names[i]} → ${names[j]}: ${v} (${(share * 100).toFixed(1)}% of ${names[i]})` }, String(v));
    cell.style.backgroundColor = i === j ? `rgba(43, 138, 62, ${0.1 + 0.8 * share})` : `rgba(217, 72, 15, ${share * 0.85})`;
    if (share > 0.55) cell.classList.add("dark");
    return cell;
  })));
  return h("table", { class: "heatmap", data: { size: String(n) } }, h("thead", {}, head), h("tbody", {}, rows));
}
