//! The snapshot envelope (`snapshots/src/envelope.rs`) and the actor states
//! inside it. The owned and in-place decoders agree on every input; a state
//! that decodes round-trips through its encoder.
#![no_main]

use encore_snapshots::{ActorState, Snapshot, SnapshotView};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let owned = Snapshot::decode(data);
    let view = SnapshotView::decode(data);
    assert_eq!(owned.is_ok(), view.is_ok(), "the two envelope decoders agree on {data:?}");
    let (Ok(owned), Ok(view)) = (owned, view) else { return };
    assert_eq!((owned.kind.as_str(), owned.subject.as_str(), owned.version, owned.position), (view.kind, view.subject, view.version, view.position));
    assert_eq!((owned.chain_hash, owned.state_hash, owned.state.as_slice()), (view.chain_hash, view.state_hash, view.state));
    assert_eq!(owned.state_is_intact(), view.state_is_intact());
    if let Some(Ok(state)) = ActorState::decode_kind(view.kind, view.state) {
        let again = ActorState::decode_kind(view.kind, &state.encode_state());
        assert_eq!(again, Some(Ok(state)), "a decoded actor state round-trips");
    }
});
