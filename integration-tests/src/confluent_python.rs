//! Confluent's own serializers for the interop tests: `confluent-kafka` (with its `avro`,
//! `protobuf`, `json` and `schemaregistry` extras) from PyPI in a virtualenv that the
//! test bed creates once per machine in its cache directory, and `testbed/schema-registry/
//! sr_interop.py`, which serializes, checks, produces and consumes fixture records.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::jars::cache_dir;
use crate::tools::{find_on_path, is_executable, lock_in};

/// The confluent-kafka release the interop tests run.
pub const CONFLUENT_KAFKA_VERSION: &str = "2.16.1";

/// The interop script.
pub const INTEROP_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testbed/schema-registry/sr_interop.py"
);

/// The virtualenv's `python`, creating the virtualenv and installing confluent-kafka on
/// first use on this machine.
pub fn confluent_python() -> Result<PathBuf> {
    let dir = cache_dir().join(format!("confluent-kafka-{CONFLUENT_KAFKA_VERSION}"));
    let python = dir.join("venv/bin/python");
    let ready = dir.join("installed");
    if ready.is_file() && is_executable(&python) {
        return Ok(python);
    }
    let _lock = lock_in(&dir, "install.lock")?;
    if ready.is_file() && is_executable(&python) {
        return Ok(python);
    }
    let python3 = find_on_path("python3").ok_or_else(|| {
        Error::new(
            "kafka-testbed: `python3` not found on PATH; the schema-registry interop tests \
             install confluent-kafka from PyPI into a virtualenv (e.g. `apt-get install \
             python3 python3-venv`)",
        )
    })?;
    eprintln!(
        "kafka-testbed: installing confluent-kafka {CONFLUENT_KAFKA_VERSION} into {} (once per machine) ...",
        dir.display()
    );
    let venv = dir.join("venv");
    run(Command::new(python3)
        .arg("-m")
        .arg("venv")
        .arg("--clear")
        .arg(&venv))?;
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(format!(
            "confluent-kafka[avro,protobuf,json,schemaregistry]=={CONFLUENT_KAFKA_VERSION}"
        )))?;
    std::fs::write(&ready, CONFLUENT_KAFKA_VERSION)
        .map_err(|e| Error::io(format!("writing {}", ready.display()), e))?;
    Ok(python)
}

fn run(command: &mut Command) -> Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("running {command:?}"), e))?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::new(format!(
        "kafka-testbed: {command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )))
}

/// Runs `sr_interop.py` with `args`, feeding `stdin`; returns its stdout, or an error
/// with its output when it exits non-zero (a "MISMATCH" line says which record).
pub fn run_interop(args: &[&str], stdin: &str) -> Result<String> {
    let python = confluent_python()?;
    let mut child = Command::new(&python)
        .arg(INTEROP_SCRIPT)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(format!("running {}", python.display()), e))?;
    let mut pipe = child.stdin.take().expect("piped stdin");
    pipe.write_all(stdin.as_bytes())
        .map_err(|e| Error::io("writing to sr_interop.py", e))?;
    drop(pipe);
    let output = child
        .wait_with_output()
        .map_err(|e| Error::io("waiting for sr_interop.py", e))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(Error::new(format!(
            "sr_interop.py {args:?} failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(stdout)
}
