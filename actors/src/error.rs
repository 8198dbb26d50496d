//! [`RuntimeError`]: why a runtime call wrote nothing. Malformed commands
//! carry the domain's own typed error (naming the offending value); the
//! runtime adds unknown accounts and devices, contention, storage and actor
//! failures. No variant carries key material: domain errors name ids only.
//!
//! Domain refusals the runtime used to check itself keep the variant they
//! had (and its HTTP problem kind): `EjectError::NoCardInserted` becomes
//! [`RuntimeError::NoCardInserted`], `SyncError::NotInGroup`
//! [`RuntimeError::DeviceNotInGroup`], and the `RefundError`s of finding a
//! refund's card, `NotOpen` and `NotCharged`, [`RuntimeError::UnknownAccount`]
//! and [`RuntimeError::UnknownPurchase`].

use encore_domain::groups::device::{CopyError, MergeError};
use encore_domain::groups::radio::ShareError;
use encore_domain::groups::reputation::{DistributionError, ForwardError, SyncError, UploadError};
use encore_domain::groups::user_group::{DeregisterError, IssueCertificateError, RegisterDeviceError, RegisterUserError};
use encore_domain::groups::DeviceError;
use encore_domain::ids::{AccountId, DeviceId, IdError, PurchaseId, UserId};
use encore_domain::licensing::Station;
use encore_domain::licensing::{
    BuyError, CryptoError, EjectError, IssueCardError, KioskError, LinkError, ListError, LoadError, OpenAccountError, PlayError, PlayerError,
    PurchaseRefundError, RefundError, TicketError,
};
use encore_domain::Timestamp;
use encore_ledger::{AppendError, StreamIdError};

use crate::load::StateLoadError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    // --- refused by the runtime before deciding (or kept from when it was) ---
    /// A refund on an account that is not open (the domain's `RefundError::NotOpen`).
    #[error("account {account} is not open")]
    UnknownAccount { account: AccountId },
    #[error("user {user} is not registered with the group server")]
    UnknownUser { user: UserId },
    /// A refund of a purchase never charged to the account (the domain's `RefundError::NotCharged`).
    #[error("no charge for purchase {purchase} on account {account}")]
    UnknownPurchase { account: AccountId, purchase: PurchaseId },
    /// A reputation sync of a device in no group (the domain's `SyncError::NotInGroup`).
    #[error("device {device} is in no group")]
    DeviceNotInGroup { device: DeviceId },
    /// An eject (the domain's `EjectError::NoCardInserted`) or a pending-purchases query at an empty kiosk.
    #[error("{station} holds no card")]
    NoCardInserted { station: Station },
    #[error(transparent)]
    BadId(#[from] IdError),
    #[error(transparent)]
    BadStream(#[from] StreamIdError),

    // --- malformed commands, as the domain model names them ---
    #[error(transparent)]
    OpenAccount(#[from] OpenAccountError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    IssueCard(#[from] IssueCardError),
    #[error(transparent)]
    List(#[from] ListError),
    #[error(transparent)]
    Player(#[from] PlayerError),
    #[error(transparent)]
    Kiosk(#[from] KioskError),
    /// Every eject refusal but an empty slot (that is `NoCardInserted`).
    #[error(transparent)]
    Eject(EjectError),
    #[error(transparent)]
    Buy(#[from] BuyError),
    #[error(transparent)]
    Play(#[from] PlayError),
    #[error(transparent)]
    Refund(#[from] PurchaseRefundError),
    /// Any refund refusal but an account not open or a purchase never charged
    /// (those are `UnknownAccount` and `UnknownPurchase`).
    #[error(transparent)]
    AccountRefund(RefundError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    RegisterUser(#[from] RegisterUserError),
    #[error(transparent)]
    RegisterDevice(#[from] RegisterDeviceError),
    #[error(transparent)]
    Deregister(#[from] DeregisterError),
    #[error(transparent)]
    IssueCertificate(#[from] IssueCertificateError),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Copy(#[from] CopyError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error(transparent)]
    Forward(#[from] ForwardError),
    #[error(transparent)]
    Distribution(#[from] DistributionError),

    // --- the runtime could not complete the command; nothing was written ---
    #[error("stream {stream} kept changing under the command: gave up after {attempts} attempts")]
    Contention { stream: String, attempts: u32 },
    #[error("the log refused the append: {0}")]
    Append(AppendError),
    #[error(transparent)]
    StateLoad(#[from] StateLoadError),
    #[error("the actor of stream {stream} is gone (runtime shutting down?)")]
    ActorGone { stream: String },
    #[error("the mailbox of stream {stream} is full")]
    MailboxFull { stream: String },
    #[error("stream {stream} is already served by a different kind of actor than {wanted}")]
    WrongActorKind { stream: String, wanted: &'static str },
    #[error("a blocking read task failed: {reason}")]
    BlockingTask { reason: String },
    #[error("the runtime is shut down")]
    ShutDown,
    #[error(
        "the system clock says {now} where the runtime expected about {expected}: a clock jump, so nothing is \
         written; set the clock right (a jump while running ends there; one found at start needs a restart), or \
         restart with the guard off (encore serve --accept-clock) if the new time is right"
    )]
    ClockJumped { now: Timestamp, expected: Timestamp },

    // --- requests from outside (crate::request) ---
    #[error("stream {stream} is at version {actual}, not {expected} as the request requires")]
    PreconditionFailed { stream: String, expected: u64, actual: u64 },
    #[error("another copy of this request was answered first (receipt in {receipt_stream})")]
    AlreadyAnswered { receipt_stream: String },
    #[error("one request ran a second command; a receipt covers exactly one")]
    ScopeUsedTwice,
    /// A carried card's answer to a challenge ticket that is not (or no longer) acceptable.
    #[error(transparent)]
    Ticket(#[from] TicketError),
}

impl From<EjectError> for RuntimeError {
    fn from(e: EjectError) -> Self {
        match e {
            EjectError::NoCardInserted { station } => RuntimeError::NoCardInserted { station },
            other => RuntimeError::Eject(other),
        }
    }
}

impl From<RefundError> for RuntimeError {
    fn from(e: RefundError) -> Self {
        match e {
            RefundError::NotOpen { account } => RuntimeError::UnknownAccount { account },
            RefundError::NotCharged { account, purchase } => RuntimeError::UnknownPurchase { account, purchase },
            other => RuntimeError::AccountRefund(other),
        }
    }
}

impl From<SyncError> for RuntimeError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::NotInGroup { device } => RuntimeError::DeviceNotInGroup { device },
            other => RuntimeError::Device(other.into()),
        }
    }
}

impl From<ShareError> for RuntimeError {
    fn from(e: ShareError) -> Self {
        RuntimeError::Device(e.into())
    }
}
