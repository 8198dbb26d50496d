//! Deciders of the licensing flows (seeds 000 and 002): accounts, cards, the
//! catalogue, purchases from a player or at a kiosk (with the groups reward
//! and the favorite's reliability bump in the same atomic append), plays,
//! wanted content ids, refunds, kiosk sessions.

use std::sync::Arc;

use encore_domain::aggregate::StreamEvents;
use encore_domain::groups::{discounted_price, Distribution, DistributionCommand, DISTRIBUTION_STREAM};
use encore_domain::ids::{AccountId, CardId, ContentId, GroupId, PurchaseId};
use encore_domain::licensing::{
    account_stream, card_stream, content_stream, decide_play, decide_refund, decide_reported_play, eject_card, insert_card,
    kiosk_buy, player_buy, record_wanted_content, station_stream, Account, Card, CardProof, CatalogueEntry, ContentKey,
    InsertOutcome, ListingDetails, PlayOutcome, PlayReport, PlayRequest, PurchaseKeys, ReportOutcome, PurchaseOutcome, PurchaseRequest, PurchaseState, RecordOutcome, RefundOutcome, Station,
    StationKind, StationLog, UseCondition,
};
use encore_domain::{Aggregate, Event, Money, Timestamp};

use super::{single, widen};
use crate::error::RuntimeError;
use crate::shared::Shared;
use crate::shell::{DecideFuture, Plan};

fn plan<T>(outcome: T, decision: encore_domain::aggregate::Decision<Event>, key: &str) -> Plan<T> {
    Plan { outcome, decision, key: key.as_bytes().to_vec() }
}

/// Opens an account (with an optional first load).
pub fn open_account(account: AccountId, expires_at: Option<Timestamp>, initial: Money) -> impl Fn(Arc<Account>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
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
            .map(|events| {
                let balance = state.balance.checked_add(amount).unwrap_or(state.balance);
                plan(balance, single(account_stream(&account), state.version, events), "load")
            })
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
            if opened.id.as_ref() != Some(&account) {
                return Err(RuntimeError::UnknownAccount { account });
            }
            let key_check = shared.secrets.issuer().device_key(&card).key_check();
            let events = state.decide_issue(&card, &account, expires_at, key_check, now)?;
            Ok(plan((), single(encore_domain::licensing::card_stream(&card), state.version, events), "issue-card"))
        })
    }
}

/// Lists a content: its key is sealed under the license server key here.
pub fn list_content(content: ContentId, price: Money, condition: UseCondition) -> impl Fn(Arc<CatalogueEntry>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
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
pub fn list_content_file(content: ContentId, price: Money, condition: UseCondition, details: ListingDetails, key: Arc<ContentKey>) -> impl Fn(Arc<CatalogueEntry>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
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

/// A purchase as the runtime receives it.
#[derive(Debug, Clone)]
pub struct PurchaseCommand {
    pub request: PurchaseRequest,
    /// The purchase was made through a favorite from this group id: bump its reliability.
    pub via_favorite: Option<GroupId>,
    /// The buyer's group id: its reward (if on the charisma list) discounts the price.
    pub buyer_group: Option<GroupId>,
}

/// What a purchase came to, with the reward applied (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseResult {
    pub outcome: PurchaseOutcome,
    /// The discount applied to the list price, in basis points.
    pub discount_bp: Option<u32>,
}

fn discounted(entry: &CatalogueEntry, discount_bp: Option<u32>) -> CatalogueEntry {
    let mut entry = entry.clone();
    if let (Some(listing), Some(bp)) = (entry.listing.as_mut(), discount_bp) {
        listing.price = discounted_price(listing.price, bp);
    }
    entry
}

/// The all-or-nothing purchase, coordinated by the card's actor: `Charged` on
/// the account, `LicenseIssued` + `LicenseWrittenToCard` on the card and, for
/// a purchase through a favorite, `ReliabilityBumped` on the distribution
/// stream, in one append.
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
            let distribution = match command.via_favorite.is_some() || command.buyer_group.is_some() {
                true => Some(shared.snapshot::<Distribution>(DISTRIBUTION_STREAM).await?),
                false => None,
            };
            let discount_bp = command.buyer_group.as_ref().zip(distribution.as_ref()).and_then(|(g, d)| d.reward_for(g));
            let catalogue = discounted(&catalogue, discount_bp);
            let keys = PurchaseKeys { issuer: shared.secrets.issuer(), license_server: shared.secrets.license_server() };
            let state = PurchaseState { account: &account, catalogue: &catalogue, card: &card, station: &station };
            let decided = match request.station.kind {
                StationKind::Kiosk => kiosk_buy(state, keys, request, now)?,
                StationKind::Player => player_buy(state, keys, request, now)?,
            };
            let mut decision = widen(decided.decision);
            if let (PurchaseOutcome::Bought { .. }, Some(group), Some(server)) = (&decided.outcome, &command.via_favorite, &distribution) {
                let record = DistributionCommand::RecordPurchase {
                    purchase: request.purchase.clone(),
                    content: request.content.clone(),
                    favorite_group: group.clone(),
                };
                let events = server.decide(&record, now)?;
                if !events.is_empty() {
                    decision.appends.push(StreamEvents {
                        stream: DISTRIBUTION_STREAM.to_string(),
                        expected_version: server.version(),
                        events: events.into_iter().map(Event::from).collect(),
                    });
                }
            }
            let result = PurchaseResult { outcome: decided.outcome, discount_bp };
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
pub fn record_wanted(station: Station, card_id: CardId, proof: CardProof, content: ContentId) -> impl Fn(Arc<Card>, Arc<Shared>, Timestamp) -> DecideFuture<RecordOutcome> + Send {
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
