//! Builds a binary of the `examples` package (once per test process) with the same cargo,
//! profile and target directory as the running test, and returns its path.
//! (`CARGO_BIN_EXE_*` only covers binaries of the test's own package.)

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// The path of example binary `name`, built if needed.
pub fn example_path(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.get_or_insert_with(HashMap::new).get(name) {
        return p.clone();
    }
    // target/<profile>/deps/<test>-<hash>: binaries go to target/<profile>/.
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .to_path_buf();
    let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug")
        .to_owned();
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "-q", "-p", "examples", "--bin", name])
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(&target_dir);
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let status = cmd.status().expect("run cargo build");
    assert!(status.success(), "building example {name} failed");
    let bin = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} missing after build", bin.display());
    built
        .get_or_insert_with(HashMap::new)
        .insert(name.to_owned(), bin.clone());
    bin
}

/// Runs example binary `name` with `args`, feeding it `stdin`; its output. The
/// environment's `KAFKA_BOOTSTRAP_SERVERS` is removed, so only `args` name a cluster.
pub fn run_example(name: &str, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(example_path(name))
        .env_remove("KAFKA_BOOTSTRAP_SERVERS")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("example output")
}

/// A process's exit code, stdout and stderr, for assertion messages.
pub fn show(o: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
