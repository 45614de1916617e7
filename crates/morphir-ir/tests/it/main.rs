//! Integration tests of the IR readers and the canonical writer: the repository's own fixtures
//! (always), and the real IR samples of `../shared/ir-samples/` when present.

use std::io::Write as _;
use std::path::PathBuf;

use morphir_ir::{Error, FQName, Ir, Name, Path, Type, TypeBody, read, write_canonical};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The shared real IR samples: `$MORPHIR_IR_SAMPLES`, else `<repo>/../shared/ir-samples`.
fn samples_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MORPHIR_IR_SAMPLES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ir-samples"),
        PathBuf::from,
    );
    if dir.is_dir() {
        Some(dir)
    } else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: no IR samples at {} (set MORPHIR_IR_SAMPLES to run this test)",
            dir.display()
        );
        None
    }
}

fn canonical(bytes: &[u8]) -> Vec<u8> {
    write_canonical(&read(bytes).unwrap_or_else(|e| panic!("{e}")))
}

fn stripped(bytes: &[u8]) -> Vec<u8> {
    let mut ir = read(bytes).unwrap();
    ir.strip_docs();
    write_canonical(&ir)
}

#[test]
fn the_three_classic_encodings_of_one_model_canonicalise_identically() {
    let v1 = fixture("shop_v1.json");
    let v2 = fixture("shop_v2.json");
    let v3 = fixture("shop_v3.json");
    // v1 has no documentation, v2 documents types, v3 types, values and modules.
    assert_eq!(stripped(&v1), stripped(&v2));
    assert_eq!(stripped(&v2), stripped(&v3));
    assert_ne!(canonical(&v2), canonical(&v3), "v3 keeps its value docs");
    let text = String::from_utf8(canonical(&v3)).unwrap();
    assert!(
        text.starts_with(
            r#"{"dependencies":{},"format":"morphir-ir-canonical","packages":{"my/shop":"#
        ),
        "{text}"
    );
    assert!(text.contains(r#""doc":"The quantity of a line.""#));
}

#[test]
fn canonical_output_reads_back_to_the_same_model_and_bytes() {
    for f in [
        "shop_v1.json",
        "shop_v2.json",
        "shop_v3.json",
        "shop_v4.json",
    ] {
        let ir = read(&fixture(f)).unwrap();
        let bytes = write_canonical(&ir);
        let back = read(&bytes).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(back == ir, "{f}");
        assert_eq!(write_canonical(&back), bytes, "{f}");
        // Canonical bytes are what a JSON library with sorted keys writes, too.
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(serde_json::to_vec(&value).unwrap(), bytes, "{f}");
    }
}

#[test]
fn v4_is_read_tolerantly() {
    let ir = read(&fixture("shop_v4.json")).unwrap();
    let pkg = Path::parse("my/shop").unwrap();
    let money = &ir.packages[&pkg].modules[&Path::parse("money").unwrap()];
    assert_eq!(money.doc.as_deref(), Some("Money and currencies."));
    let currency = &money.types[&Name::parse("currency").unwrap()];
    let TypeBody::Custom { constructors, .. } = &currency.body else {
        panic!("{currency:?}")
    };
    // v4 initialisms are runs of single-letter words, like v1-v3 abbreviations.
    assert!(constructors.contains_key(&Name::parse("e-u-r").unwrap()));
    let page = &money.types[&Name::parse("page").unwrap()];
    assert_eq!(page.params, [Name::parse("a").unwrap()]);
    let TypeBody::Alias(Type::Record(_, fields)) = &page.body else {
        panic!("{page:?}")
    };
    let Type::Reference(_, list, args) = &fields[0].tpe else {
        panic!()
    };
    assert_eq!(list, &FQName::parse("morphir/sdk:list#list").unwrap());
    assert!(matches!(&args[0], Type::Variable(_, a) if a.to_string() == "a"));
    let zero = &money.values[&Name::parse("zero").unwrap()];
    assert!(zero.def.body.is_none(), "v4 bodies are not read");
}

fn err(text: &str) -> Error {
    read(text.as_bytes()).expect_err("bad IR accepted")
}

#[test]
fn bad_ir_is_refused_with_the_json_path() {
    let v3 = String::from_utf8(fixture("shop_v3.json")).unwrap();

    // An unknown tag.
    let e = err(&v3.replacen("\"Reference\"", "\"Refrence\"", 1));
    assert!(e.message.contains("unknown type tag \"Refrence\""), "{e}");
    assert!(e.message.contains("Reference"), "lists the known tags: {e}");
    assert_eq!(
        e.path,
        "$.distribution[3].modules[0][1].value.types[1][1].value.value[2][2][0].tpe"
    );
}

#[test]
fn wrong_shapes_are_refused_with_the_json_path() {
    let e = err(
        r#"{"formatVersion": 3, "distribution": ["Library", [["a"]], [], {"modules": [[[["m"]], {"access": "Public", "value": {"types": [[["t"], {"access": "Public", "value": {"doc": "", "value": ["TypeAliasDefinition", [], ["Unit"]]}}]], "values": []}}]]}]}"#,
    );
    assert_eq!(
        e.path,
        "$.distribution[3].modules[0][1].value.types[0][1].value.value[2]"
    );
    assert!(
        e.message
            .contains("`Unit` takes 1 elements after the tag, found 0"),
        "{e}"
    );

    let e =
        err(r#"{"formatVersion": 2, "distribution": ["Library", [["a"]], [], {"modulez": []}]}"#);
    assert_eq!(e.path, "$.distribution[3]");
    assert!(e.message.contains("missing key `modules`"), "{e}");

    let e =
        err(r#"{"formatVersion": 2, "distribution": ["Library", [["A"]], [], {"modules": []}]}"#);
    assert_eq!(e.path, "$.distribution[1][0][0]");

    let e = err(r#"{"formatVersion": 9, "distribution": []}"#);
    assert_eq!(e.path, "$.formatVersion");

    let e = err("[1, 2]");
    assert_eq!(e.path, "$");
    assert!(e.message.contains("expected a Morphir IR document"), "{e}");

    let e = err(
        r#"{"format": "morphir-ir-canonical", "version": 1, "packages": {"a": {"modules": {"m": {"types": {"t": {"kind": "alias", "type": {"kind": "Nope"}}}}}}}}"#,
    );
    assert_eq!(e.path, "$.packages.a.modules.m.types.t.type.kind");
}

#[test]
fn truncated_ir_is_refused_with_the_json_path() {
    let v3 = fixture("shop_v3.json");
    let e = read(&v3[..v3.len() / 2]).expect_err("truncated accepted");
    assert!(e.message.contains("ends early"), "{e}");
    assert!(
        e.path.starts_with("$.distribution[3].modules[1][1].value"),
        "{e}"
    );
}

#[test]
fn a_type_closure_follows_references() {
    let ir = read(&fixture("shop_v3.json")).unwrap();
    let order = FQName::parse("my/shop:orders#order").unwrap();
    let names: Vec<String> = ir
        .type_closure([order])
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        names,
        [
            "my/shop:money#amount",
            "my/shop:money#currency",
            "my/shop:orders#line",
            "my/shop:orders#order",
            "my/shop:orders#order-i-d",
            "my/shop:orders#status"
        ]
    );
}

#[test]
fn real_samples_read_and_v1_v2_canonicalise_byte_identically() {
    let Some(dir) = samples_dir() else { return };
    let v1 = std::fs::read(dir.join("real_v1.json")).unwrap();
    let v2 = std::fs::read(dir.join("real_v2.json")).unwrap();
    assert_ne!(v1, v2);
    assert_eq!(canonical(&v1), canonical(&v2));
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        if doc.get("distribution").is_none() {
            // v4-literal-examples.json: literal fragments, not a distribution.
            assert!(read(&bytes).is_err());
            continue;
        }
        let ir = read(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let out = write_canonical(&ir);
        assert!(read(&out).unwrap() == ir, "{}", path.display());
    }
}

// ------------------------------------------------------------------------------------------------
// Property tests

fn arb_name() -> impl Strategy<Value = Name> {
    proptest::collection::vec("[a-z][a-z0-9]{0,4}", 1..3).prop_map(Name::from_words)
}

fn arb_fqname() -> impl Strategy<Value = FQName> {
    (arb_name(), arb_name(), arb_name())
        .prop_map(|(p, m, l)| FQName::new(Path::from_names([p]), Path::from_names([m]), l))
}

fn arb_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![
        arb_name().prop_map(|n| Type::Variable(None, n)),
        arb_fqname().prop_map(|f| Type::Reference(None, f, Vec::new())),
        Just(Type::Unit(None)),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            (arb_fqname(), proptest::collection::vec(inner.clone(), 0..3))
                .prop_map(|(f, a)| Type::Reference(None, f, a)),
            proptest::collection::vec(inner.clone(), 0..3).prop_map(|e| Type::Tuple(None, e)),
            proptest::collection::btree_map(arb_name(), inner.clone(), 0..3).prop_map(|m| {
                Type::Record(
                    None,
                    m.into_iter()
                        .map(|(name, tpe)| morphir_ir::Field { name, tpe })
                        .collect(),
                )
            }),
            (inner.clone(), inner).prop_map(|(a, b)| Type::Function(
                None,
                Box::new(a),
                Box::new(b)
            )),
        ]
    })
}

fn ir_with(types: Vec<(Name, Type)>) -> Ir {
    let mut ir = Ir::default();
    let mut module = morphir_ir::Module::default();
    for (name, t) in types {
        module.types.insert(
            name,
            morphir_ir::TypeDecl {
                access: morphir_ir::Access::Public,
                doc: Some("d".into()),
                params: Vec::new(),
                body: TypeBody::Alias(t),
            },
        );
    }
    let mut package = morphir_ir::Package::default();
    package.modules.insert(Path::parse("m").unwrap(), module);
    ir.packages.insert(Path::parse("p").unwrap(), package);
    ir
}

proptest! {
    #[test]
    fn canonical_form_round_trips(types in proptest::collection::vec((arb_name(), arb_type()), 0..4)) {
        let ir = ir_with(types);
        let bytes = write_canonical(&ir);
        let back = read(&bytes).unwrap();
        prop_assert_eq!(&back, &ir);
        prop_assert_eq!(write_canonical(&back), bytes);
    }

    #[test]
    fn readers_never_panic_on_corrupted_input(cut in 0usize..7000, flip in 0usize..7000, byte in any::<u8>()) {
        let mut bytes = fixture("shop_v3.json");
        let at = flip % bytes.len();
        bytes[at] = byte;
        bytes.truncate(cut.max(1));
        let _ = read(&bytes);
    }
}
