//! Example backend: one HTML page per document plus an index.
//!
//! Config: `{ "title": "Documentation" }` (the index page's title).

use std::fmt::Write as _;

use morphir_ext_sdk::{Backend, Envelope, ErrorPayload, FileBundle, StepRequest, export};
use serde_json::Value;

struct Html;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page_name(path: &str) -> String {
    let stem = path.rsplit_once('.').map_or(path, |(s, _)| s);
    format!("{}.html", stem.replace('/', "-"))
}

impl Backend for Html {
    fn backend_generate(request: StepRequest) -> Result<Envelope, ErrorPayload> {
        let title = request
            .config
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or("Documentation")
            .to_owned();
        let doc: Value = request
            .input
            .as_json()
            .map_err(|e| ErrorPayload::new(format!("expected a JSON document list: {e}")))?;
        let docs = doc
            .get("documents")
            .and_then(Value::as_array)
            .ok_or_else(|| ErrorPayload::new("no `documents` array").with_path("$.documents"))?;
        let mut bundle = FileBundle::new();
        let mut index = format!(
            "<!doctype html>\n<title>{0}</title>\n<h1>{0}</h1>\n<ul>\n",
            escape(&title)
        );
        for (i, d) in docs.iter().enumerate() {
            let field = |name: &str| {
                d.get(name).and_then(Value::as_str).ok_or_else(|| {
                    ErrorPayload::new(format!("missing string `{name}`"))
                        .with_path(format!("$.documents[{i}].{name}"))
                })
            };
            let (path, page_title, body) = (field("path")?, field("title")?, field("body")?);
            let name = page_name(path);
            let _ = writeln!(
                index,
                "<li><a href=\"{}\">{}</a></li>",
                escape(&name),
                escape(page_title)
            );
            bundle.push(
                name,
                format!(
                    "<!doctype html>\n<title>{0}</title>\n<h1>{0}</h1>\n<pre>{1}</pre>\n",
                    escape(page_title),
                    escape(body)
                ),
            );
        }
        index.push_str("</ul>\n");
        bundle.push("index.html", index);
        Ok(Envelope::files(&bundle))
    }
}

export! {
    name: "html-backend",
    description: "Writes one HTML page per document and an index.",
    accepts: ["application/json"],
    produces: ["application/x-morphir-files"],
    backend: Html,
}
