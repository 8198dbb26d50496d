//! Opaque identifiers shared by every part of the domain.
//!
//! Each is a newtype over a validated string so a card id can never be passed
//! where an accounting id is expected. Stream names are derived here too, so
//! the actors, projections and tests agree on them.

use minicbor::{Decode, Encode};

/// Why an identifier was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdError {
    #[error("{kind} id is empty")]
    Empty { kind: &'static str },
    #[error("{kind} id {value:?} is longer than {max} bytes")]
    TooLong { kind: &'static str, value: String, max: usize },
    #[error("{kind} id {value:?} has a character outside [A-Za-z0-9._:-]")]
    BadCharacter { kind: &'static str, value: String },
    #[error("{kind} id {value:?} is malformed: {reason}")]
    Malformed { kind: &'static str, value: String, reason: &'static str },
}

pub const MAX_ID_LEN: usize = 128;

fn validate(kind: &'static str, value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { kind, value: value.chars().take(MAX_ID_LEN).collect(), max: MAX_ID_LEN });
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-')) {
        return Err(IdError::BadCharacter { kind, value: value.to_string() });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
        #[cbor(transparent)]
        pub struct $name(#[n(0)] String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                validate($kind, &value)?;
                Ok($name(value))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                $name::new(s)
            }
        }
    };
}

string_id!(/// A physical card (prepaid card, license card): its unique device id (000).
    CardId, "card");
string_id!(/// An accounting id: the key of money information on the accounting server (002).
    AccountId, "accounting");
string_id!(/// A content (song, video, e-book) in the catalogue.
    ContentId, "content");
string_id!(/// A reproduction device (PD), processing device (PC) or kiosk.
    DeviceId, "device");
string_id!(/// A registered user of the group management server (003).
    UserId, "user");
string_id!(/// A purchase, chosen by the caller; retrying with the same id never charges twice.
    PurchaseId, "purchase");
string_id!(/// A recorder id: a PC with a ripping function; never reused (003 [0055]).
    RecorderId, "recorder");
string_id!(/// A terminal id: a PC registered in a group (003 [0244]).
    TerminalId, "terminal");
string_id!(/// A leaf id: assigned to a user at registration (003 [0059]).
    LeafId, "leaf");

/// A 5-digit service id; the first 2 digits are the distribution service code (003 [0400]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
#[cbor(transparent)]
pub struct ServiceId(#[n(0)] u32);

impl ServiceId {
    pub fn new(digits: &str) -> Result<Self, IdError> {
        if digits.len() != 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::Malformed { kind: "service", value: digits.to_string(), reason: "must be exactly 5 digits" });
        }
        digits.parse::<u32>().map(ServiceId).map_err(|_| IdError::Malformed { kind: "service", value: digits.to_string(), reason: "must be exactly 5 digits" })
    }
    /// The distribution service code: the first two digits.
    pub fn distribution_code(self) -> u32 {
        self.0 / 1000
    }
}

impl std::fmt::Display for ServiceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:05}", self.0)
    }
}

/// A group id = service id + leaf id, written `01234-0000A` (003 [0059], [0421]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct GroupId {
    #[n(0)]
    pub service: ServiceId,
    #[n(1)]
    pub leaf: LeafId,
}

impl GroupId {
    pub fn new(service: ServiceId, leaf: LeafId) -> Self {
        GroupId { service, leaf }
    }
    pub fn distribution_code(&self) -> u32 {
        self.service.distribution_code()
    }
}

impl std::fmt::Display for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.service, self.leaf)
    }
}

impl std::str::FromStr for GroupId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let (service, leaf) =
            s.split_once('-').ok_or(IdError::Malformed { kind: "group", value: s.to_string(), reason: "expected SERVICE-LEAF like 01234-0000A" })?;
        Ok(GroupId { service: ServiceId::new(service)?, leaf: LeafId::new(leaf)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_id_round_trips_through_its_written_form() {
        let g: GroupId = "01234-0000A".parse().unwrap();
        assert_eq!(g.to_string(), "01234-0000A");
        assert_eq!(g.distribution_code(), 1);
    }

    #[test]
    fn bad_ids_are_refused_with_the_value() {
        assert_eq!(CardId::new(""), Err(IdError::Empty { kind: "card" }));
        assert!(matches!(CardId::new("a b"), Err(IdError::BadCharacter { value, .. }) if value == "a b"));
        assert!(ServiceId::new("1234").is_err());
        assert!("0123-x".parse::<GroupId>().is_err());
    }
}
