//! This server's OpenAPI 3.1 document rewritten as OpenAPI 3.0.3, for the OGC API's
//! "OpenAPI 3.0" conformance class and the clients that read only 3.0.
//!
//! utoipa writes 3.1 (JSON Schema 2020-12). The rewrite covers what it uses: `type`
//! arrays with `"null"` (3.0: `nullable`), `examples` in schemas (3.0: one `example`),
//! numeric `exclusiveMinimum`/`exclusiveMaximum` (3.0: booleans beside `minimum` and
//! `maximum`), `const` (3.0: a one-value `enum`), `oneOf`/`anyOf` with a null branch,
//! `propertyNames` (dropped) and the 3.1-only members of `info` (`license.identifier`,
//! `summary`). Checked with openapi-spec-validator when written.

use std::sync::LazyLock;

use serde_json::{json, Map, Value};

/// The 3.0.3 document, made once from the application's router.
pub(super) static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let document = serde_json::to_value(crate::http::routes().into_openapi()).unwrap_or_default();
    to_openapi_30(document)
});

/// Rewrites an OpenAPI 3.1 document as 3.0.3.
pub(super) fn to_openapi_30(mut document: Value) -> Value {
    document["openapi"] = json!("3.0.3");
    if let Some(info) = document.get_mut("info").and_then(Value::as_object_mut) {
        info.remove("summary");
        if let Some(license) = info.get_mut("license").and_then(Value::as_object_mut) {
            license.remove("identifier");
        }
    }
    if let Some(root) = document.as_object_mut() {
        root.remove("webhooks");
        root.remove("jsonSchemaDialect");
    }
    if let Some(schemas) = document.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        for schema in schemas.values_mut() {
            rewrite_schema(schema);
        }
    }
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in item.values_mut() {
                rewrite_operation(operation);
            }
        }
    }
    document
}

/// The schemas of an operation's parameters, request body and responses.
fn rewrite_operation(operation: &mut Value) {
    for parameter in operation.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(schema) = parameter.get_mut("schema") {
            rewrite_schema(schema);
        }
    }
    if let Some(content) = operation.pointer_mut("/requestBody/content") {
        rewrite_content(content);
    }
    for response in
        operation.get_mut("responses").and_then(Value::as_object_mut).into_iter().flat_map(|r| r.values_mut())
    {
        if let Some(headers) = response.get_mut("headers").and_then(Value::as_object_mut) {
            for header in headers.values_mut() {
                if let Some(schema) = header.get_mut("schema") {
                    rewrite_schema(schema);
                }
            }
        }
        if let Some(content) = response.get_mut("content") {
            rewrite_content(content);
        }
    }
}

/// The schemas of a `content` map (media type -> media type object).
fn rewrite_content(content: &mut Value) {
    for media in content.as_object_mut().into_iter().flat_map(|c| c.values_mut()) {
        if let Some(schema) = media.get_mut("schema") {
            rewrite_schema(schema);
        }
    }
}

/// Whether a schema is just `{"type": "null"}`.
fn is_null(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

/// Rewrites one schema and every schema inside it.
fn rewrite_schema(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else { return };
    if let Some(types) = map.get("type").and_then(Value::as_array).cloned() {
        let rest: Vec<Value> = types.iter().filter(|t| t.as_str() != Some("null")).cloned().collect();
        if rest.len() < types.len() {
            map.insert("nullable".into(), json!(true));
        }
        match rest.as_slice() {
            [one] => {
                map.insert("type".into(), one.clone());
            }
            _ => {
                map.remove("type");
            }
        }
    }
    for key in ["oneOf", "anyOf"] {
        let Some(branches) = map.get(key).and_then(Value::as_array).cloned() else { continue };
        if branches.iter().any(is_null) {
            let rest: Vec<Value> = branches.into_iter().filter(|b| !is_null(b)).collect();
            map.insert("nullable".into(), json!(true));
            if let [one] = rest.as_slice() {
                map.remove(key);
                // 3.0 ignores members beside a $ref: wrap it.
                map.insert("allOf".into(), json!([one]));
            } else {
                map.insert(key.into(), Value::Array(rest));
            }
        }
    }
    if let Some(examples) = map.remove("examples") {
        if let Some(first) = examples.as_array().and_then(|e| e.first()) {
            map.insert("example".into(), first.clone());
        }
    }
    for (exclusive, inclusive) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
        if let Some(bound) = map.get(exclusive).filter(|v| v.is_number()).cloned() {
            map.insert(inclusive.into(), bound);
            map.insert(exclusive.into(), json!(true));
        }
    }
    if let Some(value) = map.remove("const") {
        map.insert("enum".into(), json!([value]));
    }
    // No 3.0 equivalent (`propertyNames`: the keys of a map, also said in its
    // description).
    for key in ["$schema", "$id", "contentMediaType", "contentEncoding", "$comment", "propertyNames"] {
        map.remove(key);
    }
    if map.contains_key("$ref") {
        // 3.0: a reference object has no siblings.
        map.retain(|k, _| k == "$ref");
        return;
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(inner) = map.get_mut(key) {
            rewrite_schema(inner);
        }
    }
    for key in ["properties", "patternProperties"] {
        if let Some(Value::Object(inner)) = map.get_mut(key) {
            for schema in inner.values_mut() {
                rewrite_schema(schema);
            }
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(Value::Array(inner)) = map.get_mut(key) {
            for schema in inner {
                rewrite_schema(schema);
            }
        }
    }
    if let Some(Value::Array(items)) = map.remove("prefixItems") {
        map.insert("items".into(), items.into_iter().next().unwrap_or_else(|| Value::Object(Map::new())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_31_constructs_utoipa_writes_become_30() {
        let mut schema = json!({
            "type": "object",
            "properties": {
                "a": {"type": ["string", "null"], "examples": ["x"]},
                "b": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/B"}]},
                "c": {"type": "number", "exclusiveMinimum": 0},
                "d": {"const": "Feature"},
                "e": {"$ref": "#/components/schemas/E", "description": "sibling"},
            }
        });
        rewrite_schema(&mut schema);
        assert_eq!(
            schema["properties"],
            json!({
                "a": {"type": "string", "nullable": true, "example": "x"},
                "b": {"nullable": true, "allOf": [{"$ref": "#/components/schemas/B"}]},
                "c": {"type": "number", "minimum": 0, "exclusiveMinimum": true},
                "d": {"enum": ["Feature"]},
                "e": {"$ref": "#/components/schemas/E"},
            })
        );
    }
}
