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
  "legend.hotspots": ["Titik panas (Gi*, arsiran)", "Hotspots (Gi*, hatched)"],
  "legend.gi.3": ["Panas, keyakinan 99%", "Hot, 99% confidence"],
  "legend.gi.2": ["Panas, keyakinan 95%", "Hot, 95% confidence"],
  "legend.gi.1": ["Panas, keyakinan 90%", "Hot, 90% confidence"],
  "legend.gi.-1": ["Dingin, keyakinan 90%", "Cold, 90% confidence"],
  "legend.gi.-2": ["Dingin, keyakinan 95%", "Cold, 95% confidence"],
  "legend.gi.-3": ["Dingin, keyakinan 99%", "Cold, 99% confidence"],
  "legend.cluster": ["Klaster kejadian (garis ungu)", "Incident cluster (purple outline)"],
  "legend.incidents": ["Kejadian: warna = keparahan", "Incidents: colour = severity"],
  "legend.incidents.note": ["Huruf pada titik = kategori; lingkaran berangka = kumpulan kejadian.", "Letter on a point = category; numbered circle = group of incidents."],
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
  "panel.contributions.category": ["Bobot kejadian per kategori", "Incidents' weight per category"],
  "panel.indicators": ["Indikator", "Indicators"],
  "panel.history": ["Riwayat tingkat risiko ({days} hari)", "Risk level history ({days} days)"],
  "panel.latest": ["Kejadian terbaru", "Latest incidents"],
  "panel.login": ["Masuk untuk melihat kejadian.", "Log in to see incidents."],
  "panel.none": ["Tidak ada kejadian.", "No incidents."],
  "panel.loading": ["Memuat…", "Loading…"],
  "panel.rule.applied": ["berlaku", "applies"],
  "panel.rule.not": ["tidak berlaku", "does not apply"],
  "level.short.hijau": ["hijau", "green"],
  "level.short.kuning": ["kuning", "yellow"],
  "level.short.merah": ["merah", "red"],
  "panel.level.provinsi": ["provinsi", "provinces"],
  "panel.level.kabupaten_kota": ["kabupaten/kota", "regencies and cities"],
  "panel.level.kecamatan": ["kecamatan", "districts"],
  "rule.recent_severe": ["Kejadian berat terbaru", "Recent severe incidents"],
  "rule.surge": ["Lonjakan", "Surge"],
  "rule.province_regencies": ["Kabupaten/kota merah", "Red regencies and cities"],
  "explain.score.merah": [
    "Skor {score} mencapai ambang merah {merah} untuk {level} (kuning mulai {kuning}).",
    "The score {score} reaches the red threshold {merah} for {level} (yellow from {kuning}).",
  ],
  "explain.score.kuning": [
    "Skor {score} mencapai ambang kuning {kuning} untuk {level}, di bawah ambang merah {merah}.",
    "The score {score} reaches the yellow threshold {kuning} for {level}, below the red threshold {merah}.",
  ],
  "explain.score.hijau": [
    "Skor {score} di bawah ambang kuning {kuning} untuk {level} (merah mulai {merah}).",
    "The score {score} is below the yellow threshold {kuning} for {level} (red from {merah}).",
  ],
  "explain.verdict.score": ["Tingkat {level} karena skornya.", "{level} because of the score."],
  "explain.verdict.rule": ["Tingkat {level} karena aturan: {rules}.", "{level} because of the rule: {rules}."],
  "explain.recent.yes": [
    "{n} kejadian aktif dengan keparahan {severity} atau lebih dalam {days} hari terakhir; karena itu sedikitnya {to}.",
    "{n} active incidents of severity {severity} or more in the last {days} days; so at least {to}.",
  ],
  "explain.recent.no": [
    "Tidak ada kejadian aktif dengan keparahan {severity} atau lebih dalam {days} hari terakhir (bila ada: sedikitnya {to}).",
    "No active incident of severity {severity} or more in the last {days} days (one would make it at least {to}).",
  ],
  "explain.surge.yes": [
    "{week} kejadian minggu ini, sedikitnya {factor} kali rata-rata mingguan {baseline} dari 4 minggu sebelumnya; karena itu sedikitnya {to}.",
    "{week} incidents this week, at least {factor} times the weekly average {baseline} of the 4 weeks before; so at least {to}.",
  ],
  "explain.surge.no": [
    "{week} kejadian minggu ini, kurang dari {factor} kali rata-rata mingguan {baseline} dari 4 minggu sebelumnya: bukan lonjakan.",
    "{week} incidents this week, less than {factor} times the weekly average {baseline} of the 4 weeks before: no surge.",
  ],
  "explain.surge.small": [
    "{week} kejadian minggu ini; rata-rata mingguan 4 minggu sebelumnya ({baseline}) terlalu kecil untuk menilai lonjakan.",
    "{week} incidents this week; the weekly average of the 4 weeks before ({baseline}) is too small to judge a surge.",
  ],
  "explain.province.yes": [
    "{merah} dari {total} kabupaten/kota merah (kuning bila sedikitnya {kuning} merah, merah bila sedikitnya {share}% merah); karena itu sedikitnya {to}.",
    "{merah} of {total} regencies and cities are red (yellow from {kuning} red, red from {share}% red); so at least {to}.",
  ],
  "explain.province.no": [
    "{merah} dari {total} kabupaten/kota merah (kuning bila sedikitnya {kuning} merah, merah bila sedikitnya {share}% merah).",
    "{merah} of {total} regencies and cities are red (yellow from {kuning} red, red from {share}% red).",
  ],
  "explain.incident": [
    "#{id} {category} · {place} · {when} · keparahan {severity} · +{part}",
    "#{id} {category} · {place} · {when} · severity {severity} · +{part}",
  ],
  "login.title": ["Masuk operator", "Operator login"],
  "login.user": ["Nama pengguna", "User name"],
  "login.pass": ["Kata sandi", "Password"],
  "login.submit": ["Masuk", "Log in"],
  "login.ended": [
    "Sesi Anda berakhir (keluar di perangkat lain, akun dinonaktifkan, atau token kedaluwarsa). Silakan masuk lagi.",
    "Your session ended (logged out elsewhere, account disabled, or token expired). Please log in again.",
  ],
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
  "coord.label": ["Koordinat (lintang, bujur)", "Coordinates (latitude, longitude)"],
  "coord.placeholder": ["mis. -5.14772, 119.43273", "e.g. -5.14772, 119.43273"],
  "coord.place": ["Tempatkan", "Place"],
  "coord.mine": ["Lokasi saya", "My location"],
  "coord.bad": ["Tulis dua angka derajat desimal, mis. -5.14772, 119.43273.", "Give two decimal degrees, e.g. -5.14772, 119.43273."],
  "coord.nogps": ["Peramban ini tidak dapat memberi lokasi.", "This browser cannot give a location."],
  "coord.denied": ["Lokasi tidak tersedia (izin ditolak atau tidak ada sinyal).", "No location (permission refused or no signal)."],
  "coord.placed": ["Titik ditempatkan di {lat}, {lon}. Lengkapi isian lalu simpan.", "Point placed at {lat}, {lon}. Fill in the form and save."],
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
  "form.reason": ["Alasan perubahan", "Reason for the change"],
  "form.reason.hint.operator": [
    "Status hanya maju (potensi → terjadi → ditangani → selesai). Memundurkan status (membuka kembali) hanya dapat dilakukan pengguna nasional atau provinsi, dengan alasan; hubungi mereka bila perlu.",
    "The status only moves forward (potensi → terjadi → ditangani → selesai). Only a nasional or provinsi user can move it back (reopen), with a reason; ask them if needed.",
  ],
  "form.reason.hint.reopen": [
    "Wajib bila status dimundurkan (dibuka kembali); hanya pengguna nasional atau provinsi yang dapat melakukannya.",
    "Required when the status moves back (reopening), which only nasional and provinsi users can do.",
  ],
  "form.category.choose": ["— pilih kategori —", "— choose a category —"],
  "form.category.need": ["Pilih kategori kejadian.", "Choose the incident's category."],
  "form.source.need": ["Isi sumber informasi (siapa atau apa yang melaporkan).", "Give the source (who or what reported it)."],
  "form.description.need": ["Isi uraian kejadian.", "Describe the incident."],
  "form.delete": ["Hapus", "Delete"],
  "form.delete.confirm": ["Hapus kejadian #{id}? Kejadian tetap tercatat di riwayat.", "Delete incident #{id}? It stays in the history."],
  "form.deleted": ["Kejadian #{id} dihapus.", "Incident #{id} deleted."],
  "form.geometry": ["Lokasi", "Location"],
  "geometry.Point": ["Titik", "Point"],
  "geometry.LineString": ["Garis", "Line"],
  "geometry.Polygon": ["Poligon", "Polygon"],
  "draw.selfIntersects": ["Garis batas tidak boleh berpotongan sendiri; titik itu ditolak. Pilih titik lain.", "The outline may not cross itself; that point is refused. Choose another point."],
  "conflict.title": ["Bentrok perubahan", "Edit conflict"],
  "conflict.text": [
    "Kejadian #{id} sudah diubah orang lain (versi {version}, {when}) sejak Anda membukanya. Perubahan Anda belum disimpan. Bandingkan lalu pilih.",
    "Incident #{id} was changed by someone else (version {version}, {when}) since you opened it. Your changes are not saved yet. Compare and choose.",
  ],
  "conflict.mine": ["Versi saya", "My version"],
  "conflict.theirs": ["Versi tersimpan", "Saved version"],
  "conflict.keep": ["Pakai perubahan saya", "Keep my changes"],
  "conflict.take": ["Ambil versi tersimpan", "Take the saved version"],
  "conflict.took": ["Versi tersimpan ({version}) dimuat; perubahan Anda dibuang.", "The saved version ({version}) is loaded; your changes are dropped."],
  "form.save": ["Simpan", "Save"],
  "form.reset": ["Kosongkan", "Clear"],
  "form.saved": ["Kejadian #{id} tersimpan.", "Incident #{id} saved."],
  "form.stale": ["Kejadian ini baru saja diubah orang lain; lihat perbandingan di bawah.", "Someone else just changed this incident; see the comparison below."],
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
  "gis.token": [
    "Kejadian hanya untuk pengguna yang masuk: di QGIS atau GDAL kirim token sebagai header \"Authorization: Bearer TOKEN\" (QGIS: Sumber Data → Header HTTP). Tanpa token jawabannya 401.",
    "Incidents are for logged-in users only: in QGIS or GDAL send a token as the header \"Authorization: Bearer TOKEN\" (QGIS: Data Source → HTTP Headers). Without one the answer is 401.",
  ],
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
