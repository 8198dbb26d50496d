//! Deciders of the licensing flows (seeds 000 and 002): accounts, cards, the
//! catalogue, purchases from a player or at a kiosk (with the groups reward
//! and the favorite's reliability bump in the same atomic append), plays,
//! wanted content ids, refunds, kiosk sessions.

use std::sync::Arc;

use encore_domain::aggregate::StreamEvents;
use encore_domain::groups::reputation::DistributionError;
use encore_domain::groups::{device_stream, purchase_into_library, purchase_reputation, Device, Distribution, PurchaseReputation, DISTRIBUTION_STREAM};
use encore_domain::ids::{AccountId, CardId, ContentId, GroupId, PurchaseId, UserId};
use encore_domain::licensing::{
    account_stream, card_stream, content_stream, decide_play, decide_refund, decide_reported_play, eject_card, insert_card, kiosk_buy, player_buy,
    record_wanted_content, station_stream, Account, Card, CardProof, CatalogueEntry, ContentKey, InsertOutcome, ListingDetails, PlayOutcome, PlayReport,
    PlayRequest, PurchaseKeys, PurchaseOutcome, PurchaseRequest, PurchaseState, RecordOutcome, RefundOutcome, ReportOutcome, Station, StationKind, StationLog,
    UseCondition,
};
use encore_domain::{Event, Money, Timestamp};

use super::{single, widen};
use crate::error::RuntimeError;
use crate::shared::Shared;
use crate::shell::{DecideFuture, Plan};

fn plan<T>(outcome: T, decision: encore_domain::aggregate::Decision<Event>, key: &str) -> Plan<T> {
    Plan { outcome, decision, key: key.as_bytes().to_vec() }
}

/// Opens an account (with an optional first load).
pub fn open_account(
    account: AccountId,
    expires_at: Option<Timestamp>,
    initial: Money,
) -> impl Fn(Arc<Account>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |state, _shared, now| {
        let result = state
            .decide_open(&account, expires_at, initial, now)
            .map(|events| plan((), single(account_stream(&account), state.version, events), "open-account"))
            .map_err(RuntimeError::from);
        Box::pin(async move { result })
    }
}

/// Loads money into an account.
pub fn load_money(account: AccountId, amount: Money) -> impl Fn(Arc<Account>, Arc<Shared>, Timestamp) -> DecideFuture<Money> + Send {
    move |state, _shared, now| {
        let result = state
            .decide_load(&account, amount, now)
            .map(|events| plan(state.balance_after_load(amount), single(account_stream(&account), state.version, events), "load"))
            .map_err(RuntimeError::from);
        Box::pin(async move { result })
    }
}

/// Links an account to a registered user's group (the runtime looked the group up first).
pub fn link_account(account: AccountId, user: UserId, group: GroupId) -> impl Fn(Arc<Account>, Arc<Shared>, Timestamp) -> DecideFuture<GroupId> + Send {
    move |state, _shared, now| {
        let result = state
            .decide_link(&account, &user, &group, now)
            .map(|events| plan(group.clone(), single(account_stream(&account), state.version, events), "link"))
            .map_err(RuntimeError::from);
        Box::pin(async move { result })
    }
}

/// Issues a card for an open account; the card actor asks the account actor.
pub fn issue_card(card: CardId, account: AccountId, expires_at: Option<Timestamp>) -> impl Fn(Arc<Card>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |state, shared, now| {
        let (card, account) = (card.clone(), account.clone());
        Box::pin(async move {
            let opened = shared.snapshot::<Account>(&account_stream(&account)).await?;
            let key_check = shared.secrets.issuer().device_key(&card).key_check();
            let events = state.decide_issue_for(&opened, &card, &account, expires_at, key_check, now)?;
            Ok(plan((), single(encore_domain::licensing::card_stream(&card), state.version, events), "issue-card"))
        })
    }
}

/// Lists a content: its key is sealed under the license server key here.
pub fn list_content(
    content: ContentId,
    price: Money,
    condition: UseCondition,
) -> impl Fn(Arc<CatalogueEntry>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |state, shared, now| {
        let result = (|| -> Result<Plan<()>, RuntimeError> {
            let key = shared.secrets.content_key(&content);
            let sealed = shared.secrets.license_server().seal_content_key(&content, &key)?;
            let events = state.decide_list(&content, price, condition, &sealed, now)?;
            Ok(plan((), single(content_stream(&content), state.version, events), "list"))
        })();
        Box::pin(async move { result })
    }
}

/// Lists a content whose file was encrypted under `key` (a fresh key from the
/// shell): the key goes into the catalogue sealed, with the title and file.
pub fn list_content_file(
    content: ContentId,
    price: Money,
    condition: UseCondition,
    details: ListingDetails,
    key: Arc<ContentKey>,
) -> impl Fn(Arc<CatalogueEntry>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |state, shared, now| {
        let result = (|| -> Result<Plan<()>, RuntimeError> {
            let sealed = shared.secrets.license_server().seal_content_key(&content, &key)?;
            let events = state.decide_list_with(&content, price, condition, &sealed, &details, now)?;
            Ok(plan((), single(content_stream(&content), state.version, events), "list"))
        })();
        Box::pin(async move { result })
    }
}

/// A play a player made from a carried card, reported later (the card's actor).
pub fn report_play(report: PlayReport) -> impl Fn(Arc<Card>, Arc<Shared>, Timestamp) -> DecideFuture<ReportOutcome> + Send {
    move |card, shared, now| {
        let result = decide_reported_play(&card, shared.secrets.issuer(), &report, now)
            .map(|decided| plan(decided.outcome, widen(decided.decision), "report-play"))
            .map_err(RuntimeError::from);
        debug_assert!(result.as_ref().map_or(true, |p| p.decision.appends.iter().all(|a| a.stream == card_stream(&report.card))));
        Box::pin(async move { result })
    }
}

/// A purchase as the runtime receives it. Who buys follows from the card's
/// account (its linked group id), never from what a caller claims.
#[derive(Debug, Clone)]
pub struct PurchaseCommand {
    pub request: PurchaseRequest,
}

/// What a purchase came to, with the buyer's reward applied (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseResult {
    pub outcome: PurchaseOutcome,
    /// The discount applied to the list price, in basis points.
    pub discount_bp: Option<u32>,
}

/// The all-or-nothing purchase, coordinated by the card's actor, in one
/// append: `Charged` on the account; `LicenseIssued` + `LicenseWrittenToCard`
/// on the card; when the buyer's group spent a favorite of another group's on
/// it, `ReliabilityBumped` (and charisma changes) on the distribution stream;
/// for a member buying through a PC or PD, `ContentAcquired` on that device
/// (source id: the buyer's group id). An account linked to no group buys at
/// list price, and the distribution server is not asked.
pub fn purchase(command: PurchaseCommand) -> impl Fn(Arc<Card>, Arc<Shared>, Timestamp) -> DecideFuture<PurchaseResult> + Send {
    move |card, shared, now| {
        let command = command.clone();
        Box::pin(async move {
            let request = &command.request;
            let account = match card.info() {
                Some(info) => shared.snapshot::<Account>(&account_stream(&info.account)).await?,
                None => Arc::new(Account::default()),
            };
            let catalogue = shared.snapshot::<CatalogueEntry>(&content_stream(&request.content)).await?;
            let station = shared.snapshot::<StationLog>(&station_stream(&request.station)).await?;
            let (reputation, distribution_version) = match &account.group {
                Some(buyer) => {
                    let server = shared.snapshot::<Distribution>(DISTRIBUTION_STREAM).await?;
                    let decided = purchase_reputation(&server, buyer, &request.content, &request.purchase).map_err(DistributionError::from)?;
                    (decided, server.version())
                }
                None => (PurchaseReputation::default(), 0),
            };
            // A member's purchase through a PC or PD goes into that device's library.
            let device = match (&account.group, request.station.kind) {
                (Some(_), StationKind::Player) => Some(shared.snapshot::<Device>(&device_stream(&request.station.device)).await?),
                _ => None,
            };
            let catalogue = catalogue.discounted(reputation.discount_bp);
            let keys = PurchaseKeys { issuer: shared.secrets.issuer(), license_server: shared.secrets.license_server() };
            let state = PurchaseState { account: &account, catalogue: &catalogue, card: &card, station: &station };
            let decided = match request.station.kind {
                StationKind::Kiosk => kiosk_buy(state, keys, request, now)?,
                StationKind::Player => player_buy(state, keys, request, now)?,
            };
            let mut decision = widen(decided.decision);
            let bought = matches!(decided.outcome, PurchaseOutcome::Bought { .. });
            if let Some(append) = reputation.append(bought, distribution_version) {
                decision.appends.push(StreamEvents {
                    stream: append.stream,
                    expected_version: append.expected_version,
                    events: append.events.into_iter().map(Event::from).collect(),
                });
            }
            let library = device.as_ref().zip(account.group.as_ref()).filter(|_| bought).and_then(|(d, g)| purchase_into_library(d, &request.content, g));
            if let Some(append) = library {
                decision.appends.push(StreamEvents {
                    stream: append.stream,
                    expected_version: append.expected_version,
                    events: append.events.into_iter().map(Event::from).collect(),
                });
            }
            let result = PurchaseResult { outcome: decided.outcome, discount_bp: reputation.discount_bp };
            Ok(Plan { outcome: result, decision, key: purchase_key(&request.purchase) })
        })
    }
}

fn purchase_key(purchase: &PurchaseId) -> Vec<u8> {
    let mut key = b"purchase:".to_vec();
    key.extend_from_slice(purchase.as_str().as_bytes());
    key
}

/// Playing a content from a card (the card's actor; the station's for rejections).
pub fn play(request: PlayRequest) -> impl Fn(Arc<Card>, Arc<Shared>, Timestamp) -> DecideFuture<PlayOutcome> + Send {
    move |card, shared, now| {
        let request = request.clone();
        Box::pin(async move {
            let station = shared.snapshot::<StationLog>(&station_stream(&request.station)).await?;
            let decided = decide_play(&card, &station, shared.secrets.issuer(), &request, now)?;
            Ok(plan(decided.outcome, widen(decided.decision), "play"))
        })
    }
}

/// A player records a wanted content id on the card (002 claim 5).
pub fn record_wanted(
    station: Station,
    card_id: CardId,
    proof: CardProof,
    content: ContentId,
) -> impl Fn(Arc<Card>, Arc<Shared>, Timestamp) -> DecideFuture<RecordOutcome> + Send {
    move |card, shared, now| {
        let (station, card_id, content) = (station.clone(), card_id.clone(), content.clone());
        Box::pin(async move {
            let log = shared.snapshot::<StationLog>(&station_stream(&station)).await?;
            let (outcome, decision) = record_wanted_content(&log, &card, shared.secrets.issuer(), &station, &card_id, &proof, &content, now)?;
            Ok(plan(outcome, widen(decision), "record-wanted"))
        })
    }
}

/// A card is put into a kiosk and verified (coordinated by the card's actor,
/// which writes the kiosk's stream).
pub fn insert(station: Station, card_id: CardId, proof: CardProof) -> impl Fn(Arc<Card>, Arc<Shared>, Timestamp) -> DecideFuture<InsertOutcome> + Send {
    move |card, shared, now| {
        let (station, card_id) = (station.clone(), card_id.clone());
        Box::pin(async move {
            let log = shared.snapshot::<StationLog>(&station_stream(&station)).await?;
            let (outcome, decision) = insert_card(&log, &card, shared.secrets.issuer(), &station, &card_id, &proof, now)?;
            Ok(plan(outcome, widen(decision), "insert"))
        })
    }
}

/// The kiosk gives the card back (the kiosk's own actor).
pub fn eject(station: Station) -> impl Fn(Arc<StationLog>, Arc<Shared>, Timestamp) -> DecideFuture<CardId> + Send {
    move |log, _shared, now| {
        let result = (|| -> Result<Plan<CardId>, RuntimeError> {
            let card = log.inserted.clone().ok_or_else(|| RuntimeError::NoCardInserted { station: station.clone() })?;
            Ok(plan(card, widen(eject_card(&log, &station, now)?), "eject"))
        })();
        Box::pin(async move { result })
    }
}

/// Refunds a charged purchase and revokes its license (the card's actor, asking the account's).
pub fn refund(account_id: AccountId, purchase: PurchaseId) -> impl Fn(Arc<Card>, Arc<Shared>, Timestamp) -> DecideFuture<RefundOutcome> + Send {
    move |card, shared, now| {
        let (account_id, purchase) = (account_id.clone(), purchase.clone());
        Box::pin(async move {
            let account = shared.snapshot::<Account>(&account_stream(&account_id)).await?;
            let (outcome, decision) = decide_refund(&account, &card, &account_id, &purchase, now)?;
            Ok(Plan { outcome, decision: widen(decision), key: [b"refund:".as_slice(), purchase.as_str().as_bytes()].concat() })
        })
    }
}
