// Placing an incident without drawing: typed coordinates (decimal degrees, shown to 5
// decimals, about 1 m) or the device's own location ("use my location"). Either
// becomes a point in the drawing tool, as if clicked on the map.

import { t } from "./i18n.js";
import { formatCoord } from "./zones.js";

const $ = (id) => document.getElementById(id);

/** Reads "lat, lon" or "lon lat" text as [lon, lat], or null. Indonesia: lon 90-145. */
export function parseCoordinates(text) {
  const numbers = String(text).replace(/,(?=\d)/g, ".").match(/-?\d+(?:\.\d+)?/g)?.map(Number) || [];
  if (numbers.length !== 2) return null;
  let [a, b] = numbers;
  // Whichever is the longitude (Indonesia lies at 94-141 E, 11 S-6 N).
  if (Math.abs(a) <= 90 && Math.abs(b) > 90) [a, b] = [b, a];
  if (Math.abs(b) > 90 || Math.abs(a) > 180) return null;
  return [a, b];
}

/** Wires the coordinate field and the location button; `place([lon, lat])` adds the point. */
export function setupLocate(place) {
  $("coord-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const lonLat = parseCoordinates($("coord-input").value);
    $("coord-error").textContent = lonLat ? "" : t("coord.bad");
    if (!lonLat) return;
    $("coord-input").value = `${formatCoord(lonLat[1])}, ${formatCoord(lonLat[0])}`;
    place(lonLat);
  });
  $("my-location").addEventListener("click", () => {
    $("coord-error").textContent = "";
    if (!navigator.geolocation) {
      $("coord-error").textContent = t("coord.nogps");
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (position) => {
        const lonLat = [position.coords.longitude, position.coords.latitude];
        $("coord-input").value = `${formatCoord(lonLat[1])}, ${formatCoord(lonLat[0])}`;
        place(lonLat);
      },
      () => ($("coord-error").textContent = t("coord.denied")),
      { enableHighAccuracy: true, timeout: 15000 },
    );
  });
}
