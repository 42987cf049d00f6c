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
  await idle(page);
  await shot(page, "national-1366x768.png");

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

  // GIS view: export addresses and the addresses for QGIS.
  await page.click('.view-tab[data-view="gis"]');
  check(await page.inputValue("#u-tilejson") === `${BASE}/tiles/sipks` && await page.inputValue("#u-ogc") === `${BASE}/ogc`, "the GIS view shows the TileJSON and OGC API addresses");
  await page.selectOption("#x-layer", "incidents");
  await page.fill("#x-region", "73.71");
  await page.selectOption("#x-format", "csv");
  const url = await page.inputValue("#x-url");
  check(url.startsWith(`${BASE}/api/export/incidents?`) && url.includes("format=csv") && url.includes("region=73.71") && url.includes("from="), "the export panel builds the export address", url);
  await page.waitForFunction(() => document.getElementById("gis-availability").textContent.length > 0);
  await shot(page, "gis.png");

  check(expected.length === 0, "the expected refusals (403, 422) were answered", expected);
  clean(seen, "the operator view");
  await context.close();
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
    performanceChecks();
  }
  console.log(`e2e: every check passed (${checks} checks)`);
} catch (error) {
  console.error(error.message);
  process.exitCode = 1;
} finally {
  await browser.close();
}
