//! `encore kiosk --server URL --token FILE --kiosk ID --journal DIR`: a
//! license vending machine as a client of the servers, with its own kiosk
//! credential. A customer session and nothing else (002 claims 3-5, 11):
//!
//! * `insert FILE`: the card (a card file) answers the server's challenge and
//!   is verified; `catalogue`: titles, prices, use conditions; `wanted`: the
//!   contents the card asks for (002 claim 5); `buy CONTENT`: a purchase whose
//!   license is written onto the card; `eject`; `help`; `quit`.
//! * Anything else is refused and writes nothing: operator work (accounts,
//!   money, the catalogue, cards) is `encore admin` with an operator token.
//!
//! The kiosk holds no master secret. Before each purchase is sent, its
//! idempotency key, card and content go into the journal (`--journal DIR`);
//! the entry is removed once the license is on the card. A kiosk that
//! restarts finishes every entry with the same key, so a sale interrupted by
//! a crash is completed (or was never charged) and is never charged twice.
//! Reads commands from `--script FILE` or stdin; exit 1 if a script line failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use encore_card::{read_card, write_card, CardFile};
use encore_server::api::types::*;
use encore_server::Client;

use super::admin::print_catalogue;
use super::journal::Journal;
use super::remote::{self, block_on, explain, fresh_key, printable, Remote};

const HELP: &str = "insert CARD-FILE | catalogue | wanted | buy CONTENT | eject | help | quit";

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub remote: Remote,
    /// This kiosk's id (its credential must be for this kiosk).
    #[arg(long, value_name = "ID")]
    pub kiosk: String,
    /// The kiosk's journal of unfinished sales (kept across restarts).
    #[arg(long, value_name = "DIR")]
    pub journal: PathBuf,
    /// Read commands from this file instead of stdin.
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
}

/// A sale as the journal keeps it until its license is on the card.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sale {
    card: String,
    card_file: PathBuf,
    content: String,
}

struct Kiosk {
    client: Client,
    id: String,
    journal: Journal,
    /// The inserted card: its file and what it held when read.
    card: Option<(PathBuf, CardFile)>,
    failures: usize,
}

/// A kiosk script of at most 16 MiB of UTF-8 text (an endless file is refused, not read into memory).
fn read_script(path: &Path) -> Result<String, String> {
    let bytes = encore_server::deployment::files::read_bounded(path, 16 << 20, "a script").map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text ({e})"))
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let script: Option<Vec<String>> = match &args.script {
        Some(path) => Some(read_script(path).map_err(|e| format!("cannot read --script {}: {e}", path.display()))?.lines().map(str::to_string).collect()),
        None => None,
    };
    encore_domain::ids::DeviceId::new(args.kiosk.clone()).map_err(|e| format!("--kiosk {}: {e}", args.kiosk))?;
    let client = args.remote.client()?;
    let journal = Journal::open(&args.journal)?;
    let mut kiosk = Kiosk { client, id: args.kiosk.clone(), journal, card: None, failures: 0 };
    block_on(async {
        kiosk.finish_interrupted().await?;
        println!("kiosk {} ready ({HELP})", printable(&kiosk.id));
        let mut number = 0;
        loop {
            let line = match &script {
                Some(lines) => lines.get(number).cloned(),
                None => read_stdin_line().await,
            };
            number += 1;
            let Some(line) = line else { break };
            if !kiosk.handle(&line).await {
                break;
            }
        }
        Ok::<(), String>(())
    })?;
    Ok(if args.script.is_some() && kiosk.failures > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

async fn read_stdin_line() -> Option<String> {
    let read = actix_rt::task::spawn_blocking(|| {
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line),
        }
    });
    read.await.ok().flatten()
}

/// The license of a purchase answer, as the card stores it.
fn card_license(view: &LicenseView) -> Result<encore_card::CardLicense, String> {
    use encore_domain::ids::{ContentId, PurchaseId};
    use encore_domain::licensing::{LicenseTerms, SealedLicense};
    let valid_until = match &view.valid_until {
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| encore_domain::Timestamp::from_micros(t.timestamp_micros()))
                .map_err(|e| format!("license end {text}: {e}"))?,
        ),
        None => None,
    };
    Ok(encore_card::CardLicense {
        content: ContentId::new(view.content.clone()).map_err(|e| e.to_string())?,
        purchase: PurchaseId::new(view.purchase.clone()).map_err(|e| e.to_string())?,
        terms: LicenseTerms { uses_left: view.uses_left, valid_until },
        sealed: SealedLicense(remote::unhex(&view.sealed, "the sealed license")?),
    })
}

/// Writes a bought license onto the card file unless it is already there.
pub fn put_on_card(path: &Path, view: &LicenseView) -> Result<bool, String> {
    let license = card_license(view)?;
    let mut card = read_card(path).map_err(|e| e.to_string())?;
    if card.license(&license.content).is_some_and(|held| held.purchase == license.purchase) {
        return Ok(false);
    }
    card.write_license(license);
    write_card(path, &card).map_err(|e| e.to_string())?;
    Ok(true)
}

impl Kiosk {
    fn fail(&mut self, line: &str, why: &str) -> bool {
        println!("{}: {why}", printable(line));
        self.failures += 1;
        true
    }

    /// Runs one input line; false when the kiosk should stop.
    async fn handle(&mut self, raw: &str) -> bool {
        let code = raw.split('#').next().unwrap_or("").trim();
        let words: Vec<&str> = code.split_whitespace().collect();
        let result = match words.as_slice() {
            [] => return true,
            ["quit" | "exit"] => return false,
            ["help"] => Ok(HELP.to_string()),
            ["insert", file] => self.insert(Path::new(file)).await,
            ["catalogue" | "browse"] => self.catalogue().await,
            ["wanted"] => self.wanted().await,
            ["buy", content] => self.buy(content).await,
            ["eject"] => self.eject().await,
            _ => Err(format!("not a kiosk command; a customer can {HELP} (operator work is `encore admin`)")),
        };
        match result {
            Ok(text) => {
                println!("{text}");
                true
            }
            Err(why) => self.fail(code, &why),
        }
    }

    async fn insert(&mut self, path: &Path) -> Result<String, String> {
        if let Some((held, _)) = &self.card {
            return Err(format!("a card is in the slot already ({}); eject it first", held.display()));
        }
        let card = read_card(path).map_err(|e| e.to_string())?;
        let answer = self.client.answer_at_kiosk(&self.id, &card).await.map_err(|e| explain(&e, None))?;
        let key = fresh_key(&format!("{}-insert", self.id));
        let written = self.client.insert_card(&key, &self.id, card.card().as_str(), &answer).await.map_err(|e| explain(&e, Some(&key)))?;
        if written.value.events.iter().any(|e| e.event_type == "CardRejected") {
            return Err(format!("card {} refused: it is not a genuine, issued, unexpired card", printable(card.card().as_str())));
        }
        let text = format!(
            "card {} inserted (account {}): {} license(s) on it",
            printable(card.card().as_str()),
            printable(card.account().as_str()),
            card.licenses().count()
        );
        self.card = Some((path.to_path_buf(), card));
        Ok(text)
    }

    async fn catalogue(&mut self) -> Result<String, String> {
        let catalogue = self.client.catalogue().await.map_err(|e| explain(&e, None))?.value;
        print_catalogue(&catalogue);
        Ok(format!("{} content(s) on sale", catalogue.contents.len()))
    }

    /// What the card asks for (recorded by a player, 002 claim 5), with what it costs.
    async fn wanted(&mut self) -> Result<String, String> {
        let Some((path, _)) = &self.card else { return Err("insert a card first".into()) };
        let card = read_card(path).map_err(|e| e.to_string())?;
        let wanted: Vec<String> = card.requested().map(ToString::to_string).collect();
        if wanted.is_empty() {
            return Ok("the card asks for nothing".into());
        }
        let mut lines = Vec::new();
        for content in &wanted {
            match self.client.content(content).await {
                Ok(view) => lines.push(format!("{} (price {}, {} plays)", printable(content), view.value.price, view.value.uses)),
                Err(_) => lines.push(format!("{} (not on sale)", printable(content))),
            }
        }
        Ok(format!("the card asks for: {}", lines.join(", ")))
    }

    async fn buy(&mut self, content: &str) -> Result<String, String> {
        let Some((path, card)) = &self.card else { return Err("insert a card first".into()) };
        let (path, card_id) = (path.clone(), card.card().to_string());
        let key = fresh_key(&format!("{}-sale", self.id));
        self.journal.put(&key, &Sale { card: card_id.clone(), card_file: path.clone(), content: content.to_string() })?;
        let text = self.complete(&key, &path, content).await?;
        Ok(text)
    }

    /// Sends (or re-sends) the purchase `key` and puts its license on the card; the journal entry goes last.
    async fn complete(&mut self, key: &str, path: &Path, content: &str) -> Result<String, String> {
        let card = read_card(path).map_err(|e| e.to_string())?;
        let answer = self.client.answer_at_kiosk(&self.id, &card).await.map_err(|e| explain(&e, Some(key)))?;
        let body = Purchase { card: card.card().to_string(), content: content.to_string(), answer };
        let bought = self.client.kiosk_purchase(key, &self.id, &body).await.map_err(|e| explain(&e, Some(key)))?.value;
        let text = match bought.outcome.as_str() {
            "licensed" => {
                let view = bought.license.as_ref().ok_or("the server sold a license without handing it over")?;
                put_on_card(path, view)?;
                let until = view.valid_until.as_deref().map_or(String::new(), |u| format!(" until {u}"));
                format!(
                    "bought {} for {} (balance {}); license on the card: {} plays{until}",
                    printable(content),
                    bought.price.unwrap_or(0),
                    bought.balance.unwrap_or(0),
                    view.uses_left
                )
            }
            "declined" => format!("not bought: {}", bought.reason.as_deref().unwrap_or("declined").replace('-', " ")),
            "card-rejected" => format!("card refused: {}", bought.reason.as_deref().unwrap_or("not genuine").replace('-', " ")),
            "already-on-card" => format!("{} is on the card already", printable(content)),
            other => format!("{}: {other}", printable(content)),
        };
        self.journal.remove(key)?;
        Ok(text)
    }

    /// Sales a crash interrupted: each finished with its own key (answered from the server's log).
    async fn finish_interrupted(&mut self) -> Result<(), String> {
        for (key, sale) in self.journal.pending::<Sale>()? {
            match self.complete(&key, &sale.card_file, &sale.content).await {
                Ok(text) => println!("finished an interrupted sale for card {}: {text}", printable(&sale.card)),
                Err(why) => println!("an interrupted sale for card {} is still pending ({why}); it is finished at the next start", printable(&sale.card)),
            }
        }
        Ok(())
    }

    async fn eject(&mut self) -> Result<String, String> {
        let Some((_, card)) = self.card.take() else { return Err("no card in the slot".into()) };
        let key = fresh_key(&format!("{}-eject", self.id));
        self.client.eject_card(&key, &self.id).await.map_err(|e| explain(&e, Some(&key)))?;
        Ok(format!("card {} ejected", printable(card.card().as_str())))
    }
}
