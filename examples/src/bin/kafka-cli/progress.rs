//! A progress display for long operations (`partitions reassign --verify --wait`,
//! `dump-log` of large segments): on stderr, so never mixed into stdout (`--json`
//! output stays one object per line), and only when stderr is a terminal (one line
//! redrawn in place) or when `--progress` asks for it (plain lines, at most one a
//! second, plus the first and the last).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    on: bool,
    tty: bool,
    drawn: bool,
    last: Option<Instant>,
    every: Duration,
}

impl Progress {
    /// Shown when stderr is a terminal, or when `forced` (`--progress`).
    pub fn new(forced: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        Self {
            on: forced || tty,
            tty,
            drawn: false,
            last: None,
            every: if tty {
                Duration::from_millis(100)
            } else {
                Duration::from_secs(1)
            },
        }
    }

    /// Shows `message` unless one was shown very recently (`message` is only built
    /// when shown).
    pub fn update(&mut self, message: impl FnOnce() -> String) {
        if !self.on || self.last.is_some_and(|t| t.elapsed() < self.every) {
            return;
        }
        self.emit(&message());
    }

    /// Shows `message` now (a first or last state).
    pub fn force(&mut self, message: &str) {
        if self.on {
            self.emit(message);
        }
    }

    fn emit(&mut self, message: &str) {
        self.last = Some(Instant::now());
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r\x1b[2K{message}")
        } else {
            writeln!(err, "{message}")
        };
        let _ = err.flush();
        self.drawn = true;
    }
}

impl Drop for Progress {
    /// Clears the terminal line, so the next output starts clean.
    fn drop(&mut self) {
        if self.tty && self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

/// `12.3 MiB`-style sizes for progress lines.
pub fn bytes(n: usize) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
