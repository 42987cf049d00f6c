// The SIPKS web map: boots the map over our own style, the three views (national,
// operator, GIS), language and palette switches, and live updates. Everything is
// loaded from this server; the page works on an intranet without internet.

import { getJson } from "./api.js";
import { LiveEvents } from "./events.js";
import { GisView } from "./gis.js";
import { apply, currentLang, onLangChange, setLang, t } from "./i18n.js";
import { prewarm, REGION_FILLS, RiskMap } from "./map.js";
import { NationalView } from "./national.js";
import { OperatorView } from "./operator.js";
import { addOverlays } from "./overlays.js";
import { renderSymbolLegend } from "./legend.js";
import { followInHash, readHash } from "./share.js";

const $ = (id) => document.getElementById(id);
const PALETTE = "sipks.palette";

/** Shows a message over the map (refusals, geometry errors), or hides it with null. */
function showMessage(text) {
  const box = $("map-message");
  box.hidden = !text;
  box.textContent = text || "";
}

let toastTimer;
function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), 6000);
}

function setLangButton() {
  document.title = `SIPKS — ${t("title")}`;
  const button = $("lang-toggle");
  const other = currentLang() === "en" ? "id" : "en";
  button.textContent = other.toUpperCase();
  button.setAttribute("lang", other);
  button.setAttribute("aria-label", other === "en" ? "English" : "Bahasa Indonesia");
}

/** A vector source given by TileJSON `url`, with that TileJSON's content instead. */
function inlineSource(source, tilejson) {
  const { tiles, minzoom, maxzoom, bounds, attribution } = tilejson;
  return { type: source.type, tiles, minzoom, maxzoom, bounds, attribution };
}

async function boot() {
  apply();
  setLangButton();
  // Milliseconds from navigation start to each step of the start-up.
  const timings = (window.sipksTimings = { script: performance.now() });
  prewarm();
  const mark = (name) => (timings[name] = performance.now());
  // Everything the page needs is asked for at once; the map starts with its style.
  const data = Promise.all([
    getJson("/api/meta"),
    getJson("/api/regions?level=provinsi"),
    getJson("/api/regions?level=kabupaten_kota"),
  ]);
  // The style with its tile source's TileJSON inlined: MapLibre would fetch it only
  // once the style is parsed, and the tiles after that.
  const [style, tilejson] = await Promise.all([getJson("/styles/sipks.json"), getJson("/tiles/sipks")]);
  style.sources.sipks = inlineSource(style.sources.sipks, tilejson);
  mark("style");
  const riskMap = new RiskMap("map", style);
  window.sipksMap = riskMap.map;
  riskMap.loaded.then(() => mark("mapLoad"));
  const [meta, prov, kab] = await data;
  mark("data");
  if (meta.training) {
    $("training-banner").hidden = false;
    document.body.classList.add("is-training");
  }
  const basemapAttribution = style.metadata?.["sipks:basemap-attribution"];
  $("attribution").textContent = basemapAttribution ? `${meta.attribution} · ${basemapAttribution}` : meta.attribution;
  const regions = new Map([...prov.regions, ...kab.regions].map((r) => [r.kode, r]));

  const national = new NationalView(riskMap, regions, meta.window_days);
  let refreshTimer;
  const refreshSoon = () => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => {
      riskMap.refresh();
      national.reload();
      operator.loadMine();
    }, 300);
  };
  const live = new LiveEvents(
    (name, data) => {
      if (name === "revoked") {
        operator.sessionEnded();
        return;
      }
      // Districts change with their regency: the regency's notice is the one to read.
      if (name === "risk" && data.level !== "kecamatan") {
        toast(t("live.risk", { nama: data.nama, level: t(`level.${data.risk_level}`) }));
      }
      if (name === "incident") toast(t("live.incident", { action: t(`action.${data.action}`), kode: data.kode?.[1] || "" }));
      refreshSoon();
    },
    (connected) => {
      $("live-status").dataset.connected = String(connected);
      $("live-status").textContent = connected ? t("live.on") : t("live.off");
    },
  );
  const operator = new OperatorView(riskMap, regions, {
    onChanged: () => refreshSoon(),
    onSession: () => {
      live.start();
      riskMap.refresh();
      if (national.openKode) national.openRegion(national.openKode, { move: false });
    },
    showMessage,
  });
  const gis = new GisView(meta);

  // Views.
  let view = "national";
  const setView = (next) => {
    view = next;
    for (const tab of document.querySelectorAll(".view-tab")) tab.setAttribute("aria-pressed", String(tab.dataset.view === next));
    for (const pane of document.querySelectorAll(".view-pane")) pane.hidden = pane.dataset.pane !== next;
    document.body.dataset.view = next;
    if (next === "gis") gis.shown();
    if (next !== "operator") showMessage(null);
  };
  for (const tab of document.querySelectorAll(".view-tab")) tab.addEventListener("click", () => setView(tab.dataset.view));

  // Language and palette.
  $("lang-toggle").addEventListener("click", () => setLang(currentLang() === "en" ? "id" : "en"));
  onLangChange(() => {
    setLangButton();
    renderSymbolLegend();
    const liveStatus = $("live-status");
    if (liveStatus.dataset.connected) liveStatus.textContent = t(liveStatus.dataset.connected === "true" ? "live.on" : "live.off");
    national.renderLegend();
    if (national.openKode) national.openRegion(national.openKode, { move: false });
    operator.loadMine();
    gis.checked = false;
    if (view === "gis") gis.shown();
  });
  const paletteBox = $("palette-cb");
  paletteBox.checked = localStorage.getItem(PALETTE) === "cb";
  paletteBox.addEventListener("change", async () => {
    const name = paletteBox.checked ? "cb" : "standar";
    localStorage.setItem(PALETTE, name);
    await riskMap.setPalette(name);
    national.renderLegend();
    if (national.openKode) national.openRegion(national.openKode, { move: false });
  });

  // Clicks: an incident to edit (operator view), else a region's panel.
  riskMap.map.on("click", (e) => {
    if (operator.drawing()) return;
    if (view === "operator" && operator.user) {
      const id = operator.incidentAt(e.point);
      if (id != null) return void operator.edit(id);
      if (operator.featureId != null) return;
    }
    const feature = riskMap.regionAt(e.point);
    if (feature) national.openRegion(feature.properties.kode);
  });

  const legend = national.loadLegend().then(() => mark("legend"));
  renderSymbolLegend();
  await riskMap.loaded;
  if (paletteBox.checked) await riskMap.setPalette("cb");
  await legend;
  national.renderLegend();
  await operator.restore();
  live.start();

  // Interactive: regions drawn, legend filled, controls enabled.
  await new Promise((resolve) => {
    const check = () => {
      const drawn = riskMap.map.queryRenderedFeatures({ layers: REGION_FILLS.filter((id) => riskMap.map.getLayer(id)) }).length > 0;
      if (drawn && riskMap.map.loaded()) resolve();
      else riskMap.map.once("idle", check);
    };
    check();
  });
  // A shared link: its view, window and region.
  const shared = readHash();
  if (shared.window) {
    const radio = document.querySelector(`input[name="window"][value="${[7, 30, 90].includes(shared.window) ? shared.window : "custom"}"]`);
    radio.checked = true;
    if (radio.value === "custom") {
      $("window-custom").hidden = false;
      $("window-days").value = String(shared.window);
    }
    national.setWindow(shared.window);
  }
  if (shared.center) riskMap.map.jumpTo({ center: shared.center, zoom: shared.zoom });
  if (shared.region && regions.has(shared.region)) national.openRegion(shared.region, { move: false });
  const writeHash = followInHash(riskMap.map, national);
  const setWindow = national.setWindow.bind(national);
  national.setWindow = (days) => {
    setWindow(days);
    writeHash();
  };
  const closePanel = national.closePanel.bind(national);
  national.closePanel = () => {
    closePanel();
    writeHash();
  };
  const openRegion = national.openRegion.bind(national);
  national.openRegion = async (...args) => {
    const done = openRegion(...args);
    writeHash();
    return done;
  };
  for (const control of document.querySelectorAll("[data-until-ready]")) control.disabled = false;
  mark("interactive");
  // Labels at label points, hatching, category letters: drawn right after the first
  // risk frame, not before it.
  addOverlays(riskMap.map, regions);
  document.body.dataset.ready = "true";
  window.sipks = { riskMap, national, operator, gis, setView };
}

boot().catch((error) => {
  showMessage(`SIPKS: ${error.message}`);
  console.error(error);
});
