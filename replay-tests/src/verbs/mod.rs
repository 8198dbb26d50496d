//! What each command does. `dispatch` reads the first word(s) and hands the
//! command to the file for its part of the domain; each verb turns names into
//! identifiers, calls the runtime and returns the events appended.

mod expect;
mod groups;
mod licensing;

use std::collections::BTreeMap;
use std::sync::Arc;

use encore_actors::{ManualClock, Outcome, Recorded, Runtime};
use encore_domain::groups::GroupCertificate;
use encore_domain::ids::*;
use encore_domain::licensing::CardChip;

use crate::args::{self, usage, Args, Usage};
use crate::names::Names;
use crate::runner::Failure;
use crate::script::Step;

/// Everything a running script holds besides the log: the runtime, the
/// manual clock, the cards in hand, which card is in which kiosk, the groups
/// users got and the certificates PCs issued.
pub(crate) struct World {
    pub runtime: Runtime,
    pub clock: Arc<ManualClock>,
    pub names: Names,
    chips: BTreeMap<String, Arc<CardChip>>,
    kiosk_slots: BTreeMap<String, String>,
    groups: BTreeMap<String, GroupId>,
    certificates: BTreeMap<String, GroupCertificate>,
    next_purchase: u64,
}

/// What a command did: the events it appended and, sometimes, a value worth printing.
pub(crate) struct Done {
    pub events: Vec<Recorded>,
    pub note: Option<String>,
}

impl Done {
    fn from<T>(outcome: Outcome<T>) -> Self {
        Done { events: outcome.events, note: None }
    }

    fn noted<T: std::fmt::Debug>(outcome: Outcome<T>) -> Self {
        let note = Some(format!("{:?}", outcome.value));
        Done { events: outcome.events, note }
    }

    fn note(note: String) -> Self {
        Done { events: Vec::new(), note: Some(note) }
    }
}

pub(crate) async fn dispatch(world: &mut World, step: &Step) -> Result<Done, Failure> {
    let args = Args::new(&step.words);
    let first = args.word(0, "command")?;
    match first {
        "clock" => clock(world, &args),
        "expect" => expect::run(world, &args).await,
        "account" | "load" | "card" | "content" | "kiosk" | "player" | "play" | "refund" => licensing::run(world, &args).await,
        "user" | "device" | "join" | "leave" | "certificate" | "accept" | "merge" | "copy" | "rip" | "acquire" | "mode" | "shareable" | "radio" | "share"
        | "favorite" | "upload" | "forward" | "charisma" | "reward" | "sync" | "tamper" => groups::run(world, &args).await,
        other => Err(Usage(format!("unknown command {other:?} (see docs/SCENARIOS.md)")).into()),
    }
}

/// `clock set DATE` | `clock advance N UNIT`
fn clock(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    match args.word(1, "set or advance")? {
        "set" => {
            let at = args::date(args.word(2, "date")?)?;
            if at < world.runtime.now() {
                return Err(Usage(format!("clock set {}: time never goes backwards", args.word(2, "date")?)).into());
            }
            world.clock.set(at);
        }
        "advance" => world.clock.advance_secs(args::duration(args.word(2, "amount")?, args.word(3, "unit")?)?),
        other => return Err(Usage(format!("clock {other:?}: use `clock set DATE` or `clock advance N UNIT`")).into()),
    }
    Ok(Done::note(format!("now {}", world.runtime.now())))
}

impl World {
    pub fn new(runtime: Runtime, clock: Arc<ManualClock>, names: Names) -> Self {
        World {
            runtime,
            clock,
            names,
            chips: BTreeMap::new(),
            kiosk_slots: BTreeMap::new(),
            groups: BTreeMap::new(),
            certificates: BTreeMap::new(),
            next_purchase: 0,
        }
    }

    fn id<T>(&mut self, kind: &str, name: &str, make: impl FnOnce(String) -> Result<T, IdError>) -> Result<T, Usage> {
        let real = self.names.real(kind, name);
        make(real).or_else(|e| usage(format!("{kind} name {name:?}: {e}")))
    }

    fn card(&mut self, name: &str) -> Result<CardId, Usage> {
        self.id("card", name, CardId::new)
    }
    fn account(&mut self, name: &str) -> Result<AccountId, Usage> {
        self.id("account", name, AccountId::new)
    }
    fn content(&mut self, name: &str) -> Result<ContentId, Usage> {
        self.id("content", name, ContentId::new)
    }
    fn device(&mut self, name: &str) -> Result<DeviceId, Usage> {
        self.id("device", name, DeviceId::new)
    }
    fn user(&mut self, name: &str) -> Result<UserId, Usage> {
        self.id("user", name, UserId::new)
    }
    fn recorder(&mut self, name: &str) -> Result<RecorderId, Usage> {
        self.id("recorder", name, RecorderId::new)
    }
    fn terminal(&mut self, name: &str) -> Result<TerminalId, Usage> {
        self.id("terminal", name, TerminalId::new)
    }

    /// `as NAME` names the purchase; otherwise purchases are numbered.
    fn purchase(&mut self, args: &Args<'_>) -> Result<PurchaseId, Usage> {
        let name = match args.option("as") {
            Some(name) => name.to_string(),
            None => {
                self.next_purchase += 1;
                format!("purchase-{}", self.next_purchase)
            }
        };
        self.id("purchase", &name, PurchaseId::new)
    }

    /// The card called `name`: the one issued or forged in this session, or
    /// else the genuine card with that id (a card issued in an earlier
    /// session of a persistent store, as a kiosk sees it).
    fn chip(&mut self, name: &str) -> Result<Arc<CardChip>, Usage> {
        if let Some(chip) = self.chips.get(name) {
            return Ok(chip.clone());
        }
        let card = self.card(name)?;
        Ok(Arc::new(self.runtime.secrets().genuine_chip(card)))
    }

    fn group_of(&self, user: &str) -> Result<GroupId, Usage> {
        self.groups.get(user).cloned().ok_or_else(|| Usage(format!("user {user:?} has no group: `user register` them first")))
    }
}
