// The daily risk-level history of a region as a small inline SVG: one bar a day,
// coloured by its level, as tall as its score.

const SVG = "http://www.w3.org/2000/svg";

function node(name, attrs, parent) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  parent?.appendChild(el);
  return el;
}

/**
 * `history`: [{date, level, score}], oldest first; `colours`: {hijau, kuning, merah};
 * `label`: the chart's accessible description.
 */
export function historyChart(history, colours, label) {
  const width = 300;
  const height = 64;
  const svg = node("svg", { viewBox: `0 0 ${width} ${height + 14}`, class: "history", role: "img", "aria-label": label });
  node("title", {}, svg).textContent = label;
  if (history.length === 0) return svg;
  const max = Math.max(1, ...history.map((d) => d.score));
  const step = width / history.length;
  history.forEach((day, i) => {
    const h = Math.max(3, (day.score / max) * height);
    const bar = node("rect", {
      x: (i * step).toFixed(2),
      y: (height - h).toFixed(2),
      width: Math.max(1, step - 0.6).toFixed(2),
      height: h.toFixed(2),
      fill: colours[day.level] || "#cfd8dc",
    }, svg);
    node("title", {}, bar).textContent = `${day.date}: ${day.level} (${day.score.toFixed(1)})`;
  });
  node("line", { x1: 0, x2: width, y1: height + 0.5, y2: height + 0.5, stroke: "#607d8b", "stroke-width": 1 }, svg);
  const first = node("text", { x: 0, y: height + 12, class: "axis" }, svg);
  first.textContent = history[0].date;
  const last = node("text", { x: width, y: height + 12, class: "axis", "text-anchor": "end" }, svg);
  last.textContent = history[history.length - 1].date;
  return svg;
}
