//! `encore serve --data DIR [--listen ADDR] [--tls-cert F --tls-key F]`: the
//! deployment's servers over HTTP until SIGTERM or SIGINT (graceful: in-flight
//! requests finish, the log closes cleanly). Prints one line
//! `listening on http(s)://ADDR` on stdout once it accepts connections.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use encore_server::ServeOptions;

#[derive(clap::Args)]
pub struct Args {
    /// The deployment directory (`encore init`).
    #[arg(long)]
    pub data: PathBuf,
    /// The address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
    /// TLS certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on an address that is not loopback.
    #[arg(long)]
    pub insecure_http: bool,
    /// HTTP worker threads (default: one per core, at most 2).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Start without the clock-jump guard: writes are refused while the system
    /// clock is more than 30 days ahead of the newest record at start, or
    /// jumps more than 5 minutes from the monotonic clock's measure; give this
    /// when the clock is right (a long shutdown, a corrected clock).
    #[arg(long)]
    pub accept_clock: bool,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let scheme = if args.tls_cert.is_some() { "https" } else { "http" };
    let options = ServeOptions {
        data: args.data,
        listen: args.listen,
        tls: args.tls_cert.zip(args.tls_key),
        insecure_http: args.insecure_http,
        workers: args.workers,
        accept_clock: args.accept_clock,
    };
    // Written, not printed: a supervisor that stopped reading stdout (closed
    // pipe) must not turn a clean stop into a panic.
    encore_server::serve::serve(options, |addr| {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "listening on {scheme}://{addr}");
        let _ = out.flush();
    })
    .map_err(|e| e.to_string())?;
    let _ = writeln!(std::io::stdout(), "stopped cleanly");
    Ok(ExitCode::SUCCESS)
}
