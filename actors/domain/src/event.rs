//! Every event Encore writes, as one type: what projections, audits and
//! scenario transcripts decode from the log without knowing which actor
//! wrote it. Type names are unique across the two halves of the domain.

use crate::codec::{DecodeError, EventCodec};
use crate::groups::GroupEvent;
use crate::licensing::LicensingEvent;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Licensing(LicensingEvent),
    Groups(GroupEvent),
}

impl EventCodec for Event {
    fn event_type(&self) -> &'static str {
        match self {
            Event::Licensing(e) => e.event_type(),
            Event::Groups(e) => e.event_type(),
        }
    }

    fn encode_payload(&self) -> Vec<u8> {
        match self {
            Event::Licensing(e) => e.encode_payload(),
            Event::Groups(e) => e.encode_payload(),
        }
    }

    fn decode_payload(event_type: &str, payload: &[u8]) -> Result<Self, DecodeError> {
        if LicensingEvent::TYPE_NAMES.contains(&event_type) {
            LicensingEvent::decode_payload(event_type, payload).map(Event::Licensing)
        } else if GroupEvent::TYPE_NAMES.contains(&event_type) {
            GroupEvent::decode_payload(event_type, payload).map(Event::Groups)
        } else {
            Err(DecodeError::UnknownType { event_type: event_type.to_string() })
        }
    }
}

impl Event {
    /// Whether `event_type` is the name of a domain event.
    pub fn is_type_name(event_type: &str) -> bool {
        LicensingEvent::TYPE_NAMES.contains(&event_type) || GroupEvent::TYPE_NAMES.contains(&event_type)
    }
}

impl From<LicensingEvent> for Event {
    fn from(e: LicensingEvent) -> Self {
        Event::Licensing(e)
    }
}

impl From<GroupEvent> for Event {
    fn from(e: GroupEvent) -> Self {
        Event::Groups(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_unique_across_the_domain() {
        for name in LicensingEvent::TYPE_NAMES {
            assert!(!GroupEvent::TYPE_NAMES.contains(name), "{name} is both a licensing and a group event");
        }
    }

    #[test]
    fn the_five_names_of_the_card_are_written_exactly() {
        for name in ["LicenseIssued", "UseDecremented", "Charged"] {
            assert!(LicensingEvent::TYPE_NAMES.contains(&name), "{name}");
        }
        for name in ["FavoriteRecorded", "ReliabilityBumped"] {
            assert!(GroupEvent::TYPE_NAMES.contains(&name), "{name}");
        }
    }

    /// The samples the other crates' tests rely on: one of every type, each
    /// round-tripping through the log codec under its own name.
    #[test]
    fn the_samples_cover_every_type_and_round_trip() {
        let samples = crate::samples::every_event();
        let names: Vec<&str> = samples.iter().map(|e| e.event_type()).collect();
        assert_eq!(names, [LicensingEvent::TYPE_NAMES, GroupEvent::TYPE_NAMES].concat());
        for event in samples {
            assert!(Event::is_type_name(event.event_type()));
            let back = Event::decode_payload(event.event_type(), &event.encode_payload()).unwrap();
            assert_eq!(back, event);
        }
        assert!(!Event::is_type_name("Nope"));
    }

    #[test]
    fn unknown_types_are_named() {
        assert_eq!(Event::decode_payload("Nope", &[]), Err(DecodeError::UnknownType { event_type: "Nope".into() }));
    }
}
