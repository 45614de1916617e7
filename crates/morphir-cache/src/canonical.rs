//! Canonical JSON, so that two configs that mean the same thing hash the same.

use serde_json::Value;

/// The canonical byte form of a JSON value: no whitespace, object keys sorted by their UTF-8
/// bytes (code point order) at every depth, strings escaped as `serde_json` escapes them,
/// numbers as `serde_json` prints them (`1` and `1.0` stay distinct: an extension can tell them
/// apart).
///
/// Written by hand instead of relying on `serde_json::Map` iteration order, which becomes
/// insertion order as soon as any crate in the build enables `serde_json`'s `preserve_order`
/// feature.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(k, out);
                out.push(b':');
                write(v, out);
            }
            out.push(b'}');
        }
    }
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    // Serialising a &str into a Vec cannot fail.
    serde_json::to_writer(&mut *out, s).expect("writing a JSON string to a Vec");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_depth() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [1, {"q": 2, "p": 1}], "x": null}}"#)
                .unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a": {"x": null, "y": [1, {"p": 1, "q": 2}]}, "b": 1}"#)
                .unwrap();
        let ca = canonical_json(&a);
        assert_eq!(ca, canonical_json(&b));
        assert_eq!(
            String::from_utf8(ca).unwrap(),
            r#"{"a":{"x":null,"y":[1,{"p":1,"q":2}]},"b":1}"#
        );
    }

    #[test]
    fn distinct_values_stay_distinct() {
        let pairs = [
            (json!(1), json!(1.0)),
            (json!("1"), json!(1)),
            (json!([1, 2]), json!([2, 1])),
            (json!({"a": "b,c"}), json!({"a": "b", "c": null})),
            (json!("a\"b"), json!("a\\\"b")),
        ];
        for (x, y) in pairs {
            assert_ne!(canonical_json(&x), canonical_json(&y), "{x} vs {y}");
        }
    }

    #[test]
    fn output_is_valid_json_that_round_trips() {
        let v = json!({"z": "\u{1F600}\n\t", "é": [true, false, null, -0.5, 1e300]});
        let c = canonical_json(&v);
        assert_eq!(serde_json::from_slice::<Value>(&c).unwrap(), v);
    }
}
