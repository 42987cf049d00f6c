//! `/problems/{type}`: one page per problem type, so that the absolute `type` URI of
//! every RFC 9457 problem this server answers can be fetched and says what the problem
//! means (RFC 9457 section 3.1.1: the URI "SHOULD" resolve to documentation).

use axum::extract::Path;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::AppState;
use crate::i18n::Lang;

/// Every problem type: slug, title (Indonesian, English), what it means (Indonesian,
/// English).
pub const PROBLEM_TYPES: [(&str, (&str, &str), (&str, &str)); 20] = [
    ("invalid-parameter", ("Parameter tidak valid", "Invalid parameter"),
        ("Sebuah parameter alamat atau kueri salah bentuk, di luar rentang, atau tidak dikenal; `parameter` menyebutkannya.",
         "A path or query parameter is malformed, out of range or unknown; `parameter` names it.")),
    ("region-not-found", ("Wilayah tidak ditemukan", "Region not found"),
        ("Tidak ada wilayah dengan kode itu (`kode`).", "No region has the code asked for (`kode`).")),
    ("tile-source-not-found", ("Sumber tile tidak ditemukan", "Tile source not found"),
        ("Tidak ada sumber tile dengan nama itu (`source`); daftarnya di /tiles.",
         "No tile source has that name (`source`); /tiles lists them.")),
    ("not-found", ("Tidak ditemukan", "Not found"),
        ("Alamat, koleksi atau fitur yang diminta tidak ada.", "The address, collection or feature asked for does not exist.")),
    ("incident-not-found", ("Kejadian tidak ditemukan", "Incident not found"),
        ("Tidak ada kejadian dengan id itu di wilayah Anda.", "No incident with that id lies within your region.")),
    ("invalid-field", ("Isian tidak valid", "Invalid field"),
        ("Sebuah isian badan permintaan salah; `field` menyebutkan jalurnya.",
         "A field of the request body is wrong; `field` gives its path.")),
    ("invalid-text", ("Teks tidak valid", "Invalid text"),
        ("Teks permintaan memuat karakter yang tidak dapat disimpan (misalnya NUL, U+0000).",
         "The request's text holds a character that cannot be stored (such as NUL, U+0000).")),
    ("malformed-json", ("JSON tidak valid", "Malformed JSON"),
        ("Badan permintaan bukan JSON yang benar.", "The request body is not well-formed JSON.")),
    ("unsupported-media-type", ("Jenis isi tidak didukung", "Unsupported media type"),
        ("Badan permintaan harus berjenis application/json atau application/geo+json.",
         "The request body must be application/json or application/geo+json.")),
    ("payload-too-large", ("Isi permintaan terlalu besar", "Request body too large"),
        ("Badan permintaan melebihi batas (1 MiB untuk API kejadian).",
         "The request body exceeds the limit (1 MiB for the incident API).")),
    ("unauthorized", ("Perlu masuk", "Authentication required"),
        ("Token tidak ada, tidak dikenal, kedaluwarsa atau dicabut; masuk lewat POST /api/login.",
         "The token is missing, unknown, expired or revoked; log in with POST /api/login.")),
    ("forbidden", ("Tidak diizinkan", "Forbidden"),
        ("Peran atau wilayah Anda tidak mengizinkan tindakan ini.", "Your role or region does not allow this.")),
    ("too-many-logins", ("Terlalu banyak percobaan masuk", "Too many login attempts"),
        ("Setelah tiga kegagalan setiap percobaan berikut menunggu dua kali lebih lama; lihat Retry-After.",
         "After three failures each further attempt waits twice as long; see Retry-After.")),
    ("if-match-required", ("If-Match diperlukan", "If-Match required"),
        ("Perubahan memerlukan header If-Match dengan ETag versi yang diubah.",
         "A change needs an If-Match header with the ETag of the version changed.")),
    ("stale-version", ("Versi sudah berubah", "Stale version"),
        ("Kejadian telah diubah orang lain sejak versi di If-Match; baca lagi lalu ulangi.",
         "The incident changed since the version in If-Match; read it again and retry.")),
    ("database-unavailable", ("Basis data tidak tersedia", "Database unavailable"),
        ("Basis data sedang tidak dapat dihubungi; coba lagi setelah Retry-After.",
         "The database cannot be reached right now; retry after Retry-After.")),
    ("timeout", ("Waktu habis", "Timeout"),
        ("Jawaban tidak mulai dalam batas waktu permintaan (SIPKS_REQUEST_TIMEOUT).",
         "The answer did not start within the request timeout (SIPKS_REQUEST_TIMEOUT).")),
    ("web-not-built", ("Peta web belum dibangun", "Web map not built"),
        ("Berkas peta web (web/dist) tidak ada di server ini.", "The web map's files (web/dist) are missing on this server.")),
    ("internal", ("Kesalahan internal", "Internal error"),
        ("Terjadi kesalahan di server; sudah dicatat.", "Something went wrong on the server; it has been logged.")),
    ("http-error", ("Kesalahan HTTP", "HTTP error"),
        ("Kesalahan HTTP lain (misalnya 405 metode tidak diizinkan); statusnya menjelaskan.",
         "Another HTTP error (such as 405 method not allowed); its status says which.")),
];

/// The absolute URI of a problem type, at the origin the client reached.
pub fn type_uri(origin: &str, slug: &str) -> String {
    format!("{origin}/problems/{slug}")
}

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(problem_type))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A problem type
///
/// What a problem type (the last part of a problem's `type` URI) means, as a small
/// HTML page in Bahasa Indonesia (English by `Accept-Language`), or as JSON with
/// `Accept: application/json`.
#[utoipa::path(
    get,
    path = "/problems/{type}",
    operation_id = "getProblemType",
    tag = "openapi",
    params(("type" = String, Path, description = "A problem type, e.g. `invalid-parameter`.",
        example = "invalid-parameter")),
    responses(
        (status = 200, description = "The problem type's page.", body = String, content_type = "text/html"),
        (status = 404, description = "No problem type has this name.", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn problem_type(Path(slug): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (slug, title, meaning) = PROBLEM_TYPES.iter().find(|(s, _, _)| *s == slug).ok_or(ApiError::NoRoute)?;
    let lang =
        headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map_or(Lang::Id, Lang::from_accept_language);
    let (title, meaning) = (lang.pick(title.0, title.1), lang.pick(meaning.0, meaning.1));
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"));
    let language = lang.pick("id", "en");
    if wants_json {
        let body = serde_json::json!({ "type": slug, "title": title, "description": meaning });
        return Ok((
            [(header::CONTENT_TYPE, "application/json"), (header::CONTENT_LANGUAGE, language)],
            body.to_string(),
        )
            .into_response());
    }
    let html = format!(
        "<!doctype html><html lang=\"{language}\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p><code>{slug}</code></p><p>{m}</p><p><a href=\"/openapi.json\">OpenAPI</a></p></body></html>",
        t = escape(title),
        m = escape(meaning),
    );
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CONTENT_LANGUAGE, language)], html)
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::PROBLEM_TYPES;

    /// Every slug a problem is made with in src/ has its page.
    #[test]
    fn every_problem_slug_in_the_code_has_a_page() {
        let known: std::collections::BTreeSet<&str> = PROBLEM_TYPES.iter().map(|(s, _, _)| *s).collect();
        let mut missing = Vec::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("src").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&path) else { continue };
                let lines: Vec<&str> = text.lines().collect();
                for (i, line) in lines.iter().enumerate() {
                    // A slug is the string right after a status in a problem.
                    let after_status = i > 0 && lines[i - 1].trim_start().starts_with("StatusCode::");
                    let inline = line.contains("ApiError::client(StatusCode::");
                    if !(after_status || inline || line.contains("slug: \"")) {
                        continue;
                    }
                    let candidates = line.split('"').skip(1).step_by(2).take(1);
                    for slug in candidates {
                        let slug_like = !slug.is_empty() && slug.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
                        let is_slug = slug_like && (after_status || inline || line.contains("slug: \""));
                        if is_slug && !known.contains(slug) {
                            missing.push(format!("{}:{}: {slug}", path.display(), i + 1));
                        }
                    }
                }
            }
        }
        assert!(missing.is_empty(), "problem slugs without a page: {missing:?}");
    }
}
