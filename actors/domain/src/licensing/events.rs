//! Every licensing event: the payload structs, the `LicensingEvent` enum and
//! its log codec.
//!
//! The stored event type name is exactly the variant name (`Charged`,
//! `LicenseIssued`, ...). The stored payload is the canonical CBOR of the
//! variant's struct alone (the type name already says which one it is);
//! fields carry explicit `#[n(..)]` indices so fields can be added later.
//! Events carry ids, amounts, times and sealed bytes only: never a content key
//! or device key in the clear.
//!
//! Streams: account events on `account-{accounting id}`, catalogue events on
//! `content-{content id}`, card events on `card-{card id}`, station events on
//! `kiosk-{device id}` / `player-{device id}` (see `streams.rs`).

use minicbor::{Decode, Encode};

use crate::codec::{from_cbor, to_cbor, DecodeError, EventCodec};
use crate::ids::{AccountId, CardId, ContentId, DeviceId, GroupId, PurchaseId, UserId};
use crate::money::Money;
use crate::time::Timestamp;

use super::crypto::{KeyCheck, LicenseTerms, SealedContentKey, SealedLicense};

/// Whether a station is a kiosk (license vending machine) or a player.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
#[cbor(index_only)]
pub enum StationKind {
    #[n(0)]
    Kiosk,
    #[n(1)]
    Player,
}

/// Where a card was used: a kiosk (002 claims 3-5, 11) or a player (002 claims 1-2, 10).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct Station {
    #[n(0)]
    pub kind: StationKind,
    #[n(1)]
    pub device: DeviceId,
}

impl Station {
    pub fn kiosk(device: DeviceId) -> Self {
        Station { kind: StationKind::Kiosk, device }
    }
    pub fn player(device: DeviceId) -> Self {
        Station { kind: StationKind::Player, device }
    }
}

impl std::fmt::Display for Station {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            StationKind::Kiosk => write!(f, "kiosk {}", self.device),
            StationKind::Player => write!(f, "player {}", self.device),
        }
    }
}

/// The use condition a content is sold with (000 claim 3; 002 claim 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
pub struct UseCondition {
    /// Plays a license allows (at least 1).
    #[n(0)]
    pub uses: u32,
    /// Days the license stays valid after purchase; `None` = no end date.
    #[n(1)]
    pub valid_days: Option<u32>,
}

impl UseCondition {
    /// The terms of a license bought at `now`.
    pub fn terms_from(&self, now: Timestamp) -> LicenseTerms {
        LicenseTerms { uses_left: self.uses, valid_until: self.valid_days.map(|days| now.plus_days(days)) }
    }
}

/// Why the accounting server declined a charge (002 claims 1-4, 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[cbor(index_only)]
pub enum DeclineReason {
    /// The balance is below the price (an exact balance is enough).
    #[n(0)]
    InsufficientFunds,
    /// The accounting id has passed its expiry date (002 claim 7).
    #[n(1)]
    AccountExpired,
}

/// Why a license on a genuine card did not play (000 claims 12-13, 19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[cbor(index_only)]
pub enum PlayRefusal {
    #[n(0)]
    NoUsesLeft,
    #[n(1)]
    LicenseExpired,
    /// No license for that content on the card (the content id is then recorded, 002 claim 5).
    #[n(2)]
    NotOnCard,
    /// The sealed license did not open under the card's key (tampered or foreign).
    #[n(3)]
    LicenseUnreadable,
    /// A play reported from a carried card does not follow the server's copy
    /// of the license by exactly one use (a clone, or a card rolled back).
    #[n(4)]
    OutOfSequence,
}

/// Why a station refused a card before reading or writing anything (000 rule 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[cbor(index_only)]
pub enum CardRejection {
    /// The card did not prove knowledge of its device key (forged or cloned).
    #[n(0)]
    NotGenuine,
    /// No card with that id was ever issued.
    #[n(1)]
    NotIssued,
    /// The card is past its expiry date.
    #[n(2)]
    CardExpired,
}

/// An account was opened for an accounting id (stream `account-{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AccountOpened {
    #[n(0)]
    pub account: AccountId,
    /// The accounting id stops charging at this instant (002 claim 7).
    #[n(1)]
    pub expires_at: Option<Timestamp>,
    #[n(2)]
    pub at: Timestamp,
}

/// Money was loaded onto the prepaid card, i.e. into its account.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CardLoaded {
    #[n(0)]
    pub account: AccountId,
    #[n(1)]
    pub amount: Money,
    #[n(2)]
    pub balance_after: Money,
    #[n(3)]
    pub at: Timestamp,
}

/// An account was linked to a registered user, and so to the user's group id
/// (DOMAIN "Who buys is known"): its purchases earn and spend that group's
/// rewards and favorites.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AccountLinked {
    #[n(0)]
    pub account: AccountId,
    #[n(1)]
    pub user: UserId,
    #[n(2)]
    pub group: GroupId,
    #[n(3)]
    pub at: Timestamp,
}

/// The accounting server charged a purchase (always with `LicenseIssued` in the same append).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Charged {
    #[n(0)]
    pub account: AccountId,
    #[n(1)]
    pub purchase: PurchaseId,
    #[n(2)]
    pub content: ContentId,
    #[n(3)]
    pub card: CardId,
    #[n(4)]
    pub station: Station,
    #[n(5)]
    pub amount: Money,
    #[n(6)]
    pub balance_after: Money,
    #[n(7)]
    pub at: Timestamp,
}

/// The accounting server refused a charge; nothing else happened.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ChargeDeclined {
    #[n(0)]
    pub account: AccountId,
    #[n(1)]
    pub purchase: PurchaseId,
    #[n(2)]
    pub content: ContentId,
    #[n(3)]
    pub card: CardId,
    #[n(4)]
    pub station: Station,
    #[n(5)]
    pub amount: Money,
    /// The balance at the time (unchanged).
    #[n(6)]
    pub balance: Money,
    #[n(7)]
    pub reason: DeclineReason,
    #[n(8)]
    pub at: Timestamp,
}

/// A charged purchase was paid back in full (with `LicenseRevoked` if the license was still on the card).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Refunded {
    #[n(0)]
    pub account: AccountId,
    #[n(1)]
    pub purchase: PurchaseId,
    #[n(2)]
    pub amount: Money,
    #[n(3)]
    pub balance_after: Money,
    #[n(4)]
    pub at: Timestamp,
}

/// A content entered the license server's catalogue (stream `content-{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ContentListed {
    #[n(0)]
    pub content: ContentId,
    #[n(1)]
    pub price: Money,
    #[n(2)]
    pub condition: UseCondition,
    /// The content key, sealed under the license server key.
    #[n(3)]
    pub sealed_key: SealedContentKey,
    #[n(4)]
    pub at: Timestamp,
    /// What customers see at a kiosk (none for contents listed without one).
    #[n(5)]
    pub title: Option<String>,
    /// The encrypted file in the server's content store, when there is one.
    #[n(6)]
    pub file: Option<ContentFile>,
}

/// An encrypted content file in the content store, named by its blake3 hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct ContentFile {
    #[cbor(n(0), with = "minicbor::bytes")]
    pub hash: [u8; 32],
    #[n(1)]
    pub len: u64,
}

/// A card was personalised and handed out (stream `card-{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CardIssued {
    #[n(0)]
    pub card: CardId,
    #[n(1)]
    pub account: AccountId,
    #[n(2)]
    pub expires_at: Option<Timestamp>,
    /// Public fingerprint of the device key (not the key).
    #[n(3)]
    pub key_check: KeyCheck,
    #[n(4)]
    pub at: Timestamp,
}

/// A player recorded a wanted content id on the card for a kiosk to buy (002 claim 5).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ContentIdRecordedOnCard {
    #[n(0)]
    pub card: CardId,
    #[n(1)]
    pub account: AccountId,
    #[n(2)]
    pub content: ContentId,
    #[n(3)]
    pub station: Station,
    #[n(4)]
    pub at: Timestamp,
}

/// The license server issued a license for a charged purchase (usage history, 002 claims 8-9).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct LicenseIssued {
    #[n(0)]
    pub purchase: PurchaseId,
    #[n(1)]
    pub account: AccountId,
    #[n(2)]
    pub card: CardId,
    #[n(3)]
    pub content: ContentId,
    #[n(4)]
    pub station: Station,
    #[n(5)]
    pub price: Money,
    #[n(6)]
    pub terms: LicenseTerms,
    #[n(7)]
    pub at: Timestamp,
}

/// The sealed license was written onto the card, replacing any older one for that content.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct LicenseWrittenToCard {
    #[n(0)]
    pub card: CardId,
    #[n(1)]
    pub content: ContentId,
    #[n(2)]
    pub purchase: PurchaseId,
    /// A clear copy of the use condition (the sealed one is authoritative for plays).
    #[n(3)]
    pub terms: LicenseTerms,
    #[n(4)]
    pub sealed: SealedLicense,
    #[n(5)]
    pub station: Station,
    #[n(6)]
    pub at: Timestamp,
}

/// A refunded purchase's license was removed from the card.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct LicenseRevoked {
    #[n(0)]
    pub card: CardId,
    #[n(1)]
    pub content: ContentId,
    #[n(2)]
    pub purchase: PurchaseId,
    #[n(3)]
    pub at: Timestamp,
}

/// A content was played from a card (always followed by `UseDecremented`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ContentPlayed {
    #[n(0)]
    pub card: CardId,
    #[n(1)]
    pub account: AccountId,
    #[n(2)]
    pub content: ContentId,
    #[n(3)]
    pub station: Station,
    #[n(4)]
    pub at: Timestamp,
}

/// After a play the license was re-sealed with one use fewer and overwritten on the card.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct UseDecremented {
    #[n(0)]
    pub card: CardId,
    #[n(1)]
    pub content: ContentId,
    /// The terms after the play.
    #[n(2)]
    pub terms: LicenseTerms,
    #[n(3)]
    pub sealed: SealedLicense,
    #[n(4)]
    pub station: Station,
    #[n(5)]
    pub at: Timestamp,
}

/// A genuine card asked to play a content that may not be played.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PlayRefused {
    #[n(0)]
    pub card: CardId,
    #[n(1)]
    pub account: AccountId,
    #[n(2)]
    pub content: ContentId,
    #[n(3)]
    pub station: Station,
    #[n(4)]
    pub reason: PlayRefusal,
    #[n(5)]
    pub at: Timestamp,
}

/// A kiosk accepted a verified card into its slot (stream `kiosk-{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CardInserted {
    #[n(0)]
    pub station: Station,
    #[n(1)]
    pub card: CardId,
    #[n(2)]
    pub account: AccountId,
    #[n(3)]
    pub at: Timestamp,
}

/// A station refused a card (forged, cloned, unknown or expired) before any read or write.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CardRejected {
    #[n(0)]
    pub station: Station,
    /// The id the card claimed.
    #[n(1)]
    pub card: CardId,
    #[n(2)]
    pub reason: CardRejection,
    #[n(3)]
    pub at: Timestamp,
}

/// A kiosk gave the card back; its session ended.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CardEjected {
    #[n(0)]
    pub station: Station,
    #[n(1)]
    pub card: CardId,
    #[n(2)]
    pub at: Timestamp,
}

macro_rules! licensing_events {
    ($($idx:literal => $name:ident),* $(,)?) => {
        /// Every event of the licensing model. Type name = variant name.
        #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
        pub enum LicensingEvent {
            $( #[n($idx)] $name(#[n(0)] $name), )*
        }

        impl LicensingEvent {
            /// Every event type name this module writes.
            pub const TYPE_NAMES: &'static [&'static str] = &[$(stringify!($name)),*];
        }

        impl EventCodec for LicensingEvent {
            fn event_type(&self) -> &'static str {
                match self {
                    $(LicensingEvent::$name(_) => stringify!($name),)*
                }
            }

            fn encode_payload(&self) -> Vec<u8> {
                match self {
                    $(LicensingEvent::$name(event) => to_cbor(event),)*
                }
            }

            fn decode_payload(event_type: &str, payload: &[u8]) -> Result<Self, DecodeError> {
                match event_type {
                    $(stringify!($name) => from_cbor(event_type, payload).map(LicensingEvent::$name),)*
                    _ => Err(DecodeError::UnknownType { event_type: event_type.to_string() }),
                }
            }
        }

        $(impl From<$name> for LicensingEvent {
            fn from(event: $name) -> Self {
                LicensingEvent::$name(event)
            }
        })*
    };
}

licensing_events! {
    0 => AccountOpened,
    1 => CardLoaded,
    2 => Charged,
    3 => ChargeDeclined,
    4 => Refunded,
    5 => ContentListed,
    6 => CardIssued,
    7 => ContentIdRecordedOnCard,
    8 => LicenseIssued,
    9 => LicenseWrittenToCard,
    10 => LicenseRevoked,
    11 => ContentPlayed,
    12 => UseDecremented,
    13 => PlayRefused,
    14 => CardInserted,
    15 => CardRejected,
    16 => CardEjected,
    17 => AccountLinked,
}
