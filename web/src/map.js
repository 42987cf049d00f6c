// The MapLibre map over our own style (/styles/sipks.json): the window of days the
// tiles are computed for, refreshes after live changes, the colour-blind palette, the
// hotspot layers, hover and selection, and the operator's region outline. Everything
// it loads comes from this server.

import maplibregl from "maplibre-gl";
import { token } from "./api.js";

/** Starts MapLibre's worker before the style arrives (it parses for a while). */
export const prewarm = () => maplibregl.prewarm();

/** Indonesia [west, south, east, north]. */
export const INDONESIA = [94.9, -11.1, 141.1, 6.1];
/** The fill layers of the three region levels, low zoom to high. */
export const REGION_FILLS = ["provinsi-fill", "kabupaten-kota-fill", "kecamatan-fill"];
const HOTSPOT_LAYERS = ["hotspot-regions-fill", "hotspot-regions-outline", "hotspot-clusters-fill", "hotspot-clusters-outline"];
const SOURCE = "sipks";
/** The selected region's outline, per level. */
const HIGHLIGHTS = [["provinsi-highlight", "provinsi"], ["kabupaten-kota-highlight", "kabupaten_kota"], ["kecamatan-highlight", "kecamatan"]];

/** The map and what the page changes on it. */
export class RiskMap {
  constructor(container, style) {
    this.origin = window.location.origin;
    this.windowDays = null; // the tiles' default (the risk model's window)
    this.version = 0;
    this.palettes = { standar: style };
    this.palette = "standar";
    this.hovered = null;
    this.selected = null;
    this.map = new maplibregl.Map({
      container,
      style,
      bounds: INDONESIA,
      fitBoundsOptions: { padding: 10 },
      attributionControl: false,
      maxPitch: 0,
      // Labels appear at once: the map is idle (and interactive) 300 ms sooner.
      fadeDuration: 0,
      dragRotate: false,
      // Tiles carry incidents only for a logged-in user's scope.
      transformRequest: (url, type) => {
        const tok = token();
        if (tok && type === "Tile" && url.startsWith(`${this.origin}/tiles/`)) {
          return { url, headers: { Authorization: `Bearer ${tok}` } };
        }
        return { url };
      },
    });
    this.map.touchZoomRotate.disableRotation();
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
    this.map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
    this.map.getContainer().classList.add("is-loading");
    this.loaded = new Promise((resolve) => this.map.once("load", resolve));
    this.loaded.then(() => this.map.getContainer().classList.remove("is-loading"));
    this.map.on("mousemove", (e) => this.hover(e));
    this.map.on("mouseout", () => this.setHover(null));
  }

  /** The region feature under a pixel, at the level shown at this zoom. */
  regionAt(point) {
    const layers = REGION_FILLS.filter((id) => this.map.getLayer(id));
    return this.map.queryRenderedFeatures(point, { layers })[0] || null;
  }

  hover(e) {
    const feature = this.regionAt(e.point);
    this.setHover(feature);
    this.map.getCanvas().style.cursor = feature ? "pointer" : "";
  }

  setHover(feature) {
    const key = feature && { source: SOURCE, sourceLayer: feature.sourceLayer, id: feature.id };
    if (this.hovered && (!key || this.hovered.id !== key.id)) this.map.setFeatureState(this.hovered, { hover: false });
    this.hovered = key;
    if (key) this.map.setFeatureState(key, { hover: true });
  }

  /**
   * Outlines the selected region (its code and level), or none. The highlight layers
   * match nothing until a region is selected, so that they cost nothing to draw (line
   * layers over every region are what software-rendered WebGL spends its frames on);
   * hover only changes the fill's opacity, through feature state.
   */
  select(kode, level) {
    this.selected = kode ? { kode, level } : null;
    for (const [id, layerLevel] of HIGHLIGHTS) {
      if (!this.map.getLayer(id)) continue;
      const shown = this.selected && this.selected.level === layerLevel ? kode : "";
      this.map.setFilter(id, ["==", ["get", "kode"], shown]);
    }
  }

  /** Shows the risk of the last `days` days (null: the server's default). */
  setWindow(days) {
    this.windowDays = days;
    this.refresh();
  }

  /** Fetches every tile again (after a change), keeping the old ones until then. */
  refresh() {
    this.version += 1;
    const params = new URLSearchParams();
    if (this.windowDays) params.set("window", String(this.windowDays));
    params.set("v", String(this.version));
    const source = this.map.getSource(SOURCE);
    source?.setTiles([`${this.origin}/tiles/${SOURCE}/{z}/{x}/{y}.mvt?${params}`]);
  }

  showHotspots(on) {
    for (const id of HOTSPOT_LAYERS) {
      if (this.map.getLayer(id)) this.map.setLayoutProperty(id, "visibility", on ? "visible" : "none");
    }
  }

  /**
   * Switches the risk palette: "standar" (sipks.json) or "cb" (sipks-cb.json). Only
   * paint properties change, so sources, drawings and feature state stay.
   */
  async setPalette(name) {
    if (!this.palettes[name]) {
      const response = await fetch(`/styles/${name === "cb" ? "sipks-cb" : "sipks"}.json`);
      this.palettes[name] = await response.json();
    }
    const target = this.palettes[name];
    for (const layer of target.layers) {
      // The page's own hatching of the hotspots (overlays.js) stays.
      if (!this.map.getLayer(layer.id) || layer.id.startsWith("hotspot-regions")) continue;
      for (const [property, value] of Object.entries(layer.paint || {})) {
        this.map.setPaintProperty(layer.id, property, value);
      }
    }
    this.palette = name;
  }

  /** The risk colours of the current palette, for the legend. */
  riskColours() {
    return this.palettes[this.palette].metadata["sipks:risk-palette"];
  }

  /** Outlines one region (an operator's), or none. */
  outline(kode, level) {
    for (const id of ["operator-region-halo", "operator-region-line"]) {
      if (this.map.getLayer(id)) this.map.removeLayer(id);
    }
    if (!kode) return;
    const filter = ["==", ["get", "kode"], kode];
    const common = { source: SOURCE, "source-layer": level, filter, layout: { "line-join": "round" } };
    this.map.addLayer({ id: "operator-region-halo", type: "line", ...common, paint: { "line-color": "#ffffff", "line-width": 7, "line-opacity": 0.8 } });
    this.map.addLayer({ id: "operator-region-line", type: "line", ...common, paint: { "line-color": "#0d47a1", "line-width": 3.5, "line-dasharray": [2, 1] } });
  }

  /**
   * Fits `bbox` (a region's main part, where known) into the part of the map that the
   * region panel (right side) or bottom sheet (tablets, phones) leaves in view.
   */
  fitTo(bbox, maxZoom = 12) {
    this.map.fitBounds(bbox, { padding: this.freePadding(), maxZoom, duration: 600 });
  }

  /** Padding (px) that keeps a fitted box clear of the open panel or sheet. */
  freePadding() {
    const padding = { top: 30, right: 30, bottom: 30, left: 30 };
    const panel = document.getElementById("panel");
    const map = this.map.getContainer().getBoundingClientRect();
    if (!panel || panel.hidden) return padding;
    const box = panel.getBoundingClientRect();
    if (box.left > map.left + map.width / 2) padding.right += Math.max(0, map.right - box.left);
    else padding.bottom += Math.max(0, map.bottom - box.top, map.height * 0.36);
    // Never more padding than the map can give.
    padding.right = Math.min(padding.right, map.width * 0.7);
    padding.bottom = Math.min(padding.bottom, map.height * 0.6);
    return padding;
  }
}
