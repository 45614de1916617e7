//! A tolerant reader of the IR v4 *draft* (`formatVersion` `4` or `"4.x.y"`).
//!
//! v4 is not stable, so this reader accepts the spellings seen in the draft specification and
//! in published v4 files: wrapper objects (`{"TypeAliasDefinition": {...}}`), canonical name
//! strings as keys, compact types (`"morphir/sdk:string#string"`, `["morphir/sdk:list#list",
//! "a"]`, `"a"`), the expanded forms (`{"Reference": {"fqname", "args"}}`,
//! `{"Variable": {"name"}}`), and classic tagged arrays wherever a type is expected.
//!
//! What it does not read: value bodies (v4 bodies are expression, native or incomplete bodies in
//! a still-moving encoding). Values keep their signatures and lose their bodies, which the
//! canonical form allows (specifications have none); a v4 `IncompleteTypeDefinition` becomes an
//! opaque type. Objects are read in key order (`serde_json`), so v4 record fields and value inputs,
//! which v4 writes as maps, come out sorted by name.

use std::collections::BTreeMap;

use crate::classic;
use crate::error::Result;
use crate::json::{Node, key_name, key_path};
use crate::model::{
    Access, Field, Input, Ir, Module, Package, Type, TypeBody, TypeDecl, ValueAttrs, ValueDecl,
    ValueDef,
};
use crate::name::{FQName, Name};

/// Reads a v4 distribution document.
pub(crate) fn read(root: &Node<'_, '_>) -> Result<Ir> {
    let dist = root.key("distribution")?;
    let entries = dist.entries()?;
    let [(kind, library)] = entries.as_slice() else {
        return Err(dist.expected("a distribution object {\"Library\": {...}}"));
    };
    if !kind.eq_ignore_ascii_case("library") {
        return Err(dist.error(format!(
            "unknown distribution kind \"{kind}\"; expected \"Library\""
        )));
    }
    let name_node = library
        .opt_key("packageName")
        .or_else(|| library.opt_key("package"))
        .or_else(|| library.opt_key("name"))
        .ok_or_else(|| library.error("missing key `packageName`"))?;
    let name = if name_node.v.is_array() {
        classic::classic_path(&name_node)?
    } else {
        let s = name_node.str()?;
        crate::name::Path::parse(s)
            .ok_or_else(|| name_node.error(format!("invalid package name `{s}`")))?
    };
    let mut ir = Ir::default();
    if let Some(deps) = library.opt_key("dependencies") {
        for (key, spec) in deps.entries()? {
            ir.dependencies
                .insert(key_path(&deps, key)?, package(&spec, true)?);
        }
    }
    let def = library
        .opt_key("def")
        .or_else(|| library.opt_key("definition"))
        .ok_or_else(|| library.error("missing key `def`"))?;
    ir.packages.insert(name, package(&def, false)?);
    Ok(ir)
}

fn access_controlled<'v, 'q>(node: &'q Node<'v, '_>) -> Result<(Access, Node<'v, 'q>)> {
    if let Some(obj) = node.v.as_object()
        && obj.contains_key("access")
        && obj.contains_key("value")
    {
        let a = node.key("access")?;
        let access = match a.str()?.to_ascii_lowercase().as_str() {
            "public" => Access::Public,
            "private" => Access::Private,
            other => {
                return Err(a.error(format!(
                    "unknown access \"{other}\"; expected \"Public\" or \"Private\""
                )));
            }
        };
        return Ok((access, node.key("value")?));
    }
    Ok((Access::Public, *node))
}

fn documented<'v, 'q>(node: &'q Node<'v, '_>) -> Result<(Option<String>, Node<'v, 'q>)> {
    if let Some(obj) = node.v.as_object()
        && obj.contains_key("doc")
        && obj.contains_key("value")
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

fn package(node: &Node<'_, '_>, spec: bool) -> Result<Package> {
    let mut out = Package::default();
    let modules = node.key("modules")?;
    for (key, entry) in modules.entries()? {
        let (access, body) = access_controlled(&entry)?;
        let mut m = module(&body, spec)?;
        m.access = access;
        out.modules.insert(key_path(&modules, key)?, m);
    }
    Ok(out)
}

fn module(node: &Node<'_, '_>, spec: bool) -> Result<Module> {
    let mut out = Module {
        doc: match node.opt_key("doc") {
            Some(d) => Some(d.str()?.to_owned()).filter(|d| !d.is_empty()),
            None => None,
        },
        ..Module::default()
    };
    if let Some(types) = node.opt_key("types") {
        for (key, entry) in types.entries()? {
            let (access, inner) = access_controlled(&entry)?;
            let (doc, def) = documented(&inner)?;
            let (params, body) = type_definition(&def)?;
            out.types.insert(
                key_name(&types, key)?,
                TypeDecl {
                    access: if spec { Access::Public } else { access },
                    doc,
                    params,
                    body,
                },
            );
        }
    }
    if let Some(values) = node.opt_key("values") {
        for (key, entry) in values.entries()? {
            let (access, inner) = access_controlled(&entry)?;
            let (doc, def) = documented(&inner)?;
            out.values.insert(
                key_name(&values, key)?,
                ValueDecl {
                    access,
                    doc,
                    def: value_signature(&def)?,
                },
            );
        }
    }
    Ok(out)
}

/// The one key of a wrapper object and its content: `{"Tag": content}`.
fn wrapper<'v, 'q>(node: &'q Node<'v, '_>, what: &str) -> Result<(&'v str, Node<'v, 'q>)> {
    let entries = node.entries().map_err(|_| node.expected(what))?;
    match entries.as_slice() {
        [(tag, content)] => Ok((tag, *content)),
        _ => Err(node.expected(&format!("{what} (an object with one key)"))),
    }
}

fn params(node: &Node<'_, '_>) -> Result<Vec<Name>> {
    match node.opt_key("typeParams") {
        Some(p) => p.items()?.iter().map(name).collect(),
        None => Ok(Vec::new()),
    }
}

fn name(node: &Node<'_, '_>) -> Result<Name> {
    if node.v.is_array() {
        node.name()
    } else {
        node.canonical_name()
    }
}

fn fqname(node: &Node<'_, '_>) -> Result<FQName> {
    if node.v.is_array() {
        node.fqname()
    } else {
        node.canonical_fqname()
    }
}

const TYPE_DEFINITION_TAGS: &str = "TypeAliasDefinition, CustomTypeDefinition, IncompleteTypeDefinition, TypeAliasSpecification, CustomTypeSpecification, OpaqueTypeSpecification, DerivedTypeSpecification";

fn type_definition(node: &Node<'_, '_>) -> Result<(Vec<Name>, TypeBody)> {
    let (tag, content) = wrapper(node, "a type definition")?;
    let type_of = |keys: &[&'static str]| -> Result<Type> {
        for k in keys {
            if let Some(t) = content.opt_key(k) {
                return tpe(&t);
            }
        }
        Err(content.error(format!("missing key `{}`", keys[0])))
    };
    let body = match tag {
        "TypeAliasDefinition" | "TypeAliasSpecification" => {
            TypeBody::Alias(type_of(&["typeExp", "type", "typeExpression"])?)
        }
        "CustomTypeDefinition" | "CustomTypeSpecification" => {
            let ctors = content.key("constructors")?;
            let (access, ctors) = access_controlled(&ctors)?;
            TypeBody::Custom {
                access,
                constructors: constructors(&ctors)?,
            }
        }
        "OpaqueTypeSpecification" | "IncompleteTypeDefinition" => TypeBody::Opaque,
        "DerivedTypeSpecification" => {
            let details = content.opt_key("details").unwrap_or(content);
            TypeBody::Derived {
                base: tpe(&details.key("baseType")?)?,
                from_base: fqname(&details.key("fromBaseType")?)?,
                to_base: fqname(&details.key("toBaseType")?)?,
            }
        }
        other => {
            return Err(node.error(format!(
                "unknown type definition \"{other}\"; expected one of {TYPE_DEFINITION_TAGS}"
            )));
        }
    };
    Ok((params(&content)?, body))
}

fn constructors(node: &Node<'_, '_>) -> Result<BTreeMap<Name, Vec<(Name, Type)>>> {
    let mut out = BTreeMap::new();
    for (key, args) in node.entries()? {
        let mut list = Vec::new();
        if args.v.is_object() {
            for (arg, t) in args.entries()? {
                list.push((key_name(&args, arg)?, tpe(&t)?));
            }
        } else {
            for arg in args.items()? {
                if arg.v.is_object() {
                    list.push((name(&arg.key("name")?)?, tpe(&arg.key("type")?)?));
                } else {
                    let pair = arg.tuple(2, "a constructor argument [name, type]")?;
                    list.push((name(&pair[0])?, tpe(&pair[1])?));
                }
            }
        }
        out.insert(key_name(node, key)?, list);
    }
    Ok(out)
}

fn value_signature(node: &Node<'_, '_>) -> Result<ValueDef> {
    let mut inputs = Vec::new();
    if let Some(ins) = node
        .opt_key("inputTypes")
        .or_else(|| node.opt_key("inputs"))
    {
        if ins.v.is_object() {
            for (key, input) in ins.entries()? {
                let t = if input.v.is_object() && input.opt_key("type").is_some() {
                    tpe(&input.key("type")?)?
                } else {
                    tpe(&input)?
                };
                inputs.push(Input {
                    name: key_name(&ins, key)?,
                    attrs: ValueAttrs::None,
                    tpe: t,
                });
            }
        } else {
            for input in ins.items()? {
                let parts = input.items()?;
                let ([n, t] | [n, _, t]) = parts.as_slice() else {
                    return Err(input.expected("an input [name, type]"));
                };
                inputs.push(Input {
                    name: name(n)?,
                    attrs: ValueAttrs::None,
                    tpe: tpe(t)?,
                });
            }
        }
    }
    let output = node
        .opt_key("outputType")
        .or_else(|| node.opt_key("output"))
        .ok_or_else(|| node.error("missing key `outputType`"))?;
    Ok(ValueDef {
        inputs,
        output: tpe(&output)?,
        body: None,
    })
}

fn record_fields(node: &Node<'_, '_>) -> Result<Vec<Field>> {
    if node.v.is_array() {
        let mut out = Vec::new();
        for f in node.items()? {
            if f.v.is_object() {
                let t = f.opt_key("tpe").or_else(|| f.opt_key("type"));
                out.push(Field {
                    name: name(&f.key("name")?)?,
                    tpe: tpe(&t.ok_or_else(|| f.error("missing key `type`"))?)?,
                });
            } else {
                let pair = f.tuple(2, "a field [name, type]")?;
                out.push(Field {
                    name: name(&pair[0])?,
                    tpe: tpe(&pair[1])?,
                });
            }
        }
        return Ok(out);
    }
    node.entries()?
        .into_iter()
        .map(|(key, t)| {
            Ok(Field {
                name: key_name(node, key)?,
                tpe: tpe(&t)?,
            })
        })
        .collect()
}

fn is_fqname_text(s: &str) -> bool {
    s.contains(':') && s.contains('#')
}

/// A v4 type expression, compact or expanded, or a classic tagged array.
fn tpe(node: &Node<'_, '_>) -> Result<Type> {
    match node.v {
        serde_json::Value::String(s) if is_fqname_text(s) => {
            Ok(Type::Reference(None, node.canonical_fqname()?, Vec::new()))
        }
        serde_json::Value::String(_) => Ok(Type::Variable(None, node.canonical_name()?)),
        serde_json::Value::Array(items) => match items.first() {
            Some(serde_json::Value::String(s)) if is_fqname_text(s) => {
                let parts = node.items()?;
                let args = parts[1..].iter().map(tpe).collect::<Result<_>>()?;
                Ok(Type::Reference(None, parts[0].canonical_fqname()?, args))
            }
            _ => classic::tpe(node),
        },
        serde_json::Value::Object(_) => {
            let (tag, content) = wrapper(node, "a type")?;
            match tag {
                "Variable" => {
                    let n = if content.v.is_object() {
                        content.key("name")?
                    } else {
                        content
                    };
                    Ok(Type::Variable(None, name(&n)?))
                }
                "Reference" => {
                    if content.v.is_array() {
                        let parts = content.items()?;
                        let Some(first) = parts.first() else {
                            return Err(content.expected("[fqname, args...]"));
                        };
                        let args = parts[1..].iter().map(tpe).collect::<Result<_>>()?;
                        Ok(Type::Reference(None, fqname(first)?, args))
                    } else {
                        let fq = content
                            .opt_key("fqname")
                            .or_else(|| content.opt_key("fqName"))
                            .or_else(|| content.opt_key("name"))
                            .ok_or_else(|| content.error("missing key `fqname`"))?;
                        let args = match content.opt_key("args") {
                            Some(a) => a.items()?.iter().map(tpe).collect::<Result<_>>()?,
                            None => Vec::new(),
                        };
                        Ok(Type::Reference(None, fqname(&fq)?, args))
                    }
                }
                "Tuple" => {
                    let elems = content.opt_key("elements").unwrap_or(content);
                    Ok(Type::Tuple(
                        None,
                        elems.items()?.iter().map(tpe).collect::<Result<_>>()?,
                    ))
                }
                "Record" => {
                    let fields = content.opt_key("fields").unwrap_or(content);
                    Ok(Type::Record(None, record_fields(&fields)?))
                }
                "ExtensibleRecord" => Ok(Type::ExtensibleRecord(
                    None,
                    name(&content.key("variable")?)?,
                    record_fields(&content.key("fields")?)?,
                )),
                "Function" => Ok(Type::Function(
                    None,
                    Box::new(tpe(&content.key("argumentType")?)?),
                    Box::new(tpe(&content.key("returnType")?)?),
                )),
                "Unit" => Ok(Type::Unit(None)),
                other => Err(node.error(format!(
                    "unknown type \"{other}\"; expected one of Variable, Reference, Tuple, Record, ExtensibleRecord, Function, Unit"
                ))),
            }
        }
        _ => Err(node.expected("a type")),
    }
}
