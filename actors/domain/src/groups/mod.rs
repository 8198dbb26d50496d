//! Groups, source ids, radio sharing, favorites, reliability and charisma (seed 003). Being written.
