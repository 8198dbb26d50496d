//! `encore device --server URL --token FILE --device ID ...`: a PC or PD of
//! seed 003 as a client of the group management and distribution servers,
//! with its own device credential: registration (a PD through its PC),
//! group certificates from the certificate management, playing and radio
//! sharing, favorites PD -> PC -> server, and reliability and the charisma
//! list synced back. Each write sends a fresh idempotency key (`--key K` to
//! repeat one whose answer was lost).

use std::process::ExitCode;

use encore_server::api::types::Written;
use encore_server::{Answer, Client, ClientError};

use super::remote::{block_on, explain, fresh_key, printable, Remote};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub remote: Remote,
    /// This device's id (its credential must be for it).
    #[arg(long, value_name = "ID")]
    pub device: String,
    /// The idempotency key of this write (to retry one whose answer was lost).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Register into a group (a PC itself; a PD through its registered PC, with the PC's credential).
    Register {
        group: String,
        #[arg(long, value_name = "PC")]
        via: Option<String>,
    },
    /// Leave a group.
    Deregister { group: String },
    /// A PC issues a group certificate for its recorder id.
    Certify {
        group: String,
        #[arg(long, value_name = "RFC3339")]
        valid_until: String,
    },
    /// The group's certificates (a newly registered PC fetches them, 003 [0252], [0293]).
    Certificates { group: String },
    /// Accept a group certificate by its recorder id (the server supplies the certificate).
    Accept { group: String, recorder: String },
    /// Play a content of the device's library.
    Play { content: String },
    /// Mark a content of a PD's library shareable by radio.
    Shareable { content: String },
    /// A PD's radio settings.
    Radio {
        #[arg(long, value_parser = ["on", "off"])]
        auto_switch: String,
        #[arg(long)]
        threshold: u64,
    },
    /// Transmit a shareable content by radio; prints the transmission's position for receivers.
    Transmit { content: String },
    /// Receive the transmission at a log position.
    Receive { position: u64 },
    /// The favorite button: records what the PD plays.
    Favorite,
    /// A PD uploads its favorites to a PC of its group.
    Upload {
        #[arg(long)]
        pc: String,
    },
    /// A PC forwards the favorites it holds to the distribution server.
    Forward,
    /// Fetch the group's reliability and the charisma list.
    Sync,
    /// Show the device as the server knows it.
    Show,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    encore_domain::ids::DeviceId::new(args.device.clone()).map_err(|e| format!("--device {}: {e}", args.device))?;
    let client = args.remote.client()?;
    let key = args.key.clone().unwrap_or_else(|| fresh_key(&format!("{}-device", args.device)));
    block_on(execute(&client, &args.device, &key, args.command))?;
    Ok(ExitCode::SUCCESS)
}

/// The event types a write appended, for people.
fn said(answer: Result<Answer<Written>, ClientError>, key: &str) -> Result<String, String> {
    let written = answer.map_err(|e| explain(&e, Some(key)))?;
    let types: Vec<&str> = written.value.events.iter().map(|e| e.event_type.as_str()).collect();
    Ok(if types.is_empty() { "nothing new".to_string() } else { types.join(" ") })
}

async fn execute(client: &Client, device: &str, key: &str, command: Command) -> Result<(), String> {
    let line = match command {
        Command::Register { group, via } => {
            format!("registered in {}: {}", printable(&group), said(client.register_device(key, &group, device, via.as_deref()).await, key)?)
        }
        Command::Deregister { group } => format!("left {}: {}", printable(&group), said(client.deregister_device(key, &group, device).await, key)?),
        Command::Certify { group, valid_until } => said(client.issue_certificate(key, &group, device, &valid_until).await, key)?,
        Command::Certificates { group } => {
            let view = client.certificates(&group).await.map_err(|e| explain(&e, None))?.value;
            let lines: Vec<String> = view
                .certificates
                .iter()
                .map(|c| format!("  recorder {} of group {}, valid until {}", printable(&c.recorder), printable(&c.group), c.valid_until))
                .collect();
            format!("{} certificate(s)\n{}", lines.len(), lines.join("\n"))
        }
        Command::Accept { group, recorder } => said(client.accept_certificate(key, device, &group, &recorder).await, key)?,
        Command::Play { content } => said(client.play_on_device(key, device, &content).await, key)?,
        Command::Shareable { content } => said(client.mark_shareable(key, device, &content).await, key)?,
        Command::Radio { auto_switch, threshold } => said(client.set_radio(key, device, auto_switch == "on", threshold).await, key)?,
        Command::Transmit { content } => {
            let written = client.transmit(key, device, &content).await.map_err(|e| explain(&e, Some(key)))?.value;
            let shared = written.events.iter().find(|e| e.event_type == "ContentShared").ok_or("the transmission was not recorded")?;
            format!("transmitted {} (receivers name position {})", printable(&content), shared.position)
        }
        Command::Receive { position } => said(client.receive(key, device, position).await, key)?,
        Command::Favorite => said(client.press_favorite(key, device).await, key)?,
        Command::Upload { pc } => said(client.upload_favorites(key, device, &pc).await, key)?,
        Command::Forward => said(client.forward_favorites(key, device).await, key)?,
        Command::Sync => said(client.sync_reputation(key, device).await, key)?,
        Command::Show => {
            let view = client.device(device).await.map_err(|e| explain(&e, None))?.value;
            format!(
                "device {} ({}) in group {}: library [{}], {} favorite(s), reliability {}, charisma [{}]",
                printable(&view.device),
                view.kind.as_deref().unwrap_or("unprovisioned"),
                view.group.as_deref().map_or_else(|| "none".to_string(), printable),
                view.library.iter().map(|c| printable(c)).collect::<Vec<_>>().join(", "),
                view.favorites,
                view.reliability,
                view.charisma.iter().map(|g| printable(g)).collect::<Vec<_>>().join(", ")
            )
        }
    };
    println!("{line}");
    Ok(())
}
