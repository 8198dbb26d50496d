//! `encore serve` over TLS (002 claim 6: the exchange is encrypted): a
//! self-signed certificate made here, a client that trusts exactly that
//! certificate, and the refusals: a client that does not trust it, and plain
//! HTTP to the TLS port.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use encore_server::api::types::OpenAccount;
use encore_server::{Client, ClientError, ServeOptions};

#[test]
fn the_api_over_tls_answers_a_client_that_trusts_the_certificate_and_no_one_else() {
    let dir = tempfile::tempdir().unwrap();
    let (data, operator) = new_deployment(dir.path());
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    let options = ServeOptions {
        data: data.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some((cert.clone(), key)),
        insecure_http: false,
        workers: Some(1),
        accept_clock: false,
    };
    let server = TestServer::start_with(options, &operator);
    let https = format!("https://{}", server.addr);
    run(async {
        let trusted = Client::with_root_certificate(&https, &operator, made.cert.pem().as_bytes()).unwrap();
        assert_eq!(trusted.health().await.unwrap().value.status, "alive");
        let opened = trusted.open_account("tls-1", &OpenAccount { account: "acct-1".into(), initial: 5, expires_at: None }).await.unwrap();
        assert_eq!((opened.status, opened.value.balance), (201, 5));

        let untrusting = Client::new(&https, &operator);
        assert!(matches!(untrusting.health().await, Err(ClientError::Transport(_))), "an unknown certificate is refused by the client");
        let plain = Client::new(&format!("http://{}", server.addr), &operator);
        assert!(plain.health().await.is_err(), "plain HTTP to the TLS port gets no answer");
        assert!(Client::with_root_certificate(&https, &operator, b"not a certificate").is_err());
    });
    server.stop();
}
