// The operator view: log in, see the own region outlined, draw a point, line or
// polygon with terra-draw, fill the form and save (POST /api/incidents); pick an
// existing incident to move or reshape it and edit its fields (PATCH with If-Match).
// Server validation errors appear next to the field they name (problem+json `field`),
// geometry errors and refusals (403 outside the region) on the map. Category, source
// and description must be given (the category chosen, never defaulted); a polygon or
// line crossing itself is refused while it is drawn; an incident can be deleted; an
// edit conflict (412) shows both versions (conflict.js).

import { ApiProblem, request, setToken, token } from "./api.js";
import { formatDate, onLangChange, t } from "./i18n.js";
import { el } from "./national.js";
import { hideConflict, showConflict } from "./conflict.js";
import { setupLocate } from "./locate.js";
import { formatCoord } from "./zones.js";

const CATEGORIES = ["pemilu", "agraria", "antar_kelompok", "sara", "sumber_daya_alam", "ekonomi", "lainnya"];
const STATUSES = ["potensi", "terjadi", "ditangani", "selesai"];
const INCIDENT_LAYERS = ["incidents-point", "incidents-line", "incidents-polygon-fill"];
const $ = (id) => document.getElementById(id);

/** A datetime-local value (local time, minutes) for a Date. */
function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export class OperatorView {
  /** `onChanged()` after a save (the map and legend refresh); `onSession()` after login/logout. */
  constructor(riskMap, regions, { onChanged, onSession, showMessage }) {
    this.riskMap = riskMap;
    this.regions = regions;
    this.onChanged = onChanged;
    this.onSession = onSession;
    this.showMessage = showMessage;
    this.user = null;
    this.draw = null;
    this.featureId = null; // the terra-draw feature being drawn or edited
    this.editing = null; // {id, etag, feature} of an existing incident
    this.fillSelects();
    this.reset();
    onLangChange(() => this.fillSelects());
    $("login-form").addEventListener("submit", (e) => this.login(e));
    $("logout").addEventListener("click", () => this.logout());
    for (const button of document.querySelectorAll(".draw-mode")) {
      button.addEventListener("click", () => this.startDrawing(button.dataset.mode));
    }
    $("draw-cancel").addEventListener("click", () => this.reset());
    $("incident-reset").addEventListener("click", () => this.reset());
    $("incident-form").addEventListener("submit", (e) => this.save(e));
    $("incident-form").addEventListener("input", (e) => this.clearError(e.target));
    $("incident-form").addEventListener("change", (e) => this.clearError(e.target));
    $("incident-delete").addEventListener("click", () => this.remove());
    setupLocate((lonLat) => this.placePoint(lonLat));
  }

  fillSelects() {
    const keep = (id) => $(id).value;
    const fill = (id, values, label) => {
      const before = keep(id);
      $(id).replaceChildren(...values.map((v) => el("option", { value: String(v) }, t(label(v)))));
      if (before) $(id).value = before;
    };
    fill("f-category", CATEGORIES, (c) => `category.${c}`);
    $("f-category").prepend(el("option", { value: "" }, t("form.category.choose")));
    if (!$("f-category").value || $("f-category").selectedIndex < 0) $("f-category").value = "";
    fill("f-severity", [1, 2, 3, 4, 5], (s) => `severity.${s}`);
    fill("f-status", STATUSES, (s) => `status.${s}`);
  }

  // --- session -------------------------------------------------------------------

  /** Restores a session of this tab, if its token is still good. */
  async restore() {
    if (!token()) return this.showLogin();
    try {
      this.setUser((await request("/api/me")).body);
    } catch {
      setToken(null);
      this.showLogin();
    }
  }

  showLogin() {
    this.user = null;
    $("login-form").hidden = false;
    $("operator-work").hidden = true;
    $("user-badge").hidden = true;
    $("logout").hidden = true;
  }

  async login(e) {
    e.preventDefault();
    $("login-error").textContent = "";
    try {
      const { body } = await request("/api/login", {
        method: "POST",
        json: { username: $("login-user").value.trim(), password: $("login-pass").value },
      });
      setToken(body.token);
      $("login-pass").value = "";
      this.setUser(body.user);
      this.onSession();
    } catch (error) {
      $("login-error").textContent = error.message;
    }
  }

  /** The server ended the session (the live stream said `revoked`): log in again. */
  sessionEnded() {
    if (!token()) return;
    setToken(null);
    this.reset();
    this.riskMap.outline(null);
    this.showLogin();
    $("login-error").textContent = t("login.ended");
    this.onSession();
  }

  async logout() {
    try {
      await request("/api/logout", { method: "POST" });
    } catch {
      // The token is dropped here whatever the server says.
    }
    setToken(null);
    this.reset();
    this.riskMap.outline(null);
    this.showLogin();
    this.onSession();
  }

  setUser(user) {
    this.user = user;
    $("login-form").hidden = true;
    $("operator-work").hidden = false;
    $("user-badge").hidden = false;
    $("user-badge").textContent = `${user.username} · ${user.role}`;
    $("logout").hidden = false;
    const region = user.kode && this.regions.get(user.kode);
    const canWrite = user.role !== "analis";
    document.querySelector("#operator-work .toolbar").hidden = !canWrite;
    $("incident-form").hidden = !canWrite;
    $("draw-hint").hidden = !canWrite;
    if (region) {
      $("operator-region").textContent = t("operator.region", { nama: region.nama, kode: region.kode });
      this.riskMap.loaded.then(() => {
        this.riskMap.outline(region.kode, region.level);
        this.riskMap.fitTo(region.main_bbox || region.bbox, 11);
      });
    } else {
      $("operator-region").textContent = canWrite ? t("operator.national") : t("operator.readonly", { role: user.role });
    }
    this.loadMine();
    if (canWrite) this.ensureDraw();
  }

  async loadMine() {
    if (!this.user) return;
    try {
      const { body } = await request("/api/incidents?limit=8");
      $("my-incidents").replaceChildren(
        ...body.features.map((f) =>
          el("li", {},
            el("span", {}, `#${f.id} ${t(`category.${f.properties.category}`)} · ${f.properties.severity}/5 · ${formatDate(f.properties.occurred_at)}`),
            this.user.role === "analis" ? null : el("button", { type: "button", onclick: () => this.edit(f.id) }, t("mine.edit")))),
      );
    } catch {
      $("my-incidents").replaceChildren();
    }
  }

  // --- drawing -------------------------------------------------------------------

  /** terra-draw on the map (loaded and started once). */
  async ensureDraw() {
    if (this.draw) return this.draw;
    const { createDraw } = await import("./draw.js");
    await this.riskMap.loaded;
    if (this.draw) return this.draw;
    this.draw = createDraw(this.riskMap.map, {
      onRefused: () => ($("geometry-error").textContent = t("draw.selfIntersects")),
      onAccepted: () => {
        if ($("geometry-error").textContent === t("draw.selfIntersects")) $("geometry-error").textContent = "";
      },
    });
    this.draw.on("finish", (id, context) => {
      if (context?.action === "draw") this.drawn(id);
    });
    return this.draw;
  }

  /** Whether a drawing mode takes the map's clicks now. */
  drawing() {
    return !!this.draw && ["point", "linestring", "polygon"].includes(this.draw.getMode());
  }

  async startDrawing(mode) {
    const draw = await this.ensureDraw();
    if (this.editing) this.reset();
    draw.clear();
    this.featureId = null;
    draw.setMode(mode);
    for (const b of document.querySelectorAll(".draw-mode")) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
    $("draw-hint").textContent = t(`draw.hint.${mode}`);
    $("geometry-error").textContent = "";
    this.showMessage(null);
    $("incident-save").disabled = true;
  }

  /** A point at typed or located coordinates, as if clicked on the map. */
  async placePoint([lon, lat]) {
    const draw = await this.ensureDraw();
    if (this.editing) this.reset();
    draw.clear();
    draw.setMode("static");
    const [result] = draw.addFeatures([{ type: "Feature", geometry: { type: "Point", coordinates: [lon, lat] }, properties: { mode: "point" } }]);
    if (!result?.valid) {
      $("coord-error").textContent = t("coord.bad");
      return;
    }
    this.drawn(result.id);
    $("draw-hint").textContent = t("coord.placed", { lat: formatCoord(lat), lon: formatCoord(lon) });
    this.riskMap.map.easeTo({ center: [lon, lat], zoom: Math.max(this.riskMap.map.getZoom(), 13), duration: 400 });
  }

  drawn(id) {
    this.featureId = id;
    this.draw.setMode("select");
    this.draw.selectFeature(id);
    for (const b of document.querySelectorAll(".draw-mode")) b.setAttribute("aria-pressed", "false");
    $("draw-hint").textContent = t("draw.hint.done");
    $("incident-save").disabled = false;
    if (!this.editing && !$("f-occurred").value) $("f-occurred").value = localInput(new Date());
    $("f-category").focus();
  }

  geometry() {
    const feature = this.featureId != null && this.draw?.getSnapshotFeature(this.featureId);
    return feature ? feature.geometry : null;
  }

  /** Back to an empty form and no drawing. */
  reset() {
    this.draw?.clear();
    if (this.draw) this.draw.setMode("static");
    this.featureId = null;
    this.editing = null;
    $("incident-form").reset();
    hideConflict();
    this.fillSelects();
    $("f-category").value = "";
    $("incident-delete").hidden = true;
    for (const option of $("f-status").options) option.disabled = false;
    $("f-severity").value = "3";
    $("f-occurred").value = localInput(new Date());
    $("incident-form-title").textContent = t("form.new");
    $("reason-field").hidden = true;
    $("incident-save").disabled = true;
    $("draw-hint").textContent = t("draw.hint");
    for (const b of document.querySelectorAll(".draw-mode")) b.setAttribute("aria-pressed", "false");
    this.clearErrors();
  }

  // --- editing an existing incident -------------------------------------------------

  /** The incident under a map click (operator view), if any. */
  incidentAt(point) {
    const layers = INCIDENT_LAYERS.filter((id) => this.riskMap.map.getLayer(id));
    const hit = this.riskMap.map.queryRenderedFeatures(point, { layers })[0];
    return hit && hit.id != null ? hit.id : null;
  }

  async edit(id) {
    this.clearErrors();
    let answer;
    try {
      answer = await request(`/api/incidents/${id}`);
    } catch (error) {
      $("form-error").textContent = error.message;
      return;
    }
    const feature = answer.body;
    const draw = await this.ensureDraw();
    draw.clear();
    draw.setMode("static");
    this.featureId = null;
    if (feature.geometry) {
      const mode = { Point: "point", LineString: "linestring", Polygon: "polygon" }[feature.geometry.type];
      const [result] = draw.addFeatures([{ type: "Feature", geometry: feature.geometry, properties: { mode } }]);
      if (result?.valid) {
        this.featureId = result.id;
        draw.setMode("select");
        draw.selectFeature(result.id);
      }
    }
    this.editing = { id: feature.id, etag: answer.etag, feature };
    const p = feature.properties;
    $("f-category").value = p.category;
    $("f-severity").value = String(p.severity);
    $("f-status").value = p.status;
    $("f-occurred").value = localInput(new Date(p.occurred_at));
    $("f-source").value = p.source;
    $("f-description").value = p.description;
    $("f-meninggal").value = String(p.casualties?.meninggal ?? 0);
    $("f-luka").value = String(p.casualties?.luka ?? 0);
    $("f-pengungsi").value = String(p.casualties?.pengungsi ?? 0);
    $("f-reason").value = "";
    $("reason-field").hidden = false;
    $("incident-delete").hidden = false;
    // Only nasional and provinsi users move a status back (reopen); others see it.
    const canReopen = ["nasional", "provinsi"].includes(this.user?.role);
    for (const option of $("f-status").options) option.disabled = !canReopen && STATUSES.indexOf(option.value) < STATUSES.indexOf(p.status);
    $("reason-hint").textContent = t(canReopen ? "form.reason.hint.reopen" : "form.reason.hint.operator");
    $("incident-form-title").textContent = t("form.edit", { id: feature.id });
    $("draw-hint").textContent = t("draw.hint.edit", { id: feature.id });
    $("incident-save").disabled = false;
    $("f-category").focus();
  }

  // --- saving ----------------------------------------------------------------------

  properties() {
    const count = (id) => Number($(id).value || 0);
    const when = $("f-occurred").value ? new Date($("f-occurred").value) : null;
    return {
      category: $("f-category").value,
      severity: Number($("f-severity").value),
      status: $("f-status").value,
      occurred_at: when && !Number.isNaN(when.getTime()) ? when.toISOString() : $("f-occurred").value,
      source: $("f-source").value,
      description: $("f-description").value,
      casualties: { meninggal: count("f-meninggal"), luka: count("f-luka"), pengungsi: count("f-pengungsi") },
    };
  }

  /** The body of a PATCH: only what differs from the stored incident. */
  changes(props, geometry) {
    const before = this.editing.feature;
    const body = { type: "Feature", properties: {} };
    if (geometry && JSON.stringify(geometry) !== JSON.stringify(before.geometry)) body.geometry = geometry;
    for (const [key, value] of Object.entries(props)) {
      const old = before.properties[key];
      const same = key === "occurred_at" ? new Date(old).getTime() === new Date(value).getTime() : JSON.stringify(old) === JSON.stringify(value);
      if (!same) body.properties[key] = value;
    }
    const reason = $("f-reason").value.trim();
    if (reason) body.reason = reason;
    return body;
  }

  /** Marks every required field left empty; true when all are given. */
  required() {
    const missing = [["f-category", "form.category.need"], ["f-source", "form.source.need"], ["f-description", "form.description.need"]]
      .filter(([id]) => !$(id).value.trim());
    for (const [id, key] of missing) {
      $(id).setAttribute("aria-invalid", "true");
      $($(id).getAttribute("aria-describedby")).textContent = t(key);
    }
    if (missing.length) $(missing[0][0]).focus();
    return missing.length === 0;
  }

  async save(e) {
    e?.preventDefault();
    this.clearErrors();
    const geometry = this.geometry();
    if (!geometry && !this.editing) {
      $("geometry-error").textContent = t("draw.need");
      return;
    }
    if (!this.required()) return;
    const props = this.properties();
    $("incident-save").disabled = true;
    try {
      const answer = this.editing
        ? await request(`/api/incidents/${this.editing.id}`, {
            method: "PATCH",
            json: this.changes(props, geometry),
            headers: { "If-Match": this.editing.etag },
          })
        : await request("/api/incidents", { method: "POST", json: { type: "Feature", geometry, properties: props } });
      const id = answer.body.id;
      this.reset();
      $("form-ok").textContent = t("form.saved", { id });
      this.loadMine();
      this.onChanged(answer.body);
    } catch (error) {
      $("incident-save").disabled = false;
      this.showProblem(error);
    }
  }

  showProblem(error) {
    if (!(error instanceof ApiProblem)) throw error;
    if (error.status === 401) {
      setToken(null);
      this.showLogin();
      $("login-error").textContent = error.message;
      return;
    }
    if (error.status === 412 && this.editing) {
      this.conflict();
      return;
    }
    if (error.status === 403) {
      this.showMessage(`${t("refused.title")}: ${error.message}`);
      $("form-error").textContent = error.message;
      return;
    }
    const field = error.field || "";
    if (field.startsWith("geometry")) {
      $("geometry-error").textContent = error.message;
      this.showMessage(error.message);
      return;
    }
    const input = field && document.querySelector(`#incident-form [data-field="${CSS.escape(field)}"]`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      $(input.getAttribute("aria-describedby")).textContent = error.message;
      input.focus();
    } else {
      $("form-error").textContent = error.message;
    }
  }

  /**
   * Someone saved a newer version: both are shown; "keep mine" sends the operator's
   * own changes (against the version they opened) on top of the newer version,
   * "take theirs" loads the newer version into the form.
   */
  async conflict() {
    const mine = { properties: this.properties(), geometry: this.geometry() || this.editing.feature.geometry };
    const changes = this.changes(mine.properties, this.geometry());
    let latest;
    try {
      latest = await request(`/api/incidents/${this.editing.id}`);
    } catch (error) {
      $("form-error").textContent = error.message;
      return;
    }
    $("form-error").textContent = t("form.stale");
    $("incident-save").disabled = true;
    const choice = await showConflict(mine, latest.body);
    $("form-error").textContent = "";
    if (choice === "theirs") {
      await this.edit(latest.body.id);
      $("form-ok").textContent = t("conflict.took", { version: latest.body.properties.version });
      return;
    }
    try {
      const answer = await request(`/api/incidents/${this.editing.id}`, {
        method: "PATCH",
        json: changes,
        headers: { "If-Match": latest.etag },
      });
      this.reset();
      $("form-ok").textContent = t("form.saved", { id: answer.body.id });
      this.loadMine();
      this.onChanged(answer.body);
    } catch (error) {
      $("incident-save").disabled = false;
      this.showProblem(error);
    }
  }

  /** Deletes the incident being edited, once confirmed (DELETE with If-Match). */
  async remove() {
    if (!this.editing) return;
    const { id, etag } = this.editing;
    if (!window.confirm(t("form.delete.confirm", { id }))) return;
    this.clearErrors();
    try {
      await request(`/api/incidents/${id}`, { method: "DELETE", headers: { "If-Match": etag } });
      this.reset();
      $("form-ok").textContent = t("form.deleted", { id });
      this.loadMine();
      this.onChanged(null);
    } catch (error) {
      this.showProblem(error);
    }
  }

  clearError(input) {
    if (!input?.hasAttribute("aria-invalid")) return;
    input.removeAttribute("aria-invalid");
    $(input.getAttribute("aria-describedby")).textContent = "";
  }

  clearErrors() {
    for (const input of document.querySelectorAll("#incident-form [aria-invalid]")) this.clearError(input);
    for (const id of ["form-error", "form-ok", "geometry-error"]) $(id).textContent = "";
    this.showMessage(null);
  }
}
