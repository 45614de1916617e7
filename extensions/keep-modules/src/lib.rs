//! Transform `keep-modules`: keeps only the modules, or the types, that the config names.
//!
//! Config: `{ "modules": [...], "types": [...] }`, at least one of the two.
//!
//! - A module is named the Elm way (`Morphir.Example.App.Rentals`: package and module path in
//!   title case, joined by `.`) or canonically (`morphir/example/app:rentals`). A named module is
//!   kept whole, values included.
//! - A type is named the same two ways (`Morphir.Example.App.Rentals.Reservation`,
//!   `morphir/example/app:rentals#reservation`). A named type is kept with every type it refers
//!   to, directly or not, so the result has no dangling type references; the modules these types
//!   live in keep those types only (no values).
//! - Only the task's own packages are filtered; dependency packages stay, so references into them
//!   still resolve. Packages left without modules stay as empty packages.
//!
//! A name that matches nothing is an error that lists the names that exist.

use std::collections::{BTreeMap, BTreeSet};

use morphir_ext_sdk::{Envelope, ErrorPayload, StepRequest, Transform, export, log};
use morphir_ir::{FQName, Ir, ModuleName};
use serde_json::Value;

struct KeepModules;

fn names_in(config: &Value, key: &str) -> Result<Option<Vec<String>>, ErrorPayload> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    ErrorPayload::new(format!("`{key}` entries are strings, found {v}"))
                        .with_path(format!("$.{key}[{i}]"))
                        .with_code("invalid-config")
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(
            ErrorPayload::new(format!("`{key}` is a list of names, found {other}"))
                .with_path(format!("$.{key}"))
                .with_code("invalid-config"),
        ),
    }
}

/// Finds `wanted` among `known`, each known by its two spellings.
fn resolve<T: Clone + Ord>(
    wanted: &[String],
    known: &BTreeMap<T, (String, String)>,
    what: &str,
    key: &str,
) -> Result<BTreeSet<T>, ErrorPayload> {
    let mut out = BTreeSet::new();
    for (i, name) in wanted.iter().enumerate() {
        let found = known
            .iter()
            .find(|(_, (elm, canonical))| elm == name || canonical == name);
        let Some((k, _)) = found else {
            let mut list: Vec<&str> = known.values().map(|(elm, _)| elm.as_str()).collect();
            list.sort_unstable();
            return Err(ErrorPayload::new(format!(
                "unknown {what} `{name}`; the IR has: {}",
                if list.is_empty() {
                    "none".to_owned()
                } else {
                    list.join(", ")
                }
            ))
            .with_path(format!("$.{key}[{i}]"))
            .with_code("unknown-name"));
        };
        out.insert(k.clone());
    }
    Ok(out)
}

fn keep(ir: &mut Ir, config: &Value) -> Result<String, ErrorPayload> {
    let modules = names_in(config, "modules")?;
    let types = names_in(config, "types")?;
    if modules.is_none() && types.is_none() {
        return Err(ErrorPayload::new(
            "keep-modules needs `modules` or `types` in its config, e.g. config = { modules = [\"My.Package.Module\"] }",
        )
        .with_code("invalid-config"));
    }
    let known_modules: BTreeMap<ModuleName, (String, String)> = ir
        .defined_modules()
        .map(|(n, _)| {
            let spellings = (n.to_dotted_title_case(), n.to_string());
            (n, spellings)
        })
        .collect();
    let whole = resolve(
        modules.as_deref().unwrap_or_default(),
        &known_modules,
        "module",
        "modules",
    )?;
    let mut kept_types: BTreeSet<FQName> = BTreeSet::new();
    if let Some(types) = &types {
        let known_types: BTreeMap<FQName, (String, String)> = ir
            .defined_modules()
            .flat_map(|(m, module)| {
                module
                    .types
                    .keys()
                    .map(|t| FQName::new(m.package.clone(), m.module.clone(), t.clone()))
                    .collect::<Vec<_>>()
            })
            .map(|fq| {
                let spellings = (fq.to_dotted_title_case(), fq.to_string());
                (fq, spellings)
            })
            .collect();
        let roots = resolve(types, &known_types, "type", "types")?;
        kept_types = ir.type_closure(roots);
    }
    let before: usize = known_modules.len();
    for (package_name, package) in &mut ir.packages {
        package.modules.retain(|module_name, module| {
            let name = ModuleName {
                package: package_name.clone(),
                module: module_name.clone(),
            };
            if whole.contains(&name) {
                return true;
            }
            module.values.clear();
            module.types.retain(|t, _| {
                kept_types.contains(&FQName::new(
                    package_name.clone(),
                    module_name.clone(),
                    t.clone(),
                ))
            });
            !module.types.is_empty()
        });
    }
    let after: usize = ir.packages.values().map(|p| p.modules.len()).sum();
    Ok(format!(
        "kept {after} of {before} module(s) ({} named whole, {} type(s) by name and reference)",
        whole.len(),
        kept_types.len()
    ))
}

impl Transform for KeepModules {
    fn transform(request: StepRequest) -> Result<Envelope, ErrorPayload> {
        let mut ir = morphir_ir::read(&request.input.content).map_err(|e| {
            ErrorPayload::new(format!("the input is not Morphir IR: {}", e.message))
                .with_path(e.path)
                .with_code("invalid-ir")
        })?;
        let summary = keep(&mut ir, &request.config)?;
        log::info(&summary);
        Ok(Envelope::new(
            morphir_ir::CONTENT_TYPE,
            morphir_ir::write_canonical(&ir),
        ))
    }
}

export! {
    name: "keep-modules",
    description: "Keeps only the modules (or types) named in its config.",
    accepts: ["application/morphir-ir+json"],
    produces: ["application/morphir-ir+json"],
    transform: KeepModules,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const IR: &str = r#"{"formatVersion":3,"distribution":["Library",[["my"],["app"]],[],{"modules":[
      [[["a"]],{"access":"Public","value":{"types":[
        [["x"],{"access":"Public","value":{"doc":"","value":["TypeAliasDefinition",[],["Reference",{},[[["my"],["app"]],[["b"]],["y"]],[]]]}}],
        [["unused"],{"access":"Public","value":{"doc":"","value":["TypeAliasDefinition",[],["Unit",{}]]}}]],"values":[]}}],
      [[["b"]],{"access":"Public","value":{"types":[
        [["y"],{"access":"Public","value":{"doc":"","value":["TypeAliasDefinition",[],["Unit",{}]]}}],
        [["z"],{"access":"Public","value":{"doc":"","value":["TypeAliasDefinition",[],["Unit",{}]]}}]],"values":[]}}],
      [[["c"]],{"access":"Public","value":{"types":[],"values":[]}}]]}]}"#;

    fn run(config: &Value) -> Result<Ir, ErrorPayload> {
        let mut ir = morphir_ir::read(IR.as_bytes()).unwrap();
        keep(&mut ir, config)?;
        Ok(ir)
    }

    fn modules(ir: &Ir) -> Vec<String> {
        ir.defined_modules()
            .map(|(n, m)| {
                let types: Vec<String> = m.types.keys().map(ToString::to_string).collect();
                format!("{n}[{}]", types.join(","))
            })
            .collect()
    }

    #[test]
    fn named_modules_are_kept_whole_in_either_spelling() {
        let ir = run(&json!({"modules": ["My.App.A", "my/app:c"]})).unwrap();
        assert_eq!(modules(&ir), ["my/app:a[unused,x]", "my/app:c[]"]);
    }

    #[test]
    fn named_types_are_kept_with_what_they_refer_to() {
        let ir = run(&json!({"types": ["My.App.A.X"]})).unwrap();
        assert_eq!(modules(&ir), ["my/app:a[x]", "my/app:b[y]"]);
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let err = run(&json!({"modules": ["My.App.A", "My.App.Nope"]})).unwrap_err();
        assert_eq!(
            err.message,
            "unknown module `My.App.Nope`; the IR has: My.App.A, My.App.B, My.App.C"
        );
        assert_eq!(err.path.as_deref(), Some("$.modules[1]"));
        assert!(run(&json!({})).is_err());
        assert!(run(&json!({"modules": "My.App.A"})).is_err());
    }
}
