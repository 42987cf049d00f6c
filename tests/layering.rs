//! The layering of src/: which modules may use which. Fails when an import that the
//! architecture rules out comes back (README, "Architecture").
//!
//! - db/ (PostGIS access) uses only the shared vocabulary (region, incident, auth) and
//!   nothing above it: not the engine, the importers, the boundary importer, exports,
//!   tiles or HTTP;
//! - the engine and the file readers (ingest/) use no database;
//! - exports use no HTTP;
//! - the HTTP incident handlers write through the service layer, not db/ or tiles/.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The module files of `module` (a directory and/or a file of that name under src/).
fn module_files(module: &str) -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let file = src.join(format!("{module}.rs"));
    if file.is_file() {
        files.push(file);
    }
    let dir = src.join(module);
    if dir.is_dir() {
        files.extend(rust_files(&dir));
    }
    assert!(!files.is_empty(), "no module {module} under src/");
    files
}

/// Every `crate::<name>` (or `sipks::<name>`) path named in the code of `path`,
/// comments left out, with its line number.
fn crate_paths(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for prefix in ["crate::", "sipks::"] {
            let mut rest = code;
            while let Some(at) = rest.find(prefix) {
                let after = &rest[at + prefix.len()..];
                let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                out.push((n + 1, name));
                rest = after;
            }
        }
        // `use crate::{db, engine}` style groups.
        if let Some(at) = code.find("crate::{") {
            let group = &code[at + "crate::{".len()..];
            for part in group.split(['}', ',']).map(str::trim) {
                let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.push((n + 1, name));
                }
            }
        }
    }
    out
}

fn violations(module: &str, forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in module_files(module) {
        for (line, name) in crate_paths(&file) {
            if forbidden.contains(&name.as_str()) {
                found.push(format!("{}:{line}: {module} uses crate::{name}", file.display()));
            }
        }
    }
    found
}

#[test]
fn db_uses_nothing_above_it() {
    let found = violations("db", &["engine", "ingest", "boundaries", "export", "tiles", "http", "service"]);
    assert!(found.is_empty(), "db/ must not import these layers:\n{}", found.join("\n"));
}

#[test]
fn the_engine_and_the_file_readers_use_no_database() {
    let mut found = violations("engine", &["db", "http", "service", "tiles", "export"]);
    found.extend(violations("ingest", &["db", "http", "service", "tiles", "export"]));
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn exports_use_no_http() {
    let found = violations("export", &["http"]);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn incident_handlers_write_through_the_service_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let handlers: Vec<PathBuf> = module_files("http")
        .into_iter()
        .filter(|p| p.strip_prefix(&src).is_ok_and(|p| p.to_string_lossy().contains("incidents")))
        .collect();
    assert!(!handlers.is_empty(), "no incident handlers under src/http");
    let mut found = Vec::new();
    for file in handlers {
        let text = std::fs::read_to_string(&file).expect("readable");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for call in
                ["incident_rows::create", "incident_rows::update", "incident_rows::delete", "tiles.queue", ".change("]
            {
                if code.contains(call) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, code.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "incident writes must go through crate::incidents:\n{}", found.join("\n"));
}

/// Test files share their helpers through `tests/common/`: none borrows another test's
/// files with `#[path]` (a test's own modules live in the directory of its name, which a
/// test crate's root can only name with `#[path = "<name>/<module>.rs"]`).
#[test]
fn tests_share_one_harness() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut found = Vec::new();
    for file in rust_files(&tests) {
        let own = format!("#[path = \"{}/", file.file_stem().and_then(|s| s.to_str()).unwrap_or_default());
        let text = std::fs::read_to_string(&file).expect("readable");
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("#[path") && !line.starts_with(&own) {
                found.push(format!("{}:{}: {line}", file.display(), n + 1));
            }
        }
    }
    assert!(found.is_empty(), "share helpers through tests/common instead:\n{}", found.join("\n"));
}

#[test]
fn the_checker_sees_an_import() {
    // The checker itself: a forbidden import written in each style is found.
    let dir = std::env::temp_dir().join(format!("sipks-layering-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("probe.rs");
    std::fs::write(&file, "use crate::engine::Engine;\nuse crate::{db, http};\n// crate::tiles in a comment\n")
        .expect("written");
    let names: Vec<String> = crate_paths(&file).into_iter().map(|(_, n)| n).collect();
    std::fs::remove_dir_all(&dir).ok();
    assert!(names.contains(&"engine".to_owned()), "{names:?}");
    assert!(names.contains(&"db".to_owned()) && names.contains(&"http".to_owned()), "{names:?}");
    assert!(!names.contains(&"tiles".to_owned()), "comments are not imports: {names:?}");
}
