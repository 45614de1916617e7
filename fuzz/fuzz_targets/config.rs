//! The `morphir.toml` loader on arbitrary text: it must return a config or errors (with a
//! location that lies inside the file), never panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use morphir_config::{Config, LoadOptions};

fn file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        // tmpfs when there is one: one write per execution.
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("morphir-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("morphir.toml")
    })
}

fuzz_target!(|data: &[u8]| {
    let path = file();
    std::fs::write(path, data).unwrap();
    match Config::load_with(path, LoadOptions { check_files: false }) {
        Ok(_) => {}
        Err(errors) => {
            let text = errors.to_string();
            assert!(!text.is_empty());
        }
    }
});
