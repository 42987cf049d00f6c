// The GIS view: builds download addresses for the export endpoints
// (/api/export/{layer}?format=&region=&window=) and shows the addresses to paste
// into QGIS: TileJSON of the vector tiles, the MapLibre style, OGC API - Features.
// Every layer takes `window` (days: of the risk figures, the clustered incidents, or
// the last days of incidents); from/to would be refused by the region layers.
// Downloads keep the server's Content-Disposition file name.

import { ApiProblem, headers } from "./api.js";
import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);

/** The file name of a Content-Disposition header (RFC 6266: filename* first). */
export function fileName(disposition) {
  if (!disposition) return null;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim());
    } catch {
      // fall through to the plain name
    }
  }
  const plain = /filename\s*=\s*("([^"]*)"|[^;]+)/.exec(disposition);
  return plain ? (plain[2] ?? plain[1]).trim() : null;
}

export class GisView {
  constructor(meta) {
    this.meta = meta;
    this.checked = false;
    const origin = window.location.origin;
    $("u-tilejson").value = `${origin}/tiles/sipks`;
    $("u-style").value = `${origin}/styles/sipks.json`;
    $("u-ogc").value = `${origin}/ogc`;
    for (const id of ["x-layer", "x-region", "x-window", "x-format"]) {
      $(id).addEventListener("input", () => this.update());
    }
    $("export-form").addEventListener("submit", (e) => this.download(e));
    for (const button of document.querySelectorAll("button.copy")) {
      button.addEventListener("click", () => this.copy(button));
    }
    this.update();
  }

  /** Called when the view is shown: tells whether this server has the export endpoints. */
  async shown() {
    if (this.checked) return;
    this.checked = true;
    const spec = await fetch("/openapi.json").then((r) => r.json()).catch(() => ({ paths: {} }));
    const paths = Object.keys(spec.paths || {});
    this.available = paths.some((p) => p.startsWith("/api/export")) && paths.some((p) => p.startsWith("/ogc"));
    $("gis-availability").textContent = this.available
      ? t("gis.available")
      : t("gis.unavailable", { version: this.meta.version });
  }

  url() {
    const params = new URLSearchParams({ format: $("x-format").value });
    const region = $("x-region").value.trim();
    if (region) params.set("region", region);
    const days = Math.round(Number($("x-window").value));
    if (days >= 1) params.set("window", String(days));
    return `${window.location.origin}/api/export/${$("x-layer").value}?${params}`;
  }

  update() {
    $("x-url").value = this.url();
    $("export-error").textContent = "";
    // Incidents need a token: QGIS and GDAL send it as a header.
    $("x-token-hint").hidden = $("x-layer").value !== "incidents";
  }

  /** Downloads with the session's token (a plain link could not send it). */
  async download(e) {
    e.preventDefault();
    $("export-error").textContent = "";
    if (!$("x-region").checkValidity()) {
      $("x-region").reportValidity();
      return;
    }
    try {
      const response = await fetch(this.url(), { headers: headers() });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new ApiProblem(response.status, body);
      }
      const blob = await response.blob();
      const name = fileName(response.headers.get("content-disposition")) || `sipks_${$("x-layer").value}.${$("x-format").value}`;
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = name;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (error) {
      $("export-error").textContent = t("gis.failed", { detail: error.message });
    }
  }

  async copy(button) {
    const input = $(button.dataset.copy);
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
    } catch {
      document.execCommand("copy");
    }
    button.textContent = t("copied");
    setTimeout(() => (button.textContent = t("copy")), 1500);
  }
}
