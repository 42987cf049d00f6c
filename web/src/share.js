// Shareable map links: the view (zoom/lat/lon), the window and the open region live in
// the address's hash, `#map=7.00/-4.10000/120.00000&window=30&region=73.71`, so a
// copied address opens the same map. Read once at start, written as the map moves.

/** The state a hash holds: {center, zoom, window, region}, each optional. */
export function readHash(hash = window.location.hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const out = {};
  const view = params.get("map")?.split("/").map(Number);
  if (view?.length === 3 && view.every(Number.isFinite) && Math.abs(view[1]) <= 90 && Math.abs(view[2]) <= 180) {
    out.zoom = Math.min(Math.max(view[0], 0), 22);
    out.center = [view[2], view[1]];
  }
  const days = Number(params.get("window"));
  if (Number.isInteger(days) && days >= 1 && days <= 3660) out.window = days;
  const region = params.get("region");
  if (region && /^\d{2}(\.\d{2}){0,2}$/.test(region)) out.region = region;
  return out;
}

/** Keeps the hash in step with the map, the window and the open region. */
export function followInHash(map, national) {
  const write = () => {
    const c = map.getCenter();
    const params = new URLSearchParams();
    params.set("map", `${map.getZoom().toFixed(2)}/${c.lat.toFixed(5)}/${c.lng.toFixed(5)}`);
    if (national.windowDays !== national.defaultWindow) params.set("window", String(national.windowDays));
    if (national.openKode) params.set("region", national.openKode);
    const hash = `#${params.toString().replace(/%2F/g, "/")}`;
    if (hash !== window.location.hash) history.replaceState(null, "", hash);
  };
  map.on("moveend", write);
  return write;
}
