//! The license server's catalogue, one aggregate per content (stream
//! `content-{content id}`, so listing is sharded): price, use condition and
//! the content key sealed under the license server key (002 claims 1-4).
//!
//! The command carries the key already sealed (see
//! `LicenseServerKey::seal_content_key`), so deciding needs no key at all.

use crate::aggregate::{Aggregate, Decided};
use crate::ids::ContentId;
use crate::money::Money;
use crate::time::Timestamp;

use super::crypto::SealedContentKey;
use super::events::{ContentFile, ContentListed, LicensingEvent, UseCondition};
use super::streams::content_stream;

/// The longest title a listing may carry, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// A content on sale.
#[derive(Debug, Clone, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct Listing {
    #[n(0)]
    pub content: ContentId,
    #[n(1)]
    pub price: Money,
    #[n(2)]
    pub condition: UseCondition,
    #[n(3)]
    pub sealed_key: SealedContentKey,
    #[n(4)]
    pub title: Option<String>,
    #[n(5)]
    pub file: Option<ContentFile>,
}

/// What a listing shows besides its terms: a title, and the encrypted file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListingDetails {
    pub title: Option<String>,
    pub file: Option<ContentFile>,
}

/// One content's catalogue entry, folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct CatalogueEntry {
    #[n(0)]
    version: u64,
    #[n(1)]
    pub listing: Option<Listing>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogueCommand {
    List { content: ContentId, price: Money, condition: UseCondition, sealed_key: SealedContentKey },
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListError {
    #[error("content {content} is already listed")]
    AlreadyListed { content: ContentId },
    #[error("content {content} listed at price zero (charges must be positive)")]
    ZeroPrice { content: ContentId },
    #[error("content {content} listed with zero uses")]
    ZeroUses { content: ContentId },
    #[error("content {content} listed with a validity of zero days")]
    ZeroValidDays { content: ContentId },
    #[error("content {content} listed without a sealed content key")]
    MissingKey { content: ContentId },
    #[error("content {content} listed with a title that is empty, longer than {MAX_TITLE_CHARS} characters or holds control characters: {title:?}")]
    BadTitle { content: ContentId, title: String },
}

impl CatalogueEntry {
    /// Events applied so far: the expected version of `content-{id}`.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The entry as a buyer with a member reward of `discount_bp` sees it
    /// (003 [0438]-[0440]): the list price less the discount, rounded down.
    pub fn discounted(&self, discount_bp: Option<u32>) -> CatalogueEntry {
        let mut entry = self.clone();
        if let (Some(listing), Some(bp)) = (entry.listing.as_mut(), discount_bp) {
            listing.price = crate::groups::discounted_price(listing.price, bp);
        }
        entry
    }

    pub fn decide_list(
        &self,
        content: &ContentId,
        price: Money,
        condition: UseCondition,
        sealed_key: &SealedContentKey,
        now: Timestamp,
    ) -> Result<Vec<LicensingEvent>, ListError> {
        self.decide_list_with(content, price, condition, sealed_key, &ListingDetails::default(), now)
    }

    /// Everything a listing is checked for but its key: a shell that must do
    /// costly work before it has the key (encrypting a content file) asks
    /// first, so a listing that will be refused costs nothing.
    pub fn check_listing(&self, content: &ContentId, price: Money, condition: UseCondition, details: &ListingDetails) -> Result<(), ListError> {
        let content_err = || content.clone();
        if self.listing.is_some() {
            return Err(ListError::AlreadyListed { content: content_err() });
        }
        if price.is_zero() {
            return Err(ListError::ZeroPrice { content: content_err() });
        }
        if condition.uses == 0 {
            return Err(ListError::ZeroUses { content: content_err() });
        }
        if condition.valid_days == Some(0) {
            return Err(ListError::ZeroValidDays { content: content_err() });
        }
        if let Some(title) = details.title.as_ref().filter(|t| !title_is_fit(t)) {
            return Err(ListError::BadTitle { content: content_err(), title: title.clone() });
        }
        Ok(())
    }

    /// Lists a content with a title and an encrypted file.
    pub fn decide_list_with(
        &self,
        content: &ContentId,
        price: Money,
        condition: UseCondition,
        sealed_key: &SealedContentKey,
        details: &ListingDetails,
        now: Timestamp,
    ) -> Result<Vec<LicensingEvent>, ListError> {
        self.check_listing(content, price, condition, details)?;
        if sealed_key.0.is_empty() {
            return Err(ListError::MissingKey { content: content.clone() });
        }
        let listed = ContentListed {
            content: content.clone(),
            price,
            condition,
            sealed_key: sealed_key.clone(),
            at: now,
            title: details.title.clone(),
            file: details.file,
        };
        Ok(vec![listed.into()])
    }
}

/// Lists `content` (its stream is `entry`'s) with its sealed key, title and file.
pub fn list_content(
    entry: &CatalogueEntry,
    content: &ContentId,
    price: Money,
    condition: UseCondition,
    sealed_key: &SealedContentKey,
    details: &ListingDetails,
    now: Timestamp,
) -> Result<Decided<(), LicensingEvent>, ListError> {
    let events = entry.decide_list_with(content, price, condition, sealed_key, details, now)?;
    Ok(Decided::single(content_stream(content), entry.version(), events, ()))
}

fn title_is_fit(title: &str) -> bool {
    let chars = title.chars().count();
    chars > 0 && chars <= MAX_TITLE_CHARS && !title.chars().any(char::is_control)
}

impl Aggregate for CatalogueEntry {
    type Command = CatalogueCommand;
    type Event = LicensingEvent;
    type Error = ListError;

    fn decide(&self, command: &CatalogueCommand, now: Timestamp) -> Result<Vec<LicensingEvent>, ListError> {
        match command {
            CatalogueCommand::List { content, price, condition, sealed_key } => self.decide_list(content, *price, *condition, sealed_key, now),
        }
    }

    fn apply(&mut self, event: &LicensingEvent) {
        self.version += 1;
        if let LicensingEvent::ContentListed(e) = event {
            self.listing = Some(Listing {
                content: e.content.clone(),
                price: e.price,
                condition: e.condition,
                sealed_key: e.sealed_key.clone(),
                title: e.title.clone(),
                file: e.file,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m1() -> ContentId {
        ContentId::new("m1").unwrap()
    }
    fn cond(uses: u32, valid_days: Option<u32>) -> UseCondition {
        UseCondition { uses, valid_days }
    }
    fn key() -> SealedContentKey {
        SealedContentKey(vec![1; 48])
    }

    #[test]
    fn listing_a_content_records_price_condition_and_sealed_key() {
        let entry = CatalogueEntry::default();
        let events = entry.decide_list(&m1(), Money(300), cond(3, Some(30)), &key(), Timestamp(5)).unwrap();
        let listed = CatalogueEntry::replay(&events);
        assert_eq!(listed.listing.map(|l| (l.price, l.condition)), Some((Money(300), cond(3, Some(30)))));
        assert_eq!(listed.version, 1);
    }

    #[test]
    fn duplicates_and_degenerate_listings_are_refused() {
        let entry = CatalogueEntry::default();
        let listed = CatalogueEntry::replay(&entry.decide_list(&m1(), Money(1), cond(1, None), &key(), Timestamp(0)).unwrap());
        assert_eq!(listed.decide_list(&m1(), Money(1), cond(1, None), &key(), Timestamp(1)), Err(ListError::AlreadyListed { content: m1() }));
        assert_eq!(entry.decide_list(&m1(), Money(0), cond(1, None), &key(), Timestamp(0)), Err(ListError::ZeroPrice { content: m1() }));
        assert_eq!(entry.decide_list(&m1(), Money(1), cond(0, None), &key(), Timestamp(0)), Err(ListError::ZeroUses { content: m1() }));
        assert_eq!(entry.decide_list(&m1(), Money(1), cond(1, Some(0)), &key(), Timestamp(0)), Err(ListError::ZeroValidDays { content: m1() }));
        let empty = SealedContentKey(Vec::new());
        assert_eq!(entry.decide_list(&m1(), Money(1), cond(1, None), &empty, Timestamp(0)), Err(ListError::MissingKey { content: m1() }));
    }
}
