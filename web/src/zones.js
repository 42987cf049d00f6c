// Indonesia's three time zones: a region's times are shown in its own zone, named
// (WIB UTC+7, WITA UTC+8, WIT UTC+9), whatever the browser's zone. The zone follows
// the province (the first two digits of the code).

import { currentLang } from "./i18n.js";

const WITA = new Set(["51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"]);
const WIT = new Set(["81", "82", "91", "92", "93", "94", "95", "96", "97"]);

/** {abbr, tz} of the zone of region `kode` (WIB when unknown). */
export function zoneOf(kode) {
  const province = String(kode || "").slice(0, 2);
  if (WITA.has(province)) return { abbr: "WITA", tz: "Asia/Makassar" };
  if (WIT.has(province)) return { abbr: "WIT", tz: "Asia/Jayapura" };
  return { abbr: "WIB", tz: "Asia/Jakarta" };
}

/** A time (ISO text or ms) in the zone of `kode`, with the zone named: "3 Des 2026 10.30 WITA". */
export function formatTime(when, kode, time = true) {
  const zone = zoneOf(kode);
  const text = new Date(when).toLocaleString(currentLang() === "en" ? "en-GB" : "id-ID", {
    dateStyle: "medium",
    ...(time ? { timeStyle: "short" } : {}),
    timeZone: zone.tz,
  });
  return time ? `${text} ${zone.abbr}` : text;
}

/** Degrees to 5 decimals (about 1 m), the way the page shows coordinates. */
export const formatCoord = (value) => Number(value).toFixed(5);
