//! Audits what every built guest imports: nothing from Extism (or any engine), only from our own
//! host module.

use morphir_envelope::abi::HOST_MODULE;
use wasmparser::{Parser, Payload, TypeRef};

use crate::support::dist;

fn imports(bytes: &[u8]) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        if let Payload::ImportSection(reader) = payload.unwrap() {
            for group in reader {
                for import in group.unwrap() {
                    let (_, import) = import.unwrap();
                    out.push((
                        import.module.to_owned(),
                        import.name.to_owned(),
                        matches!(import.ty, TypeRef::Func(_)),
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn no_built_guest_imports_from_the_engine() {
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(dist()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("wasm") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        if bytes.get(4..8) != Some(&[1, 0, 0, 0][..]) {
            // A component: it imports WIT interfaces, checked by the component tests.
            continue;
        }
        for (module, name, is_func) in imports(&bytes) {
            assert!(
                !module.starts_with("extism") && !module.starts_with("wasi"),
                "{} imports {module}::{name}",
                path.display()
            );
            assert_eq!(
                module,
                HOST_MODULE,
                "{} imports {module}::{name}",
                path.display()
            );
            assert!(is_func, "{} imports a non-function {name}", path.display());
        }
        checked.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    checked.sort();
    // Every guest in extensions/Cargo.toml was built and checked: a test that finds none fails.
    assert_eq!(
        checked,
        [
            "docs-frontend.wasm",
            "echo.wasm",
            "html-backend.wasm",
            "ir-eval.wasm",
            "json-schema.wasm",
            "keep-modules.wasm",
            "morphir-ir-frontend.wasm",
            "strip-docs.wasm",
            "title-case.wasm",
            "typescript.wasm"
        ]
    );
}

#[test]
fn a_guest_that_logs_imports_log_from_our_module() {
    let bytes = std::fs::read(dist().join("docs-frontend.wasm")).unwrap();
    let found = imports(&bytes);
    assert!(
        found
            .iter()
            .any(|(m, n, f)| m == HOST_MODULE && n == "log" && *f),
        "docs-frontend imports {found:?}"
    );
}
