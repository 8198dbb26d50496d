//! The auxiliary keyspace: durable puts, prefix scans both ways, range deletes.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[test]
fn reverse_prefix_scans_see_only_the_prefix_newest_first_and_range_deletes_remove_a_span() {
    let (_dir, log) = temp_ledger();
    let keys: [&[u8]; 7] = [b"o/9", b"p", b"p/1", b"p/2", b"p/3", b"p0", b"q"];
    let entries: Vec<(&[u8], &[u8])> = keys.iter().map(|k| (*k, *k)).collect();
    log.put_aux(&entries).unwrap();
    let rev = |prefix: &[u8]| {
        let mut seen = Vec::new();
        let found: Option<()> = log
            .find_aux_rev(prefix, |k, v| {
                assert_eq!(k, v);
                seen.push(k.to_vec());
                None
            })
            .unwrap();
        assert!(found.is_none());
        seen
    };
    assert_eq!(rev(b"p/"), vec![b"p/3".to_vec(), b"p/2".to_vec(), b"p/1".to_vec()]);
    assert_eq!(rev(b"p/"), log.scan_aux(b"p/").unwrap().into_iter().rev().map(|e| e.0).collect::<Vec<_>>());
    assert!(rev(b"r").is_empty());
    assert_eq!(rev(b"").len(), keys.len());
    // The search stops at the first entry the visitor takes.
    let mut visited = 0;
    let second = log.find_aux_rev(b"p/", |k, _| {
        visited += 1;
        (visited == 2).then(|| k.to_vec())
    });
    assert_eq!((second.unwrap(), visited), (Some(b"p/2".to_vec()), 2));

    log.delete_aux_range(b"p/", b"p/3").unwrap();
    assert_eq!(rev(b"p/"), vec![b"p/3".to_vec()]);
    assert_eq!(log.get_aux(b"p0").unwrap(), Some(b"p0".to_vec()), "keys outside the range stay");
    assert_eq!(log.get_aux(b"p").unwrap(), Some(b"p".to_vec()));
}
