//! What the process-level tests share: `encore serve` started on a random
//! loopback port (it says where on its first line), and stopped by the test:
//! with SIGTERM when dropped, or with SIGKILL by [`Server::kill`].

// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Server {
    child: Option<Child>,
    pub base: String,
}

impl Server {
    pub fn start(data: &Path) -> Server {
        Server::start_with(data, &[], &[])
    }

    /// `encore serve --data DATA` with more arguments and environment (a fault shim, a moved clock).
    pub fn start_with(data: &Path, args: &[&str], envs: &[(&str, &OsStr)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_encore"));
        command.args(["serve", "--data", data.to_str().unwrap(), "--listen", "127.0.0.1:0"]).args(args).stdout(Stdio::piped()).stderr(Stdio::null());
        for (name, value) in envs {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("encore serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("encore serve says where it listens");
        let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_string();
        Server { child: Some(child), base }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGKILL, and reaped.
    pub fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
}

/// Buys each (card `card-{i}`, content `song-{j}`) of `pairs` once at
/// `player-1`, from `workers` concurrent tasks, until the server stops
/// answering (it was killed); returns the purchases answered, by idempotency
/// key (`buy-{i}-{j}`), with their outcome.
pub async fn buy_until_stopped(
    player: &encore_server::Client,
    cards: &[encore_card::CardFile],
    pairs: Vec<(usize, usize)>,
    workers: usize,
) -> std::collections::BTreeMap<String, String> {
    use encore_server::api::types::Purchase;
    let queue = std::rc::Rc::new(std::cell::RefCell::new(pairs.into_iter()));
    let answered = std::rc::Rc::new(std::cell::RefCell::new(std::collections::BTreeMap::new()));
    let workers = (0..workers).map(|_| {
        let (queue, answered, player) = (queue.clone(), answered.clone(), player.clone());
        async move {
            loop {
                let Some((i, j)) = queue.borrow_mut().next() else { return };
                let key = format!("buy-{i}-{j}");
                let Ok(answer) = player.answer_at_player("player-1", &cards[i]).await else { return };
                match player.player_purchase(&key, "player-1", &Purchase { card: format!("card-{i}"), content: format!("song-{j}"), answer }).await {
                    Ok(answer) => {
                        answered.borrow_mut().insert(key, answer.value.outcome);
                    }
                    Err(_) => return,
                }
            }
        }
    });
    futures_util::future::join_all(workers).await;
    std::rc::Rc::try_unwrap(answered).map(|c| c.into_inner()).unwrap_or_default()
}
