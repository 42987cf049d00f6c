// The page's words in Bahasa Indonesia (first) and English. Static text carries
// data-i18n="key" (its text) or data-i18n-attr="attr:key;attr:key" (attributes); code
// asks t(key, {name: value}). The choice is kept in localStorage.

const WORDS = {
  skip: ["Lewati ke peta", "Skip to the map"],
  "training.banner": ["DATA LATIHAN", "TRAINING DATA"],
  "training.note": ["bukan data sebenarnya — untuk bimbingan teknis operator", "not real data — for operator training"],
  title: ["Peta Risiko Nasional", "National Risk Map"],
  views: ["Tampilan", "Views"],
  "view.national": ["Nasional", "National"],
  "view.operator": ["Operator", "Operator"],
  "view.gis": ["GIS", "GIS"],
  "palette.cb": ["Ramah buta warna", "Colour-blind safe"],
  logout: ["Keluar", "Log out"],
  controls: ["Kontrol peta", "Map controls"],
  map: ["Peta risiko; gunakan tombol panah untuk menggeser dan +/- untuk memperbesar", "Risk map; arrow keys pan, +/- zoom"],
  close: ["Tutup", "Close"],
  apply: ["Terapkan", "Apply"],
  copy: ["Salin", "Copy"],
  copied: ["Tersalin", "Copied"],
  "search.label": ["Cari wilayah (nama atau kode)", "Find a region (name or code)"],
  "search.placeholder": ["mis. Makassar atau 73.71", "e.g. Makassar or 73.71"],
  "search.none": ["Tidak ada wilayah yang cocok", "No matching region"],
  "window.legend": ["Rentang waktu", "Time window"],
  "window.7": ["7 hari", "7 days"],
  "window.30": ["30 hari", "30 days"],
  "window.90": ["90 hari", "90 days"],
  "window.custom": ["Lainnya", "Custom"],
  "window.days": ["Jumlah hari", "Number of days"],
  "window.current": ["Rentang: {days} hari terakhir, hingga {asOf}", "Window: the last {days} days, up to {asOf}"],
  hotspots: ["Titik panas (Gi* dan klaster)", "Hotspots (Gi* and clusters)"],
  "legend.title": ["Tingkat risiko", "Risk level"],
  "legend.provinsi": ["Provinsi", "Provinces"],
  "legend.kabkota": ["Kab/Kota", "Regencies/cities"],
  "legend.daerah": ["Daerah otonom", "Autonomous regions"],
  "legend.total": ["Jumlah", "Total"],
  "legend.note": [
    "Daerah otonom: 38 provinsi dan 514 kabupaten/kota, tanpa 6 wilayah administratif DKI Jakarta dan Provinsi DIY (tanpa pilkada gubernur).",
    "Autonomous regions: 38 provinces and 514 regencies/cities, without Jakarta's 6 administrative units and DI Yogyakarta province (no elected governor).",
  ],
  "level.hijau": ["Hijau (aman)", "Green (safe)"],
  "level.kuning": ["Kuning (waspada)", "Yellow (alert)"],
  "level.merah": ["Merah (bahaya)", "Red (danger)"],
  "live.on": ["Pembaruan langsung aktif", "Live updates on"],
  "live.off": ["Pembaruan langsung terputus; menyambung ulang…", "Live updates lost; reconnecting…"],
  "live.risk": ["{nama}: kini {level}", "{nama}: now {level}"],
  "live.incident": ["Kejadian {action} di wilayah {kode}", "Incident {action} in {kode}"],
  "action.create": ["baru", "created"],
  "action.update": ["diubah", "edited"],
  "action.delete": ["dihapus", "deleted"],
  "panel.score": ["Skor", "Score"],
  "panel.counts": ["{total} kejadian dalam {days} hari ({severe} berat)", "{total} incidents in {days} days ({severe} severe)"],
  "panel.explanation": ["Penjelasan skor", "Why this score"],
  "panel.contributions": ["Kejadian yang paling berpengaruh", "Incidents weighing most"],
  "panel.indicators": ["Indikator", "Indicators"],
  "panel.history": ["Riwayat tingkat risiko ({days} hari)", "Risk level history ({days} days)"],
  "panel.latest": ["Kejadian terbaru", "Latest incidents"],
  "panel.login": ["Masuk untuk melihat kejadian.", "Log in to see incidents."],
  "panel.none": ["Tidak ada kejadian.", "No incidents."],
  "panel.loading": ["Memuat…", "Loading…"],
  "panel.rule.applied": ["berlaku", "applies"],
  "panel.rule.not": ["tidak berlaku", "does not apply"],
  "login.title": ["Masuk operator", "Operator login"],
  "login.user": ["Nama pengguna", "User name"],
  "login.pass": ["Kata sandi", "Password"],
  "login.submit": ["Masuk", "Log in"],
  "operator.region": ["Wilayah kerja: {nama} ({kode}). Hanya wilayah bergaris biru yang dapat diubah.", "Your region: {nama} ({kode}). Only the area outlined in blue can be edited."],
  "operator.national": ["Wilayah kerja: seluruh Indonesia.", "Your region: all of Indonesia."],
  "operator.readonly": ["Peran {role} hanya dapat membaca.", "The {role} role can only read."],
  "draw.toolbar": ["Gambar kejadian", "Draw an incident"],
  "draw.point": ["Titik", "Point"],
  "draw.line": ["Garis", "Line"],
  "draw.polygon": ["Poligon", "Polygon"],
  "draw.cancel": ["Batal", "Cancel"],
  "draw.hint": ["Pilih jenis geometri, lalu klik di peta. Poligon selesai dengan mengklik titik pertama.", "Choose a geometry type, then click on the map. Finish a polygon by clicking its first point."],
  "draw.hint.point": ["Klik di peta untuk menempatkan titik.", "Click on the map to place the point."],
  "draw.hint.linestring": ["Klik titik-titik garis; klik titik terakhir sekali lagi untuk selesai.", "Click the line's points; click the last point again to finish."],
  "draw.hint.polygon": ["Klik sudut-sudut poligon; klik titik pertama untuk menutup.", "Click the polygon's corners; click the first point to close it."],
  "draw.hint.done": ["Geometri siap. Lengkapi isian lalu simpan; geser titik untuk mengubah bentuk.", "Geometry ready. Fill in the form and save; drag points to reshape."],
  "draw.hint.edit": ["Mengubah kejadian #{id}: geser geometri atau titiknya, ubah isian, lalu simpan.", "Editing incident #{id}: drag the geometry or its points, change the fields, then save."],
  "draw.need": ["Gambar lokasi kejadian di peta terlebih dahulu.", "Draw the incident's location on the map first."],
  "form.new": ["Kejadian baru", "New incident"],
  "form.edit": ["Ubah kejadian #{id}", "Edit incident #{id}"],
  "form.category": ["Kategori", "Category"],
  "form.severity": ["Tingkat keparahan", "Severity"],
  "form.status": ["Status", "Status"],
  "form.occurred": ["Waktu kejadian", "Time of the incident"],
  "form.source": ["Sumber informasi", "Source"],
  "form.description": ["Uraian", "Description"],
  "form.casualties": ["Korban", "Casualties"],
  "form.meninggal": ["Meninggal", "Dead"],
  "form.luka": ["Luka", "Injured"],
  "form.pengungsi": ["Pengungsi", "Displaced"],
  "form.reason": ["Alasan perubahan (wajib bila status mundur)", "Reason for the change (required when the status moves back)"],
  "form.save": ["Simpan", "Save"],
  "form.reset": ["Kosongkan", "Clear"],
  "form.saved": ["Kejadian #{id} tersimpan.", "Incident #{id} saved."],
  "form.stale": ["Kejadian ini baru saja diubah orang lain; data terbaru sudah dimuat. Periksa lalu simpan lagi.", "Someone else just changed this incident; the latest version is loaded. Check it and save again."],
  "refused.title": ["Ditolak", "Refused"],
  "mine.title": ["Kejadian terbaru di wilayah saya", "Latest incidents in my region"],
  "mine.edit": ["Ubah", "Edit"],
  "gis.export": ["Ekspor data", "Export data"],
  "gis.layer": ["Lapisan", "Layer"],
  "gis.region": ["Wilayah (kode, kosong = seluruh Indonesia)", "Region (code, empty = all of Indonesia)"],
  "gis.window": ["Rentang waktu (hari)", "Time window (days)"],
  "gis.format": ["Format", "Format"],
  "gis.url": ["Alamat unduhan", "Download address"],
  "gis.download": ["Unduh", "Download"],
  "gis.qgis": ["Untuk QGIS", "For QGIS"],
  "gis.tilejson": ["Vector tiles (TileJSON)", "Vector tiles (TileJSON)"],
  "gis.style": ["Gaya MapLibre", "MapLibre style"],
  "gis.ogc": ["Layanan fitur (OGC API - Features)", "Feature service (OGC API - Features)"],
  "gis.available": ["Layanan ekspor dan OGC API tersedia di server ini.", "The export and OGC API services are available on this server."],
  "gis.unavailable": ["Layanan ekspor belum tersedia di server ini (versi {version}); alamat di atas berlaku setelah pemutakhiran.", "The export service is not available on this server yet (version {version}); the addresses above work once it is upgraded."],
  "gis.failed": ["Unduhan gagal: {detail}", "Download failed: {detail}"],
  "layer.kabupaten_kota": ["Kabupaten/kota", "Regencies/cities"],
  "layer.provinsi": ["Provinsi", "Provinces"],
  "layer.kecamatan": ["Kecamatan", "Districts"],
  "layer.incidents": ["Kejadian", "Incidents"],
  "layer.hotspots": ["Titik panas (Gi*)", "Hotspots (Gi*)"],
  "layer.clusters": ["Klaster kejadian", "Incident clusters"],
  "category.pemilu": ["Pemilu", "Elections"],
  "category.agraria": ["Agraria", "Land"],
  "category.antar_kelompok": ["Antarkelompok", "Between groups"],
  "category.sara": ["SARA", "Ethnic/religious"],
  "category.sumber_daya_alam": ["Sumber daya alam", "Natural resources"],
  "category.ekonomi": ["Ekonomi", "Economic"],
  "category.lainnya": ["Lainnya", "Other"],
  "status.potensi": ["Potensi", "Potential"],
  "status.terjadi": ["Terjadi", "Occurred"],
  "status.ditangani": ["Ditangani", "Being handled"],
  "status.selesai": ["Selesai", "Resolved"],
  "severity.1": ["1 — sangat ringan", "1 — very minor"],
  "severity.2": ["2 — ringan", "2 — minor"],
  "severity.3": ["3 — sedang", "3 — moderate"],
  "severity.4": ["4 — berat", "4 — severe"],
  "severity.5": ["5 — sangat berat", "5 — very severe"],
  "error.network": ["Server tidak dapat dihubungi.", "The server cannot be reached."],
};

const KEY = "sipks.lang";
let lang = localStorage.getItem(KEY) === "en" ? "en" : "id";
const listeners = [];

/** The current language: "id" or "en". */
export const currentLang = () => lang;

/** The word for `key` in the current language, with {name} placeholders filled. */
export function t(key, values = {}) {
  const entry = WORDS[key];
  const text = entry ? entry[lang === "en" ? 1 : 0] : key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

/** Sets the language, stores it and re-labels the page. */
export function setLang(next) {
  lang = next === "en" ? "en" : "id";
  localStorage.setItem(KEY, lang);
  apply();
  for (const listener of listeners) listener(lang);
}

/** Calls `listener(lang)` after every language change. */
export const onLangChange = (listener) => listeners.push(listener);

/** Labels every element marked with data-i18n / data-i18n-attr under `root`. */
export function apply(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      el.setAttribute(attr, t(key));
    }
  }
}

/** Numbers and dates the Indonesian or English way. */
export const formatNumber = (n, digits = 0) =>
  Number(n).toLocaleString(lang === "en" ? "en-GB" : "id-ID", { maximumFractionDigits: digits });

export const formatDate = (iso, time = true) =>
  new Date(iso).toLocaleString(lang === "en" ? "en-GB" : "id-ID", {
    dateStyle: "medium",
    ...(time ? { timeStyle: "short" } : {}),
  });
