//! The words of a refused field (422) for the people who read them: each reason the
//! incident reader gives (English, in `ingest`) becomes a stable machine-readable
//! `code`, the field's name as the form calls it and the reason in plain Bahasa
//! Indonesia and English, e.g. `properties.occurred_at` + "2027-01-01T03:00:00Z lies
//! in the future" becomes `in-future`, "Waktu kejadian: tidak boleh di masa depan".
//! Reasons not known here keep their English text under the code `invalid`.

/// A refused field as shown: code, Indonesian detail, English detail.
pub struct FieldText {
    /// Stable, machine-readable: `required`, `in-future`, `bad-time`, ...
    pub code: &'static str,
    /// The detail in Bahasa Indonesia.
    pub id: String,
    /// The detail in English.
    pub en: String,
}

/// The field's label in the incident form (Indonesian, English).
fn label(field: &str) -> (String, String) {
    let known = match field {
        "properties.category" => Some(("Kategori", "Category")),
        "properties.severity" => Some(("Tingkat keparahan", "Severity")),
        "properties.status" => Some(("Status", "Status")),
        "properties.occurred_at" => Some(("Waktu kejadian", "Time of the incident")),
        "properties.source" => Some(("Sumber informasi", "Source")),
        "properties.description" => Some(("Uraian", "Description")),
        "properties.casualties" => Some(("Korban", "Casualties")),
        "properties.casualties.meninggal" => Some(("Korban meninggal", "Dead")),
        "properties.casualties.luka" => Some(("Korban luka", "Injured")),
        "properties.casualties.pengungsi" => Some(("Pengungsi", "Displaced")),
        "properties.kode" => Some(("Kode wilayah", "Region code")),
        "geometry" => Some(("Lokasi", "Location")),
        "reason" => Some(("Alasan perubahan", "Reason for the change")),
        _ => None,
    };
    known.map_or_else(|| (field.to_owned(), field.to_owned()), |(id, en)| (id.to_owned(), en.to_owned()))
}

/// The first text between double quotes in `text` (as `{:?}` writes a value).
fn quoted_in(text: &str) -> Option<&str> {
    let start = text.find('"')? + 1;
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

/// The first number in `text`, as written.
fn number_in(text: &str) -> Option<&str> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let rest = &text[start..];
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The code and the plain words of `reason` (English, as `ingest` gives it) for `field`.
pub fn field_text(field: &str, reason: &str) -> FieldText {
    let (name_id, name_en) = label(field);
    let said = |code: &'static str, id: &str, en: &str| FieldText {
        code,
        id: format!("{name_id}: {id}"),
        en: format!("{name_en}: {en}"),
    };
    if reason == "is required" {
        return said("required", "wajib diisi.", "is required.");
    }
    if reason.starts_with("is required when geometry is null") {
        return said("required", "wajib diisi bila lokasi tidak digambar.", "is required when no location is drawn.");
    }
    if reason.ends_with("lies in the future") {
        return said(
            "in-future",
            "tidak boleh di masa depan; isi waktu kejadian yang sudah lewat.",
            "cannot lie in the future; give a time that has passed.",
        );
    }
    if reason.contains("neither RFC 3339 nor YYYY-MM-DD") || reason == "must be an RFC 3339 time" {
        return said(
            "bad-time",
            "bukan tanggal dan jam yang dikenali (contoh: 2026-11-28T10:30:00+08:00 atau 2026-11-28).",
            "is not a date and time we can read (e.g. 2026-11-28T10:30:00+08:00 or 2026-11-28).",
        );
    }
    if reason.starts_with("must be a count") {
        return said("not-a-count", "harus bilangan bulat 0 atau lebih.", "must be a whole number, 0 or more.");
    }
    if reason.contains("1 to 5") {
        return said("severity-range", "harus bilangan bulat 1 sampai 5.", "must be a whole number from 1 to 5.");
    }
    if reason == "must be text" {
        return said("not-text", "harus berupa teks.", "must be text.");
    }
    if reason.starts_with("longer than") || reason.contains("at most") {
        let n = number_in(reason).unwrap_or("?");
        return said("too-long", &format!("paling banyak {n} karakter."), &format!("may hold at most {n} characters."));
    }
    if reason == "unknown property" || reason == "unknown member of a Feature" {
        return said("unknown-property", "tidak dikenal.", "is not known.");
    }
    if reason.starts_with("is set by the server") {
        return said(
            "read-only",
            "diisi oleh server, tidak dapat diubah.",
            "is set by the server and cannot be changed.",
        );
    }
    // What was given, as the reader quotes it, so that the reader of the refusal sees it.
    let given = quoted_in(reason).map_or_else(String::new, |v| format!("\"{v}\" "));
    if field == "properties.category" {
        return said(
            "unknown-category",
            &format!(
                "{given}bukan kategori; pilih salah satu: pemilu, agraria, antar_kelompok, sara, sumber_daya_alam, \
                 ekonomi, lainnya."
            ),
            &format!(
                "{given}is not a category; choose one of: pemilu, agraria, antar_kelompok, sara, sumber_daya_alam, \
                 ekonomi, lainnya."
            ),
        );
    }
    if field == "properties.status" {
        return said(
            "unknown-status",
            &format!("{given}bukan status; pilih salah satu: potensi, terjadi, ditangani, selesai."),
            &format!("{given}is not a status; choose one of: potensi, terjadi, ditangani, selesai."),
        );
    }
    if field == "geometry" {
        return said(
            "bad-geometry",
            &format!("geometri tidak valid ({reason})."),
            &format!("is not a valid geometry ({reason})."),
        );
    }
    if field == "reason" && reason.starts_with("reopening") {
        return said(
            "reason-required",
            "membuka kembali kejadian (memundurkan status) memerlukan alasan.",
            "reopening an incident (moving its status back) needs a reason.",
        );
    }
    FieldText { code: "invalid", id: format!("{name_id}: {reason}"), en: format!("{name_en}: {reason}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_reasons_get_codes_and_bahasa_words() {
        let t = field_text("properties.occurred_at", "2027-01-01T03:00:00+00:00 lies in the future");
        assert_eq!(t.code, "in-future");
        assert!(t.id.starts_with("Waktu kejadian: tidak boleh di masa depan"), "{}", t.id);
        let t = field_text("properties.casualties.luka", "must be a count (0 or more)");
        assert_eq!((t.code, t.id.as_str()), ("not-a-count", "Korban luka: harus bilangan bulat 0 atau lebih."));
        let t = field_text("properties.description", "longer than 2000 characters");
        assert_eq!((t.code, t.id.as_str()), ("too-long", "Uraian: paling banyak 2000 karakter."));
        assert_eq!(field_text("properties.x", "something new").code, "invalid");
    }
}
