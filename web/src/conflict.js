// An edit conflict (412 on PATCH): someone saved the incident after the operator
// opened it. Shows both versions side by side, the fields that differ marked, and
// lets the operator keep theirs (their own changes re-applied on the newer version)
// or take the other version. Nothing is lost silently.

import { t, formatDate } from "./i18n.js";
import { el } from "./national.js";

const $ = (id) => document.getElementById(id);
const FIELDS = ["category", "severity", "status", "occurred_at", "source", "description", "casualties", "geometry"];

/** A field's value as the operator reads it. */
function shown(key, value) {
  if (value == null || value === "") return "—";
  if (key === "category") return t(`category.${value}`);
  if (key === "status") return t(`status.${value}`);
  if (key === "severity") return t(`severity.${value}`);
  if (key === "occurred_at") return formatDate(value);
  if (key === "casualties") return `${t("form.meninggal")} ${value.meninggal ?? 0}, ${t("form.luka")} ${value.luka ?? 0}, ${t("form.pengungsi")} ${value.pengungsi ?? 0}`;
  if (key === "geometry") return t(`geometry.${value.type}`);
  return String(value);
}

/** Coordinates to 6 decimals (about 0.1 m): the drawing tool and the store round differently. */
const rounded = (geometry) => JSON.stringify(geometry?.coordinates, (_, v) => (typeof v === "number" ? Math.round(v * 1e6) / 1e6 : v));

const same = (key, a, b) => {
  if (key === "occurred_at") return Math.floor(new Date(a).getTime() / 60000) === Math.floor(new Date(b).getTime() / 60000);
  if (key === "geometry") return a?.type === b?.type && rounded(a) === rounded(b);
  return JSON.stringify(a) === JSON.stringify(b);
};

/**
 * Shows the conflict between `mine` ({properties, geometry} as in the form) and
 * `theirs` (the stored Feature); resolves to "mine" or "theirs" when chosen.
 */
export function showConflict(mine, theirs) {
  const box = $("conflict");
  const rows = FIELDS.map((key) => {
    const a = key === "geometry" ? mine.geometry : mine.properties[key];
    const b = key === "geometry" ? theirs.geometry : theirs.properties[key];
    const differs = !same(key, a, b);
    return el("tr", { class: differs ? "differs" : "" },
      el("th", { scope: "row" }, t(`form.${key === "occurred_at" ? "occurred" : key}`)),
      el("td", { "data-side": "mine" }, shown(key, a)),
      el("td", { "data-side": "theirs" }, shown(key, b)));
  });
  const p = theirs.properties;
  $("conflict-text").textContent = t("conflict.text", { id: theirs.id, version: p.version, when: p.updated_at ? formatDate(p.updated_at) : "" });
  $("conflict-rows").replaceChildren(...rows);
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
  $("conflict-mine").focus();
  return new Promise((resolve) => {
    const done = (choice) => {
      box.hidden = true;
      $("conflict-mine").onclick = null;
      $("conflict-theirs").onclick = null;
      resolve(choice);
    };
    $("conflict-mine").onclick = () => done("mine");
    $("conflict-theirs").onclick = () => done("theirs");
  });
}

/** Hides a conflict left open (the form was reset). */
export function hideConflict() {
  $("conflict").hidden = true;
}
