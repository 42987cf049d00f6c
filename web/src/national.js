// The leadership view, "Peta Risiko Nasional": legend with the number of regions per
// risk level, the window selector, the hotspot switch, region search, and the side
// panel of a clicked region (level, explanation of the score, daily history, latest
// incidents).

import { getJson, token } from "./api.js";
import { historyChart } from "./chart.js";
import { formatDate, formatNumber, t } from "./i18n.js";
import { explanation } from "./explain.js";
import { formatTime } from "./zones.js";

const LEVELS = ["hijau", "kuning", "merah"];
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") e.className = value;
    // CSSOM, not a style attribute: the page's CSP allows no inline styles.
    else if (key === "style") Object.assign(e.style, value);
    else if (key.startsWith("on")) e.addEventListener(key.slice(2), value);
    else e.setAttribute(key, value);
  }
  for (const child of children.flat()) if (child != null) e.append(child);
  return e;
}
export { el };

export class NationalView {
  constructor(riskMap, regions, defaultWindow) {
    this.riskMap = riskMap;
    this.regions = regions; // kode -> {kode, nama, level, bbox, pilkada}
    this.defaultWindow = defaultWindow;
    this.windowDays = defaultWindow;
    this.openKode = null;
    this.kecamatan = null;
    this.bind();
  }

  bind() {
    for (const radio of document.querySelectorAll('input[name="window"]')) {
      radio.checked = radio.value === String(this.windowDays);
      radio.addEventListener("change", () => {
        const custom = radio.value === "custom";
        $("window-custom").hidden = !custom;
        if (!custom) this.setWindow(Number(radio.value));
      });
    }
    if (![7, 30, 90].includes(this.windowDays)) {
      document.querySelector('input[name="window"][value="custom"]').checked = true;
      $("window-custom").hidden = false;
      $("window-days").value = String(this.windowDays);
    }
    $("window-apply").addEventListener("click", () => {
      const days = Math.round(Number($("window-days").value));
      if (days >= 1 && days <= 3660) this.setWindow(days);
      else $("window-days").setCustomValidity("1–3660"), $("window-days").reportValidity();
    });
    $("window-days").addEventListener("input", () => $("window-days").setCustomValidity(""));
    $("hotspots-toggle").addEventListener("change", (e) => this.riskMap.showHotspots(e.target.checked));
    $("panel-close").addEventListener("click", () => this.closePanel());
    this.bindSearch();
  }

  setWindow(days) {
    this.windowDays = days;
    this.riskMap.setWindow(days === this.defaultWindow ? null : days);
    this.reload();
  }

  /** Legend counts and the open panel again (after a window change or a live change). */
  reload() {
    const legend = this.loadLegend();
    if (this.openKode) this.openRegion(this.openKode, { move: false });
    return legend;
  }

  windowQuery() {
    return this.windowDays === this.defaultWindow ? "" : `window=${this.windowDays}`;
  }

  async loadLegend() {
    const q = this.windowQuery();
    const [prov, kab] = await Promise.all([
      getJson(`/api/risk?level=provinsi${q ? `&${q}` : ""}`),
      getJson(`/api/risk?level=kabupaten_kota${q ? `&${q}` : ""}`),
    ]);
    this.levels = new Map([...prov.regions, ...kab.regions].map((r) => [r.kode, r.risk_level]));
    const count = (list, filter = () => true) => {
      const out = { hijau: 0, kuning: 0, merah: 0, total: 0 };
      for (const r of list.filter(filter)) {
        out[r.risk_level] += 1;
        out.total += 1;
      }
      return out;
    };
    const daerah = (r) => this.regions.get(r.kode)?.pilkada;
    const columns = [count(prov.regions), count(kab.regions), count([...prov.regions, ...kab.regions], daerah)];
    this.legendCounts = { provinsi: columns[0], kabupaten_kota: columns[1], daerah: columns[2] };
    this.window = kab.window;
    this.renderLegend();
  }

  renderLegend() {
    if (!this.legendCounts) return;
    const colours = this.riskMap.riskColours();
    const [prov, kab, daerah] = [this.legendCounts.provinsi, this.legendCounts.kabupaten_kota, this.legendCounts.daerah];
    $("legend-body").replaceChildren(
      ...LEVELS.map((level) =>
        el("tr", { "data-level": level },
          el("th", { scope: "row" }, el("span", { class: "swatch", style: { background: colours[level] } }), ` ${t(`level.${level}`)}`),
          el("td", { "data-count": "provinsi" }, formatNumber(prov[level])),
          el("td", { "data-count": "kabupaten_kota" }, formatNumber(kab[level])),
          el("td", { "data-count": "daerah" }, formatNumber(daerah[level])),
        ),
      ),
    );
    $("legend-total-prov").textContent = formatNumber(prov.total);
    $("legend-total-kab").textContent = formatNumber(kab.total);
    $("legend-total-daerah").textContent = formatNumber(daerah.total);
    $("legend-window").textContent = t("window.current", { days: this.window.days, asOf: formatDate(this.window.as_of) });
  }

  // --- search -------------------------------------------------------------------

  bindSearch() {
    const input = $("search");
    const list = $("search-results");
    input.addEventListener("input", () => this.search(input.value));
    input.addEventListener("focus", () => this.loadDistricts(), { once: true });
    input.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown") {
        list.querySelector("button")?.focus();
        e.preventDefault();
      } else if (e.key === "Escape") {
        list.hidden = true;
      }
    });
    list.addEventListener("keydown", (e) => {
      const buttons = [...list.querySelectorAll("button")];
      const i = buttons.indexOf(document.activeElement);
      if (e.key === "ArrowDown" && i < buttons.length - 1) buttons[i + 1].focus(), e.preventDefault();
      if (e.key === "ArrowUp") (i > 0 ? buttons[i - 1] : input).focus(), e.preventDefault();
      if (e.key === "Escape") (list.hidden = true), input.focus();
    });
    $("search-form").addEventListener("submit", (e) => {
      e.preventDefault();
      list.querySelector("button")?.click();
    });
  }

  /** Districts join the search on its first use (7,285 of them: not at start). */
  async loadDistricts() {
    if (this.kecamatan) return;
    this.kecamatan = [];
    const { regions } = await getJson("/api/regions?level=kecamatan");
    this.kecamatan = regions;
    if ($("search").value) this.search($("search").value);
  }

  search(text) {
    const list = $("search-results");
    const q = text.trim().toLowerCase();
    if (q.length < 2) {
      list.hidden = true;
      return;
    }
    const all = [...this.regions.values(), ...(this.kecamatan || [])];
    const byCode = /^[0-9.]+$/.test(q);
    const hits = all
      .filter((r) => (byCode ? r.kode.startsWith(q) : r.nama.toLowerCase().includes(q)))
      .sort((a, b) => a.kode.length - b.kode.length || a.kode.localeCompare(b.kode))
      .slice(0, 12);
    list.replaceChildren(
      ...(hits.length
        ? hits.map((r) =>
            el("li", { role: "option" },
              el("button", { type: "button", onclick: () => this.pick(r) },
                el("strong", {}, r.nama), ` ${r.kode} · ${t(`layer.${r.level}`)}`))) 
        : [el("li", { class: "muted" }, t("search.none"))]),
    );
    list.hidden = false;
  }

  pick(region) {
    $("search-results").hidden = true;
    $("search").value = `${region.nama} (${region.kode})`;
    const maxZoom = { provinsi: 7, kabupaten_kota: 9.5, kecamatan: 12 }[region.level];
    // The panel opens first, so the fit leaves room for it; the main part, not the
    // far islands.
    this.openRegion(region.kode);
    this.riskMap.fitTo(region.main_bbox || region.bbox, maxZoom);
  }

  // --- panel ----------------------------------------------------------------------

  closePanel() {
    $("panel").hidden = true;
    this.openKode = null;
    this.riskMap.select(null);
  }

  async openRegion(kode, { move = true } = {}) {
    this.openKode = kode;
    const panel = $("panel");
    panel.hidden = false;
    if (move) $("panel-body").replaceChildren(el("p", { class: "muted" }, t("panel.loading")));
    const q = this.windowQuery();
    const [risk, incidents] = await Promise.all([
      getJson(`/api/regions/${kode}/risk?history_days=90${q ? `&${q}` : ""}`),
      token() ? getJson(`/api/incidents?kode=${kode}&limit=5`).catch(() => null) : Promise.resolve(null),
    ]);
    if (this.openKode !== kode) return;
    this.riskMap.select(kode, risk.level);
    this.renderPanel(risk, incidents);
    if (move) $("panel-close").focus();
  }

  renderPanel(risk, incidents) {
    const colours = this.riskMap.riskColours();
    const ex = risk.explanation;
    $("panel-title").textContent = `${risk.nama} (${risk.kode})`;
    const severe = ex.stats.by_severity[3] + ex.stats.by_severity[4];
    const body = [
      el("p", { class: "level-line" },
        el("span", { class: `badge level-${risk.risk_level}`, style: { background: colours[risk.risk_level] }, "data-risk-level": risk.risk_level },
          t(`level.${risk.risk_level}`)),
        ` ${t("panel.score")}: `, el("strong", { "data-score": "" }, formatNumber(risk.score, 1))),
      el("p", { "data-counts": "" }, t("panel.counts", { total: formatNumber(risk.counts.total), days: risk.window.days, severe })),
      ...explanation(risk),
    ];
    if (ex.indicators.length) {
      body.push(el("h4", {}, t("panel.indicators")),
        el("ul", {}, ex.indicators.map((i) => el("li", {}, `${i.indicator}: ${formatNumber(i.value, 2)} × ${i.weight} = ${formatNumber(i.contribution, 2)}`))));
    }
    const historyLabel = t("panel.history", { days: risk.history.length });
    body.push(el("h3", {}, historyLabel), historyChart(risk.history, colours, historyLabel));
    body.push(el("h3", {}, t("panel.latest")));
    if (!incidents) body.push(el("p", { class: "muted" }, t("panel.login")));
    else if (incidents.features.length === 0) body.push(el("p", { class: "muted" }, t("panel.none")));
    else {
      body.push(el("ul", { class: "incident-list" },
        incidents.features.map((f) =>
          el("li", {},
            el("strong", {}, `#${f.id} ${t(`category.${f.properties.category}`)}`),
            ` · ${t(`status.${f.properties.status}`)} · ${f.properties.severity}/5 · ${formatTime(f.properties.occurred_at, f.properties.kabupaten_kota || risk.kode)}`,
            f.properties.description ? el("div", { class: "muted" }, f.properties.description) : null))));
    }
    $("panel-body").replaceChildren(...body);
  }
}
