//! `encore serve`: the deployment's log, runtime and credentials behind an
//! actix-web server, over TLS (rustls) or, on loopback or when asked, plain
//! HTTP. SIGTERM and SIGINT stop it gracefully: readiness fails, no new
//! connection is taken, in-flight requests finish, then the runtime stops
//! and the log closes cleanly (memtables flushed: no WAL to replay).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{middleware, web, App, HttpServer};
use encore_actors::clock::ClockGuard;
use encore_actors::{Runtime, RuntimeConfig, SystemClock};
use encore_ledger::{Ledger, LedgerOptions};

use crate::api::{self, AppState, Metrics};
use crate::deployment::contents::ContentStore;
use crate::deployment::{self, CredentialStore, DeploymentError};

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub data: PathBuf,
    pub listen: SocketAddr,
    /// Certificate chain and private key (PEM) for TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Allow plain HTTP on an address other than loopback.
    pub insecure_http: bool,
    /// HTTP worker threads (default: one per core, at most 2).
    pub workers: Option<usize>,
    /// Start without the clock-jump guard (the operator vouches for the clock,
    /// e.g. after a long shutdown, or after correcting a wrong clock).
    pub accept_clock: bool,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error(transparent)]
    Deployment(#[from] DeploymentError),
    #[error("refusing plain HTTP on {addr}, which is not a loopback address: give --tls-cert and --tls-key, or --insecure-http")]
    PlainHttpOutsideLoopback { addr: SocketAddr },
    #[error("{path}: {reason}")]
    Tls { path: String, reason: String },
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error("the server stopped with an error: {0}")]
    Run(String),
}

/// A server that is listening.
pub struct Running {
    /// The address it listens on (the real port when 0 was asked for).
    pub addr: SocketAddr,
    pub handle: actix_web::dev::ServerHandle,
    server: actix_web::dev::Server,
    state: web::Data<AppState>,
}

impl Running {
    /// The deployment's log, as this server has it open (for embedding and
    /// tests; a handle kept past the server's stop keeps the files open).
    pub fn ledger(&self) -> encore_ledger::Ledger {
        self.state.runtime.ledger().clone()
    }

    /// Serves until stopped (a signal, or `handle.stop(true)`), then stops
    /// the runtime and closes the log.
    pub async fn wait(self) -> Result<(), ServeError> {
        let result = self.server.await.map_err(|e| ServeError::Run(e.to_string()));
        self.state.metrics.stopping.store(true, Ordering::Relaxed);
        close(self.state).await;
        result
    }
}

/// How long a stopped server waits for its workers to let go of the state.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Stops the actors (joining their arbiters) and closes the log. The HTTP
/// workers drop their handles on the state as they finish, just after the
/// server future ends: wait for them (without blocking this thread, where
/// some of them may live), so the log is closed, and flushed, on return.
async fn close(state: web::Data<AppState>) {
    let mut state = state.into_inner();
    let deadline = std::time::Instant::now() + CLOSE_WAIT;
    loop {
        match Arc::try_unwrap(state) {
            Ok(state) => {
                let ledger = state.runtime.ledger().clone();
                state.runtime.shutdown();
                drop(ledger);
                tracing::info!("runtime stopped, log closed");
                return;
            }
            Err(shared) if std::time::Instant::now() < deadline => {
                state = shared;
                actix_rt::time::sleep(Duration::from_millis(5)).await;
            }
            Err(_) => {
                tracing::warn!("the state is still shared {CLOSE_WAIT:?} after the server stopped; the log closes with its last handle");
                return;
            }
        }
    }
}

/// HTTP worker threads when `ServeOptions::workers` names none: one per
/// core, at most two.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from).min(2)
}

/// Opens the deployment and starts listening. Must run inside an actix `System`.
pub async fn start(options: &ServeOptions) -> Result<Running, ServeError> {
    let deployment = deployment::open(&options.data)?;
    if options.tls.is_none() && !options.insecure_http && !options.listen.ip().is_loopback() {
        return Err(ServeError::PlainHttpOutsideLoopback { addr: options.listen });
    }
    let tls = options.tls.as_ref().map(|(cert, key)| tls_config(cert, key)).transpose()?;
    let secrets = deployment::keystore::load(&deployment.keystore()).map_err(DeploymentError::from)?;
    let credentials = CredentialStore::open(deployment.credentials()).map_err(DeploymentError::from)?;
    let ledger = Ledger::open(deployment.log(), LedgerOptions::default()).map_err(DeploymentError::from)?;
    let clock_guard = (!options.accept_clock).then(ClockGuard::default);
    let runtime = Runtime::open(ledger, Arc::new(SystemClock), secrets, RuntimeConfig { clock_guard, ..RuntimeConfig::default() });
    let state = web::Data::new(AppState {
        runtime,
        credentials,
        contents: ContentStore::new(deployment.contents()),
        catalogue: Default::default(),
        limits: Default::default(),
        metrics: Metrics::default(),
    });
    let shared = state.clone();
    let server = HttpServer::new(move || {
        App::new().app_data(shared.clone()).wrap(middleware::from_fn(api::limit_request)).wrap(middleware::from_fn(api::measure)).configure(api::configure)
    })
    .workers(options.workers.unwrap_or_else(default_workers))
    .shutdown_timeout(10)
    .disable_signals()
    .client_request_timeout(Duration::from_secs(10))
    .keep_alive(Duration::from_secs(75));
    let bound = match tls {
        Some(config) => server.bind_rustls_0_23(options.listen, config),
        None => server.bind(options.listen),
    }
    .map_err(|e| ServeError::Bind { addr: options.listen, reason: e.to_string() })?;
    let addr = bound.addrs().first().copied().unwrap_or(options.listen);
    let server = bound.run();
    let handle = server.handle();
    tracing::info!(%addr, tls = options.tls.is_some(), "encore serve listening");
    Ok(Running { addr, handle, server, state })
}

/// Runs `encore serve` to the end on a fresh actix `System`: until SIGTERM
/// or SIGINT, which first make readiness fail, then stop the server
/// gracefully (in-flight requests finish).
pub fn serve(options: ServeOptions, on_listening: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    actix_rt::System::new().block_on(async move {
        // Handlers first: a signal that comes right after "listening" must
        // stop the server gracefully, not kill the process.
        let signals = Signals::install()?;
        let running = start(&options).await?;
        on_listening(running.addr);
        let (handle, state) = (running.handle.clone(), running.state.clone());
        actix_rt::spawn(async move {
            let signal = signals.first().await;
            tracing::info!(signal, "stopping: in-flight requests finish, then the log closes");
            state.metrics.stopping.store(true, Ordering::Relaxed);
            drop(state);
            handle.stop(true).await;
        });
        running.wait().await
    })
}

/// SIGTERM and SIGINT, listened for from the moment they are installed.
struct Signals {
    term: actix_rt::signal::unix::Signal,
    int: actix_rt::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals, ServeError> {
        use actix_rt::signal::unix::{signal, SignalKind};
        let failed = |e: std::io::Error| ServeError::Run(format!("cannot listen for SIGTERM and SIGINT: {e}"));
        Ok(Signals { term: signal(SignalKind::terminate()).map_err(failed)?, int: signal(SignalKind::interrupt()).map_err(failed)? })
    }

    /// The name of the first one to arrive.
    async fn first(mut self) -> &'static str {
        let (term, int) = (self.term.recv(), self.int.recv());
        futures_util::pin_mut!(term, int);
        match futures_util::future::select(term, int).await {
            futures_util::future::Either::Left(_) => "SIGTERM",
            futures_util::future::Either::Right(_) => "SIGINT",
        }
    }
}

fn tls_config(cert: &PathBuf, key: &PathBuf) -> Result<rustls::ServerConfig, ServeError> {
    let tls_error = |path: &PathBuf, reason: String| ServeError::Tls { path: path.display().to_string(), reason };
    let read = |path: &PathBuf| {
        crate::deployment::files::read_bounded(path, crate::deployment::files::MAX_PEM_BYTES, "a PEM file").map_err(|e| tls_error(path, e.to_string()))
    };
    let cert_bytes = read(cert)?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut cert_bytes.as_slice()).collect::<Result<_, _>>().map_err(|e| tls_error(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(tls_error(cert, "no certificate in the file".into()));
    }
    let key_bytes = read(key)?;
    let private = rustls_pemfile::private_key(&mut key_bytes.as_slice())
        .map_err(|e| tls_error(key, e.to_string()))?
        .ok_or_else(|| tls_error(key, "no private key in the file".into()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(|e| tls_error(key, e.to_string()))
}
