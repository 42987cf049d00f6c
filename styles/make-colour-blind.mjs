// Writes styles/sipks-cb.json from styles/sipks.json: the same style with the risk
// colours swapped for a colour-blind-safe palette (Okabe & Ito, "Color Universal
// Design", 2008). Run after every change to sipks.json: node styles/make-colour-blind.mjs
// (tests/styles.rs fails while the two styles differ in anything but these colours).

import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

// Bluish green, yellow and vermillion stay apart for every kind of colour blindness and
// keep the names' meaning (hijau green, kuning yellow, merah red) for everyone else.
const COLOUR_BLIND_PALETTE = { hijau: "#009e73", kuning: "#f0e442", merah: "#d55e00" };

const here = new URL(".", import.meta.url);
const { format } = createRequire(new URL("../web/package.json", here))("@maplibre/maplibre-gl-style-spec");

const style = JSON.parse(readFileSync(new URL("sipks.json", here), "utf8"));
const standard = style.metadata["sipks:risk-palette"];
const swap = new Map(Object.entries(standard).map(([level, colour]) => [colour.toLowerCase(), COLOUR_BLIND_PALETTE[level]]));

const recolour = (value) => {
  if (typeof value === "string") return swap.get(value.toLowerCase()) ?? value;
  if (Array.isArray(value)) return value.map(recolour);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, recolour(inner)]));
  }
  return value;
};

const { metadata, ...rest } = style;
const colourBlind = {
  ...recolour(rest),
  name: `${style.name} (ramah buta warna)`,
  metadata: { ...metadata, "sipks:variant": "buta-warna", "sipks:risk-palette": COLOUR_BLIND_PALETTE },
};
writeFileSync(new URL("sipks-cb.json", here), `${format(colourBlind, 2)}\n`);
