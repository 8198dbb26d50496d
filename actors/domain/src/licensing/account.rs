//! The Account aggregate: an accounting id's money information on the
//! accounting server (002 claims 1-4, 7), stream `account-{accounting id}`.
//!
//! Open (with an optional expiry date and initial balance), load money,
//! charge a purchase, refund it. A charge happens only if the balance covers
//! the price (the exact balance is enough) and the account has not expired;
//! otherwise `ChargeDeclined` with the reason. A purchase id is charged at
//! most once: a retry is recognised and writes nothing.
//!
//! Invariant: loaded - charged + refunded = balance, never negative.

use std::collections::{BTreeMap, BTreeSet};

use crate::aggregate::{Aggregate, Decided};
use crate::ids::{AccountId, CardId, ContentId, GroupId, PurchaseId, UserId};
use crate::money::Money;
use crate::time::Timestamp;

use super::events::{AccountLinked, AccountOpened, CardLoaded, ChargeDeclined, Charged, DeclineReason, LicensingEvent, Refunded, Station};
use super::streams::account_stream;

/// What the account remembers of a charged purchase.
#[derive(Debug, Clone, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct ChargeRecord {
    #[n(0)]
    pub amount: Money,
    #[n(1)]
    pub content: ContentId,
    #[n(2)]
    pub card: CardId,
}

/// An account's state, folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct Account {
    /// Events applied so far (the expected version of the next append).
    #[n(0)]
    version: u64,
    /// `None` until `AccountOpened`.
    #[n(1)]
    pub id: Option<AccountId>,
    #[n(2)]
    pub expires_at: Option<Timestamp>,
    #[n(3)]
    pub balance: Money,
    #[n(4)]
    pub loaded: Money,
    #[n(5)]
    pub charged: Money,
    #[n(6)]
    pub refunded: Money,
    #[n(7)]
    pub declines: u64,
    #[n(8)]
    pub charges: BTreeMap<PurchaseId, ChargeRecord>,
    #[n(9)]
    pub refunds: BTreeSet<PurchaseId>,
    /// The group id of the user the account is linked to, if any.
    #[n(10)]
    pub group: Option<GroupId>,
}

/// A request to charge one purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    pub account: AccountId,
    pub purchase: PurchaseId,
    pub content: ContentId,
    pub card: CardId,
    pub station: Station,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountCommand {
    Open { account: AccountId, expires_at: Option<Timestamp>, initial: Money },
    Load { account: AccountId, amount: Money },
    Charge(ChargeRequest),
    Refund { account: AccountId, purchase: PurchaseId },
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenAccountError {
    #[error("account {account} is already open")]
    AlreadyOpen { account: AccountId },
    #[error("account {account} would expire at {expires_at}, not after now ({now})")]
    ExpiryNotInFuture { account: AccountId, expires_at: Timestamp, now: Timestamp },
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    #[error("account {account} is not open")]
    NotOpen { account: AccountId },
    #[error("account {account} is linked to group {group} already; an account belongs to one group")]
    LinkedElsewhere { account: AccountId, group: GroupId },
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError {
    #[error("account {account} is not open")]
    NotOpen { account: AccountId },
    #[error("loading zero onto account {account}")]
    ZeroAmount { account: AccountId },
    #[error("loading {amount} onto account {account} (balance {balance}) overflows")]
    Overflow { account: AccountId, balance: Money, amount: Money },
    #[error("account {account} expired at {expires_at}; it takes no more money")]
    AccountExpired { account: AccountId, expires_at: Timestamp },
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChargeError {
    #[error("account {account} is not open")]
    NotOpen { account: AccountId },
    #[error("charging zero to account {account} for purchase {purchase}")]
    ZeroAmount { account: AccountId, purchase: PurchaseId },
    #[error("purchase {purchase} was already charged to account {account} for another content, card or amount")]
    PurchaseIdConflict { account: AccountId, purchase: PurchaseId },
    #[error("charging {amount} for purchase {purchase} overflows the totals of account {account}")]
    Overflow { account: AccountId, purchase: PurchaseId, amount: Money },
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefundError {
    #[error("account {account} is not open")]
    NotOpen { account: AccountId },
    #[error("purchase {purchase} was never charged to account {account}")]
    NotCharged { account: AccountId, purchase: PurchaseId },
    #[error("refunding {amount} for purchase {purchase} overflows the totals of account {account}")]
    Overflow { account: AccountId, purchase: PurchaseId, amount: Money },
}

/// Any error of an account command.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountError {
    #[error(transparent)]
    Open(#[from] OpenAccountError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Charge(#[from] ChargeError),
    #[error(transparent)]
    Refund(#[from] RefundError),
}

/// What a charge request comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Charged(Charged),
    Declined(ChargeDeclined),
    /// This purchase id was charged before: nothing new happens.
    AlreadyCharged,
}

/// What a refund request comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Refunded(Refunded),
    /// This purchase was refunded before: nothing new happens.
    AlreadyRefunded,
}

fn saturating_add(a: Money, b: Money) -> Money {
    Money(a.units().saturating_add(b.units()))
}

fn saturating_sub(a: Money, b: Money) -> Money {
    Money(a.units().saturating_sub(b.units()))
}

impl Account {
    /// Events applied so far: the expected version of `account-{id}`.
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn is_open(&self) -> bool {
        self.id.is_some()
    }

    /// Expired at `now` (002 claim 7): at or after the expiry instant.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// Checks the state is the opened account `account`.
    fn opened(&self, account: &AccountId) -> Option<&AccountId> {
        self.id.as_ref().filter(|id| *id == account)
    }

    pub fn decide_open(
        &self,
        account: &AccountId,
        expires_at: Option<Timestamp>,
        initial: Money,
        now: Timestamp,
    ) -> Result<Vec<LicensingEvent>, OpenAccountError> {
        if self.is_open() {
            return Err(OpenAccountError::AlreadyOpen { account: account.clone() });
        }
        if let Some(at) = expires_at.filter(|at| *at <= now) {
            return Err(OpenAccountError::ExpiryNotInFuture { account: account.clone(), expires_at: at, now });
        }
        let mut events = vec![AccountOpened { account: account.clone(), expires_at, at: now }.into()];
        if !initial.is_zero() {
            events.push(CardLoaded { account: account.clone(), amount: initial, balance_after: initial, at: now }.into());
        }
        Ok(events)
    }

    /// Links the account to `user` of group `group` (the group server's answer).
    /// Linking again to the same group writes nothing; to another is refused.
    pub fn decide_link(&self, account: &AccountId, user: &UserId, group: &GroupId, now: Timestamp) -> Result<Vec<LicensingEvent>, LinkError> {
        if self.opened(account).is_none() {
            return Err(LinkError::NotOpen { account: account.clone() });
        }
        match &self.group {
            Some(linked) if linked == group => Ok(Vec::new()),
            Some(linked) => Err(LinkError::LinkedElsewhere { account: account.clone(), group: linked.clone() }),
            None => Ok(vec![AccountLinked { account: account.clone(), user: user.clone(), group: group.clone(), at: now }.into()]),
        }
    }

    pub fn decide_load(&self, account: &AccountId, amount: Money, now: Timestamp) -> Result<Vec<LicensingEvent>, LoadError> {
        Ok(vec![self.loaded(account, amount, now)?.into()])
    }

    fn loaded(&self, account: &AccountId, amount: Money, now: Timestamp) -> Result<CardLoaded, LoadError> {
        if self.opened(account).is_none() {
            return Err(LoadError::NotOpen { account: account.clone() });
        }
        if amount.is_zero() {
            return Err(LoadError::ZeroAmount { account: account.clone() });
        }
        if let Some(expires_at) = self.expires_at.filter(|_| self.is_expired(now)) {
            return Err(LoadError::AccountExpired { account: account.clone(), expires_at });
        }
        let overflow = || LoadError::Overflow { account: account.clone(), balance: self.balance, amount };
        let balance_after = self.balance.checked_add(amount).ok_or_else(overflow)?;
        self.loaded.checked_add(amount).ok_or_else(overflow)?;
        Ok(CardLoaded { account: account.clone(), amount, balance_after, at: now })
    }

    /// Charges a purchase, declines it, or recognises a retry.
    pub fn decide_charge(&self, request: &ChargeRequest, now: Timestamp) -> Result<ChargeOutcome, ChargeError> {
        let ChargeRequest { account, purchase, content, card, station, amount } = request;
        if self.opened(account).is_none() {
            return Err(ChargeError::NotOpen { account: account.clone() });
        }
        if amount.is_zero() {
            return Err(ChargeError::ZeroAmount { account: account.clone(), purchase: purchase.clone() });
        }
        if let Some(done) = self.charges.get(purchase) {
            if done.amount == *amount && done.content == *content && done.card == *card {
                return Ok(ChargeOutcome::AlreadyCharged);
            }
            return Err(ChargeError::PurchaseIdConflict { account: account.clone(), purchase: purchase.clone() });
        }
        let reason = if self.is_expired(now) {
            Some(DeclineReason::AccountExpired)
        } else if self.balance < *amount {
            Some(DeclineReason::InsufficientFunds)
        } else {
            None
        };
        if let Some(reason) = reason {
            return Ok(ChargeOutcome::Declined(ChargeDeclined {
                account: account.clone(),
                purchase: purchase.clone(),
                content: content.clone(),
                card: card.clone(),
                station: station.clone(),
                amount: *amount,
                balance: self.balance,
                reason,
                at: now,
            }));
        }
        let overflow = || ChargeError::Overflow { account: account.clone(), purchase: purchase.clone(), amount: *amount };
        self.charged.checked_add(*amount).ok_or_else(overflow)?;
        let balance_after = self.balance.checked_sub(*amount).ok_or_else(overflow)?;
        Ok(ChargeOutcome::Charged(Charged {
            account: account.clone(),
            purchase: purchase.clone(),
            content: content.clone(),
            card: card.clone(),
            station: station.clone(),
            amount: *amount,
            balance_after,
            at: now,
        }))
    }

    /// The card a purchase charged to this open account was written to: the
    /// card whose actor decides its refund ([`super::purchase::decide_refund`]).
    pub fn refund_card(&self, account: &AccountId, purchase: &PurchaseId) -> Result<&CardId, RefundError> {
        Ok(&self.charge_of(account, purchase)?.card)
    }

    fn charge_of(&self, account: &AccountId, purchase: &PurchaseId) -> Result<&ChargeRecord, RefundError> {
        if self.opened(account).is_none() {
            return Err(RefundError::NotOpen { account: account.clone() });
        }
        self.charges.get(purchase).ok_or_else(|| RefundError::NotCharged { account: account.clone(), purchase: purchase.clone() })
    }

    /// Pays a charged purchase back in full, once.
    pub fn decide_refund(&self, account: &AccountId, purchase: &PurchaseId, now: Timestamp) -> Result<RefundOutcome, RefundError> {
        let record = self.charge_of(account, purchase)?;
        if self.refunds.contains(purchase) {
            return Ok(RefundOutcome::AlreadyRefunded);
        }
        let amount = record.amount;
        let overflow = || RefundError::Overflow { account: account.clone(), purchase: purchase.clone(), amount };
        self.refunded.checked_add(amount).ok_or_else(overflow)?;
        let balance_after = self.balance.checked_add(amount).ok_or_else(overflow)?;
        Ok(RefundOutcome::Refunded(Refunded { account: account.clone(), purchase: purchase.clone(), amount, balance_after, at: now }))
    }
}

/// Opens `account` (its stream is `state`'s), with `initial` loaded unless it is zero.
pub fn open_account(
    state: &Account,
    account: &AccountId,
    expires_at: Option<Timestamp>,
    initial: Money,
    now: Timestamp,
) -> Result<Decided<(), LicensingEvent>, OpenAccountError> {
    let events = state.decide_open(account, expires_at, initial, now)?;
    Ok(Decided::single(account_stream(account), state.version(), events, ()))
}

/// Loads `amount` onto an open account; the outcome is the balance after the load.
pub fn load_money(state: &Account, account: &AccountId, amount: Money, now: Timestamp) -> Result<Decided<Money, LicensingEvent>, LoadError> {
    let loaded = state.loaded(account, amount, now)?;
    let balance_after = loaded.balance_after;
    Ok(Decided::single(account_stream(account), state.version(), vec![loaded.into()], balance_after))
}

/// Links an open account to `user` of `group`; the outcome is the group the
/// account is linked to (linking again to it writes nothing).
pub fn link_account(
    state: &Account,
    account: &AccountId,
    user: &UserId,
    group: &GroupId,
    now: Timestamp,
) -> Result<Decided<GroupId, LicensingEvent>, LinkError> {
    let events = state.decide_link(account, user, group, now)?;
    Ok(Decided::single(account_stream(account), state.version(), events, group.clone()))
}

impl Aggregate for Account {
    type Command = AccountCommand;
    type Event = LicensingEvent;
    type Error = AccountError;

    fn decide(&self, command: &AccountCommand, now: Timestamp) -> Result<Vec<LicensingEvent>, AccountError> {
        match command {
            AccountCommand::Open { account, expires_at, initial } => Ok(self.decide_open(account, *expires_at, *initial, now)?),
            AccountCommand::Load { account, amount } => Ok(self.decide_load(account, *amount, now)?),
            AccountCommand::Charge(request) => Ok(match self.decide_charge(request, now)? {
                ChargeOutcome::Charged(event) => vec![event.into()],
                ChargeOutcome::Declined(event) => vec![event.into()],
                ChargeOutcome::AlreadyCharged => Vec::new(),
            }),
            AccountCommand::Refund { account, purchase } => Ok(match self.decide_refund(account, purchase, now)? {
                RefundOutcome::Refunded(event) => vec![event.into()],
                RefundOutcome::AlreadyRefunded => Vec::new(),
            }),
        }
    }

    /// Folds an event of this account's stream; events of other streams are ignored
    /// (but still counted, so `version` always equals the stream length).
    fn apply(&mut self, event: &LicensingEvent) {
        self.version += 1;
        match event {
            LicensingEvent::AccountOpened(e) => {
                self.id = Some(e.account.clone());
                self.expires_at = e.expires_at;
            }
            LicensingEvent::AccountLinked(e) => self.group = Some(e.group.clone()),
            LicensingEvent::CardLoaded(e) => {
                self.loaded = saturating_add(self.loaded, e.amount);
                self.balance = saturating_add(self.balance, e.amount);
            }
            LicensingEvent::Charged(e) => {
                self.charged = saturating_add(self.charged, e.amount);
                self.balance = saturating_sub(self.balance, e.amount);
                let record = ChargeRecord { amount: e.amount, content: e.content.clone(), card: e.card.clone() };
                self.charges.insert(e.purchase.clone(), record);
            }
            LicensingEvent::ChargeDeclined(_) => self.declines += 1,
            LicensingEvent::Refunded(e) => {
                self.refunded = saturating_add(self.refunded, e.amount);
                self.balance = saturating_add(self.balance, e.amount);
                self.refunds.insert(e.purchase.clone());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DeviceId;
    use proptest::prelude::*;

    fn acc() -> AccountId {
        AccountId::new("a1").unwrap()
    }
    fn pid(s: &str) -> PurchaseId {
        PurchaseId::new(s).unwrap()
    }
    fn charge(purchase: &str, amount: u64) -> ChargeRequest {
        ChargeRequest {
            account: acc(),
            purchase: pid(purchase),
            content: ContentId::new("m1").unwrap(),
            card: CardId::new("c1").unwrap(),
            station: Station::kiosk(DeviceId::new("k1").unwrap()),
            amount: Money(amount),
        }
    }
    fn run(account: &mut Account, command: &AccountCommand, now: Timestamp) -> Result<Vec<LicensingEvent>, AccountError> {
        let events = account.decide(command, now)?;
        for e in &events {
            account.apply(e);
        }
        Ok(events)
    }
    fn opened(balance: u64, expires_at: Option<Timestamp>) -> Account {
        let mut a = Account::default();
        run(&mut a, &AccountCommand::Open { account: acc(), expires_at, initial: Money(balance) }, Timestamp(0)).unwrap();
        a
    }

    #[test]
    fn rule_buy_3_charge_succeeds_when_balance_covers_price() {
        let a = opened(100, None);
        let outcome = a.decide_charge(&charge("p1", 60), Timestamp(1)).unwrap();
        assert!(matches!(outcome, ChargeOutcome::Charged(Charged { balance_after: Money(40), .. })));
    }

    #[test]
    fn rule_buy_3_exact_balance_may_be_spent() {
        let a = opened(100, None);
        let outcome = a.decide_charge(&charge("p1", 100), Timestamp(1)).unwrap();
        assert!(matches!(outcome, ChargeOutcome::Charged(Charged { balance_after: Money(0), .. })));
    }

    #[test]
    fn rule_buy_3_charge_refused_when_balance_too_low() {
        let a = opened(99, None);
        let outcome = a.decide_charge(&charge("p1", 100), Timestamp(1)).unwrap();
        assert!(matches!(outcome, ChargeOutcome::Declined(ChargeDeclined { reason: DeclineReason::InsufficientFunds, balance: Money(99), .. })));
    }

    #[test]
    fn rule_buy_6_charge_refused_when_account_expired() {
        let a = opened(500, Some(Timestamp(10)));
        assert!(matches!(a.decide_charge(&charge("p1", 1), Timestamp(9)).unwrap(), ChargeOutcome::Charged(_)));
        let outcome = a.decide_charge(&charge("p1", 1), Timestamp(10)).unwrap();
        assert!(matches!(outcome, ChargeOutcome::Declined(ChargeDeclined { reason: DeclineReason::AccountExpired, .. })));
    }

    #[test]
    fn rule_buy_7_same_purchase_id_is_never_charged_twice() {
        let mut a = opened(100, None);
        let first = run(&mut a, &AccountCommand::Charge(charge("p1", 30)), Timestamp(1)).unwrap();
        assert_eq!(first.len(), 1);
        let again = run(&mut a, &AccountCommand::Charge(charge("p1", 30)), Timestamp(2)).unwrap();
        assert!(again.is_empty());
        assert_eq!(a.balance, Money(70));
        let conflicting = a.decide_charge(&charge("p1", 31), Timestamp(3));
        assert_eq!(conflicting, Err(ChargeError::PurchaseIdConflict { account: acc(), purchase: pid("p1") }));
    }

    #[test]
    fn a_declined_purchase_may_be_retried_after_loading() {
        let mut a = opened(10, None);
        let declined = run(&mut a, &AccountCommand::Charge(charge("p1", 30)), Timestamp(1)).unwrap();
        assert!(matches!(declined[..], [LicensingEvent::ChargeDeclined(_)]));
        run(&mut a, &AccountCommand::Load { account: acc(), amount: Money(20) }, Timestamp(2)).unwrap();
        let charged = run(&mut a, &AccountCommand::Charge(charge("p1", 30)), Timestamp(3)).unwrap();
        assert!(matches!(charged[..], [LicensingEvent::Charged(_)]));
        assert_eq!((a.balance, a.declines), (Money(0), 1));
    }

    #[test]
    fn zero_and_overflowing_amounts_are_errors_that_write_nothing() {
        let a = opened(u64::MAX - 1, None);
        assert_eq!(a.decide_load(&acc(), Money(0), Timestamp(1)), Err(LoadError::ZeroAmount { account: acc() }));
        assert_eq!(a.decide_load(&acc(), Money(2), Timestamp(1)), Err(LoadError::Overflow { account: acc(), balance: Money(u64::MAX - 1), amount: Money(2) }));
        assert_eq!(a.decide_charge(&charge("p1", 0), Timestamp(1)), Err(ChargeError::ZeroAmount { account: acc(), purchase: pid("p1") }));
    }

    #[test]
    fn unopened_or_other_accounts_are_errors() {
        let a = Account::default();
        assert_eq!(a.decide_load(&acc(), Money(1), Timestamp(1)), Err(LoadError::NotOpen { account: acc() }));
        let b = opened(5, None);
        let other = AccountId::new("a2").unwrap();
        assert_eq!(b.decide_load(&other, Money(1), Timestamp(1)), Err(LoadError::NotOpen { account: other }));
        assert!(matches!(b.decide_open(&acc(), None, Money(0), Timestamp(1)), Err(OpenAccountError::AlreadyOpen { .. })));
    }

    #[test]
    fn expired_account_takes_no_money_and_past_expiry_cannot_open() {
        let a = opened(5, Some(Timestamp(10)));
        assert!(matches!(a.decide_load(&acc(), Money(1), Timestamp(10)), Err(LoadError::AccountExpired { .. })));
        let fresh = Account::default();
        assert!(matches!(fresh.decide_open(&acc(), Some(Timestamp(5)), Money(0), Timestamp(5)), Err(OpenAccountError::ExpiryNotInFuture { .. })));
    }

    #[test]
    fn refund_pays_back_once_and_only_charged_purchases() {
        let mut a = opened(100, None);
        run(&mut a, &AccountCommand::Charge(charge("p1", 30)), Timestamp(1)).unwrap();
        let refund = AccountCommand::Refund { account: acc(), purchase: pid("p1") };
        assert_eq!(run(&mut a, &refund, Timestamp(2)).unwrap().len(), 1);
        assert!(run(&mut a, &refund, Timestamp(3)).unwrap().is_empty());
        assert_eq!(a.balance, Money(100));
        assert_eq!(a.decide_refund(&acc(), &pid("p9"), Timestamp(4)), Err(RefundError::NotCharged { account: acc(), purchase: pid("p9") }));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Load(u64),
        Charge(u8, u64),
        Refund(u8),
        Tick,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            prop_oneof![0u64..1000, Just(u64::MAX), Just(u64::MAX / 2)].prop_map(Op::Load),
            (0u8..6, prop_oneof![0u64..1500, Just(u64::MAX)]).prop_map(|(p, a)| Op::Charge(p, a)),
            (0u8..6).prop_map(Op::Refund),
            Just(Op::Tick),
        ]
    }

    proptest! {
        #[test]
        fn invariant_loaded_minus_charged_plus_refunded_is_the_balance(
            initial in 0u64..2000,
            expiry in prop::option::of(1i64..40),
            ops in prop::collection::vec(op(), 0..60),
        ) {
            let mut state = Account::default();
            let mut log: Vec<LicensingEvent> = Vec::new();
            let mut now = Timestamp(0);
            let open = AccountCommand::Open { account: acc(), expires_at: expiry.map(Timestamp), initial: Money(initial) };
            log.extend(run(&mut state, &open, now).unwrap());
            for op in ops {
                now = Timestamp(now.0 + 1);
                let command = match op {
                    Op::Load(amount) => AccountCommand::Load { account: acc(), amount: Money(amount) },
                    Op::Charge(p, amount) => AccountCommand::Charge(charge(&format!("p{p}"), amount)),
                    Op::Refund(p) => AccountCommand::Refund { account: acc(), purchase: pid(&format!("p{p}")) },
                    Op::Tick => continue,
                };
                if let Ok(events) = run(&mut state, &command, now) {
                    log.extend(events);
                }
                // Recompute from the events alone, with wide integers.
                let (mut loaded, mut charged, mut refunded) = (0i128, 0i128, 0i128);
                let mut charged_ids = std::collections::BTreeSet::new();
                for e in &log {
                    match e {
                        LicensingEvent::CardLoaded(e) => { loaded += i128::from(e.amount.0); prop_assert_eq!(i128::from(e.balance_after.0), loaded - charged + refunded); }
                        LicensingEvent::Charged(e) => {
                            prop_assert!(charged_ids.insert(e.purchase.clone()), "purchase charged twice");
                            charged += i128::from(e.amount.0);
                            prop_assert_eq!(i128::from(e.balance_after.0), loaded - charged + refunded);
                        }
                        LicensingEvent::Refunded(e) => { refunded += i128::from(e.amount.0); prop_assert_eq!(i128::from(e.balance_after.0), loaded - charged + refunded); }
                        _ => {}
                    }
                    prop_assert!(loaded - charged + refunded >= 0);
                }
                prop_assert_eq!(i128::from(state.balance.0), loaded - charged + refunded);
                prop_assert_eq!((i128::from(state.loaded.0), i128::from(state.charged.0), i128::from(state.refunded.0)), (loaded, charged, refunded));
                prop_assert_eq!(&Account::replay(&log), &state);
                prop_assert_eq!(state.version, log.len() as u64);
            }
        }
    }
}
