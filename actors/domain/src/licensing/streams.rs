//! Stream names of the licensing model: one writer per stream.
//!
//! * `account-{accounting id}`: the accounting server's money information.
//! * `content-{content id}`: the license server's catalogue, one stream per
//!   content so listing is sharded.
//! * `card-{card id}`: a card's issuance and the licenses written on it.
//! * `kiosk-{device id}` / `player-{device id}`: a station's card sessions
//!   and rejected cards.

use crate::aggregate::StreamName;
use crate::ids::{AccountId, CardId, ContentId};

use super::events::{Station, StationKind};

pub fn account_stream(account: &AccountId) -> StreamName {
    format!("account-{account}")
}

pub fn content_stream(content: &ContentId) -> StreamName {
    format!("content-{content}")
}

pub fn card_stream(card: &CardId) -> StreamName {
    format!("card-{card}")
}

pub fn station_stream(station: &Station) -> StreamName {
    match station.kind {
        StationKind::Kiosk => format!("kiosk-{}", station.device),
        StationKind::Player => format!("player-{}", station.device),
    }
}
