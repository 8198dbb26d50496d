//! `encore init --data DIR`: a new deployment (log, keystore drawn from the
//! OS CSPRNG, the first operator credential in `DIR/operator.token`). Never
//! prints a secret; refuses an existing deployment or a foreign directory.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The deployment directory to create (missing or empty).
    #[arg(long)]
    pub data: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let deployment = encore_server::deployment::init(&args.data, &now).map_err(|e| e.to_string())?;
    println!("deployment created in {}", deployment.dir.display());
    println!("  log:       {}", deployment.log().display());
    println!("  keystore:  {} (mode 0600; only `encore serve` reads it)", deployment.keystore().display());
    println!("  operator:  token in {} (mode 0600); move it somewhere safe", deployment.operator_token().display());
    println!("next: encore serve --data {}", deployment.dir.display());
    Ok(ExitCode::SUCCESS)
}
