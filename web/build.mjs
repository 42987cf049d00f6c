// Builds the web map into web/dist: the page's JavaScript and CSS bundled by esbuild
// under content-hashed names in dist/assets (cached forever by browsers), index.html
// naming them, the label glyphs copied to dist/fonts, and a gzip copy of every text
// asset beside it (the server sends it to clients that accept gzip). dist/ is
// self-contained: the deployment is the sipks binary plus this directory.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const web = dirname(fileURLToPath(import.meta.url));
const dist = join(web, "dist");
const fonts = ["Open Sans Regular", "Open Sans Semibold", "Open Sans Bold"];

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "assets"), { recursive: true });

const result = await build({
  entryPoints: { app: join(web, "src/main.js"), style: join(web, "src/style.css") },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome109", "firefox115", "safari16"],
  outdir: join(dist, "assets"),
  entryNames: "[name]-[hash]",
  // Flat: the server serves /assets/{file}, one path segment.
  chunkNames: "[name]-[hash]",
  splitting: true,
  assetNames: "[name]-[hash]",
  loader: { ".svg": "file", ".png": "file" },
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});

const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const named = (prefix, ext) => {
  const found = outputs.find((f) => f.startsWith(`${prefix}-`) && f.endsWith(ext));
  if (!found) throw new Error(`esbuild wrote no ${prefix}*${ext}`);
  return found;
};
const html = readFileSync(join(web, "src/index.html"), "utf8")
  .replaceAll("{{app.js}}", `/assets/${named("app", ".js")}`)
  .replaceAll("{{style.css}}", `/assets/${named("style", ".css")}`);
writeFileSync(join(dist, "index.html"), html);
// Unhashed: the server caches it for a day.
cpSync(join(web, "src/favicon.svg"), join(dist, "assets/favicon.svg"));

const glyphs = join(web, "node_modules/tileserver-gl-styles/fonts");
for (const font of fonts) {
  if (!existsSync(join(glyphs, font))) throw new Error(`no glyphs for ${font} in ${glyphs}: run npm ci`);
  cpSync(join(glyphs, font), join(dist, "fonts", font), { recursive: true });
}

// Precompressed copies, served with Content-Encoding: gzip.
let js = 0;
let css = 0;
const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
for (const file of walk(dist)) {
  if (!/\.(js|css|html|pbf|json|svg|txt)$/.test(file)) continue;
  const gz = gzipSync(readFileSync(file), { level: 9 });
  writeFileSync(`${file}.gz`, gz);
  if (file.endsWith(".js")) js += gz.length;
  if (file.endsWith(".css")) css += gz.length;
}
const digest = createHash("sha256").update(html).digest("hex").slice(0, 12);
console.log(`web/dist built (index ${digest}): JavaScript ${(js / 1024).toFixed(0)} KiB + CSS ${(css / 1024).toFixed(0)} KiB gzip`);
