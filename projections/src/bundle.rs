//! All three projections folded in one pass over the log (one decode per
//! event), as a kiosk or an audit keeps them.

use encore_domain::Event;
use minicbor::{Decode, Encode};

use crate::balances::Balances;
use crate::charisma::CharismaRankings;
use crate::error::StateDecodeError;
use crate::projection::{decode_state, encode_state, encodes_to, EventContext, Projection};
use crate::usage::UsageHistory;

#[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode)]
pub struct AllProjections {
    #[n(0)]
    pub balances: Balances,
    #[n(1)]
    pub usage: UsageHistory,
    #[n(2)]
    pub charisma: CharismaRankings,
}

impl Projection for AllProjections {
    const NAME: &'static str = "all";

    fn folds(event_type: &str) -> bool {
        Balances::folds(event_type) || UsageHistory::folds(event_type) || CharismaRankings::folds(event_type)
    }

    fn apply(&mut self, at: &EventContext<'_>, event: &Event) {
        self.balances.apply(at, event);
        self.usage.apply(at, event);
        self.charisma.apply(at, event);
    }

    fn encode(&self) -> Vec<u8> {
        encode_state(self)
    }

    fn encodes_to(&self, bytes: &[u8]) -> bool {
        encodes_to(self, bytes)
    }

    fn decode(bytes: &[u8]) -> Result<Self, StateDecodeError> {
        let all: AllProjections = decode_state(Self::NAME, bytes)?;
        // The checks each part's own decode runs beyond the encoding.
        all.usage.check()?;
        Ok(all)
    }
}
