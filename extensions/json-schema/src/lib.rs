//! Backend `json-schema`: one JSON Schema (draft 2020-12) per module, describing the JSON form of
//! the module's types (morphir-elm's JSON data mapping):
//!
//! | Morphir | JSON | schema |
//! |---|---|---|
//! | `Int`, `Float`, `Bool`, `String` | number, boolean, string | `integer`, `number`, `boolean`, `string` |
//! | `Char` | a one-character string | `string`, length 1 |
//! | `Decimal` | its decimal text, `"12.50"` | `string` with a pattern |
//! | `LocalDate`, `LocalTime` | ISO text, `"2024-01-31"`, `"13:45:00"` | `string` with a pattern (and `format: date`) |
//! | `Month`, `DayOfWeek`, `Order` | the constructor's name, `"January"` | `enum` |
//! | `Maybe a` | `null` or the value | `anyOf` null and `a` |
//! | `List a`, `Set a` | an array | `items`; `uniqueItems` for sets |
//! | `Dict k v` | an array of `[key, value]` pairs | `items` of 2-tuples |
//! | `Result e a` | `["Ok", a]` or `["Err", e]` | `oneOf` two tagged tuples |
//! | tuple | an array | `prefixItems`, fixed length |
//! | record | an object, fields in camelCase, all required | `properties`, `required`, no others |
//! | extensible record `{ r \| .. }` | an object with at least these fields | `additionalProperties` allowed |
//! | custom type | `"Ctor"` when it has no arguments, else `["Ctor", arg1, ...]` | `oneOf` per constructor |
//! | unit | `{}` | an empty object |
//! | reference | | `$ref` to `#/$defs/Name` or `Other.Module.schema.json#/$defs/Name` |
//!
//! What a schema cannot say: a generic definition (`Page a`) accepts any value for `a` in
//! `$defs`; a reference with arguments (`Page Order`) is expanded in place with the arguments
//! substituted, except inside a recursive generic type, where the parameter accepts anything.
//! Function types have no JSON form (`not: {}`); opaque types and references the IR cannot
//! resolve accept any value (with a description, and a warning in the build log); `Dict` key
//! uniqueness and `Int` bounds are not checked.
//!
//! Output (a file bundle): `schemas/<Package>.<Module>.schema.json`, for every module of the
//! task's packages and every dependency module their types refer to. Config: `base_uri`
//! (optional): when set, each schema gets `$id = base_uri + file name`; without it, references
//! between the files are relative to where they are read from.

use std::collections::{BTreeMap, BTreeSet};

use morphir_ext_sdk::{Backend, Envelope, ErrorPayload, FileBundle, StepRequest, export, log};
use morphir_ir::sdk::{DAYS, MONTHS, SdkType, sdk_type};
use morphir_ir::{FQName, Ir, ModuleName, Name, Type, TypeBody, TypeDecl};
use serde_json::{Map, Value, json};

struct JsonSchema;

/// How deep references with arguments are expanded in place.
const MAX_EXPANSION: usize = 8;

struct Gen<'a> {
    ir: &'a Ir,
    module: &'a ModuleName,
    files: &'a BTreeMap<ModuleName, String>,
    def_keys: &'a BTreeMap<FQName, String>,
    warnings: &'a mut BTreeSet<String>,
    expanding: Vec<FQName>,
}

type Env = BTreeMap<Name, Value>;

fn with(mut schema: Value, key: &str, value: Value) -> Value {
    if let Value::Object(map) = &mut schema {
        map.insert(key.to_owned(), value);
    }
    schema
}

fn tagged_tuple(tag: &str, args: Vec<Value>) -> Value {
    let n = args.len() + 1;
    let mut items = vec![json!({ "const": tag })];
    items.extend(args);
    json!({
        "type": "array",
        "prefixItems": items,
        "items": false,
        "minItems": n,
        "maxItems": n,
    })
}

fn one_of(mut alternatives: Vec<Value>) -> Value {
    match alternatives.len() {
        0 => {
            json!({ "not": {}, "description": "a custom type without constructors has no values" })
        }
        1 => alternatives.remove(0),
        _ => json!({ "oneOf": alternatives }),
    }
}

impl Gen<'_> {
    fn reference(&self, fq: &FQName) -> Value {
        // Every referenced module is generated (`Ir::modules_for_artifacts` follows type
        // references), so the fallbacks only keep a surprise from becoming a panic.
        let key = self
            .def_keys
            .get(fq)
            .cloned()
            .unwrap_or_else(|| fq.local.to_title_case());
        let target = fq.module_name();
        if &target == self.module {
            json!({ "$ref": format!("#/$defs/{key}") })
        } else {
            let file = self
                .files
                .get(&target)
                .cloned()
                .unwrap_or_else(|| format!("{}.schema.json", target.to_dotted_title_case()));
            json!({ "$ref": format!("{file}#/$defs/{key}") })
        }
    }

    fn schema(&mut self, t: &Type, env: &Env) -> Value {
        match t {
            Type::Variable(_, name) => env.get(name).cloned().unwrap_or_else(
                || json!({ "$comment": format!("type variable {name}: any value") }),
            ),
            Type::Reference(_, fq, args) => self.reference_schema(fq, args, env),
            Type::Tuple(_, elems) => {
                let n = elems.len();
                let items: Vec<Value> = elems.iter().map(|e| self.schema(e, env)).collect();
                json!({ "type": "array", "prefixItems": items, "items": false, "minItems": n, "maxItems": n })
            }
            Type::Record(_, fields) => self.record(fields, env, false),
            Type::ExtensibleRecord(_, _, fields) => self.record(fields, env, true),
            Type::Function(..) => json!({
                "not": {},
                "description": "a function type has no JSON representation"
            }),
            Type::Unit(_) => json!({ "type": "object", "maxProperties": 0 }),
        }
    }

    fn record(&mut self, fields: &[morphir_ir::Field], env: &Env, open: bool) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for f in fields {
            let key = f.name.to_camel_case();
            properties.insert(key.clone(), self.schema(&f.tpe, env));
            required.push(Value::String(key));
        }
        json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": open,
        })
    }

    fn reference_schema(&mut self, fq: &FQName, args: &[Type], env: &Env) -> Value {
        let arg =
            |g: &mut Self, i: usize| args.get(i).map_or_else(|| json!({}), |a| g.schema(a, env));
        if let Some(sdk) = sdk_type(fq) {
            return match sdk {
                SdkType::Bool => json!({ "type": "boolean" }),
                SdkType::Int => json!({ "type": "integer" }),
                SdkType::Float => json!({ "type": "number" }),
                SdkType::String => json!({ "type": "string" }),
                SdkType::Char => json!({ "type": "string", "minLength": 1, "maxLength": 1 }),
                SdkType::Decimal => json!({
                    "type": "string",
                    "pattern": "^-?[0-9]+(\\.[0-9]+)?$",
                    "description": "a decimal number as text"
                }),
                SdkType::LocalDate => json!({
                    "type": "string",
                    "format": "date",
                    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
                }),
                // Not `format: time`: that is RFC 3339's full-time, which requires a time-zone
                // offset, and a local time has none.
                SdkType::LocalTime => json!({
                    "type": "string",
                    "pattern": "^[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?$",
                    "description": "a local time, HH:MM or HH:MM:SS[.fff]"
                }),
                SdkType::Month => json!({ "enum": MONTHS }),
                SdkType::DayOfWeek => json!({ "enum": DAYS }),
                SdkType::Order => json!({ "enum": ["LT", "EQ", "GT"] }),
                SdkType::Maybe => json!({ "anyOf": [{ "type": "null" }, arg(self, 0)] }),
                SdkType::List => json!({ "type": "array", "items": arg(self, 0) }),
                SdkType::Set => {
                    json!({ "type": "array", "items": arg(self, 0), "uniqueItems": true })
                }
                SdkType::Dict => {
                    let pair = json!({
                        "type": "array",
                        "prefixItems": [arg(self, 0), arg(self, 1)],
                        "items": false,
                        "minItems": 2,
                        "maxItems": 2
                    });
                    json!({ "type": "array", "items": pair })
                }
                SdkType::Result => one_of(vec![
                    tagged_tuple("Err", vec![arg(self, 0)]),
                    tagged_tuple("Ok", vec![arg(self, 1)]),
                ]),
            };
        }
        let Some(decl) = self.ir.type_decl(fq) else {
            let what = if morphir_ir::sdk::is_sdk(fq) {
                format!(
                    "the SDK type {} has no JSON Schema mapping",
                    fq.to_dotted_title_case()
                )
            } else {
                format!("{} is not in the IR", fq.to_dotted_title_case())
            };
            self.warnings.insert(format!("{what}; any value accepted"));
            return json!({ "description": format!("{what}; any value accepted") });
        };
        if args.is_empty() || decl.params.is_empty() {
            return self.reference(fq);
        }
        if self.expanding.contains(fq) || self.expanding.len() >= MAX_EXPANSION {
            return with(
                self.reference(fq),
                "$comment",
                json!("recursive generic type: its parameters accept any value here"),
            );
        }
        let inner: Env = decl
            .params
            .iter()
            .zip(args)
            .map(|(p, a)| (p.clone(), self.schema(a, env)))
            .collect();
        self.expanding.push(fq.clone());
        let body = self.body(decl, &inner);
        self.expanding.pop();
        with(
            body,
            "$comment",
            json!(format!(
                "{} with its type arguments",
                fq.to_dotted_title_case()
            )),
        )
    }

    fn body(&mut self, decl: &TypeDecl, env: &Env) -> Value {
        match &decl.body {
            TypeBody::Alias(t) => self.schema(t, env),
            TypeBody::Custom { constructors, .. } => {
                let alternatives = constructors
                    .iter()
                    .map(|(name, args)| {
                        let tag = name.to_title_case();
                        if args.is_empty() {
                            json!({ "const": tag })
                        } else {
                            let args = args.iter().map(|(_, t)| self.schema(t, env)).collect();
                            tagged_tuple(&tag, args)
                        }
                    })
                    .collect();
                one_of(alternatives)
            }
            TypeBody::Opaque => json!({
                "description": "an opaque type: its structure is not in the IR; any value accepted"
            }),
            TypeBody::Derived { base, .. } => self.schema(base, env),
        }
    }
}

/// `$defs` keys: the title-case name, or the canonical name where two title-case names clash.
fn def_keys(ir: &Ir, modules: &BTreeSet<ModuleName>) -> BTreeMap<FQName, String> {
    let mut out = BTreeMap::new();
    for m in modules {
        let Some(module) = ir.module(m) else { continue };
        let mut used = BTreeSet::new();
        for name in module.types.keys() {
            let mut key = name.to_title_case();
            if !used.insert(key.clone()) {
                key = name.to_string();
                used.insert(key.clone());
            }
            out.insert(
                FQName::new(m.package.clone(), m.module.clone(), name.clone()),
                key,
            );
        }
    }
    out
}

fn generate(ir: &Ir, config: &Value) -> Result<(FileBundle, BTreeSet<String>), ErrorPayload> {
    let base_uri = match config.get("base_uri") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(ErrorPayload::new(format!(
                "`base_uri` is a string (a URI ending in `/`), found {other}"
            ))
            .with_path("$.base_uri")
            .with_code("invalid-config"));
        }
    };
    let modules = ir.modules_for_artifacts();
    let files: BTreeMap<ModuleName, String> = modules
        .iter()
        .map(|m| {
            (
                m.clone(),
                format!("{}.schema.json", m.to_dotted_title_case()),
            )
        })
        .collect();
    let keys = def_keys(ir, &modules);
    let mut warnings = BTreeSet::new();
    let mut bundle = FileBundle::new();
    let mut seen = BTreeSet::new();
    for m in &modules {
        let module = ir.module(m).expect("listed modules exist");
        let file = &files[m];
        if !seen.insert(file.to_ascii_lowercase()) {
            return Err(ErrorPayload::new(format!(
                "two modules would both be written to {file}; rename one of them"
            ))
            .with_code("name-clash"));
        }
        let mut g = Gen {
            ir,
            module: m,
            files: &files,
            def_keys: &keys,
            warnings: &mut warnings,
            expanding: Vec::new(),
        };
        let mut defs = Map::new();
        for (name, decl) in &module.types {
            let fq = FQName::new(m.package.clone(), m.module.clone(), name.clone());
            let env: Env = decl
                .params
                .iter()
                .map(|p| {
                    (
                        p.clone(),
                        json!({ "$comment": format!("type parameter {p}: any value") }),
                    )
                })
                .collect();
            let mut schema = with(g.body(decl, &env), "title", json!(name.to_title_case()));
            if let Some(doc) = &decl.doc {
                schema = with(schema, "description", json!(doc.trim()));
            }
            defs.insert(keys[&fq].clone(), schema);
        }
        let mut doc = Map::new();
        doc.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        if let Some(base) = &base_uri {
            doc.insert("$id".into(), json!(format!("{base}{file}")));
        }
        doc.insert("title".into(), json!(m.to_dotted_title_case()));
        if let Some(d) = &module.doc {
            doc.insert("description".into(), json!(d.trim()));
        }
        doc.insert(
            "$comment".into(),
            json!(format!(
                "Generated by the morphir json-schema backend from the Morphir module {m}. Each type is under $defs."
            )),
        );
        doc.insert("$defs".into(), Value::Object(defs));
        let mut text = serde_json::to_string_pretty(&Value::Object(doc))
            .map_err(|e| ErrorPayload::new(e.to_string()))?;
        text.push('\n');
        bundle.push(format!("schemas/{file}"), text);
    }
    Ok((bundle, warnings))
}

impl Backend for JsonSchema {
    fn backend_generate(request: StepRequest) -> Result<Envelope, ErrorPayload> {
        let ir = morphir_ir::read(&request.input.content).map_err(|e| {
            ErrorPayload::new(format!("the input is not Morphir IR: {}", e.message))
                .with_path(e.path)
                .with_code("invalid-ir")
        })?;
        let (bundle, warnings) = generate(&ir, &request.config)?;
        for w in &warnings {
            log::warn(w);
        }
        log::info(&format!("wrote {} schema(s)", bundle.files.len()));
        Ok(Envelope::files(&bundle))
    }
}

export! {
    name: "json-schema",
    description: "Writes a JSON Schema (2020-12) per Morphir module.",
    accepts: ["application/morphir-ir+json"],
    produces: ["application/x-morphir-files"],
    backend: JsonSchema,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generic_reference_is_expanded_with_its_arguments() {
        let ir = morphir_ir::read(
            br#"{"formatVersion":3,"distribution":["Library",[["p"]],[],{"modules":[[[["m"]],{"access":"Public","value":{"types":[
            [["box"],{"access":"Public","value":{"doc":"","value":["TypeAliasDefinition",[["a"]],["Record",{},[{"name":["item"],"tpe":["Variable",{},["a"]]}]]]}}],
            [["int","box"],{"access":"Public","value":{"doc":"An int box.","value":["TypeAliasDefinition",[],["Reference",{},[[["p"]],[["m"]],["box"]],[["Reference",{},[[["morphir"],["s","d","k"]],[["basics"]],["int"]],[]]]]]}}]
            ],"values":[]}}]]}]}"#,
        )
        .unwrap();
        let (bundle, warnings) = generate(&ir, &json!({})).unwrap();
        assert!(warnings.is_empty());
        let file = bundle.get("schemas/P.M.schema.json").unwrap();
        let doc: Value = serde_json::from_slice(&file.content).unwrap();
        let int_box = &doc["$defs"]["IntBox"];
        assert_eq!(int_box["properties"]["item"], json!({"type": "integer"}));
        assert_eq!(int_box["description"], "An int box.");
        assert_eq!(
            doc["$defs"]["Box"]["properties"]["item"]["$comment"],
            "type parameter a: any value"
        );
    }
}
