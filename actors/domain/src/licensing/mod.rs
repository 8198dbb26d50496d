//! Licensing: prepaid cards, accounts, license server, players and kiosks (seeds 000, 002). Being written.
