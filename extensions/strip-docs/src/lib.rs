//! Transform `strip-docs`: removes every documentation string from the IR (modules, types,
//! values, in defined and dependency packages).
//!
//! Input and output: `application/morphir-ir+json` (any format `morphir-ir` reads is accepted;
//! the output is canonical). Config: none. Because the output of a docs-only change is
//! byte-identical, the steps after this one stay cached (early cutoff).

use morphir_ext_sdk::{Envelope, ErrorPayload, StepRequest, Transform, export};

struct StripDocs;

impl Transform for StripDocs {
    fn transform(request: StepRequest) -> Result<Envelope, ErrorPayload> {
        let mut ir = morphir_ir::read(&request.input.content).map_err(|e| {
            ErrorPayload::new(format!("the input is not Morphir IR: {}", e.message))
                .with_path(e.path)
                .with_code("invalid-ir")
        })?;
        ir.strip_docs();
        Ok(Envelope::new(
            morphir_ir::CONTENT_TYPE,
            morphir_ir::write_canonical(&ir),
        ))
    }
}

export! {
    name: "strip-docs",
    description: "Removes documentation strings from Morphir IR.",
    accepts: ["application/morphir-ir+json"],
    produces: ["application/morphir-ir+json"],
    transform: StripDocs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_are_removed_and_nothing_else() {
        let with_docs = r#"{"formatVersion":3,"distribution":["Library",[["a"]],[],{"modules":[[[["m"]],{"access":"Public","value":{"doc":"Module doc.","types":[[["t"],{"access":"Public","value":{"doc":"Type doc.","value":["TypeAliasDefinition",[],["Unit",{}]]}}]],"values":[]}}]]}]}"#;
        let without = with_docs
            .replace("Module doc.", "")
            .replace("Type doc.", "");
        let run = |text: &str| {
            StripDocs::transform(StepRequest::new(Envelope::new(
                morphir_ir::CONTENT_TYPE,
                text,
            )))
            .unwrap()
            .content
        };
        let stripped = run(with_docs);
        assert_eq!(stripped, run(&without));
        assert!(!String::from_utf8(stripped).unwrap().contains("doc"));
    }
}
