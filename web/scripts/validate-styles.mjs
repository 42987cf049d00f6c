// Validates MapLibre style files with the MapLibre style-spec validator, the same rules
// the map applies when it loads a style. Usage: node validate-styles.mjs FILE...
// Prints one line per problem ("FILE: message") and exits 1 when any file has one
// (warnings count: they mean the style does not render as written), 2 on bad usage.

import { readFileSync } from "node:fs";
import { validateStyleMin } from "@maplibre/maplibre-gl-style-spec";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate-styles.mjs STYLE.json...");
  process.exit(2);
}

let problems = 0;
for (const file of files) {
  let style;
  try {
    style = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    console.log(`${file}: cannot be read as JSON: ${error.message}`);
    problems += 1;
    continue;
  }
  const errors = validateStyleMin(style);
  for (const error of errors) {
    const severity = error.severity === "warning" ? "warning" : "error";
    console.log(`${file}: ${severity}: ${error.message}`);
  }
  problems += errors.length;
  if (errors.length === 0) {
    console.log(`${file}: valid`);
  }
}
process.exit(problems === 0 ? 0 : 1);
