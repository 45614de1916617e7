//! Extension `config` tables: TOML to JSON with sorted keys, and the merge of a per-use table
//! over the extension's own.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Converts a TOML table to a JSON object whose keys are sorted (whatever `serde_json`'s map
/// order is), so the bytes an extension receives and the cache keys built from them do not depend
/// on the order keys were written. Datetimes become their TOML text; non-finite floats, which
/// JSON cannot hold, are an error naming the key path.
pub(crate) fn table_to_json(table: &toml::Table) -> Result<Value, String> {
    let mut entries = BTreeMap::new();
    for (key, value) in table {
        entries.insert(key.clone(), to_json(value, key)?);
    }
    Ok(sorted_object(entries))
}

fn to_json(value: &toml::Value, path: &str) -> Result<Value, String> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| {
                format!("config value `{path}` is {f}, which JSON cannot represent; use a finite number or a string")
            })?,
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_json(item, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(table) => {
            let mut entries = BTreeMap::new();
            for (key, value) in table {
                entries.insert(key.clone(), to_json(value, &format!("{path}.{key}"))?);
            }
            sorted_object(entries)
        }
    })
}

fn sorted_object(entries: BTreeMap<String, Value>) -> Value {
    Value::Object(entries.into_iter().collect::<Map<_, _>>())
}

/// Deep merge: objects merge key by key, recursively; any other value in `over` (including an
/// array) replaces the one in `base`. Keys stay sorted.
pub(crate) fn merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            let mut entries: BTreeMap<String, Value> =
                base.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            for (key, value) in over {
                let merged = match entries.get(key) {
                    Some(existing) => merge(existing, value),
                    None => value.clone(),
                };
                entries.insert(key.clone(), merged);
            }
            sorted_object(entries)
        }
        (_, over) => over.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn converts_with_sorted_keys() {
        let value = table_to_json(&table(
            "z = 1\na = \"x\"\n[n]\nb = [1.5, true]\na = 1979-05-27T07:32:00Z",
        ))
        .unwrap();
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            r#"{"a":"x","n":{"a":"1979-05-27T07:32:00Z","b":[1.5,true]},"z":1}"#
        );
    }

    #[test]
    fn refuses_non_finite_floats() {
        let error = table_to_json(&table("[a]\nb = [1.0, nan]")).unwrap_err();
        assert!(error.contains("`a.b[1]` is NaN"), "{error}");
    }

    #[test]
    fn deep_merge() {
        let base = json!({"a": 1, "n": {"x": 1, "y": [1, 2]}, "keep": true});
        let over = json!({"a": 2, "n": {"y": [3], "z": "new"}, "extra": null});
        assert_eq!(
            merge(&base, &over),
            json!({"a": 2, "extra": null, "keep": true, "n": {"x": 1, "y": [3], "z": "new"}})
        );
        // A non-object over an object replaces it.
        assert_eq!(
            merge(&json!({"n": {"x": 1}}), &json!({"n": 5})),
            json!({"n": 5})
        );
    }
}
