//! A table of distinct values numbered in order of first appearance, so large
//! histories store a `u32` per reference instead of a string. The numbering
//! depends only on log order, so a rebuild numbers exactly as the live run.

use std::hash::Hash;

use indexmap::IndexSet;
use minicbor::{Decode, Encode};

/// The values in numbering order, with a hash index (lookup only: the
/// numbering is the insertion order, never the hash order).
#[derive(Debug, Clone)]
pub(crate) struct Interner<T> {
    items: IndexSet<T, foldhash::fast::RandomState>,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Interner { items: IndexSet::default() }
    }
}

impl<T: Eq + Hash + Clone> Interner<T> {
    pub(crate) fn intern(&mut self, value: &T) -> u32 {
        let i = match self.items.get_index_of(value) {
            Some(i) => i,
            None => self.items.insert_full(value.clone()).0,
        };
        u32::try_from(i).unwrap_or_else(|_| panic!("more than 2^32 distinct values interned"))
    }

    pub(crate) fn get(&self, i: u32) -> &T {
        match self.items.get_index(i as usize) {
            Some(item) => item,
            None => panic!("interned index {i} out of range ({} values)", self.items.len()),
        }
    }

    pub(crate) fn lookup(&self, value: &T) -> Option<u32> {
        self.items.get_index_of(value).map(|i| i as u32)
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}

/// Equal when the same values have the same numbers.
impl<T: Eq + Hash> PartialEq for Interner<T> {
    fn eq(&self, other: &Self) -> bool {
        self.items.len() == other.items.len() && self.items.iter().eq(other.items.iter())
    }
}

impl<T: Eq + Hash> Eq for Interner<T> {}

impl<C, T: Eq + Hash + Encode<C>> Encode<C> for Interner<T> {
    fn encode<W: minicbor::encode::Write>(&self, e: &mut minicbor::Encoder<W>, ctx: &mut C) -> Result<(), minicbor::encode::Error<W::Error>> {
        e.array(self.items.len() as u64)?;
        for item in &self.items {
            item.encode(e, ctx)?;
        }
        Ok(())
    }
}

impl<'b, C, T: Eq + Hash + Decode<'b, C>> Decode<'b, C> for Interner<T> {
    fn decode(d: &mut minicbor::Decoder<'b>, ctx: &mut C) -> Result<Self, minicbor::decode::Error> {
        let items: Vec<T> = Vec::decode(d, ctx)?;
        let mut set = IndexSet::with_capacity_and_hasher(items.len(), foldhash::fast::RandomState::default());
        for item in items {
            if !set.insert(item) {
                return Err(minicbor::decode::Error::message("interned table holds a value twice"));
            }
        }
        Ok(Interner { items: set })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::encode_state;

    #[test]
    fn numbers_in_order_of_first_appearance_and_refuses_a_repeated_value() {
        let mut interner = Interner::<String>::default();
        let numbers: Vec<u32> = ["b", "a", "a", "b", "c", "a"].iter().map(|v| interner.intern(&v.to_string())).collect();
        assert_eq!(numbers, [0, 1, 1, 0, 2, 1]);
        assert_eq!(interner.get(2), "c");
        assert_eq!(interner.lookup(&"a".to_string()), Some(1));
        assert_eq!(interner.lookup(&"z".to_string()), None);
        let bytes = encode_state(&interner);
        assert_eq!(bytes, encode_state(&vec!["b", "a", "c"]));
        assert_eq!(minicbor::decode::<Interner<String>>(&bytes).unwrap(), interner);
        assert!(minicbor::decode::<Interner<String>>(&encode_state(&vec!["b", "a", "b"])).is_err());
    }
}
