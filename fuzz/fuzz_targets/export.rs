//! The export file parser (`encore_ledger::export`): `encore audit
//! verify-export` runs it on files of unknown origin. An accepted file has a
//! header that reads alone as the same, and a record for every position.
#![no_main]

use encore_ledger::export::{check_export, read_export_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut checked = 0u64;
    let Ok(header) = check_export(data, &mut |_| checked += 1) else { return };
    assert_eq!(read_export_header(data).as_ref(), Ok(&header));
    assert_eq!(checked, header.count, "every position of an accepted export was checked");
});
