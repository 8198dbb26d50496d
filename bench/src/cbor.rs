//! The CBOR crate choice by measurement: minicbor (what Encore uses) against
//! ciborium (serde), encoding and decoding one representative event of ten
//! fields (strings, u64s, a 32-byte array, optionals).
//!
//! Both encode the 32-byte array as a CBOR byte string. The minicbor side
//! writes the struct as an array keyed by index, as `#[derive(Encode,
//! Decode)]` with `#[n(i)]` does for Encore's domain; ciborium's serde writes a
//! map keyed by field name, which is what a serde user gets: the sizes are
//! reported beside the times.
//!
//! The minicbor impls are written out by hand, the way minicbor-derive
//! generates them (array of indexed fields; decoding loops over indices, skips
//! unknown ones and checks required ones), because depending on minicbor-derive
//! here turns on syn's `visit` feature, which changes bindgen's build and so
//! forces a second (30-minute) release build of RocksDB for this crate.

use std::hint::black_box;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// A purchase-like event, as the domain would record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleEvent {
    pub purchase_id: String,
    pub card_id: String,
    pub device_id: String,
    pub product: String,
    pub amount_minor: u64,
    pub currency: String,
    pub issued_at_micros: u64,
    #[serde(with = "byte_array")]
    pub content_hash: [u8; 32],
    pub group_id: Option<String>,
    pub expires_at_micros: Option<u64>,
}

/// What `#[derive(Encode)]` with `#[n(0)]`..`#[n(9)]` and
/// `#[cbor(with = "minicbor::bytes")]` on the hash generates: an array of ten.
impl<C> minicbor::Encode<C> for SampleEvent {
    fn encode<W: minicbor::encode::Write>(&self, e: &mut minicbor::Encoder<W>, _: &mut C) -> Result<(), minicbor::encode::Error<W::Error>> {
        e.array(10)?;
        e.str(&self.purchase_id)?.str(&self.card_id)?.str(&self.device_id)?.str(&self.product)?;
        e.u64(self.amount_minor)?.str(&self.currency)?.u64(self.issued_at_micros)?.bytes(&self.content_hash)?;
        match &self.group_id {
            Some(g) => e.str(g)?,
            None => e.null()?,
        };
        match self.expires_at_micros {
            Some(t) => e.u64(t)?,
            None => e.null()?,
        };
        Ok(())
    }
}

/// What `#[derive(Decode)]` generates: fields by index, unknown ones skipped,
/// missing required ones refused.
impl<'b, C> minicbor::Decode<'b, C> for SampleEvent {
    fn decode(d: &mut minicbor::Decoder<'b>, _: &mut C) -> Result<Self, minicbor::decode::Error> {
        use minicbor::decode::Error;
        let len = d.array()?.ok_or_else(|| Error::message("indefinite array"))?;
        let (mut f0, mut f1, mut f2, mut f3, mut f4, mut f5, mut f6, mut f7) = (None, None, None, None, None, None, None, None);
        let (mut f8, mut f9) = (None, None);
        for i in 0..len {
            match i {
                0 => f0 = Some(d.str()?.to_owned()),
                1 => f1 = Some(d.str()?.to_owned()),
                2 => f2 = Some(d.str()?.to_owned()),
                3 => f3 = Some(d.str()?.to_owned()),
                4 => f4 = Some(d.u64()?),
                5 => f5 = Some(d.str()?.to_owned()),
                6 => f6 = Some(d.u64()?),
                7 => f7 = Some(<[u8; 32]>::try_from(d.bytes()?).map_err(|_| Error::message("hash is not 32 bytes"))?),
                8 => f8 = optional(d, |d| Ok(d.str()?.to_owned()))?,
                9 => f9 = optional(d, |d| d.u64())?,
                _ => d.skip()?,
            }
        }
        let missing = |n: i64| Error::missing_value(n);
        Ok(SampleEvent {
            purchase_id: f0.ok_or_else(|| missing(0))?,
            card_id: f1.ok_or_else(|| missing(1))?,
            device_id: f2.ok_or_else(|| missing(2))?,
            product: f3.ok_or_else(|| missing(3))?,
            amount_minor: f4.ok_or_else(|| missing(4))?,
            currency: f5.ok_or_else(|| missing(5))?,
            issued_at_micros: f6.ok_or_else(|| missing(6))?,
            content_hash: f7.ok_or_else(|| missing(7))?,
            group_id: f8,
            expires_at_micros: f9,
        })
    }
}

/// An optional field: CBOR null is `None`.
fn optional<'b, T>(
    d: &mut minicbor::Decoder<'b>,
    value: impl FnOnce(&mut minicbor::Decoder<'b>) -> Result<T, minicbor::decode::Error>,
) -> Result<Option<T>, minicbor::decode::Error> {
    if d.datatype()? == minicbor::data::Type::Null {
        d.skip()?;
        return Ok(None);
    }
    value(d).map(Some)
}

impl SampleEvent {
    pub fn sample() -> Self {
        SampleEvent {
            purchase_id: "pur_01HZX3K9Q2M4N6P8R0T2V4X6Z8".into(),
            card_id: "card_7f3a9c21".into(),
            device_id: "dev_kiosk_0042".into(),
            product: "album/the-long-road-home/flac".into(),
            amount_minor: 1299,
            currency: "EUR".into(),
            issued_at_micros: 1_750_000_000_123_456,
            content_hash: *blake3_like(),
            group_id: Some("grp_family_3".into()),
            expires_at_micros: None,
        }
    }
}

fn blake3_like() -> &'static [u8; 32] {
    &[
        0x9f, 0x86, 0xd0, 0x81, 0x88, 0x4c, 0x7d, 0x65, 0x9a, 0x2f, 0xea, 0xa0, 0xc5, 0x5a, 0xd0, 0x15, 0xa3, 0xbf, 0x4f, 0x1b, 0x2b, 0x0b, 0x82, 0x2c, 0xd1,
        0x5d, 0x6c, 0x15, 0xb0, 0xf0, 0x0a, 0x08,
    ]
}

/// serde for `[u8; 32]` as a CBOR byte string (serde's default is an array of 32 integers).
mod byte_array {
    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        struct Bytes32;
        impl Visitor<'_> for Bytes32 {
            type Value = [u8; 32];
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("32 bytes")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<[u8; 32], E> {
                v.try_into().map_err(|_| E::invalid_length(v.len(), &self))
            }
        }
        d.deserialize_bytes(Bytes32)
    }
}

pub fn minicbor_encode(event: &SampleEvent) -> Result<Vec<u8>, String> {
    minicbor::to_vec(event).map_err(|e| e.to_string())
}

pub fn minicbor_decode(bytes: &[u8]) -> Result<SampleEvent, String> {
    minicbor::decode(bytes).map_err(|e| e.to_string())
}

pub fn ciborium_encode(event: &SampleEvent) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(256);
    ciborium::into_writer(event, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

pub fn ciborium_decode(bytes: &[u8]) -> Result<SampleEvent, String> {
    ciborium::from_reader(bytes).map_err(|e| e.to_string())
}

/// One crate's figures.
#[derive(Debug, Clone)]
pub struct Figures {
    pub crate_name: &'static str,
    pub encoded_bytes: usize,
    pub encode_ns: f64,
    pub decode_ns: f64,
}

/// Median over `rounds` of the mean time of `iterations` calls, in ns.
fn time(iterations: u64, rounds: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<f64, String> {
    let mut means = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..iterations {
            f()?;
        }
        means.push(start.elapsed().as_nanos() as f64 / iterations as f64);
    }
    means.sort_by(f64::total_cmp);
    Ok(means[means.len() / 2])
}

/// Measures both crates; checks first that each round-trips the sample.
pub fn measure(iterations: u64) -> Result<Vec<Figures>, String> {
    type Codec = (&'static str, fn(&SampleEvent) -> Result<Vec<u8>, String>, fn(&[u8]) -> Result<SampleEvent, String>);
    let codecs: [Codec; 2] = [("minicbor", minicbor_encode, minicbor_decode), ("ciborium", ciborium_encode, ciborium_decode)];
    let event = SampleEvent::sample();
    let mut figures = Vec::new();
    for (crate_name, encode, decode) in codecs {
        let bytes = encode(&event)?;
        let back = decode(&bytes)?;
        if back != event {
            return Err(format!("{crate_name} does not round-trip the sample event"));
        }
        let encode_ns = time(iterations, 5, || encode(black_box(&event)).map(|b| drop(black_box(b))))?;
        let decode_ns = time(iterations, 5, || decode(black_box(&bytes)).map(|e| drop(black_box(e))))?;
        figures.push(Figures { crate_name, encoded_bytes: bytes.len(), encode_ns, decode_ns });
    }
    Ok(figures)
}

/// The figures as a Markdown table.
pub fn table(figures: &[Figures]) -> String {
    let mut out = String::from("| crate | encoded bytes | encode ns/event | decode ns/event |\n|---|---:|---:|---:|\n");
    for f in figures {
        out.push_str(&format!("| {} | {} | {:.0} | {:.0} |\n", f.crate_name, f.encoded_bytes, f.encode_ns, f.decode_ns));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_crates_round_trip_the_sample_and_agree_on_field_values() {
        let event = SampleEvent::sample();
        let via_minicbor = minicbor_decode(&minicbor_encode(&event).expect("encode")).expect("decode");
        let via_ciborium = ciborium_decode(&ciborium_encode(&event).expect("encode")).expect("decode");
        assert_eq!((&via_minicbor, &via_ciborium), (&event, &event));
    }

    #[test]
    fn a_short_hash_is_refused_by_the_serde_path() {
        let mut value = ciborium::Value::serialized(&SampleEvent::sample()).expect("to value");
        if let ciborium::Value::Map(fields) = &mut value {
            for (k, v) in fields.iter_mut() {
                if k.as_text() == Some("content_hash") {
                    *v = ciborium::Value::Bytes(vec![1, 2, 3]);
                }
            }
        }
        let mut bytes = Vec::new();
        ciborium::into_writer(&value, &mut bytes).expect("encode");
        assert!(ciborium_decode(&bytes).is_err());
    }
}
