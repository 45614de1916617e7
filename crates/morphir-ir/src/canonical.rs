//! The canonical JSON form (`application/morphir-ir+json`, `docs/ir.md`): writer and reader.
//!
//! The writer builds the text directly, so the bytes do not depend on how a JSON library orders
//! object keys: keys are sorted by their UTF-8 bytes, there is no whitespace, strings and numbers
//! are written as `serde_json` writes them. The same model always gives the same bytes.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::json::{Node, key_name, key_path};
use crate::model::{
    Access, Field, Input, Ir, Literal, Module, Package, Pattern, Type, TypeAttrs, TypeBody,
    TypeDecl, Value, ValueAttrs, ValueDecl, ValueDef,
};
use crate::name::{Name, Path};

/// The value of the `format` key of a canonical document.
pub const FORMAT: &str = "morphir-ir-canonical";
/// The version of the canonical form this crate writes (the `version` key).
pub const VERSION: u64 = 1;

// ---------------------------------------------------------------------------------------------
// Writer
//
// One pass into one buffer: every object's keys are written in sorted order by construction (the
// order of the `o.key(..)` calls below), which `Obj` checks in debug builds and the tests check
// against a JSON library's sorted re-serialisation. Maps keyed by names are sorted by their
// canonical strings first.

struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    #[cfg(debug_assertions)]
    last: String,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self {
            out,
            first: true,
            #[cfg(debug_assertions)]
            last: String::new(),
        }
    }

    /// Starts the entry `key`; the caller writes its value into the returned buffer.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        #[cfg(debug_assertions)]
        {
            assert!(
                self.first || key > self.last.as_str(),
                "canonical writer: key `{key}` after `{}`",
                self.last
            );
            key.clone_into(&mut self.last);
        }
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        string(self.out, key);
        self.out.push(b':');
        self.out
    }

    fn str(&mut self, key: &str, value: &str) {
        string(self.key(key), value);
    }

    fn display(&mut self, key: &str, value: &impl std::fmt::Display) {
        string(self.key(key), &value.to_string());
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("writing to a Vec does not fail");
}

fn array<T>(out: &mut Vec<u8>, items: &[T], f: impl Fn(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        f(out, item);
    }
    out.push(b']');
}

/// A JSON value in canonical form (object keys sorted at every level).
fn json(out: &mut Vec<u8>, v: &serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let mut o = Obj::new(out);
            for (k, v) in entries {
                json(o.key(k), v);
            }
            o.end();
        }
        serde_json::Value::Array(items) => array(out, items, json),
        other => serde_json::to_writer(out, other).expect("writing to a Vec does not fail"),
    }
}

/// A map keyed by names or paths, written sorted by the canonical key strings.
fn map<K: std::fmt::Display, V>(
    out: &mut Vec<u8>,
    m: &BTreeMap<K, V>,
    f: impl Fn(&mut Vec<u8>, &V),
) {
    let mut entries: Vec<(String, &V)> = m.iter().map(|(k, v)| (k.to_string(), v)).collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut o = Obj::new(out);
    for (k, v) in entries {
        f(o.key(&k), v);
    }
    o.end();
}

/// The canonical bytes of `ir`.
pub(crate) fn write(ir: &Ir) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 16);
    let mut o = Obj::new(&mut out);
    map(o.key("dependencies"), &ir.dependencies, package);
    o.str("format", FORMAT);
    map(o.key("packages"), &ir.packages, package);
    o.key("version")
        .extend_from_slice(VERSION.to_string().as_bytes());
    o.end();
    out
}

fn package(out: &mut Vec<u8>, p: &Package) {
    let mut o = Obj::new(out);
    map(o.key("modules"), &p.modules, module);
    o.end();
}

fn doc(o: &mut Obj<'_>, doc: Option<&String>) {
    if let Some(d) = doc {
        o.str("doc", d);
    }
}

fn module(out: &mut Vec<u8>, m: &Module) {
    let mut o = Obj::new(out);
    o.str("access", m.access.as_str());
    doc(&mut o, m.doc.as_ref());
    map(o.key("types"), &m.types, type_decl);
    map(o.key("values"), &m.values, value_decl);
    o.end();
}

fn names(out: &mut Vec<u8>, ns: &[Name]) {
    array(out, ns, |out, n| string(out, &n.to_string()));
}

fn type_decl(out: &mut Vec<u8>, t: &TypeDecl) {
    let mut o = Obj::new(out);
    o.str("access", t.access.as_str());
    match &t.body {
        TypeBody::Alias(tp) => {
            doc(&mut o, t.doc.as_ref());
            o.str("kind", "alias");
            names(o.key("params"), &t.params);
            tpe(o.key("type"), tp);
        }
        TypeBody::Custom {
            access,
            constructors,
        } => {
            map(o.key("constructors"), constructors, |out, args| {
                array(out, args, |out, (n, t)| {
                    let mut a = Obj::new(out);
                    a.display("name", n);
                    tpe(a.key("type"), t);
                    a.end();
                });
            });
            o.str("constructorsAccess", access.as_str());
            doc(&mut o, t.doc.as_ref());
            o.str("kind", "custom");
            names(o.key("params"), &t.params);
        }
        TypeBody::Opaque => {
            doc(&mut o, t.doc.as_ref());
            o.str("kind", "opaque");
            names(o.key("params"), &t.params);
        }
        TypeBody::Derived {
            base,
            from_base,
            to_base,
        } => {
            tpe(o.key("baseType"), base);
            doc(&mut o, t.doc.as_ref());
            o.display("fromBaseType", from_base);
            o.str("kind", "derived");
            names(o.key("params"), &t.params);
            o.display("toBaseType", to_base);
        }
    }
    o.end();
}

fn value_decl(out: &mut Vec<u8>, v: &ValueDecl) {
    let mut o = Obj::new(out);
    o.str("access", v.access.as_str());
    value_def_entries(&mut o, &v.def, v.doc.as_ref());
    o.end();
}

/// `body`, `doc`, `inputs`, `output` (all after `access`).
fn value_def_entries(o: &mut Obj<'_>, d: &ValueDef, doc_text: Option<&String>) {
    if let Some(body) = &d.body {
        value(o.key("body"), body);
    }
    doc(o, doc_text);
    array(o.key("inputs"), &d.inputs, input);
    tpe(o.key("output"), &d.output);
}

fn value_def(out: &mut Vec<u8>, d: &ValueDef) {
    let mut o = Obj::new(out);
    value_def_entries(&mut o, d, None);
    o.end();
}

fn input(out: &mut Vec<u8>, i: &Input) {
    let mut o = Obj::new(out);
    value_attrs_json(&mut o, &i.attrs);
    o.display("name", &i.name);
    tpe(o.key("type"), &i.tpe);
    value_attrs_type(&mut o, &i.attrs);
    o.end();
}

fn type_attrs(o: &mut Obj<'_>, attrs: &TypeAttrs) {
    if let Some(a) = attrs {
        json(o.key("attrs"), a);
    }
}

fn fields(out: &mut Vec<u8>, fs: &[Field]) {
    array(out, fs, |out, f| {
        let mut o = Obj::new(out);
        o.display("name", &f.name);
        tpe(o.key("type"), &f.tpe);
        o.end();
    });
}

fn tpe(out: &mut Vec<u8>, t: &Type) {
    let mut o = Obj::new(out);
    match t {
        Type::Variable(a, n) => {
            type_attrs(&mut o, a);
            o.str("kind", "Variable");
            o.display("name", n);
        }
        Type::Reference(a, fq, args) => {
            array(o.key("args"), args, tpe);
            type_attrs(&mut o, a);
            o.str("kind", "Reference");
            o.display("name", fq);
        }
        Type::Tuple(a, elems) => {
            type_attrs(&mut o, a);
            array(o.key("elements"), elems, tpe);
            o.str("kind", "Tuple");
        }
        Type::Record(a, fs) => {
            type_attrs(&mut o, a);
            fields(o.key("fields"), fs);
            o.str("kind", "Record");
        }
        Type::ExtensibleRecord(a, var, fs) => {
            type_attrs(&mut o, a);
            fields(o.key("fields"), fs);
            o.str("kind", "ExtensibleRecord");
            o.display("variable", var);
        }
        Type::Function(a, arg, result) => {
            tpe(o.key("argument"), arg);
            type_attrs(&mut o, a);
            o.str("kind", "Function");
            tpe(o.key("result"), result);
        }
        Type::Unit(a) => {
            type_attrs(&mut o, a);
            o.str("kind", "Unit");
        }
    }
    o.end();
}

/// Non-type attributes go under `attrs`, which sorts before every other key of a value node
/// except `argument`; see `value`.
fn value_attrs_json(o: &mut Obj<'_>, attrs: &ValueAttrs) {
    if let ValueAttrs::Json(j) = attrs {
        json(o.key("attrs"), j);
    }
}

/// Type attributes go under `valueType`, which sorts after every other key of a value node.
fn value_attrs_type(o: &mut Obj<'_>, attrs: &ValueAttrs) {
    if let ValueAttrs::Type(t) = attrs {
        tpe(o.key("valueType"), t);
    }
}

fn literal(out: &mut Vec<u8>, l: &Literal) {
    let mut o = Obj::new(out);
    match l {
        Literal::Bool(b) => {
            o.str("kind", "BoolLiteral");
            o.key("value")
                .extend_from_slice(if *b { b"true" } else { b"false" });
        }
        Literal::Char(c) => {
            o.str("kind", "CharLiteral");
            o.str("value", c);
        }
        Literal::String(s) => {
            o.str("kind", "StringLiteral");
            o.str("value", s);
        }
        Literal::WholeNumber(n) => {
            o.str("kind", "WholeNumberLiteral");
            o.key("value").extend_from_slice(n.to_string().as_bytes());
        }
        Literal::Float(n) => {
            o.str("kind", "FloatLiteral");
            o.key("value").extend_from_slice(float(n).as_bytes());
        }
        Literal::Decimal(d) => {
            o.str("kind", "DecimalLiteral");
            o.str("value", d);
        }
    }
    o.end();
}

/// A float literal always as a float (`1` read from one file and `1.0` from another are the
/// same literal).
fn float(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if f.is_finite() => serde_json::Value::from(f).to_string(),
        _ => n.to_string(),
    }
}

fn named_values(out: &mut Vec<u8>, m: &BTreeMap<Name, Value>) {
    map(out, m, value);
}

#[expect(
    clippy::many_single_char_names,
    reason = "the parts of an expression: condition, then, else, pattern, ..."
)]
fn value(out: &mut Vec<u8>, v: &Value) {
    let mut o = Obj::new(out);
    // `argument` (Apply) is the only key that sorts before `attrs`.
    if let Value::Apply(_, _, x) = v {
        value(o.key("argument"), x);
    }
    let attrs = value_attrs_of(v);
    value_attrs_json(&mut o, attrs);
    match v {
        Value::Literal(_, l) => {
            o.str("kind", "Literal");
            literal(o.key("literal"), l);
        }
        Value::Constructor(_, fq) => {
            o.str("kind", "Constructor");
            o.display("name", fq);
        }
        Value::Tuple(_, items) => {
            array(o.key("elements"), items, value);
            o.str("kind", "Tuple");
        }
        Value::List(_, items) => {
            array(o.key("items"), items, value);
            o.str("kind", "List");
        }
        Value::Record(_, fs) => {
            named_values(o.key("fields"), fs);
            o.str("kind", "Record");
        }
        Value::Variable(_, n) => {
            o.str("kind", "Variable");
            o.display("name", n);
        }
        Value::Reference(_, fq) => {
            o.str("kind", "Reference");
            o.display("name", fq);
        }
        Value::Field(_, subject, n) => {
            o.display("field", n);
            o.str("kind", "Field");
            value(o.key("subject"), subject);
        }
        Value::FieldFunction(_, n) => {
            o.display("field", n);
            o.str("kind", "FieldFunction");
        }
        Value::Apply(_, f, _) => {
            value(o.key("function"), f);
            o.str("kind", "Apply");
        }
        Value::Lambda(_, p, body) => {
            value(o.key("body"), body);
            o.str("kind", "Lambda");
            pattern(o.key("pattern"), p);
        }
        Value::LetDefinition(_, n, def, body) => {
            value_def(o.key("definition"), def);
            value(o.key("in"), body);
            o.str("kind", "LetDefinition");
            o.display("name", n);
        }
        Value::LetRecursion(_, defs, body) => {
            map(o.key("definitions"), defs, value_def);
            value(o.key("in"), body);
            o.str("kind", "LetRecursion");
        }
        Value::Destructure(_, p, x, body) => {
            value(o.key("in"), body);
            o.str("kind", "Destructure");
            pattern(o.key("pattern"), p);
            value(o.key("value"), x);
        }
        Value::IfThenElse(_, c, t, e) => {
            value(o.key("condition"), c);
            value(o.key("else"), e);
            o.str("kind", "IfThenElse");
            value(o.key("then"), t);
        }
        Value::PatternMatch(_, subject, cases) => {
            array(o.key("cases"), cases, |out, (p, b)| {
                let mut c = Obj::new(out);
                value(c.key("body"), b);
                pattern(c.key("pattern"), p);
                c.end();
            });
            o.str("kind", "PatternMatch");
            value(o.key("subject"), subject);
        }
        Value::UpdateRecord(_, record, fs) => {
            named_values(o.key("fields"), fs);
            o.str("kind", "UpdateRecord");
            value(o.key("record"), record);
        }
        Value::Unit(_) => {
            o.str("kind", "Unit");
        }
    }
    value_attrs_type(&mut o, attrs);
    o.end();
}

fn value_attrs_of(v: &Value) -> &ValueAttrs {
    match v {
        Value::Literal(a, _)
        | Value::Constructor(a, _)
        | Value::Tuple(a, _)
        | Value::List(a, _)
        | Value::Record(a, _)
        | Value::Variable(a, _)
        | Value::Reference(a, _)
        | Value::Field(a, _, _)
        | Value::FieldFunction(a, _)
        | Value::Apply(a, _, _)
        | Value::Lambda(a, _, _)
        | Value::LetDefinition(a, _, _, _)
        | Value::LetRecursion(a, _, _)
        | Value::Destructure(a, _, _, _)
        | Value::IfThenElse(a, _, _, _)
        | Value::PatternMatch(a, _, _)
        | Value::UpdateRecord(a, _, _)
        | Value::Unit(a) => a,
    }
}

fn pattern(out: &mut Vec<u8>, p: &Pattern) {
    let mut o = Obj::new(out);
    let attrs = match p {
        Pattern::Wildcard(a)
        | Pattern::As(a, _, _)
        | Pattern::Tuple(a, _)
        | Pattern::Constructor(a, _, _)
        | Pattern::EmptyList(a)
        | Pattern::HeadTail(a, _, _)
        | Pattern::Literal(a, _)
        | Pattern::Unit(a) => a,
    };
    if let Pattern::Constructor(_, _, args) = p {
        array(o.key("args"), args, pattern);
    }
    value_attrs_json(&mut o, attrs);
    match p {
        Pattern::Wildcard(_) => o.str("kind", "WildcardPattern"),
        Pattern::As(_, inner, n) => {
            o.str("kind", "AsPattern");
            o.display("name", n);
            pattern(o.key("pattern"), inner);
        }
        Pattern::Tuple(_, items) => {
            array(o.key("elements"), items, pattern);
            o.str("kind", "TuplePattern");
        }
        Pattern::Constructor(_, fq, _) => {
            o.str("kind", "ConstructorPattern");
            o.display("name", fq);
        }
        Pattern::EmptyList(_) => o.str("kind", "EmptyListPattern"),
        Pattern::HeadTail(_, h, t) => {
            pattern(o.key("head"), h);
            o.str("kind", "HeadTailPattern");
            pattern(o.key("tail"), t);
        }
        Pattern::Literal(_, l) => {
            o.str("kind", "LiteralPattern");
            literal(o.key("literal"), l);
        }
        Pattern::Unit(_) => o.str("kind", "UnitPattern"),
    }
    value_attrs_type(&mut o, attrs);
    o.end();
}

// ---------------------------------------------------------------------------------------------
// Reader

/// True if `doc` looks like a canonical document (it has `"format": "morphir-ir-canonical"`).
pub fn is_canonical(doc: &serde_json::Value) -> bool {
    doc.get("format").and_then(serde_json::Value::as_str) == Some(FORMAT)
}

/// Reads a canonical document.
pub(crate) fn read(root: &Node<'_, '_>) -> Result<Ir> {
    let version = root.key("version")?;
    if version.v.as_u64() != Some(VERSION) {
        return Err(version.error(format!(
            "unsupported canonical version {}; this reader knows version {VERSION}",
            version.v
        )));
    }
    let mut ir = Ir::default();
    let packages = root.key("packages")?;
    for (k, p) in packages.entries()? {
        ir.packages
            .insert(key_path(&packages, k)?, read_package(&p)?);
    }
    if let Some(deps) = root.opt_key("dependencies") {
        for (k, p) in deps.entries()? {
            ir.dependencies
                .insert(key_path(&deps, k)?, read_package(&p)?);
        }
    }
    Ok(ir)
}

fn read_access(node: &Node<'_, '_>, key: &'static str) -> Result<Access> {
    let Some(a) = node.opt_key(key) else {
        return Ok(Access::Public);
    };
    match a.str()? {
        "public" => Ok(Access::Public),
        "private" => Ok(Access::Private),
        other => Err(a.error(format!(
            "unknown access \"{other}\"; expected \"public\" or \"private\""
        ))),
    }
}

fn read_doc(node: &Node<'_, '_>) -> Result<Option<String>> {
    match node.opt_key("doc") {
        Some(d) => Ok(Some(d.str()?.to_owned())),
        None => Ok(None),
    }
}

fn read_package(node: &Node<'_, '_>) -> Result<Package> {
    let mut p = Package::default();
    let modules = node.key("modules")?;
    for (k, m) in modules.entries()? {
        p.modules.insert(key_path(&modules, k)?, read_module(&m)?);
    }
    Ok(p)
}

fn read_module(node: &Node<'_, '_>) -> Result<Module> {
    let mut m = Module {
        access: read_access(node, "access")?,
        doc: read_doc(node)?,
        ..Module::default()
    };
    if let Some(types) = node.opt_key("types") {
        for (k, t) in types.entries()? {
            m.types.insert(key_name(&types, k)?, read_type_decl(&t)?);
        }
    }
    if let Some(values) = node.opt_key("values") {
        for (k, v) in values.entries()? {
            m.values.insert(
                key_name(&values, k)?,
                ValueDecl {
                    access: read_access(&v, "access")?,
                    doc: read_doc(&v)?,
                    def: read_value_def(&v)?,
                },
            );
        }
    }
    Ok(m)
}

fn read_names(node: &Node<'_, '_>) -> Result<Vec<Name>> {
    node.items()?.iter().map(Node::canonical_name).collect()
}

fn read_type_decl(node: &Node<'_, '_>) -> Result<TypeDecl> {
    let kind = node.key("kind")?;
    let body = match kind.str()? {
        "alias" => TypeBody::Alias(read_type(&node.key("type")?)?),
        "custom" => {
            let ctors = node.key("constructors")?;
            let mut constructors = BTreeMap::new();
            for (k, args) in ctors.entries()? {
                let mut list = Vec::new();
                for arg in args.items()? {
                    list.push((
                        arg.key("name")?.canonical_name()?,
                        read_type(&arg.key("type")?)?,
                    ));
                }
                constructors.insert(key_name(&ctors, k)?, list);
            }
            TypeBody::Custom {
                access: read_access(node, "constructorsAccess")?,
                constructors,
            }
        }
        "opaque" => TypeBody::Opaque,
        "derived" => TypeBody::Derived {
            base: read_type(&node.key("baseType")?)?,
            from_base: node.key("fromBaseType")?.canonical_fqname()?,
            to_base: node.key("toBaseType")?.canonical_fqname()?,
        },
        other => {
            return Err(kind.error(format!(
                "unknown type declaration kind \"{other}\"; expected one of alias, custom, opaque, derived"
            )));
        }
    };
    Ok(TypeDecl {
        access: read_access(node, "access")?,
        doc: read_doc(node)?,
        params: match node.opt_key("params") {
            Some(p) => read_names(&p)?,
            None => Vec::new(),
        },
        body,
    })
}

fn read_value_def(node: &Node<'_, '_>) -> Result<ValueDef> {
    let mut inputs = Vec::new();
    for i in node.key("inputs")?.items()? {
        inputs.push(Input {
            name: i.key("name")?.canonical_name()?,
            attrs: read_value_attrs(&i)?,
            tpe: read_type(&i.key("type")?)?,
        });
    }
    Ok(ValueDef {
        inputs,
        output: read_type(&node.key("output")?)?,
        body: match node.opt_key("body") {
            Some(b) => Some(read_value(&b)?),
            None => None,
        },
    })
}

fn read_type_attrs(node: &Node<'_, '_>) -> TypeAttrs {
    node.opt_key("attrs").map(|a| Box::new(a.v.clone()))
}

fn read_fields(node: &Node<'_, '_>) -> Result<Vec<Field>> {
    node.items()?
        .iter()
        .map(|f| {
            Ok(Field {
                name: f.key("name")?.canonical_name()?,
                tpe: read_type(&f.key("type")?)?,
            })
        })
        .collect()
}

fn read_types(node: &Node<'_, '_>) -> Result<Vec<Type>> {
    node.items()?.iter().map(read_type).collect()
}

/// A canonical type expression.
fn read_type(node: &Node<'_, '_>) -> Result<Type> {
    let kind = node.key("kind")?;
    let a = read_type_attrs(node);
    Ok(match kind.str()? {
        "Variable" => Type::Variable(a, node.key("name")?.canonical_name()?),
        "Reference" => Type::Reference(
            a,
            node.key("name")?.canonical_fqname()?,
            match node.opt_key("args") {
                Some(args) => read_types(&args)?,
                None => Vec::new(),
            },
        ),
        "Tuple" => Type::Tuple(a, read_types(&node.key("elements")?)?),
        "Record" => Type::Record(a, read_fields(&node.key("fields")?)?),
        "ExtensibleRecord" => Type::ExtensibleRecord(
            a,
            node.key("variable")?.canonical_name()?,
            read_fields(&node.key("fields")?)?,
        ),
        "Function" => Type::Function(
            a,
            Box::new(read_type(&node.key("argument")?)?),
            Box::new(read_type(&node.key("result")?)?),
        ),
        "Unit" => Type::Unit(a),
        other => {
            return Err(kind.error(format!(
                "unknown type kind \"{other}\"; expected one of Variable, Reference, Tuple, Record, ExtensibleRecord, Function, Unit"
            )));
        }
    })
}

fn read_value_attrs(node: &Node<'_, '_>) -> Result<ValueAttrs> {
    if let Some(t) = node.opt_key("valueType") {
        return Ok(ValueAttrs::Type(Box::new(read_type(&t)?)));
    }
    Ok(match node.opt_key("attrs") {
        Some(a) => ValueAttrs::Json(Box::new(a.v.clone())),
        None => ValueAttrs::None,
    })
}

fn read_literal(node: &Node<'_, '_>) -> Result<Literal> {
    let kind = node.key("kind")?;
    let v = node.key("value")?;
    let number = || match v.v {
        serde_json::Value::Number(n) => Ok(n.clone()),
        _ => Err(v.expected("a number")),
    };
    Ok(match kind.str()? {
        "BoolLiteral" => Literal::Bool(v.v.as_bool().ok_or_else(|| v.expected("a boolean"))?),
        "CharLiteral" => Literal::Char(v.str()?.to_owned()),
        "StringLiteral" => Literal::String(v.str()?.to_owned()),
        "WholeNumberLiteral" => Literal::WholeNumber(number()?),
        "FloatLiteral" => Literal::Float(crate::model::float_number(&number()?)),
        "DecimalLiteral" => Literal::Decimal(v.str()?.to_owned()),
        other => return Err(kind.error(format!("unknown literal kind \"{other}\""))),
    })
}

fn read_named_values(node: &Node<'_, '_>) -> Result<BTreeMap<Name, Value>> {
    let mut out = BTreeMap::new();
    for (k, v) in node.entries()? {
        out.insert(key_name(node, k)?, read_value(&v)?);
    }
    Ok(out)
}

fn read_values(node: &Node<'_, '_>) -> Result<Vec<Value>> {
    node.items()?.iter().map(read_value).collect()
}

/// A canonical value expression.
fn read_value(node: &Node<'_, '_>) -> Result<Value> {
    let kind = node.key("kind")?;
    let a = read_value_attrs(node)?;
    let sub = |k: &'static str| -> Result<Box<Value>> { read_value(&node.key(k)?).map(Box::new) };
    Ok(match kind.str()? {
        "Literal" => Value::Literal(a, read_literal(&node.key("literal")?)?),
        "Constructor" => Value::Constructor(a, node.key("name")?.canonical_fqname()?),
        "Tuple" => Value::Tuple(a, read_values(&node.key("elements")?)?),
        "List" => Value::List(a, read_values(&node.key("items")?)?),
        "Record" => Value::Record(a, read_named_values(&node.key("fields")?)?),
        "Variable" => Value::Variable(a, node.key("name")?.canonical_name()?),
        "Reference" => Value::Reference(a, node.key("name")?.canonical_fqname()?),
        "Field" => Value::Field(a, sub("subject")?, node.key("field")?.canonical_name()?),
        "FieldFunction" => Value::FieldFunction(a, node.key("field")?.canonical_name()?),
        "Apply" => Value::Apply(a, sub("function")?, sub("argument")?),
        "Lambda" => Value::Lambda(a, read_pattern(&node.key("pattern")?)?, sub("body")?),
        "LetDefinition" => Value::LetDefinition(
            a,
            node.key("name")?.canonical_name()?,
            Box::new(read_value_def(&node.key("definition")?)?),
            sub("in")?,
        ),
        "LetRecursion" => {
            let defs_node = node.key("definitions")?;
            let mut defs = BTreeMap::new();
            for (k, d) in defs_node.entries()? {
                defs.insert(key_name(&defs_node, k)?, read_value_def(&d)?);
            }
            Value::LetRecursion(a, defs, sub("in")?)
        }
        "Destructure" => Value::Destructure(
            a,
            read_pattern(&node.key("pattern")?)?,
            sub("value")?,
            sub("in")?,
        ),
        "IfThenElse" => Value::IfThenElse(a, sub("condition")?, sub("then")?, sub("else")?),
        "PatternMatch" => {
            let mut cases = Vec::new();
            for c in node.key("cases")?.items()? {
                cases.push((
                    read_pattern(&c.key("pattern")?)?,
                    read_value(&c.key("body")?)?,
                ));
            }
            Value::PatternMatch(a, sub("subject")?, cases)
        }
        "UpdateRecord" => {
            Value::UpdateRecord(a, sub("record")?, read_named_values(&node.key("fields")?)?)
        }
        "Unit" => Value::Unit(a),
        other => return Err(kind.error(format!("unknown value kind \"{other}\""))),
    })
}

fn read_pattern(node: &Node<'_, '_>) -> Result<Pattern> {
    let kind = node.key("kind")?;
    let a = read_value_attrs(node)?;
    let sub =
        |k: &'static str| -> Result<Box<Pattern>> { read_pattern(&node.key(k)?).map(Box::new) };
    let list = |k: &'static str| -> Result<Vec<Pattern>> {
        node.key(k)?.items()?.iter().map(read_pattern).collect()
    };
    Ok(match kind.str()? {
        "WildcardPattern" => Pattern::Wildcard(a),
        "AsPattern" => Pattern::As(a, sub("pattern")?, node.key("name")?.canonical_name()?),
        "TuplePattern" => Pattern::Tuple(a, list("elements")?),
        "ConstructorPattern" => {
            Pattern::Constructor(a, node.key("name")?.canonical_fqname()?, list("args")?)
        }
        "EmptyListPattern" => Pattern::EmptyList(a),
        "HeadTailPattern" => Pattern::HeadTail(a, sub("head")?, sub("tail")?),
        "LiteralPattern" => Pattern::Literal(a, read_literal(&node.key("literal")?)?),
        "UnitPattern" => Pattern::Unit(a),
        other => return Err(kind.error(format!("unknown pattern kind \"{other}\""))),
    })
}

/// The canonical string of a path, for messages.
pub(crate) fn path_text(p: &Path) -> String {
    p.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_written_with_sorted_keys() {
        let v: serde_json::Value = serde_json::json!({"b": 1, "a": {"d": [true], "c": null}});
        let mut out = Vec::new();
        json(&mut out, &v);
        assert_eq!(out, br#"{"a":{"c":null,"d":[true]},"b":1}"#);
    }

    #[test]
    fn floats_are_written_as_floats() {
        let n = serde_json::Number::from(2);
        assert_eq!(float(&n), "2.0");
    }
}
