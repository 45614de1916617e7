//! The shared remote cache (`[cache.remote]`, docs/remote-cache.md) against a real REAPI server:
//! `BuildGrid`, started by these tests on a free loopback port, killed by a guard.
//!
//! `BuildGrid` comes from `PyPI` (`scripts/install-buildgrid`, which `.ci/run` runs). Without it the
//! tests say so and pass locally; in CI (`CI` set) its absence is a failure.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use morphir_tests::{Project, morphir_with_env, repo_root, stderr, steps_with};
use sha2::Digest as _;

/// A `BuildGrid` server of this test's own; killed (with its process group) when dropped.
struct BuildGrid {
    child: Child,
    dir: tempfile::TempDir,
    endpoint: String,
}

/// `bgd`: `MORPHIR_TEST_BGD`, else the virtualenv `scripts/install-buildgrid` makes, else `PATH`.
fn bgd() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MORPHIR_TEST_BGD") {
        return Some(path.into());
    }
    let local = repo_root().join("target/buildgrid/bin/bgd");
    if local.is_file() {
        return Some(local);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("bgd"))
        .find(|p| p.is_file())
}

/// A server, or `None` (with a message) when `BuildGrid` is not installed outside CI.
fn buildgrid(tls: bool) -> Option<BuildGrid> {
    let Some(bgd) = bgd() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "BuildGrid (bgd) is not installed; .ci/run installs it with scripts/install-buildgrid"
        );
        #[expect(clippy::print_stderr, reason = "the test says why it did nothing")]
        {
            eprintln!(
                "SKIPPED: BuildGrid (bgd) not found: run scripts/install-buildgrid (or set \
                 MORPHIR_TEST_BGD) to run the remote cache tests"
            );
        }
        return None;
    };
    Some(BuildGrid::start(&bgd, tls))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl BuildGrid {
    fn start(bgd: &Path, tls: bool) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let channel = if tls {
            let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
                .expect("a self-signed certificate");
            std::fs::write(dir.path().join("server.crt"), cert.cert.pem()).unwrap();
            std::fs::write(
                dir.path().join("server.key"),
                cert.signing_key.serialize_pem(),
            )
            .unwrap();
            format!(
                "  - !channel\n    address: \"127.0.0.1:{port}\"\n    insecure-mode: false\n    \
                 credentials:\n      tls-server-key: {key}\n      tls-server-cert: {crt}\n",
                key = dir.path().join("server.key").display(),
                crt = dir.path().join("server.crt").display(),
            )
        } else {
            format!("  - !channel\n    address: \"127.0.0.1:{port}\"\n    insecure-mode: true\n")
        };
        // The configuration of the issue (#10): disk CAS, in-memory action cache, no database.
        let config = format!(
            "server:\n{channel}authorization:\n  method: none\nstorages:\n  - !disk-storage \
             &main-storage\n    path: {cas}\ncaches:\n  - !lru-action-cache &main-action\n    \
             storage: *main-storage\n    max-cached-refs: 100000\n    allow-updates: true\n    \
             cache-failed-actions: false\ninstances:\n  - name: \"\"\n    services:\n      - \
             !action-cache\n        cache: *main-action\n      - !cas\n        storage: \
             *main-storage\n      - !bytestream\n        storage: *main-storage\n",
            cas = dir.path().join("cas").display(),
        );
        let config_path = dir.path().join("bgd.yml");
        std::fs::write(&config_path, config).unwrap();
        // bgd runs under a small shell that kills it when our end of its stdin closes: when this
        // guard is dropped, and also when the test process is killed (a nextest timeout), which
        // runs no destructor. bgd itself is detached from the test's stdio.
        let mut command = Command::new("sh");
        command
            .args([
                "-c",
                r#""$0" server start "$1" >"$2" 2>&1 </dev/null & pid=$!; cat >/dev/null; kill -9 $pid"#,
            ])
            .arg(bgd)
            .arg(&config_path)
            .arg(dir.path().join("bgd.log"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("start bgd");
        let host = if tls { "localhost" } else { "127.0.0.1" };
        let scheme = if tls { "grpcs" } else { "grpc" };
        let server = Self {
            child,
            dir,
            endpoint: format!("{scheme}://{host}:{port}"),
        };
        server.wait_until_ready();
        server
    }

    /// Polls Capabilities (through `morphir cache stats --remote`) until the server answers.
    fn wait_until_ready(&self) {
        let probe = Project::new(&format!(
            "[project]\nname = \"probe\"\n\n{}",
            self.remote_table("")
        ));
        self.trust(&probe);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let out = probe.morphir(&["cache", "stats", "--remote", "--json"]);
            let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            if stats["remote"]["reachable"] == true {
                assert_eq!(stats["remote"]["digest_function"], "sha256");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "BuildGrid did not answer Capabilities: {}\n{}",
                stats["remote"],
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// A `[cache.remote]` table for this server, with `extra` lines.
    fn remote_table(&self, extra: &str) -> String {
        let ca = if self.endpoint.starts_with("grpcs") {
            "ca_file = \"ca.pem\"\n"
        } else {
            ""
        };
        format!(
            "[cache.remote]\nendpoint = \"{}\"\ntimeout = \"20s\"\n{ca}{extra}\n",
            self.endpoint
        )
    }

    /// Gives a project the server's certificate as `ca.pem` (TLS servers only).
    fn trust(&self, project: &Project) {
        let crt = self.dir.path().join("server.crt");
        if crt.is_file() {
            project.write("ca.pem", &std::fs::read_to_string(crt).unwrap());
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bgd.log")).unwrap_or_default()
    }

    /// Every blob on the server's disk (`BuildGrid`'s layout: `cas/objects/<2 hex>/<62 hex>`).
    fn blobs(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        let objects = self.dir.path().join("cas/cas/objects");
        for shard in std::fs::read_dir(objects).into_iter().flatten().flatten() {
            for blob in std::fs::read_dir(shard.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = format!(
                    "{}{}",
                    shard.file_name().to_string_lossy(),
                    blob.file_name().to_string_lossy()
                );
                out.push((name, blob.metadata().unwrap().len()));
            }
        }
        out.sort();
        out
    }

    fn blob_path(&self, sha256: &str) -> PathBuf {
        self.dir
            .path()
            .join("cas/cas/objects")
            .join(&sha256[..2])
            .join(&sha256[2..])
    }

    fn stop(&mut self) {
        // bgd may start helpers: the whole process group goes.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for BuildGrid {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The docs project of build.rs (frontend → title-case → html, two tasks), using `server`.
const DOCS: &str = r#"
[project]
name = "docs"

REMOTE

[[extensions]]
name = "docs"
source = { type = "wasm", path = "{docs}" }

[[extensions]]
name = "title-case"
source = { type = "wasm", path = "{title}" }
config = { field = "title" }

[[extensions]]
name = "html"
source = { type = "wasm", path = "{html}" }

[tasks.guides]
frontend = { extension = "docs", inputs = ["guides/*.md"] }
transforms = [{ extension = "title-case" }]
backends = [{ extension = "html", output = "out/guides" }]

[tasks.site]
frontend = { extension = "docs", inputs = ["pages/*.md"] }
transforms = [{ extension = "title-case" }]
backends = [{ extension = "html", output = "out/site", config = { title = "Site" } }]
depends_on = ["guides"]
"#;

const ALL: [&str; 6] = [
    "guides:frontend",
    "guides:transform[0]:title-case",
    "guides:backend:html",
    "site:frontend",
    "site:transform[0]:title-case",
    "site:backend:html",
];

/// A fresh checkout of the docs project (its own directory and local cache).
fn checkout(server: &BuildGrid) -> Project {
    let p = Project::new(&DOCS.replace("REMOTE", &server.remote_table("")));
    server.trust(&p);
    p.write(
        "guides/install.md",
        "# install it\nRun the bootstrap script.\n",
    );
    p.write("guides/use.md", "# use it\nRun morphir build.\n");
    p.write("pages/index.md", "# home page\nWelcome.\n");
    p
}

fn build(p: &Project, env: &[(&str, &str)]) -> (std::process::Output, serde_json::Value) {
    let out = morphir_with_env(p.path(), &["build", "--json"], env);
    let summary = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(out.status.success(), "{}", stderr(&out));
    (out, summary)
}

fn warnings(out: &std::process::Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.contains("WARN"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn two_checkouts_share_results_through_the_server_and_the_second_runs_nothing() {
    let Some(server) = buildgrid(false) else {
        return;
    };
    let a = checkout(&server);
    let (out, first) = build(&a, &[]);
    assert_eq!(steps_with(&first, "executed"), ALL);
    assert_eq!(first["remote"]["uploads"], 6, "{}", stderr(&out));
    assert_eq!(first["remote"]["misses"], 6);
    assert_eq!(first["remote"]["errors"], 0);
    assert!(warnings(&out).is_empty(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "remote cache {}: 0 hits, 6 misses, 6 uploads, 0 errors",
            server.endpoint
        )),
        "{}",
        stderr(&out)
    );

    // Another directory, another local cache: everything comes from the server.
    let b = checkout(&server);
    assert_ne!(a.path(), b.path());
    let (out, second) = build(&b, &[]);
    assert_eq!(steps_with(&second, "executed"), Vec::<String>::new());
    assert_eq!(steps_with(&second, "cached"), ALL);
    assert_eq!(second["remote_hits"], 6);
    assert_eq!(second["local_hits"], 0);
    assert_eq!(second["remote"]["uploads"], 0);
    assert!(
        second["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["remote"] == true)
    );
    assert!(
        stderr(&out).contains("6 cached (0 local, 6 remote)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(b.tree("out"), a.tree("out"), "identical outputs");

    // A remote hit was written to the local cache: the next build does not need the server.
    let (_, third) = build(&b, &[("MORPHIR_REMOTE_CACHE", "off")]);
    assert_eq!(third["local_hits"], 6);
    assert!(third.get("remote").is_none());
    #[expect(clippy::print_stderr, reason = "measured figures for the report")]
    {
        eprintln!(
            "wall ms: executed {} / remote hits {} / local hits {}",
            first["wall_ms"], second["wall_ms"], third["wall_ms"]
        );
    }
}

#[test]
fn read_only_mode_reads_the_shared_cache_and_never_writes_it() {
    let Some(server) = buildgrid(false) else {
        return;
    };
    let read_only = [("MORPHIR_REMOTE_CACHE_UPLOAD", "false")];
    let (_, summary) = build(&checkout(&server), &read_only);
    assert_eq!(steps_with(&summary, "executed"), ALL);
    assert_eq!(summary["remote"]["upload"], false);
    assert_eq!(summary["remote"]["uploads"], 0);
    assert_eq!(server.blobs(), Vec::new(), "a read-only build wrote blobs");

    let (_, summary) = build(&checkout(&server), &[]);
    assert_eq!(summary["remote"]["uploads"], 6);
    let blobs = server.blobs();
    assert_ne!(blobs.len(), 0);

    // A read-only build with a change: unchanged steps come from the server, changed ones run
    // and are not uploaded.
    let edited = checkout(&server);
    edited.write("pages/index.md", "# home page\nWelcome back.\n");
    let (_, summary) = build(&edited, &read_only);
    assert_eq!(
        steps_with(&summary, "executed"),
        [
            "site:frontend",
            "site:transform[0]:title-case",
            "site:backend:html"
        ]
    );
    assert_eq!(summary["remote_hits"], 3);
    assert_eq!(summary["remote"]["uploads"], 0);
    assert_eq!(server.blobs(), blobs, "a read-only build wrote blobs");
    // ...nor action results: the same change elsewhere still misses.
    let again = checkout(&server);
    again.write("pages/index.md", "# home page\nWelcome back.\n");
    let (_, summary) = build(&again, &[]);
    assert_eq!(steps_with(&summary, "executed").len(), 3);
}

/// Answers one HTTP request, after running `on_request`.
fn serve_once(on_request: impl FnOnce() + Send + 'static) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
            line.clear();
        }
        on_request();
        let _ = reader
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    });
    port
}

#[test]
fn a_server_stopped_mid_build_leaves_the_build_green_with_one_warning() {
    let Some(server) = buildgrid(false) else {
        return;
    };
    let endpoint = server.endpoint.clone();
    let table = server.remote_table("");
    // The first step's extension calls this URL while it runs: the server dies then, after the
    // build has connected and looked the step up, before anything is uploaded.
    let server = Arc::new(Mutex::new(Some(server)));
    let port = {
        let server = Arc::clone(&server);
        serve_once(move || drop(server.lock().unwrap().take()))
    };
    let config = format!(
        r#"
[project]
name = "stop"

{table}

[[extensions]]
name = "echo"
source = {{ type = "wasm", path = "{{echo}}" }}
permissions = {{ allowed_hosts = ["127.0.0.1"] }}

[tasks.first]
frontend = {{ extension = "echo", inputs = ["a.txt"], config = {{ mode = "http", arg = "http://127.0.0.1:{port}/stop" }} }}
cache_http = true

[tasks.second]
frontend = {{ extension = "echo", inputs = ["b.txt"] }}
depends_on = ["first"]

[tasks.third]
frontend = {{ extension = "echo", inputs = ["c.txt"] }}
depends_on = ["first"]
"#
    );
    let p = Project::new(&config);
    for name in ["a.txt", "b.txt", "c.txt"] {
        p.write(name, name);
    }
    let (out, summary) = build(&p, &[]);
    assert!(server.lock().unwrap().is_none(), "the server was stopped");
    assert_eq!(steps_with(&summary, "executed").len(), 3);
    assert_eq!(summary["remote"]["misses"], 1, "the lookup before the stop");
    assert_eq!(summary["remote"]["uploads"], 0);
    assert!(summary["remote"]["errors"].as_u64().unwrap() >= 1);
    let warned = warnings(&out);
    assert_eq!(warned.len(), 1, "one warning: {}", stderr(&out));
    assert!(
        warned[0].contains(&format!("remote cache {endpoint}"))
            && warned[0].contains("the build goes on with the local cache"),
        "{}",
        warned[0]
    );

    // With the server gone from the start: one warning, a green build.
    let q = Project::new(&config.replace(
        &format!(r#"config = {{ mode = "http", arg = "http://127.0.0.1:{port}/stop" }} "#),
        "",
    ));
    for name in ["a.txt", "b.txt", "c.txt"] {
        q.write(name, name);
    }
    let (out, summary) = build(&q, &[]);
    assert_eq!(steps_with(&summary, "executed").len(), 3);
    assert_eq!(summary["remote"]["disabled"], true);
    let warned = warnings(&out);
    assert_eq!(warned.len(), 1, "one warning: {}", stderr(&out));
    assert!(warned[0].contains("is not usable"), "{}", warned[0]);
}

#[test]
fn a_blob_altered_on_the_server_is_detected_and_its_step_runs_again() {
    let Some(server) = buildgrid(false) else {
        return;
    };
    let a = checkout(&server);
    let (_, first) = build(&a, &[]);
    // The title-case output of `guides`: find its blob on the server by way of a's local cache.
    let step = "guides:transform[0]:title-case";
    let key: morphir_cache::Key = first["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == step)
        .and_then(|s| s["key"].as_str())
        .unwrap()
        .parse()
        .unwrap();
    let store = morphir_cache::Store::open(a.path().join("cache")).unwrap();
    let hit = store.get(&key).unwrap().expect("a's local entry");
    // The encoded envelope: a blob on the server, inside its record locally (it is small).
    let bytes = hit.outputs[0].encode();
    let sha = sha2::Sha256::digest(&bytes)
        .iter()
        .fold(String::new(), |hex, b| hex + &format!("{b:02x}"));
    let on_server = server.blob_path(&sha);
    let mut altered = std::fs::read(&on_server).expect("the blob is on the server's disk");
    assert_eq!(altered, bytes);
    let last = altered.len() - 1;
    altered[last] ^= 0x20;
    std::fs::write(&on_server, &altered).unwrap();

    let b = checkout(&server);
    let (out, summary) = build(&b, &[]);
    assert_eq!(steps_with(&summary, "executed"), [step], "{}", stderr(&out));
    assert_eq!(summary["remote_hits"], 5);
    assert_eq!(summary["remote"]["corrupt"], 1);
    let warned = warnings(&out);
    assert_eq!(warned.len(), 1, "{}", stderr(&out));
    assert!(
        warned[0].contains(&format!("the entry for step `{step}` failed verification")),
        "{}",
        warned[0]
    );
    assert_eq!(b.tree("out"), a.tree("out"), "identical outputs");
}

#[test]
fn a_payload_over_the_batch_limit_goes_through_bytestream() {
    let Some(server) = buildgrid(false) else {
        return;
    };
    // BuildGrid refuses batches over 4 MiB - 1 KiB; this step's output is 5 MiB.
    let config = format!(
        r#"
[project]
name = "big"

{}

[[extensions]]
name = "echo"
source = {{ type = "wasm", path = "{{echo}}" }}

[tasks.big]
frontend = {{ extension = "echo", inputs = ["big.bin"] }}
"#,
        server.remote_table("")
    );
    let mut x: u32 = 1;
    let data: Vec<u8> = (0..5 << 20)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect();
    let checkout = || {
        let p = Project::new(&config);
        std::fs::write(p.path().join("big.bin"), &data).unwrap();
        p
    };
    let (_, summary) = build(&checkout(), &[]);
    assert_eq!(summary["remote"]["uploads"], 1);
    assert!(
        server.blobs().iter().any(|(_, size)| *size > 5 << 20),
        "{:?}",
        server.blobs()
    );
    let (out, summary) = build(&checkout(), &[]);
    assert_eq!(steps_with(&summary, "executed"), Vec::<String>::new());
    assert_eq!(summary["remote_hits"], 1, "{}", stderr(&out));
}

#[test]
fn tls_with_a_self_signed_certificate_given_as_ca_file() {
    let Some(server) = buildgrid(true) else {
        return;
    };
    assert!(server.endpoint.starts_with("grpcs://localhost:"));
    let (_, summary) = build(&checkout(&server), &[]);
    assert_eq!(summary["remote"]["uploads"], 6);
    let (_, summary) = build(&checkout(&server), &[]);
    assert_eq!(summary["remote_hits"], 6);

    // Without the CA file the certificate is not trusted: a warning and a local build.
    let untrusted = checkout(&server);
    let config = std::fs::read_to_string(untrusted.path().join("morphir.toml")).unwrap();
    untrusted.write(
        "morphir.toml",
        &config.replace("ca_file = \"ca.pem\"\n", ""),
    );
    let (out, summary) = build(&untrusted, &[]);
    assert_eq!(steps_with(&summary, "executed"), ALL);
    let warned = warnings(&out);
    assert_eq!(warned.len(), 1, "{}", stderr(&out));
    assert!(warned[0].contains("is not usable"), "{}", warned[0]);
}
