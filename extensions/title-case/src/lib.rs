//! Example transform: title-cases one string field of every document.
//!
//! Config: `{ "field": "title" }` (default `title`).

use morphir_ext_sdk::{Envelope, ErrorPayload, StepRequest, Transform, export};
use serde_json::Value;

struct TitleCase;

fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next().map_or_else(String::new, |f| {
                f.to_uppercase()
                    .chain(c.flat_map(char::to_lowercase))
                    .collect()
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Transform for TitleCase {
    fn transform(request: StepRequest) -> Result<Envelope, ErrorPayload> {
        let field = request
            .config
            .get("field")
            .and_then(Value::as_str)
            .unwrap_or("title")
            .to_owned();
        let mut doc: Value = request
            .input
            .as_json()
            .map_err(|e| ErrorPayload::new(format!("expected a JSON document list: {e}")))?;
        let docs = doc
            .get_mut("documents")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| ErrorPayload::new("no `documents` array").with_path("$.documents"))?;
        for (i, d) in docs.iter_mut().enumerate() {
            match d.get_mut(&field) {
                Some(Value::String(s)) => *s = title_case(s),
                Some(_) => {
                    return Err(ErrorPayload::new(format!("`{field}` is not a string"))
                        .with_path(format!("$.documents[{i}].{field}")));
                }
                None => {}
            }
        }
        Envelope::json(&doc).map_err(|e| ErrorPayload::new(e.to_string()))
    }
}

export! {
    name: "title-case",
    description: "Title-cases a string field of every document.",
    accepts: ["application/json"],
    produces: ["application/json"],
    transform: TitleCase,
}
