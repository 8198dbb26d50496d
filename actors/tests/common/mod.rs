//! Test support: a runtime over a temporary log with a manual clock, and the
//! one helper that runs a list of steps and compares each outcome (the event
//! types appended, or the error) with what the step expects.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::sync::Arc;

use encore_actors::{ManualClock, Runtime, RuntimeConfig, RuntimeError, Secrets};
use encore_domain::groups::{ControlMode, DeviceKind, DistributionConfig, GroupCertificate, GroupLimits, SourceId, UsageRules};
use encore_domain::ids::*;
use encore_domain::licensing::{CardChip, DeviceKey, Station, UseCondition};
use encore_domain::{Money, Timestamp};
use encore_ledger::{Ledger, LedgerOptions};

pub const SEED: &[u8] = b"encore actors tests";
pub const T0: Timestamp = Timestamp::from_secs(1_700_000_000);

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub ledger: Ledger,
    pub clock: Arc<ManualClock>,
    pub runtime: Runtime,
}

impl Harness {
    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("log")
    }
}

/// The runtime's defaults, with two arbiters whatever the machine, so the
/// tests always cross threads between actors.
pub fn config() -> RuntimeConfig {
    RuntimeConfig { arbiters: 2, ..RuntimeConfig::default() }
}

pub fn harness_with(config: RuntimeConfig) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path().join("log"), LedgerOptions::default()).unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let runtime = Runtime::open(ledger.clone(), clock.clone(), Secrets::from_seed(SEED), config);
    Harness { dir, ledger, clock, runtime }
}

pub fn harness() -> Harness {
    harness_with(config())
}

pub fn card(s: &str) -> CardId {
    CardId::new(s).unwrap()
}
pub fn acct(s: &str) -> AccountId {
    AccountId::new(s).unwrap()
}
pub fn content(s: &str) -> ContentId {
    ContentId::new(s).unwrap()
}
pub fn dev(s: &str) -> DeviceId {
    DeviceId::new(s).unwrap()
}
pub fn purchase(s: &str) -> PurchaseId {
    PurchaseId::new(s).unwrap()
}
pub fn user(s: &str) -> UserId {
    UserId::new(s).unwrap()
}
pub fn service(s: &str) -> ServiceId {
    ServiceId::new(s).unwrap()
}
pub fn gid(s: &str) -> GroupId {
    s.parse().unwrap()
}
pub fn once(uses: u32) -> UseCondition {
    UseCondition { uses, valid_days: Some(30) }
}

/// One step of a scenario.
#[derive(Debug, Clone)]
pub enum Step {
    AdvanceDays(i64),
    OpenAccount {
        account: &'static str,
        initial: u64,
        expires_in_days: Option<u32>,
    },
    Load {
        account: &'static str,
        amount: u64,
    },
    IssueCard {
        card: &'static str,
        account: &'static str,
    },
    List {
        content: &'static str,
        price: u64,
        uses: u32,
    },
    /// Buy from a player; `forged` presents a chip with the wrong key.
    PlayerBuy {
        card: &'static str,
        purchase: &'static str,
        content: &'static str,
        forged: bool,
    },
    Link {
        account: &'static str,
        user: &'static str,
    },
    Insert {
        kiosk: &'static str,
        card: &'static str,
        forged: bool,
    },
    KioskBuy {
        kiosk: &'static str,
        card: &'static str,
        purchase: &'static str,
        content: &'static str,
    },
    Eject {
        kiosk: &'static str,
    },
    Play {
        card: &'static str,
        content: &'static str,
        forged: bool,
    },
    RecordWanted {
        card: &'static str,
        content: &'static str,
    },
    Refund {
        account: &'static str,
        purchase: &'static str,
    },
    RegisterUser {
        user: &'static str,
        service: &'static str,
    },
    ProvisionPc {
        device: &'static str,
        recorder: Option<&'static str>,
    },
    ProvisionPd {
        device: &'static str,
    },
    Register {
        group: &'static str,
        device: &'static str,
        via: Option<&'static str>,
    },
    Deregister {
        group: &'static str,
        device: &'static str,
    },
    IssueCertificate {
        group: &'static str,
        pc: &'static str,
        days: i64,
    },
    /// Accept the certificate issued earlier for `from_group`'s PC `pc`.
    AcceptCertificate {
        device: &'static str,
        group: &'static str,
        pc: &'static str,
    },
    Merge {
        a: &'static str,
        b: &'static str,
    },
    Rip {
        pc: &'static str,
        content: &'static str,
    },
    Acquire {
        device: &'static str,
        content: &'static str,
        group_source: Option<&'static str>,
        rules: Option<UsageRules>,
    },
    SetMode {
        device: &'static str,
        mode: ControlMode,
    },
    DevicePlay {
        device: &'static str,
        content: &'static str,
    },
    Copy {
        from: &'static str,
        to: &'static str,
        content: &'static str,
    },
    MarkShareable {
        device: &'static str,
        content: &'static str,
    },
    Share {
        from: &'static str,
        to: &'static str,
        content: &'static str,
    },
    SetRadio {
        device: &'static str,
        auto_switch: bool,
        threshold: u64,
    },
    Favorite {
        device: &'static str,
    },
    Upload {
        pd: &'static str,
        pc: &'static str,
    },
    Forward {
        pc: &'static str,
    },
    Configure {
        config: DistributionConfig,
    },
    Reward {
        group: &'static str,
        discount_bp: u32,
    },
    Sync {
        device: &'static str,
    },
}

/// What a step must come to: these event types appended, or an error whose text contains this.
#[derive(Debug, Clone)]
pub enum Expect {
    Events(&'static [&'static str]),
    Error(&'static str),
}

#[allow(unused_imports)] // not every test file uses both
pub use Expect::{Error as Fails, Events};

fn chip(runtime: &Runtime, card_id: &str, forged: bool) -> CardChip {
    if forged {
        CardChip::with_key(card(card_id), DeviceKey::from_bytes([0xEE; 32]))
    } else {
        runtime.secrets().genuine_chip(card(card_id))
    }
}

/// Runs one step; returns the event types appended.
pub async fn run_step(h: &Harness, step: &Step) -> Result<Vec<&'static str>, RuntimeError> {
    let rt = &h.runtime;
    let o = match step.clone() {
        Step::AdvanceDays(d) => {
            h.clock.advance_days(d);
            return Ok(Vec::new());
        }
        Step::OpenAccount { account, initial, expires_in_days } => {
            let expires = expires_in_days.map(|d| rt.now().plus_days(d));
            rt.open_account(&acct(account), expires, Money(initial)).await?.event_types()
        }
        Step::Load { account, amount } => rt.load_money(&acct(account), Money(amount)).await?.event_types(),
        Step::IssueCard { card: c, account } => rt.issue_card(&card(c), &acct(account), None).await?.event_types(),
        Step::List { content: c, price, uses } => rt.list_content(&content(c), Money(price), once(uses)).await?.event_types(),
        Step::PlayerBuy { card: c, purchase: p, content: ct, forged } => {
            rt.buy_from_player(&dev("player1"), &chip(rt, c, forged), &purchase(p), &content(ct)).await?.event_types()
        }
        Step::Link { account, user: u } => rt.link_account(&acct(account), &user(u)).await?.event_types(),
        Step::Insert { kiosk, card: c, forged } => rt.kiosk_insert(&dev(kiosk), &chip(rt, c, forged)).await?.event_types(),
        Step::KioskBuy { kiosk, card: c, purchase: p, content: ct } => {
            rt.kiosk_buy(&dev(kiosk), &chip(rt, c, false), &purchase(p), &content(ct)).await?.event_types()
        }
        Step::Eject { kiosk } => rt.kiosk_eject(&dev(kiosk)).await?.event_types(),
        Step::Play { card: c, content: ct, forged } => {
            rt.play_from_card(&Station::player(dev("player1")), &chip(rt, c, forged), &content(ct)).await?.event_types()
        }
        Step::RecordWanted { card: c, content: ct } => rt.record_wanted(&dev("player1"), &chip(rt, c, false), &content(ct)).await?.event_types(),
        Step::Refund { account, purchase: p } => rt.refund(&acct(account), &purchase(p)).await?.event_types(),
        Step::RegisterUser { user: u, service: s } => rt.register_user(&user(u), service(s), GroupLimits::default()).await?.event_types(),
        Step::ProvisionPc { device, recorder } => {
            let kind = DeviceKind::Pc { terminal: TerminalId::new(format!("t-{device}")).unwrap(), recorder: recorder.map(|r| RecorderId::new(r).unwrap()) };
            rt.provision_device(&dev(device), kind).await?.event_types()
        }
        Step::ProvisionPd { device } => rt.provision_device(&dev(device), DeviceKind::Pd).await?.event_types(),
        Step::Register { group, device, via } => rt.register_device(&gid(group), &dev(device), via.map(dev).as_ref()).await?.event_types(),
        Step::Deregister { group, device } => rt.deregister_device(&gid(group), &dev(device)).await?.event_types(),
        Step::IssueCertificate { group, pc, days } => {
            let until = rt.now().plus_secs(days * 86_400);
            rt.issue_certificate(&gid(group), &dev(pc), until).await?.event_types()
        }
        Step::AcceptCertificate { device, group, pc } => {
            let state = rt.group(&gid(group)).await?;
            let recorder = state.pcs().get(&dev(pc)).and_then(|p| p.recorder.clone()).expect("the PC is registered with a recorder");
            let cert: GroupCertificate = state.certificates().get(&recorder).cloned().expect("a certificate was issued for that PC");
            rt.accept_certificate(&dev(device), cert).await?.event_types()
        }
        Step::Merge { a, b } => rt.merge_lists(&dev(a), &dev(b)).await?.event_types(),
        Step::Rip { pc, content: c } => rt.rip(&dev(pc), &content(c)).await?.event_types(),
        Step::Acquire { device, content: c, group_source, rules } => {
            rt.acquire(&dev(device), &content(c), group_source.map(|g| SourceId::Group(gid(g))), rules).await?.event_types()
        }
        Step::SetMode { device, mode } => rt.set_mode(&dev(device), mode).await?.event_types(),
        Step::DevicePlay { device, content: c } => rt.play_on_device(&dev(device), &content(c)).await?.event_types(),
        Step::Copy { from, to, content: c } => rt.copy(&dev(from), &dev(to), &content(c)).await?.event_types(),
        Step::MarkShareable { device, content: c } => rt.mark_shareable(&dev(device), &content(c)).await?.event_types(),
        Step::Share { from, to, content: c } => rt.share_by_radio(&dev(from), &dev(to), &content(c)).await?.event_types(),
        Step::SetRadio { device, auto_switch, threshold } => rt.set_radio(&dev(device), auto_switch, threshold).await?.event_types(),
        Step::Favorite { device } => rt.press_favorite(&dev(device)).await?.event_types(),
        Step::Upload { pd, pc } => rt.upload_favorites(&dev(pd), &dev(pc)).await?.event_types(),
        Step::Forward { pc } => rt.forward_favorites(&dev(pc)).await?.event_types(),
        Step::Configure { config } => rt.configure_distribution(config).await?.event_types(),
        Step::Reward { group, discount_bp } => rt.set_reward(&gid(group), discount_bp).await?.event_types(),
        Step::Sync { device } => rt.sync_reputation(&dev(device)).await?.event_types(),
    };
    Ok(o)
}

/// Runs every step in order and compares each outcome with its expectation;
/// a mismatch fails naming the step. An error step must also write nothing.
pub async fn run(h: &Harness, steps: &[(Step, Expect)]) {
    for (i, (step, expect)) in steps.iter().enumerate() {
        let head_before = h.ledger.head().position;
        let got = run_step(h, step).await;
        match (expect, &got) {
            (Expect::Events(want), Ok(types)) => assert_eq!(types.as_slice(), *want, "step {i}: {step:?}"),
            (Expect::Error(want), Err(e)) => {
                assert!(e.to_string().contains(want), "step {i}: {step:?}: error {e} does not mention {want:?}");
                assert_eq!(h.ledger.head().position, head_before, "step {i}: an error wrote to the log");
            }
            _ => panic!("step {i}: {step:?}: expected {expect:?}, got {got:?}"),
        }
    }
}
