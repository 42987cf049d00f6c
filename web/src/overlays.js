// What the page draws over the shared style (styles/sipks.json stays as QGIS reads
// it): one label per region at its label point (the tiles' polygons would label
// every island and every tile piece), province names from the opening national
// zoom; the Gi* hotspots as hatching and outline instead of a fill that mixes with
// the risk colours into browns; a letter for each incident's category on its symbol.

/** Category letters, the same in the legend. */
export const CATEGORY_LETTERS = {
  pemilu: "P", agraria: "A", antar_kelompok: "K", sara: "S", sumber_daya_alam: "D", ekonomi: "E", lainnya: "L",
};
/** The Gi* bins' colours (as the style's outline). */
export const HOTSPOT_BINS = { 3: "#b2182b", 2: "#ef8a62", 1: "#fddbc7", "-1": "#d1e5f0", "-2": "#67a9cf", "-3": "#2166ac" };

/** A 12 px diagonal hatch of `colour`, as MapLibre image data. */
function hatch(colour) {
  const size = 12;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext("2d");
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2.5;
  ctx.beginPath();
  for (const offset of [-size, 0, size]) {
    ctx.moveTo(offset, size);
    ctx.lineTo(offset + size, 0);
  }
  ctx.stroke();
  return ctx.getImageData(0, 0, size, size);
}

/** The regions (kode -> {nama, level, label_point}) as label points. */
function labelPoints(regions) {
  const features = [];
  for (const r of regions.values()) {
    if (!r.label_point) continue;
    features.push({ type: "Feature", geometry: { type: "Point", coordinates: r.label_point }, properties: { kode: r.kode, nama: r.nama, level: r.level } });
  }
  return { type: "FeatureCollection", features };
}

/** Puts the page's overlays on the loaded map. */
export function addOverlays(map, regions) {
  // Labels: one per region, at its label point.
  map.addSource("region-labels", { type: "geojson", data: labelPoints(regions) });
  // Province names last, on top: they win the label collisions.
  for (const [id, level, minzoom] of [["kabupaten-kota-label", "kabupaten_kota", 6], ["provinsi-label", "provinsi", 3]]) {
    const layer = map.getStyle().layers.find((l) => l.id === id);
    if (!layer) continue;
    map.removeLayer(id);
    const layout = { ...layer.layout, "symbol-avoid-edges": false };
    delete layout["symbol-sort-key"];
    map.addLayer({
      id,
      type: "symbol",
      source: "region-labels",
      filter: ["==", ["get", "level"], level],
      minzoom,
      maxzoom: layer.maxzoom ?? 24,
      layout,
      paint: layer.paint,
    });
  }
  // Gi*: hatching in the bin's colour, the risk colour still readable beneath.
  if (map.getLayer("hotspot-regions-fill")) {
    const match = ["match", ["get", "hotspot_bin"]];
    for (const [bin, colour] of Object.entries(HOTSPOT_BINS)) {
      map.addImage(`hatch${bin}`, hatch(colour), { pixelRatio: 1 });
      match.push(Number(bin), `hatch${bin}`);
    }
    match.push("hatch1");
    map.setPaintProperty("hotspot-regions-fill", "fill-color", undefined);
    map.setPaintProperty("hotspot-regions-fill", "fill-opacity", ["match", ["abs", ["get", "hotspot_bin"]], 3, 0.9, 2, 0.75, 0.5]);
    map.setPaintProperty("hotspot-regions-fill", "fill-pattern", match);
    map.setPaintProperty("hotspot-regions-outline", "line-width", ["interpolate", ["linear"], ["zoom"], 4, 1.5, 10, 3]);
  }
  // Incidents: the category's letter on each point.
  if (map.getLayer("incidents-point")) {
    const letter = ["match", ["get", "category"]];
    for (const [category, l] of Object.entries(CATEGORY_LETTERS)) letter.push(category, l);
    letter.push("?");
    map.addLayer({
      id: "incidents-category",
      type: "symbol",
      source: "sipks",
      "source-layer": "incidents",
      filter: ["all", ["==", ["get", "cluster"], false], ["==", ["geometry-type"], "Point"]],
      minzoom: 11,
      layout: { "text-field": letter, "text-font": ["Open Sans Bold"], "text-size": 10, "text-allow-overlap": true },
      paint: { "text-color": "#ffffff", "text-halo-color": "#3f007d", "text-halo-width": 0.8 },
    }, map.getLayer("incidents-cluster") ? "incidents-cluster" : undefined);
    map.setPaintProperty("incidents-point", "circle-radius", ["interpolate", ["linear"], ["zoom"], 11, 6, 16, 9]);
  }
}
