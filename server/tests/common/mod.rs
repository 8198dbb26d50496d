//! A real `encore serve` in this process: a fresh deployment in a temporary
//! directory, listening on 127.0.0.1 with a random port, on a thread with
//! its own actix `System`; stopped (gracefully) by the test.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use encore_server::api::types::Problem;
use encore_server::deployment::{self, credentials, Role};
use encore_server::{Client, ClientError, ServeOptions};

pub struct TestServer {
    pub addr: SocketAddr,
    pub data: PathBuf,
    pub operator: String,
    /// The server's log (dropped before the server stops).
    pub ledger: Option<encore_ledger::Ledger>,
    handle: actix_web::dev::ServerHandle,
    thread: std::thread::JoinHandle<()>,
}

pub fn new_deployment(dir: &Path) -> (PathBuf, String) {
    let data = dir.join("data");
    let made = deployment::init(&data, "2026-12-01T00:00:00Z").expect("init");
    let operator = deployment::read_token(&made.operator_token()).expect("operator token");
    (data, operator)
}

impl TestServer {
    pub fn start(data: &Path, operator: &str) -> TestServer {
        let options = ServeOptions {
            data: data.to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: None,
            insecure_http: false,
            workers: Some(2),
            accept_clock: false,
        };
        TestServer::start_with(options, operator)
    }

    pub fn start_with(options: ServeOptions, operator: &str) -> TestServer {
        let data = options.data.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let running = encore_server::serve::start(&options).await.expect("server starts");
                tx.send((running.addr, running.handle.clone(), running.ledger())).expect("test waits");
                running.wait().await.expect("server stops cleanly");
            })
        });
        let (addr, handle, ledger) = rx.recv().expect("server started");
        TestServer { addr, data, operator: operator.to_string(), ledger: Some(ledger), handle, thread }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn operator(&self) -> Client {
        Client::new(&self.base(), &self.operator)
    }

    /// A new credential's client.
    pub fn client_as(&self, id: &str, role: Role, station: Option<&str>) -> Client {
        let made = credentials::add(&self.data.join("credentials"), id, role, station, "2026-12-01T00:00:00Z").expect("credential");
        Client::new(&self.base(), &made.token)
    }

    /// Stops gracefully and waits until the log is closed.
    pub fn stop(mut self) {
        drop(self.ledger.take());
        let handle = self.handle.clone();
        actix_rt::System::new().block_on(handle.stop(true));
        self.thread.join().expect("server thread");
    }
}

/// Runs async test code on an actix System (the client is awc).
pub fn run<F: std::future::Future>(f: F) -> F::Output {
    actix_rt::System::new().block_on(f)
}

/// The problem a refused call answered (panics on any other outcome).
pub fn refused(result: Result<impl std::fmt::Debug, ClientError>) -> Problem {
    match result {
        Err(ClientError::Refused(problem)) => *problem,
        other => panic!("expected a problem, got {other:?}"),
    }
}

/// The card file of an issued card, as the operator personalises it.
#[allow(dead_code)]
pub async fn carried_card(op: &Client, card: &str) -> encore_card::CardFile {
    let image = op.card_image(card).await.expect("the operator gets the card image");
    encore_card::CardFile::from_bytes(&image).expect("the image is a card file")
}

/// A purchase onto `card` at a player, answered by the card.
#[allow(dead_code)]
pub async fn buy_at_player(
    player: &Client,
    key: &str,
    station: &str,
    card: &encore_card::CardFile,
    content: &str,
) -> Result<encore_server::client::Answer<encore_server::api::types::PurchaseView>, ClientError> {
    let answer = player.answer_at_player(station, card).await?;
    let body = encore_server::api::types::Purchase { card: card.card().to_string(), content: content.into(), answer };
    player.player_purchase(key, station, &body).await
}
