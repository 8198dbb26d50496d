//! A deterministic generator of realistic Encore logs, for tests and the
//! replay benchmark (not used by Encore itself).
//!
//! From a seed it produces operations (each one atomic multi-stream append, as
//! the actors would write it) over the real domain event types: accounts and
//! cards opened and loaded, kiosk sessions with purchases or declines, plays
//! and refused plays, refunds, radio shares, device plays, favorites travelling
//! PD -> PC -> distribution server, and purchases through favorites (decided by
//! the domain's own `Distribution` aggregate, so reliability and charisma
//! events are exactly what the server would write). Money stays consistent:
//! every `balance_after` is the generator's running balance.
//!
//! The same seed and configuration always give the same events; time advances
//! 1 µs to 3 s per operation from `start_micros`.

use std::collections::BTreeMap;

use encore_domain::aggregate::Aggregate;
use encore_domain::groups::{
    CharismaPolicy, DeviceKind, Distribution, DistributionCommand, DistributionConfig, Favorite, GroupEvent, GroupLimits, Mac, SourceIdList,
};
use encore_domain::ids::{AccountId, CardId, ContentId, DeviceId, GroupId, LeafId, PurchaseId, ServiceId, TerminalId, UserId};
use encore_domain::licensing::events::{
    AccountOpened, CardEjected, CardInserted, CardIssued, CardLoaded, ChargeDeclined, Charged, ContentListed, ContentPlayed, LicenseIssued, LicenseRevoked,
    LicenseWrittenToCard, PlayRefused, Refunded, UseDecremented,
};
use encore_domain::licensing::{DeclineReason, KeyCheck, LicenseTerms, PlayRefusal, SealedContentKey, SealedLicense, Station, UseCondition};
use encore_domain::{Event, EventCodec, Money, Timestamp};
use encore_ledger::{AppendError, EventId, ExpectedVersion, Ledger, NewEvent, StreamAppend, StreamId};

/// The shape of a generated log.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    pub seed: u64,
    pub cards: usize,
    pub contents: usize,
    pub kiosks: usize,
    pub players: usize,
    pub groups: usize,
    pub pds_per_group: usize,
    pub start_micros: i64,
    pub charisma: CharismaPolicy,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            seed: 0x5EED_E4C0_2E00_0001,
            cards: 200,
            contents: 50,
            kiosks: 4,
            players: 8,
            groups: 12,
            pds_per_group: 3,
            start_micros: 1_700_000_000_000_000,
            charisma: CharismaPolicy::Threshold { threshold: 5 },
        }
    }
}

/// One atomic append: events per stream, in order, at one moment.
#[derive(Debug, Clone)]
pub struct Op {
    pub at: i64,
    pub appends: Vec<(String, Vec<Event>)>,
}

/// xorshift64*: small, fast, deterministic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

struct CardModel {
    card: CardId,
    account: AccountId,
    opened: bool,
    balance: u64,
    /// content index -> (purchase, uses left)
    licenses: BTreeMap<usize, (PurchaseId, u32)>,
    /// purchase -> (content index, amount), charged and not refunded
    refundable: BTreeMap<PurchaseId, (usize, u64)>,
}

struct GroupModel {
    group: GroupId,
    pc: DeviceId,
    pds: Vec<DeviceId>,
    /// favorites held by each PD, and by the PC
    pd_favorites: Vec<Vec<Favorite>>,
    pc_favorites: Vec<Favorite>,
}

/// The generator. Iterate it for operations; setup operations come first.
pub struct Workload {
    config: WorkloadConfig,
    rng: Rng,
    clock: i64,
    purchases: u64,
    contents: Vec<(ContentId, u64, UseCondition)>,
    cards: Vec<CardModel>,
    opened: usize,
    kiosks: Vec<Station>,
    players: Vec<Station>,
    groups: Vec<GroupModel>,
    distribution: Distribution,
    setup: std::vec::IntoIter<Op>,
}

fn id<T>(r: Result<T, encore_domain::ids::IdError>) -> T {
    r.unwrap_or_else(|e| panic!("generated id is valid: {e}"))
}

impl Workload {
    pub fn new(config: WorkloadConfig) -> Self {
        let mut w = Workload {
            rng: Rng::new(config.seed),
            clock: config.start_micros,
            purchases: 0,
            contents: Vec::new(),
            cards: Vec::new(),
            opened: 0,
            kiosks: (0..config.kiosks.max(1)).map(|i| Station::kiosk(id(DeviceId::new(format!("kiosk{i}"))))).collect(),
            players: (0..config.players.max(1)).map(|i| Station::player(id(DeviceId::new(format!("player{i}"))))).collect(),
            groups: Vec::new(),
            distribution: Distribution::default(),
            setup: Vec::new().into_iter(),
            config,
        };
        w.setup = w.setup_ops().into_iter();
        w
    }

    fn tick(&mut self) -> i64 {
        self.clock += 1 + (self.rng.next_u64() % 3_000_000) as i64;
        self.clock
    }

    fn setup_ops(&mut self) -> Vec<Op> {
        let mut ops = Vec::new();
        let config = DistributionConfig { points_per_purchase: 1, policy: self.config.charisma, points_per_further_purchase: None };
        let at = self.tick();
        ops.push(self.distribution_op(at, vec![GroupEvent::DistributionConfigured { config }]));
        for i in 0..self.config.contents.max(1) {
            let content = id(ContentId::new(format!("song{i}")));
            let price = 100 + (self.rng.next_u64() % 20) * 50;
            let condition = UseCondition { uses: 1 + (self.rng.next_u64() % 5) as u32, valid_days: None };
            let sealed_key = SealedContentKey(blake3::hash(content.as_str().as_bytes()).as_bytes().to_vec());
            let at = self.tick();
            let listed = ContentListed { content: content.clone(), price: Money(price), condition, sealed_key, at: Timestamp(at), title: None, file: None };
            ops.push(Op { at, appends: vec![(format!("content-{content}"), vec![Event::Licensing(listed.into())])] });
            self.contents.push((content, price, condition));
        }
        for i in 0..self.config.cards.max(1) {
            self.cards.push(CardModel {
                card: id(CardId::new(format!("card{i}"))),
                account: id(AccountId::new(format!("acct{i}"))),
                opened: false,
                balance: 0,
                licenses: BTreeMap::new(),
                refundable: BTreeMap::new(),
            });
        }
        let service = id(ServiceId::new("01234"));
        for g in 0..self.config.groups {
            let group = GroupId::new(service, id(LeafId::new(format!("L{g:05}"))));
            let user = id(UserId::new(format!("user{g}")));
            let at = self.tick();
            let registered = GroupEvent::UserRegistered { user, leaf: group.leaf.clone(), group: group.clone(), limits: GroupLimits::default() };
            ops.push(Op { at, appends: vec![("group-server".into(), vec![registered.clone().into()]), (format!("group-{group}"), vec![registered.into()])] });
            let pc = id(DeviceId::new(format!("pc{g}")));
            let pc_kind = DeviceKind::Pc { terminal: id(TerminalId::new(format!("t{g}"))), recorder: None };
            ops.extend(self.device_ops(&group, &pc, pc_kind, None));
            let mut pds = Vec::new();
            for j in 0..self.config.pds_per_group {
                let pd = id(DeviceId::new(format!("pd{g}x{j}")));
                ops.extend(self.device_ops(&group, &pd, DeviceKind::Pd, Some(pc.clone())));
                pds.push(pd);
            }
            let n = pds.len();
            self.groups.push(GroupModel { group, pc, pds, pd_favorites: vec![Vec::new(); n], pc_favorites: Vec::new() });
        }
        ops
    }

    fn device_ops(&mut self, group: &GroupId, device: &DeviceId, kind: DeviceKind, via: Option<DeviceId>) -> Vec<Op> {
        let icv = Mac::from_bytes(*blake3::hash(device.as_str().as_bytes()).as_bytes());
        let provisioned = GroupEvent::DeviceProvisioned { device: device.clone(), kind: kind.clone(), list: SourceIdList::new(), icv };
        let registered = GroupEvent::DeviceRegistered { group: group.clone(), device: device.clone(), kind, via };
        let (a, b) = (self.tick(), self.tick());
        vec![
            Op { at: a, appends: vec![(format!("device-{device}"), vec![provisioned.into()])] },
            Op { at: b, appends: vec![(format!("group-{group}"), vec![registered.clone().into()]), (format!("device-{device}"), vec![registered.into()])] },
        ]
    }

    fn distribution_op(&mut self, at: i64, events: Vec<GroupEvent>) -> Op {
        for e in &events {
            self.distribution.apply(e);
        }
        Op { at, appends: vec![("distribution".into(), events.into_iter().map(Event::Groups).collect())] }
    }

    fn next_purchase(&mut self) -> PurchaseId {
        self.purchases += 1;
        id(PurchaseId::new(format!("p{}", self.purchases)))
    }

    /// One random operation (after the setup ones).
    fn random_op(&mut self) -> Op {
        loop {
            let roll = self.rng.below(100);
            let op = match roll {
                0..=4 => self.open_card(),
                5..=16 => self.load(),
                17..=41 => self.kiosk_purchase(),
                42..=71 => self.play(),
                72..=73 => self.refund(),
                74..=81 => self.share(),
                82..=87 => self.favorite(),
                88..=90 => self.upload_favorites(),
                91..=93 => self.favorite_purchase(),
                _ => self.device_play(),
            };
            if let Some(op) = op {
                return op;
            }
        }
    }

    fn open_card(&mut self) -> Option<Op> {
        let i = self.opened;
        if i >= self.cards.len() {
            return None;
        }
        self.opened += 1;
        let at = self.tick();
        let t = Timestamp(at);
        let amount = 1_000 + (self.rng.next_u64() % 10) * 500;
        let c = &mut self.cards[i];
        c.opened = true;
        c.balance = amount;
        let opened = AccountOpened { account: c.account.clone(), expires_at: None, at: t };
        let loaded = CardLoaded { account: c.account.clone(), amount: Money(amount), balance_after: Money(amount), at: t };
        let key_check = KeyCheck(*blake3::hash(c.card.as_str().as_bytes()).as_bytes());
        let issued = CardIssued { card: c.card.clone(), account: c.account.clone(), expires_at: None, key_check, at: t };
        Some(Op {
            at,
            appends: vec![
                (format!("account-{}", c.account), vec![Event::Licensing(opened.into()), Event::Licensing(loaded.into())]),
                (format!("card-{}", c.card), vec![Event::Licensing(issued.into())]),
            ],
        })
    }

    fn some_card(&mut self) -> Option<usize> {
        (self.opened > 0).then(|| self.rng.below(self.opened))
    }

    fn load(&mut self) -> Option<Op> {
        let i = self.some_card()?;
        let at = self.tick();
        let amount = 500 + (self.rng.next_u64() % 8) * 250;
        let c = &mut self.cards[i];
        c.balance += amount;
        let loaded = CardLoaded { account: c.account.clone(), amount: Money(amount), balance_after: Money(c.balance), at: Timestamp(at) };
        Some(Op { at, appends: vec![(format!("account-{}", c.account), vec![Event::Licensing(loaded.into())])] })
    }

    /// A kiosk session: inserted, charged + issued + written (or declined), ejected.
    /// Returned as the purchase op; insertion and ejection are queued around it.
    fn kiosk_purchase(&mut self) -> Option<Op> {
        let i = self.some_card()?;
        let k = self.rng.below(self.kiosks.len());
        let ci = self.rng.below(self.contents.len());
        if self.cards[i].licenses.get(&ci).is_some_and(|(_, uses)| *uses > 0) {
            return None; // the domain refuses to sell a live license twice
        }
        let station = self.kiosks[k].clone();
        let (content, price, condition) = self.contents[ci].clone();
        let purchase = self.next_purchase();
        let at = self.tick();
        let t = Timestamp(at);
        let kiosk_stream = format!("kiosk-{}", station.device);
        let c = &mut self.cards[i];
        let inserted = CardInserted { station: station.clone(), card: c.card.clone(), account: c.account.clone(), at: t };
        let ejected = CardEjected { station: station.clone(), card: c.card.clone(), at: t };
        let session = vec![Event::Licensing(inserted.into()), Event::Licensing(ejected.into())];
        if c.balance < price {
            let declined = ChargeDeclined {
                account: c.account.clone(),
                purchase,
                content,
                card: c.card.clone(),
                station,
                amount: Money(price),
                balance: Money(c.balance),
                reason: DeclineReason::InsufficientFunds,
                at: t,
            };
            return Some(Op { at, appends: vec![(kiosk_stream, session), (format!("account-{}", c.account), vec![Event::Licensing(declined.into())])] });
        }
        c.balance -= price;
        let terms = condition.terms_from(t);
        let sealed = SealedLicense(blake3::hash(purchase.as_str().as_bytes()).as_bytes().to_vec());
        let charged = Charged {
            account: c.account.clone(),
            purchase: purchase.clone(),
            content: content.clone(),
            card: c.card.clone(),
            station: station.clone(),
            amount: Money(price),
            balance_after: Money(c.balance),
            at: t,
        };
        let issued = LicenseIssued {
            purchase: purchase.clone(),
            account: c.account.clone(),
            card: c.card.clone(),
            content: content.clone(),
            station: station.clone(),
            price: Money(price),
            terms,
            at: t,
        };
        let written = LicenseWrittenToCard { card: c.card.clone(), content, purchase: purchase.clone(), terms, sealed, station, at: t };
        c.licenses.insert(ci, (purchase.clone(), terms.uses_left));
        c.refundable.insert(purchase, (ci, price));
        Some(Op {
            at,
            appends: vec![
                (kiosk_stream, session),
                (format!("account-{}", c.account), vec![Event::Licensing(charged.into())]),
                (format!("card-{}", c.card), vec![Event::Licensing(issued.into()), Event::Licensing(written.into())]),
            ],
        })
    }

    fn play(&mut self) -> Option<Op> {
        let i = self.some_card()?;
        let n = self.cards[i].licenses.len();
        if n == 0 {
            return None;
        }
        let k = self.rng.below(n);
        let ci = *self.cards[i].licenses.keys().nth(k)?;
        let station = self.players[self.rng.below(self.players.len())].clone();
        let at = self.tick();
        let t = Timestamp(at);
        let content = self.contents[ci].0.clone();
        let c = &mut self.cards[i];
        let (_, uses) = c.licenses.get_mut(&ci)?;
        let events = if *uses == 0 {
            let refused = PlayRefused { card: c.card.clone(), account: c.account.clone(), content, station, reason: PlayRefusal::NoUsesLeft, at: t };
            vec![Event::Licensing(refused.into())]
        } else {
            *uses -= 1;
            let terms = LicenseTerms { uses_left: *uses, valid_until: None };
            let sealed = SealedLicense(blake3::hash(&at.to_le_bytes()).as_bytes().to_vec());
            let played = ContentPlayed { card: c.card.clone(), account: c.account.clone(), content: content.clone(), station: station.clone(), at: t };
            let decremented = UseDecremented { card: c.card.clone(), content, terms, sealed, station, at: t };
            vec![Event::Licensing(played.into()), Event::Licensing(decremented.into())]
        };
        Some(Op { at, appends: vec![(format!("card-{}", c.card), events)] })
    }

    fn refund(&mut self) -> Option<Op> {
        let i = self.some_card()?;
        let at = self.tick();
        let c = &mut self.cards[i];
        let (purchase, (ci, amount)) = c.refundable.pop_first()?;
        c.balance += amount;
        let content = self.contents[ci].0.clone();
        let refunded =
            Refunded { account: c.account.clone(), purchase: purchase.clone(), amount: Money(amount), balance_after: Money(c.balance), at: Timestamp(at) };
        let mut appends = vec![(format!("account-{}", c.account), vec![Event::Licensing(refunded.into())])];
        if c.licenses.get(&ci).is_some_and(|(p, _)| *p == purchase) {
            c.licenses.remove(&ci);
            let revoked = LicenseRevoked { card: c.card.clone(), content, purchase, at: Timestamp(at) };
            appends.push((format!("card-{}", c.card), vec![Event::Licensing(revoked.into())]));
        }
        Some(Op { at, appends })
    }

    fn some_pd(&mut self) -> Option<(usize, usize)> {
        let g = self.rng.below(self.groups.len().max(1));
        let group = self.groups.get(g)?;
        (!group.pds.is_empty()).then(|| (g, self.rng.below(group.pds.len())))
    }

    fn share(&mut self) -> Option<Op> {
        let (g, p) = self.some_pd()?;
        let (h, q) = self.some_pd()?;
        if (g, p) == (h, q) {
            return None;
        }
        let content = self.contents[self.rng.below(self.contents.len())].0.clone();
        let group = self.groups[g].group.clone();
        let reliability = self.distribution.reliability_of(&group);
        let (from, to) = (self.groups[g].pds[p].clone(), self.groups[h].pds[q].clone());
        let at = self.tick();
        let shared = GroupEvent::ContentShared { device: from.clone(), content: content.clone(), group: group.clone(), reliability };
        let played = GroupEvent::SharedContentPlayed { device: to.clone(), content, group, reliability };
        Some(Op { at, appends: vec![(format!("device-{from}"), vec![shared.into()]), (format!("device-{to}"), vec![played.into()])] })
    }

    fn device_play(&mut self) -> Option<Op> {
        let (g, p) = self.some_pd()?;
        let device = self.groups[g].pds[p].clone();
        let content = self.contents[self.rng.below(self.contents.len())].0.clone();
        let at = self.tick();
        let played = GroupEvent::DevicePlayed { device: device.clone(), content, source: None, mode: Default::default() };
        Some(Op { at, appends: vec![(format!("device-{device}"), vec![played.into()])] })
    }

    fn favorite(&mut self) -> Option<Op> {
        let (g, p) = self.some_pd()?;
        // A favorite names the group the content came from: often another group (radio).
        let from_group = self.groups[self.rng.below(self.groups.len())].group.clone();
        let content = self.contents[self.rng.below(self.contents.len())].0.clone();
        let device = self.groups[g].pds[p].clone();
        let at = self.tick();
        self.groups[g].pd_favorites[p].push(Favorite { content: content.clone(), group: from_group.clone() });
        let recorded = GroupEvent::FavoriteRecorded { device: device.clone(), content, group: from_group };
        Some(Op { at, appends: vec![(format!("device-{device}"), vec![recorded.into()])] })
    }

    /// A PD's favorites go to its PC, and the PC's on to the distribution server.
    fn upload_favorites(&mut self) -> Option<Op> {
        let (g, p) = self.some_pd()?;
        let at = self.tick();
        let model = &mut self.groups[g];
        let favorites = std::mem::take(&mut model.pd_favorites[p]);
        let mut appends = Vec::new();
        let (pd, pc) = (model.pds[p].clone(), model.pc.clone());
        let mut pc_events: Vec<Event> = Vec::new();
        if !favorites.is_empty() {
            let uploaded = GroupEvent::FavoritesUploaded { from: pd.clone(), to: pc.clone(), favorites: favorites.clone() };
            appends.push((format!("device-{pd}"), vec![uploaded.clone().into()]));
            pc_events.push(uploaded.into());
            model.pc_favorites.extend(favorites);
        }
        if model.pc_favorites.is_empty() {
            return None;
        }
        let forwarded = GroupEvent::FavoritesForwarded { device: pc.clone(), group: model.group.clone(), favorites: std::mem::take(&mut model.pc_favorites) };
        pc_events.push(forwarded.clone().into());
        appends.push((format!("device-{pc}"), pc_events));
        let dist = self.distribution_op(at, vec![forwarded]);
        appends.extend(dist.appends);
        Some(Op { at, appends })
    }

    /// A purchase through a favorite: the distribution server decides the bump
    /// (and any charisma change) exactly as it would live.
    fn favorite_purchase(&mut self) -> Option<Op> {
        let n = self.distribution.favorites().len();
        if n == 0 {
            return None;
        }
        let favorite = self.distribution.favorites().iter().nth(self.rng.below(n))?.clone();
        let purchase = self.next_purchase();
        let command = DistributionCommand::RecordPurchase { purchase, content: favorite.content, favorite_group: favorite.group };
        let events = self.distribution.decide(&command, Timestamp(self.clock)).ok()?;
        if events.is_empty() {
            return None;
        }
        let at = self.tick();
        Some(self.distribution_op(at, events))
    }
}

impl Iterator for Workload {
    type Item = Op;
    fn next(&mut self) -> Option<Op> {
        Some(match self.setup.next() {
            Some(op) => op,
            None => self.random_op(),
        })
    }
}

/// The event id of the `n`th generated event of a seed.
pub fn event_id(seed: u64, n: u64) -> EventId {
    let mut material = [0u8; 16];
    material[..8].copy_from_slice(&seed.to_le_bytes());
    material[8..].copy_from_slice(&n.to_le_bytes());
    EventId::derive("encore workload event v1", &material)
}

fn stream(name: &str) -> StreamId {
    StreamId::new(name).unwrap_or_else(|e| panic!("generated stream id {name:?} is valid: {e}"))
}

/// Writes generated operations to a log.
pub struct Writer {
    seed: u64,
    events: u64,
}

impl Writer {
    pub fn new(seed: u64) -> Self {
        Writer { seed, events: 0 }
    }

    /// Events written so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    fn new_event(&mut self, event: &Event, at: i64) -> NewEvent {
        self.events += 1;
        NewEvent::new(event_id(self.seed, self.events), event.event_type(), at, event.encode_payload())
    }

    /// Appends one operation as one atomic append at its own time.
    pub fn append(&mut self, ledger: &Ledger, op: &Op) -> Result<Vec<u64>, AppendError> {
        let appends = op
            .appends
            .iter()
            .map(|(s, events)| StreamAppend {
                stream: stream(s),
                expected: ExpectedVersion::Any,
                events: events.iter().map(|e| self.new_event(e, op.at)).collect(),
            })
            .collect();
        Ok(ledger.append(appends)?.positions)
    }

    /// Appends operations in large batches (for big logs): consecutive
    /// operations are merged per stream into one append of up to
    /// `batch_events` events, all recorded at the batch's last time. Order
    /// within each stream is kept; order across streams inside a batch is not.
    pub fn append_batched(&mut self, ledger: &Ledger, ops: impl IntoIterator<Item = Op>, total_events: u64, batch_events: usize) -> Result<(), AppendError> {
        let mut pending: Vec<(String, Vec<Event>)> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        let (mut in_batch, mut last_at, mut generated) = (0usize, 0i64, 0u64);
        for op in ops {
            if generated >= total_events {
                break;
            }
            for (s, events) in op.appends {
                generated += events.len() as u64;
                in_batch += events.len();
                match index.get(&s) {
                    Some(&i) => pending[i].1.extend(events),
                    None => {
                        index.insert(s.clone(), pending.len());
                        pending.push((s, events));
                    }
                }
            }
            last_at = op.at;
            if in_batch >= batch_events {
                self.flush(ledger, &mut pending, last_at)?;
                index.clear();
                in_batch = 0;
            }
        }
        if !pending.is_empty() {
            self.flush(ledger, &mut pending, last_at)?;
        }
        Ok(())
    }

    fn flush(&mut self, ledger: &Ledger, pending: &mut Vec<(String, Vec<Event>)>, at: i64) -> Result<(), AppendError> {
        let appends = pending
            .drain(..)
            .map(|(s, events)| StreamAppend {
                stream: stream(&s),
                expected: ExpectedVersion::Any,
                events: events.iter().map(|e| self.new_event(e, at)).collect(),
            })
            .collect();
        ledger.append(appends).map(|_| ())
    }
}
