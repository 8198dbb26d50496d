//! Kill -9 on purpose, sled style: a test binary runs one of its own tests as
//! a child process, waits until the child says it is at work, lets it run a
//! moment longer and kills it with SIGKILL, keeping every line it printed.
//! The crash tests of the ledger, the actors and the projections share it.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

/// What a killed child printed, and how it ended.
#[derive(Debug)]
pub struct Killed {
    pub lines: Vec<String>,
    pub status: ExitStatus,
    /// The child's output ended before a line was `ready` (it exited or failed).
    pub ended_before_ready: bool,
}

/// A child run: the test to run in this binary and its environment.
pub struct Child<'a> {
    pub test: &'a str,
    pub envs: &'a [(&'a str, &'a OsStr)],
}

impl Child<'_> {
    /// Starts the child, waits (at most `wait_at_most`) for a line that is
    /// `ready`, sleeps `then`, kills it and returns everything it printed.
    pub fn run_and_kill(&self, ready: impl Fn(&str) -> bool, wait_at_most: Duration, then: Duration) -> Killed {
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("the test binary's own path: {e}"));
        let mut child = Command::new(exe)
            .args(["--exact", self.test, "--nocapture", "--test-threads", "1"])
            .envs(self.envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the child test {}: {e}", self.test));
        let Some(stdout) = child.stdout.take() else { panic!("the child's stdout is piped") };
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines: Vec<String> = Vec::new();
        let mut ended_before_ready = false;
        let deadline = Instant::now() + wait_at_most;
        while !lines.iter().any(|l| ready(l)) && Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    ended_before_ready = true;
                    break;
                }
            }
        }
        std::thread::sleep(then);
        // SIGKILL; an error means the child is gone already.
        let _ = child.kill();
        let status = child.wait().unwrap_or_else(|e| panic!("waiting for the killed child: {e}"));
        if reader.join().is_err() {
            panic!("the thread reading the child's output panicked");
        }
        lines.extend(rx.try_iter());
        Killed { lines, status, ended_before_ready }
    }
}

/// Kills per crash test: `ENCORE_CRASH_KILLS`, else `default`.
pub fn kills(default: usize) -> usize {
    std::env::var("ENCORE_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A small xorshift generator for kill moments; tests print the seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
