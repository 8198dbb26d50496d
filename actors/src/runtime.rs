//! The [`Runtime`] facade: one async method per flow of both halves of the
//! domain, for the CLI, the kiosk and the scenario runner. Each returns an
//! [`Outcome`] (a typed value and the events appended) or a [`RuntimeError`]
//! (nothing written). Create it inside an actix `System`; it runs its actors
//! on its own arbiters.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use actix_rt::Arbiter;
use encore_domain::groups::{
    device_stream, group_stream, ControlMode, Device, DeviceCommand, DeviceKind, Distribution, DistributionCommand, DistributionConfig, GroupCertificate,
    GroupLimits, GroupServer, SharedContent, SourceId, UsageRules, UserGroup, DISTRIBUTION_STREAM, GROUP_SERVER_STREAM,
};
use encore_domain::ids::{AccountId, CardId, ContentId, DeviceId, GroupId, PurchaseId, ServiceId, UserId};
use encore_domain::licensing::{
    account_stream, card_stream, content_stream, pending_purchases, station_stream, Account, Card, CardChip, CardProof, CatalogueEntry, Challenge,
    ChallengeKey, ContentKey, InsertOutcome, ListingDetails, PlayOutcome, PlayReport, PlayRequest, PurchaseRequest, RecordOutcome, RefundOutcome,
    ReportOutcome, Station, StationLog, TicketAnswer, UseCondition,
};
use encore_domain::{Money, Timestamp};
use encore_ledger::Ledger;

use crate::clock::{Clock, ClockGuard, RuntimeClock};
use crate::directory::{Directory, DirectoryStats};
use crate::error::RuntimeError;
use crate::flows::groups::{self as gflows, PairOp};
use crate::flows::licensing::{self as lflows, PurchaseCommand, PurchaseResult};
use crate::outcome::Outcome;
use crate::secrets::Secrets;
use crate::shared::Shared;

const CHALLENGE_CONTEXT: &str = "encore-actors station challenge v1";

/// How the runtime runs.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Actors kept live at most; the least recently used beyond are stopped.
    pub max_live_actors: usize,
    /// Actors unused this long are stopped (checked on every spawn and on `sweep`).
    pub idle_timeout: Duration,
    /// Messages queued per actor before senders wait.
    pub mailbox_capacity: usize,
    /// Decide-append attempts per command before `Contention`.
    pub max_attempts: u32,
    /// Arbiter threads the actors run on. The default is one less than the
    /// cores (at least one), leaving a core to the ledger's writer and
    /// syncer and to RocksDB's background work: on 2 cores one arbiter did
    /// 13-20 % more purchases per second than two (docs/BENCHMARKS.md), as
    /// messages between actors on one thread need no wake-up.
    pub arbiters: usize,
    /// A stream's state is snapshotted each time it crosses a multiple of
    /// this many events (0 = never); loading starts from the newest good one.
    pub snapshot_every: u64,
    /// Refuse commands on a clock jump (see `clock`); `None` for manual clocks and tests.
    pub clock_guard: Option<ClockGuard>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        RuntimeConfig {
            max_live_actors: 100_000,
            idle_timeout: Duration::from_secs(300),
            mailbox_capacity: 256,
            max_attempts: 32,
            arbiters: (cores - 1).max(1),
            snapshot_every: 100,
            clock_guard: None,
        }
    }
}

/// A whole kiosk session: insert, verify, buy each chosen content, eject.
#[derive(Debug)]
pub struct KioskSession {
    pub inserted: InsertOutcome,
    pub purchases: Vec<PurchaseResult>,
}

/// The actor runtime.
pub struct Runtime {
    shared: Arc<Shared>,
    arbiters: Vec<Arbiter>,
}

impl Runtime {
    /// Starts a runtime over an open log. Must be called inside an actix `System`.
    pub fn open(ledger: Ledger, clock: Arc<dyn Clock>, secrets: Secrets, config: RuntimeConfig) -> Runtime {
        let arbiters: Vec<Arbiter> = (0..config.arbiters.max(1)).map(|_| Arbiter::new()).collect();
        let directory = Directory::new(arbiters.iter().map(Arbiter::handle).collect(), config.max_live_actors, config.idle_timeout);
        let floor = ledger.head().recorded_at;
        let shared = Arc::new(Shared {
            clock: match config.clock_guard {
                Some(guard) => RuntimeClock::guarded(clock, floor, guard),
                None => RuntimeClock::new(clock, floor),
            },
            ledger,
            secrets,
            directory,
            config,
            challenges: AtomicU64::new(0),
        });
        Runtime { shared, arbiters }
    }

    /// Stops every actor and waits for the arbiters; the log closes when the
    /// caller drops its own handle.
    pub fn shutdown(mut self) {
        self.stop_arbiters(true);
    }

    fn stop_arbiters(&mut self, join: bool) {
        self.shared.directory.close();
        for arbiter in self.arbiters.drain(..) {
            arbiter.stop();
            if join {
                let _ = arbiter.join();
            }
        }
    }

    pub fn ledger(&self) -> &Ledger {
        &self.shared.ledger
    }

    /// The runtime's time (non-decreasing).
    pub fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    pub fn secrets(&self) -> &Secrets {
        &self.shared.secrets
    }

    /// Actor counts.
    pub fn stats(&self) -> &DirectoryStats {
        &self.shared.directory.stats
    }

    /// Actors the directory holds right now.
    pub fn live_actors(&self) -> usize {
        self.shared.directory.live()
    }

    /// Stops actors idle past the timeout.
    pub fn sweep(&self) -> u64 {
        self.shared.directory.sweep()
    }

    /// A station talks to a card: a fresh challenge, the chip's answer.
    fn prove(&self, chip: &CardChip, station: &Station) -> CardProof {
        let mut hasher = blake3::Hasher::new_derive_key(CHALLENGE_CONTEXT);
        hasher.update(station.to_string().as_bytes());
        hasher.update(&self.shared.next_challenge().to_be_bytes());
        hasher.update(&self.now().micros().to_be_bytes());
        CardProof::from_chip(chip, Challenge(*hasher.finalize().as_bytes()))
    }

    // ----- licensing (000, 002) -----

    /// Opens an accounting id with an optional first load and expiry (002 claims 1-2, 7).
    pub async fn open_account(&self, account: &AccountId, expires_at: Option<Timestamp>, initial: Money) -> Result<Outcome<()>, RuntimeError> {
        self.shared.exec(&account_stream(account), lflows::open_account(account.clone(), expires_at, initial)).await
    }

    /// Loads money onto the prepaid card's account; the value is the balance after.
    pub async fn load_money(&self, account: &AccountId, amount: Money) -> Result<Outcome<Money>, RuntimeError> {
        self.shared.exec(&account_stream(account), lflows::load_money(account.clone(), amount)).await
    }

    /// Issues a card bound to an open account; hand the holder `secrets().genuine_chip(card)`.
    pub async fn issue_card(&self, card: &CardId, account: &AccountId, expires_at: Option<Timestamp>) -> Result<Outcome<()>, RuntimeError> {
        self.shared.exec(&card_stream(card), lflows::issue_card(card.clone(), account.clone(), expires_at)).await
    }

    /// Lists a content with its price and use condition; its key is sealed under the license server key.
    pub async fn list_content(&self, content: &ContentId, price: Money, condition: UseCondition) -> Result<Outcome<()>, RuntimeError> {
        self.shared.exec(&content_stream(content), lflows::list_content(content.clone(), price, condition)).await
    }

    /// Lists a content whose file the caller encrypted under `key` (fresh, from the OS):
    /// the key is sealed under the license server key before it reaches an event.
    pub async fn list_content_file(
        &self,
        content: &ContentId,
        price: Money,
        condition: UseCondition,
        details: ListingDetails,
        key: ContentKey,
    ) -> Result<Outcome<()>, RuntimeError> {
        let flow = lflows::list_content_file(content.clone(), price, condition, details, Arc::new(key));
        self.shared.exec(&content_stream(content), flow).await
    }

    /// The key server-issued challenges are derived under (see `encore_domain::licensing::challenge`).
    pub fn challenge_key(&self) -> ChallengeKey {
        self.shared.secrets.issuer().challenge_key()
    }

    async fn purchase(&self, station: Station, chip: &CardChip, purchase: &PurchaseId, content: &ContentId) -> Result<Outcome<PurchaseResult>, RuntimeError> {
        let proof = self.prove(chip, &station);
        self.purchase_presented(station, chip.card_id(), proof, purchase, content).await
    }

    /// Links an account to a registered user, and so to the user's group id:
    /// its purchases then earn that group's member reward and spend the
    /// favorites its devices uploaded. The user's group is read from the group
    /// server first (a user is never unregistered, so it cannot change).
    pub async fn link_account(&self, account: &AccountId, user: &UserId) -> Result<Outcome<GroupId>, RuntimeError> {
        let server = self.group_server().await?;
        let group = server.group_of(user).cloned().ok_or_else(|| RuntimeError::UnknownUser { user: user.clone() })?;
        self.shared.exec(&account_stream(account), lflows::link_account(account.clone(), user.clone(), group)).await
    }

    /// A purchase onto a carried card that answered a ticket from [`Runtime::challenge_key`]
    /// at a kiosk or player on the network; the ticket is checked against the runtime's clock.
    pub async fn purchase_answered(
        &self,
        station: Station,
        card: &CardId,
        answer: &TicketAnswer,
        purchase: &PurchaseId,
        content: &ContentId,
    ) -> Result<Outcome<PurchaseResult>, RuntimeError> {
        let proof = self.challenge_key().proof_of(answer, card, &station, self.now())?;
        self.purchase_presented(station, card, proof, purchase, content).await
    }

    async fn purchase_presented(
        &self,
        station: Station,
        card: &CardId,
        proof: CardProof,
        purchase: &PurchaseId,
        content: &ContentId,
    ) -> Result<Outcome<PurchaseResult>, RuntimeError> {
        let request = PurchaseRequest { purchase: purchase.clone(), card: card.clone(), content: content.clone(), station, proof };
        let command = PurchaseCommand { request };
        self.shared.exec(&card_stream(card), lflows::purchase(command)).await
    }

    /// A carried card that answered a ticket goes into a kiosk and is verified (000 rule 1).
    pub async fn kiosk_insert_answered(&self, kiosk: &DeviceId, card: &CardId, answer: &TicketAnswer) -> Result<Outcome<InsertOutcome>, RuntimeError> {
        let station = Station::kiosk(kiosk.clone());
        let proof = self.challenge_key().proof_of(answer, card, &station, self.now())?;
        self.kiosk_insert_presented(kiosk, card, proof).await
    }

    async fn kiosk_insert_presented(&self, kiosk: &DeviceId, card: &CardId, proof: CardProof) -> Result<Outcome<InsertOutcome>, RuntimeError> {
        let station = Station::kiosk(kiosk.clone());
        self.shared.exec(&card_stream(card), lflows::insert(station, card.clone(), proof)).await
    }

    /// A play a player made from a carried card (maybe offline), reported when it connects:
    /// counted once, or refused as a `PlayRefused` event when it does not follow the server's copy.
    pub async fn report_play(&self, report: PlayReport) -> Result<Outcome<ReportOutcome>, RuntimeError> {
        let card = report.card.clone();
        self.shared.exec(&card_stream(&card), lflows::report_play(report)).await
    }

    /// A player buys a content for the card's account, written onto the card (002 claims 1-2, 10).
    pub async fn buy_from_player(
        &self,
        player: &DeviceId,
        chip: &CardChip,
        purchase: &PurchaseId,
        content: &ContentId,
    ) -> Result<Outcome<PurchaseResult>, RuntimeError> {
        self.purchase(Station::player(player.clone()), chip, purchase, content).await
    }

    /// A card goes into a kiosk and is verified (000 rule 1).
    pub async fn kiosk_insert(&self, kiosk: &DeviceId, chip: &CardChip) -> Result<Outcome<InsertOutcome>, RuntimeError> {
        let proof = self.prove(chip, &Station::kiosk(kiosk.clone()));
        self.kiosk_insert_presented(kiosk, chip.card_id(), proof).await
    }

    /// The content ids the card in the kiosk asks for and holds no live license of (002 claims 3, 5, 11).
    pub async fn kiosk_pending(&self, kiosk: &DeviceId) -> Result<Vec<ContentId>, RuntimeError> {
        let station = Station::kiosk(kiosk.clone());
        let log = self.shared.snapshot::<StationLog>(&station_stream(&station)).await?;
        let card_id = log.inserted.clone().ok_or(RuntimeError::NoCardInserted { station })?;
        let card = self.card(&card_id).await?;
        Ok(pending_purchases(&card, self.now()).into_iter().collect())
    }

    /// Buys a content onto the card in the kiosk's slot (002 claims 3-5, 11).
    pub async fn kiosk_buy(
        &self,
        kiosk: &DeviceId,
        chip: &CardChip,
        purchase: &PurchaseId,
        content: &ContentId,
    ) -> Result<Outcome<PurchaseResult>, RuntimeError> {
        self.purchase(Station::kiosk(kiosk.clone()), chip, purchase, content).await
    }

    /// The kiosk gives the card back; the value is the card ejected.
    pub async fn kiosk_eject(&self, kiosk: &DeviceId) -> Result<Outcome<CardId>, RuntimeError> {
        let station = Station::kiosk(kiosk.clone());
        self.shared.exec(&station_stream(&station), lflows::eject(station)).await
    }

    /// Insert, verify, buy each chosen content, eject: one kiosk visit. The
    /// card is ejected even when a purchase fails (then the error is returned).
    pub async fn kiosk_session(&self, kiosk: &DeviceId, chip: &CardChip, choices: &[(PurchaseId, ContentId)]) -> Result<Outcome<KioskSession>, RuntimeError> {
        let inserted = self.kiosk_insert(kiosk, chip).await?;
        let mut events = inserted.events;
        let session = KioskSession { inserted: inserted.value, purchases: Vec::new() };
        if session.inserted != InsertOutcome::Accepted {
            return Ok(Outcome { value: session, events });
        }
        let mut session = session;
        let mut failure = None;
        for (purchase, content) in choices {
            match self.kiosk_buy(kiosk, chip, purchase, content).await {
                Ok(bought) => {
                    events.extend(bought.events);
                    session.purchases.push(bought.value);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let ejected = self.kiosk_eject(kiosk).await?;
        events.extend(ejected.events);
        match failure {
            Some(e) => Err(e),
            None => Ok(Outcome { value: session, events }),
        }
    }

    /// Plays a content from a card at a station: verify, unseal, check, decrement, reseal (000 claims 7-13).
    pub async fn play_from_card(&self, station: &Station, chip: &CardChip, content: &ContentId) -> Result<Outcome<PlayOutcome>, RuntimeError> {
        let proof = self.prove(chip, station);
        let card = chip.card_id().clone();
        let request = PlayRequest { card: card.clone(), content: content.clone(), station: station.clone(), proof };
        self.shared.exec(&card_stream(&card), lflows::play(request)).await
    }

    /// A player records a wanted content id on the card for a kiosk to buy (002 claim 5).
    pub async fn record_wanted(&self, player: &DeviceId, chip: &CardChip, content: &ContentId) -> Result<Outcome<RecordOutcome>, RuntimeError> {
        let station = Station::player(player.clone());
        let proof = self.prove(chip, &station);
        let card = chip.card_id().clone();
        self.shared.exec(&card_stream(&card), lflows::record_wanted(station, card.clone(), proof, content.clone())).await
    }

    /// Refunds a charged purchase and revokes its license if still on the card.
    pub async fn refund(&self, account: &AccountId, purchase: &PurchaseId) -> Result<Outcome<RefundOutcome>, RuntimeError> {
        let card = self.account(account).await?.refund_card(account, purchase)?.clone();
        self.shared.exec(&card_stream(&card), lflows::refund(account.clone(), purchase.clone())).await
    }

    pub async fn account(&self, account: &AccountId) -> Result<Arc<Account>, RuntimeError> {
        self.shared.snapshot::<Account>(&account_stream(account)).await
    }

    pub async fn card(&self, card: &CardId) -> Result<Arc<Card>, RuntimeError> {
        self.shared.snapshot::<Card>(&card_stream(card)).await
    }

    pub async fn catalogue(&self, content: &ContentId) -> Result<Arc<CatalogueEntry>, RuntimeError> {
        self.shared.snapshot::<CatalogueEntry>(&content_stream(content)).await
    }

    pub async fn station(&self, station: &Station) -> Result<Arc<StationLog>, RuntimeError> {
        self.shared.snapshot::<StationLog>(&station_stream(station)).await
    }

    // ----- groups (003) -----

    /// Registers a user; the value is the new group id (service id + leaf id).
    pub async fn register_user(&self, user: &UserId, service: ServiceId, limits: GroupLimits) -> Result<Outcome<GroupId>, RuntimeError> {
        self.shared.exec(GROUP_SERVER_STREAM, gflows::register(user.clone(), service, limits)).await
    }

    async fn device_command(&self, device: &DeviceId, command: DeviceCommand) -> Result<Outcome<()>, RuntimeError> {
        self.shared.exec(&device_stream(device), gflows::device_command(command)).await
    }

    /// Brings a PC (terminal id, optional recorder id) or PD into service.
    pub async fn provision_device(&self, device: &DeviceId, kind: DeviceKind) -> Result<Outcome<()>, RuntimeError> {
        let secret = self.shared.secrets.device_secret(device);
        self.device_command(device, DeviceCommand::Provision { device: device.clone(), kind, secret }).await
    }

    /// Registers a PC, or a PD through a registered PC (`via`), into a group.
    pub async fn register_device(&self, group: &GroupId, device: &DeviceId, via: Option<&DeviceId>) -> Result<Outcome<()>, RuntimeError> {
        self.shared.exec(&group_stream(group), gflows::register_into(device.clone(), via.cloned())).await
    }

    /// Takes a device out of its group; its list keeps only its own recorder id.
    pub async fn deregister_device(&self, group: &GroupId, device: &DeviceId) -> Result<Outcome<()>, RuntimeError> {
        self.shared.exec(&group_stream(group), gflows::deregister(device.clone())).await
    }

    /// A registered PC issues a group certificate for its recorder id.
    pub async fn issue_certificate(&self, group: &GroupId, pc: &DeviceId, valid_until: Timestamp) -> Result<Outcome<GroupCertificate>, RuntimeError> {
        self.shared.exec(&group_stream(group), gflows::certificate(pc.clone(), valid_until)).await
    }

    /// A device accepts (or refuses, as an event) a group certificate.
    pub async fn accept_certificate(&self, device: &DeviceId, certificate: GroupCertificate) -> Result<Outcome<()>, RuntimeError> {
        let key = self.shared.secrets.certificate().clone();
        let secret = self.shared.secrets.device_secret(device);
        self.device_command(device, DeviceCommand::AcceptCertificate { certificate, key, secret }).await
    }

    async fn pair(&self, first: &DeviceId, second: &DeviceId, op: PairOp) -> Result<Outcome<()>, RuntimeError> {
        let coordinator = first.min(second);
        self.shared.exec(&device_stream(coordinator), gflows::pair(first.clone(), second.clone(), op)).await
    }

    /// Merges the source id lists of two devices of the same group.
    pub async fn merge_lists(&self, a: &DeviceId, b: &DeviceId) -> Result<Outcome<()>, RuntimeError> {
        self.pair(a, b, PairOp::Merge).await
    }

    /// Copies a content from one device to another (unmanaged: PC<->PD of one group only).
    pub async fn copy(&self, from: &DeviceId, to: &DeviceId, content: &ContentId) -> Result<Outcome<()>, RuntimeError> {
        self.pair(from, to, PairOp::Copy { content: content.clone() }).await
    }

    /// A PD hands its favorites to a PC of its own group.
    pub async fn upload_favorites(&self, pd: &DeviceId, pc: &DeviceId) -> Result<Outcome<()>, RuntimeError> {
        self.pair(pd, pc, PairOp::UploadFavorites).await
    }

    /// A PC forwards its favorites to the distribution server.
    pub async fn forward_favorites(&self, pc: &DeviceId) -> Result<Outcome<()>, RuntimeError> {
        self.shared.exec(&device_stream(pc), gflows::forward()).await
    }

    /// Rips a content on a PC: its source id is the PC's recorder id.
    pub async fn rip(&self, pc: &DeviceId, content: &ContentId) -> Result<Outcome<()>, RuntimeError> {
        self.device_command(pc, DeviceCommand::Rip { content: content.clone() }).await
    }

    /// Stores a content on a device with its source id (None = unmanaged) and usage rules.
    pub async fn acquire(
        &self,
        device: &DeviceId,
        content: &ContentId,
        source: Option<SourceId>,
        rules: Option<UsageRules>,
    ) -> Result<Outcome<()>, RuntimeError> {
        self.device_command(device, DeviceCommand::Acquire { content: content.clone(), source, rules }).await
    }

    pub async fn set_mode(&self, device: &DeviceId, mode: ControlMode) -> Result<Outcome<()>, RuntimeError> {
        self.device_command(device, DeviceCommand::SetMode { mode }).await
    }

    /// Plays a content from the device's library (group management or check-in/check-out).
    pub async fn play_on_device(&self, device: &DeviceId, content: &ContentId) -> Result<Outcome<()>, RuntimeError> {
        let secret = self.shared.secrets.device_secret(device);
        self.device_command(device, DeviceCommand::Play { content: content.clone(), secret }).await
    }

    pub async fn stop_playing(&self, device: &DeviceId) -> Result<Outcome<()>, RuntimeError> {
        self.device_command(device, DeviceCommand::Stop).await
    }

    pub async fn mark_shareable(&self, pd: &DeviceId, content: &ContentId) -> Result<Outcome<()>, RuntimeError> {
        self.device_command(pd, DeviceCommand::MarkShareable { content: content.clone() }).await
    }

    pub async fn set_radio(&self, pd: &DeviceId, auto_switch: bool, reliability_threshold: u64) -> Result<Outcome<()>, RuntimeError> {
        self.device_command(pd, DeviceCommand::SetRadio { auto_switch, reliability_threshold }).await
    }

    /// A PD transmits a shareable content by radio; the value is what receivers get.
    pub async fn transmit(&self, pd: &DeviceId, content: &ContentId) -> Result<Outcome<SharedContent>, RuntimeError> {
        self.shared.exec(&device_stream(pd), gflows::transmit(content.clone())).await
    }

    /// A PD receives shared content (plays it, switches to it, or refuses; never stores it).
    pub async fn receive(&self, pd: &DeviceId, shared: SharedContent) -> Result<Outcome<()>, RuntimeError> {
        self.device_command(pd, DeviceCommand::ReceiveShared { shared }).await
    }

    /// Transmit from one PD and receive on another.
    pub async fn share_by_radio(&self, from: &DeviceId, to: &DeviceId, content: &ContentId) -> Result<Outcome<()>, RuntimeError> {
        let sent = self.transmit(from, content).await?;
        let received = self.receive(to, sent.value).await?;
        let mut events = sent.events;
        events.extend(received.events);
        Ok(Outcome { value: (), events })
    }

    /// The favorite button: records what the PD plays (`FavoriteRecorded`).
    pub async fn press_favorite(&self, pd: &DeviceId) -> Result<Outcome<()>, RuntimeError> {
        self.device_command(pd, DeviceCommand::PressFavorite).await
    }

    /// Configures reliability points and the charisma policy (threshold or top N).
    pub async fn configure_distribution(&self, config: DistributionConfig) -> Result<Outcome<()>, RuntimeError> {
        self.shared.exec(DISTRIBUTION_STREAM, gflows::distribution(DistributionCommand::Configure { config })).await
    }

    /// Sets a reward (discount in basis points) for a charisma group id.
    pub async fn set_reward(&self, group: &GroupId, discount_bp: u32) -> Result<Outcome<()>, RuntimeError> {
        self.shared.exec(DISTRIBUTION_STREAM, gflows::distribution(DistributionCommand::SetReward { group: group.clone(), discount_bp })).await
    }

    /// Sends a device its group's reliability and the charisma list.
    pub async fn sync_reputation(&self, device: &DeviceId) -> Result<Outcome<()>, RuntimeError> {
        self.shared.exec(&device_stream(device), gflows::sync_reputation()).await
    }

    pub async fn device(&self, device: &DeviceId) -> Result<Arc<Device>, RuntimeError> {
        self.shared.snapshot::<Device>(&device_stream(device)).await
    }

    pub async fn group(&self, group: &GroupId) -> Result<Arc<UserGroup>, RuntimeError> {
        self.shared.snapshot::<UserGroup>(&group_stream(group)).await
    }

    pub async fn group_server(&self) -> Result<Arc<GroupServer>, RuntimeError> {
        self.shared.snapshot::<GroupServer>(GROUP_SERVER_STREAM).await
    }

    pub async fn distribution(&self) -> Result<Arc<Distribution>, RuntimeError> {
        self.shared.snapshot::<Distribution>(DISTRIBUTION_STREAM).await
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop_arbiters(false);
    }
}
