//! A failed sync poisons the log: the write it covered and every later write
//! answer 503 `log-poisoned`, readiness fails, metrics say so, reads go on;
//! after a restart on the same files nothing acknowledged is lost and the
//! unacknowledged write's retry credits exactly once. (The fault comes from the ledger's test hook, which fails the next
//! sync as an EIO from the disk would.)
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use encore_server::api::types::OpenAccount;

#[test]
fn a_failed_sync_answers_503_fails_readiness_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (data, operator) = new_deployment(dir.path());
    let server = TestServer::start(&data, &operator);
    let op = server.operator();
    let base = server.base();
    run(async {
        op.open_account("open-1", &OpenAccount { account: "acct-1".into(), initial: 100, expires_at: None }).await.unwrap();
        assert_eq!(op.ready().await.unwrap().value.status, "ready");
        server.ledger.as_ref().unwrap().inject_write_failure_for_tests();
        let failed = refused(op.load("load-1", "acct-1", 5, None).await);
        assert_eq!((failed.status, failed.kind.as_str()), (503, "log-poisoned"));
        let later = refused(op.load("load-2", "acct-1", 5, None).await);
        assert_eq!((later.status, later.kind.as_str()), (503, "log-poisoned"), "every later write is refused");
        let ready = op.ready().await.unwrap();
        assert_eq!((ready.status, ready.value.status.as_str()), (503, "poisoned"), "readiness fails once the log is poisoned");
        let health = op.health().await.unwrap().value;
        assert!(health.poisoned.is_some(), "{health:?}");
        let mut metrics = awc::Client::default().get(format!("{base}/metrics")).send().await.unwrap();
        let text = String::from_utf8(metrics.body().await.unwrap().to_vec()).unwrap();
        assert!(text.contains("encore_log_poisoned 1"), "{text}");
        assert_eq!(op.account("acct-1").await.unwrap().value.balance, 100, "reads go on");
    });
    server.stop();
    let server = TestServer::start(&data, &operator);
    let op = server.operator();
    run(async {
        assert_eq!(op.ready().await.unwrap().value.status, "ready", "a restart recovers from the files");
        // The failed load was never acknowledged: its outcome is unknown (its
        // batch may have reached the disk after all), so it is there whole or
        // not at all, and its retry with the same key credits exactly once.
        let balance = op.account("acct-1").await.unwrap().value.balance;
        assert!(balance == 100 || balance == 105, "{balance}");
        let retried = op.load("load-1", "acct-1", 5, None).await.unwrap();
        assert_eq!(retried.value.balance, 105);
        assert_eq!(retried.replayed, balance == 105, "answered from the log exactly when it was written");
        assert_eq!(op.account("acct-1").await.unwrap().value.balance, 105, "credited once");
        assert!(op.verify().await.unwrap().value.intact);
    });
    server.stop();
}
