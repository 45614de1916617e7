//! Where the daemon's files live: one directory per user, private to that user.

use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::Error;

/// The largest socket path that fits `sockaddr_un` everywhere we run (104 bytes on macOS,
/// 108 on Linux, both counting the terminating zero).
const MAX_SOCKET_PATH: usize = 103;

/// The daemon's directory: `$XDG_RUNTIME_DIR/morphir` (per user, on a tmpfs, removed at
/// logout), or `$TMPDIR/morphir-<uid>` when that is unset. It holds `daemon.sock`,
/// `daemon.lock` (held by the running daemon), `daemon.pid` and `daemon.log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonPaths {
    dir: PathBuf,
}

impl DaemonPaths {
    /// From the environment (see the type docs).
    pub fn from_env() -> Self {
        let runtime = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute());
        let dir = match runtime {
            Some(dir) => dir.join("morphir"),
            None => {
                std::env::temp_dir().join(format!("morphir-{}", rustix::process::getuid().as_raw()))
            }
        };
        Self { dir }
    }

    /// In a directory of the caller's choosing.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("daemon.sock")
    }

    /// The lock the running daemon holds.
    pub fn lock(&self) -> PathBuf {
        self.dir.join("daemon.lock")
    }

    /// The running daemon's process id.
    pub fn pid(&self) -> PathBuf {
        self.dir.join("daemon.pid")
    }

    /// The daemon's own log (its stderr).
    pub fn log(&self) -> PathBuf {
        self.dir.join("daemon.log")
    }

    /// Creates the directory (mode 0700) and checks that it is this user's and nobody else's,
    /// and that the socket path fits.
    pub fn ensure(&self) -> Result<(), Error> {
        let socket = self.socket();
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(Error::SocketPathTooLong(socket));
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|source| Error::Dir {
                path: self.dir.clone(),
                source,
            })?;
        self.check()
    }

    /// For a client: `Ok(false)` when the directory does not exist (no daemon, and nothing is
    /// created), `Ok(true)` when it is private to this user, an error otherwise (a client sends
    /// its environment through the socket: never to a socket others could have put there).
    pub fn verify(&self) -> Result<bool, Error> {
        match std::fs::symlink_metadata(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            _ => self.check().map(|()| true),
        }
    }

    fn check(&self) -> Result<(), Error> {
        let meta = std::fs::symlink_metadata(&self.dir).map_err(|source| Error::Dir {
            path: self.dir.clone(),
            source,
        })?;
        let uid = rustix::process::getuid().as_raw();
        if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
            return Err(Error::InsecureDir {
                path: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// The pid in the pid file, if it holds one.
    pub fn read_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.pid())
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_is_private_and_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = DaemonPaths::in_dir(tmp.path().join("morphir"));
        paths.ensure().unwrap();
        let mode = std::fs::metadata(paths.dir()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);

        std::fs::set_permissions(paths.dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(paths.ensure(), Err(Error::InsecureDir { .. })));

        let long = DaemonPaths::in_dir(tmp.path().join("x".repeat(120)));
        assert!(matches!(long.ensure(), Err(Error::SocketPathTooLong(_))));
    }
}
