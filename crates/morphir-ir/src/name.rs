//! Names, paths and fully-qualified names, and their renderings.
//!
//! A Morphir [`Name`] is a list of lower-case words (`["product", "i", "d"]`), so that every
//! backend can render it in its own convention. An abbreviation is a run of single-letter words
//! (`i`, `d`), which is why `toTitleCase` gives `ProductID`. The renderings here follow
//! morphir-elm's `Morphir.IR.Name` exactly.
//!
//! Canonical strings (`docs/ir.md`): a name is its words joined by `-` (`product-i-d`), a path its
//! names joined by `/` (`morphir/s-d-k`), a fully-qualified name `package:module#local`
//! (`morphir/s-d-k:basics#int`). Words are non-empty and made of `a-z` and `0-9`, so every
//! canonical string reads back to the same words.

use std::fmt;

/// A human-readable identifier made of lower-case words.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Name(Vec<String>);

/// True for a valid word: non-empty, `a-z` and `0-9` only.
pub fn is_word(word: &str) -> bool {
    !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

impl Name {
    /// A name from its words. The words are not checked; see [`Name::parse`] and [`is_word`].
    pub fn from_words<S: Into<String>>(words: impl IntoIterator<Item = S>) -> Self {
        Self(words.into_iter().map(Into::into).collect())
    }

    /// The words.
    pub fn words(&self) -> &[String] {
        &self.0
    }

    /// Reads a canonical name (`product-i-d`). Also accepts the initialism segments of the v4
    /// draft (`product-ID`, `value-in-(usd)`), which become runs of single-letter words.
    pub fn parse(text: &str) -> Option<Self> {
        let mut words = Vec::new();
        for segment in text.split('-') {
            if let Some(inner) = segment.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
                if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return None;
                }
                words.extend(inner.chars().map(|c| c.to_ascii_lowercase().to_string()));
            } else if is_word(segment) {
                words.push(segment.to_owned());
            } else if !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            {
                words.extend(segment.chars().map(|c| c.to_ascii_lowercase().to_string()));
            } else {
                return None;
            }
        }
        Some(Self(words))
    }

    /// Splits an identifier in any common convention into words, like morphir-elm's
    /// `Name.fromString`: `fooBar_baz 123` and `valueInUSD` give `foo-bar-baz-123` and
    /// `value-in-u-s-d`. Upper-case letters and non-alphanumeric characters start a new word.
    pub fn from_identifier(text: &str) -> Self {
        let mut words = Vec::new();
        let mut current = String::new();
        let mut in_digits = false;
        for c in text.chars() {
            if c.is_ascii_uppercase() {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                current.push(c.to_ascii_lowercase());
                in_digits = false;
            } else if c.is_ascii_lowercase() {
                if in_digits && !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                current.push(c);
                in_digits = false;
            } else if c.is_ascii_digit() {
                if !in_digits && !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                current.push(c);
                in_digits = true;
            } else {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                in_digits = false;
            }
        }
        if !current.is_empty() {
            words.push(current);
        }
        Self(words)
    }

    /// `ProductID`: every word capitalised.
    pub fn to_title_case(&self) -> String {
        self.0.iter().map(|w| capitalize(w)).collect()
    }

    /// `productID`: like title case, but the first word stays lower-case.
    pub fn to_camel_case(&self) -> String {
        let mut out = String::new();
        for (i, w) in self.0.iter().enumerate() {
            if i == 0 {
                out.push_str(w);
            } else {
                out.push_str(&capitalize(w));
            }
        }
        out
    }

    /// `product_ID`: the [human words](Self::to_human_words) joined by `_`.
    pub fn to_snake_case(&self) -> String {
        self.to_human_words().join("_")
    }

    /// The words with every run of single-letter words turned into one upper-case abbreviation:
    /// `value-in-u-s-d` gives `["value", "in", "USD"]`. A name of one single-letter word stays
    /// as it is (`a`).
    pub fn to_human_words(&self) -> Vec<String> {
        if self.0.len() == 1 && self.0[0].chars().count() == 1 {
            return self.0.clone();
        }
        let mut out = Vec::new();
        let mut abbrev = String::new();
        for w in &self.0 {
            if w.chars().count() == 1 {
                abbrev.push_str(&w.to_uppercase());
            } else {
                if !abbrev.is_empty() {
                    out.push(std::mem::take(&mut abbrev));
                }
                out.push(w.clone());
            }
        }
        if !abbrev.is_empty() {
            out.push(abbrev);
        }
        out
    }
}

fn capitalize(word: &str) -> String {
    let mut c = word.chars();
    c.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(c).collect::<String>()
    })
}

impl fmt::Display for Name {
    /// The canonical string: words joined by `-`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, w) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            f.write_str(w)?;
        }
        Ok(())
    }
}

/// A list of names: a package name or a module name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Path(Vec<Name>);

impl Path {
    /// A path from its names.
    pub fn from_names(names: impl IntoIterator<Item = Name>) -> Self {
        Self(names.into_iter().collect())
    }

    /// The names.
    pub fn names(&self) -> &[Name] {
        &self.0
    }

    /// Reads a canonical path (`morphir/s-d-k`). Also accepts `.` as separator (v4 drafts).
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() {
            return Some(Self::default());
        }
        text.split(['/', '.'])
            .map(Name::parse)
            .collect::<Option<Vec<_>>>()
            .map(Self)
    }

    /// Elm style: every name in title case, joined by `.` (`Morphir.SDK`).
    pub fn to_dotted_title_case(&self) -> String {
        self.0
            .iter()
            .map(Name::to_title_case)
            .collect::<Vec<_>>()
            .join(".")
    }

    /// True if `self` starts with `prefix`.
    pub fn starts_with(&self, prefix: &Path) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

impl fmt::Display for Path {
    /// The canonical string: names joined by `/`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

/// A module within a package: `package:module`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleName {
    /// The package.
    pub package: Path,
    /// The module within it.
    pub module: Path,
}

impl ModuleName {
    /// Elm style: `Morphir.Example.App.Rentals`.
    pub fn to_dotted_title_case(&self) -> String {
        let mut out = self.package.to_dotted_title_case();
        let module = self.module.to_dotted_title_case();
        if !out.is_empty() && !module.is_empty() {
            out.push('.');
        }
        out.push_str(&module);
        out
    }

    /// Reads `package:module`.
    pub fn parse(text: &str) -> Option<Self> {
        let (package, module) = text.split_once(':')?;
        Some(Self {
            package: Path::parse(package)?,
            module: Path::parse(module)?,
        })
    }
}

impl fmt::Display for ModuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.package, self.module)
    }
}

/// A fully-qualified name: package, module and local name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FQName {
    /// The package.
    pub package: Path,
    /// The module within the package.
    pub module: Path,
    /// The type or value within the module.
    pub local: Name,
}

impl FQName {
    /// A fully-qualified name from its parts.
    pub fn new(package: Path, module: Path, local: Name) -> Self {
        Self {
            package,
            module,
            local,
        }
    }

    /// Reads `package:module#local` (`morphir/s-d-k:basics#int`).
    pub fn parse(text: &str) -> Option<Self> {
        let (package, rest) = text.split_once(':')?;
        let (module, local) = rest.split_once('#')?;
        Some(Self {
            package: Path::parse(package)?,
            module: Path::parse(module)?,
            local: Name::parse(local)?,
        })
    }

    /// The module this name belongs to.
    pub fn module_name(&self) -> ModuleName {
        ModuleName {
            package: self.package.clone(),
            module: self.module.clone(),
        }
    }

    /// Elm style: `Morphir.SDK.Basics.Int`.
    pub fn to_dotted_title_case(&self) -> String {
        format!(
            "{}.{}",
            self.module_name().to_dotted_title_case(),
            self.local.to_title_case()
        )
    }
}

impl fmt::Display for FQName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}#{}", self.package, self.module, self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(words: &[&str]) -> Name {
        Name::from_words(words.iter().copied())
    }

    #[test]
    fn renderings_follow_morphir_elm() {
        let usd = n(&["value", "in", "u", "s", "d"]);
        assert_eq!(usd.to_title_case(), "ValueInUSD");
        assert_eq!(usd.to_camel_case(), "valueInUSD");
        assert_eq!(usd.to_snake_case(), "value_in_USD");
        assert_eq!(usd.to_string(), "value-in-u-s-d");
        let foo = n(&["foo", "bar", "baz", "123"]);
        assert_eq!(foo.to_title_case(), "FooBarBaz123");
        assert_eq!(foo.to_camel_case(), "fooBarBaz123");
        assert_eq!(foo.to_snake_case(), "foo_bar_baz_123");
        assert_eq!(n(&["a"]).to_snake_case(), "a");
        assert_eq!(n(&["i", "d"]).to_snake_case(), "ID");
    }

    #[test]
    fn identifiers_split_into_words() {
        assert_eq!(
            Name::from_identifier("fooBar_baz 123"),
            n(&["foo", "bar", "baz", "123"])
        );
        assert_eq!(
            Name::from_identifier("valueInUSD"),
            n(&["value", "in", "u", "s", "d"])
        );
        assert_eq!(
            Name::from_identifier("value_in_USD"),
            n(&["value", "in", "u", "s", "d"])
        );
        assert_eq!(Name::from_identifier("_-%"), Name::default());
    }

    #[test]
    fn canonical_strings_and_v4_initialisms() {
        let fq = FQName::parse("morphir/s-d-k:basics#int").unwrap();
        assert_eq!(fq.package.to_dotted_title_case(), "Morphir.SDK");
        assert_eq!(fq.to_string(), "morphir/s-d-k:basics#int");
        assert_eq!(fq.to_dotted_title_case(), "Morphir.SDK.Basics.Int");
        assert_eq!(Name::parse("user-ID").unwrap(), n(&["user", "i", "d"]));
        assert_eq!(
            Name::parse("value-in-(usd)").unwrap(),
            n(&["value", "in", "u", "s", "d"])
        );
        assert!(Name::parse("Usd").is_none());
        assert!(Name::parse("a--b").is_none());
        assert!(FQName::parse("a:b").is_none());
        let m = ModuleName::parse("morphir/example/app:rentals").unwrap();
        assert_eq!(m.to_dotted_title_case(), "Morphir.Example.App.Rentals");
    }

    proptest! {
        #[test]
        fn canonical_names_round_trip(words in proptest::collection::vec("[a-z0-9]{1,6}", 1..5)) {
            let name = Name::from_words(words);
            prop_assert_eq!(Name::parse(&name.to_string()), Some(name));
        }

        #[test]
        fn canonical_fqnames_round_trip(
            pkg in proptest::collection::vec(proptest::collection::vec("[a-z0-9]{1,4}", 1..3), 1..3),
            module in proptest::collection::vec(proptest::collection::vec("[a-z0-9]{1,4}", 1..3), 1..3),
            local in proptest::collection::vec("[a-z0-9]{1,4}", 1..3),
        ) {
            let fq = FQName::new(
                Path::from_names(pkg.into_iter().map(Name::from_words)),
                Path::from_names(module.into_iter().map(Name::from_words)),
                Name::from_words(local),
            );
            prop_assert_eq!(FQName::parse(&fq.to_string()), Some(fq));
        }

        #[test]
        fn title_case_splits_back_into_the_same_words_without_abbreviations(
            words in proptest::collection::vec("[a-z]{2,6}", 1..5)
        ) {
            let name = Name::from_words(words);
            prop_assert_eq!(Name::from_identifier(&name.to_title_case()), name.clone());
            prop_assert_eq!(Name::from_identifier(&name.to_camel_case()), name.clone());
            prop_assert_eq!(Name::from_identifier(&name.to_snake_case()), name);
        }
    }
}
