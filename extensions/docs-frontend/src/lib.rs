//! Example frontend: reads Markdown and text files into a JSON document list.
//!
//! Input: the step's files, and the documents of the tasks it depends on. Output
//! (`application/json`): `{"documents": [{"path", "title", "body"}]}`, sorted by path. The title
//! is the first line (without leading `#`), the body the rest. A dependency's documents are
//! merged in under `<task>/<path>`.

use morphir_ext_sdk::{Envelope, ErrorPayload, Frontend, StepRequest, export, log};
use serde::Serialize;

#[derive(Serialize)]
struct Document {
    path: String,
    title: String,
    body: String,
}

struct Docs;

impl Frontend for Docs {
    fn frontend_compile(request: StepRequest) -> Result<Envelope, ErrorPayload> {
        let files = request
            .input
            .as_files()
            .map_err(|e| ErrorPayload::new(format!("expected the step's input files: {e}")))?;
        let mut documents = Vec::new();
        for file in files.files {
            let text = String::from_utf8(file.content).map_err(|_| {
                ErrorPayload::new("not UTF-8 text; docs-frontend reads .md and .txt files")
                    .with_path(file.path.clone())
                    .with_code("invalid-input")
            })?;
            let (first, rest) = text.split_once('\n').unwrap_or((text.as_str(), ""));
            documents.push(Document {
                title: first.trim_start_matches('#').trim().to_owned(),
                body: rest.trim().to_owned(),
                path: file.path,
            });
        }
        for (task, output) in &request.dependencies {
            let upstream: serde_json::Value = output.as_json().map_err(|e| {
                ErrorPayload::new(format!(
                    "the output of task `{task}` is not a document list: {e}"
                ))
            })?;
            let list = upstream["documents"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for doc in list {
                let field = |name: &str| doc[name].as_str().unwrap_or_default().to_owned();
                documents.push(Document {
                    path: format!("{task}/{}", field("path")),
                    title: field("title"),
                    body: field("body"),
                });
            }
        }
        documents.sort_by(|a, b| a.path.cmp(&b.path));
        log::info(&format!("read {} documents", documents.len()));
        Envelope::json(&serde_json::json!({ "documents": documents }))
            .map_err(|e| ErrorPayload::new(e.to_string()))
    }
}

export! {
    name: "docs-frontend",
    description: "Reads Markdown/text files into a JSON list of documents.",
    accepts: ["application/x-morphir-files"],
    produces: ["application/json"],
    frontend: Docs,
}
