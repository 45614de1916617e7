//! Frontend `morphir-ir`: reads Morphir IR JSON files into the canonical IR
//! (`application/morphir-ir+json`, `docs/ir.md`).
//!
//! Input: the task's files, each a morphir-elm distribution (`formatVersion` 1, 2 or 3), an IR v4
//! draft distribution, or a canonical document. Each file defines its package(s); two files that
//! define the same package are an error. The dependency specifications a distribution carries
//! become dependency packages. The IR of upstream tasks (`depends_on`) is merged in as dependency
//! packages, so cross-package references resolve.
//!
//! Errors name the file and the JSON path: `ir/app.json: unknown type tag "Refrence" ... (at
//! $.distribution[3].modules[0][1]...)`.

use std::collections::BTreeMap;

use morphir_ext_sdk::{Envelope, ErrorPayload, Frontend, StepRequest, export, log};
use morphir_ir::Ir;

struct MorphirIr;

fn compile(request: &StepRequest) -> Result<Ir, ErrorPayload> {
    let files = request.input.as_files().map_err(|e| {
        ErrorPayload::new(format!("expected the step's input files: {e}")).with_code("abi")
    })?;
    let mut ir = Ir::default();
    let mut origins = BTreeMap::new();
    for file in &files.files {
        let doc = morphir_ir::parse_json(&file.content).map_err(|e| invalid(&file.path, e))?;
        let read = morphir_ir::read_value(&doc).map_err(|e| invalid(&file.path, e))?;
        ir.merge_defined(read, &file.path, &mut origins)
            .map_err(|e| ErrorPayload::new(e.0).with_code("duplicate-package"))?;
    }
    for (task, output) in &request.dependencies {
        if !morphir_ext_sdk::content_type::is_json(&output.content_type) {
            return Err(ErrorPayload::new(format!(
                "task `{task}` (depends_on) produced `{}`, not Morphir IR; its last step must output {}",
                output.content_type,
                morphir_ir::CONTENT_TYPE
            ))
            .with_code("invalid-input"));
        }
        let upstream = morphir_ir::read(&output.content)
            .map_err(|e| invalid(&format!("the IR of task `{task}`"), e))?;
        ir.merge_upstream(upstream, &format!("task `{task}`"))
            .map_err(|e| ErrorPayload::new(e.0).with_code("conflicting-dependency"))?;
    }
    ir.drop_dependencies_defined_here();
    Ok(ir)
}

fn invalid(origin: &str, e: morphir_ir::Error) -> ErrorPayload {
    ErrorPayload::new(format!("{origin}: {}", e.message))
        .with_path(e.path)
        .with_code("invalid-ir")
}

impl Frontend for MorphirIr {
    fn frontend_compile(request: StepRequest) -> Result<Envelope, ErrorPayload> {
        let ir = compile(&request)?;
        let modules: usize = ir.packages.values().map(|p| p.modules.len()).sum();
        log::info(&format!(
            "read {} package(s) with {modules} module(s); {} dependency package(s)",
            ir.packages.len(),
            ir.dependencies.len()
        ));
        Ok(Envelope::new(
            morphir_ir::CONTENT_TYPE,
            morphir_ir::write_canonical(&ir),
        ))
    }
}

export! {
    name: "morphir-ir",
    description: "Reads Morphir IR JSON (formatVersion 1-3, v4 draft) into the canonical IR.",
    accepts: ["application/x-morphir-files"],
    produces: ["application/morphir-ir+json"],
    frontend: MorphirIr,
}

#[cfg(test)]
mod tests {
    use super::*;
    use morphir_ext_sdk::FileBundle;

    const SMALL: &str = r#"{"formatVersion":3,"distribution":["Library",[["a"]],[],{"modules":[[[["m"]],{"access":"Public","value":{"types":[],"values":[]}}]]}]}"#;

    fn run(files: &[(&str, &str)]) -> Result<Envelope, ErrorPayload> {
        let mut bundle = FileBundle::new();
        for (p, c) in files {
            bundle.push(*p, *c);
        }
        MorphirIr::frontend_compile(StepRequest::new(Envelope::files(&bundle)))
    }

    #[test]
    fn bad_ir_names_the_file_and_the_json_path() {
        let err = run(&[("ir/bad.json", &SMALL.replace("\"Library\"", "\"Libary\""))]).unwrap_err();
        assert!(err.message.starts_with("ir/bad.json: "), "{err}");
        assert_eq!(err.path.as_deref(), Some("$.distribution[0]"));
        assert_eq!(err.code.as_deref(), Some("invalid-ir"));
    }

    #[test]
    fn a_package_in_two_files_is_refused() {
        let err = run(&[("a.json", SMALL), ("b.json", SMALL)]).unwrap_err();
        assert!(err.message.contains("both a.json and b.json"), "{err}");
    }

    #[test]
    fn upstream_ir_becomes_dependencies() {
        let core = run(&[("core.json", SMALL)]).unwrap();
        let app = SMALL.replace("[[\"a\"]]", "[[\"b\"]]");
        let mut bundle = FileBundle::new();
        bundle.push("app.json", app);
        let out = MorphirIr::frontend_compile(
            StepRequest::new(Envelope::files(&bundle)).with_dependency("core", core),
        )
        .unwrap();
        let ir = morphir_ir::read(&out.content).unwrap();
        assert_eq!(ir.packages.len(), 1);
        assert!(
            ir.dependencies
                .contains_key(&morphir_ir::Path::parse("a").unwrap())
        );
    }
}
