//! Kiosks, players and the operator as separate `encore` processes against
//! a real `encore serve`: a card issued by `encore admin` is carried to two
//! kiosks and played offline, then synced; forged and rolled-back card files,
//! a kiosk token used as another kiosk, and a customer typing operator
//! commands are refused and write nothing; a kiosk killed with SIGKILL in the
//! middle of sales finishes them at its next start and never charges twice.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use encore_server::Client;

mod common;
use common::Server;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn encore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_encore")).args(args).output().expect("run encore")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn ok(args: &[&str]) -> String {
    let out = encore(args);
    assert_eq!(out.status.code(), Some(0), "encore {args:?}:\n{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A deployment served on a random loopback port, with station credentials.
struct World {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    data: PathBuf,
    server: Server,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let data = dir.join("data");
        ok(&["init", "--data", s(&data)]);
        for (id, role, station) in [("k1", "kiosk", "k1"), ("k2", "kiosk", "k2"), ("p1", "device", "p1")] {
            ok(&["credentials", "add", "--data", s(&data), "--id", id, "--role", role, "--station", station, "--out", s(&dir.join(format!("{id}.token")))]);
        }
        let server = start(&data);
        World { _tmp: tmp, dir, data, server }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn admin(&self, args: &[&str]) -> String {
        let token = self.data.join("operator.token");
        ok(&[&["admin", "--server", &self.server.base, "--token", s(&token)][..], args].concat())
    }

    fn kiosk_args(&self, token: &str, kiosk: &str, script: &Path) -> Vec<String> {
        let token = self.path(&format!("{token}.token"));
        let journal = self.path(&format!("{kiosk}-journal"));
        ["kiosk", "--server", &self.server.base, "--token", s(&token), "--kiosk", kiosk, "--journal", s(&journal), "--script", s(script)]
            .map(String::from)
            .to_vec()
    }

    /// Runs a kiosk session from `lines`, returning its exit code and output.
    fn kiosk(&self, token: &str, kiosk: &str, lines: &str) -> (Option<i32>, String) {
        let script = self.path(&format!("{kiosk}-script.txt"));
        std::fs::write(&script, lines).unwrap();
        let args = self.kiosk_args(token, kiosk, &script);
        let out = encore(&args.iter().map(String::as_str).collect::<Vec<_>>());
        (out.status.code(), text(&out))
    }

    fn player(&self, online: bool, args: &[&str]) -> Output {
        let token = self.path("p1.token");
        let state = self.path("p1-state");
        let mut all = vec!["player", "--player", "p1", "--state", s(&state)];
        if online {
            all.extend(["--server", &self.server.base, "--token", s(&token)]);
        }
        all.extend(args);
        encore(&all)
    }

    fn operator(&self) -> Client {
        let token = encore_server::deployment::read_token(&self.data.join("operator.token")).unwrap();
        Client::new(&self.server.base, &token)
    }

    fn log_types(&self) -> Vec<String> {
        let op = self.operator();
        actix_rt::System::new().block_on(async move {
            let mut types = Vec::new();
            loop {
                let page = op.log(types.len() as u64 + 1, 1000).await.unwrap().value;
                if page.records.is_empty() {
                    return types;
                }
                types.extend(page.records.into_iter().map(|r| r.event_type));
            }
        })
    }
}

fn start(data: &Path) -> Server {
    Server::start(data)
}

#[test]
fn a_card_is_carried_to_two_kiosks_played_offline_and_its_plays_synced_once() {
    let w = World::new();
    let song: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(w.path("song-1.raw"), &song).unwrap();
    std::fs::write(w.path("song-2.raw"), b"a short second song").unwrap();
    let card = w.path("card-1.card");
    w.admin(&["account", "open", "acct-1", "--balance", "1000"]);
    assert!(w.admin(&["card", "issue", "card-1", "--account", "acct-1", "--out", s(&card)]).contains("card file written"));
    w.admin(&["content", "add", s(&w.path("song-1.raw")), "--id", "song-1", "--price", "300", "--uses", "3", "--title", "Blue in Green"]);
    w.admin(&["content", "add", s(&w.path("song-2.raw")), "--id", "song-2", "--price", "200", "--uses", "1"]);
    assert!(w.admin(&["content", "show"]).contains("Blue in Green"));

    let (code, out) = w.kiosk("k1", "k1", &format!("insert {}\ncatalogue\nbuy song-1\neject\n", s(&card)));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("bought song-1 for 300 (balance 700); license on the card: 3 plays"), "{out}");

    // Online: the player fetches the encrypted file, plays, reports at once.
    let played = w.player(true, &["--card", s(&card), "play", "song-1", "--out", s(&w.path("out-1"))]);
    assert_eq!(played.status.code(), Some(0), "{}", text(&played));
    assert_eq!(std::fs::read(w.path("out-1")).unwrap(), song);
    assert!(text(&played).contains("2 play(s) left") && text(&played).contains("1 counted"), "{}", text(&played));
    // Offline: from the player's store; the play waits in its journal. The card asks for song-2.
    let played = w.player(false, &["--card", s(&card), "play", "song-1", "--out", s(&w.path("out-2"))]);
    assert_eq!(played.status.code(), Some(0), "{}", text(&played));
    assert_eq!(std::fs::read(w.path("out-2")).unwrap(), song);
    assert_eq!(w.player(false, &["--card", s(&card), "want", "song-2"]).status.code(), Some(0));

    // The same card at another kiosk: it sees what the card asks for and buys it.
    let (code, out) = w.kiosk("k2", "k2", &format!("insert {}\nwanted\nbuy song-2\neject\n", s(&card)));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("the card asks for: song-2 (price 200, 1 plays)") && out.contains("bought song-2 for 200 (balance 500)"), "{out}");

    let synced = w.player(true, &["sync"]);
    assert!(text(&synced).contains("reported 1 play(s): 1 counted"), "{}", text(&synced));
    assert!(text(&w.player(true, &["sync"])).contains("reported 0 play(s)"), "each play is reported once");
    let types = w.log_types();
    assert_eq!(types.iter().filter(|t| *t == "ContentPlayed").count(), 2, "{types:?}");
    assert_eq!(types.iter().filter(|t| *t == "Charged").count(), 2, "{types:?}");
    let shown = text(&w.player(false, &["--card", s(&card), "show"]));
    assert!(shown.contains("song-1: 1 play(s) left") && shown.contains("song-2: 1 play(s) left"), "{shown}");
}

#[test]
fn forged_and_rolled_back_cards_other_kiosks_ids_and_operator_commands_are_refused() {
    let w = World::new();
    std::fs::write(w.path("song.raw"), b"a song").unwrap();
    let card = w.path("card-1.card");
    w.admin(&["account", "open", "acct-1", "--balance", "1000"]);
    w.admin(&["card", "issue", "card-1", "--account", "acct-1", "--out", s(&card)]);
    w.admin(&["content", "add", s(&w.path("song.raw")), "--id", "song-1", "--price", "100", "--uses", "3"]);
    let before = w.log_types().len();

    // Not a card file at all, a card file made at home, and another kiosk's id.
    std::fs::write(w.path("junk.card"), b"not a card").unwrap();
    let home = encore_card::CardFile::personalise(
        encore_domain::ids::CardId::new("card-1").unwrap(),
        encore_domain::ids::AccountId::new("acct-1").unwrap(),
        None,
        encore_domain::licensing::DeviceKey::from_bytes([9; 32]),
    );
    encore_card::write_card(&w.path("home.card"), &home).unwrap();
    let (code, out) = w.kiosk("k1", "k1", &format!("insert {}\ninsert {}\n", s(&w.path("junk.card")), s(&w.path("home.card"))));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("not a card file") && out.contains("card card-1 refused"), "{out}");
    let (code, out) = w.kiosk("k1", "k2", &format!("insert {}\n", s(&card)));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("403"), "a kiosk token used as kiosk k2: {out}");
    let (code, out) =
        w.kiosk("k1", "k1", "account open acct-9 balance 100\nload acct-1 1000000\ncard issue card-9 account acct-1\ncontent list x price 1 uses 1\n");
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(out.matches("not a kiosk command").count(), 4, "{out}");
    let after_refusals = w.log_types();
    assert_eq!(
        after_refusals[before..],
        ["CardRejected", "RequestReceipt"],
        "refusals wrote nothing but the forged card's rejection (a business event) and its receipt"
    );

    // A copy of the card from before a play, put back afterwards, does not play again.
    let (code, out) = w.kiosk("k1", "k1", &format!("insert {}\nbuy song-1\neject\n", s(&card)));
    assert_eq!(code, Some(0), "{out}");
    std::fs::copy(&card, w.path("copy.card")).unwrap();
    let played = w.player(true, &["--card", s(&card), "play", "song-1", "--out", s(&w.path("out"))]);
    assert_eq!(played.status.code(), Some(0), "{}", text(&played));
    std::fs::copy(w.path("copy.card"), &card).unwrap();
    let again = w.player(true, &["--card", s(&card), "play", "song-1", "--out", s(&w.path("out")), "--force"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("rolled back"), "{}", text(&again));
    // An edited card file (one byte) is refused whole.
    let mut bytes = std::fs::read(&card).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&card, &bytes).unwrap();
    let edited = w.player(false, &["--card", s(&card), "show"]);
    assert_eq!(edited.status.code(), Some(2));
    assert!(text(&edited).contains("damaged"), "{}", text(&edited));
}

#[test]
fn a_kiosk_killed_in_the_middle_of_sales_finishes_them_and_never_charges_twice() {
    const CONTENTS: usize = 150;
    let rounds: usize = std::env::var("ENCORE_KIOSK_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    let w = World::new();
    let card = w.path("card-1.card");
    w.admin(&["account", "open", "acct-1", "--balance", "100000"]);
    w.admin(&["card", "issue", "card-1", "--account", "acct-1", "--out", s(&card)]);
    for j in 0..CONTENTS {
        w.admin(&["content", "list", &format!("song-{j}"), "--price", "7", "--uses", "1"]);
    }
    let buys: String = (0..CONTENTS).map(|j| format!("buy song-{j}\n")).collect();
    let script = w.path("sales.txt");
    std::fs::write(&script, format!("insert {}\n{buys}eject\n", s(&card))).unwrap();
    let empty = w.path("nothing.txt");
    std::fs::write(&empty, "").unwrap();
    let mut killed_mid_sale = 0;
    for round in 0..rounds {
        let args = w.kiosk_args("k1", "k1", &script);
        let mut child = Command::new(env!("CARGO_BIN_EXE_encore")).args(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(15 + (round as u64 * 29) % 90));
        let _ = child.kill();
        child.wait().unwrap();
        let journal = w.path("k1-journal");
        killed_mid_sale +=
            std::fs::read_dir(&journal).map_or(0, |d| d.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().ends_with(".json")).count());
        // The restarted kiosk finishes what the journal holds (an eject first: the slot may be full).
        let args = w.kiosk_args("k1", "k1", &empty);
        let out = encore(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert_eq!(
            std::fs::read_dir(&journal).unwrap().filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().ends_with(".json")).count(),
            0,
            "{}",
            text(&out)
        );
        let op = w.operator();
        actix_rt::System::new().block_on(async move {
            let _ = op.eject_card(&format!("test-eject-{round}"), "k1").await;
        });
    }
    let types = w.log_types();
    let charged = types.iter().filter(|t| *t == "Charged").count();
    let on_card = encore_card::read_card(&card).unwrap().licenses().count();
    assert_eq!(charged, on_card, "every charge has its license on the card, and no license is missing ({killed_mid_sale} sales were interrupted)");
    let op = w.operator();
    let account = actix_rt::System::new().block_on(async move { op.account("acct-1").await.unwrap().value });
    assert_eq!(account.charged, 7 * charged as u64, "nothing charged twice");
    assert!(charged <= CONTENTS);
    eprintln!("{killed_mid_sale} sales interrupted by {rounds} kills; {charged} charged");
}

#[test]
fn the_network_demo_runs_the_story_across_processes_and_ends_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("network");
    for run in 0..2 {
        let out = encore(&["demo", "--network", "--db", s(&dir)]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(0), "run {run}:\n{all}");
        assert_eq!(all.contains("replacing the previous network demo"), run == 1, "{all}");
        for line in [
            "[kiosk-1] bought song-1 for 300 (balance 700)",
            "[operator] loaded 500 onto acct-bob: balance 700",
            "[kiosk-2] bought song-2 for 200 (balance 200)",
            "[player-1 (offline)] played song-1",
            "[bob-pd] SharedContentPlayed",
            "[bob-pc] FavoritesForwarded",
            "[player-1] reported 1 play(s): 1 counted, 0 refused",
            "== balances ==",
            "== usage history ==",
            "charisma list: [01234-00001]",
            "verified: ",
        ] {
            assert!(all.contains(line), "run {run}: no {line:?} in\n{all}");
        }
        assert!(!all.contains("encore_"), "no token is ever printed:\n{all}");
        // Both kiosks saw bob's card; alice's two plays (one offline) are both in the usage history.
        assert_eq!(all.matches("played  song-1").count(), 2, "{all}");
    }
}

#[test]
fn two_kiosks_selling_to_one_account_at_once_charge_exactly_the_affordable_ones() {
    const CONTENTS: usize = 30;
    const AFFORDABLE: usize = 37;
    let w = World::new();
    w.admin(&["account", "open", "acct-1", "--balance", &(7 * AFFORDABLE as u64 + 3).to_string()]);
    for card in ["card-1", "card-2"] {
        w.admin(&["card", "issue", card, "--account", "acct-1", "--out", s(&w.path(&format!("{card}.card")))]);
    }
    for j in 0..CONTENTS {
        w.admin(&["content", "list", &format!("song-{j}"), "--price", "7", "--uses", "1"]);
    }
    let buys: String = (0..CONTENTS).map(|j| format!("buy song-{j}\n")).collect();
    let sessions: Vec<_> = [("k1", "card-1"), ("k2", "card-2")]
        .iter()
        .map(|(kiosk, card)| {
            let script = w.path(&format!("{kiosk}-both.txt"));
            std::fs::write(&script, format!("insert {}\n{buys}eject\n", s(&w.path(&format!("{card}.card"))))).unwrap();
            let args = w.kiosk_args(kiosk, kiosk, &script);
            Command::new(env!("CARGO_BIN_EXE_encore")).args(&args).stdout(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let outputs: Vec<String> = sessions.into_iter().map(|c| String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout).into_owned()).collect();
    let bought: usize = outputs.iter().map(|o| o.matches("bought song-").count()).sum();
    let declined: usize = outputs.iter().map(|o| o.matches("not bought: insufficient funds").count()).sum();
    assert_eq!((bought, declined), (AFFORDABLE, 2 * CONTENTS - AFFORDABLE), "{outputs:?}");
    let on_cards: usize = ["card-1", "card-2"].iter().map(|c| encore_card::read_card(&w.path(&format!("{c}.card"))).unwrap().licenses().count()).sum();
    assert_eq!(on_cards, AFFORDABLE, "every charge's license is on the card it was sold onto");
    let op = w.operator();
    let account = actix_rt::System::new().block_on(async move { op.account("acct-1").await.unwrap().value });
    assert_eq!((account.balance, account.charged), (3, 7 * AFFORDABLE as u64), "nothing charged twice, nothing overdrawn");
}

#[test]
fn a_player_offline_for_many_plays_reports_them_all_in_order_once_connected() {
    const PLAYS: usize = 12;
    let w = World::new();
    std::fs::write(w.path("song.raw"), b"a song played often").unwrap();
    let card = w.path("card-1.card");
    w.admin(&["account", "open", "acct-1", "--balance", "1000"]);
    w.admin(&["card", "issue", "card-1", "--account", "acct-1", "--out", s(&card)]);
    w.admin(&["content", "add", s(&w.path("song.raw")), "--id", "song-1", "--price", "100", "--uses", &PLAYS.to_string()]);
    let (code, out) = w.kiosk("k1", "k1", &format!("insert {}\nbuy song-1\neject\n", s(&card)));
    assert_eq!(code, Some(0), "{out}");
    // The player fetches the file once (online show), then plays offline, many times.
    let fetched = w.player(true, &["--card", s(&card), "play", "song-1", "--out", s(&w.path("out"))]);
    assert_eq!(fetched.status.code(), Some(0), "{}", text(&fetched));
    for _ in 1..PLAYS {
        let played = w.player(false, &["--card", s(&card), "play", "song-1", "--out", s(&w.path("out")), "--force"]);
        assert_eq!(played.status.code(), Some(0), "{}", text(&played));
    }
    let refused = w.player(false, &["--card", s(&card), "play", "song-1", "--out", s(&w.path("out")), "--force"]);
    assert!(text(&refused).contains("NoUsesLeft"), "{}", text(&refused));
    let synced = w.player(true, &["sync"]);
    assert!(text(&synced).contains(&format!("reported {} play(s): {} counted, 0 refused", PLAYS - 1, PLAYS - 1)), "{}", text(&synced));
    assert_eq!(w.log_types().iter().filter(|t| *t == "ContentPlayed").count(), PLAYS, "every play counted once");
}
