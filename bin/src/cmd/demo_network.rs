//! `encore demo --network [--db DIR]`: the built-in story across real
//! processes over HTTP on loopback. One `encore serve` holds the log; the
//! operator (`encore admin`), two kiosks, a player and two households' PCs
//! and PDs (`encore device`) are separate `encore` processes with their own
//! credentials. A card topped up through the admin API is used at both
//! kiosks; one play happens offline and is synced later; a purchase through a
//! favorite that really travelled PD -> PC -> server bumps a group's
//! reliability. At the end the server stops (SIGTERM) and the same tables as
//! `encore demo` are printed from its log, with the verify line.
//!
//! `DIR/DEMO-NETWORK` marks the directory: a second run replaces it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use encore_ledger::{Ledger, LedgerOptions};
use encore_server::deployment::{self, credentials, Role};

const MARKER: &str = "DEMO-NETWORK";
/// The parts of DIR the demo owns (and replaces on the next run).
const PARTS: [&str; 4] = ["data", "cards", "files", "stations"];

struct Demo {
    exe: PathBuf,
    dir: PathBuf,
    base: String,
}

/// The server process; killed if the demo stops early.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

impl Demo {
    fn path(&self, part: &str) -> PathBuf {
        self.dir.join(part)
    }

    fn token(&self, id: &str) -> String {
        match id {
            "operator" => s(&self.path("data").join("operator.token")),
            _ => s(&self.path("stations").join(format!("{id}.token"))),
        }
    }

    /// Runs `encore ARGS` as its own process, echoing what it printed under `who`.
    fn run(&self, who: &str, args: &[String]) -> Result<String, String> {
        let out = Command::new(&self.exe).args(args).output().map_err(|e| format!("cannot start encore for {who}: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        for line in stdout.lines() {
            println!("  [{who}] {line}");
        }
        if !out.status.success() {
            return Err(format!("{who}: `encore {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(stdout)
    }

    fn admin(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["admin".to_string(), "--server".into(), self.base.clone(), "--token".into(), self.token("operator")];
        all.extend(args.iter().map(|a| a.to_string()));
        self.run("operator", &all)
    }

    fn device(&self, device: &str, credential: &str, args: &[&str]) -> Result<String, String> {
        let mut all =
            vec!["device".to_string(), "--server".into(), self.base.clone(), "--token".into(), self.token(credential), "--device".into(), device.into()];
        all.extend(args.iter().map(|a| a.to_string()));
        self.run(device, &all)
    }

    fn kiosk(&self, kiosk: &str, lines: &[String]) -> Result<String, String> {
        let script = self.path("stations").join(format!("{kiosk}-session.txt"));
        std::fs::write(&script, lines.join("\n") + "\n").map_err(|e| format!("{}: {e}", script.display()))?;
        let journal = self.path("stations").join(format!("{kiosk}-journal"));
        let args = ["kiosk", "--server", &self.base, "--token", &self.token(kiosk), "--kiosk", kiosk, "--journal", &s(&journal), "--script", &s(&script)];
        self.run(kiosk, &args.map(String::from))
    }

    fn player(&self, player: &str, online: bool, card: Option<&str>, args: &[&str]) -> Result<String, String> {
        let state = self.path("stations").join(format!("{player}-state"));
        let mut all = vec!["player".to_string(), "--player".into(), player.into(), "--state".into(), s(&state)];
        if online {
            all.extend(["--server".to_string(), self.base.clone(), "--token".into(), self.token(player)]);
        }
        if let Some(card) = card {
            all.extend(["--card".to_string(), s(&self.card(card))]);
        }
        all.extend(args.iter().map(|a| a.to_string()));
        self.run(&format!("{player}{}", if online { "" } else { " (offline)" }), &all)
    }

    fn card(&self, card: &str) -> PathBuf {
        self.path("cards").join(format!("{card}.card"))
    }
}

fn prepare(dir: &Path) -> Result<(), String> {
    if dir.exists() && std::fs::read_dir(dir).map_err(|e| format!("--db {}: {e}", dir.display()))?.next().is_some() {
        if !dir.join(MARKER).is_file() {
            return Err(format!(
                "--db {} holds something that is not an encore network demo (no {MARKER} marker); choose another directory or empty it",
                dir.display()
            ));
        }
        println!("demo: replacing the previous network demo in {}", dir.display());
        for part in PARTS {
            let path = dir.join(part);
            if path.exists() {
                std::fs::remove_dir_all(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "This directory holds `encore demo --network`; the next run replaces it.\n")
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    for part in ["cards", "files", "stations"] {
        std::fs::create_dir_all(dir.join(part)).map_err(|e| format!("cannot create {part}: {e}"))?;
    }
    Ok(())
}

/// The station credentials, each written to `stations/ID.token` (0600).
fn credentials(demo: &Demo, made: &deployment::Deployment) -> Result<(), String> {
    let stations = [
        ("kiosk-1", Role::Kiosk),
        ("kiosk-2", Role::Kiosk),
        ("player-1", Role::Device),
        ("alice-pc", Role::Device),
        ("alice-pd", Role::Device),
        ("bob-pc", Role::Device),
        ("bob-pd", Role::Device),
    ];
    for (id, role) in stations {
        let made = credentials::add(&made.credentials(), id, role, Some(id), "").map_err(|e| e.to_string())?;
        let path = demo.path("stations").join(format!("{id}.token"));
        write_private(&path, &made.token)?;
    }
    Ok(())
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}

fn start_server(exe: &Path, data: &Path) -> Result<(Server, String), String> {
    let mut child = Command::new(exe)
        .args(["serve", "--data", &s(data), "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start encore serve: {e}"))?;
    let stdout = child.stdout.take().ok_or("encore serve has no stdout")?;
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).map_err(|e| format!("encore serve: {e}"))?;
    let base = line.trim().strip_prefix("listening on ").ok_or_else(|| format!("encore serve said {line:?}"))?.to_string();
    Ok((server, base))
}

/// The group id `encore admin user` printed.
fn group_of(said: &str) -> Result<String, String> {
    said.split("group ").nth(1).map(|g| g.trim().to_string()).ok_or_else(|| format!("no group id in {said:?}"))
}

/// The transmission position `encore device transmit` printed.
fn position_of(said: &str) -> Result<String, String> {
    said.split("position ").nth(1).map(|p| p.trim_end_matches(|c: char| !c.is_ascii_digit()).to_string()).ok_or_else(|| format!("no position in {said:?}"))
}

pub fn run(dir: &Path) -> Result<ExitCode, String> {
    prepare(dir)?;
    let exe = std::env::current_exe().map_err(|e| format!("where is this encore binary? {e}"))?;
    let data = dir.join("data");
    let made = deployment::init(&data, &super::remote::rfc3339(super::remote::now())).map_err(|e| e.to_string())?;
    let mut demo = Demo { exe: exe.clone(), dir: dir.to_path_buf(), base: String::new() };
    credentials(&demo, &made)?;
    let (server, base) = start_server(&exe, &data)?;
    demo.base = base;
    println!("demo: encore serve on {}; every station below is a process of its own", demo.base);
    story(&demo)?;
    stop(server)?;
    tables(&data.join("log"))
}

fn story(d: &Demo) -> Result<(), String> {
    let song_1: Vec<u8> = (0..64_000u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(d.path("files").join("morning-light.raw"), &song_1).map_err(|e| e.to_string())?;
    std::fs::write(d.path("files").join("radio-days.raw"), b"radio days: a short song in bytes").map_err(|e| e.to_string())?;
    println!("\n-- the operator stocks the shop and the groups");
    d.admin(&["account", "open", "acct-alice", "--balance", "1000"])?;
    d.admin(&["account", "open", "acct-bob", "--balance", "200"])?;
    let alice = group_of(&d.admin(&["user", "alice", "--service", "01234"])?)?;
    let bob = group_of(&d.admin(&["user", "bob", "--service", "01234"])?)?;
    d.admin(&["account", "link", "acct-alice", "--user", "alice"])?;
    d.admin(&["account", "link", "acct-bob", "--user", "bob"])?;
    d.admin(&["card", "issue", "card-alice", "--account", "acct-alice", "--out", &s(&d.card("card-alice"))])?;
    d.admin(&["card", "issue", "card-bob", "--account", "acct-bob", "--out", &s(&d.card("card-bob"))])?;
    d.admin(&[
        "content",
        "add",
        &s(&d.path("files").join("morning-light.raw")),
        "--id",
        "song-1",
        "--price",
        "300",
        "--uses",
        "3",
        "--title",
        "Morning Light",
    ])?;
    d.admin(&["content", "add", &s(&d.path("files").join("radio-days.raw")), "--id", "song-2", "--price", "200", "--uses", "3", "--title", "Radio Days"])?;
    d.admin(&["policy", "--threshold", "0", "--points", "1"])?;
    for (device, kind, terminal) in [("alice-pc", "pc", Some("t-alice")), ("alice-pd", "pd", None), ("bob-pc", "pc", Some("t-bob")), ("bob-pd", "pd", None)] {
        let mut args = vec!["provision", device, "--kind", kind];
        if let Some(t) = terminal {
            args.extend(["--terminal", t]);
        }
        d.admin(&args)?;
    }
    println!("\n-- each household registers its PC, and its PD through the PC");
    d.device("alice-pc", "alice-pc", &["register", &alice])?;
    d.device("alice-pd", "alice-pc", &["register", &alice, "--via", "alice-pc"])?;
    d.device("bob-pc", "bob-pc", &["register", &bob])?;
    d.device("bob-pd", "bob-pc", &["register", &bob, "--via", "bob-pc"])?;

    println!("\n-- alice buys a song at kiosk-1 and plays it on a player, once online, once offline");
    let alice_card = s(&d.card("card-alice"));
    d.kiosk("kiosk-1", &[format!("insert {alice_card}"), "catalogue".into(), "buy song-1".into(), "eject".into()])?;
    let out = d.path("stations").join("morning-light.played");
    d.player("player-1", true, Some("card-alice"), &["play", "song-1", "--out", &s(&out)])?;
    d.player("player-1", false, Some("card-alice"), &["play", "song-1", "--out", &s(&out), "--force"])?;

    println!("\n-- bob's card is topped up through the admin API and used at both kiosks");
    d.admin(&["load", "acct-bob", "500"])?;
    let bob_card = s(&d.card("card-bob"));
    d.kiosk("kiosk-1", &[format!("insert {bob_card}"), "buy song-1".into(), "eject".into()])?;

    println!("\n-- alice buys song-2 through her PD; she shares it by radio and bob's PD plays it");
    d.player("alice-pd", true, Some("card-alice"), &["buy", "song-2"])?;
    d.device("alice-pd", "alice-pd", &["shareable", "song-2"])?;
    d.device("bob-pd", "bob-pd", &["radio", "--auto-switch", "on", "--threshold", "0"])?;
    let position = position_of(&d.device("alice-pd", "alice-pd", &["transmit", "song-2"])?)?;
    d.device("bob-pd", "bob-pd", &["receive", &position])?;
    println!("\n-- bob presses favorite; it travels PD -> PC -> distribution server");
    d.device("bob-pd", "bob-pd", &["favorite"])?;
    d.device("bob-pd", "bob-pd", &["upload", "--pc", "bob-pc"])?;
    d.device("bob-pc", "bob-pc", &["forward"])?;
    println!("\n-- bob buys song-2 at kiosk-2 through that favorite: alice's group gains reliability");
    d.kiosk("kiosk-2", &[format!("insert {bob_card}"), "buy song-2".into(), "eject".into()])?;
    d.device("alice-pd", "alice-pd", &["sync"])?;
    d.device("alice-pd", "alice-pd", &["show"])?;
    println!("\n-- the player connects again and reports the offline play");
    d.player("player-1", true, None, &["sync"])?;
    Ok(())
}

/// SIGTERM: the server finishes what is in flight and closes the log cleanly.
fn stop(mut server: Server) -> Result<(), String> {
    let pid = i32::try_from(server.0.id()).map_err(|_| "the server's pid does not fit")?;
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let status = server.0.wait().map_err(|e| format!("encore serve: {e}"))?;
    if !status.success() {
        return Err(format!("encore serve stopped with {status}"));
    }
    Ok(())
}

fn tables(log_dir: &Path) -> Result<ExitCode, String> {
    let log = Ledger::open(log_dir, LedgerOptions::read_only()).map_err(|e| format!("cannot open {}: {e}", log_dir.display()))?;
    let text = encore_replay_tests::transcript::projections(&log)?;
    print!("\n{text}");
    super::demo::verify_line(&log)
}
