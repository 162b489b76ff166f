//! A schema registry for tests: franz-go's `srfake` (Go module
//! `github.com/twmb/franz-go/pkg/sr` v1.8.0), an independent in-memory implementation of
//! the Confluent Schema Registry REST API.
//!
//! `testbed/srfake/` holds a few-line Go `main` around `srfake.New()`; it is built once
//! per machine with `go build` (the module comes from the Go module proxy, checked
//! against `go.sum`) into the cache directory, and each [`SchemaRegistry`] is one such
//! process on a random 127.0.0.1 port. The process exits when its stdin closes, so it
//! never outlives the test binary.
//!
//! Limits of srfake (v1.8.0): compatibility checks always answer "compatible" and
//! registration never refuses a schema as incompatible (no 409); everything else the
//! client uses (register, lookups, versions, config, modes, references, soft and hard
//! deletes, `error_code`s, one expected `Authorization` header) is implemented.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::jars::cache_dir;
use crate::tools::{find_on_path, is_executable, lock_in};

const SRC_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testbed/srfake");
const MAIN_GO: &str = include_str!("../testbed/srfake/main.go");
const GO_MOD: &str = include_str!("../testbed/srfake/go.mod");
const GO_SUM: &str = include_str!("../testbed/srfake/go.sum");

/// A running registry; dropping it stops the process.
#[derive(Debug)]
pub struct SchemaRegistry {
    url: String,
    child: Child,
    _stdin: ChildStdin,
    // Kept open: srfake must never write into a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl SchemaRegistry {
    /// Starts a registry without authentication.
    pub fn start() -> Result<Self> {
        Self::spawn(None)
    }

    /// Starts a registry that answers only requests whose `Authorization` header is
    /// exactly `authorization` (401 without one, 403 with another).
    pub fn start_with_auth(authorization: &str) -> Result<Self> {
        Self::spawn(Some(authorization))
    }

    fn spawn(auth: Option<&str>) -> Result<Self> {
        let binary = srfake_binary()?;
        let mut command = Command::new(&binary);
        if let Some(auth) = auth {
            command.arg("-auth").arg(auth);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Error::io(format!("starting {}", binary.display()), e))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        stdout
            .read_line(&mut line)
            .map_err(|e| Error::io("reading the registry's URL", e))?;
        let url = line.trim().to_owned();
        if !url.starts_with("http://") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::new(format!(
                "kafka-testbed: {} printed {line:?} instead of its URL",
                binary.display()
            )));
        }
        Ok(SchemaRegistry {
            url,
            child,
            _stdin: stdin,
            _stdout: stdout,
        })
    }

    /// The registry's base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for SchemaRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a registry that outlives this process (for `dev-kafka up --schema-registry`):
/// its output goes to `dir/schema-registry.log`; returns its URL and process id. Stop it
/// with a signal.
pub fn start_detached(dir: &Path) -> Result<(String, u32)> {
    let binary = srfake_binary()?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let log_path = dir.join("schema-registry.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| Error::io(format!("creating {}", log_path.display()), e))?;
    let err = log
        .try_clone()
        .map_err(|e| Error::io("duplicating the log file", e))?;
    let child = Command::new(&binary)
        .arg("-detached")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| Error::io(format!("starting {}", binary.display()), e))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(url) = text.lines().find(|l| l.starts_with("http://")) {
            return Ok((url.trim().to_owned(), child.id()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(Error::new(format!(
        "kafka-testbed: the schema registry printed no URL in 10 s (see {})",
        log_path.display()
    )))
}

/// One registry shared by the tests of this process (started on first use).
pub fn shared_schema_registry() -> &'static SchemaRegistry {
    static SHARED: OnceLock<SchemaRegistry> = OnceLock::new();
    static STARTING: Mutex<()> = Mutex::new(());
    let _guard = STARTING.lock().unwrap_or_else(PoisonError::into_inner);
    SHARED
        .get_or_init(|| SchemaRegistry::start().unwrap_or_else(|e| panic!("schema registry: {e}")))
}

/// The srfake server binary, built with `go build` on first use on this machine.
pub fn srfake_binary() -> Result<PathBuf> {
    let mut hasher = DefaultHasher::new();
    (MAIN_GO, GO_MOD, GO_SUM).hash(&mut hasher);
    let dir = cache_dir().join("srfake");
    let binary = dir.join(format!("srfake-server-{:016x}", hasher.finish()));
    if is_executable(&binary) {
        return Ok(binary);
    }
    let _lock = lock_in(&dir, "build.lock")?;
    if is_executable(&binary) {
        return Ok(binary);
    }
    let go = find_on_path("go").ok_or_else(|| {
        Error::new(
            "kafka-testbed: `go` not found on PATH; the schema-registry tests build franz-go's \
             srfake (github.com/twmb/franz-go/pkg/sr v1.8.0) once per machine with Go 1.24 or \
             newer (e.g. `apt-get install golang-go`)",
        )
    })?;
    eprintln!("kafka-testbed: building srfake with go (once per machine) ...");
    let tmp = dir.join(format!("srfake-server.{}.tmp", std::process::id()));
    let output = Command::new(go)
        .current_dir(SRC_DIR)
        .args(["build", "-o"])
        .arg(&tmp)
        .arg(".")
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-modcacherw")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("running go build", e))?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::new(format!(
            "kafka-testbed: `go build` of {SRC_DIR} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    std::fs::rename(&tmp, &binary)
        .map_err(|e| Error::io(format!("renaming {}", tmp.display()), e))?;
    Ok(binary)
}
