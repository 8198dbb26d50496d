//! Readable names in scripts (`alice`, `card-1`) and the real identifiers
//! they stand for. The mapping is deterministic (a hash of the kind and the
//! name), so the same script always produces the same log; transcripts map the
//! identifiers back to names so they stay readable.

use std::collections::BTreeMap;

#[derive(Debug, Default, Clone)]
pub struct Names {
    /// real identifier -> readable name
    by_real: BTreeMap<String, String>,
}

impl Names {
    /// The real identifier for a readable `name` of a `kind` (card, account, ...).
    pub fn real(&mut self, kind: &str, name: &str) -> String {
        let mut hasher = blake3::Hasher::new_derive_key("encore scenario names v1");
        hasher.update(kind.as_bytes());
        hasher.update(&[0]);
        hasher.update(name.as_bytes());
        let hex: String = hasher.finalize().as_bytes()[..5].iter().map(|b| format!("{b:02x}")).collect();
        let real = format!("{}{hex}", &kind[..1]);
        self.by_real.insert(real.clone(), name.to_string());
        real
    }

    /// Replaces every real identifier in `text` with its readable name.
    pub fn readable(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (real, name) in &self.by_real {
            out = out.replace(real.as_str(), name);
        }
        out
    }

    /// The mapping, for the head of a transcript.
    pub fn table(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_real.iter().map(|(r, n)| (n.as_str(), r.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_deterministically_and_back() {
        let mut a = Names::default();
        let mut b = Names::default();
        let card = a.real("card", "card-1");
        assert_eq!(card, b.real("card", "card-1"));
        assert_ne!(card, a.real("account", "card-1"), "kinds do not collide");
        assert_eq!(a.readable(&format!("stream card-{card} v1")), "stream card-card-1 v1");
    }
}
