//! `encore credentials add|list|revoke --data DIR`: bearer tokens and their
//! roles. A new token is printed once (or written to `--out`, mode 0600) and
//! never stored: the deployment keeps its hash. A running server picks up
//! changes on its next request.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::ExitCode;

use encore_server::deployment::{self, credentials, Role};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Make a credential: operator, kiosk (with --station), device (with --station) or auditor.
    Add(AddArgs),
    /// List credentials (ids, roles, stations; never tokens).
    List(DataArgs),
    /// Revoke a credential: its token stops working at once.
    Revoke(RevokeArgs),
}

#[derive(clap::Args)]
pub struct DataArgs {
    /// The deployment directory.
    #[arg(long)]
    pub data: PathBuf,
}

#[derive(clap::Args)]
pub struct AddArgs {
    #[arg(long)]
    pub data: PathBuf,
    /// The credential's id (1-32 letters, digits or '-').
    #[arg(long)]
    pub id: String,
    /// operator, kiosk, device or auditor.
    #[arg(long, value_parser = parse_role)]
    pub role: Role,
    /// The kiosk or device id a station credential acts as.
    #[arg(long)]
    pub station: Option<String>,
    /// Write the token to this file (mode 0600) instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct RevokeArgs {
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long)]
    pub id: String,
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("unknown role {text:?} (operator, kiosk, device or auditor)"))
}

pub fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Add(args) => add(args),
        Command::List(args) => list(args),
        Command::Revoke(args) => {
            let deployment = deployment::open(&args.data).map_err(|e| e.to_string())?;
            let revoked = credentials::revoke(&deployment.credentials(), &args.id).map_err(|e| e.to_string())?;
            println!("revoked {} ({})", revoked.id, revoked.role.name());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn add(args: AddArgs) -> Result<ExitCode, String> {
    let deployment = deployment::open(&args.data).map_err(|e| e.to_string())?;
    if let Some(out) = &args.out {
        if out.exists() {
            return Err(format!("{} exists; choose a new file for the token", out.display()));
        }
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let made = credentials::add(&deployment.credentials(), &args.id, args.role, args.station.as_deref(), &now).map_err(|e| e.to_string())?;
    match &args.out {
        Some(out) => {
            let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(out).map_err(|e| format!("{}: {e}", out.display()))?;
            file.write_all(format!("{}\n", made.token).as_bytes()).and_then(|()| file.sync_all()).map_err(|e| format!("{}: {e}", out.display()))?;
            println!("added {} ({}); token written to {}", made.credential.id, made.credential.role.name(), out.display());
        }
        None => {
            println!("added {} ({}); its token, shown only now:", made.credential.id, made.credential.role.name());
            println!("{}", made.token);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(args: DataArgs) -> Result<ExitCode, String> {
    let deployment = deployment::open(&args.data).map_err(|e| e.to_string())?;
    let all = credentials::read_all(&deployment.credentials()).map_err(|e| e.to_string())?;
    println!("{:<32} {:<9} {:<20} {:<21} state", "id", "role", "station", "created");
    for c in all {
        let state = if c.revoked { "revoked" } else { "active" };
        println!("{:<32} {:<9} {:<20} {:<21} {state}", c.id, c.role.name(), c.station.as_deref().unwrap_or("-"), c.created_at);
    }
    Ok(ExitCode::SUCCESS)
}
