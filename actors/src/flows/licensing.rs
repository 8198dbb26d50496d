//! Deciders of the licensing flows (seeds 000 and 002): accounts, cards, the
//! catalogue, purchases from a player or at a kiosk (with the groups reward
//! and the favorite's reliability bump in the same atomic append), plays,
//! wanted content ids, refunds, kiosk sessions.

use std::sync::Arc;

use encore_domain::groups::{device_stream, Device, Distribution, DISTRIBUTION_STREAM};
use encore_domain::ids::{AccountId, CardId, ContentId, GroupId, PurchaseId, UserId};
use encore_domain::licensing::{
    account_stream, buy, card_stream, content_stream, decide_play, decide_refund, decide_reported_play, eject_card, insert_card, issue_card as issue,
    link_account as link, list_content as list, load_money as load, open_account as open, purchase_peers, record_wanted_content, station_stream, Account, Card,
    CardProof, CatalogueEntry, ContentKey, InsertOutcome, ListingDetails, PeerStates, PlayOutcome, PlayReport, PlayRequest, PurchaseKeys, PurchaseRequest,
    PurchaseState, RecordOutcome, RefundOutcome, ReportOutcome, Station, StationLog, UseCondition,
};
use encore_domain::{Money, Timestamp};

pub use encore_domain::licensing::PurchaseResult;

use super::{plan, plan_keyed, ready};
use crate::error::RuntimeError;
use crate::shared::Shared;
use crate::shell::{DecideFuture, Plan};

/// Opens an account (with an optional first load).
pub fn open_account(
    account: AccountId,
    expires_at: Option<Timestamp>,
    initial: Money,
) -> impl Fn(Arc<Account>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |state, _shared, now| ready(open(&state, &account, expires_at, initial, now).map(|d| plan(d, "open-account")).map_err(RuntimeError::from))
}

/// Loads money into an account; the outcome is the balance after the load.
pub fn load_money(account: AccountId, amount: Money) -> impl Fn(Arc<Account>, Arc<Shared>, Timestamp) -> DecideFuture<Money> + Send {
    move |state, _shared, now| ready(load(&state, &account, amount, now).map(|d| plan(d, "load")).map_err(RuntimeError::from))
}

/// Links an account to a registered user's group (the runtime looked the group up first).
pub fn link_account(account: AccountId, user: UserId, group: GroupId) -> impl Fn(Arc<Account>, Arc<Shared>, Timestamp) -> DecideFuture<GroupId> + Send {
    move |state, _shared, now| ready(link(&state, &account, &user, &group, now).map(|d| plan(d, "link")).map_err(RuntimeError::from))
}

/// Issues a card for an open account; the card actor asks the account actor.
pub fn issue_card(card: CardId, account: AccountId, expires_at: Option<Timestamp>) -> impl Fn(Arc<Card>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |state, shared, now| {
        let (card, account) = (card.clone(), account.clone());
        Box::pin(async move {
            let opened = shared.snapshot::<Account>(&account_stream(&account)).await?;
            let key_check = shared.secrets.issuer().device_key(&card).key_check();
            Ok(plan(issue(&state, &opened, &card, &account, expires_at, key_check, now)?, "issue-card"))
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
            Ok(plan(list(&state, &content, price, condition, &sealed, &ListingDetails::default(), now)?, "list"))
        })();
        ready(result)
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
            Ok(plan(list(&state, &content, price, condition, &sealed, &details, now)?, "list"))
        })();
        ready(result)
    }
}

/// A play a player made from a carried card, reported later (the card's actor).
pub fn report_play(report: PlayReport) -> impl Fn(Arc<Card>, Arc<Shared>, Timestamp) -> DecideFuture<ReportOutcome> + Send {
    move |card, shared, now| {
        let result = decide_reported_play(&card, shared.secrets.issuer(), &report, now).map(|d| plan(d, "report-play")).map_err(RuntimeError::from);
        debug_assert!(result.as_ref().map_or(true, |p| p.decision.appends.iter().all(|a| a.stream == card_stream(&report.card))));
        ready(result)
    }
}

/// A purchase as the runtime receives it. Who buys follows from the card's
/// account (its linked group id), never from what a caller claims.
#[derive(Debug, Clone)]
pub struct PurchaseCommand {
    pub request: PurchaseRequest,
}

/// The all-or-nothing purchase, coordinated by the card's actor, in one
/// append: `Charged` on the account; `LicenseIssued` + `LicenseWrittenToCard`
/// on the card; when the buyer's group spent a favorite of another group's on
/// it, `ReliabilityBumped` (and charisma changes) on the distribution stream;
/// for a member buying through a PC or PD, `ContentAcquired` on that device
/// (source id: the buyer's group id). The domain (`licensing::buy`) decides
/// all of it and says which of the distribution and device states to read
/// (`purchase_peers`): an account linked to no group reads neither.
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
            let peers = purchase_peers(&account, request);
            let distribution = if peers.distribution { Some(shared.snapshot::<Distribution>(DISTRIBUTION_STREAM).await?) } else { None };
            let device = match &peers.device {
                Some(id) => Some(shared.snapshot::<Device>(&device_stream(id)).await?),
                None => None,
            };
            let keys = PurchaseKeys { issuer: shared.secrets.issuer(), license_server: shared.secrets.license_server() };
            let state = PurchaseState { account: &account, catalogue: &catalogue, card: &card, station: &station };
            let peers = PeerStates { distribution: distribution.as_deref(), device: device.as_deref() };
            Ok(plan_keyed(buy(state, peers, keys, request, now)?, purchase_key(&request.purchase)))
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
            Ok(plan(decide_play(&card, &station, shared.secrets.issuer(), &request, now)?, "play"))
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
            Ok(plan(record_wanted_content(&log, &card, shared.secrets.issuer(), &station, &card_id, &proof, &content, now)?, "record-wanted"))
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
            Ok(plan(insert_card(&log, &card, shared.secrets.issuer(), &station, &card_id, &proof, now)?, "insert"))
        })
    }
}

/// The kiosk gives the card back (the kiosk's own actor); the outcome is the card ejected.
pub fn eject(station: Station) -> impl Fn(Arc<StationLog>, Arc<Shared>, Timestamp) -> DecideFuture<CardId> + Send {
    move |log, _shared, now| ready(eject_card(&log, &station, now).map(|d| plan(d, "eject")).map_err(RuntimeError::from))
}

/// Refunds a charged purchase and revokes its license (the card's actor, asking the account's).
pub fn refund(account_id: AccountId, purchase: PurchaseId) -> impl Fn(Arc<Card>, Arc<Shared>, Timestamp) -> DecideFuture<RefundOutcome> + Send {
    move |card, shared, now| {
        let (account_id, purchase) = (account_id.clone(), purchase.clone());
        Box::pin(async move {
            let account = shared.snapshot::<Account>(&account_stream(&account_id)).await?;
            let decided = decide_refund(&account, &card, &account_id, &purchase, now)?;
            Ok(plan_keyed(decided, [b"refund:".as_slice(), purchase.as_str().as_bytes()].concat()))
        })
    }
}
