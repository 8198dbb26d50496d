//! Challenges a server hands out for a carried card to answer (000 rule 1
//! across a network).
//!
//! A station asks the server for a [`ChallengeTicket`] (a random nonce from
//! the shell, and an expiry); the challenge the card must answer is a keyed
//! blake3 of the ticket, the card id and the station, under a key only the
//! server holds ([`IssuerSecret::challenge_key`]). So a station cannot choose
//! a challenge, replay an answer made for another card or station, or keep an
//! answer past the ticket's expiry; the server keeps no table of tickets.
//!
//! Pure: the nonce and `now` come from outside.

use crate::ids::CardId;
use crate::time::Timestamp;

use super::crypto::{CardProof, Challenge, ChipResponse, IssuerSecret};
use super::events::Station;

const CHALLENGE_KEY_CONTEXT: &str = "encore card challenge key v1";
const TICKET_DOMAIN: &[u8] = b"encore challenge ticket v1";

/// How long a ticket may be answered: long enough for a customer at a slow
/// kiosk, short enough that a captured answer is soon worthless.
pub const TICKET_LIFETIME_MICROS: i64 = 120 * 1_000_000;

/// What the server hands a station: a nonce and the instant it stops being accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeTicket {
    pub nonce: [u8; 16],
    pub expires_at: Timestamp,
}

/// A card's answer to a ticket, as a station sends it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketAnswer {
    pub ticket: ChallengeTicket,
    pub response: ChipResponse,
}

impl ChallengeTicket {
    /// The ticket's wire form: nonce (16) then expiry (8, big endian).
    pub fn to_bytes(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..16].copy_from_slice(&self.nonce);
        out[16..].copy_from_slice(&self.expires_at.micros().to_be_bytes());
        out
    }

    pub fn from_bytes(bytes: [u8; 24]) -> Self {
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(&bytes[..16]);
        let mut micros = [0u8; 8];
        micros.copy_from_slice(&bytes[16..]);
        ChallengeTicket { nonce, expires_at: Timestamp(i64::from_be_bytes(micros)) }
    }
}

/// The key challenges are derived under. Held by the server only.
pub struct ChallengeKey([u8; 32]);

impl std::fmt::Debug for ChallengeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChallengeKey(<redacted>)")
    }
}

/// Why an answered ticket is not accepted (a request error: nothing is written).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TicketError {
    #[error("the challenge expired at {expires_at} (now {now}); ask for a new one")]
    Expired { expires_at: Timestamp, now: Timestamp },
    #[error("the challenge claims to expire at {expires_at}, later than any ticket issued at {now} could")]
    NotIssuedHere { expires_at: Timestamp, now: Timestamp },
}

impl IssuerSecret {
    /// The server's challenge key, derived from the issuer secret under its own context.
    pub fn challenge_key(&self) -> ChallengeKey {
        let mut hasher = blake3::Hasher::new_derive_key(CHALLENGE_KEY_CONTEXT);
        hasher.update(self.expose_secret());
        ChallengeKey(*hasher.finalize().as_bytes())
    }
}

impl ChallengeTicket {
    /// A ticket issued at `now` with the shell's random `nonce`.
    pub fn issue(nonce: [u8; 16], now: Timestamp) -> Self {
        ChallengeTicket { nonce, expires_at: Timestamp(now.micros().saturating_add(TICKET_LIFETIME_MICROS)) }
    }

    /// Still answerable at `now`, and not claiming a lifetime longer than any issued one.
    pub fn check(&self, now: Timestamp) -> Result<(), TicketError> {
        if now >= self.expires_at {
            return Err(TicketError::Expired { expires_at: self.expires_at, now });
        }
        if self.expires_at.micros() > now.micros().saturating_add(TICKET_LIFETIME_MICROS) {
            return Err(TicketError::NotIssuedHere { expires_at: self.expires_at, now });
        }
        Ok(())
    }
}

impl ChallengeKey {
    /// The challenge card `card` must answer for `station` on `ticket`.
    pub fn challenge(&self, ticket: &ChallengeTicket, card: &CardId, station: &Station) -> Challenge {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(TICKET_DOMAIN);
        hasher.update(&ticket.nonce);
        hasher.update(&ticket.expires_at.micros().to_be_bytes());
        for part in [card.as_str(), &station.to_string()] {
            hasher.update(&(part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        Challenge(*hasher.finalize().as_bytes())
    }

    /// The proof an answer makes, once its ticket is checked at `now`.
    pub fn proof_of(&self, answer: &TicketAnswer, card: &CardId, station: &Station, now: Timestamp) -> Result<CardProof, TicketError> {
        self.proof(&answer.ticket, card, station, answer.response, now)
    }

    /// The proof a card's `response` to `ticket` makes, once the ticket is checked at `now`.
    pub fn proof(&self, ticket: &ChallengeTicket, card: &CardId, station: &Station, response: ChipResponse, now: Timestamp) -> Result<CardProof, TicketError> {
        ticket.check(now)?;
        Ok(CardProof { challenge: self.challenge(ticket, card, station), response })
    }
}

impl Drop for ChallengeKey {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DeviceId;
    use crate::licensing::crypto::{verify_card, CardChip};

    fn issuer() -> IssuerSecret {
        IssuerSecret::from_bytes([3; 32])
    }
    fn c1() -> CardId {
        CardId::new("c1").unwrap()
    }
    fn k1() -> Station {
        Station::kiosk(DeviceId::new("k1").unwrap())
    }

    #[test]
    fn a_genuine_answer_to_a_fresh_ticket_verifies() {
        let key = issuer().challenge_key();
        let ticket = ChallengeTicket::issue([9; 16], Timestamp(1_000));
        let chip = CardChip::issue(&issuer(), c1());
        let response = chip.respond(&key.challenge(&ticket, &c1(), &k1()));
        let proof = key.proof(&ticket, &c1(), &k1(), response, Timestamp(2_000)).unwrap();
        assert!(verify_card(&issuer(), &c1(), &proof).is_some());
    }

    #[test]
    fn an_answer_made_for_another_station_or_card_does_not_verify() {
        let key = issuer().challenge_key();
        let ticket = ChallengeTicket::issue([9; 16], Timestamp(1_000));
        let chip = CardChip::issue(&issuer(), c1());
        let response = chip.respond(&key.challenge(&ticket, &c1(), &k1()));
        let k2 = Station::kiosk(DeviceId::new("k2").unwrap());
        let proof = key.proof(&ticket, &c1(), &k2, response, Timestamp(2_000)).unwrap();
        assert!(verify_card(&issuer(), &c1(), &proof).is_none());
        let other = ChallengeTicket { nonce: [8; 16], ..ticket };
        let proof = key.proof(&other, &c1(), &k1(), response, Timestamp(2_000)).unwrap();
        assert!(verify_card(&issuer(), &c1(), &proof).is_none());
    }

    #[test]
    fn a_ticket_survives_its_wire_form() {
        let ticket = ChallengeTicket::issue([1; 16], Timestamp(-5));
        assert_eq!(ChallengeTicket::from_bytes(ticket.to_bytes()), ticket);
    }

    #[test]
    fn expired_and_overlong_tickets_are_refused() {
        let key = issuer().challenge_key();
        let ticket = ChallengeTicket::issue([9; 16], Timestamp(0));
        let response = ChipResponse([0; 32]);
        let late = Timestamp(TICKET_LIFETIME_MICROS);
        assert_eq!(key.proof(&ticket, &c1(), &k1(), response, late).err(), Some(TicketError::Expired { expires_at: ticket.expires_at, now: late }));
        let forged = ChallengeTicket { nonce: [9; 16], expires_at: Timestamp(TICKET_LIFETIME_MICROS * 10) };
        assert!(matches!(forged.check(Timestamp(1)), Err(TicketError::NotIssuedHere { .. })));
    }
}
