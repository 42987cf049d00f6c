//! The MapLibre styles in styles/: valid for the MapLibre style-spec validator (run with
//! node from web/node_modules), and true to the vector tile contract of issue 4: every
//! source layer, attribute, zoom and font they use is one the server provides, and they
//! name no host but the server's own `{origin}`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sipks::tiles::Source;

const NPM_HINT: &str = "run scripts/test or npm ci in web/";

/// The glyph ranges served at `/fonts/{fontstack}/{range}.pbf`, one directory per font
/// (npm package tileserver-gl-styles, pinned in web/package-lock.json).
const GLYPHS_DIR: &str = "web/node_modules/tileserver-gl-styles/fonts";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn style_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("styles"))
        .expect("styles/ is readable")
        .map(|entry| entry.expect("styles/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "styles/ holds sipks.json and sipks-cb.json, found {files:?}");
    files
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

fn require_node_modules() {
    let validator = root().join("web/node_modules/@maplibre/maplibre-gl-style-spec");
    assert!(validator.is_dir(), "web/node_modules is missing or incomplete ({}): {NPM_HINT}", validator.display());
}

/// Runs web/scripts/validate-styles.mjs on `files`.
fn validate(files: &[PathBuf]) -> Output {
    require_node_modules();
    Command::new("node")
        .arg(root().join("web/scripts/validate-styles.mjs"))
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): {NPM_HINT}"))
}

fn layers(style: &Value) -> &[Value] {
    style["layers"].as_array().expect("the style has layers")
}

fn layer_id(layer: &Value) -> &str {
    layer["id"].as_str().expect("every layer has an id")
}

/// The attribute names an expression or filter reads with `["get", name]` or
/// `["has", name]` (the two-argument forms, which read the feature).
fn attributes(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Array(items) => {
            if let [Value::String(op), Value::String(name)] = items.as_slice() {
                if op == "get" || op == "has" {
                    found.push(name.clone());
                }
            }
            for item in items {
                attributes(item, found);
            }
        }
        Value::Object(map) => {
            for item in map.values() {
                attributes(item, found);
            }
        }
        _ => {}
    }
}

/// Every string in `value`, recursively.
fn strings<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => found.push(s),
        Value::Array(items) => {
            for item in items {
                strings(item, found);
            }
        }
        Value::Object(map) => {
            for item in map.values() {
                strings(item, found);
            }
        }
        _ => {}
    }
}

/// `value` with every string that is a key of `swap` (a colour, compared without case)
/// replaced by its value.
fn recolour(value: &Value, swap: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(s) => swap.get(&s.to_lowercase()).map_or_else(|| value.clone(), |c| Value::from(c.as_str())),
        Value::Array(items) => items.iter().map(|item| recolour(item, swap)).collect(),
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), recolour(v, swap))).collect(),
        _ => value.clone(),
    }
}

#[test]
fn styles_pass_the_maplibre_validator() {
    let files = style_files();
    let output = validate(&files);
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the MapLibre style validator rejects the styles:\n{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for file in &files {
        assert!(report.contains(&format!("{}: valid", file.display())), "{} not validated:\n{report}", file.display());
    }
}

#[test]
fn the_validator_reports_a_broken_style() {
    let mut style = load(&root().join("styles/sipks.json"));
    let index = layers(&style).iter().position(|l| l["type"] == "fill").expect("a fill layer");
    style["layers"][index]["type"] = Value::from("hatched-fill");
    let broken = tempfile::Builder::new().suffix(".json").tempfile().expect("temporary file");
    std::fs::write(broken.path(), serde_json::to_vec(&style).expect("JSON")).expect("write the broken style");

    let output = validate(&[broken.path().to_path_buf()]);
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "a layer of unknown type passed the validator:\n{report}");
    assert!(
        report.contains(&format!("layers[{index}].type")) && report.contains("hatched-fill"),
        "the report names the broken layer:\n{report}"
    );
}

#[test]
fn styles_use_only_the_layers_attributes_and_zooms_of_the_tile_contract() {
    // What the server puts in tiles of the composite source, by layer name.
    let contract: BTreeMap<&str, (u8, Vec<&str>)> = Source::Sipks
        .layers()
        .into_iter()
        .map(|(layer, zooms)| (layer.name(), (*zooms.start(), layer.fields().iter().map(|&(name, _)| name).collect())))
        .collect();
    let mut problems = Vec::new();
    for file in style_files() {
        let style = load(&file);
        let file = file.file_name().expect("file name").to_string_lossy().into_owned();
        for layer in layers(&style) {
            let id = layer_id(layer);
            let Some(source_layer) = layer.get("source-layer") else {
                if layer["type"] != "background" {
                    problems.push(format!("{file}: layer {id} has no source-layer"));
                }
                continue;
            };
            let source_layer = source_layer.as_str().expect("source-layer is a string");
            if layer["source"] != "sipks" {
                problems.push(format!("{file}: layer {id} draws source {}, not sipks", layer["source"]));
            }
            let Some((first_zoom, fields)) = contract.get(source_layer) else {
                problems.push(format!(
                    "{file}: layer {id} uses source-layer {source_layer}, not in tiles of the sipks source"
                ));
                continue;
            };
            let minzoom = layer.get("minzoom").and_then(Value::as_f64).unwrap_or(0.0);
            if minzoom < f64::from(*first_zoom) {
                problems.push(format!(
                    "{file}: layer {id} starts at zoom {minzoom}, but {source_layer} is in tiles from zoom {first_zoom}"
                ));
            }
            let mut used = Vec::new();
            for part in ["filter", "layout", "paint"] {
                if let Some(value) = layer.get(part) {
                    attributes(value, &mut used);
                }
            }
            for name in used.iter().filter(|name| !fields.contains(&name.as_str())) {
                problems.push(format!("{file}: layer {id} reads {name}, not an attribute of {source_layer}"));
            }
        }
    }
    assert!(problems.is_empty(), "the styles do not match the tile contract:\n{}", problems.join("\n"));
}

#[test]
fn styles_name_no_host_but_the_servers_own_origin() {
    for file in style_files() {
        let style = load(&file);
        let name = file.display();
        assert_eq!(style["glyphs"], "{origin}/fonts/{fontstack}/{range}.pbf", "{name}: glyphs");
        assert_eq!(style["sources"], serde_json::json!({"sipks": {"type": "vector", "url": "{origin}/tiles/sipks"}}));
        assert!(style.get("sprite").is_none(), "{name}: the server serves no sprite");
        let mut all = Vec::new();
        strings(&style, &mut all);
        let hosts: Vec<&str> = all.into_iter().filter(|s| s.contains("://")).collect();
        assert!(hosts.is_empty(), "{name}: the map runs without internet, yet the style names {hosts:?}");
    }
}

#[test]
fn every_font_has_glyphs_in_web_node_modules() {
    require_node_modules();
    for file in style_files() {
        let style = load(&file);
        for layer in layers(&style).iter().filter(|l| l["type"] == "symbol") {
            let id = layer_id(layer);
            let fonts = layer["layout"]["text-font"].as_array().unwrap_or_else(|| panic!("{id}: text-font is a list"));
            // MapLibre asks for the whole stack as one comma-joined name; only single fonts
            // have a directory of their own.
            assert_eq!(fonts.len(), 1, "{}: layer {id} stacks fonts {fonts:?}", file.display());
            let font = fonts[0].as_str().expect("a font name");
            let range = root().join(GLYPHS_DIR).join(font).join("0-255.pbf");
            assert!(range.is_file(), "layer {id}: no glyphs for {font} at {}: {NPM_HINT}", range.display());
        }
    }
}

#[test]
fn the_colour_blind_style_differs_only_in_the_risk_palette() {
    let standard = load(&root().join("styles/sipks.json"));
    let colour_blind = load(&root().join("styles/sipks-cb.json"));
    let palette = |style: &Value| -> BTreeMap<String, String> {
        let colours = style["metadata"]["sipks:risk-palette"].as_object().expect("metadata sipks:risk-palette");
        colours.iter().map(|(level, c)| (level.clone(), c.as_str().expect("a colour").to_lowercase())).collect()
    };
    let (from, to) = (palette(&standard), palette(&colour_blind));
    let levels = ["hijau", "kuning", "merah"];
    assert!(from.keys().eq(levels.iter()) && to.keys().eq(levels.iter()), "palettes of {levels:?}: {from:?} {to:?}");

    let mut used = Vec::new();
    strings(&standard["layers"], &mut used);
    for (level, colour) in &from {
        assert!(used.iter().any(|s| s.eq_ignore_ascii_case(colour)), "sipks.json never draws {level} ({colour})");
    }

    let swap: BTreeMap<String, String> = levels.iter().map(|l| (from[*l].clone(), to[*l].clone())).collect();
    let mut expected = recolour(&standard, &swap);
    let mut actual = colour_blind.clone();
    for style in [&mut expected, &mut actual] {
        let object = style.as_object_mut().expect("a style object");
        object.remove("name");
        object.remove("metadata");
    }
    assert!(
        expected == actual,
        "styles/sipks-cb.json is not sipks.json with the colour-blind palette: run node styles/make-colour-blind.mjs"
    );
}

/// QGIS (3.22, its MapLibre style converter) reads a `match` label that is a bare
/// string or number as an empty `IN ()` list, so every region is grey there; labels as
/// one-element arrays (`["hijau"]`) mean the same to MapLibre and work in QGIS too
/// (issue 16, defect 4).
#[test]
fn every_match_label_is_an_array_as_qgis_needs() {
    fn walk(value: &Value, at: &str, found: &mut Vec<String>) {
        match value {
            Value::Array(items) => {
                if items.len() >= 4 && items[0] == "match" {
                    for (i, label) in items.iter().enumerate().take(items.len() - 1).skip(2).step_by(2) {
                        if !label.is_array() {
                            found.push(format!("{at}/{i}: label {label}"));
                        }
                    }
                }
                items.iter().enumerate().for_each(|(i, v)| walk(v, &format!("{at}/{i}"), found));
            }
            Value::Object(map) => map.iter().for_each(|(k, v)| walk(v, &format!("{at}/{k}"), found)),
            _ => {}
        }
    }
    for file in style_files() {
        let mut found = Vec::new();
        walk(&load(&file)["layers"], "layers", &mut found);
        assert!(found.is_empty(), "{}: match labels that are not arrays: {found:?}", file.display());
    }
}
