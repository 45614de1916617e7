//! The daemon end to end (`docs/daemon.md`): real binary, real Wasm, real sockets.
//!
//! Every test has its own `XDG_RUNTIME_DIR` (so its own socket and daemon), and every daemon a
//! test starts is owned by a [`Daemon`] guard that kills it on drop, when the test fails too.
//! Daemons write to their log file, never to the test's stdio.

#![cfg(unix)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use morphir_tests::{Project, morphir_bin, stderr, stdout};

/// A hang guard, not a timing assertion: far longer than any of these steps takes.
const PATIENCE: Duration = Duration::from_secs(60);

/// Two tasks: `guides` (frontend, title-case, html) and `site`, which depends on it and reads
/// `MORPHIR_TEST_FLAVOUR` (its key includes the value the *client* has).
const DOCS: &str = r#"
[project]
name = "docs"

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
env = ["MORPHIR_TEST_FLAVOUR"]
"#;

/// One step that spins until cancelled (or its 10 s limit), and its backend.
const SLOW: &str = r#"
[project]
name = "slow"

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{echo}" }
permissions = { max_execution_time = "10s" }

[tasks.slow]
frontend = { extension = "echo", inputs = ["in/*.txt"], config = { mode = "spin" } }
backends = [{ extension = "echo", output = "out/slow", config = { mode = "files" } }]
"#;

fn docs_project() -> Project {
    let p = Project::new(DOCS);
    p.write(
        "guides/install.md",
        "# install it\nRun the bootstrap script.\n",
    );
    p.write("guides/use.md", "# use it\nRun morphir build.\n");
    p.write("pages/index.md", "# home page\nWelcome.\n");
    p
}

/// A private runtime directory: its own daemon socket.
struct Runtime {
    dir: tempfile::TempDir,
    xdg_cache: tempfile::TempDir,
}

impl Runtime {
    fn new() -> Self {
        // Build the binary and the guests first (cargo, slow on a busy machine), before any
        // daemon or client of the test starts.
        morphir_bin();
        morphir_tests::dist();
        Self {
            dir: tempfile::tempdir().unwrap(),
            xdg_cache: tempfile::tempdir().unwrap(),
        }
    }

    fn daemon_dir(&self) -> PathBuf {
        self.dir.path().join("morphir")
    }

    fn command(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(morphir_bin());
        cmd.current_dir(cwd)
            .args(args)
            .env("XDG_RUNTIME_DIR", self.dir.path())
            .env("XDG_CACHE_HOME", self.xdg_cache.path())
            .env_remove("RUST_LOG")
            .env_remove("MORPHIR_CACHE_DIR")
            .env_remove("MORPHIR_NO_DAEMON")
            // A daemon outlives a test that nextest kills (no guard runs): it exits by itself.
            .env("MORPHIR_DAEMON_EXIT_WHEN_IDLE", "120s")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, cwd: &Path, args: &[&str]) -> Output {
        self.command(cwd, args).output().unwrap()
    }

    /// `morphir daemon start`, guarded.
    fn start(&self) -> Daemon {
        let out = self.run(self.dir.path(), &["daemon", "start"]);
        assert!(out.status.success(), "daemon start: {}", stderr(&out));
        let pid = std::fs::read_to_string(self.daemon_dir().join("daemon.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Daemon { pid }
    }

    fn status(&self) -> serde_json::Value {
        let out = self.run(self.dir.path(), &["daemon", "status", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
    }

    /// Polls `daemon status` until `ready` holds (a hang guard, not a timing assertion).
    fn wait_status(&self, what: &str, ready: impl Fn(&serde_json::Value) -> bool) {
        let started = Instant::now();
        loop {
            let status = self.status();
            if ready(&status) {
                return;
            }
            assert!(started.elapsed() < PATIENCE, "never {what}: {status:#}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Kills its daemon when dropped (the daemon is in its own process group, detached from the
/// test's stdio).
struct Daemon {
    pid: i32,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.pid) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Kills a client process on drop (a test that fails must not leave it running).
struct Guard(Option<Child>);

impl Guard {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }

    fn wait(mut self) -> Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// stderr with durations and wall times written `[t]` and blob hashes `[hash]` (a stored
/// output's header names its build): the rest must be identical.
fn steady(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = &line
            .split(' ')
            .map(|word| {
                let hex = word
                    .trim_start_matches("blob=")
                    .trim_matches('"')
                    .trim_end_matches([')', ';']);
                if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    word.replace(hex, "[hash]")
                } else {
                    word.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let line = match line.find(" (") {
            Some(i) if line.trim_start().starts_with("ran ") => &line[..i],
            _ => line,
        };
        let line = match line.find(" in ") {
            Some(i) if line.starts_with("build ") => {
                let rest = &line[i + 4..];
                let colon = rest.find(':').unwrap_or(0);
                format!("{} in [t]{}", &line[..i], &rest[colon..])
            }
            _ => line.to_owned(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// A `--json` summary without times.
fn summary(out: &Output) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)));
    v["wall_ms"] = 0.into();
    for step in v["steps"].as_array_mut().unwrap() {
        step["duration_ms"] = 0.into();
    }
    v
}

/// Builds `here` in process and `there` through the daemon, and checks that exit code,
/// `--json`, stderr (but times) and outputs are the same. Returns stderr.
fn same_build(rt: &Runtime, here: &Project, there: &Project, round: usize) -> String {
    // One job: steps finish in graph order, so progress lines come in one order.
    let mut local = rt.command(here.path(), &["build", "--json", "--no-daemon", "-j", "1"]);
    let local = local.env("MORPHIR_TEST_FLAVOUR", "sour").output().unwrap();
    let mut remote = rt.command(there.path(), &["build", "--json", "-j", "1"]);
    let remote = remote.env("MORPHIR_TEST_FLAVOUR", "sour").output().unwrap();
    assert_eq!(local.status.code(), Some(0), "{}", stderr(&local));
    assert_eq!(remote.status.code(), local.status.code(), "round {round}");
    assert_eq!(summary(&remote), summary(&local), "round {round}");
    assert_eq!(
        steady(&stderr(&remote)),
        steady(&stderr(&local)),
        "round {round}"
    );
    assert_eq!(there.tree("out"), here.tree("out"), "round {round}");
    stderr(&remote)
}

#[test]
fn builds_through_the_daemon_match_builds_in_process() {
    let rt = Runtime::new();
    let daemon = rt.start();
    let here = docs_project();
    let there = docs_project();
    let edits: [(&str, &str); 4] = [
        ("", ""),
        ("", ""),
        ("guides/use.md", "# use it\nRun morphir build --watch.\n"),
        ("pages/new.md", "# new page\nFresh.\n"),
    ];
    for (round, (file, text)) in edits.into_iter().enumerate() {
        if !file.is_empty() {
            here.write(file, text);
            there.write(file, text);
        }
        same_build(&rt, &here, &there, round);
    }
    // The daemon's own warnings reach the client: every cache entry corrupt, repaired.
    morphir_tests::corrupt_cache_entries(here.path());
    morphir_tests::corrupt_cache_entries(there.path());
    let err = same_build(&rt, &here, &there, 4);
    assert!(
        err.contains("WARN morphir_build::scheduler: cache entry of"),
        "{err}"
    );
    // Second round fully cached, third: only what the edit affects ran.
    let status = rt.status();
    assert_eq!(status["running"], true);
    assert_eq!(status["builds"], 5, "{status:#}");
    let workspaces = status["warm"]["workspaces"].as_array().unwrap();
    assert_eq!(workspaces.len(), 1, "{status:#}");
    let pools = workspaces[0]["pools"].as_array().unwrap();
    let mut names: Vec<&str> = pools
        .iter()
        .map(|p| p["extension"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["docs", "html", "title-case"], "{status:#}");
    assert!(
        pools
            .iter()
            .all(|p| p["idle_instances"].as_u64() >= Some(1)),
        "instances are kept warm: {status:#}"
    );

    // The client's environment, not the daemon's: a new value is a new key.
    let mut changed = rt.command(there.path(), &["build", "--json"]);
    let changed = changed
        .env("MORPHIR_TEST_FLAVOUR", "sweet")
        .output()
        .unwrap();
    let changed = summary(&changed);
    let ran = morphir_tests::steps_with(&changed, "executed");
    assert!(ran.contains(&"site:frontend".to_owned()), "{changed:#}");
    assert!(!ran.iter().any(|s| s.starts_with("guides:")), "{changed:#}");

    let out = rt.run(here.path(), &["daemon", "stop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("daemon stopped"), "{}", stderr(&out));
    let out = rt.run(here.path(), &["daemon", "status", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!({ "running": false })
    );
    assert!(!rt.daemon_dir().join("daemon.sock").exists());
    drop(daemon);
}

#[test]
fn configuration_errors_and_unknown_tasks_read_the_same_through_the_daemon() {
    let rt = Runtime::new();
    let _daemon = rt.start();
    let p = docs_project();
    std::fs::create_dir_all(p.path().join("sub")).unwrap();
    let sub = p.path().join("sub");
    let local = rt
        .command(&sub, &["build", "nope", "--no-daemon"])
        .output()
        .unwrap();
    let remote = rt.run(&sub, &["build", "nope"]);
    assert_eq!(local.status.code(), Some(2));
    assert_eq!(remote.status.code(), Some(2));
    assert_eq!(stderr(&remote), stderr(&local));
    assert!(
        stderr(&remote).contains("unknown task `nope`"),
        "{}",
        stderr(&remote)
    );
    // A broken configuration: same message, same file:line:col relative to the client.
    p.write("morphir.toml", "[project]\nname = 3\n");
    let local = rt
        .command(&sub, &["build", "--no-daemon"])
        .output()
        .unwrap();
    let remote = rt.run(&sub, &["build"]);
    assert_eq!(local.status.code(), Some(2));
    assert_eq!(remote.status.code(), Some(2));
    assert_eq!(stderr(&remote), stderr(&local));
    assert!(
        stderr(&remote).contains("../morphir.toml"),
        "{}",
        stderr(&remote)
    );
    assert_eq!(rt.status()["builds"], 2);
}

#[test]
fn a_changed_module_is_reloaded_and_the_idle_cap_holds() {
    let rt = Runtime::new();
    let out = rt.run(
        rt.dir.path(),
        &["daemon", "start", "--max-idle-instances", "1"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let _daemon = Daemon {
        pid: std::fs::read_to_string(rt.daemon_dir().join("daemon.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap(),
    };
    let p = Project::new(&DOCS.replace("{title}", "./title.wasm"));
    p.write("guides/install.md", "# install it\n");
    p.write("pages/index.md", "# home page\n");
    std::fs::copy(
        morphir_tests::guest("title-case"),
        p.path().join("title.wasm"),
    )
    .unwrap();
    let out = rt.run(p.path(), &["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = rt.status();
    assert!(
        status["warm"]["idle_instances"].as_u64() <= Some(1),
        "{status:#}"
    );
    assert!(
        status["warm"]["trimmed_instances"].as_u64() >= Some(1),
        "{status:#}"
    );

    // Another module under the same name: a new pool replaces the old one.
    std::fs::copy(morphir_tests::guest("echo"), p.path().join("title.wasm")).unwrap();
    let out = rt.run(p.path(), &["build", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = rt.status();
    assert_eq!(status["warm"]["reloads"], 1, "{status:#}");
    let pools = status["warm"]["workspaces"][0]["pools"].as_array().unwrap();
    assert_eq!(
        pools
            .iter()
            .filter(|p| p["extension"] == "title-case")
            .count(),
        1,
        "{status:#}"
    );
}

#[test]
fn a_stale_socket_is_removed_and_the_build_runs_in_process() {
    let rt = Runtime::new();
    let dir = rt.daemon_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    // A socket nobody listens on, as a daemon killed with SIGKILL leaves it.
    drop(UnixListener::bind(dir.join("daemon.sock")).unwrap());
    std::fs::write(dir.join("daemon.pid"), "999999\n").unwrap();
    let p = docs_project();
    let out = rt.run(p.path(), &["build"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("removed a stale daemon socket"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join("daemon.sock").exists());
    // Now nothing is there: no more notes.
    let out = rt.run(p.path(), &["build"]);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    // `--daemon` starts one.
    let out = rt.run(p.path(), &["build", "--daemon"]);
    let _daemon = Daemon {
        pid: std::fs::read_to_string(dir.join("daemon.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap(),
    };
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(rt.status()["builds"], 1);
}

/// A daemon of another build: answers hello with another build id.
fn fake_daemon(dir: &Path) -> std::thread::JoinHandle<usize> {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let listener = UnixListener::bind(dir.join("daemon.sock")).unwrap();
    std::thread::spawn(move || {
        let mut served = 0;
        let (mut stream, _) = listener.accept().unwrap();
        let _hello = read_frame(&mut stream);
        write_frame(
            &mut stream,
            &serde_json::json!({
                "response": "hello", "protocol": 1, "version": "0.0.0-other",
                "build": "another", "pid": 4242
            }),
        );
        served += 1;
        // Whatever comes next is not answered: the client must not wait for it.
        let _ = read_frame(&mut stream);
        served
    })
}

fn write_frame(stream: &mut UnixStream, value: &serde_json::Value) {
    let body = serde_json::to_vec(value).unwrap();
    stream
        .write_all(&u32::try_from(body.len()).unwrap().to_be_bytes())
        .unwrap();
    stream.write_all(&body).unwrap();
}

fn read_frame(stream: &mut UnixStream) -> Option<serde_json::Value> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

#[test]
fn a_daemon_of_another_build_is_named_and_not_used() {
    let rt = Runtime::new();
    let fake = fake_daemon(&rt.daemon_dir());
    let p = docs_project();
    let out = rt.run(p.path(), &["build", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("pid 4242"), "{err}");
    assert!(err.contains("0.0.0-other from another build"), "{err}");
    assert!(err.contains("building in this process"), "{err}");
    assert_eq!(
        morphir_tests::steps_with(&summary(&out), "executed").len(),
        6
    );
    assert_eq!(fake.join().unwrap(), 1);
}

#[test]
fn malformed_and_oversized_requests_get_an_error_reply() {
    let rt = Runtime::new();
    let _daemon = rt.start();
    let socket = rt.daemon_dir().join("daemon.sock");

    let mut s = UnixStream::connect(&socket).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(&5u32.to_be_bytes()).unwrap();
    s.write_all(b"{oops").unwrap();
    let reply = read_frame(&mut s).expect("a reply");
    assert_eq!(reply["response"], "error", "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("malformed"),
        "{reply}"
    );

    let mut s = UnixStream::connect(&socket).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(&(64u32 << 20).to_be_bytes()).unwrap();
    let reply = read_frame(&mut s).expect("a reply");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("exceeds the limit"),
        "{reply}"
    );

    let mut s = UnixStream::connect(&socket).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    write_frame(&mut s, &serde_json::json!({ "request": "status" }));
    let reply = read_frame(&mut s).expect("a reply");
    assert!(
        reply["message"].as_str().unwrap().contains("hello first"),
        "{reply}"
    );

    // Still serving.
    assert_eq!(rt.status()["running"], true);
    let p = docs_project();
    let out = rt.run(p.path(), &["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(rt.status()["builds"], 1);
}

fn slow_project() -> Project {
    let p = Project::new(SLOW);
    p.write("in/a.txt", "a");
    p
}

fn action_records(p: &Project) -> usize {
    std::fs::read_dir(p.path().join("cache/v1/actions")).map_or(0, Iterator::count)
}

#[test]
fn a_killed_client_cancels_only_its_own_build() {
    let rt = Runtime::new();
    let _daemon = rt.start();
    let slow = slow_project();
    let mut client = Guard(Some(
        rt.command(slow.path(), &["build"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    rt.wait_status("running the slow step", |s| {
        s["warm"]["workspaces"][0]["pools"][0]["busy_instances"].as_u64() >= Some(1)
    });
    // Another client's build of another workspace runs to the end meanwhile.
    let other = docs_project();
    let out = rt.run(other.path(), &["build", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        morphir_tests::steps_with(&summary(&out), "executed").len(),
        6
    );

    client.child().kill().unwrap();
    let _ = client.wait();
    rt.wait_status("done with the killed client's build", |s| {
        s["active_builds"] == 0
    });
    assert_eq!(
        action_records(&slow),
        0,
        "a cancelled step left a cache record"
    );
    assert!(
        !slow.path().join("out").exists(),
        "a cancelled build left outputs"
    );
    assert_eq!(rt.status()["running"], true);
}

#[test]
fn stopping_the_daemon_mid_build_cancels_the_build_cleanly() {
    let rt = Runtime::new();
    let _daemon = rt.start();
    let slow = slow_project();
    let client = Guard(Some(
        rt.command(slow.path(), &["build", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    rt.wait_status("running the slow step", |s| s["active_builds"] == 1);
    let out = rt.run(slow.path(), &["daemon", "stop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = client.wait();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("build interrupted"),
        "{}",
        stderr(&out)
    );
    assert_eq!(summary(&out)["cancelled"], true);
    assert_eq!(
        action_records(&slow),
        0,
        "a cancelled step left a cache record"
    );
    assert!(
        !slow.path().join("out").exists(),
        "a cancelled build left outputs"
    );
    assert!(!rt.daemon_dir().join("daemon.sock").exists());
}

/// Lines of a child's stderr, as they come.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Collects lines up to and including the first one that starts with `end`.
fn until(rx: &mpsc::Receiver<String>, end: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|e| panic!("no `{end}` line ({e}); got {seen:#?}"));
        let done = line.starts_with(end);
        seen.push(line);
        if done {
            return seen;
        }
    }
}

fn ran(lines: &[String]) -> Vec<String> {
    let mut ran: Vec<String> = lines
        .iter()
        .filter_map(|l| l.trim_start().strip_prefix("ran "))
        .map(|l| l.trim().split(' ').next().unwrap().to_owned())
        .collect();
    ran.sort();
    ran
}

fn watch_edits_rebuild_only_the_affected_steps(daemon: bool) {
    let rt = Runtime::new();
    let _daemon = daemon.then(|| rt.start());
    let p = docs_project();
    let mut child = Guard(Some(
        rt.command(p.path(), &["build", "--watch"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let rx = lines(child.child());
    let first = until(&rx, "build finished");
    assert_eq!(ran(&first).len(), 6, "{first:#?}");
    until(&rx, "watching for changes");

    // An input of `site` only: `guides` stays cached.
    p.write("pages/index.md", "# home page\nWelcome back.\n");
    let second = until(&rx, "build finished");
    assert_eq!(
        ran(&second),
        [
            "site:backend:html",
            "site:frontend",
            "site:transform[0]:title-case"
        ],
        "{second:#?}"
    );
    until(&rx, "watching for changes");
    // The build's own outputs do not trigger a build; a changed configuration does.
    p.set_config(&DOCS.replace("title = \"Site\"", "title = \"Home\""));
    let third = until(&rx, "build finished");
    assert_eq!(ran(&third), ["site:backend:html"], "{third:#?}");
    until(&rx, "watching for changes");

    let pid = rustix::process::Pid::from_raw(i32::try_from(child.child().id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let out = child.wait();
    assert_eq!(out.status.code(), Some(130));
    if daemon {
        // Every build of the watch ran on the daemon: the first and the two rebuilds.
        assert_eq!(rt.status()["builds"], 3);
    }
}

#[test]
fn watch_rebuilds_only_the_affected_steps_in_process() {
    watch_edits_rebuild_only_the_affected_steps(false);
}

#[test]
fn watch_rebuilds_only_the_affected_steps_through_the_daemon() {
    watch_edits_rebuild_only_the_affected_steps(true);
}

#[test]
fn pools_unused_for_the_idle_timeout_are_reaped() {
    let rt = Runtime::new();
    let out = rt.run(rt.dir.path(), &["daemon", "start", "--idle-timeout", "1s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let _daemon = Daemon {
        pid: std::fs::read_to_string(rt.daemon_dir().join("daemon.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap(),
    };
    let p = docs_project();
    let out = rt.run(p.path(), &["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    rt.wait_status("reaping the idle pools", |s| {
        s["warm"]["reaped_pools"] == 3 && s["warm"]["workspaces"] == serde_json::json!([])
    });
}

const EVAL: &str = r#"
[project]
name = "eval"

[[extensions]]
name = "ir-eval"
source = { type = "wasm", path = "{ir_eval}" }
permissions = { max_execution_time = "5s" }
config = { bindings = { rate = ["Literal", {}, ["WholeNumberLiteral", 3]] } }
"#;

fn int(n: i64) -> serde_json::Value {
    serde_json::json!(["Literal", {}, ["WholeNumberLiteral", n]])
}

/// The JSON lines of stdout.
fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn a_tea_session_lives_in_the_daemon_across_invocations() {
    let rt = Runtime::new();
    let _daemon = rt.start();
    let p = Project::new(
        &EVAL.replace(
            "{ir_eval}",
            &morphir_tests::guest("ir-eval")
                .display()
                .to_string()
                .replace('\\', "\\\\"),
        ),
    );
    std::fs::create_dir_all(p.path().join("sub")).unwrap();
    // Started from a subdirectory: morphir.toml is found by walking up, as for `run`.
    let out = rt.run(&p.path().join("sub"), &["session", "start", "ir-eval"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_owned();
    assert!(id.starts_with("s-"), "{id}");

    // Each step is a separate invocation, and the program keeps its model between them.
    let send = |message: serde_json::Value| {
        let out = rt.run(p.path(), &["session", "send", &id, &message.to_string()]);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    let poll = || rt.run(p.path(), &["session", "poll", &id, "--wait", "30s"]);
    send(serde_json::json!({"let": "seven", "value": int(7)}));
    let out = poll();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json_lines(&out),
        [
            serde_json::json!({"output": {"content_type": "application/json",
            "content": {"let": "seven", "value": 7}}})
        ]
    );
    send(serde_json::json!({"eval": ["Variable", {}, ["seven"]]}));
    let out = poll();
    assert_eq!(
        json_lines(&out)[0]["output"]["content"],
        serde_json::json!({"value": 7})
    );

    // A message the program refuses: the error comes with the next poll (exit 1), the model
    // stays. Messages from stdin, one per line.
    let out = rt
        .command(p.path(), &["session", "send", &id])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            writeln!(child.stdin.take().unwrap(), "{{\"what\": 1}}\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = poll();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("unknown message"), "{}", stderr(&out));

    // Listed by the daemon, in `session list` and `daemon status`.
    let out = rt.run(p.path(), &["session", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["extension"], "ir-eval");
    assert_eq!(rt.status()["sessions"][0]["id"], id.as_str());

    let out = rt.run(p.path(), &["session", "stop", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    let model = &lines.last().unwrap()["model"];
    assert_eq!(model["bindings"]["seven"], 7);
    assert_eq!(model["evaluated"], 2, "the let and the eval");

    // Gone: said, with what to do.
    let out = poll();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("no session `{id}`")),
        "{}",
        stderr(&out)
    );
    assert_eq!(rt.status()["sessions"], serde_json::json!([]));
}

/// The example component program (`tally-component`, world `morphir:ext/extension`) in a daemon
/// session: nothing above the runtime knows it is a component.
#[test]
fn a_component_program_lives_in_a_daemon_session() {
    let rt = Runtime::new();
    let _daemon = rt.start();
    let p = Project::new(&crate::fixtures::tally_config());
    let out = rt.run(p.path(), &["session", "start", "tally"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_owned();
    for words in ["red green", "green"] {
        let message = serde_json::json!({ "add": words }).to_string();
        let out = rt.run(p.path(), &["session", "send", &id, &message]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = rt.run(p.path(), &["session", "poll", &id, "--wait", "30s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let counts: Vec<serde_json::Value> = json_lines(&out)
        .iter()
        .map(|l| l["output"]["content"]["counts"].clone())
        .collect();
    assert_eq!(
        counts.last(),
        Some(&serde_json::json!({"green": 2, "red": 1})),
        "{counts:?}"
    );
    let out = rt.run(p.path(), &["session", "stop", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(
        lines.last().unwrap()["model"]["counts"],
        serde_json::json!({"green": 2, "red": 1})
    );
}

#[test]
fn session_commands_without_a_daemon_say_so_and_a_bad_message_is_refused() {
    let rt = Runtime::new();
    let out = rt.run(rt.dir.path(), &["session", "poll", "s-0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no daemon is running"),
        "{}",
        stderr(&out)
    );
    assert!(!rt.daemon_dir().join("daemon.sock").exists());

    let _daemon = rt.start();
    let out = rt.run(rt.dir.path(), &["session", "send", "s-0", "{not json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the message is not JSON"),
        "{}",
        stderr(&out)
    );
    // What `morphir run` refuses, a session refuses the same way.
    let design_time = morphir_tests::guest("title-case");
    let out = rt.run(
        rt.dir.path(),
        &["session", "start", design_time.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("extension `title-case` is not a runtime extension"),
        "{}",
        stderr(&out)
    );
    assert_eq!(rt.status()["sessions"], serde_json::json!([]));
}
