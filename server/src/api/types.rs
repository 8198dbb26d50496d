//! The API's bodies: what requests send and responses return, shared by the
//! handlers and the typed client (so neither assembles JSON by hand), and
//! described in the OpenAPI document from these definitions.
//!
//! Money is an integer count of minor units (`u64`); times are RFC 3339
//! strings; ids are the domain's textual ids.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An RFC 9457 problem: every error response has this body
/// (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// `urn:encore:problem:<kind>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The error kind, as docs/ERRORS.md names it.
    pub kind: String,
    /// The offending value, when there is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<String>,
}

/// One event a write appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventRef {
    pub position: u64,
    pub stream: String,
    pub version: u64,
    #[serde(rename = "type")]
    pub event_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenAccount {
    pub account: String,
    /// First load, in minor units (default 0).
    #[serde(default)]
    pub initial: u64,
    /// RFC 3339; the account declines charges after it.
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadMoney {
    /// Minor units, at least 1.
    pub amount: u64,
}

/// An account as the accounting server holds it. Its `ETag` is its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    pub account: String,
    pub balance: u64,
    pub loaded: u64,
    pub charged: u64,
    pub expires_at: Option<String>,
    /// Events in the account's stream (the `ETag`).
    pub version: u64,
}

/// What a write to an account came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountWritten {
    pub account: String,
    /// The balance right after this write.
    pub balance: u64,
    pub events: Vec<EventRef>,
}

/// Links an account to a registered user (and so to the user's group id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkAccount {
    pub user: String,
}

/// The group an account's purchases now count for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LinkedView {
    pub account: String,
    pub group: String,
    pub events: Vec<EventRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refund {
    /// The purchase to pay back (its id is in the `Charged` event).
    pub purchase: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCard {
    pub card: String,
    pub account: String,
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CardView {
    pub card: String,
    pub account: Option<String>,
    /// Content ids with a license written on the card.
    pub licenses: Vec<String>,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Written {
    pub events: Vec<EventRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListContent {
    pub content: String,
    /// Minor units.
    pub price: u64,
    /// Plays a license allows (at least 1).
    pub uses: u32,
    /// Days a license stays valid after purchase (none: no end).
    #[serde(default)]
    pub valid_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ContentView {
    pub content: String,
    pub price: u64,
    pub uses: u32,
    pub valid_days: Option<u32>,
    pub version: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub title: Option<String>,
    /// The encrypted file in the content store (`GET /v1/contents/{id}/file`), if there is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<ContentFileView>,
}

/// Every content on sale, in id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CatalogueView {
    pub contents: Vec<ContentView>,
}

/// An encrypted content file: its blake3 hash (hex) and length in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ContentFileView {
    pub hash: String,
    pub bytes: u64,
}

/// The terms of `POST /v1/contents/{id}/file` (its body is the plain file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContentFileTerms {
    /// Minor units.
    pub price: u64,
    /// Plays a license allows (at least 1).
    pub uses: u32,
    /// Days a license stays valid after purchase (none: no end).
    #[serde(default)]
    pub valid_days: Option<u32>,
    #[serde(default)]
    pub title: Option<String>,
}

/// A challenge for a carried card (000 rule 1): the card answers `challenge`
/// (hex), and the station sends the answer back with `ticket` before `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TicketView {
    pub ticket: String,
    pub challenge: String,
    pub expires_at: String,
}

/// Which card a challenge is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChallengeFor {
    pub card: String,
}

/// A card's answer to a ticket: the ticket as issued and the card's response (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardAnswer {
    pub ticket: String,
    pub response: String,
}

/// A purchase onto a card that answered a ticket of this station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Purchase {
    pub card: String,
    pub content: String,
    pub answer: CardAnswer,
}

/// A license to write onto the card: sealed under the card-bound key (hex),
/// with a clear copy of its terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LicenseView {
    pub content: String,
    pub purchase: String,
    pub uses_left: u32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valid_until: Option<String>,
    pub sealed: String,
}

/// A play made from a carried card (maybe offline), reported by its player.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlayReportBody {
    pub card: String,
    pub content: String,
    /// When the play happened (RFC 3339), not after now.
    pub played_at: String,
    /// The license as the card re-sealed it after the play (hex).
    pub sealed: String,
}

/// What a reported play came to: `recorded`, or `refused` with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlayReportView {
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub uses_left: Option<u32>,
    pub events: Vec<EventRef>,
}

/// The contents the card in a kiosk asks for and holds no live license of (002 claims 3, 5, 11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PendingView {
    pub card: String,
    pub contents: Vec<String>,
}

/// What a purchase came to. A declined charge is an answer (200), not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseView {
    /// `licensed`, `declined`, `already-on-card` or `card-rejected`.
    pub outcome: String,
    /// Why a charge was declined or a card rejected.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// What was charged, for `licensed`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub price: Option<u64>,
    /// The account's balance after the charge, for `licensed`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub balance: Option<u64>,
    /// The purchase's id (for a refund), when something was charged or declined.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub purchase: Option<String>,
    /// The license to write onto the card, for `licensed`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub license: Option<LicenseView>,
    pub events: Vec<EventRef>,
}

/// A record of the log, as the log API returns it (payload as hex: it may
/// hold sealed data, never plaintext keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordView {
    pub position: u64,
    pub stream: String,
    pub version: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub event_id: String,
    /// RFC 3339 with microseconds.
    pub recorded_at: String,
    pub payload_hex: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordPage {
    pub records: Vec<RecordView>,
    /// The position to ask for next (`from`), if the page was full.
    pub next: Option<u64>,
    pub head: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VerifyView {
    pub intact: bool,
    pub records: u64,
    pub head: u64,
    pub head_hash: String,
    /// At most 100, in position order.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BalanceRow {
    pub account: String,
    pub balance: u64,
    pub loaded: u64,
    pub charged: u64,
    pub declines: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BalancesView {
    /// The log position the projection was computed at.
    pub position: u64,
    pub accounts: Vec<BalanceRow>,
}

/// One use of a content by an account, in log order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UseRow {
    pub position: u64,
    pub at: String,
    /// `bought` or `played`.
    pub kind: String,
    pub content: String,
    pub station: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UsageView {
    pub account: String,
    /// The log position the projection was computed at.
    pub position: u64,
    pub uses: Vec<UseRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ContentUsageView {
    pub content: String,
    pub position: u64,
    pub purchases: u64,
    pub plays: u64,
    pub device_plays: u64,
    pub shares: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StandingRow {
    pub group: String,
    pub reliability: u64,
    /// 1 = the highest reliability.
    pub rank: u32,
    pub charisma: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CharismaView {
    pub position: u64,
    pub standings: Vec<StandingRow>,
    pub charisma: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub head: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub poisoned: Option<String>,
}

// ----- group management and distribution (003) -----

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterUser {
    pub user: String,
    /// 5 digits; the first 2 are the distribution service code.
    pub service: String,
    /// PCs registered at once (default 3).
    #[serde(default)]
    pub max_pcs: Option<u32>,
    /// Recorder ids ever registered (default 10).
    #[serde(default)]
    pub max_recorders: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserRegisteredView {
    /// The new group id (service id + leaf id), e.g. `01234-0000A`.
    pub group: Option<String>,
    pub events: Vec<EventRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GroupView {
    pub group: String,
    pub user: Option<String>,
    pub pcs: Vec<String>,
    pub pds: Vec<String>,
    pub recorders_ever: Vec<String>,
    pub max_pcs: u32,
    pub max_recorders: u32,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionDevice {
    pub device: String,
    /// `pc` or `pd`.
    pub kind: String,
    /// A PC's terminal id.
    #[serde(default)]
    pub terminal: Option<String>,
    /// A PC's recorder id, if it can rip.
    #[serde(default)]
    pub recorder: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceView {
    pub device: String,
    /// `pc` or `pd`.
    pub kind: Option<String>,
    pub group: Option<String>,
    pub recorder: Option<String>,
    /// Content ids in the device's library.
    pub library: Vec<String>,
    pub favorites: u64,
    /// The device's copy of its group's reliability.
    pub reliability: u64,
    /// The device's copy of the charisma list.
    pub charisma: Vec<String>,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDevice {
    pub device: String,
    /// The registered PC a PD registers through.
    #[serde(default)]
    pub via: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCertificate {
    pub pc: String,
    /// RFC 3339.
    pub valid_until: String,
}

/// A group certificate: group id + recorder id, valid until, MAC (a public integrity value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CertificateView {
    pub group: String,
    pub recorder: String,
    pub valid_until: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CertificatesView {
    pub certificates: Vec<CertificateView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptCertificate {
    pub group: String,
    pub recorder: String,
}

/// A content of the device's library (to play, or mark shareable, or transmit by radio).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceContent {
    pub content: String,
}

/// A PD's radio settings (003 [0401]-[0410]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RadioSettings {
    pub auto_switch: bool,
    /// Switch to a sender whose reliability is above this.
    pub threshold: u64,
}

/// A transmission a PD heard: the log position of the sender's `ContentShared`
/// (the server reads what was sent from the log, never from the receiver).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Receive {
    pub position: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadFavorites {
    /// The PC of the PD's own group that receives them.
    pub pc: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReliabilityRow {
    pub group: String,
    pub points: u64,
    pub charisma: bool,
    /// Discount in basis points, for a rewarded charisma group.
    pub reward_bp: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DistributionView {
    pub points_per_purchase: u64,
    /// `threshold` or `top-n`.
    pub policy: String,
    pub policy_value: u64,
    pub groups: Vec<ReliabilityRow>,
    pub charisma: Vec<String>,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigureDistribution {
    /// Reliability points for the first purchase of a content through a group's favorite (default 1).
    #[serde(default)]
    pub points_per_purchase: Option<u64>,
    /// Points for each further purchase of it through that group's favorite, by another group (default twice the first).
    #[serde(default)]
    pub points_per_further_purchase: Option<u64>,
    /// Charisma: every group above this many points (default 100) ...
    #[serde(default)]
    pub threshold: Option<u64>,
    /// ... or the N groups with the most points.
    #[serde(default)]
    pub top_n: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetReward {
    pub group: String,
    /// Discount in basis points (1-10000).
    pub discount_bp: u32,
}
