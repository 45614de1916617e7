//! The cache under concurrent processes and under inputs that change mid-build, through the
//! real binary (RELIABILITY.md).

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use morphir_cache::{Key, Lookup, Store};
use morphir_tests::{Project, stderr, steps_with};

fn config(tasks: usize) -> String {
    let mut c = String::from(
        r#"
[project]
name = "busy"

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{echo}" }
"#,
    );
    for t in 0..tasks {
        let _ = write!(
            c,
            "\n[tasks.t{t}]\nfrontend = {{ extension = \"echo\", inputs = [\"in/{t}.txt\"] }}\n\
             transforms = [{{ extension = \"echo\" }}]\n\
             backends = [{{ extension = \"echo\", output = \"out{{N}}/t{t}\", config = {{ mode = \"files\" }} }}]\n"
        );
    }
    c
}

/// Every record of the store, looked up (verified).
fn verify_all(store: &Store) -> (usize, usize) {
    let (mut hits, mut bad) = (0, 0);
    for shard in std::fs::read_dir(store.bucket().join("actions"))
        .unwrap()
        .flatten()
    {
        for e in std::fs::read_dir(shard.path()).unwrap().flatten() {
            let Ok(key) = e.file_name().to_string_lossy().parse::<Key>() else {
                continue;
            };
            match store.lookup(&key).unwrap() {
                Lookup::Hit(_) => hits += 1,
                Lookup::Corrupt(_) => bad += 1,
                Lookup::Miss => {}
            }
        }
    }
    (hits, bad)
}

#[test]
fn several_builds_share_one_cache_while_it_is_pruned() {
    const BUILDS: usize = 3;
    const TASKS: usize = 4;
    // Each build process writes its own output directories (`out<N>`) from the same inputs and
    // one shared cache directory; a prune evicting everything runs in a loop meanwhile.
    let home = tempfile::tempdir().unwrap();
    let projects: Vec<Project> = (0..BUILDS)
        .map(|n| {
            let p = Project::new(&config(TASKS).replace("{N}", &n.to_string()));
            for t in 0..TASKS {
                p.write(&format!("in/{t}.txt"), &format!("input {t}\n").repeat(500));
            }
            p
        })
        .collect();
    let shared = tempfile::tempdir().unwrap();
    let cache = shared.path().join("cache");
    let cmd = |p: &Project, args: &[&str]| {
        let mut c = Command::new(morphir_tests::morphir_bin());
        c.current_dir(p.path())
            .args(args)
            .env("XDG_CACHE_HOME", home.path())
            .env("MORPHIR_CACHE_DIR", &cache)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    for round in 0..3 {
        // Change one input per round so every round writes new entries.
        for p in &projects {
            p.write("in/0.txt", &format!("round {round}\n").repeat(500));
        }
        let builds: Vec<_> = projects
            .iter()
            .map(|p| cmd(p, &["build", "--jobs", "2"]).spawn().unwrap())
            .collect();
        let mut prunes = Vec::new();
        for _ in 0..4 {
            prunes.push(
                cmd(&projects[0], &["cache", "prune", "--max-size", "1B"])
                    .output()
                    .unwrap(),
            );
        }
        for (n, b) in builds.into_iter().enumerate() {
            let out = b.wait_with_output().unwrap();
            let err = stderr(&out);
            assert!(out.status.success(), "round {round}, build {n}: {err}");
            assert!(!err.contains("thread '"), "{err}");
            for t in 0..TASKS {
                let expected = if t == 0 {
                    format!("round {round}\n").repeat(500)
                } else {
                    format!("input {t}\n").repeat(500)
                };
                assert_eq!(
                    projects[n].read(&format!("out{n}/t{t}/in/{t}.txt")),
                    expected,
                    "round {round}, build {n}, task {t}"
                );
            }
        }
        for out in prunes {
            assert!(out.status.success(), "{}", stderr(&out));
            assert!(!stderr(&out).contains("thread '"));
        }
        // Whatever the prunes left verifies.
        let (_, bad) = verify_all(&Store::open(&cache).unwrap());
        assert_eq!(bad, 0, "round {round}: corrupt entries");
    }
    // Quiet now: one more build of each fills the cache, and then every build is a full hit.
    for (n, p) in projects.iter().enumerate() {
        let out = cmd(p, &["build"]).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let out = cmd(p, &["build", "--json"]).output().unwrap();
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            steps_with(&summary, "cached").len(),
            TASKS * 3,
            "build {n}: {summary}"
        );
    }
    // The projects differ only in their output directories, which are not part of a step's
    // key: they share entries.
    let (hits, bad) = verify_all(&Store::open(&cache).unwrap());
    assert_eq!(bad, 0);
    assert!(hits >= TASKS * 3, "{hits}");
}

/// Answers one HTTP request on 127.0.0.1 per `go` message: it accepts the connection, tells
/// the test (`accepted`), waits for the go-ahead, then responds.
fn held_server() -> (
    u16,
    std::sync::mpsc::Receiver<()>,
    std::sync::mpsc::Sender<()>,
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted_tx, accepted_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = accepted_tx.send(());
            if go_rx.recv().is_err() {
                return;
            }
            let body = "remote";
            let _ = std::io::Write::write_fmt(
                &mut stream,
                format_args!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                ),
            );
        }
    });
    (port, accepted_rx, go_tx)
}

#[test]
fn an_input_edited_while_its_step_runs_is_not_cached_under_a_stale_key() {
    // The step is held inside its call (an HTTP request the test answers when it wants), and
    // the input is edited meanwhile. The key is computed from the bytes the step was given, so
    // the entry is found again only with the old bytes, never with the new ones.
    let (port, accepted, go) = held_server();
    let p = Project::new(&format!(
        r#"
[project]
name = "edit"

[[extensions]]
name = "echo"
source = {{ type = "wasm", path = "{{echo}}" }}
permissions = {{ allowed_hosts = ["127.0.0.1"] }}

[tasks.t]
frontend = {{ extension = "echo", inputs = ["in.txt"], config = {{ mode = "http", arg = "http://127.0.0.1:{port}/" }} }}
cache_http = true
"#
    ));
    p.write("in.txt", "old");
    let build = |p: &Project| {
        let mut c = Command::new(morphir_tests::morphir_bin());
        c.current_dir(p.path())
            .args(["build", "--json", "--explain"])
            .env("XDG_CACHE_HOME", p.path().join(".home"))
            .env_remove("RUST_LOG")
            .env_remove("MORPHIR_CACHE_DIR")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.spawn().unwrap()
    };
    let child = build(&p);
    accepted.recv().unwrap(); // the step is now inside its call
    p.write("in.txt", "new");
    go.send(()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let first: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(steps_with(&first, "executed"), ["t:frontend"]);

    // The file now says "new": the entry made from "old" must not be served.
    go.send(()).unwrap();
    let out = build(&p).wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let second: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(steps_with(&second, "executed"), ["t:frontend"], "{second}");
    assert!(
        second.to_string().contains("input file in.txt changed"),
        "{second}"
    );
    assert_ne!(first["steps"][0]["key"], second["steps"][0]["key"]);

    // Back to "old": the first run's entry is that content's, and is served.
    p.write("in.txt", "old");
    let out = build(&p).wait_with_output().unwrap();
    let third: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(steps_with(&third, "cached"), ["t:frontend"], "{third}");
    assert_eq!(first["steps"][0]["key"], third["steps"][0]["key"]);
    drop(go);
}
