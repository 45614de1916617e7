//! The reader of morphir-elm's JSON, `formatVersion` 1, 2 and 3.
//!
//! The versions differ in spelling, not in structure:
//!
//! | | v1 | v2 | v3 |
//! |---|---|---|---|
//! | tags | `snake_case` (`type_alias_definition`, `reference`, `if_then_else`) | types, type definitions and literals `TitleCase`; values and patterns `snake_case` | `TitleCase` |
//! | access control | `["public", x]` | `{"access": "Public", "value": x}` | same as v2 |
//! | module entry | `{"name": path, "def": ac}` | `[path, ac]` | same as v2 |
//! | record type field | `[name, type]` | `{"name", "tpe"}` | same as v2 |
//! | documentation | none | on types | on types, values and modules |
//!
//! The reader accepts every spelling in every version (a tag matches whatever its case and
//! underscores), so hand-edited or mixed files read too; what it refuses is a wrong shape or a
//! tag it does not know, with the JSON path of the offending node.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::json::Node;
use crate::model::{
    Access, Field, Input, Ir, Literal, Module, Package, Pattern, Type, TypeAttrs, TypeBody,
    TypeDecl, Value, ValueAttrs, ValueDecl, ValueDef,
};
use crate::name::{Name, Path};

/// Reads a classic distribution document (`{"formatVersion": 1|2|3, "distribution": [...]}`).
pub(crate) fn read(root: &Node<'_, '_>) -> Result<Ir> {
    let dist = root.key("distribution")?;
    let parts = dist.items()?;
    let Some(tag) = parts.first() else {
        return Err(dist.error("expected a distribution [\"Library\", package, dependencies, definition], found an empty array"));
    };
    let tag_text = tag.str()?;
    if norm(tag_text) != "library" {
        return Err(tag.error(format!(
            "unknown distribution kind \"{tag_text}\"; expected \"Library\""
        )));
    }
    let parts = dist.tuple(
        4,
        "a distribution [\"Library\", package, dependencies, definition]",
    )?;
    let package_name = parts[1].path_value()?;
    let mut ir = Ir::default();
    for dep in parts[2].items()? {
        let pair = dep.tuple(2, "a dependency [package, specification]")?;
        let name = pair[0].path_value()?;
        let spec = package_spec(&pair[1])?;
        ir.dependencies.insert(name, spec);
    }
    ir.packages.insert(package_name, package_def(&parts[3])?);
    Ok(ir)
}

/// A tag in normal form: lower case, no underscores (`IfThenElse`, `if_then_else` → `ifthenelse`).
fn norm(tag: &str) -> String {
    tag.chars()
        .filter(|&c| c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The tag (first element) of a tagged array, normalised, and the elements.
fn tagged<'v, 'q>(node: &'q Node<'v, '_>, what: &str) -> Result<(String, Vec<Node<'v, 'q>>)> {
    let items = node.items().map_err(|_| node.expected(what))?;
    let tag = items
        .first()
        .and_then(|t| t.v.as_str())
        .ok_or_else(|| node.expected(&format!("{what} (an array starting with a tag)")))?;
    Ok((norm(tag), items))
}

fn arity(node: &Node<'_, '_>, items: &[Node<'_, '_>], n: usize, tag: &str) -> Result<()> {
    if items.len() == n {
        Ok(())
    } else {
        Err(node.error(format!(
            "`{tag}` takes {} elements after the tag, found {}",
            n - 1,
            items.len().saturating_sub(1)
        )))
    }
}

fn unknown_tag(node: &Node<'_, '_>, what: &str, known: &[&str]) -> crate::Error {
    let tag = node
        .v
        .as_array()
        .and_then(|a| a.first())
        .and_then(|t| t.as_str())
        .unwrap_or_default();
    node.error(format!(
        "unknown {what} tag \"{tag}\"; expected one of {}",
        known.join(", ")
    ))
}

/// Access control: `{"access": "Public", "value": x}` or `["public", x]`.
fn access_controlled<'v, 'q>(node: &'q Node<'v, '_>) -> Result<(Access, Node<'v, 'q>)> {
    let (access_node, value) = if node.v.is_object() {
        (node.key("access")?, node.key("value")?)
    } else if node.v.is_array() {
        let items = node.tuple(2, "access-controlled [access, value]")?;
        let mut it = items.into_iter();
        let a = it.next().expect("2 items");
        let v = it.next().expect("2 items");
        (a, v)
    } else {
        return Err(node.expected("an access-controlled value"));
    };
    let access = match norm(access_node.str()?).as_str() {
        "public" => Access::Public,
        "private" => Access::Private,
        other => {
            return Err(access_node.error(format!(
                "unknown access \"{other}\"; expected \"Public\" or \"Private\""
            )));
        }
    };
    Ok((access, value))
}

/// Documentation: `{"doc": "...", "value": x}`, or `x` alone. An empty doc is no doc.
fn documented<'v, 'q>(node: &'q Node<'v, '_>) -> Result<(Option<String>, Node<'v, 'q>)> {
    if let Some(obj) = node.v.as_object()
        && obj.contains_key("value")
        && obj.contains_key("doc")
        && obj.len() == 2
    {
        let doc = node.key("doc")?;
        let text = if doc.v.is_null() {
            None
        } else {
            Some(doc.str()?.to_owned())
        };
        return Ok((text.filter(|d| !d.is_empty()), node.key("value")?));
    }
    Ok((None, *node))
}

fn module_doc(node: &Node<'_, '_>) -> Result<Option<String>> {
    match node.opt_key("doc") {
        Some(doc) => Ok(Some(doc.str()?.to_owned()).filter(|d| !d.is_empty())),
        None => Ok(None),
    }
}

fn package_def(node: &Node<'_, '_>) -> Result<Package> {
    let mut package = Package::default();
    let modules = node.key("modules")?;
    for entry in modules.items()? {
        let (path, def) = if entry.v.is_object() {
            (entry.key("name")?.path_value()?, entry.key("def")?)
        } else {
            let pair = entry.tuple(2, "a module [path, definition]")?;
            let mut it = pair.into_iter();
            let p = it.next().expect("2");
            let d = it.next().expect("2");
            (p.path_value()?, d)
        };
        let (access, body) = access_controlled(&def)?;
        let mut module = module_def(&body)?;
        module.access = access;
        insert_unique(&entry, &mut package.modules, path, module, "module")?;
    }
    Ok(package)
}

fn package_spec(node: &Node<'_, '_>) -> Result<Package> {
    let mut package = Package::default();
    let modules = node.key("modules")?;
    for entry in modules.items()? {
        let (path, spec) = if entry.v.is_object() {
            (entry.key("name")?.path_value()?, entry.key("spec")?)
        } else {
            let pair = entry.tuple(2, "a module [path, specification]")?;
            let mut it = pair.into_iter();
            let p = it.next().expect("2");
            let s = it.next().expect("2");
            (p.path_value()?, s)
        };
        let module = module_spec(&spec)?;
        insert_unique(&entry, &mut package.modules, path, module, "module")?;
    }
    Ok(package)
}

fn insert_unique<K: Ord + std::fmt::Display, V>(
    node: &Node<'_, '_>,
    map: &mut BTreeMap<K, V>,
    key: K,
    value: V,
    what: &str,
) -> Result<()> {
    if map.contains_key(&key) {
        return Err(node.error(format!("duplicate {what} `{key}`")));
    }
    map.insert(key, value);
    Ok(())
}

fn module_def(node: &Node<'_, '_>) -> Result<Module> {
    let mut module = Module {
        doc: module_doc(node)?,
        ..Module::default()
    };
    for entry in node.key("types")?.items()? {
        let pair = entry.tuple(2, "a type [name, definition]")?;
        let name = pair[0].name()?;
        let (access, documented_def) = access_controlled(&pair[1])?;
        let (doc, def) = documented(&documented_def)?;
        let (params, body) = type_definition(&def)?;
        let decl = TypeDecl {
            access,
            doc,
            params,
            body,
        };
        insert_unique(&entry, &mut module.types, name, decl, "type")?;
    }
    for entry in node.key("values")?.items()? {
        let pair = entry.tuple(2, "a value [name, definition]")?;
        let name = pair[0].name()?;
        let (access, documented_def) = access_controlled(&pair[1])?;
        let (doc, def) = documented(&documented_def)?;
        let decl = ValueDecl {
            access,
            doc,
            def: value_definition(&def)?,
        };
        insert_unique(&entry, &mut module.values, name, decl, "value")?;
    }
    Ok(module)
}

fn module_spec(node: &Node<'_, '_>) -> Result<Module> {
    let mut module = Module {
        doc: module_doc(node)?,
        ..Module::default()
    };
    for entry in node.key("types")?.items()? {
        let pair = entry.tuple(2, "a type [name, specification]")?;
        let name = pair[0].name()?;
        let (doc, spec) = documented(&pair[1])?;
        let (params, body) = type_specification(&spec)?;
        let decl = TypeDecl {
            access: Access::Public,
            doc,
            params,
            body,
        };
        insert_unique(&entry, &mut module.types, name, decl, "type")?;
    }
    for entry in node.key("values")?.items()? {
        let pair = entry.tuple(2, "a value [name, specification]")?;
        let name = pair[0].name()?;
        let (doc, spec) = documented(&pair[1])?;
        let mut inputs = Vec::new();
        for input in spec.key("inputs")?.items()? {
            let p = input.tuple(2, "an input [name, type]")?;
            inputs.push(Input {
                name: p[0].name()?,
                attrs: ValueAttrs::None,
                tpe: tpe(&p[1])?,
            });
        }
        let decl = ValueDecl {
            access: Access::Public,
            doc,
            def: ValueDef {
                inputs,
                output: tpe(&spec.key("output")?)?,
                body: None,
            },
        };
        insert_unique(&entry, &mut module.values, name, decl, "value")?;
    }
    Ok(module)
}

fn params(node: &Node<'_, '_>) -> Result<Vec<Name>> {
    node.items()?.iter().map(Node::name).collect()
}

const TYPE_DEFINITION_TAGS: &[&str] = &["TypeAliasDefinition", "CustomTypeDefinition"];

fn type_definition(node: &Node<'_, '_>) -> Result<(Vec<Name>, TypeBody)> {
    let (tag, items) = tagged(node, "a type definition")?;
    match tag.as_str() {
        "typealiasdefinition" => {
            arity(node, &items, 3, "TypeAliasDefinition")?;
            Ok((params(&items[1])?, TypeBody::Alias(tpe(&items[2])?)))
        }
        "customtypedefinition" => {
            arity(node, &items, 3, "CustomTypeDefinition")?;
            let (access, ctors) = access_controlled(&items[2])?;
            Ok((
                params(&items[1])?,
                TypeBody::Custom {
                    access,
                    constructors: constructors(&ctors)?,
                },
            ))
        }
        _ => Err(unknown_tag(node, "type definition", TYPE_DEFINITION_TAGS)),
    }
}

const TYPE_SPECIFICATION_TAGS: &[&str] = &[
    "TypeAliasSpecification",
    "OpaqueTypeSpecification",
    "CustomTypeSpecification",
    "DerivedTypeSpecification",
];

fn type_specification(node: &Node<'_, '_>) -> Result<(Vec<Name>, TypeBody)> {
    let (tag, items) = tagged(node, "a type specification")?;
    match tag.as_str() {
        "typealiasspecification" => {
            arity(node, &items, 3, "TypeAliasSpecification")?;
            Ok((params(&items[1])?, TypeBody::Alias(tpe(&items[2])?)))
        }
        "opaquetypespecification" => {
            arity(node, &items, 2, "OpaqueTypeSpecification")?;
            Ok((params(&items[1])?, TypeBody::Opaque))
        }
        "customtypespecification" => {
            arity(node, &items, 3, "CustomTypeSpecification")?;
            Ok((
                params(&items[1])?,
                TypeBody::Custom {
                    access: Access::Public,
                    constructors: constructors(&items[2])?,
                },
            ))
        }
        "derivedtypespecification" => {
            arity(node, &items, 3, "DerivedTypeSpecification")?;
            let d = &items[2];
            Ok((
                params(&items[1])?,
                TypeBody::Derived {
                    base: tpe(&d.key("baseType")?)?,
                    from_base: d.key("fromBaseType")?.fqname()?,
                    to_base: d.key("toBaseType")?.fqname()?,
                },
            ))
        }
        _ => Err(unknown_tag(
            node,
            "type specification",
            TYPE_SPECIFICATION_TAGS,
        )),
    }
}

/// Constructors: `[[name, [[arg, type], ...]], ...]`, or the oldest form
/// `[["constructor", name, args], ...]`.
fn constructors(node: &Node<'_, '_>) -> Result<BTreeMap<Name, Vec<(Name, Type)>>> {
    let mut out = BTreeMap::new();
    for entry in node.items()? {
        let parts = entry.items()?;
        let (name_node, args_node) = match parts.as_slice() {
            [tag, name, args] if tag.v.is_string() => {
                if norm(tag.str()?) != "constructor" {
                    return Err(tag.error(format!(
                        "unknown constructor tag \"{}\"; expected \"constructor\"",
                        tag.str()?
                    )));
                }
                (name, args)
            }
            [name, args] => (name, args),
            _ => return Err(entry.expected("a constructor [name, arguments]")),
        };
        let name = name_node.name()?;
        let mut args = Vec::new();
        for arg in args_node.items()? {
            let pair = arg.tuple(2, "a constructor argument [name, type]")?;
            args.push((pair[0].name()?, tpe(&pair[1])?));
        }
        insert_unique(&entry, &mut out, name, args, "constructor")?;
    }
    Ok(out)
}

fn type_attrs(node: &Node<'_, '_>) -> TypeAttrs {
    match node.v {
        serde_json::Value::Null => None,
        serde_json::Value::Object(o) if o.is_empty() => None,
        other => Some(Box::new(other.clone())),
    }
}

const TYPE_TAGS: &[&str] = &[
    "Variable",
    "Reference",
    "Tuple",
    "Record",
    "ExtensibleRecord",
    "Function",
    "Unit",
];

/// A type expression.
pub(crate) fn tpe(node: &Node<'_, '_>) -> Result<Type> {
    let (tag, items) = tagged(node, "a type")?;
    let attrs = || items.get(1).map(type_attrs).unwrap_or_default();
    Ok(match tag.as_str() {
        "variable" => {
            arity(node, &items, 3, "Variable")?;
            Type::Variable(attrs(), items[2].name()?)
        }
        "reference" => {
            arity(node, &items, 4, "Reference")?;
            let args = items[3].items()?.iter().map(tpe).collect::<Result<_>>()?;
            Type::Reference(attrs(), items[2].fqname()?, args)
        }
        "tuple" => {
            arity(node, &items, 3, "Tuple")?;
            Type::Tuple(
                attrs(),
                items[2].items()?.iter().map(tpe).collect::<Result<_>>()?,
            )
        }
        "record" => {
            arity(node, &items, 3, "Record")?;
            Type::Record(attrs(), fields(&items[2])?)
        }
        "extensiblerecord" => {
            arity(node, &items, 4, "ExtensibleRecord")?;
            Type::ExtensibleRecord(attrs(), items[2].name()?, fields(&items[3])?)
        }
        "function" => {
            arity(node, &items, 4, "Function")?;
            Type::Function(
                attrs(),
                Box::new(tpe(&items[2])?),
                Box::new(tpe(&items[3])?),
            )
        }
        "unit" => {
            arity(node, &items, 2, "Unit")?;
            Type::Unit(attrs())
        }
        _ => return Err(unknown_tag(node, "type", TYPE_TAGS)),
    })
}

/// Record fields: `{"name", "tpe"}` (v2, v3) or `[name, type]` (v1).
fn fields(node: &Node<'_, '_>) -> Result<Vec<Field>> {
    let mut out: Vec<Field> = Vec::new();
    for f in node.items()? {
        let field = if f.v.is_object() {
            Field {
                name: f.key("name")?.name()?,
                tpe: tpe(&f.key("tpe")?)?,
            }
        } else {
            let pair = f.tuple(2, "a field [name, type]")?;
            Field {
                name: pair[0].name()?,
                tpe: tpe(&pair[1])?,
            }
        };
        if out.iter().any(|g| g.name == field.name) {
            return Err(f.error(format!("duplicate field `{}`", field.name)));
        }
        out.push(field);
    }
    Ok(out)
}

fn value_attrs(node: &Node<'_, '_>) -> Result<ValueAttrs> {
    Ok(match node.v {
        serde_json::Value::Null => ValueAttrs::None,
        serde_json::Value::Object(o) if o.is_empty() => ValueAttrs::None,
        serde_json::Value::Array(_) => ValueAttrs::Type(Box::new(tpe(node)?)),
        other => ValueAttrs::Json(Box::new(other.clone())),
    })
}

/// A value definition: `{"inputTypes": [[name, attrs, type]], "outputType", "body"}`.
fn value_definition(node: &Node<'_, '_>) -> Result<ValueDef> {
    let mut inputs = Vec::new();
    for input in node.key("inputTypes")?.items()? {
        let parts = input.tuple(3, "an input [name, attributes, type]")?;
        let t = tpe(&parts[2])?;
        let attrs = match value_attrs(&parts[1])? {
            ValueAttrs::Type(a) if *a == t => ValueAttrs::None,
            other => other,
        };
        inputs.push(Input {
            name: parts[0].name()?,
            attrs,
            tpe: t,
        });
    }
    Ok(ValueDef {
        inputs,
        output: tpe(&node.key("outputType")?)?,
        body: Some(value(&node.key("body")?)?),
    })
}

const LITERAL_TAGS: &[&str] = &[
    "BoolLiteral",
    "CharLiteral",
    "StringLiteral",
    "WholeNumberLiteral",
    "FloatLiteral",
    "DecimalLiteral",
];

fn literal(node: &Node<'_, '_>) -> Result<Literal> {
    let (tag, items) = tagged(node, "a literal")?;
    let arg = |name: &str| -> Result<&Node<'_, '_>> {
        arity(node, &items, 2, name)?;
        Ok(&items[1])
    };
    Ok(match tag.as_str() {
        "boolliteral" => {
            let a = arg("BoolLiteral")?;
            Literal::Bool(a.v.as_bool().ok_or_else(|| a.expected("a boolean"))?)
        }
        "charliteral" => Literal::Char(arg("CharLiteral")?.str()?.to_owned()),
        "stringliteral" => Literal::String(arg("StringLiteral")?.str()?.to_owned()),
        "wholenumberliteral" | "intliteral" | "integerliteral" => {
            let a = arg("WholeNumberLiteral")?;
            match a.v {
                serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => {
                    Literal::WholeNumber(n.clone())
                }
                _ => return Err(a.expected("an integer")),
            }
        }
        "floatliteral" => {
            let a = arg("FloatLiteral")?;
            match a.v {
                serde_json::Value::Number(n) => Literal::Float(crate::model::float_number(n)),
                _ => return Err(a.expected("a number")),
            }
        }
        "decimalliteral" => {
            let a = arg("DecimalLiteral")?;
            match a.v {
                serde_json::Value::String(s) => Literal::Decimal(s.clone()),
                serde_json::Value::Number(n) => Literal::Decimal(n.to_string()),
                _ => return Err(a.expected("a decimal")),
            }
        }
        _ => return Err(unknown_tag(node, "literal", LITERAL_TAGS)),
    })
}

const VALUE_TAGS: &[&str] = &[
    "Literal",
    "Constructor",
    "Tuple",
    "List",
    "Record",
    "Variable",
    "Reference",
    "Field",
    "FieldFunction",
    "Apply",
    "Lambda",
    "LetDefinition",
    "LetRecursion",
    "Destructure",
    "IfThenElse",
    "PatternMatch",
    "UpdateRecord",
    "Unit",
];

fn named_values(node: &Node<'_, '_>) -> Result<BTreeMap<Name, Value>> {
    let mut out = BTreeMap::new();
    for entry in node.items()? {
        let pair = entry.tuple(2, "a field [name, value]")?;
        let name = pair[0].name()?;
        let v = value(&pair[1])?;
        insert_unique(&entry, &mut out, name, v, "field")?;
    }
    Ok(out)
}

/// A value expression.
pub(crate) fn value(node: &Node<'_, '_>) -> Result<Value> {
    let (tag, items) = tagged(node, "a value")?;
    let a = |n: usize, name: &str| -> Result<ValueAttrs> {
        arity(node, &items, n, name)?;
        value_attrs(&items[1])
    };
    let bx = |n: &Node<'_, '_>| -> Result<Box<Value>> { value(n).map(Box::new) };
    Ok(match tag.as_str() {
        "literal" => Value::Literal(a(3, "Literal")?, literal(&items[2])?),
        "constructor" => Value::Constructor(a(3, "Constructor")?, items[2].fqname()?),
        "tuple" => Value::Tuple(
            a(3, "Tuple")?,
            items[2].items()?.iter().map(value).collect::<Result<_>>()?,
        ),
        "list" => Value::List(
            a(3, "List")?,
            items[2].items()?.iter().map(value).collect::<Result<_>>()?,
        ),
        "record" => Value::Record(a(3, "Record")?, named_values(&items[2])?),
        "variable" => Value::Variable(a(3, "Variable")?, items[2].name()?),
        "reference" => Value::Reference(a(3, "Reference")?, items[2].fqname()?),
        "field" => Value::Field(a(4, "Field")?, bx(&items[2])?, items[3].name()?),
        "fieldfunction" => Value::FieldFunction(a(3, "FieldFunction")?, items[2].name()?),
        "apply" => Value::Apply(a(4, "Apply")?, bx(&items[2])?, bx(&items[3])?),
        "lambda" => Value::Lambda(a(4, "Lambda")?, pattern(&items[2])?, bx(&items[3])?),
        "letdefinition" => Value::LetDefinition(
            a(5, "LetDefinition")?,
            items[2].name()?,
            Box::new(value_definition(&items[3])?),
            bx(&items[4])?,
        ),
        "letrecursion" => {
            let attrs = a(4, "LetRecursion")?;
            let mut defs = BTreeMap::new();
            for entry in items[2].items()? {
                let pair = entry.tuple(2, "a definition [name, definition]")?;
                let name = pair[0].name()?;
                let def = value_definition(&pair[1])?;
                insert_unique(&entry, &mut defs, name, def, "definition")?;
            }
            Value::LetRecursion(attrs, defs, bx(&items[3])?)
        }
        "destructure" => Value::Destructure(
            a(5, "Destructure")?,
            pattern(&items[2])?,
            bx(&items[3])?,
            bx(&items[4])?,
        ),
        "ifthenelse" => Value::IfThenElse(
            a(5, "IfThenElse")?,
            bx(&items[2])?,
            bx(&items[3])?,
            bx(&items[4])?,
        ),
        "patternmatch" => {
            let attrs = a(4, "PatternMatch")?;
            let mut cases = Vec::new();
            for case in items[3].items()? {
                let pair = case.tuple(2, "a case [pattern, value]")?;
                cases.push((pattern(&pair[0])?, value(&pair[1])?));
            }
            Value::PatternMatch(attrs, bx(&items[2])?, cases)
        }
        "updaterecord" => Value::UpdateRecord(
            a(4, "UpdateRecord")?,
            bx(&items[2])?,
            named_values(&items[3])?,
        ),
        "unit" => Value::Unit(a(2, "Unit")?),
        _ => return Err(unknown_tag(node, "value", VALUE_TAGS)),
    })
}

const PATTERN_TAGS: &[&str] = &[
    "WildcardPattern",
    "AsPattern",
    "TuplePattern",
    "ConstructorPattern",
    "EmptyListPattern",
    "HeadTailPattern",
    "LiteralPattern",
    "UnitPattern",
];

fn pattern(node: &Node<'_, '_>) -> Result<Pattern> {
    let (tag, items) = tagged(node, "a pattern")?;
    let a = |n: usize, name: &str| -> Result<ValueAttrs> {
        arity(node, &items, n, name)?;
        value_attrs(&items[1])
    };
    let bx = |n: &Node<'_, '_>| -> Result<Box<Pattern>> { pattern(n).map(Box::new) };
    Ok(match tag.as_str() {
        "wildcardpattern" => Pattern::Wildcard(a(2, "WildcardPattern")?),
        "aspattern" => Pattern::As(a(4, "AsPattern")?, bx(&items[2])?, items[3].name()?),
        "tuplepattern" => Pattern::Tuple(
            a(3, "TuplePattern")?,
            items[2]
                .items()?
                .iter()
                .map(pattern)
                .collect::<Result<_>>()?,
        ),
        "constructorpattern" => Pattern::Constructor(
            a(4, "ConstructorPattern")?,
            items[2].fqname()?,
            items[3]
                .items()?
                .iter()
                .map(pattern)
                .collect::<Result<_>>()?,
        ),
        "emptylistpattern" => Pattern::EmptyList(a(2, "EmptyListPattern")?),
        "headtailpattern" => {
            Pattern::HeadTail(a(4, "HeadTailPattern")?, bx(&items[2])?, bx(&items[3])?)
        }
        "literalpattern" => Pattern::Literal(a(3, "LiteralPattern")?, literal(&items[2])?),
        "unitpattern" => Pattern::Unit(a(2, "UnitPattern")?),
        _ => return Err(unknown_tag(node, "pattern", PATTERN_TAGS)),
    })
}

/// Re-exported for the v4 reader, which accepts classic type arrays too.
pub(crate) fn classic_path(node: &Node<'_, '_>) -> Result<Path> {
    node.path_value()
}
