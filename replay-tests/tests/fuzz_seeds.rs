//! The fuzzers' seed corpora (`fuzz/seeds/<target>/`, see fuzz/Cargo.toml) are
//! real inputs: every seed is accepted by today's decoder, so a format change
//! that strands them fails here, not silently in a fuzz run that never gets
//! past the first check. `ENCORE_WRITE_FUZZ_SEEDS=1` rewrites them from a
//! scenario run (records, payloads, actor snapshots and an export of its log)
//! and a personalised card. The scenario target's seeds are the scenarios.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use encore_card::CardFile;
use encore_domain::ids::{AccountId, CardId, ContentId};
use encore_domain::licensing::DeviceKey;
use encore_domain::{Event, EventCodec};
use encore_ledger::export::{check_export, ExportWriter};
use encore_ledger::{Ledger, LedgerOptions, Record};
use encore_replay_tests::{run_script_in, Script};
use encore_snapshots::{ActorState, Snapshot};

const SCENARIO: &str = "scenarios/stories/the_home_studio.scn";

fn seeds(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds").join(target)
}

/// Real inputs for each target, from one scenario's log.
fn generate() -> BTreeMap<&'static str, Vec<Vec<u8>>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SCENARIO);
    let script = Script::parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    run_script_in(&script, &dir.path().join("log")).unwrap();
    let log = Ledger::open(dir.path().join("log"), LedgerOptions::default()).unwrap();
    let records: Vec<Record> = log.scan(1).map(|r| r.unwrap()).collect();
    let mut out: BTreeMap<&'static str, Vec<Vec<u8>>> = BTreeMap::new();
    let mut types = std::collections::BTreeSet::new();
    for r in records.iter().filter(|r| types.insert(r.event_type.clone())) {
        out.entry("record").or_default().push(r.encode());
        let mut payload = r.event_type.clone().into_bytes();
        payload.push(0);
        payload.extend_from_slice(&r.payload);
        out.entry("payload").or_default().push(payload);
    }
    let mut states: BTreeMap<String, (ActorState, &Record)> = BTreeMap::new();
    for r in &records {
        let Some(fresh) = ActorState::for_stream(r.stream.as_str()) else { continue };
        let entry = states.entry(r.stream.to_string()).or_insert((fresh, r));
        entry.0.fold(r).unwrap();
        entry.1 = r;
    }
    let mut kinds = std::collections::BTreeSet::new();
    for (stream, (state, last)) in states.iter().filter(|(_, (s, _))| kinds.insert(s.kind())) {
        let snapshot = Snapshot::new(state.kind(), stream, state.version(), last.position, last.hash, state.encode_state());
        out.entry("snapshot").or_default().push(snapshot.encode());
    }
    for (from, to) in [(1, 1), (1, records.len().min(40)), (2, 6)] {
        let prev = if from == 1 { [0; 32] } else { records[from - 2].hash };
        let mut writer = ExportWriter::new(from as u64, prev);
        records[from - 1..to].iter().for_each(|r| writer.push(r).unwrap());
        let head = log.head();
        out.entry("export").or_default().push(writer.finish(head.position, head.hash).unwrap().1);
    }
    let key = DeviceKey::from_bytes([7; 32]);
    let mut card = CardFile::personalise(CardId::new("card-1").unwrap(), AccountId::new("acct-1").unwrap(), None, key);
    out.entry("card").or_default().push(card.to_bytes().unwrap());
    card.record_wanted(ContentId::new("song").unwrap());
    out.entry("card").or_default().push(card.to_bytes().unwrap());
    out
}

/// Why the decoder of `target` refuses `bytes`, if it does.
fn refusal(target: &str, bytes: &[u8]) -> Option<String> {
    match target {
        "record" => Record::decode(bytes).err().map(|e| e.to_string()),
        "payload" => {
            let zero = bytes.iter().position(|&b| b == 0)?;
            let name = std::str::from_utf8(&bytes[..zero]).ok()?;
            Event::decode_payload(name, &bytes[zero + 1..]).err().map(|e| e.to_string())
        }
        "snapshot" => match Snapshot::decode(bytes) {
            Err(e) => Some(e),
            Ok(s) if !s.state_is_intact() => Some("state hash".into()),
            Ok(s) => match ActorState::decode_kind(&s.kind, &s.state) {
                Some(Ok(_)) => None,
                Some(Err(e)) => Some(e),
                None => Some(format!("kind {}", s.kind)),
            },
        },
        "export" => check_export(bytes, &mut |_| {}).err().map(|e| e.to_string()),
        "card" => CardFile::from_bytes(bytes).err().map(|e| e.to_string()),
        other => Some(format!("no decoder for target {other}")),
    }
}

#[test]
fn every_seed_is_accepted_by_its_decoder() {
    if std::env::var_os("ENCORE_WRITE_FUZZ_SEEDS").is_some() {
        for (target, inputs) in generate() {
            let dir = seeds(target);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for bytes in inputs {
                std::fs::write(dir.join(blake3::hash(&bytes).to_hex().as_str()), bytes).unwrap();
            }
        }
    }
    for target in ["record", "payload", "snapshot", "export", "card"] {
        let files: Vec<_> = std::fs::read_dir(seeds(target)).unwrap().map(|e| e.unwrap().path()).collect();
        assert!(files.len() >= 2, "{target}: {} seeds", files.len());
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            assert_eq!(refusal(target, &bytes), None, "{} is refused", file.display());
        }
    }
}

/// The generated seeds are what a run writes today: the decoders accept
/// inputs made by today's encoders, not only the committed ones.
#[test]
fn freshly_generated_seeds_are_accepted_too() {
    for (target, inputs) in generate() {
        for bytes in inputs {
            assert_eq!(refusal(target, &bytes), None, "a fresh {target} seed");
        }
    }
}
