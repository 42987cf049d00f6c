// The web map in real headless Chromium (Debian's chromium, driven by playwright-core)
// against a running sipks server on real data. Run by tests/web.rs, which starts the
// server and passes:
//   SIPKS_URL        the server, http://127.0.0.1:PORT
//   SIPKS_E2E_MODE   full | training
//   SIPKS_OPERATOR   user:password of a kabupaten_kota operator of 73.71 (full)
//   SIPKS_NASIONAL   user:password of a nasional user (full)
//   SIPKS_INSIDE     [lon, lat, radius°] of a circle inside 73.71 (full)
//   SIPKS_OUTSIDE    [lon, lat, radius°] of a circle inside another regency (full)
//   SIPKS_ARTIFACTS  where screenshots go (test-artifacts/)
// Exits non-zero on the first failed check; prints what it measured.

import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

// playwright-core is a devDependency of the npm project in web/.
const { chromium } = createRequire(new URL("../../web/package.json", import.meta.url))("playwright-core");

const BASE = process.env.SIPKS_URL;
const MODE = process.env.SIPKS_E2E_MODE || "full";
const ARTIFACTS = process.env.SIPKS_ARTIFACTS || "test-artifacts";
const CHROMIUM = process.env.SIPKS_CHROMIUM || "/usr/bin/chromium";
const LOADS = Number(process.env.SIPKS_E2E_LOADS || 5);
const INTERACTIVE_BUDGET_MS = 2000;
const BUNDLE_BUDGET_BYTES = 1.5e6;
mkdirSync(ARTIFACTS, { recursive: true });

let checks = 0;
function check(condition, what, detail = "") {
  if (!condition) {
    throw new Error(`FAILED: ${what}${detail ? `\n  ${typeof detail === "string" ? detail : JSON.stringify(detail)}` : ""}`);
  }
  checks += 1;
  console.log(`ok ${checks} - ${what}`);
}
const log = (...args) => console.log("#", ...args);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// --- the API, from node -------------------------------------------------------------

async function api(path, { method = "GET", token, json, headers = {} } = {}) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(json ? { "Content-Type": "application/json" } : {}), ...headers },
    body: json ? JSON.stringify(json) : undefined,
  });
  const body = (response.headers.get("content-type") || "").includes("json") ? await response.json() : await response.text();
  return { status: response.status, body, etag: response.headers.get("etag") };
}

async function login(credentials) {
  const [username, password] = credentials.split(":");
  const { status, body } = await api("/api/login", { method: "POST", json: { username, password } });
  if (status !== 200) throw new Error(`login ${username}: ${status} ${JSON.stringify(body)}`);
  return body.token;
}

// --- the browser --------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
});

/** Every request of a page: to another host, failed, or answered with an error. */
function watch(page, expected = []) {
  const seen = { foreign: [], failed: [], errors: [], aborted: 0, pageErrors: [], requests: [] };
  page.on("request", (request) => {
    const url = new URL(request.url());
    seen.requests.push(request.url());
    if (!["blob:", "data:"].includes(url.protocol) && url.origin !== BASE) seen.foreign.push(request.url());
  });
  page.on("requestfailed", (request) => {
    const reason = request.failure()?.errorText || "";
    // Cancelled by the page (a tile no longer needed after a move, a stream closed
    // on logout): not a failure of the server.
    if (reason === "net::ERR_ABORTED") seen.aborted += 1;
    else seen.failed.push(`${request.method()} ${request.url()}: ${reason}`);
  });
  page.on("response", (response) => {
    if (response.status() < 400) return;
    const what = `${response.status()} ${response.request().method()} ${new URL(response.url()).pathname}`;
    const i = expected.indexOf(what);
    if (i >= 0) expected.splice(i, 1);
    else seen.errors.push(what);
  });
  page.on("pageerror", (error) => seen.pageErrors.push(error.message));
  return seen;
}

function clean(seen, what) {
  check(seen.foreign.length === 0, `${what}: no request to any other host`, seen.foreign);
  check(seen.failed.length === 0 && seen.errors.length === 0, `${what}: no failed request`, [...seen.failed, ...seen.errors]);
  check(seen.pageErrors.length === 0, `${what}: no script error`, seen.pageErrors);
}

/** The page's own JavaScript and CSS seen in any page: path -> gzip size. */
const ownAssets = new Map();

async function newPage(viewport = { width: 1366, height: 768 }, expected = []) {
  const context = await browser.newContext({ viewport, locale: "id-ID" });
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  const seen = watch(page, expected);
  page.on("response", async (response) => {
    const path = new URL(response.url()).pathname;
    if (!path.startsWith("/assets/") || !/\.(js|css)$/.test(path) || ownAssets.has(path) || response.status() !== 200) return;
    ownAssets.set(path, { gzip: response.headers()["content-encoding"] === "gzip", size: gzipSync(await response.body(), { level: 9 }).length });
  });
  return { context, page, seen };
}

async function ready(page) {
  await page.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout: 30000 });
}

/** Waits until the map has drawn everything after a change. */
async function idle(page) {
  await page.evaluate(() => new Promise((resolve) => {
    const map = window.sipksMap;
    map.once("idle", resolve);
    map.triggerRepaint();
  }));
}

/** A region's attributes in the loaded tiles (composite source, regency layer). */
async function tileRegion(page, kode) {
  return page.evaluate((kode) => {
    const found = window.sipksMap.querySourceFeatures("sipks", { sourceLayer: "kabupaten_kota", filter: ["==", ["get", "kode"], kode] });
    return found.length ? { risk_level: found[0].properties.risk_level, incident_count: found[0].properties.incident_count } : null;
  }, kode);
}

async function waitFor(what, probe, timeoutMs = 70000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`FAILED: timed out waiting for ${what}`);
}

/** Clicks at a longitude/latitude on the map, as a user's mouse does. */
async function clickAt(page, lngLat) {
  const [x, y] = await page.evaluate(([lng, lat]) => {
    const point = window.sipksMap.project([lng, lat]);
    const box = window.sipksMap.getContainer().getBoundingClientRect();
    return [box.left + point.x, box.top + point.y];
  }, lngLat);
  await page.mouse.move(x, y, { steps: 2 });
  await page.mouse.click(x, y);
  await page.waitForTimeout(150);
}

/** Draws a polygon around a circle's centre (half its radius) by mouse clicks. */
async function drawSquare(page, [lon, lat, radius]) {
  const h = Math.min(radius * 0.5, 0.02);
  const corners = [[lon - h, lat - h], [lon + h, lat - h], [lon + h, lat + h], [lon - h, lat + h]];
  await page.click('.draw-mode[data-mode="polygon"]');
  await page.waitForSelector('.draw-mode[data-mode="polygon"][aria-pressed="true"]');
  for (const corner of corners) await clickAt(page, corner);
  await clickAt(page, corners[0]);
  await page.waitForFunction(() => !document.getElementById("incident-save").disabled, null, { timeout: 5000 });
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, name) });
  log(`screenshot ${join(ARTIFACTS, name)}`);
}

// --- the national view: loads clean and fast, risk levels, controls, live ---------------

const phases = [];

/** Time to interactive and the size of the page's own code, checked last. */
function performanceChecks() {
  const interactive = phases.map((p) => p.interactive);
  for (const name of Object.keys(phases[0])) {
    log(`start-up ${name}: median ${median(phases.map((p) => p[name])).toFixed(0)} ms (${phases.map((p) => p[name].toFixed(0)).join(", ")})`);
  }
  let js = 0;
  let css = 0;
  for (const [path, { gzip, size }] of ownAssets) {
    check(gzip, `${path} is sent gzip-compressed`);
    if (path.endsWith(".js")) js += size;
    else css += size;
  }
  log(`own code, gzip: JavaScript ${js} B + CSS ${css} B = ${js + css} B (${[...ownAssets.keys()].join(", ")})`);
  check(js > 0 && css > 0 && [...ownAssets.keys()].some((p) => p.includes("/draw-")), "the page's own JavaScript (with the drawing chunk) and CSS were measured");
  check(js + css < BUNDLE_BUDGET_BYTES, `the page's own JavaScript + CSS, gzip, total ${js + css} bytes < 1.5 MB`);
  log(`time to interactive median ${median(interactive).toFixed(0)} ms, max ${Math.max(...interactive).toFixed(0)} ms over ${phases.length} loads`);
  check(median(interactive) < INTERACTIVE_BUDGET_MS, `the national view is interactive within 2 s (median ${median(interactive).toFixed(0)} ms)`);
}

async function nationalView() {
  for (let i = 0; i < LOADS; i += 1) {
    const { context, page, seen } = await newPage();
    await page.goto(BASE);
    await ready(page);
    if (i === 0) {
      clean(seen, "the national map loads");
      check((await page.evaluate(() => window.__csp)).length === 0, "no Content-Security-Policy violation", await page.evaluate(() => window.__csp));
      check(!(await page.isVisible("#training-banner")), "no training banner on real data");
    }
    phases.push(await page.evaluate(() => window.sipksTimings));
    await context.close();
  }

  const { context, page, seen } = await newPage();
  await page.goto(BASE);
  await ready(page);
  const title = await page.textContent("h1");
  check(title.includes("Peta Risiko Nasional"), "the page is in Bahasa Indonesia first", title);

  // Legend: the number of regions per level, and of the 545 autonomous regions.
  const risk = (await api("/api/risk?level=kabupaten_kota")).body;
  const provinces = (await api("/api/risk?level=provinsi")).body;
  const totals = await page.evaluate(() => ["legend-total-prov", "legend-total-kab", "legend-total-daerah"].map((id) => document.getElementById(id).textContent));
  check(totals[0] === "38" && totals[1] === "514" && totals[2] === "545", "the legend counts 38 provinces, 514 regencies/cities, 545 autonomous regions", totals);
  for (const level of ["hijau", "kuning", "merah"]) {
    const shown = await page.textContent(`#legend-body tr[data-level="${level}"] td[data-count="kabupaten_kota"]`);
    const expected = risk.regions.filter((r) => r.risk_level === level).length;
    check(Number(shown.replace(/\./g, "")) === expected, `the legend's ${level} regencies match /api/risk (${expected})`, shown);
    const shownProv = await page.textContent(`#legend-body tr[data-level="${level}"] td[data-count="provinsi"]`);
    check(Number(shownProv) === provinces.regions.filter((r) => r.risk_level === level).length, `the legend's ${level} provinces match /api/risk`);
  }

  // Zoom 5 over Sulawesi: every rendered regency carries the level /api/risk reports.
  await page.evaluate(() => window.sipksMap.jumpTo({ center: [121.0, -2.0], zoom: 5 }));
  await idle(page);
  const rendered = await page.evaluate(() =>
    window.sipksMap.queryRenderedFeatures({ layers: ["kabupaten-kota-fill"] }).map((f) => [f.properties.kode, f.properties.risk_level]));
  const byCode = new Map(risk.regions.map((r) => [r.kode, r.risk_level]));
  const sulawesi = new Map(rendered.filter(([kode]) => /^7[1-6]\./.test(kode)));
  check(sulawesi.size >= 70, `at zoom 5 over Sulawesi the regency layer is rendered (${sulawesi.size} Sulawesi regencies)`);
  const wrong = [...new Map(rendered)].filter(([kode, level]) => byCode.get(kode) !== level);
  check(wrong.length === 0, `every rendered regency carries the risk level /api/risk reports (${new Map(rendered).size} regencies)`, wrong);
  check(sulawesi.get("72.02") === "merah" && sulawesi.get("73.06") === "kuning" && sulawesi.get("73.71") === "hijau",
    "Poso is merah, Gowa kuning, Makassar hijau, as the fixture makes them", Object.fromEntries(sulawesi));

  // Click a region: the side panel with its level, explanation, history and incidents.
  const regions = (await api("/api/regions?level=kabupaten_kota")).body.regions;
  const poso = regions.find((r) => r.kode === "72.02");
  await clickAt(page, poso.label_point);
  await page.waitForSelector("#panel:not([hidden]) [data-risk-level]", { timeout: 10000 });
  check((await page.textContent("#panel-title")).includes("72.02"), "a click on Poso opens its panel");
  check(await page.getAttribute("#panel [data-risk-level]", "data-risk-level") === "merah", "the panel shows the level merah");
  check(await page.locator("#panel .rules li").count() >= 1, "the panel explains the score (rules)");
  check(await page.locator("#panel svg.history rect").count() >= 80, "the panel charts the daily level history (90 days)");
  check((await page.textContent("#panel-body")).includes("Masuk untuk melihat kejadian"), "an anonymous reader is asked to log in to see incidents");
  // Issue 15 defects 4 and 5: why merah, in plain Bahasa words.
  const threshold = await page.textContent("#panel [data-threshold]");
  check(/ambang merah 35\b/.test(threshold), "the panel names the threshold the score crossed (merah from 35 for a regency)", threshold);
  // An anonymous reader gets the parts summed per category, never an incident (issue
  // 17.3); the incident-by-incident list is for users who may read the whole region.
  const part = await page.textContent("#panel .contributions");
  check(part.includes("SARA") && (await page.locator("#panel [data-contribution]").count()) === 0,
    "an anonymous reader sees the contributions per category, no incident", part);
  const rulesText = await page.textContent("#panel .rules");
  check(!/incident\(s\)|regencies|severity >=|applies/.test(rulesText) && rulesText.includes("Kejadian berat terbaru"),
    "the rules are told in Bahasa Indonesia, not the model's English", rulesText);
  // Issue 15 defect 9: one label per region at its label point, province names at the
  // opening zoom, legends for the hotspots, clusters and incident symbols.
  const legendItems = await page.evaluate(() => [...document.querySelectorAll("#legend-symbols [data-legend]")].map((li) => li.dataset.legend));
  check(["hotspot3", "hotspot-3", "cluster", "severity5", "category-sara"].every((k) => legendItems.includes(k)),
    "the legend explains the Gi* hatching, clusters, incident severity colours and category letters", legendItems);
  check(await page.evaluate(() => !!window.sipksMap.getPaintProperty("hotspot-regions-fill", "fill-pattern")),
    "the Gi* hotspots are hatched, not a fill mixing with the risk colours");
  const broken = await page.evaluate(() => [...document.querySelectorAll(".legend thead th")].flatMap((th) => {
    const text = th.firstChild;
    if (!text || text.nodeType !== 3) return [];
    const out = [];
    for (const m of text.data.matchAll(/\S+/g)) {
      const range = document.createRange();
      range.setStart(text, m.index);
      range.setEnd(text, m.index + m[0].length);
      if (new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1) out.push(m[0]);
    }
    return out;
  }));
  check(broken.length === 0, "no legend header breaks inside a word", broken);
  await idle(page);
  await shot(page, "national-1366x768.png");
  await page.evaluate(() => window.sipksMap.jumpTo({ center: [120.0, -4.0], zoom: 7 }));
  await idle(page);
  const labels = await page.evaluate(() => window.sipksMap.queryRenderedFeatures({ layers: ["provinsi-label"] }).map((f) => f.properties.kode));
  check(labels.filter((k) => k === "73").length === 1, "at zoom 7 Sulawesi Selatan is labelled once", labels);
  await page.evaluate(() => window.sipksMap.fitBounds([94.9, -11.1, 141.1, 6.1], { padding: 10, duration: 0 }));
  await idle(page);
  const national = await page.evaluate(() => window.sipksMap.queryRenderedFeatures({ layers: ["provinsi-label"] }).map((f) => f.properties.kode));
  check(new Set(national).size >= 15 && national.length === new Set(national).size,
    `at the opening national zoom the provinces are named, each once (${national.length})`, national);

  // Keyboard: the main controls are real, labelled, focusable controls.
  const controls = await page.evaluate(() =>
    ["search", "hotspots-toggle", "palette-cb", "lang-toggle", "panel-close", "window-days"].map((id) => {
      const el = document.getElementById(id);
      const label = el.labels?.[0]?.textContent || el.getAttribute("aria-label") || el.closest("label")?.textContent || "";
      el.focus();
      return { id, focusable: document.activeElement === el || el.offsetParent === null, label: label.trim() };
    }));
  check(controls.every((c) => c.focusable && c.label), "the main controls are focusable and labelled", controls);
  await page.focus("#search");
  await page.keyboard.press("Shift+Tab");
  await page.keyboard.press("Tab");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  check(outline !== "none", "keyboard focus is visible", outline);

  // Search by name and by code.
  await page.fill("#search", "makassar");
  await page.waitForSelector("#search-results:not([hidden]) button");
  check((await page.textContent("#search-results")).includes("73.71"), "searching 'makassar' finds Kota Makassar (73.71)");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.getElementById("panel-title").textContent.includes("73.71"), null, { timeout: 10000 });
  check(true, "choosing the result with the keyboard opens its panel");
  // Issue 15 defect 8: the fit shows Makassar's main part beside the panel, not
  // behind it, and not its far islands.
  await page.waitForTimeout(800);
  await idle(page);
  const makassar = regions.find((r) => r.kode === "73.71");
  const fit = await page.evaluate((main) => {
    const map = window.sipksMap;
    const a = map.project([main[0], main[1]]);
    const b = map.project([main[2], main[3]]);
    const panel = document.getElementById("panel").getBoundingClientRect();
    const box = map.getContainer().getBoundingClientRect();
    return { left: Math.min(a.x, b.x), right: Math.max(a.x, b.x), top: Math.min(a.y, b.y), bottom: Math.max(a.y, b.y),
      panelLeft: panel.left - box.left, height: box.height, width: (Math.max(a.x, b.x) - Math.min(a.x, b.x)) };
  }, makassar.main_bbox);
  check(Array.isArray(makassar.main_bbox) && fit.left >= 0 && fit.right <= fit.panelLeft && fit.top >= 0 && fit.bottom <= fit.height && fit.width > 30,
    "searching Makassar fits its main part into the map left of the panel", fit);
  await page.fill("#search", "72.02");
  await page.waitForSelector("#search-results:not([hidden]) button");
  check((await page.textContent("#search-results")).includes("Poso"), "searching by code 72.02 finds Poso");
  await page.keyboard.press("Escape");

  // Window selector: the tiles and the legend follow the window.
  const before = seen.requests.length;
  await page.check('input[name="window"][value="7"]');
  await page.waitForFunction(() => document.getElementById("legend-window").textContent.includes(" 7 "), null, { timeout: 10000 });
  await idle(page);
  check(seen.requests.slice(before).some((u) => u.includes("/tiles/sipks/") && u.includes("window=7")), "choosing 7 days asks tiles with window=7");
  await page.check('input[name="window"][value="custom"]');
  await page.fill("#window-days", "120");
  await page.click("#window-apply");
  await page.waitForFunction(() => document.getElementById("legend-window").textContent.includes(" 120 "), null, { timeout: 10000 });
  check(true, "a custom window of 120 days applies");
  await page.check('input[name="window"][value="90"]');
  await page.waitForFunction(() => document.getElementById("legend-window").textContent.includes(" 90 "), null, { timeout: 10000 });

  // Hotspots, palette, language.
  await page.uncheck("#hotspots-toggle");
  check(await page.evaluate(() => window.sipksMap.getLayoutProperty("hotspot-regions-fill", "visibility")) === "none", "the hotspot switch hides the Gi* and cluster layers");
  await page.check("#hotspots-toggle");
  await page.check("#palette-cb");
  await page.waitForFunction(() => JSON.stringify(window.sipksMap.getPaintProperty("kabupaten-kota-fill", "fill-color")).includes("#d55e00"), null, { timeout: 10000 });
  check(true, "the colour-blind switch paints the sipks-cb.json palette");
  await page.uncheck("#palette-cb");
  await page.click("#lang-toggle");
  check((await page.textContent("h1")).includes("National Risk Map"), "the English toggle translates the page");
  // Issue 15 defect 9: every text follows the language: title, live status, legend.
  const english = await page.evaluate(() => ({ title: document.title, live: document.getElementById("live-status").textContent,
    legend: document.getElementById("legend-symbols").textContent }));
  check(english.title.includes("National Risk Map") && english.live === "Live updates on" && english.legend.includes("Hot, 99% confidence"),
    "the page title, live status and symbol legend switch to English", english);
  await page.reload();
  await ready(page);
  check((await page.textContent("h1")).includes("National Risk Map"), "the language choice is kept");
  await page.click("#lang-toggle");
  check((await page.textContent("h1")).includes("Peta Risiko Nasional"), "and back to Bahasa Indonesia");

  // Live: an incident recorded elsewhere turns a regency kuning without a reload.
  await page.evaluate(() => { window.__sameDocument = true; window.sipksMap.jumpTo({ center: [121.0, -2.0], zoom: 5 }); });
  await idle(page);
  const palu = await tileRegion(page, "72.71");
  check(palu?.risk_level === "hijau", "Kota Palu (72.71) is hijau before", palu);
  const pusat = await login(process.env.SIPKS_NASIONAL);
  const created = await api("/api/incidents", {
    method: "POST",
    token: pusat,
    json: { type: "Feature", geometry: { type: "Point", coordinates: regions.find((r) => r.kode === "72.71").label_point }, properties: { category: "sara", severity: 5, status: "terjadi", occurred_at: new Date().toISOString(), source: "e2e", description: "perubahan dari luar halaman" } },
  });
  check(created.status === 201, "an incident is recorded through the API elsewhere", created.body);
  await page.waitForFunction(() => document.getElementById("toast").textContent.includes("Palu"), null, { timeout: 70000 });
  check(true, "the open page tells of Palu's new level (server-sent events)");
  const live = await waitFor("Palu turning kuning on the open page", async () => {
    const now = await tileRegion(page, "72.71");
    return now?.risk_level === "kuning" ? now : null;
  });
  check(live.risk_level === "kuning" && (await page.evaluate(() => window.__sameDocument)), "the open map shows Palu kuning without a reload (server-sent events)");

  // Shareable links: the view, window and region in the address.
  await page.check('input[name="window"][value="30"]');
  await page.evaluate(() => window.sipks.national.openRegion("72.02"));
  await page.evaluate(() => window.sipksMap.jumpTo({ center: [120.5, -1.5], zoom: 7.5 }));
  await idle(page);
  const link = page.url();
  check(/#map=7\.50\/-1\.50000\/120\.50000/.test(link) && link.includes("window=30") && link.includes("region=72.02"), "the address holds the view, window and region", link);
  {
    const { context: other, page: shared } = await newPage();
    await shared.goto(link);
    await ready(shared);
    await shared.waitForSelector("#panel:not([hidden]) [data-risk-level]", { timeout: 10000 });
    const state = await shared.evaluate(() => ({ zoom: window.sipksMap.getZoom(), center: window.sipksMap.getCenter(),
      window: document.querySelector('input[name="window"]:checked').value, title: document.getElementById("panel-title").textContent }));
    check(Math.abs(state.zoom - 7.5) < 0.01 && Math.abs(state.center.lng - 120.5) < 1e-4 && state.window === "30" && state.title.includes("72.02"),
      "a shared link opens the same view, window and region", state);
    await other.close();
  }
  await page.check('input[name="window"][value="90"]');

  // Tablet layouts: the side panel becomes a bottom sheet.
  for (const [width, height] of [[1024, 768], [768, 1024]]) {
    await page.setViewportSize({ width, height });
    await page.evaluate(() => window.sipks.national.openRegion("72.02"));
    await page.waitForSelector("#panel:not([hidden]) [data-risk-level]");
    const box = await page.locator("#panel").boundingBox();
    check(Math.abs(box.y + box.height - height + (await page.locator("footer").boundingBox()).height) < 4 && box.width > width * 0.6,
      `at ${width}x${height} the region panel is a bottom sheet`, box);
    const search = await page.locator("#search").boundingBox();
    check(search.x >= 0 && search.x + search.width <= width && search.y >= 0 && search.y < height, `at ${width}x${height} the controls are on screen`, search);
    await idle(page);
    await shot(page, `national-${width}x${height}.png`);
  }
  clean(seen, "the national view in use");
  await context.close();
}

// --- the operator view: draw, save, refusal, validation, edit ---------------------------

async function operatorView() {
  const inside = JSON.parse(process.env.SIPKS_INSIDE);
  const outside = JSON.parse(process.env.SIPKS_OUTSIDE);
  const pusat = await login(process.env.SIPKS_NASIONAL);
  const expected = ["403 POST /api/incidents", "422 POST /api/incidents"];
  const { context, page, seen } = await newPage({ width: 1366, height: 768 }, expected);
  await page.goto(BASE);
  await ready(page);
  await page.evaluate(() => (window.__sameDocument = true));

  await page.click('.view-tab[data-view="operator"]');
  const [username, password] = process.env.SIPKS_OPERATOR.split(":");
  await page.fill("#login-user", username);
  await page.fill("#login-pass", password);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#operator-work:not([hidden])");
  check((await page.textContent("#operator-region")).includes("73.71"), "the operator logs in and sees their region named");
  await page.waitForTimeout(800);
  await idle(page);
  const outlined = await page.evaluate(() => window.sipksMap.queryRenderedFeatures({ layers: ["operator-region-line"] }).map((f) => f.properties.kode));
  check(outlined.length > 0 && outlined.every((k) => k === "73.71"), "the map outlines the operator's own region (73.71)", outlined);

  const before = await tileRegion(page, "73.71");
  check(before?.risk_level === "hijau", "Makassar is hijau before the operator's report", before);

  // Draw inside the region by mouse clicks, fill the form, save.
  await drawSquare(page, inside);
  // Issue 15 defect 7: source, description and a chosen category are required.
  const posts = seen.requests.length;
  check(await page.inputValue("#f-category") === "", "the category is not chosen for the operator (no default)");
  await page.click("#incident-save");
  const required = await page.evaluate(() => ["category", "source", "description"].map((f) =>
    [document.getElementById(`f-${f}`).getAttribute("aria-invalid"), document.getElementById(`e-${f}`).textContent]));
  check(required.every(([invalid, text]) => invalid === "true" && text.length > 0)
    && !seen.requests.slice(posts).some((u) => u.endsWith("/api/incidents")), "saving without category, source and description is refused next to each field, nothing sent", required);
  const description = `E2E poligon ${Date.now()}`;
  await page.selectOption("#f-category", "sara");
  await page.selectOption("#f-severity", "5");
  await page.selectOption("#f-status", "terjadi");
  await page.fill("#f-source", "uji e2e");
  await page.fill("#f-description", description);
  await page.fill("#f-luka", "2");
  await page.click("#incident-save");
  await page.waitForFunction(() => document.getElementById("form-ok").textContent.length > 0, null, { timeout: 10000 });
  const list = await api("/api/incidents?kode=73.71&limit=100", { token: pusat });
  const saved = list.body.features.find((f) => f.properties.description === description);
  check(saved && saved.geometry.type === "Polygon" && saved.properties.severity === 5 && saved.properties.casualties.luka === 2
    && saved.properties.kabupaten_kota === "73.71", "drawing a polygon inside the region and saving creates the incident (checked through the API)", saved);
  const after = await waitFor("Makassar's tiles to show the new incident", async () => {
    const now = await tileRegion(page, "73.71");
    return now && now.incident_count === before.incident_count + 1 ? now : null;
  });
  check(after.risk_level === "kuning" && (await page.evaluate(() => window.__sameDocument)),
    `the region's colour (hijau → ${after.risk_level}) and count (${before.incident_count} → ${after.incident_count}) update without a reload`);
  await idle(page);
  await shot(page, "operator-saved.png");

  // A server validation error shows next to its field.
  await page.click('.draw-mode[data-mode="point"]');
  await page.waitForSelector('.draw-mode[data-mode="point"][aria-pressed="true"]');
  await clickAt(page, [inside[0], inside[1]]);
  await page.waitForFunction(() => !document.getElementById("incident-save").disabled);
  await page.fill("#f-occurred", `${new Date().getFullYear() + 1}-01-01T10:00`);
  await page.selectOption("#f-category", "pemilu");
  await page.fill("#f-source", "uji e2e");
  await page.fill("#f-description", "waktu di masa depan");
  await page.click("#incident-save");
  await page.waitForFunction(() => document.getElementById("e-occurred").textContent.length > 0, null, { timeout: 10000 });
  check(await page.getAttribute("#f-occurred", "aria-invalid") === "true", "a time in the future is refused next to the time field (problem+json field)", await page.textContent("#e-occurred"));
  await page.click("#draw-cancel");

  // Drawing outside the region: the refusal shows on the map.
  const outsideCount = async () => (await api("/api/incidents?kode=73.06&limit=1000", { token: pusat })).body.features.length;
  const countBefore = await outsideCount();
  await page.evaluate(([lon, lat]) => window.sipksMap.jumpTo({ center: [lon, lat], zoom: 12 }), outside);
  await idle(page);
  await drawSquare(page, outside);
  await page.selectOption("#f-category", "agraria");
  await page.fill("#f-source", "uji e2e");
  await page.fill("#f-description", "di luar wilayah");
  await page.click("#incident-save");
  await page.waitForSelector("#map-message:not([hidden])", { timeout: 10000 });
  const refusal = await page.textContent("#map-message");
  check(refusal.includes("Ditolak"), "drawing outside the region shows the refusal on the map", refusal);
  check(await outsideCount() === countBefore, "and nothing is stored outside the region");
  await shot(page, "operator-refused.png");
  await page.click("#draw-cancel");

  // Edit the saved incident: reshape it by dragging a corner, change a field; PATCH with If-Match.
  await page.evaluate(([lon, lat]) => window.sipksMap.jumpTo({ center: [lon, lat], zoom: 12 }), inside);
  await idle(page);

  // Issue 15 defect 7: a polygon crossing itself is refused while it is drawn.
  {
    const [lon, lat, radius] = inside;
    const h = Math.min(radius * 0.5, 0.02);
    await page.click('.draw-mode[data-mode="polygon"]');
    await page.waitForSelector('.draw-mode[data-mode="polygon"][aria-pressed="true"]');
    for (const corner of [[lon - h, lat - h], [lon + h, lat + h], [lon + h, lat - h], [lon - h, lat + h]]) await clickAt(page, corner);
    const refusedText = await page.textContent("#geometry-error");
    check(refusedText.includes("berpotongan") && await page.isDisabled("#incident-save"),
      "a polygon crossing itself is refused while drawing (bow-tie)", refusedText);
    await page.click("#draw-cancel");
  }
  await page.waitForSelector(`#my-incidents button`);
  await page.evaluate((id) => window.sipks.operator.edit(id), saved.id);
  await page.waitForFunction((id) => document.getElementById("incident-form-title").textContent.includes(`#${id}`), saved.id);
  check(await page.inputValue("#f-description") === description, "choosing an incident loads its fields into the form");
  const corner = saved.geometry.coordinates[0][2];
  const [x, y] = await page.evaluate(([lng, lat]) => {
    const p = window.sipksMap.project([lng, lat]);
    const box = window.sipksMap.getContainer().getBoundingClientRect();
    return [box.left + p.x, box.top + p.y];
  }, corner);
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + 25, y + 20, { steps: 8 });
  await page.mouse.up();
  await page.selectOption("#f-severity", "4");
  await page.click("#incident-save");
  await page.waitForFunction(() => document.getElementById("form-ok").textContent.length > 0, null, { timeout: 10000 });
  const edited = await api(`/api/incidents/${saved.id}`, { token: pusat });
  check(edited.body.properties.severity === 4 && edited.body.properties.version === 2, "editing a field saves it (PATCH with If-Match, version 2)", edited.body.properties);
  check(JSON.stringify(edited.body.geometry) !== JSON.stringify(saved.geometry), "dragging a corner reshapes the stored polygon");

  // Issue 15 defect 3: an edit conflict shows both versions; keep mine re-applies my
  // change on the newer version, take theirs loads it.
  const openEdit = async () => {
    await page.evaluate((id) => window.sipks.operator.edit(id), saved.id);
    await page.waitForFunction((id) => document.getElementById("incident-form-title").textContent.includes(`#${id}`), saved.id);
    await page.waitForFunction(() => !document.getElementById("incident-delete").hidden);
  };
  await openEdit();
  const hint = await page.textContent("#reason-hint");
  check(hint.includes("nasional atau provinsi") && await page.isDisabled('#f-status option[value="potensi"]'),
    "the reason field says who can move the status back, and the operator cannot", hint);
  const other = await api(`/api/incidents/${saved.id}`, { method: "PATCH", token: pusat, json: { type: "Feature", properties: { description: "versi rekan" } }, headers: { "If-Match": '"2"' } });
  check(other.status === 200, "someone else edits the incident meanwhile (version 3)", other.body);
  await page.selectOption("#f-severity", "3");
  expected.push(`412 PATCH /api/incidents/${saved.id}`);
  await page.click("#incident-save");
  await page.waitForSelector("#conflict:not([hidden])", { timeout: 10000 });
  const conflictRows = await page.evaluate(() => [...document.querySelectorAll("#conflict-rows tr.differs")].map((tr) => tr.textContent));
  check(conflictRows.length >= 2 && conflictRows.some((r) => r.includes(description) && r.includes("versi rekan"))
    && conflictRows.some((r) => r.includes("3 — sedang") && r.includes("4 — berat")), "the conflict shows both versions side by side, the differing fields marked", conflictRows);
  await shot(page, "operator-conflict.png");
  await page.click("#conflict-mine");
  await page.waitForFunction(() => document.getElementById("form-ok").textContent.length > 0, null, { timeout: 10000 });
  const merged = (await api(`/api/incidents/${saved.id}`, { token: pusat })).body.properties;
  check(merged.version === 4 && merged.severity === 3 && merged.description === "versi rekan",
    "keep mine: my change re-applied on the newer version, theirs kept", merged);
  await openEdit();
  await api(`/api/incidents/${saved.id}`, { method: "PATCH", token: pusat, json: { type: "Feature", properties: { source: "sumber rekan" } }, headers: { "If-Match": '"4"' } });
  await page.fill("#f-source", "sumber saya");
  expected.push(`412 PATCH /api/incidents/${saved.id}`);
  await page.click("#incident-save");
  await page.waitForSelector("#conflict:not([hidden])", { timeout: 10000 });
  await page.click("#conflict-theirs");
  await page.waitForFunction(() => document.getElementById("f-source").value === "sumber rekan", null, { timeout: 10000 });
  const taken = (await api(`/api/incidents/${saved.id}`, { token: pusat })).body.properties;
  check(taken.version === 5 && taken.source === "sumber rekan", "take theirs: the saved version is loaded, mine not sent", taken);

  // Issue 15 defect 7: delete in the page.
  page.once("dialog", (dialog) => dialog.accept());
  await page.click("#incident-delete");
  await page.waitForFunction(() => document.getElementById("form-ok").textContent.includes("dihapus"), null, { timeout: 10000 });
  check((await api(`/api/incidents/${saved.id}`, { token: pusat })).status === 404, "deleting in the page deletes the incident (404 after)");

  // Issue 15 defect 6: placing by typed coordinates and by the device's location.
  await page.fill("#coord-input", `${inside[1].toFixed(5)}, ${inside[0].toFixed(5)}`);
  await page.click("#coord-form button[type=submit]");
  await page.waitForFunction(() => !document.getElementById("incident-save").disabled, null, { timeout: 5000 });
  await page.selectOption("#f-category", "ekonomi");
  await page.fill("#f-source", "uji koordinat");
  const typedDescription = `E2E koordinat ${Date.now()}`;
  await page.fill("#f-description", typedDescription);
  await page.click("#incident-save");
  await page.waitForFunction(() => document.getElementById("form-ok").textContent.length > 0, null, { timeout: 10000 });
  const typed = (await api("/api/incidents?kode=73.71&limit=100", { token: pusat })).body.features.find((f) => f.properties.description === typedDescription);
  check(typed && typed.geometry.type === "Point" && Math.abs(typed.geometry.coordinates[0] - Number(inside[0].toFixed(5))) < 1e-6
    && Math.abs(typed.geometry.coordinates[1] - Number(inside[1].toFixed(5))) < 1e-6, "typed coordinates (lat, lon) place and save a point there", typed?.geometry);
  await page.click("#draw-cancel");

  // GIS view: export addresses and the addresses for QGIS.
  await page.click('.view-tab[data-view="gis"]');
  check(await page.inputValue("#u-tilejson") === `${BASE}/tiles/sipks` && await page.inputValue("#u-ogc") === `${BASE}/ogc`, "the GIS view shows the TileJSON and OGC API addresses");
  // Issue 15 defect 1: the default export (kabupaten_kota, GeoJSON, 90 days) downloads
  // with window=90 (no from/to, which region layers refuse) under the server's name.
  const defaultUrl = await page.inputValue("#x-url");
  check(defaultUrl.includes("/api/export/kabupaten_kota?") && defaultUrl.includes("window=90") && !defaultUrl.includes("from="),
    "the default region export asks window=90, not from/to", defaultUrl);
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 60000 }), page.click("#export-form button[type=submit]")]);
  const names = [download.suggestedFilename()];
  check(/^sipks_kabupaten_kota.*\.geojson$/.test(names[0]) && (await page.textContent("#export-error")) === "",
    "the default export downloads under the server's Content-Disposition name", names[0]);
  await page.fill("#x-window", "30");
  await page.selectOption("#x-layer", "provinsi");
  const [second] = await Promise.all([page.waitForEvent("download", { timeout: 60000 }), page.click("#export-form button[type=submit]")]);
  names.push(second.suggestedFilename());
  check(/^sipks_provinsi/.test(names[1]) && names[1] !== names[0], "a second export does not overwrite the first", names);
  check(await page.isHidden("#x-token-hint"), "no token hint for a public layer");
  await page.fill("#x-window", "90");
  await page.selectOption("#x-layer", "incidents");
  await page.fill("#x-region", "73.71");
  await page.selectOption("#x-format", "csv");
  const url = await page.inputValue("#x-url");
  check(url.startsWith(`${BASE}/api/export/incidents?`) && url.includes("format=csv") && url.includes("region=73.71") && url.includes("window=90"), "the export panel builds the export address", url);
  check(await page.isVisible("#x-token-hint") && (await page.textContent("#x-token-hint")).includes("Authorization: Bearer"),
    "the incidents address says QGIS needs a token header");
  await page.waitForFunction(() => document.getElementById("gis-availability").textContent.length > 0);
  await shot(page, "gis.png");

  check(expected.length === 0, "the expected refusals (403, 422) were answered", expected);
  clean(seen, "the operator view");
  await context.close();
}

// --- issue 15 defect 10 and the screenshot review: phone and touch tablet -------------

/** Visible controls smaller than 44 px in either direction. */
async function smallTargets(page) {
  return page.evaluate(() => {
    const selector = "button, select, input:not([type=checkbox]):not([type=radio]), .switch, .segmented label, .maplibregl-ctrl-group button";
    return [...document.querySelectorAll(selector)].flatMap((el) => {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || r.bottom < 0 || r.right < 0 || r.top > innerHeight || r.left > innerWidth) return [];
      if (getComputedStyle(el).visibility === "hidden") return [];
      const tall = el.matches(".switch, .segmented label, input, select") ? r.height >= 43.5 : r.height >= 43.5 && r.width >= 43.5;
      return tall ? [] : [`${el.id || el.className || el.tagName} ${Math.round(r.width)}x${Math.round(r.height)}`];
    });
  });
}

async function touchViews() {
  // A phone, 390x844.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, locale: "id-ID" });
  let page = await phone.newPage();
  const seen = watch(page);
  await page.goto(BASE);
  await ready(page);
  let small = await smallTargets(page);
  check(small.length === 0, "on a phone every visible target is at least 44 px", small);
  await page.evaluate(() => window.sipks.national.openRegion("72.02"));
  await page.waitForSelector("#panel:not([hidden]) [data-risk-level]");
  const free = await page.evaluate(() => {
    const map = document.getElementById("map").getBoundingClientRect();
    const panel = document.getElementById("panel").getBoundingClientRect();
    return { map: Math.round(map.height), free: Math.round(Math.max(0, panel.top - map.top)) };
  });
  check(free.free >= 180, "on a phone the bottom sheet leaves the map in view (>= 180 px)", free);
  small = await smallTargets(page);
  check(small.length === 0, "on a phone the region sheet's targets are at least 44 px", small);
  await idle(page);
  await shot(page, "review-390x844-national.png");
  await page.click('.view-tab[data-view="operator"]');
  await shot(page, "review-390x844-operator.png");
  clean(seen, "the phone view");
  await phone.close();

  // A touch tablet, 1024x768: the operator's Save stays reachable.
  const tablet = await browser.newContext({ viewport: { width: 1024, height: 768 }, hasTouch: true, locale: "id-ID" });
  page = await tablet.newPage();
  await page.goto(BASE);
  await ready(page);
  await page.click('.view-tab[data-view="operator"]');
  const [username, password] = process.env.SIPKS_OPERATOR.split(":");
  await page.fill("#login-user", username);
  await page.fill("#login-pass", password);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#operator-work:not([hidden])");
  await page.waitForTimeout(600);
  const save = await page.evaluate(() => {
    const button = document.getElementById("incident-save");
    const r = button.getBoundingClientRect();
    const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return { top: Math.round(r.top), bottom: Math.round(r.bottom), height: innerHeight, onTop: at === button || button.contains(at) };
  });
  check(save.bottom <= save.height && save.top >= 0 && save.onTop, "on a touch tablet (1024x768) Save is on screen without scrolling", save);
  small = await smallTargets(page);
  check(small.length === 0, "on a touch tablet every visible target is at least 44 px", small);
  await idle(page);
  await shot(page, "review-1024x768-touch-operator.png");
  await page.click('.view-tab[data-view="gis"]');
  await shot(page, "review-1024x768-touch-gis.png");
  await tablet.close();
}

async function trainingView() {
  const { context, page, seen } = await newPage();
  await page.goto(BASE);
  await ready(page);
  check(await page.isVisible("#training-banner"), "a training server's page shows the banner");
  check((await page.textContent("#training-banner")).includes("DATA LATIHAN"), "the banner reads DATA LATIHAN");
  await page.click("#lang-toggle");
  check((await page.textContent("#training-banner")).includes("TRAINING DATA"), "in English: TRAINING DATA");
  await shot(page, "training.png");
  clean(seen, "the training page");
  await context.close();
}

try {
  if (MODE === "training") await trainingView();
  else {
    await nationalView();
    await operatorView();
    await touchViews();
    performanceChecks();
  }
  console.log(`e2e: every check passed (${checks} checks)`);
} catch (error) {
  console.error(error.message);
  process.exitCode = 1;
} finally {
  await browser.close();
}
