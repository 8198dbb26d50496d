//! `encore admin --server URL --token FILE ...`: the operator's work over the
//! API with an operator credential: accounts, money, cards (a card file is
//! written for the customer to carry), the catalogue (content files are
//! uploaded and stored encrypted by the server), charisma policy and rewards.
//!
//! Every write sends an idempotency key: `--key K` to repeat an earlier
//! request safely (the answer comes from the log), else a fresh one, printed
//! when no answer came so the operator can retry with it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use encore_card::CardFile;
use encore_server::api::types::*;
use encore_server::Client;

use super::remote::{block_on, explain, fresh_key, printable, Remote};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub remote: Remote,
    /// The idempotency key of this write (to retry one whose answer was lost).
    #[arg(long, global = true, value_name = "KEY")]
    pub key: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Accounts (002 claims 1-2, 7).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Load money onto an account (minor units).
    Load { account: String, amount: u64 },
    /// Cards customers carry.
    #[command(subcommand)]
    Card(CardCommand),
    /// The license server's catalogue.
    #[command(subcommand)]
    Content(ContentCommand),
    /// Set the charisma policy: points for the first and for further purchases through a group's favorite, threshold or top N.
    Policy {
        #[arg(long)]
        points: Option<u64>,
        #[arg(long)]
        further: Option<u64>,
        #[arg(long)]
        threshold: Option<u64>,
        #[arg(long)]
        top: Option<u32>,
    },
    /// Register a user with the group management server: a leaf id and a group id.
    User {
        user: String,
        #[arg(long, value_name = "NNNNN")]
        service: String,
    },
    /// Bring a PC (with --terminal, and --recorder if it rips) or a PD into service.
    Provision {
        device: String,
        #[arg(long, value_parser = ["pc", "pd"])]
        kind: String,
        #[arg(long)]
        terminal: Option<String>,
        #[arg(long)]
        recorder: Option<String>,
    },
    /// Give a group a member reward (a discount in basis points, 1-10000).
    Reward {
        group: String,
        #[arg(long)]
        discount_bp: u32,
    },
}

#[derive(clap::Subcommand)]
pub enum AccountCommand {
    /// Open an accounting id with an optional first load.
    Open {
        account: String,
        #[arg(long, default_value_t = 0)]
        balance: u64,
        #[arg(long, value_name = "RFC3339")]
        expires: Option<String>,
    },
    /// Show an account's balance and totals.
    Show { account: String },
    /// Link an account to a registered user: its purchases earn the user's group rewards and spend its favorites.
    Link {
        account: String,
        #[arg(long)]
        user: String,
    },
}

#[derive(clap::Subcommand)]
pub enum CardCommand {
    /// Issue a card for an open account and write its card file (the card the customer carries).
    Issue {
        card: String,
        #[arg(long)]
        account: String,
        /// Where the card file goes (refused if it exists, unless --force).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[arg(long, value_name = "RFC3339")]
        expires: Option<String>,
        #[arg(long)]
        force: bool,
    },
}

#[derive(clap::Subcommand)]
pub enum ContentCommand {
    /// Encrypt a file under a fresh content key on the server, store it and list it.
    Add {
        file: PathBuf,
        #[arg(long)]
        id: String,
        #[arg(long)]
        price: u64,
        #[arg(long)]
        uses: u32,
        /// Days a license stays valid after purchase.
        #[arg(long, value_name = "DAYS")]
        valid: Option<u32>,
        #[arg(long)]
        title: Option<String>,
    },
    /// List a content without a file (its key is made by the server).
    List {
        id: String,
        #[arg(long)]
        price: u64,
        #[arg(long)]
        uses: u32,
        #[arg(long, value_name = "DAYS")]
        valid: Option<u32>,
    },
    /// Show the catalogue.
    Show,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let client = args.remote.client()?;
    let key = args.key.clone().unwrap_or_else(|| fresh_key("admin"));
    block_on(execute(&client, &key, args.command))?;
    Ok(ExitCode::SUCCESS)
}

async fn execute(client: &Client, key: &str, command: Command) -> Result<(), String> {
    let lost = |e: encore_server::ClientError| explain(&e, Some(key));
    match command {
        Command::Account(AccountCommand::Open { account, balance, expires }) => {
            let body = OpenAccount { account: account.clone(), initial: balance, expires_at: expires };
            let written = client.open_account(key, &body).await.map_err(lost)?;
            println!("account {} open, balance {}", printable(&account), written.value.balance);
        }
        Command::Account(AccountCommand::Show { account }) => {
            let view = client.account(&account).await.map_err(|e| explain(&e, None))?.value;
            println!("account {}: balance {}, loaded {}, charged {}", printable(&view.account), view.balance, view.loaded, view.charged);
        }
        Command::Account(AccountCommand::Link { account, user }) => {
            let linked = client.link_account(key, &account, &user).await.map_err(lost)?;
            println!("account {} linked to user {} (group {})", printable(&account), printable(&user), printable(&linked.value.group));
        }
        Command::Load { account, amount } => {
            let written = client.load(key, &account, amount, None).await.map_err(lost)?;
            println!("loaded {amount} onto {}: balance {}", printable(&account), written.value.balance);
        }
        Command::Card(CardCommand::Issue { card, account, out, expires, force }) => {
            refuse_existing(&out, force)?;
            client.issue_card(key, &IssueCard { card: card.clone(), account: account.clone(), expires_at: expires }).await.map_err(lost)?;
            let image = client.card_image(&card).await.map_err(|e| explain(&e, None))?;
            let file = CardFile::from_bytes(&image).map_err(|e| format!("the server's card image: {e}"))?;
            encore_card::write_card(&out, &file).map_err(|e| e.to_string())?;
            println!("card {} issued for account {}; card file written to {}", printable(&card), printable(&account), out.display());
        }
        Command::Content(ContentCommand::Add { file, id, price, uses, valid, title }) => {
            let plain = read_content_file(&file)?;
            let bytes = plain.len();
            let terms = ContentFileTerms { price, uses, valid_days: valid, title };
            client.upload_content(key, &id, &terms, plain).await.map_err(lost)?;
            println!("content {} listed: price {price}, {uses} plays; {bytes} bytes stored encrypted", printable(&id));
        }
        Command::Content(ContentCommand::List { id, price, uses, valid }) => {
            client.list_content(key, &ListContent { content: id.clone(), price, uses, valid_days: valid }).await.map_err(lost)?;
            println!("content {} listed: price {price}, {uses} plays", printable(&id));
        }
        Command::Content(ContentCommand::Show) => {
            let catalogue = client.catalogue().await.map_err(|e| explain(&e, None))?.value;
            print_catalogue(&catalogue);
        }
        Command::Policy { points, further, threshold, top } => {
            let body = ConfigureDistribution { points_per_purchase: points, points_per_further_purchase: further, threshold, top_n: top };
            client.configure_distribution(key, &body, None).await.map_err(lost)?;
            println!("charisma policy set");
        }
        Command::User { user, service } => {
            let body = RegisterUser { user: user.clone(), service, max_pcs: None, max_recorders: None };
            let made = client.register_user(key, &body).await.map_err(lost)?;
            println!("user {} registered: group {}", printable(&user), made.value.group.as_deref().map_or_else(|| "?".to_string(), printable));
        }
        Command::Provision { device, kind, terminal, recorder } => {
            client.provision_device(key, &ProvisionDevice { device: device.clone(), kind: kind.clone(), terminal, recorder }).await.map_err(lost)?;
            println!("{kind} {} provisioned", printable(&device));
        }
        Command::Reward { group, discount_bp } => {
            client.set_reward(key, &group, discount_bp).await.map_err(lost)?;
            println!("group {} rewarded: {discount_bp} basis points off", printable(&group));
        }
    }
    Ok(())
}

/// The catalogue as a table for people.
pub fn print_catalogue(catalogue: &CatalogueView) {
    if catalogue.contents.is_empty() {
        println!("(nothing on sale)");
        return;
    }
    println!("{:<16} {:<32} {:>8} {:>6} {:>8}", "content", "title", "price", "plays", "valid");
    for c in &catalogue.contents {
        let valid = c.valid_days.map_or("always".to_string(), |d| format!("{d} days"));
        let title = c.title.as_deref().map_or_else(|| "-".to_string(), printable);
        println!("{:<16} {:<32} {:>8} {:>6} {:>8}", printable(&c.content), title, c.price, c.uses, valid);
    }
}

fn refuse_existing(path: &Path, force: bool) -> Result<(), String> {
    if path.exists() && !force {
        return Err(format!("{} exists; give --force to overwrite it", path.display()));
    }
    Ok(())
}

/// A content file to upload: at most the server's limit, read whole.
fn read_content_file(path: &Path) -> Result<Vec<u8>, String> {
    let limit = encore_server::deployment::contents::MAX_CONTENT_FILE_BYTES as u64;
    encore_server::deployment::files::read_bounded(path, limit, "a content file").map_err(|e| format!("{}: {e}", path.display()))
}
