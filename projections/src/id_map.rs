//! `IdMap`: the per-id tables of the projections (accounts, in balances and
//! usage history). Folding looks an id up on almost every event, so lookups
//! go through a hash index (one hash and one key comparison instead of a
//! string comparison per level of a tree); the encoding stays the canonical
//! one of a sorted map, so equal states still give equal bytes.
//!
//! Entries are kept in the order they were inserted (log order while
//! folding, key order after a decode). Only [`IdMap::values_unordered`]
//! (sums and checks) sees that order; everything that lists entries lists
//! them in key order.

use std::hash::Hash;

use indexmap::IndexMap;
use minicbor::decode::Error;
use minicbor::{Decode, Decoder, Encode, Encoder};

/// The hasher of the index: fast on short ids, seeded per map, so the cost
/// of a lookup does not depend on ids an outsider could choose to collide.
type Hasher = foldhash::fast::RandomState;

#[derive(Debug, Clone)]
pub(crate) struct IdMap<K, V> {
    entries: IndexMap<K, V, Hasher>,
}

impl<K, V> Default for IdMap<K, V> {
    fn default() -> Self {
        IdMap { entries: IndexMap::with_hasher(Hasher::default()) }
    }
}

impl<K: Hash + Eq + Ord, V> IdMap<K, V> {
    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    /// The entry for `key`, inserted as `V::default()` if missing.
    pub(crate) fn entry_or_default(&mut self, key: &K) -> &mut V
    where
        K: Clone,
        V: Default,
    {
        // Looked up before inserting, so the key is cloned only once per id.
        match self.entries.get_index_of(key) {
            Some(i) => &mut self.entries[i],
            None => self.entries.entry(key.clone()).or_default(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry in key order (sorted here unless the entries already are
    /// in key order, as after a decode).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        let keys = || self.entries.keys();
        let in_order = keys().zip(keys().skip(1)).all(|(a, b)| a < b);
        let sorted = (!in_order).then(|| {
            let mut order: Vec<usize> = (0..self.entries.len()).collect();
            order.sort_unstable_by(|&a, &b| self.key(a).cmp(&self.key(b)));
            order
        });
        let direct = in_order.then(|| self.entries.iter()).into_iter().flatten();
        direct.chain(sorted.into_iter().flatten().filter_map(|i| self.entries.get_index(i)))
    }

    /// Every value, in no particular order (for sums and checks only).
    pub(crate) fn values_unordered(&self) -> impl Iterator<Item = &V> + '_ {
        self.entries.values()
    }

    fn key(&self, i: usize) -> Option<&K> {
        self.entries.get_index(i).map(|(k, _)| k)
    }
}

/// Maps are equal when they hold the same entries, whatever their order.
impl<K: Hash + Eq, V: PartialEq> PartialEq for IdMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl<K: Hash + Eq, V: Eq> Eq for IdMap<K, V> {}

/// CBOR: a definite-length map, keys in increasing order, as a `BTreeMap`
/// encodes (the format did not change when the tables became `IdMap`s).
impl<Ctx, K: Encode<Ctx> + Hash + Eq + Ord, V: Encode<Ctx>> Encode<Ctx> for IdMap<K, V> {
    fn encode<W: minicbor::encode::Write>(&self, e: &mut Encoder<W>, ctx: &mut Ctx) -> Result<(), minicbor::encode::Error<W::Error>> {
        e.map(self.entries.len() as u64)?;
        for (key, value) in self.iter() {
            key.encode(e, ctx)?;
            value.encode(e, ctx)?;
        }
        Ok(())
    }
}

/// Decoding refuses keys out of order or repeated, so only the canonical
/// encoding of a state is accepted.
impl<'b, Ctx, K: Decode<'b, Ctx> + Hash + Eq + Ord, V: Decode<'b, Ctx>> Decode<'b, Ctx> for IdMap<K, V> {
    fn decode(d: &mut Decoder<'b>, ctx: &mut Ctx) -> Result<Self, Error> {
        let len = d.map()?.ok_or_else(|| Error::message("a canonical map has a definite length"))?;
        // The length is untrusted input: reserve no more than the bytes left could hold.
        let mut entries = IndexMap::with_capacity_and_hasher((len as usize).min(d.input().len() - d.position()), Hasher::default());
        for _ in 0..len {
            let key = K::decode(d, ctx)?;
            if entries.last().is_some_and(|(last, _)| *last >= key) {
                return Err(Error::message("map keys are not in increasing order"));
            }
            let value = V::decode(d, ctx)?;
            entries.insert(key, value);
        }
        Ok(IdMap { entries })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::projection::encode_state;

    proptest! {
        /// Against a `BTreeMap` model: the same lookups, the same entries in
        /// key order, the same bytes, whatever the insertion order.
        #[test]
        fn behaves_and_encodes_as_a_sorted_map(ops in proptest::collection::vec(("[a-d]{1,3}", 0u32..100), 0..60)) {
            let mut map = IdMap::<String, u32>::default();
            let mut model = BTreeMap::<String, u32>::new();
            for (key, add) in &ops {
                *map.entry_or_default(key) += add;
                *model.entry(key.clone()).or_default() += add;
                prop_assert_eq!(map.get(key), model.get(key));
            }
            prop_assert_eq!(map.len(), model.len());
            prop_assert_eq!(map.iter().collect::<Vec<_>>(), model.iter().collect::<Vec<_>>());
            let bytes = encode_state(&map);
            prop_assert_eq!(&bytes, &encode_state(&model));
            let decoded: IdMap<String, u32> = minicbor::decode(&bytes).unwrap();
            prop_assert_eq!(&decoded, &map);
            prop_assert_eq!(encode_state(&decoded), bytes);
        }
    }

    /// A map's CBOR with these entries, in this order (or an indefinite one).
    fn map_bytes(len: Option<u64>, entries: &[(&str, u32)]) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        match len {
            Some(len) => e.map(len).unwrap(),
            None => e.begin_map().unwrap(),
        };
        for (key, value) in entries {
            e.str(key).unwrap().u32(*value).unwrap();
        }
        e.into_writer()
    }

    #[test]
    fn decoding_refuses_keys_out_of_order_repeated_or_an_impossible_length() {
        let decode = |bytes: Vec<u8>| minicbor::decode::<IdMap<String, u32>>(&bytes);
        assert!(decode(map_bytes(Some(2), &[("a", 1), ("b", 2)])).is_ok());
        for (case, bytes) in [
            ("out of order", map_bytes(Some(2), &[("b", 2), ("a", 1)])),
            ("a repeated key", map_bytes(Some(2), &[("a", 2), ("a", 1)])),
            ("a length the input cannot hold", map_bytes(Some(u64::MAX), &[])),
            ("an indefinite length", map_bytes(None, &[("a", 1)])),
        ] {
            assert!(decode(bytes).is_err(), "{case}");
        }
    }
}
