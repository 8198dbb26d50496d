//! A table of distinct values numbered in order of first appearance, so large
//! histories store a `u32` per reference instead of a string. The numbering
//! depends only on log order, so a rebuild numbers exactly as the live run.

use std::collections::HashMap;
use std::hash::Hash;

use minicbor::{Decode, Encode};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Interner<T: Eq + Hash + Clone> {
    items: Vec<T>,
    /// Lookup only; never encoded, so its iteration order does not matter.
    index: HashMap<T, u32>,
}

impl<T: Eq + Hash + Clone> Default for Interner<T> {
    fn default() -> Self {
        Interner { items: Vec::new(), index: HashMap::new() }
    }
}

impl<T: Eq + Hash + Clone> Interner<T> {
    pub(crate) fn intern(&mut self, value: &T) -> u32 {
        if let Some(&i) = self.index.get(value) {
            return i;
        }
        let i = u32::try_from(self.items.len()).unwrap_or_else(|_| panic!("more than 2^32 distinct values interned"));
        self.items.push(value.clone());
        self.index.insert(value.clone(), i);
        i
    }

    pub(crate) fn get(&self, i: u32) -> &T {
        &self.items[i as usize]
    }

    pub(crate) fn lookup(&self, value: &T) -> Option<u32> {
        self.index.get(value).copied()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}

impl<C, T: Eq + Hash + Clone + Encode<C>> Encode<C> for Interner<T> {
    fn encode<W: minicbor::encode::Write>(&self, e: &mut minicbor::Encoder<W>, ctx: &mut C) -> Result<(), minicbor::encode::Error<W::Error>> {
        self.items.encode(e, ctx)
    }
}

impl<'b, C, T: Eq + Hash + Clone + Decode<'b, C>> Decode<'b, C> for Interner<T> {
    fn decode(d: &mut minicbor::Decoder<'b>, ctx: &mut C) -> Result<Self, minicbor::decode::Error> {
        let items: Vec<T> = Vec::decode(d, ctx)?;
        let mut index = HashMap::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if index.insert(item.clone(), i as u32).is_some() {
                return Err(minicbor::decode::Error::message("interned table holds a value twice"));
            }
        }
        Ok(Interner { items, index })
    }
}
