//! `encore serve` on a full disk, for real: its deployment on a small tmpfs
//! (mounted by the test, which needs root: `./x test` has it on this kind of
//! machine), money loaded over HTTP until the file system says ENOSPC. From
//! then on every write answers 503 `log-poisoned` and `/readyz` fails; reads
//! go on. After the fault is cleared (the tmpfs remounted larger) and the
//! server restarted, every load answered 200 is in the balance and the log
//! verifies.

// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use encore_ledger::testing::faults::Tmpfs;
use encore_server::api::types::OpenAccount;
use encore_server::deployment;
use encore_server::Client;

mod common;
use common::Server;

fn start(data: &Path) -> Server {
    Server::start(data)
}

#[test]
fn a_full_disk_under_serve_answers_503_fails_readiness_and_loses_nothing_acknowledged() {
    let base = tempfile::tempdir().unwrap();
    let mount = Tmpfs::mount(base.path(), "3m").unwrap();
    let data = base.path().join("data");
    let made = deployment::init(&data, "2026-12-02T00:00:00Z").unwrap();
    let token = deployment::read_token(&made.operator_token()).unwrap();
    let server = start(&data);
    let op = Client::new(&server.base, &token);
    let acknowledged = actix_rt::System::new().block_on(async {
        op.open_account("open", &OpenAccount { account: "acct-1".into(), initial: 0, expires_at: None }).await.unwrap();
        let (mut acknowledged, deadline) = (0u64, Instant::now() + Duration::from_secs(60));
        let refused = loop {
            assert!(Instant::now() < deadline && acknowledged < 200_000, "the disk never filled ({acknowledged} loads)");
            match op.load(&format!("load-{acknowledged}"), "acct-1", 1, None).await {
                Ok(_) => acknowledged += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(refused.status(), Some(503), "{refused}");
        assert!(refused.to_string().contains("log-poisoned"), "{refused}");
        let again = op.load("after", "acct-1", 1, None).await.unwrap_err();
        assert_eq!(again.status(), Some(503), "every later write is refused: {again}");
        assert_eq!(op.ready().await.unwrap().status, 503, "readiness fails");
        assert_eq!(op.account("acct-1").await.unwrap().value.balance, acknowledged, "reads go on");
        acknowledged
    });
    drop(server);
    assert!(acknowledged > 100, "{acknowledged} loads fit");
    mount.grow("64m").unwrap();
    let server = start(&data);
    let op = Client::new(&server.base, &token);
    actix_rt::System::new().block_on(async {
        let balance = op.account("acct-1").await.unwrap().value.balance;
        assert!(balance >= acknowledged, "every acknowledged load is there: {balance} of {acknowledged}");
        assert!(op.verify().await.unwrap().value.intact);
        assert_eq!(op.ready().await.unwrap().status, 200);
        op.load("after-restart", "acct-1", 1, None).await.unwrap();
    });
    eprintln!("{acknowledged} loads acknowledged before the disk was full; all there after the restart");
    drop(server);
    drop(mount);
}
