// Small SVG charts drawn in the page (no library): line charts with a point per value and an
// optional limit line, and horizontal bar charts. An empty series shows what to do instead.
"use strict";
const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#2b7bb9", "#d9822b", "#3a9d5d", "#b04a6f", "#7a5cc4", "#8c8c3a"];
  const W = 640, H = 240, L = 64, R = 12, T = 14, B = 30;

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }
  function text(parent, x, y, content, attrs = {}) {
    const node = el("text", Object.assign({ x, y }, attrs), parent);
    node.textContent = content;
    return node;
  }
  function short(v) {
    const a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
    if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
    return Number.isInteger(v) ? String(v) : v.toFixed(2);
  }
  function empty(container, message) {
    container.replaceChildren();
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = message;
    container.appendChild(p);
  }
  function legend(container, names) {
    const box = document.createElement("div");
    box.className = "legend";
    names.forEach((name, i) => {
      const item = document.createElement("span");
      item.innerHTML = '<i style="background:' + COLORS[i % COLORS.length] + '"></i>';
      item.append(name);
      box.appendChild(item);
    });
    container.appendChild(box);
  }

  // series: [{name, points: [[x ms, y or null], ...]}]; options: {limit: {y, label}, emptyText, unit}
  function line(container, series, options = {}) {
    const values = series.flatMap((s) => s.points.filter((p) => p[1] !== null && p[1] !== undefined));
    if (values.length === 0) { empty(container, options.emptyText || "No data for this window yet."); return; }
    container.replaceChildren();
    const xs = values.map((p) => p[0]);
    let ys = values.map((p) => p[1]);
    if (options.limit) ys = ys.concat([options.limit.y]);
    const x0 = Math.min(...xs), x1 = Math.max(...xs);
    let y0 = Math.min(0, ...ys), y1 = Math.max(...ys);
    if (y1 === y0) y1 = y0 + 1;
    y1 += (y1 - y0) * 0.05;
    const sx = (x) => L + (x1 === x0 ? (W - L - R) / 2 : (x - x0) / (x1 - x0) * (W - L - R));
    const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
      "aria-label": options.label || "chart" });
    for (let i = 0; i <= 4; i++) {
      const y = y0 + (y1 - y0) * i / 4;
      el("line", { x1: L, x2: W - R, y1: sy(y), y2: sy(y), class: "grid" }, svg);
      text(svg, L - 6, sy(y) + 4, short(y), { class: "tick", "text-anchor": "end" });
    }
    const ticks = x1 === x0 ? [x0] : [x0, x0 + (x1 - x0) / 2, x1];
    const span = x1 - x0;
    for (const x of ticks) {
      const d = new Date(x);
      const label = span > 2 * 86400e3 ? d.toLocaleDateString([], { month: "short", day: "numeric" })
        : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      text(svg, sx(x), H - 10, label, { class: "tick", "text-anchor": "middle" });
    }
    if (options.limit) {
      el("line", { x1: L, x2: W - R, y1: sy(options.limit.y), y2: sy(options.limit.y), class: "limit" }, svg);
      text(svg, W - R - 4, sy(options.limit.y) - 4, options.limit.label, { class: "limit-label", "text-anchor": "end" });
    }
    series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      const pts = s.points.filter((p) => p[1] !== null && p[1] !== undefined);
      if (pts.length > 1) {
        el("polyline", { points: pts.map((p) => sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1)).join(" "),
          fill: "none", stroke: color, "stroke-width": 2, class: "series" }, svg);
      }
      const r = pts.length > 120 ? 1.5 : 3;
      for (const p of pts) {
        const dot = el("circle", { cx: sx(p[0]).toFixed(1), cy: sy(p[1]).toFixed(1), r, fill: color, class: "pt" }, svg);
        el("title", {}, dot).textContent = s.name + ": " + short(p[1]) + (options.unit || "") + " at " + new Date(p[0]).toLocaleString();
      }
    });
    container.appendChild(svg);
    legend(container, series.map((s) => s.name).concat(options.limit ? [] : []));
  }

  // rows: [{label, values: [number, ...]}]; names: the value names (stacked left to right)
  function bars(container, rows, names, options = {}) {
    const shown = rows.filter((r) => r.values.some((v) => v));
    if (shown.length === 0) { empty(container, options.emptyText || "No data for this window yet."); return; }
    container.replaceChildren();
    const rowH = 26, top = 8, labelW = 150;
    const height = top + shown.length * rowH + 20;
    const totals = shown.map((r) => r.values.reduce((a, v) => a + Math.max(0, v || 0), 0));
    const negatives = shown.map((r) => r.values.reduce((a, v) => a + Math.min(0, v || 0), 0));
    const hi = Math.max(1e-9, ...totals), lo = Math.min(0, ...negatives);
    const sx = (v) => labelW + (v - lo) / (hi - lo) * (W - labelW - 70);
    const svg = el("svg", { viewBox: `0 0 ${W} ${height}`, class: "chart bars", role: "img",
      "aria-label": options.label || "bar chart" });
    el("line", { x1: sx(0), x2: sx(0), y1: top - 4, y2: height - 16, class: "grid" }, svg);
    shown.forEach((row, i) => {
      const y = top + i * rowH;
      text(svg, labelW - 8, y + rowH / 2 + 4, row.label, { class: "tick", "text-anchor": "end" });
      let pos = 0, neg = 0;
      row.values.forEach((v, j) => {
        if (!v) return;
        const start = v >= 0 ? pos : neg + v;
        if (v >= 0) pos += v; else neg += v;
        const bar = el("rect", { x: sx(start).toFixed(1), y: y + 4, width: Math.max(1, sx(start + Math.abs(v)) - sx(start)).toFixed(1),
          height: rowH - 8, fill: COLORS[j % COLORS.length], class: "bar" }, svg);
        el("title", {}, bar).textContent = row.label + " · " + names[j] + ": " + short(v) + (options.unit || "");
      });
      const total = row.values.reduce((a, v) => a + (v || 0), 0);
      text(svg, sx(Math.max(0, pos)) + 6, y + rowH / 2 + 4, short(total) + (options.unit || ""), { class: "tick" });
    });
    container.appendChild(svg);
    if (names.length > 1) legend(container, names);
  }

  return { line, bars, empty };
})();
