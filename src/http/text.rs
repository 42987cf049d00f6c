//! Text PostgreSQL cannot store: a NUL character (U+0000) in any string of a JSON body
//! is refused at the edge (422 naming the field), before it reaches a query, where
//! PostgreSQL would fail the statement (SQLSTATE 22021) and the client would see a 500.

use serde_json::Value;

use super::error::ApiError;

/// The JSON path (`properties.description`) of the first string or object key holding a
/// NUL character, if any.
pub fn nul_at(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => s.contains('\0').then(String::new),
        Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, v)| nul_at(v).map(|path| join(&i.to_string(), &path)))
        }
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                return Some(k.replace('\0', "\\u0000"));
            }
            nul_at(v).map(|path| join(k, &path))
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

fn join(head: &str, tail: &str) -> String {
    if tail.is_empty() {
        head.to_owned()
    } else {
        format!("{head}.{tail}")
    }
}

/// 422 for a body holding a NUL character anywhere.
pub fn refuse_nul(value: &Value) -> Result<(), ApiError> {
    match nul_at(value) {
        None => Ok(()),
        Some(path) => {
            let field = if path.is_empty() { "body".to_owned() } else { path };
            Err(ApiError::invalid_field(
                &field,
                "tidak boleh berisi karakter NUL (\\u0000)".to_owned(),
                "must not contain a NUL character (\\u0000)".to_owned(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::nul_at;
    use serde_json::json;

    #[test]
    fn finds_the_path_of_a_nul_character() {
        assert_eq!(nul_at(&json!({"a": "x", "b": [1, "ok"]})), None);
        assert_eq!(
            nul_at(&json!({"properties": {"description": "a\u{0}b"}})).as_deref(),
            Some("properties.description")
        );
        assert_eq!(nul_at(&json!({"list": ["ok", "\u{0}"]})).as_deref(), Some("list.1"));
        assert_eq!(nul_at(&json!("\u{0}")).as_deref(), Some(""));
        assert_eq!(nul_at(&json!({"k\u{0}": 1})).as_deref(), Some("k\\u0000"));
    }
}
