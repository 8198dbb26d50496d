//! The event payload decoder (`encore_domain::Event::decode_payload`): the
//! input is an event type name, a zero byte, then the CBOR payload. An event
//! that decodes encodes to a payload that decodes to the same event, under
//! the same type name.
#![no_main]

use encore_domain::{Event, EventCodec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(zero) = data.iter().position(|&b| b == 0) else { return };
    let Ok(event_type) = std::str::from_utf8(&data[..zero]) else { return };
    let Ok(event) = Event::decode_payload(event_type, &data[zero + 1..]) else { return };
    assert_eq!(event.event_type(), event_type, "an event decodes under its own type name");
    let again = Event::decode_payload(event_type, &event.encode_payload());
    assert_eq!(again.as_ref(), Ok(&event), "a decoded event round-trips");
});
