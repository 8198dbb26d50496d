//! Purchases over HTTP against the same purchases through the in-process
//! runtime, in one run: throughput, p50 and p99 per purchase.
//!
//! `cargo bench -p encore-server --bench http_purchases`. Each side gets a
//! fresh deployment with `ENCORE_BENCH_CARDS` cards (default 1024) and runs
//! `ENCORE_BENCH_SECONDS` (default 5) per client count
//! (`ENCORE_BENCH_CLIENTS`, default `64`). Over HTTP, every client is its own
//! keep-alive connection (one awc client each) on the load generator's
//! thread; the server runs in the same process on its own threads, so the
//! client's CPU counts against the machine, as the target asks.
//! `ENCORE_BENCH_WORKERS` sets the server's HTTP worker threads (default:
//! `encore serve`'s).
//!
//! A third run, `http-floor`, is the same load generator against a server
//! that does nothing but HTTP: one route of the same path that reads the
//! same JSON body and answers the body a real purchase answered, with the
//! same worker threads. It is what HTTP alone costs on this machine, client
//! included; `bound` is the rate a purchase could reach over HTTP if the
//! server's only costs were those and the in-process purchase's
//! (1 / (1/in-process + 1/floor)): they share the same cores. `scoped` is
//! the in-process run again with each purchase in a request scope, as the
//! API runs it (its idempotency receipt appended with its events).
//!
//! When `wrk` (Debian's package; `./x bench` installs it) is on the PATH,
//! both HTTP runs are made again with wrk as the load generator instead of
//! awc: 64 connections on two threads, the same bodies, keys and checks
//! (from a Lua script the bench writes), to tell the client's cost from
//! the server's.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use encore_actors::{Runtime, RuntimeConfig, SystemClock};
use encore_domain::ids::{CardId, ContentId, DeviceId, PurchaseId};
use encore_ledger::{Ledger, LedgerOptions};
use encore_server::api::types::*;
use encore_server::deployment::{self, credentials, Role};
use encore_server::{Client, ServeOptions};

const CONTENTS: usize = 200;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

struct Figures {
    purchases: u64,
    per_second: f64,
    p50: u64,
    p99: u64,
}

fn figures(mut latencies: Vec<u64>, elapsed: Duration) -> Figures {
    latencies.sort_unstable();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1))).copied().unwrap_or(0);
    Figures { purchases: latencies.len() as u64, per_second: latencies.len() as f64 / elapsed.as_secs_f64(), p50: pct(0.50), p99: pct(0.99) }
}

/// mimalloc instead of the system allocator: the actor runtime allocates a
/// great deal per command (messages, events, encodings); malloc and free
/// were about a fifth of the arbiter's samples (docs/BENCHMARKS.md, Session 9).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds = Duration::from_secs(env("ENCORE_BENCH_SECONDS", 5));
    let cards = env("ENCORE_BENCH_CARDS", 1024) as usize;
    let clients_list = std::env::var("ENCORE_BENCH_CLIENTS").unwrap_or_else(|_| "64".into());
    println!("{:<10} {:>8} {:>12} {:>12} {:>10} {:>10}", "path", "clients", "purchases", "purchases/s", "p50 us", "p99 us");
    for clients in clients_list.split(',').map(|c| c.trim().parse::<usize>().expect("ENCORE_BENCH_CLIENTS: counts separated by commas")) {
        let local = in_process(clients, cards, seconds, false);
        let scoped = in_process(clients, cards, seconds, true);
        let (http, first) = over_http(clients, cards, seconds, Load::Awc);
        let floor = http_floor(clients, cards, seconds, first.clone(), Load::Awc);
        for (name, f) in [("in-process", &local), ("scoped", &scoped), ("http", &http), ("http-floor", &floor)] {
            print_row(name, clients, f);
        }
        print_bound("http", &http, &floor, &local);
        if !wrk_found() {
            println!("(wrk not on the PATH: no wrk rows; ./x bench installs it)");
            continue;
        }
        let http = over_http(clients, cards, seconds, Load::Wrk).0;
        let floor = http_floor(clients, cards, seconds, first, Load::Wrk);
        print_row("http-wrk", clients, &http);
        print_row("floor-wrk", clients, &floor);
        print_bound("http-wrk", &http, &floor, &local);
    }
}

fn print_row(name: &str, clients: usize, f: &Figures) {
    println!("{:<10} {:>8} {:>12} {:>12.0} {:>10} {:>10}", name, clients, f.purchases, f.per_second, f.p50, f.p99);
}

/// HTTP against in-process, and the bound the floor sets (module docs).
fn print_bound(name: &str, http: &Figures, floor: &Figures, local: &Figures) {
    let bound = 1.0 / (1.0 / local.per_second + 1.0 / floor.per_second);
    println!("{name} / in-process: {:.2}; bound {bound:.0}/s, {:.2} of in-process", http.per_second / local.per_second, bound / local.per_second);
}

/// A deployment with `cards` funded cards and the catalogue, made over the API.
async fn setup(op: &Client, cards: usize) {
    for j in 0..CONTENTS {
        op.list_content(&format!("list-{j}"), &ListContent { content: format!("m{j}"), price: 1, uses: 1, valid_days: None }).await.expect("list");
    }
    let tasks = (0..cards).map(|c| {
        let op = op.clone();
        async move {
            let account = format!("a{c}");
            op.open_account(&format!("open-{c}"), &OpenAccount { account: account.clone(), initial: 1_000_000_000, expires_at: None }).await.expect("open");
            op.issue_card(&format!("issue-{c}"), &IssueCard { card: format!("c{c}"), account, expires_at: None }).await.expect("issue");
        }
    });
    futures_util::future::join_all(tasks).await;
}

/// Client k buys with cards k, k + clients, ...: no two clients share a card.
fn next_purchase(client: usize, clients: usize, cards: usize, seq: usize) -> (usize, usize) {
    let own = (cards - client).div_ceil(clients);
    let card = client + (seq % own) * clients;
    (card, (seq / own) % CONTENTS)
}

/// Who sends the requests of an HTTP run.
#[derive(Clone, Copy)]
enum Load {
    /// The typed client (awc), one per connection, on the bench's thread.
    Awc,
    /// `wrk` in its own process, two threads.
    Wrk,
}

fn wrk_found() -> bool {
    std::process::Command::new("wrk").arg("--version").output().is_ok()
}

/// Purchases over HTTP; also the first purchase and its answer (the floor run sends and answers the same).
fn over_http(clients: usize, cards: usize, duration: Duration, load: Load) -> (Figures, (Purchase, PurchaseView)) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let made = deployment::init(&data, "2026-12-01T00:00:00Z").expect("init");
    let operator = deployment::read_token(&made.operator_token()).expect("token");
    let player = credentials::add(&made.credentials(), "player1", Role::Device, Some("player1"), "").expect("credential").token;
    let (tx, rx) = std::sync::mpsc::channel::<(SocketAddr, actix_web::dev::ServerHandle)>();
    let workers = std::env::var("ENCORE_BENCH_WORKERS").ok().and_then(|w| w.parse().ok());
    let options =
        ServeOptions { data: data.clone(), listen: "127.0.0.1:0".parse().expect("addr"), tls: None, insecure_http: false, workers, accept_clock: false };
    let server = std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let running = encore_server::serve::start(&options).await.expect("server");
            tx.send((running.addr, running.handle.clone())).expect("bench waits");
            running.wait().await.expect("server stops");
        })
    });
    let (addr, handle) = rx.recv().expect("server started");
    let base = format!("http://{addr}");
    let result = actix_rt::System::new().block_on(async move {
        let op = Client::new(&base, &operator);
        setup(&op, cards).await;
        // Each card answers one ticket up front; an answer stays good for the
        // ticket's two minutes, as a card sitting in a kiosk's slot would.
        assert!(duration.as_secs() < 100, "tickets last two minutes: run for less than 100 s");
        let mut answers = Vec::with_capacity(cards);
        for c in 0..cards {
            let card = encore_card::CardFile::from_bytes(&op.card_image(&format!("c{c}")).await.expect("image")).expect("card file");
            answers.push(Client::new(&base, &player).answer_at_player("player1", &card).await.expect("answer"));
        }
        let answers = Arc::new(answers);
        // A content of its own, so that no purchase of the run finds it on the card already.
        op.list_content("list-first", &ListContent { content: "first".into(), price: 1, uses: 1, valid_days: None }).await.expect("list");
        let first = Purchase { card: "c0".into(), content: "first".into(), answer: answers[0].clone() };
        let answer = Client::new(&base, &player).player_purchase("first", "player1", &first).await.expect("purchase").value;
        if let Load::Wrk = load {
            let figures = wrk(&format!("{base}/v1/players/player1/purchases"), &player, &answers, clients, duration);
            handle.stop(true).await;
            return (figures, (first, answer));
        }
        // Each client its own awc client: its own keep-alive connection.
        let http: Vec<Client> = (0..clients).map(|_| Client::new(&base, &player)).collect();
        let figures = drive(clients, duration, move |client, seq| {
            let (http, answers) = (http[client].clone(), answers.clone());
            async move {
                let (card, content) = next_purchase(client, clients, cards, seq);
                let body = Purchase { card: format!("c{card}"), content: format!("m{content}"), answer: answers[card].clone() };
                let bought = http.player_purchase(&format!("b{client}-{seq}"), "player1", &body).await.expect("purchase");
                assert_eq!(bought.value.outcome, "licensed");
            }
        })
        .await;
        handle.stop(true).await;
        (figures, (first, answer))
    });
    server.join().expect("server thread");
    result
}

/// The load of [`over_http`] against a server that only speaks HTTP: it
/// reads the purchase's JSON body and answers `answer` as JSON. Every
/// request sends the card answer `sent` carried (wrk: for each of `cards`
/// cards, so its requests are the size of the real run's).
fn http_floor(clients: usize, cards: usize, duration: Duration, (sent, answer): (Purchase, PurchaseView), load: Load) -> Figures {
    let (tx, rx) = std::sync::mpsc::channel::<(SocketAddr, actix_web::dev::ServerHandle)>();
    let workers = std::env::var("ENCORE_BENCH_WORKERS").ok().and_then(|w| w.parse().ok()).unwrap_or_else(encore_server::serve::default_workers);
    let answer = actix_web::web::Data::new(answer);
    let server = std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let app = move || {
                let route = actix_web::web::post().to(|body: actix_web::web::Json<Purchase>, answer: actix_web::web::Data<PurchaseView>| async move {
                    assert!(!body.card.is_empty());
                    actix_web::HttpResponse::Ok().json(answer.get_ref())
                });
                actix_web::App::new().app_data(answer.clone()).route("/v1/players/{player}/purchases", route)
            };
            let server = actix_web::HttpServer::new(app).workers(workers).disable_signals().bind("127.0.0.1:0").expect("bind");
            let addr = server.addrs()[0];
            let server = server.run();
            tx.send((addr, server.handle())).expect("bench waits");
            server.await.expect("server stops");
        })
    });
    let (addr, handle) = rx.recv().expect("server started");
    let base = format!("http://{addr}");
    let figures = actix_rt::System::new().block_on(async move {
        if let Load::Wrk = load {
            let figures = wrk(&format!("{base}/v1/players/player1/purchases"), "encore_floor_token", &vec![sent.answer.clone(); cards], clients, duration);
            handle.stop(true).await;
            return figures;
        }
        let http: Vec<Client> = (0..clients).map(|_| Client::new(&base, "encore_floor_token")).collect();
        let answer = sent.answer;
        let figures = drive(clients, duration, move |client, seq| {
            let (http, answer) = (http[client].clone(), answer.clone());
            async move {
                let body = Purchase { card: format!("c{client}"), content: format!("m{}", seq % CONTENTS), answer };
                let bought = http.player_purchase(&format!("b{client}-{seq}"), "player1", &body).await.expect("purchase");
                assert_eq!(bought.value.outcome, "licensed");
            }
        })
        .await;
        handle.stop(true).await;
        figures
    });
    server.join().expect("server thread");
    figures
}

/// Runs wrk against `url` for `duration` with `clients` connections on two
/// threads: thread t buys with cards t, t + 2, ... (as [`next_purchase`]
/// splits them between clients), each request with its own idempotency key,
/// and every answer must be 200 and `licensed`.
fn wrk(url: &str, token: &str, answers: &[CardAnswer], clients: usize, duration: Duration) -> Figures {
    const THREADS: usize = 2;
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("purchases.lua");
    let table: Vec<String> = answers.iter().enumerate().map(|(c, a)| format!("[{c}] = [==[{}]==]", serde_json::to_string(a).expect("json"))).collect();
    let lua = format!(
        r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local answers = {{ {table} }}
local cards, contents, nthreads = {cards}, {CONTENTS}, {THREADS}
local threads = {{}}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  n = 0
  bad = 0
end
function request()
  local own = math.floor((cards - id + nthreads - 1) / nthreads)
  local card = id + (n % own) * nthreads
  local content = math.floor(n / own) % contents
  n = n + 1
  wrk.headers["Idempotency-Key"] = "w" .. id .. "-" .. n
  return wrk.format(nil, nil, nil, string.format('{{"card":"c%d","content":"m%d","answer":%s}}', card, content, answers[card]))
end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"outcome":"licensed"', 1, true) then
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format("encore: %d %d %d %d %d\n", summary.requests, summary.duration, b + e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"#,
        table = table.join(", "),
        cards = answers.len(),
    );
    std::fs::write(&script, lua).expect("script");
    let out = std::process::Command::new("wrk")
        .args(["-t", &THREADS.to_string(), "-c", &clients.to_string(), "-d", &format!("{}s", duration.as_secs()), "--timeout", "10s", "-s"])
        .arg(&script)
        .arg(url)
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find_map(|l| l.strip_prefix("encore: ")).unwrap_or_else(|| panic!("wrk said: {text}{}", String::from_utf8_lossy(&out.stderr)));
    let n: Vec<u64> = line.split(' ').map(|v| v.parse().expect("a number")).collect();
    let [requests, micros, bad, p50, p99] = n[..] else { panic!("wrk's summary: {line}") };
    assert_eq!(bad, 0, "wrk: every answer is 200 and licensed");
    Figures { purchases: requests, per_second: requests as f64 / (micros as f64 / 1e6), p50, p99 }
}

/// Purchases through the runtime in this process; `scoped`: each inside a
/// request scope, as the HTTP API runs it (its idempotency receipt appended
/// with its events), so the receipt's cost is told from HTTP's.
fn in_process(clients: usize, cards: usize, duration: Duration, scoped: bool) -> Figures {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let made = deployment::init(&data, "2026-12-01T00:00:00Z").expect("init");
    let secrets = deployment::keystore::load(&made.keystore()).expect("keystore");
    actix_rt::System::new().block_on(async move {
        let ledger = Ledger::open(made.log(), LedgerOptions::default()).expect("log");
        let rt = Arc::new(Runtime::open(ledger, Arc::new(SystemClock), secrets, RuntimeConfig::default()));
        for j in 0..CONTENTS {
            let condition = encore_domain::licensing::UseCondition { uses: 1, valid_days: None };
            rt.list_content(&ContentId::new(format!("m{j}")).expect("id"), encore_domain::Money(1), condition).await.expect("list");
        }
        for c in 0..cards {
            let account = encore_domain::ids::AccountId::new(format!("a{c}")).expect("id");
            rt.open_account(&account, None, encore_domain::Money(1_000_000_000)).await.expect("open");
            rt.issue_card(&CardId::new(format!("c{c}")).expect("id"), &account, None).await.expect("issue");
        }
        let shared = rt.clone();
        let figures = drive(clients, duration, move |client, seq| {
            let rt = shared.clone();
            async move {
                let (card, content) = next_purchase(client, clients, cards, seq);
                let chip = rt.secrets().genuine_chip(CardId::new(format!("c{card}")).expect("id"));
                let purchase = PurchaseId::new(format!("p{client}-{seq}")).expect("id");
                let content = ContentId::new(format!("m{content}")).expect("id");
                let player = DeviceId::new("player1").expect("id");
                let buy = rt.buy_from_player(&player, &chip, &purchase, &content);
                if scoped {
                    let scope = encore_actors::request::RequestScope::new("player1", purchase.as_str(), [0; 32], None);
                    encore_actors::request::scoped(scope, buy).await.expect("purchase");
                } else {
                    buy.await.expect("purchase");
                }
            }
        })
        .await;
        if let Ok(rt) = Arc::try_unwrap(rt) {
            rt.shutdown();
        }
        figures
    })
}

/// Runs `clients` concurrent loops of `purchase(client, seq)` on this thread
/// for `duration` and measures each purchase.
async fn drive<F, Fut>(clients: usize, duration: Duration, purchase: F) -> Figures
where
    F: Fn(usize, usize) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let (stop, purchase) = (stop.clone(), purchase.clone());
            actix_rt::spawn(async move {
                let mut latencies = Vec::new();
                let mut seq = 0;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    purchase(client, seq).await;
                    latencies.push(t.elapsed().as_micros() as u64);
                    seq += 1;
                }
                latencies
            })
        })
        .collect();
    actix_rt::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("client"));
    }
    figures(latencies, started.elapsed())
}
