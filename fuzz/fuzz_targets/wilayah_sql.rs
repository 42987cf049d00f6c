//! The importer of the upstream wilayah_boundaries SQL dumps: the statement lexer, the
//! VALUES tuples, the `path` JSON of [lat, lng] pairs and the record checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Files are read as UTF-8 text before parsing (a file that is not is refused then).
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = sipks::boundaries::read_wilayah_sql(std::path::Path::new("fuzz.sql"), text);
});
