//! A disk whose syncs fail (EIO), for real: `encore serve` runs with an
//! LD_PRELOAD shim (`encore_ledger::testing::faults`, compiled by the test
//! with the C compiler every Rust toolchain links with) that fails fsync and fdatasync
//! while a trigger file exists. The write whose sync failed and every later
//! write answer 503 `log-poisoned`, `/readyz` fails, reads go on; after the
//! fault is cleared and the server restarted, every write answered 200 is
//! there and the log verifies.

// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use encore_ledger::testing::faults::{build_fail_sync_shim, FAIL_SYNC_TRIGGER_ENV};
use encore_server::api::types::OpenAccount;
use encore_server::deployment;
use encore_server::Client;

mod common;
use common::Server;

fn start(data: &Path, shim: Option<(&Path, &Path)>) -> Server {
    match shim {
        Some((library, trigger)) => Server::start_with(data, &[], &[("LD_PRELOAD", library.as_os_str()), (FAIL_SYNC_TRIGGER_ENV, trigger.as_os_str())]),
        None => Server::start(data),
    }
}

#[test]
fn failed_syncs_poison_the_log_under_serve_and_lose_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let library = build_fail_sync_shim(tmp.path()).unwrap();
    let trigger = tmp.path().join("fail-syncs-now");
    let data = tmp.path().join("data");
    let made = deployment::init(&data, "2026-12-02T00:00:00Z").unwrap();
    let token = deployment::read_token(&made.operator_token()).unwrap();
    let server = start(&data, Some((&library, &trigger)));
    let op = Client::new(&server.base, &token);
    const LOADS: u64 = 50;
    actix_rt::System::new().block_on(async {
        op.open_account("open", &OpenAccount { account: "acct-1".into(), initial: 0, expires_at: None }).await.unwrap();
        for i in 0..LOADS {
            op.load(&format!("load-{i}"), "acct-1", 1, None).await.unwrap();
        }
        std::fs::write(&trigger, b"").unwrap();
        let failed = op.load("load-failed", "acct-1", 1, None).await.unwrap_err();
        assert_eq!(failed.status(), Some(503), "{failed}");
        assert!(failed.to_string().contains("log-poisoned"), "{failed}");
        std::fs::remove_file(&trigger).unwrap();
        let later = op.load("load-later", "acct-1", 1, None).await.unwrap_err();
        assert_eq!(later.status(), Some(503), "every later write is refused, even with the disk healthy again: {later}");
        assert_eq!(op.ready().await.unwrap().status, 503, "readiness fails");
        assert_eq!(op.account("acct-1").await.unwrap().value.balance, LOADS, "reads go on and show the acknowledged loads");
    });
    drop(server);
    let server = start(&data, None);
    let op = Client::new(&server.base, &token);
    actix_rt::System::new().block_on(async {
        let balance = op.account("acct-1").await.unwrap().value.balance;
        assert!((LOADS..=LOADS + 1).contains(&balance), "every acknowledged load is there (the failed one whole or not at all): {balance}");
        assert!(op.verify().await.unwrap().value.intact);
        assert_eq!(op.ready().await.unwrap().status, 200);
        let retried = op.load("load-failed", "acct-1", 1, None).await.unwrap();
        assert_eq!(retried.value.balance, LOADS + 1, "the failed load's retry credits once");
    });
}
