//! `encore player --player ID --state DIR --card FILE play CONTENT --out FILE`:
//! a player (000 claims 7-13) that works with or without a connection. It
//! reads the carried card, refuses a copy older than one it has seen (the
//! card's generation is sealed under its key), has the card open the license,
//! check its use condition, re-seal it with one use fewer and overwrite it;
//! then decrypts the content file with the license's key (the AEAD checks
//! every byte) and writes the plaintext.
//!
//! Each play is journaled (`DIR/plays/`) before the card is written, so a
//! player stopped in between finishes the play on the card at its next start,
//! and `encore player sync` (or any verb run with `--server`) reports it to
//! the license server exactly once: the report's idempotency key is the
//! card's generation, and the server counts a use only when it follows its
//! own copy of the license by one.
//!
//! Content files come from `--content-file`, the player's store
//! (`DIR/contents/`) or the server (then kept in the store).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use encore_card::{read_card, write_card, CardFile, Witness};
use encore_domain::ids::ContentId;
use encore_domain::licensing::SealedLicense;
use encore_server::api::types::*;
use encore_server::deployment::contents::MAX_CONTENT_FILE_BYTES;
use encore_server::deployment::files::read_bounded;
use encore_server::Client;

use super::journal::Journal;
use super::remote::{self, block_on, explain, printable};

#[derive(clap::Args)]
pub struct Args {
    /// The license server (plays still work without one; they are reported later).
    #[arg(long, value_name = "URL", requires = "token")]
    pub server: Option<String>,
    /// This player's device credential (mode 0600).
    #[arg(long, value_name = "FILE")]
    pub token: Option<PathBuf>,
    /// The server's certificate authority (PEM), for https.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// This player's device id.
    #[arg(long, value_name = "ID")]
    pub player: String,
    /// The player's own directory: plays to report, cards seen, content files.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// The card in the player.
    #[arg(long, value_name = "FILE")]
    pub card: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Play a content from the card and write its plaintext to --out.
    Play {
        content: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The encrypted content file, when it is not in the player's store.
        #[arg(long, value_name = "FILE")]
        content_file: Option<PathBuf>,
        /// Overwrite --out if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Buy a content onto the card from this player (online): the license is written on the card.
    Buy { content: String },
    /// Report the plays not yet reported to the license server.
    Sync,
    /// Record on the card a content the customer wants a kiosk to buy (002 claim 5).
    Want { content: String },
    /// Show the card: its licenses, what it asks for, its generation.
    Show,
}

/// A play as the journal keeps it until the server has counted it.
#[derive(serde::Serialize, serde::Deserialize)]
struct PlayReport {
    card: String,
    content: String,
    played_at: String,
    sealed: String,
    generation_after: u64,
}

/// A purchase as the journal keeps it until its license is on the card.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sale {
    card_file: PathBuf,
    content: String,
}

struct Player {
    id: String,
    client: Option<Client>,
    plays: Journal,
    purchases: Journal,
    witness: Witness,
    store: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    encore_domain::ids::DeviceId::new(args.player.clone()).map_err(|e| format!("--player {}: {e}", args.player))?;
    let client = match (&args.server, &args.token) {
        (Some(server), Some(token)) => Some(remote::client(server, token, args.ca.as_deref())?),
        _ => None,
    };
    let player = Player {
        id: args.player.clone(),
        client,
        plays: Journal::open(&args.state.join("plays"))?,
        purchases: Journal::open(&args.state.join("purchases"))?,
        witness: Witness::new(&args.state.join("seen")),
        store: args.state.join("contents"),
    };
    let card_path = || args.card.clone().ok_or_else(|| "this verb needs --card FILE".to_string());
    block_on(async {
        match args.command {
            Command::Play { content, out, content_file, force } => player.play(&card_path()?, &content, &out, content_file.as_deref(), force).await,
            Command::Sync => player.sync().await.map(|_| ()),
            Command::Buy { content } => player.buy(&card_path()?, &content).await,
            Command::Want { content } => player.want(&card_path()?, &content),
            Command::Show => player.show(&card_path()?),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    super::write_atomically(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

impl Player {
    /// The card at `path`, with any journaled play it missed finished on it, checked against what this player saw.
    fn load_card(&self, path: &Path) -> Result<CardFile, String> {
        let mut card = read_card(path).map_err(|e| e.to_string())?;
        let mut redone = false;
        for (_, play) in self.plays.pending::<PlayReport>()? {
            if play.card == card.card().as_str() && play.generation_after > card.generation() {
                let content = ContentId::new(play.content.clone()).map_err(|e| e.to_string())?;
                let sealed = SealedLicense(remote::unhex(&play.sealed, "a journaled license")?);
                redone |= card.redo_play(&content, &sealed).map_err(|e| format!("finishing a journaled play: {e}"))?;
            }
        }
        self.witness.check(&card).map_err(|e| e.to_string())?;
        if redone {
            write_card(path, &card).map_err(|e| e.to_string())?;
            self.witness.remember(&card).map_err(|e| e.to_string())?;
            println!("finished a play that was interrupted before it reached the card");
        }
        Ok(card)
    }

    /// The encrypted file of `content`: given, stored, or fetched (and stored).
    async fn ciphertext(&self, content: &str, given: Option<&Path>) -> Result<Vec<u8>, String> {
        if let Some(path) = given {
            return read_ciphertext(path).map_err(|e| format!("{}: {e}", path.display()));
        }
        let stored = self.store.join(content);
        if let Ok(bytes) = read_ciphertext(&stored) {
            return Ok(bytes);
        }
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| format!("content {} is not in the player's store and there is no --server to fetch it from", printable(content)))?;
        let bytes = client.content_file(content).await.map_err(|e| explain(&e, None))?;
        std::fs::create_dir_all(&self.store).map_err(|e| format!("{}: {e}", self.store.display()))?;
        write_atomically(&stored, &bytes)?;
        Ok(bytes)
    }

    async fn play(&self, card_path: &Path, content: &str, out: &Path, given: Option<&Path>, force: bool) -> Result<(), String> {
        if out.exists() && !force {
            return Err(format!("{} exists; give --force to overwrite it", out.display()));
        }
        let mut card = self.load_card(card_path)?;
        let content_id = ContentId::new(content.to_string()).map_err(|e| e.to_string())?;
        let ciphertext = self.ciphertext(content, given).await?;
        let now = remote::now();
        let played = card.play(&content_id, now).map_err(|e| e.to_string())?;
        let plain = played.key.decrypt_content(&content_id, &ciphertext).map_err(|e| e.to_string())?;
        // Zero-padded, so the journal lists a card's plays in the order they were made (and sync reports them so).
        let key = format!("play-{}-{}-{:020}", self.id, card.card(), card.generation());
        let report = PlayReport {
            card: card.card().to_string(),
            content: content.to_string(),
            played_at: remote::rfc3339(now),
            sealed: super::hex(&played.sealed_after.0),
            generation_after: card.generation(),
        };
        self.plays.put(&key, &report)?;
        write_card(card_path, &card).map_err(|e| e.to_string())?;
        self.witness.remember(&card).map_err(|e| e.to_string())?;
        write_atomically(out, &plain)?;
        println!(
            "played {} from card {}: {} play(s) left; {} bytes written to {}",
            printable(content),
            printable(card.card().as_str()),
            played.terms_after.uses_left,
            plain.len(),
            out.display()
        );
        if self.client.is_some() {
            if let Err(why) = self.sync().await {
                println!("the play is kept to report later ({why})");
            }
        }
        Ok(())
    }

    /// A purchase onto the card (002 claims 1-2, 10), journaled before it is sent
    /// and finished with the same key after a restart, like a kiosk's sale.
    async fn buy(&self, card_path: &Path, content: &str) -> Result<(), String> {
        for (key, sale) in self.purchases.pending::<Sale>()? {
            let text = self.complete_purchase(&key, &sale.card_file, &sale.content).await?;
            println!("finished an interrupted purchase: {text}");
        }
        let key = remote::fresh_key(&format!("{}-buy", self.id));
        self.purchases.put(&key, &Sale { card_file: card_path.to_path_buf(), content: content.to_string() })?;
        let text = self.complete_purchase(&key, card_path, content).await?;
        println!("{text}");
        Ok(())
    }

    async fn complete_purchase(&self, key: &str, card_path: &Path, content: &str) -> Result<String, String> {
        let client = self.client.as_ref().ok_or("buying needs --server and --token")?;
        let card = self.load_card(card_path)?;
        let answer = client.answer_at_player(&self.id, &card).await.map_err(|e| explain(&e, Some(key)))?;
        let body = Purchase { card: card.card().to_string(), content: content.to_string(), answer };
        let bought = client.player_purchase(key, &self.id, &body).await.map_err(|e| explain(&e, Some(key)))?.value;
        let text = match (bought.outcome.as_str(), &bought.license) {
            ("licensed", Some(view)) => {
                super::kiosk::put_on_card(card_path, view)?;
                let card = read_card(card_path).map_err(|e| e.to_string())?;
                self.witness.remember(&card).map_err(|e| e.to_string())?;
                format!(
                    "bought {} for {} (balance {}); license on the card: {} plays",
                    printable(content),
                    bought.price.unwrap_or(0),
                    bought.balance.unwrap_or(0),
                    view.uses_left
                )
            }
            (outcome, _) => format!("{}: {}", printable(content), bought.reason.as_deref().unwrap_or(outcome).replace('-', " ")),
        };
        self.purchases.remove(key)?;
        Ok(text)
    }

    /// Reports every journaled play; each entry goes once the server has answered it.
    async fn sync(&self) -> Result<usize, String> {
        let client = self.client.as_ref().ok_or("sync needs --server and --token")?;
        let mut pending = self.plays.pending::<PlayReport>()?;
        // Each card's plays in the order they were made: the server counts a use only after the one before it.
        pending.sort_by(|(_, a), (_, b)| (&a.card, a.generation_after).cmp(&(&b.card, b.generation_after)));
        let (mut recorded, mut refused) = (0, 0);
        for (key, play) in &pending {
            let body =
                PlayReportBody { card: play.card.clone(), content: play.content.clone(), played_at: play.played_at.clone(), sealed: play.sealed.clone() };
            let answer = client.report_play(key, &self.id, &body).await.map_err(|e| explain(&e, None))?.value;
            match answer.outcome.as_str() {
                "refused" => {
                    refused += 1;
                    println!(
                        "the play of {} on card {} was not counted: {}",
                        printable(&play.content),
                        printable(&play.card),
                        answer.reason.as_deref().unwrap_or("refused").replace('-', " ")
                    );
                }
                _ => recorded += 1,
            }
            self.plays.remove(key)?;
        }
        println!("reported {} play(s): {recorded} counted, {refused} refused", pending.len());
        Ok(pending.len())
    }

    fn want(&self, card_path: &Path, content: &str) -> Result<(), String> {
        let mut card = self.load_card(card_path)?;
        let content_id = ContentId::new(content.to_string()).map_err(|e| e.to_string())?;
        if card.record_wanted(content_id) {
            write_card(card_path, &card).map_err(|e| e.to_string())?;
            self.witness.remember(&card).map_err(|e| e.to_string())?;
            println!("{} recorded on the card for a kiosk to buy", printable(content));
        } else {
            println!("{} is on the card already", printable(content));
        }
        Ok(())
    }

    fn show(&self, card_path: &Path) -> Result<(), String> {
        let card = self.load_card(card_path)?;
        println!("card {} (account {}), generation {}", printable(card.card().as_str()), printable(card.account().as_str()), card.generation());
        for license in card.licenses() {
            let until = license.terms.valid_until.map_or(String::new(), |t| format!(" until {}", remote::rfc3339(t)));
            println!("  {}: {} play(s) left{until}", printable(license.content.as_str()), license.terms.uses_left);
        }
        let wanted: Vec<String> = card.requested().map(|c| printable(c.as_str())).collect();
        if !wanted.is_empty() {
            println!("  asks a kiosk for: {}", wanted.join(", "));
        }
        Ok(())
    }
}

/// An encrypted content file: at most the server's limit for a content plus the AEAD's overhead.
fn read_ciphertext(path: &Path) -> std::io::Result<Vec<u8>> {
    read_bounded(path, MAX_CONTENT_FILE_BYTES as u64 + 64, "an encrypted content file")
}
