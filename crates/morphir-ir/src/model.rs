//! The IR model: one in-memory form for every format version.
//!
//! It follows morphir-elm's data model (`Morphir.IR.*`), with two simplifications that the
//! canonical form documents: definitions and specifications share one module shape (a
//! specification is public, may have opaque types and has no value bodies), and attributes are
//! kept as they were read ([`TypeAttrs`], [`ValueAttrs`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::name::{FQName, ModuleName, Name, Path};

/// Public or private.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Access {
    /// Visible to other modules and packages.
    #[default]
    Public,
    /// Visible in its module only.
    Private,
}

impl Access {
    /// `public` or `private`.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Private => "private",
        }
    }
}

/// A set of packages: what one canonical IR document holds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ir {
    /// The packages this IR defines (a task's own packages).
    pub packages: BTreeMap<Path, Package>,
    /// Packages the defined ones may refer to: a distribution's dependency specifications and
    /// the IR of upstream tasks.
    pub dependencies: BTreeMap<Path, Package>,
}

/// A package: its modules by path.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Package {
    /// Modules by module path.
    pub modules: BTreeMap<Path, Module>,
}

/// A module: its types and values by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Module {
    /// Whether other packages see the module.
    pub access: Access,
    /// The module's documentation.
    pub doc: Option<String>,
    /// Type declarations by name.
    pub types: BTreeMap<Name, TypeDecl>,
    /// Value declarations by name.
    pub values: BTreeMap<Name, ValueDecl>,
}

/// A named type of a module.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeDecl {
    /// Whether other modules see the type.
    pub access: Access,
    /// Its documentation.
    pub doc: Option<String>,
    /// Type parameters.
    pub params: Vec<Name>,
    /// What the type is.
    pub body: TypeBody,
}

/// What a type declaration says.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeBody {
    /// `type alias X = T`.
    Alias(Type),
    /// `type X = A .. | B ..`: a tagged union.
    Custom {
        /// Whether other modules see the constructors (an opaque type when private).
        access: Access,
        /// Constructors by name, each with its named arguments in order.
        constructors: BTreeMap<Name, Vec<(Name, Type)>>,
    },
    /// A type whose structure is hidden (specifications, incomplete v4 definitions).
    Opaque,
    /// A type with a platform representation and a base type it serialises as.
    Derived {
        /// The type used for serialisation.
        base: Type,
        /// Function from the base type.
        from_base: FQName,
        /// Function to the base type.
        to_base: FQName,
    },
}

/// A named value (function or constant) of a module.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueDecl {
    /// Whether other modules see the value.
    pub access: Access,
    /// Its documentation.
    pub doc: Option<String>,
    /// Its signature and body.
    pub def: ValueDef,
}

/// A value's inputs, output type and body (none in a specification).
#[derive(Debug, Clone, PartialEq)]
pub struct ValueDef {
    /// The inputs in order.
    pub inputs: Vec<Input>,
    /// The output type.
    pub output: Type,
    /// The body; absent in specifications and in v4 input.
    pub body: Option<Value>,
}

/// One input of a value definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// The input's name.
    pub name: Name,
    /// Attributes of the input; dropped when equal to `tpe` (typed IR repeats it).
    pub attrs: ValueAttrs,
    /// The declared type.
    pub tpe: Type,
}

/// Attributes of a type node: `{}` in every morphir-elm IR; anything else is kept as JSON.
pub type TypeAttrs = Option<Box<serde_json::Value>>;

/// Attributes of a value or pattern node.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ValueAttrs {
    /// `{}` or `null` (untyped IR).
    #[default]
    None,
    /// A type (typed IR, as morphir-elm writes it).
    Type(Box<Type>),
    /// Anything else, kept as it was.
    Json(Box<serde_json::Value>),
}

/// A record field of a type.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The field's name.
    pub name: Name,
    /// Its type.
    pub tpe: Type,
}

/// A type expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// A type variable: `a`.
    Variable(TypeAttrs, Name),
    /// A named type with arguments: `List Int`.
    Reference(TypeAttrs, FQName, Vec<Type>),
    /// `(A, B)`.
    Tuple(TypeAttrs, Vec<Type>),
    /// `{ a : A }`, fields in declaration order.
    Record(TypeAttrs, Vec<Field>),
    /// `{ r | a : A }`.
    ExtensibleRecord(TypeAttrs, Name, Vec<Field>),
    /// `A -> B`.
    Function(TypeAttrs, Box<Type>, Box<Type>),
    /// `()`.
    Unit(TypeAttrs),
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `True`.
    Bool(bool),
    /// `'a'`.
    Char(String),
    /// `"a"`.
    String(String),
    /// `1` (v4's `IntegerLiteral`).
    WholeNumber(serde_json::Number),
    /// `1.5`.
    Float(serde_json::Number),
    /// A decimal, as its text.
    Decimal(String),
}

/// A float literal's number as a float (`1` and `1.0` are the same literal).
pub(crate) fn float_number(n: &serde_json::Number) -> serde_json::Number {
    n.as_f64()
        .and_then(serde_json::Number::from_f64)
        .unwrap_or_else(|| n.clone())
}

/// A value expression. Every node carries its attributes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A literal.
    Literal(ValueAttrs, Literal),
    /// A constructor by name.
    Constructor(ValueAttrs, FQName),
    /// `(a, b)`.
    Tuple(ValueAttrs, Vec<Value>),
    /// `[a, b]`.
    List(ValueAttrs, Vec<Value>),
    /// `{ a = x }`, fields by name.
    Record(ValueAttrs, BTreeMap<Name, Value>),
    /// A local variable.
    Variable(ValueAttrs, Name),
    /// A module value by name.
    Reference(ValueAttrs, FQName),
    /// `x.a`.
    Field(ValueAttrs, Box<Value>, Name),
    /// `.a`.
    FieldFunction(ValueAttrs, Name),
    /// `f x`.
    Apply(ValueAttrs, Box<Value>, Box<Value>),
    /// `\p -> body`.
    Lambda(ValueAttrs, Pattern, Box<Value>),
    /// `let name = def in body`.
    LetDefinition(ValueAttrs, Name, Box<ValueDef>, Box<Value>),
    /// Mutually recursive `let` definitions.
    LetRecursion(ValueAttrs, BTreeMap<Name, ValueDef>, Box<Value>),
    /// `let pattern = value in body`.
    Destructure(ValueAttrs, Pattern, Box<Value>, Box<Value>),
    /// `if c then a else b`.
    IfThenElse(ValueAttrs, Box<Value>, Box<Value>, Box<Value>),
    /// `case x of` branches, in order.
    PatternMatch(ValueAttrs, Box<Value>, Vec<(Pattern, Value)>),
    /// `{ r | a = x }`.
    UpdateRecord(ValueAttrs, Box<Value>, BTreeMap<Name, Value>),
    /// `()`.
    Unit(ValueAttrs),
}

/// A pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// `_`.
    Wildcard(ValueAttrs),
    /// `p as name`.
    As(ValueAttrs, Box<Pattern>, Name),
    /// `(p, q)`.
    Tuple(ValueAttrs, Vec<Pattern>),
    /// `Ctor p q`.
    Constructor(ValueAttrs, FQName, Vec<Pattern>),
    /// `[]`.
    EmptyList(ValueAttrs),
    /// `h :: t`.
    HeadTail(ValueAttrs, Box<Pattern>, Box<Pattern>),
    /// A literal.
    Literal(ValueAttrs, Literal),
    /// `()`.
    Unit(ValueAttrs),
}

impl Type {
    /// Calls `f` on every fully-qualified name this type refers to.
    pub fn for_each_reference(&self, f: &mut impl FnMut(&FQName)) {
        match self {
            Type::Reference(_, name, args) => {
                f(name);
                for a in args {
                    a.for_each_reference(f);
                }
            }
            Type::Tuple(_, elems) => {
                for e in elems {
                    e.for_each_reference(f);
                }
            }
            Type::Record(_, fields) | Type::ExtensibleRecord(_, _, fields) => {
                for field in fields {
                    field.tpe.for_each_reference(f);
                }
            }
            Type::Function(_, a, b) => {
                a.for_each_reference(f);
                b.for_each_reference(f);
            }
            Type::Variable(..) | Type::Unit(_) => {}
        }
    }
}

impl TypeDecl {
    /// Calls `f` on every fully-qualified name the declaration refers to.
    pub fn for_each_reference(&self, f: &mut impl FnMut(&FQName)) {
        match &self.body {
            TypeBody::Alias(t) => t.for_each_reference(f),
            TypeBody::Custom { constructors, .. } => {
                for args in constructors.values() {
                    for (_, t) in args {
                        t.for_each_reference(f);
                    }
                }
            }
            TypeBody::Opaque => {}
            TypeBody::Derived { base, .. } => base.for_each_reference(f),
        }
    }
}

impl Ir {
    /// The package holding `path`, among the defined packages, then the dependencies.
    pub fn package(&self, path: &Path) -> Option<&Package> {
        self.packages
            .get(path)
            .or_else(|| self.dependencies.get(path))
    }

    /// The module `name`, wherever it is.
    pub fn module(&self, name: &ModuleName) -> Option<&Module> {
        self.package(&name.package)?.modules.get(&name.module)
    }

    /// The type declaration `name` refers to, wherever it is.
    pub fn type_decl(&self, name: &FQName) -> Option<&TypeDecl> {
        self.module(&name.module_name())?.types.get(&name.local)
    }

    /// Every module of the defined packages, by name.
    pub fn defined_modules(&self) -> impl Iterator<Item = (ModuleName, &Module)> {
        self.packages.iter().flat_map(|(package, p)| {
            p.modules.iter().map(move |(module, m)| {
                (
                    ModuleName {
                        package: package.clone(),
                        module: module.clone(),
                    },
                    m,
                )
            })
        })
    }

    /// The modules that generated artifacts should cover: every module of the defined packages,
    /// and every dependency module that one of their types refers to, directly or not.
    pub fn modules_for_artifacts(&self) -> BTreeSet<ModuleName> {
        let mut out: BTreeSet<ModuleName> = self.defined_modules().map(|(n, _)| n).collect();
        let mut todo: Vec<ModuleName> = out.iter().cloned().collect();
        while let Some(name) = todo.pop() {
            let Some(module) = self.module(&name) else {
                continue;
            };
            for decl in module.types.values() {
                decl.for_each_reference(&mut |fq| {
                    let target = fq.module_name();
                    if self.module(&target).is_some() && out.insert(target.clone()) {
                        todo.push(target);
                    }
                });
            }
        }
        out
    }

    /// Removes every documentation string (modules, types, values).
    pub fn strip_docs(&mut self) {
        for package in self
            .packages
            .values_mut()
            .chain(self.dependencies.values_mut())
        {
            for module in package.modules.values_mut() {
                module.doc = None;
                for t in module.types.values_mut() {
                    t.doc = None;
                }
                for v in module.values.values_mut() {
                    v.doc = None;
                }
            }
        }
    }
}
