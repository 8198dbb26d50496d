//! Clock jumps under `encore serve` (libfaketime moves the process's clock;
//! the monotonic clock stays real): a server started with its clock 40 days
//! past the newest record refuses writes (503 `clock-jumped`) and still
//! answers reads; `--accept-clock` is the operator's override. A jump of a
//! day while running is refused the same way, and accepted again once the
//! clock is back. Nothing is written while refused.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::path::Path;

use encore_server::api::types::OpenAccount;
use encore_server::deployment;
use encore_server::Client;

mod common;
use common::Server;

/// libfaketime for multi-threaded programs (Debian's faketime package, which ./x installs).
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/// `encore serve` under libfaketime, its offset read from `offset_file` on every clock read.
fn start(data: &Path, offset_file: &Path, extra: &[&str]) -> Server {
    let envs: [(&str, &OsStr); 4] = [
        ("LD_PRELOAD", OsStr::new(LIBFAKETIME)),
        ("FAKETIME_TIMESTAMP_FILE", offset_file.as_os_str()),
        ("FAKETIME_NO_CACHE", OsStr::new("1")),
        ("FAKETIME_DONT_FAKE_MONOTONIC", OsStr::new("1")),
    ];
    Server::start_with(data, extra, &envs)
}

fn status<T>(result: Result<encore_server::Answer<T>, encore_server::ClientError>) -> u16 {
    match result {
        Ok(answer) => answer.status,
        Err(e) => e.status().unwrap_or_else(|| panic!("no answer: {e}")),
    }
}

#[test]
fn clock_jumps_are_refused_until_fixed_or_accepted_and_write_nothing() {
    assert!(Path::new(LIBFAKETIME).exists(), "{LIBFAKETIME} is missing: ./x test installs faketime");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let offset = tmp.path().join("offset");
    let made = deployment::init(&data, "2026-12-01T00:00:00Z").unwrap();
    let token = deployment::read_token(&made.operator_token()).unwrap();

    std::fs::write(&offset, "+0").unwrap();
    let server = start(&data, &offset, &[]);
    let op = Client::new(&server.base, &token);
    actix_rt::System::new().block_on(async {
        let body = OpenAccount { account: "acct-1".into(), initial: 10, expires_at: None };
        assert_eq!(status(op.open_account("open-1", &body).await), 201);
        // A day forward while running: refused; back: accepted.
        std::fs::write(&offset, "+1d").unwrap();
        let refused = op.load("load-1", "acct-1", 5, None).await.unwrap_err();
        assert_eq!(refused.status(), Some(503), "{refused}");
        assert!(refused.to_string().contains("clock-jumped"), "{refused}");
        assert_eq!(status(op.account("acct-1").await), 200, "reads go on");
        std::fs::write(&offset, "+0").unwrap();
        assert_eq!(status(op.load("load-1", "acct-1", 5, None).await), 200, "the fixed clock is accepted again");
    });
    drop(server);

    // Started 40 days past the newest record: refused until the operator accepts the clock.
    std::fs::write(&offset, "+40d").unwrap();
    let server = start(&data, &offset, &[]);
    let op = Client::new(&server.base, &token);
    let before = actix_rt::System::new().block_on(async {
        let before = op.log(1, 1000).await.unwrap().value.head;
        let refused = op.load("load-2", "acct-1", 5, None).await.unwrap_err();
        assert_eq!(refused.status(), Some(503), "{refused}");
        assert_eq!(op.account("acct-1").await.unwrap().value.balance, 15);
        assert_eq!(op.log(1, 1000).await.unwrap().value.head, before, "nothing written while refused");
        before
    });
    drop(server);
    let server = start(&data, &offset, &["--accept-clock"]);
    let op = Client::new(&server.base, &token);
    actix_rt::System::new().block_on(async {
        assert_eq!(op.load("load-2", "acct-1", 5, None).await.unwrap().value.balance, 20);
        assert!(op.log(1, 1000).await.unwrap().value.head > before);
    });
}
