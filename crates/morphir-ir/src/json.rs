//! A cursor over a parsed JSON document that knows its own JSON path, for readers whose errors
//! must say where the problem is. The path is built only when an error is reported.

use std::fmt::Write as _;

use serde_json::Value;

use crate::error::{Error, Result, push_key};
use crate::name::{FQName, Name, Path};

#[derive(Clone, Copy)]
enum Seg<'v> {
    Root,
    Key(&'v str),
    Index(usize),
}

/// A JSON value and where it is in the document.
#[derive(Clone, Copy)]
pub(crate) struct Node<'v, 'p> {
    pub(crate) v: &'v Value,
    parent: Option<&'p Node<'v, 'p>>,
    seg: Seg<'v>,
}

impl<'v> Node<'v, '_> {
    /// The document root (`$`).
    pub(crate) fn root(v: &'v Value) -> Self {
        Self {
            v,
            parent: None,
            seg: Seg::Root,
        }
    }

    /// The JSON path of this node.
    pub(crate) fn path(&self) -> String {
        let mut segs = Vec::new();
        let mut at = Some(self);
        while let Some(node) = at {
            segs.push(node.seg);
            at = node.parent;
        }
        let mut out = String::from("$");
        for seg in segs.iter().rev() {
            match seg {
                Seg::Root => {}
                Seg::Key(k) => push_key(&mut out, k),
                Seg::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        out
    }

    /// An error at this node.
    pub(crate) fn error(&self, message: impl Into<String>) -> Error {
        Error::new(self.path(), message)
    }

    /// An error saying what was expected and what is here.
    pub(crate) fn expected(&self, what: &str) -> Error {
        self.error(format!("expected {what}, found {}", describe(self.v)))
    }

    /// The child at `key` of an object; an error if there is none.
    pub(crate) fn key<'q>(&'q self, key: &'v str) -> Result<Node<'v, 'q>> {
        let map = self
            .v
            .as_object()
            .ok_or_else(|| self.expected("an object"))?;
        let (k, v) = map
            .get_key_value(key)
            .ok_or_else(|| self.error(format!("missing key `{key}`")))?;
        Ok(Node {
            v,
            parent: Some(self),
            seg: Seg::Key(k.as_str()),
        })
    }

    /// The child at `key`, if the object has it and it is not `null`.
    pub(crate) fn opt_key<'q>(&'q self, key: &'v str) -> Option<Node<'v, 'q>> {
        let (k, v) = self.v.as_object()?.get_key_value(key)?;
        if v.is_null() {
            return None;
        }
        Some(Node {
            v,
            parent: Some(self),
            seg: Seg::Key(k.as_str()),
        })
    }

    /// Every entry of an object, in key order.
    pub(crate) fn entries<'q>(&'q self) -> Result<Vec<(&'v str, Node<'v, 'q>)>> {
        let map = self
            .v
            .as_object()
            .ok_or_else(|| self.expected("an object"))?;
        Ok(map
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    Node {
                        v,
                        parent: Some(self),
                        seg: Seg::Key(k.as_str()),
                    },
                )
            })
            .collect())
    }

    /// The elements of an array.
    pub(crate) fn items<'q>(&'q self) -> Result<Vec<Node<'v, 'q>>> {
        let arr = self.v.as_array().ok_or_else(|| self.expected("an array"))?;
        Ok(arr
            .iter()
            .enumerate()
            .map(|(i, v)| Node {
                v,
                parent: Some(self),
                seg: Seg::Index(i),
            })
            .collect())
    }

    /// The elements of an array of exactly `n` elements.
    pub(crate) fn tuple<'q>(&'q self, n: usize, what: &str) -> Result<Vec<Node<'v, 'q>>> {
        let items = self.items()?;
        if items.len() != n {
            return Err(self.error(format!(
                "expected {what}: an array of {n} elements, found {}",
                items.len()
            )));
        }
        Ok(items)
    }

    /// The string here.
    pub(crate) fn str(&self) -> Result<&'v str> {
        self.v.as_str().ok_or_else(|| self.expected("a string"))
    }

    /// A classic name: an array of words.
    pub(crate) fn name(&self) -> Result<Name> {
        let arr = self
            .v
            .as_array()
            .ok_or_else(|| self.expected("a name (an array of words)"))?;
        let mut words = Vec::with_capacity(arr.len());
        for (i, w) in arr.iter().enumerate() {
            match w.as_str() {
                Some(s) if crate::name::is_word(s) => words.push(s.to_owned()),
                _ => {
                    let node = Node {
                        v: w,
                        parent: Some(self),
                        seg: Seg::Index(i),
                    };
                    return Err(node.error(format!(
                        "invalid word {w} in a name: words are non-empty strings of a-z and 0-9"
                    )));
                }
            }
        }
        if words.is_empty() {
            return Err(self.error("a name has at least one word, found `[]`"));
        }
        Ok(Name::from_words(words))
    }

    /// A classic path: an array of names.
    pub(crate) fn path_value(&self) -> Result<Path> {
        let names = self
            .items()
            .map_err(|_| self.expected("a path (an array of names)"))?;
        names
            .iter()
            .map(Node::name)
            .collect::<Result<Vec<_>>>()
            .map(Path::from_names)
    }

    /// A classic fully-qualified name: `[package, module, local]`.
    pub(crate) fn fqname(&self) -> Result<FQName> {
        let parts = self.tuple(3, "a fully-qualified name [package, module, name]")?;
        Ok(FQName::new(
            parts[0].path_value()?,
            parts[1].path_value()?,
            parts[2].name()?,
        ))
    }

    /// A canonical name string.
    pub(crate) fn canonical_name(&self) -> Result<Name> {
        let s = self.str()?;
        Name::parse(s).ok_or_else(|| self.error(format!("invalid name `{s}`")))
    }

    /// A canonical fully-qualified name string.
    pub(crate) fn canonical_fqname(&self) -> Result<FQName> {
        let s = self.str()?;
        FQName::parse(s).ok_or_else(|| {
            self.error(format!(
                "invalid fully-qualified name `{s}`; expected `package:module#name`"
            ))
        })
    }
}

/// A name from an object key (canonical form), with the object's node for errors.
pub(crate) fn key_name(node: &Node<'_, '_>, key: &str) -> Result<Name> {
    Name::parse(key).ok_or_else(|| node.error(format!("invalid name `{key}` as a key")))
}

/// A path from an object key (canonical form).
pub(crate) fn key_path(node: &Node<'_, '_>, key: &str) -> Result<Path> {
    Path::parse(key).ok_or_else(|| node.error(format!("invalid path `{key}` as a key")))
}

/// What a JSON value is, for messages.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.len() <= 40 => format!("the string \"{s}\""),
        Value::String(_) => "a string".into(),
        Value::Array(a) => match a.first() {
            Some(Value::String(tag)) => format!("an array starting with \"{tag}\""),
            _ => format!("an array of {} elements", a.len()),
        },
        Value::Object(o) => {
            let keys: Vec<_> = o.keys().take(4).map(|k| format!("`{k}`")).collect();
            if keys.is_empty() {
                "an empty object".into()
            } else {
                format!("an object with keys {}", keys.join(", "))
            }
        }
    }
}
