//! The `ir_helpers` host function's work, done by the shared IR library (`morphir-ir`, the same
//! code the IR frontend and backends link), so every extension agrees with it: name renderings,
//! canonical fully-qualified names, and converting IR JSON between formats.

use morphir_envelope::stdlib::{FQNameParts, FQNameWords, NameForms};
use morphir_ir::{FQName, Name, Path};

/// Splits an identifier in any convention into lower-case words, as morphir-elm's
/// `Name.fromString` does: `valueInUSD` gives `value`, `in`, `u`, `s`, `d`.
pub(crate) fn words(identifier: &str) -> Vec<String> {
    Name::from_identifier(identifier).words().to_vec()
}

/// Every rendering of the name made of `words`.
pub(crate) fn forms(words: Vec<String>) -> NameForms {
    let name = Name::from_words(words);
    NameForms {
        camel_case: name.to_camel_case(),
        title_case: name.to_title_case(),
        snake_case: name.to_snake_case(),
        canonical: name.to_string(),
        words: name.words().to_vec(),
    }
}

fn path_words(path: &Path) -> Vec<Vec<String>> {
    path.names().iter().map(|n| n.words().to_vec()).collect()
}

/// Parses `package:module#local`.
pub(crate) fn parse_fqname(text: &str) -> Result<FQNameParts, String> {
    let fq = FQName::parse(text).ok_or_else(|| {
        format!("`{text}` is not a fully-qualified name `package:module#local` (canonical names)")
    })?;
    Ok(FQNameParts {
        package: fq.package.to_string(),
        module: fq.module.to_string(),
        local: fq.local.to_string(),
        words: Some(FQNameWords {
            package: path_words(&fq.package),
            module: path_words(&fq.module),
            local: fq.local.words().to_vec(),
        }),
    })
}

/// Prints `package:module#local`, checking each part is canonical.
pub(crate) fn print_fqname(parts: &FQNameParts) -> Result<String, String> {
    let path = |text: &str, what: &str| {
        Path::parse(text).ok_or_else(|| format!("{what} `{text}` is not a canonical path"))
    };
    let fq = FQName::new(
        path(&parts.package, "package")?,
        path(&parts.module, "module")?,
        Name::parse(&parts.local)
            .ok_or_else(|| format!("local name `{}` is not a canonical name", parts.local))?,
    );
    Ok(fq.to_string())
}

/// The format `convert` writes.
pub(crate) const CONVERT_TO: &str = "canonical";

/// Reads IR JSON in any format the IR library knows (morphir-elm formatVersion 1-3, the v4
/// draft, canonical) and writes it in the canonical form.
pub(crate) fn convert(ir: &serde_json::Value) -> Result<serde_json::Value, String> {
    let model = morphir_ir::read_value(ir).map_err(|e| e.to_string())?;
    serde_json::from_slice(&morphir_ir::write_canonical(&model)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renderings_follow_morphir_elm() {
        let f = forms(words("valueInUSD"));
        assert_eq!(f.words, ["value", "in", "u", "s", "d"]);
        assert_eq!(f.camel_case, "valueInUSD");
        assert_eq!(f.title_case, "ValueInUSD");
        assert_eq!(f.snake_case, "value_in_USD");
        assert_eq!(f.canonical, "value-in-u-s-d");
        assert_eq!(words("foo_bar-baz 42"), ["foo", "bar", "baz", "42"]);
        assert_eq!(words("value-in-u-s-d"), f.words);
        assert_eq!(forms(words("ProductID")).snake_case, "product_ID");
    }

    #[test]
    fn fully_qualified_names_round_trip() {
        let parts = parse_fqname("morphir/s-d-k:basics#int").unwrap();
        assert_eq!(parts.package, "morphir/s-d-k");
        assert_eq!(
            parts.words.as_ref().unwrap().package,
            [vec!["morphir"], vec!["s", "d", "k"]]
        );
        assert_eq!(print_fqname(&parts).unwrap(), "morphir/s-d-k:basics#int");
        assert!(parse_fqname("a:b").is_err());
        assert!(parse_fqname("Not Canonical").is_err());
    }
}
