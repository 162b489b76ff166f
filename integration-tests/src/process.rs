//! JVM processes: spawning, the watchdog that kills an orphaned JVM, and signals (sent
//! with the `kill` command; the workspace forbids `unsafe`).

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Sends `signal` (a name such as `TERM`, `KILL`, `STOP`, `CONT`, or `0`) to `pid`.
pub fn send_signal(pid: u32, signal: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| Error::io("running `kill`", e))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "`kill -{signal} {pid}` failed ({status})"
        )))
    }
}

/// Whether a process with this pid exists (`kill -0`; a zombie counts as alive).
pub fn pid_alive(pid: u32) -> bool {
    send_signal(pid, "0").is_ok()
}

/// What to run in a JVM.
#[derive(Debug)]
pub(crate) struct JvmCommand<'a> {
    pub(crate) java: &'a Path,
    pub(crate) classpath: &'a str,
    pub(crate) jvm_flags: Vec<String>,
    /// The `-D` flag naming the logging configuration (see `log_config.rs`).
    pub(crate) log_flag: String,
    pub(crate) main_class: &'a str,
    pub(crate) args: Vec<OsString>,
}

impl JvmCommand<'_> {
    fn command(&self, detached: bool) -> Command {
        let mut cmd = if detached {
            // Not a process-group leader, so `setsid` execs in place: the pid stays ours.
            let mut c = Command::new("setsid");
            c.arg(self.java);
            c
        } else {
            Command::new(self.java)
        };
        cmd.args(&self.jvm_flags)
            .arg("-Djava.awt.headless=true")
            .arg(&self.log_flag)
            .arg("-cp")
            .arg(self.classpath)
            .arg(self.main_class)
            .args(&self.args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs to completion, returning combined output on failure.
    pub(crate) fn run(&self) -> Result<()> {
        let output = self
            .command(false)
            .output()
            .map_err(|e| Error::io(format!("running {}", self.java.display()), e))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(Error::new(format!(
                "`{} {}` failed ({}):\n{}{}",
                self.main_class,
                self.args
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )))
        }
    }
}

/// A running JVM and, unless detached, its watchdog.
#[derive(Debug)]
pub(crate) struct Jvm {
    pub(crate) child: Child,
    watchdog: Option<Child>,
}

impl Jvm {
    /// Starts `command` with stdout/stderr appended to `output`. Unless `detached`, a
    /// watchdog kills the JVM once this process is gone.
    pub(crate) fn spawn(command: &JvmCommand<'_>, output: &Path, detached: bool) -> Result<Self> {
        let out = open_append(output)?;
        let err = out
            .try_clone()
            .map_err(|e| Error::io(format!("duplicating {}", output.display()), e))?;
        let child = command
            .command(detached)
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| Error::io(format!("starting {}", command.java.display()), e))?;
        let mut jvm = Jvm {
            child,
            watchdog: None,
        };
        if !detached {
            // On failure `jvm` is dropped un-killed; the caller's cluster Drop can't see
            // it, so kill it here.
            match spawn_watchdog(std::process::id(), jvm.pid()) {
                Ok(w) => jvm.watchdog = Some(w),
                Err(e) => {
                    let _ = jvm.child.kill();
                    let _ = jvm.child.wait();
                    return Err(e);
                }
            }
        }
        Ok(jvm)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the watchdog (before the JVM is stopped on purpose, or when detaching).
    pub(crate) fn stop_watchdog(&mut self) {
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }

    /// Whether the JVM has exited (reaping it if so).
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGKILL and waits.
    pub(crate) fn kill(&mut self) {
        self.stop_watchdog();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal`, then waits up to `grace` for the exit, then SIGKILLs.
    pub(crate) fn stop(&mut self, signal: &str, grace: Duration) -> Result<()> {
        self.stop_watchdog();
        if self.exited().is_some() {
            return Ok(());
        }
        send_signal(self.pid(), signal)?;
        // A stopped (paused) process only acts on TERM once continued.
        let _ = send_signal(self.pid(), "CONT");
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        Ok(())
    }

    /// Forgets the process without stopping it (returns its pid).
    pub(crate) fn detach(mut self) -> u32 {
        self.stop_watchdog();
        self.pid()
    }
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))
}

fn spawn_sh(script: &str, name: &str, args: &[OsString]) -> Result<Child> {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(name)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::io("starting `sh`", e))
}

/// Polls every second; once `owner` is gone while `jvm` still lives, SIGKILLs `jvm`.
/// Exits quietly when the JVM exits first.
pub(crate) fn spawn_watchdog(owner: u32, jvm: u32) -> Result<Child> {
    const SCRIPT: &str = r#"while kill -0 "$2" 2>/dev/null; do
  if ! kill -0 "$1" 2>/dev/null; then kill -9 "$2" 2>/dev/null; exit 0; fi
  sleep 1
done"#;
    spawn_sh(
        SCRIPT,
        "kafka-testbed-watchdog",
        &[owner.to_string().into(), jvm.to_string().into()],
    )
}

/// Once `owner` is gone (and the watchdogs had time to kill the JVMs), removes `dir`:
/// covers clusters that are never dropped (kept in a `static`).
pub(crate) fn spawn_dir_cleaner(owner: u32, dir: &Path) -> Result<Child> {
    const SCRIPT: &str = r#"while kill -0 "$1" 2>/dev/null; do sleep 1; done
sleep 3
rm -rf -- "$2""#;
    spawn_sh(
        SCRIPT,
        "kafka-testbed-cleaner",
        &[
            owner.to_string().into(),
            PathBuf::from(dir).into_os_string(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_kills_the_child_when_the_owner_dies() {
        // Owner: a short-lived `sleep`; "JVM": a long `sleep`.
        let mut owner = Command::new("sleep").arg("0.3").spawn().unwrap();
        let mut victim = Command::new("sleep").arg("60").spawn().unwrap();
        let mut watchdog = spawn_watchdog(owner.id(), victim.id()).unwrap();
        assert!(pid_alive(victim.id()));
        owner.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = loop {
            if let Some(status) = victim.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "watchdog did not kill the child");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(!status.success());
        watchdog.wait().unwrap();
    }

    #[test]
    fn signals_reach_processes() {
        let mut child = Command::new("sleep").arg("60").spawn().unwrap();
        let pid = child.id();
        assert!(pid_alive(pid));
        send_signal(pid, "STOP").unwrap();
        send_signal(pid, "CONT").unwrap();
        send_signal(pid, "KILL").unwrap();
        child.wait().unwrap();
        assert!(!pid_alive(pid));
        assert!(send_signal(pid, "TERM").is_err());
    }
}
