// The legend of the map's symbols beside the risk table: the Gi* hotspot hatching
// per confidence, the incident clusters, the incident symbols (colour = severity,
// letter = category). Re-drawn on a language change.

import { t } from "./i18n.js";
import { el } from "./national.js";
import { CATEGORY_LETTERS, HOTSPOT_BINS } from "./overlays.js";

const SEVERITY = { 1: "#dadaeb", 2: "#bcbddc", 3: "#9e9ac8", 4: "#756bb1", 5: "#54278f" };

const swatch = (cls, colour) => el("span", {
  class: `swatch ${cls}`,
  style: cls === "hatched" ? { backgroundImage: `repeating-linear-gradient(135deg, ${colour} 0 2px, transparent 2px 6px)`, borderColor: colour } : { borderColor: colour },
});

/** Fills #legend-symbols. */
export function renderSymbolLegend() {
  const box = document.getElementById("legend-symbols");
  if (!box) return;
  const hot = [3, 2, 1, -1, -2, -3].map((bin) =>
    el("li", { "data-legend": `hotspot${bin}` }, swatch("hatched", HOTSPOT_BINS[bin]), ` ${t(`legend.gi.${bin}`)}`));
  const severity = Object.entries(SEVERITY).map(([s, colour]) =>
    el("li", { "data-legend": `severity${s}` }, el("span", { class: "dot", style: { background: colour } }), ` ${t(`severity.${s}`)}`));
  const categories = Object.entries(CATEGORY_LETTERS).map(([c, letter]) =>
    el("li", { "data-legend": `category-${c}` }, el("span", { class: "dot letter" }, letter), ` ${t(`category.${c}`)}`));
  box.replaceChildren(
    el("h3", {}, t("legend.hotspots")), el("ul", { class: "symbols" }, hot,
      el("li", { "data-legend": "cluster" }, swatch("cluster", "#6a3d9a"), ` ${t("legend.cluster")}`)),
    el("h3", {}, t("legend.incidents")), el("ul", { class: "symbols" }, severity),
    el("ul", { class: "symbols" }, categories),
    el("p", { class: "muted" }, t("legend.incidents.note")));
}
