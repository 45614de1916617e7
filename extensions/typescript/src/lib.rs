//! Backend `typescript`: TypeScript type definitions for the JSON form of each module's types,
//! the same JSON that the `json-schema` backend describes, so one instance satisfies both:
//!
//! | Morphir | TypeScript |
//! |---|---|
//! | `Int`, `Float` | `number` |
//! | `String`, `Char`, `Decimal`, `LocalDate`, `LocalTime` | `string` |
//! | `Bool` | `boolean` |
//! | `Month`, `DayOfWeek`, `Order` | a union of string literals (`"January" \| ...`) |
//! | `Maybe a` | `A \| null` |
//! | `List a`, `Set a` | `A[]` |
//! | `Dict k v` | `[K, V][]` |
//! | `Result e a` | `["Ok", A] \| ["Err", E]` |
//! | tuple | `[A, B]` |
//! | record | `{ fieldName: T; ... }` (camelCase fields) |
//! | extensible record `{ r \| .. }` | `R & { ... }` (`r` a parameter), else `{ ...; [key: string]: unknown }` |
//! | custom type | `"Ctor" \| ["Ctor", A, B]` |
//! | unit | `{ [key: string]: never }` |
//! | function | `(arg: A) => B` |
//! | type parameters | generic type aliases: `export type Page<A> = ...` |
//! | opaque type, unresolved reference | `unknown` |
//!
//! Output: `<Package path>/<Module path>.ts` in title case (`My/Shop/Orders.ts`), one per module
//! of the task's packages and per dependency module their types refer to. Other modules are
//! imported as namespaces (`import type * as $My_Shop_Money from "./Money";`), so type names
//! never clash. The files hold types only: they compile with `tsc --noEmit --strict`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use morphir_ext_sdk::{Backend, Envelope, ErrorPayload, FileBundle, StepRequest, export, log};
use morphir_ir::sdk::{DAYS, MONTHS, SdkType, sdk_type};
use morphir_ir::{FQName, Ir, ModuleName, Name, Type, TypeBody};

struct TypeScript;

/// Binding strength of a type expression, for parentheses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    /// `A | B`, `(a: A) => B`, `A & B`: parenthesised inside `[]` and `&`.
    Loose,
    /// Everything else.
    Tight,
}

struct Ts {
    text: String,
    prec: Prec,
}

fn tight(text: impl Into<String>) -> Ts {
    Ts {
        text: text.into(),
        prec: Prec::Tight,
    }
}

fn loose(text: impl Into<String>) -> Ts {
    Ts {
        text: text.into(),
        prec: Prec::Loose,
    }
}

impl Ts {
    fn tight(self) -> String {
        match self.prec {
            Prec::Tight => self.text,
            Prec::Loose => format!("({})", self.text),
        }
    }
}

fn string_literal(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

fn literal_union(names: &[&str]) -> Ts {
    loose(
        names
            .iter()
            .map(|n| string_literal(n))
            .collect::<Vec<_>>()
            .join(" | "),
    )
}

/// A type name as a TypeScript identifier (title case; `_` first if it starts with a digit).
fn type_ident(name: &Name) -> String {
    let t = name.to_title_case();
    if t.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{t}")
    } else {
        t
    }
}

/// A property name: camelCase, quoted when it is not an identifier.
fn property(name: &Name) -> String {
    let c = name.to_camel_case();
    if c.starts_with(|ch: char| ch.is_ascii_digit()) {
        string_literal(&c)
    } else {
        c
    }
}

/// The file of a module: its package and module path in title case.
fn file_of(m: &ModuleName) -> String {
    let parts: Vec<String> = m
        .package
        .names()
        .iter()
        .chain(m.module.names())
        .map(Name::to_title_case)
        .collect();
    format!("{}.ts", parts.join("/"))
}

/// The import alias of a module.
fn alias_of(m: &ModuleName) -> String {
    format!("${}", m.to_dotted_title_case().replace('.', "_"))
}

/// The relative import specifier from `from` (a file) to `to` (a file), without `.ts`.
fn relative(from: &str, to: &str) -> String {
    let from_dir: Vec<&str> =
        from.split('/').collect::<Vec<_>>()[..from.split('/').count() - 1].to_vec();
    let to_parts: Vec<&str> = to.trim_end_matches(".ts").split('/').collect();
    let common = from_dir
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = String::new();
    if from_dir.len() == common {
        out.push_str("./");
    } else {
        for _ in common..from_dir.len() {
            out.push_str("../");
        }
    }
    out.push_str(&to_parts[common..].join("/"));
    out
}

struct Gen<'a> {
    ir: &'a Ir,
    module: &'a ModuleName,
    imports: BTreeSet<ModuleName>,
    warnings: &'a mut BTreeSet<String>,
}

impl Gen<'_> {
    fn ty(&mut self, t: &Type, params: &[Name]) -> Ts {
        match t {
            Type::Variable(_, n) => {
                if params.contains(n) {
                    tight(type_ident(n))
                } else {
                    tight("unknown")
                }
            }
            Type::Reference(_, fq, args) => self.reference(fq, args, params),
            Type::Tuple(_, elems) => {
                let items: Vec<String> = elems.iter().map(|e| self.ty(e, params).text).collect();
                tight(format!("[{}]", items.join(", ")))
            }
            Type::Record(_, fields) => tight(self.record(fields, params, None)),
            Type::ExtensibleRecord(_, var, fields) => {
                if params.contains(var) {
                    loose(format!(
                        "{} & {}",
                        type_ident(var),
                        self.record(fields, params, None)
                    ))
                } else {
                    tight(self.record(fields, params, Some("[key: string]: unknown")))
                }
            }
            Type::Function(_, a, b) => {
                let a = self.ty(a, params).text;
                let b = self.ty(b, params).text;
                loose(format!("(arg: {a}) => {b}"))
            }
            Type::Unit(_) => tight("{ [key: string]: never }"),
        }
    }

    fn record(
        &mut self,
        fields: &[morphir_ir::Field],
        params: &[Name],
        extra: Option<&str>,
    ) -> String {
        let mut parts: Vec<String> = fields
            .iter()
            .map(|f| format!("{}: {}", property(&f.name), self.ty(&f.tpe, params).text))
            .collect();
        parts.extend(extra.map(str::to_owned));
        if parts.is_empty() {
            "{}".to_owned()
        } else {
            format!("{{ {} }}", parts.join("; "))
        }
    }

    fn reference(&mut self, fq: &FQName, args: &[Type], params: &[Name]) -> Ts {
        let arg = |g: &mut Self, i: usize| {
            args.get(i)
                .map_or_else(|| tight("unknown"), |a| g.ty(a, params))
        };
        if let Some(sdk) = sdk_type(fq) {
            return match sdk {
                SdkType::Bool => tight("boolean"),
                SdkType::Int | SdkType::Float => tight("number"),
                SdkType::String
                | SdkType::Char
                | SdkType::Decimal
                | SdkType::LocalDate
                | SdkType::LocalTime => tight("string"),
                SdkType::Month => literal_union(&MONTHS),
                SdkType::DayOfWeek => literal_union(&DAYS),
                SdkType::Order => literal_union(&["LT", "EQ", "GT"]),
                SdkType::Maybe => loose(format!("{} | null", arg(self, 0).text)),
                SdkType::List | SdkType::Set => tight(format!("{}[]", arg(self, 0).tight())),
                SdkType::Dict => {
                    let k = arg(self, 0).text;
                    let v = arg(self, 1).text;
                    tight(format!("[{k}, {v}][]"))
                }
                SdkType::Result => {
                    let e = arg(self, 0).text;
                    let a = arg(self, 1).text;
                    loose(format!("[\"Ok\", {a}] | [\"Err\", {e}]"))
                }
            };
        }
        let Some(decl) = self.ir.type_decl(fq) else {
            let what = if morphir_ir::sdk::is_sdk(fq) {
                format!(
                    "the SDK type {} has no TypeScript mapping",
                    fq.to_dotted_title_case()
                )
            } else {
                format!("{} is not in the IR", fq.to_dotted_title_case())
            };
            self.warnings.insert(format!("{what}; typed as unknown"));
            return tight("unknown");
        };
        let target = fq.module_name();
        let mut name = type_ident(&fq.local);
        if &target != self.module {
            name = format!("{}.{name}", alias_of(&target));
            self.imports.insert(target);
        }
        if decl.params.is_empty() {
            return tight(name);
        }
        let args: Vec<String> = (0..decl.params.len()).map(|i| arg(self, i).text).collect();
        tight(format!("{name}<{}>", args.join(", ")))
    }

    fn declaration(&mut self, name: &Name, decl: &morphir_ir::TypeDecl) -> String {
        let params = &decl.params;
        let body = match &decl.body {
            // A record alias is written one field per line.
            TypeBody::Alias(Type::Record(_, fields)) if !fields.is_empty() => {
                let mut block = String::from("{\n");
                for f in fields {
                    let _ = writeln!(
                        block,
                        "    {}: {};",
                        property(&f.name),
                        self.ty(&f.tpe, params).text
                    );
                }
                block.push_str("  }");
                block
            }
            TypeBody::Alias(t) => self.ty(t, params).text,
            TypeBody::Custom { constructors, .. } => {
                let alternatives: Vec<String> = constructors
                    .iter()
                    .map(|(ctor, args)| {
                        let tag = string_literal(&ctor.to_title_case());
                        if args.is_empty() {
                            tag
                        } else {
                            let mut items = vec![tag];
                            items.extend(args.iter().map(|(_, t)| self.ty(t, params).text));
                            format!("[{}]", items.join(", "))
                        }
                    })
                    .collect();
                if alternatives.is_empty() {
                    "never".to_owned()
                } else {
                    alternatives.join("\n  | ")
                }
            }
            TypeBody::Opaque => "unknown".to_owned(),
            TypeBody::Derived { base, .. } => self.ty(base, params).text,
        };
        let mut out = String::new();
        if let Some(doc) = &decl.doc {
            out.push_str(&doc_comment(doc, ""));
        }
        let generics = if params.is_empty() {
            String::new()
        } else {
            format!(
                "<{}>",
                params.iter().map(type_ident).collect::<Vec<_>>().join(", ")
            )
        };
        let _ = writeln!(
            out,
            "export type {}{generics} =\n  {body};",
            type_ident(name)
        );
        out
    }
}

fn doc_comment(doc: &str, indent: &str) -> String {
    let mut out = format!("{indent}/**\n");
    for line in doc.trim().lines() {
        let _ = writeln!(out, "{indent} * {}", line.replace("*/", "*\\/").trim_end());
    }
    let _ = writeln!(out, "{indent} */");
    out
}

fn generate(ir: &Ir) -> Result<(FileBundle, BTreeSet<String>), ErrorPayload> {
    let modules = ir.modules_for_artifacts();
    let mut bundle = FileBundle::new();
    let mut warnings = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for m in &modules {
        let module = ir.module(m).expect("listed modules exist");
        let file = file_of(m);
        if !seen.insert(file.to_ascii_lowercase()) {
            return Err(ErrorPayload::new(format!(
                "two modules would both be written to {file}; rename one of them"
            ))
            .with_code("name-clash"));
        }
        let mut g = Gen {
            ir,
            module: m,
            imports: BTreeSet::new(),
            warnings: &mut warnings,
        };
        let mut decls = String::new();
        let mut names = BTreeSet::new();
        for (name, decl) in &module.types {
            if !names.insert(type_ident(name)) {
                return Err(ErrorPayload::new(format!(
                    "two types of module {} are both named {} in TypeScript",
                    m.to_dotted_title_case(),
                    type_ident(name)
                ))
                .with_code("name-clash"));
            }
            decls.push('\n');
            decls.push_str(&g.declaration(name, decl));
        }
        let mut text = format!(
            "// Generated by the morphir typescript backend from the Morphir module {m}.\n// Do not edit: edit the model and build again.\n"
        );
        if let Some(doc) = &module.doc {
            text.push('\n');
            text.push_str(&doc_comment(doc, ""));
        }
        if !g.imports.is_empty() {
            text.push('\n');
        }
        for import in &g.imports {
            let _ = writeln!(
                text,
                "import type * as {} from \"{}\";",
                alias_of(import),
                relative(&file, &file_of(import))
            );
        }
        text.push_str(&decls);
        if module.types.is_empty() {
            text.push_str("\nexport {};\n");
        }
        bundle.push(file, text);
    }
    Ok((bundle, warnings))
}

impl Backend for TypeScript {
    fn backend_generate(request: StepRequest) -> Result<Envelope, ErrorPayload> {
        let ir = morphir_ir::read(&request.input.content).map_err(|e| {
            ErrorPayload::new(format!("the input is not Morphir IR: {}", e.message))
                .with_path(e.path)
                .with_code("invalid-ir")
        })?;
        let (bundle, warnings) = generate(&ir)?;
        for w in &warnings {
            log::warn(w);
        }
        log::info(&format!("wrote {} TypeScript file(s)", bundle.files.len()));
        Ok(Envelope::files(&bundle))
    }
}

export! {
    name: "typescript",
    description: "Writes TypeScript type definitions per Morphir module.",
    accepts: ["application/morphir-ir+json"],
    produces: ["application/x-morphir-files"],
    backend: TypeScript,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_imports() {
        assert_eq!(relative("My/Shop/Orders.ts", "My/Shop/Money.ts"), "./Money");
        assert_eq!(
            relative("My/App/Main.ts", "My/Shop/Money.ts"),
            "../Shop/Money"
        );
        assert_eq!(relative("A.ts", "B/C.ts"), "./B/C");
        assert_eq!(relative("B/C/D.ts", "A.ts"), "../../A");
    }

    #[test]
    fn a_module_becomes_type_aliases() {
        let ir = morphir_ir::read(
            br#"{"formatVersion":3,"distribution":["Library",[["p"]],[],{"modules":[[[["m"]],{"access":"Public","value":{"types":[
            [["box"],{"access":"Public","value":{"doc":"A box.","value":["TypeAliasDefinition",[["a"]],["Record",{},[{"name":["the","item"],"tpe":["Reference",{},[[["morphir"],["s","d","k"]],[["maybe"]],["maybe"]],[["Variable",{},["a"]]]]}]]]}}],
            [["shape"],{"access":"Public","value":{"doc":"","value":["CustomTypeDefinition",[],{"access":"Public","value":[[["dot"],[]],[["line"],[[["len"],["Reference",{},[[["morphir"],["s","d","k"]],[["basics"]],["float"]],[]]]]]]}]}}]
            ],"values":[]}}]]}]}"#,
        )
        .unwrap();
        let (bundle, _) = generate(&ir).unwrap();
        let text = String::from_utf8(bundle.get("P/M.ts").unwrap().content.clone()).unwrap();
        assert!(
            text.contains(
                "/**\n * A box.\n */\nexport type Box<A> =\n  {\n    theItem: A | null;\n  };"
            ),
            "{text}"
        );
        assert!(
            text.contains("export type Shape =\n  \"Dot\"\n  | [\"Line\", number];"),
            "{text}"
        );
    }
}
