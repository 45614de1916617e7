//! Key sensitivity: what must change a key, what must not, and preimage unambiguity.

use morphir_cache::{Digest, Key, KeyBuilder, content_digest};
use morphir_envelope::{Envelope, Header};
use proptest::prelude::*;
use serde_json::{Value, json};

#[derive(Clone)]
struct Inputs {
    morphir: String,
    abi: u32,
    wasm: Vec<u8>,
    config: Value,
    permissions: Value,
    operation: String,
    env: Vec<(String, Option<String>)>,
    upstream: Vec<(String, Envelope)>,
    files: Vec<(String, Vec<u8>)>,
}

fn base() -> Inputs {
    Inputs {
        morphir: "0.1.0".into(),
        abi: 1,
        wasm: Digest::of(b"wasm module").as_bytes().to_vec(),
        config: json!({"strict": true, "targets": ["scala", "ts"], "opts": {"a": 1, "b": 2}}),
        permissions: json!({"read": ["src"]}),
        operation: "transform".into(),
        env: vec![("FOO".into(), Some("1".into())), ("BAR".into(), None)],
        upstream: vec![
            (
                "parse".into(),
                Envelope::new("application/morphir-ir+json", "{}"),
            ),
            ("lint".into(), Envelope::new("application/json", "[]")),
        ],
        files: vec![
            ("src/a.json".into(), b"[1]".to_vec()),
            ("src/b.json".into(), b"[2]".to_vec()),
        ],
    }
}

fn key(i: &Inputs) -> Key {
    let mut b = KeyBuilder::new(&i.morphir);
    b.abi_version(i.abi)
        .extension_wasm(&i.wasm)
        .config(&i.config)
        .permissions(&i.permissions)
        .operation(&i.operation);
    for (name, value) in &i.env {
        b.env_var(name, value.as_deref());
    }
    for (name, env) in &i.upstream {
        b.upstream(name, env);
    }
    for (path, content) in &i.files {
        b.input_file(path, &Digest::of(content));
    }
    let (key, manifest) = b.finish().unwrap();
    assert_eq!(manifest.key(), key);
    key
}

#[test]
fn every_input_changes_the_key() {
    type Mutation = (&'static str, fn(&mut Inputs));
    let mutations: &[Mutation] = &[
        ("morphir version", |i| i.morphir = "0.1.1".into()),
        ("abi", |i| i.abi = 2),
        ("wasm hash byte", |i| i.wasm[31] ^= 1),
        ("config value", |i| i.config["opts"]["a"] = json!(3)),
        ("config int vs float", |i| {
            i.config["opts"]["a"] = json!(1.0);
        }),
        ("config array order", |i| {
            i.config["targets"] = json!(["ts", "scala"]);
        }),
        ("permissions", |i| {
            i.permissions = json!({"read": ["src", "gen"]});
        }),
        ("operation", |i| i.operation = "backend-generate".into()),
        ("env value", |i| i.env[0].1 = Some("2".into())),
        ("env unset -> empty", |i| i.env[1].1 = Some(String::new())),
        ("env set -> unset", |i| i.env[0].1 = None),
        ("env added", |i| i.env.push(("BAZ".into(), None))),
        ("env name", |i| i.env[0].0 = "FOO2".into()),
        ("upstream content", |i| {
            i.upstream[0].1.content = b"{ }".to_vec();
        }),
        ("upstream content type", |i| {
            i.upstream[0].1.content_type = "application/json".into();
        }),
        ("upstream order", |i| i.upstream.swap(0, 1)),
        ("upstream name", |i| i.upstream[0].0 = "parse2".into()),
        ("file path", |i| i.files[0].0 = "src/c.json".into()),
        ("file content", |i| i.files[0].1[1] = b'3'),
        ("file removed", |i| {
            i.files.pop();
        }),
    ];
    let base_key = key(&base());
    let mut seen = std::collections::HashMap::new();
    seen.insert(base_key, "base");
    for (what, mutate) in mutations {
        let mut i = base();
        mutate(&mut i);
        let k = key(&i);
        if let Some(prev) = seen.insert(k, what) {
            panic!("`{what}` gives the same key as `{prev}`");
        }
    }
}

#[test]
fn presentation_does_not_change_the_key() {
    let base_key = key(&base());
    // Config object keys in another order (parsed from text, so insertion order differs).
    let mut i = base();
    i.config = serde_json::from_str(
        r#"{"opts": {"b": 2, "a": 1}, "targets": ["scala", "ts"], "strict": true}"#,
    )
    .unwrap();
    assert_eq!(key(&i), base_key);
    // Upstream headers are host bookkeeping.
    let mut i = base();
    for (n, (_, env)) in i.upstream.iter_mut().enumerate() {
        env.header = Header {
            seqnum: 1000 + n as u64,
            session_id: "another build".into(),
            kind: Some("info".into()),
        };
    }
    assert_eq!(key(&i), base_key);
    // Env vars and files are sets: call order does not matter.
    let mut i = base();
    i.env.reverse();
    i.files.reverse();
    assert_eq!(key(&i), base_key);
}

#[test]
fn preimages_are_unambiguous() {
    let k = |f: &dyn Fn(&mut KeyBuilder)| {
        let mut b = KeyBuilder::new("v");
        f(&mut b);
        b.finish().unwrap().0
    };
    let d = Digest::of(b"x");
    let pairs: Vec<(Key, Key)> = vec![
        (
            k(&|b| {
                b.extra("ab", b"c");
            }),
            k(&|b| {
                b.extra("a", b"bc");
            }),
        ),
        (
            k(&|b| {
                b.env_var("ab", Some("c"));
            }),
            k(&|b| {
                b.env_var("a", Some("bc"));
            }),
        ),
        (
            k(&|b| {
                b.env_var("A", Some(""));
            }),
            k(&|b| {
                b.env_var("A", None);
            }),
        ),
        (
            k(&|b| {
                b.extra("x", b"");
            }),
            k(&|b| {
                b.env_var("x", Some(""));
            }),
        ),
        (
            k(&|b| {
                b.input_file("a/b", &d);
            }),
            k(&|b| {
                b.input_file("a", &d);
                b.input_file("b", &d);
            }),
        ),
        (
            k(&|b| {
                b.operation("ab");
            }),
            k(&|b| {
                b.operation("a");
                b.extra("b", b"");
            }),
        ),
        (
            k(&|b| {
                b.config(&json!("ab"));
            }),
            k(&|b| {
                b.permissions(&json!("ab"));
            }),
        ),
    ];
    for (n, (a, b)) in pairs.iter().enumerate() {
        assert_ne!(a, b, "pair {n} collides");
    }
    // The morphir version is length-prefixed too.
    let a = KeyBuilder::new("1").extra("2", b"").finish().unwrap().0;
    let b = KeyBuilder::new("12").extra("", b"").finish().unwrap().0;
    assert_ne!(a, b);
}

#[test]
fn keys_display_as_hex_and_parse_back() {
    let k = key(&base());
    let s = k.to_string();
    assert_eq!(s.len(), 64);
    assert!(
        s.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(s.parse::<Key>().unwrap(), k);
}

proptest! {
    #[test]
    fn any_content_change_changes_the_key(a in proptest::collection::vec(any::<u8>(), 0..64),
                                          b in proptest::collection::vec(any::<u8>(), 0..64)) {
        let f = |c: &[u8]| KeyBuilder::new("v").input_file("f", &Digest::of(c)).finish().unwrap().0;
        prop_assert_eq!(f(&a) == f(&b), a == b);
        let u = |c: &[u8]| {
            KeyBuilder::new("v").upstream("s", &Envelope::new("t", c)).finish().unwrap().0
        };
        prop_assert_eq!(u(&a) == u(&b), a == b);
    }

    #[test]
    fn headers_never_reach_the_digest(seq in any::<u64>(), session in ".*", kind in proptest::option::of(".*"),
                                      content in proptest::collection::vec(any::<u8>(), 0..32)) {
        let plain = Envelope::new("application/json", content.clone());
        let stamped = plain.clone().with_header(Header { seqnum: seq, session_id: session, kind });
        prop_assert_eq!(content_digest(&plain), content_digest(&stamped));
    }

    #[test]
    fn object_key_order_never_matters(entries in proptest::collection::btree_map("[a-z]{0,3}", any::<i32>(), 0..8)) {
        let forward: String = format!("{{{}}}", entries.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(","));
        let backward: String = format!("{{{}}}", entries.iter().rev().map(|(k, v)| format!(" \"{k}\" : {v} ")).collect::<Vec<_>>().join(","));
        let f: Value = serde_json::from_str(&forward).unwrap();
        let b: Value = serde_json::from_str(&backward).unwrap();
        prop_assert_eq!(morphir_cache::canonical_json(&f), morphir_cache::canonical_json(&b));
        let k = |v: &Value| KeyBuilder::new("v").config(v).finish().unwrap().0;
        prop_assert_eq!(k(&f), k(&b));
    }
}
