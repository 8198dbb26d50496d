//! Licensing: prepaid cards, accounts, the license server's catalogue,
//! purchases, players and kiosks (seeds 000 and 002; DOMAIN.md "Buying a
//! license with a prepaid card" and "License cards bound to the card").
//!
//! Everything is pure: states are folded from events, decisions take time,
//! ids and key material as arguments. Every decision the runtime makes
//! returns a [`Decided`]: its outcome and one [`Decision`] naming each
//! stream with its expected version. A purchase is one such decision over
//! the account and card streams (and, for a member, the distribution and
//! device streams), appended atomically by the runtime.
//!
//! | file | role |
//! |---|---|
//! | `events.rs` | `LicensingEvent` and its codec (type name = variant name) |
//! | `streams.rs` | stream names: `account-`, `content-`, `card-`, `kiosk-`, `player-` |
//! | `crypto.rs` | device keys, challenge-response, card-bound AES-SIV sealing, content files, redacted secrets |
//! | `challenge.rs` | server-issued challenge tickets for carried cards (stateless, expiring) |
//! | `account.rs` | Account aggregate: open, load (outcome: the new balance), link, charge / decline, refund |
//! | `catalogue.rs` | one catalogue entry per content: price, use condition, sealed key |
//! | `card.rs` | Card aggregate: issuance, licenses on the card, the genuineness gate |
//! | `purchase.rs` | the all-or-nothing purchase and refund decisions |
//! | `buy.rs` | the whole purchase: which peers it reads, the member reward, the favorite's bump, the device's library |
//! | `play.rs` | playing from a card: verify, unseal, check, decrement, reseal; plays reported from carried cards |
//! | `kiosk.rs` | station streams and the kiosk session (insert, buy, eject) |
//! | `device.rs` | the player: buy, record a wanted content id |
//!
//! [`Decided`]: crate::aggregate::Decided
//! [`Decision`]: crate::aggregate::Decision

pub mod account;
pub mod buy;
pub mod card;
pub mod catalogue;
pub mod challenge;
pub mod crypto;
pub mod device;
pub mod events;
pub mod kiosk;
pub mod play;
pub mod purchase;
pub mod streams;

#[cfg(test)]
mod tests;

pub use account::{
    link_account, load_money, open_account, Account, AccountCommand, AccountError, ChargeError, ChargeOutcome, ChargeRecord, ChargeRequest, LinkError,
    LoadError, OpenAccountError, RefundError, RefundOutcome,
};
pub use buy::{buy, purchase_peers, BuyDecision, BuyError, PeerStateError, PeerStates, PurchasePeers, PurchaseResult};
pub use card::{issue_card, Card, CardCheck, CardCheckError, CardCommand, CardLicense, IssueCardError, IssuedCard};
pub use catalogue::{list_content, CatalogueCommand, CatalogueEntry, ListError, Listing, ListingDetails, MAX_TITLE_CHARS};
pub use challenge::{ChallengeKey, ChallengeTicket, TicketAnswer, TicketError, TICKET_LIFETIME_MICROS};
pub use crypto::{
    verify_card, CardBoundKey, CardChip, CardProof, Challenge, ChipResponse, ContentKey, CryptoError, DeviceKey, IssuerSecret, KeyCheck, License,
    LicenseServerKey, LicenseTerms, SealedContentKey, SealedLicense,
};
pub use device::{player_buy, record_wanted_content, PlayerError, RecordOutcome};
pub use events::{CardRejection, ContentFile, DeclineReason, LicensingEvent, PlayRefusal, Station, StationKind, UseCondition};
pub use kiosk::{eject_card, insert_card, kiosk_buy, pending_purchases, EjectError, InsertOutcome, KioskError, StationLog};
pub use play::{decide_play, decide_reported_play, PlayDecision, PlayError, PlayOutcome, PlayReport, PlayRequest, ReportDecision, ReportOutcome};
pub use purchase::{
    decide_purchase, decide_refund, PurchaseDecision, PurchaseError, PurchaseKeys, PurchaseOutcome, PurchaseRefundError, PurchaseRequest, PurchaseState,
};
pub use streams::{account_stream, card_stream, content_stream, station_stream};
