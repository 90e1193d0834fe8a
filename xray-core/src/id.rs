//! Trace and entity identifiers.
//!
//! A [`TraceId`] is `1-` + 8 hex digits of epoch seconds + `-` + 24 hex digits of randomness;
//! an [`EntityId`] (segment, subsegment or exception id) is 16 hex digits.
//!
//! Generation never makes a syscall per id: trace ids take their random part from a per-thread
//! ChaCha8 generator (seeded from the OS, as the X-Ray guide asks trace ids to be
//! unpredictable), entity ids from a per-thread wyrand state seeded once from the OS.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::str::FromStr;

use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::time;

/// Why a string is not a trace or entity id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseIdError {
    /// The string has the wrong length.
    #[error("expected {expected} characters, found {found}")]
    Length {
        /// The required length.
        expected: usize,
        /// The length of the input.
        found: usize,
    },
    /// A trace id must start with the version `1-` and separate its parts with `-`.
    #[error("trace id must look like 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx")]
    Layout,
    /// A character that is not a hexadecimal digit.
    #[error("not a hexadecimal digit at position {0}")]
    NotHex(usize),
    /// The all-zero entity id is reserved as "no id".
    #[error("the entity id is all zeros")]
    Zero,
}

/// An X-Ray trace id, such as `1-58406520-a006649127e371903a2de979`.
///
/// ```
/// use xray_core::TraceId;
/// let id: TraceId = "1-58406520-a006649127e371903a2de979".parse().unwrap();
/// assert_eq!(id.epoch_seconds(), 0x5840_6520);
/// assert_eq!(id.to_string(), "1-58406520-a006649127e371903a2de979");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId {
    epoch: u32,
    random: [u8; 12],
}

/// An id of a segment, subsegment or exception: 64 bits, shown as 16 hex digits.
///
/// ```
/// use xray_core::EntityId;
/// let id: EntityId = "70de5b6f19ff9a0a".parse().unwrap();
/// assert_eq!(id.to_string(), "70de5b6f19ff9a0a");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId(u64);

/// Four bytes (big-endian in `v`) as their eight lower-case hex digits, all at once: each
/// nibble is spread into its own byte, then every byte is turned into its digit together.
#[inline]
fn encode8(v: u32) -> [u8; 8] {
    const LO: u64 = 0x0101_0101_0101_0101;
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    // Byte k now holds nibble k, counted from the least significant one; 1 where it is a letter.
    let letters = ((x + LO * 6) >> 4) & LO;
    // No byte can carry: at most 15 + '0' + ('a' - '0' - 10).
    (x + LO * u64::from(b'0') + letters * u64::from(b'a' - b'0' - 10)).to_be_bytes()
}

pub(crate) fn write_hex(out: &mut [u8], bytes: &[u8]) {
    for (digits, word) in out.chunks_exact_mut(8).zip(bytes.chunks_exact(4)) {
        digits.copy_from_slice(&encode8(u32::from_be_bytes([word[0], word[1], word[2], word[3]])));
    }
}

/// The value of each byte as a hex digit, or `0xff`.
static HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Decodes `hex`, whole groups of eight digits, into `out`, four bytes per group; `offset`
/// positions errors in the whole input. Every id's hex parts are such groups (8, 16, 24).
pub(crate) fn read_hex(hex: &[u8], out: &mut [u8], offset: usize) -> Result<(), ParseIdError> {
    let mut ok = hex.len().is_multiple_of(8);
    for (digits, bytes) in hex.chunks_exact(8).zip(out.chunks_exact_mut(4)) {
        let mut word = [0u8; 8];
        word.copy_from_slice(digits);
        let (value, valid) = decode8(u64::from_le_bytes(word));
        ok &= valid;
        bytes.copy_from_slice(&value);
    }
    if ok {
        return Ok(());
    }
    // Only on failure: find the first offending digit for the error.
    let at = hex.iter().position(|b| HEX_VALUE[*b as usize] == 0xff).unwrap_or(0);
    Err(ParseIdError::NotHex(offset + at))
}

/// Eight hex digits (loaded little-endian, so the first digit is the low byte) to their four
/// bytes, and whether all eight were hex digits: all are checked and converted at once
/// instead of through two table look-ups per byte.
#[inline]
fn decode8(x: u64) -> ([u8; 4], bool) {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Setting bit 0x20 folds exactly 'A'..='F' onto 'a'..='f' (digits are checked unfolded:
    // it would also fold 0x10..=0x19 onto them).
    let y = x | (LO * 0x20);
    // With every byte below 0x80 these sums cannot carry into the next byte; a byte at or
    // above 0x80 fails the check anyway, whatever the carries did.
    let digit = x.wrapping_add(LO * (0x80 - b'0' as u64)) & !x.wrapping_add(LO * (0x7f - b'9' as u64));
    let alpha = y.wrapping_add(LO * (0x80 - b'a' as u64)) & !y.wrapping_add(LO * (0x7f - b'f' as u64));
    let valid = (digit | alpha) & HI == HI && x & HI == 0;
    let nibbles = (x & (LO * 0x0f)) + ((alpha & HI) >> 7) * 9;
    // Pair the nibbles into bytes (first digit high), one byte per 16-bit lane, then close up
    // the lanes: the first pair ends up in the lowest byte.
    let pairs = ((nibbles & 0x000f_000f_000f_000f) << 4) | ((nibbles >> 8) & 0x000f_000f_000f_000f);
    let quads = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
    let bytes = (quads | (quads >> 16)) as u32;
    (bytes.to_le_bytes(), valid)
}

thread_local! {
    static WYRAND: Cell<u64> = Cell::new(rand::rng().next_u64());
    /// Trace ids are visible to callers, so they come from a cryptographic generator (ChaCha8,
    /// seeded from the OS through `rand`), kept per thread so that taking 12 bytes is cheap.
    static TRACE_RNG: RefCell<ChaCha8Rng> = RefCell::new(ChaCha8Rng::from_rng(&mut rand::rng()));
}

/// The next value of this thread's wyrand generator: fast, well mixed, not cryptographic.
#[inline]
pub(crate) fn fast_random_u64() -> u64 {
    WYRAND.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    })
}

impl TraceId {
    /// A new trace id stamped with the current time.
    #[inline]
    pub fn new() -> Self {
        Self::with_epoch(time::epoch_seconds())
    }

    /// A new trace id stamped with the given epoch seconds.
    #[inline]
    pub fn with_epoch(epoch: u32) -> Self {
        let mut random = [0u8; 12];
        let (hi, lo) = TRACE_RNG.with(|rng| match rng.try_borrow_mut() {
            Ok(mut rng) => (rng.next_u64(), rng.next_u32()),
            Err(_) => (rand::rng().next_u64(), rand::rng().next_u32()),
        });
        random[..8].copy_from_slice(&hi.to_le_bytes());
        random[8..].copy_from_slice(&lo.to_le_bytes());
        Self { epoch, random }
    }

    /// Builds a trace id from its parts.
    pub const fn from_parts(epoch: u32, random: [u8; 12]) -> Self {
        Self { epoch, random }
    }

    /// The epoch seconds of the original request.
    pub const fn epoch_seconds(&self) -> u32 {
        self.epoch
    }

    /// The 96 random bits.
    pub const fn random_bytes(&self) -> [u8; 12] {
        self.random
    }

    /// The id as its 35 ASCII bytes, without allocating.
    pub fn to_bytes(&self) -> [u8; 35] {
        let mut out = [0u8; 35];
        out[0] = b'1';
        out[1] = b'-';
        write_hex(&mut out[2..10], &self.epoch.to_be_bytes());
        out[10] = b'-';
        write_hex(&mut out[11..35], &self.random);
        out
    }
}

impl Default for TraceId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for TraceId {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_ascii(s.as_bytes())
    }
}

impl TraceId {
    /// Parses the id's ASCII form straight from bytes (header parsing skips `from_utf8`).
    pub(crate) fn parse_ascii(b: &[u8]) -> Result<Self, ParseIdError> {
        if b.len() != 35 {
            return Err(ParseIdError::Length { expected: 35, found: b.len() });
        }
        if &b[..2] != b"1-" || b[10] != b'-' {
            return Err(ParseIdError::Layout);
        }
        let mut epoch = [0u8; 4];
        read_hex(&b[2..10], &mut epoch, 2)?;
        let mut random = [0u8; 12];
        read_hex(&b[11..35], &mut random, 11)?;
        Ok(Self { epoch: u32::from_be_bytes(epoch), random })
    }
}

impl EntityId {
    /// A new random, non-zero id.
    #[inline]
    pub fn new() -> Self {
        loop {
            let v = fast_random_u64();
            if v != 0 {
                return Self(v);
            }
        }
    }

    /// Wraps a raw value; zero is not a valid id.
    pub const fn from_u64(v: u64) -> Option<Self> {
        if v == 0 { None } else { Some(Self(v)) }
    }

    /// The raw 64-bit value.
    pub const fn as_u64(&self) -> u64 {
        self.0
    }

    /// The id as its 16 ASCII hex bytes, without allocating.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        write_hex(&mut out, &self.0.to_be_bytes());
        out
    }
}

impl Default for EntityId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for EntityId {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_ascii(s.as_bytes())
    }
}

impl EntityId {
    /// Parses the id's 16 hex digits straight from bytes.
    pub(crate) fn parse_ascii(b: &[u8]) -> Result<Self, ParseIdError> {
        if b.len() != 16 {
            return Err(ParseIdError::Length { expected: 16, found: b.len() });
        }
        let mut raw = [0u8; 8];
        read_hex(b, &mut raw, 0)?;
        Self::from_u64(u64::from_be_bytes(raw)).ok_or(ParseIdError::Zero)
    }
}

macro_rules! ascii_id_impls {
    ($ty:ty, $what:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let bytes = self.to_bytes();
                // The bytes are ASCII hex digits and dashes by construction.
                f.write_str(std::str::from_utf8(&bytes).map_err(|_| fmt::Error)?)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($ty), self)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let bytes = self.to_bytes();
                let text = std::str::from_utf8(&bytes).map_err(serde::ser::Error::custom)?;
                serializer.serialize_str(text)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct IdVisitor;
                impl Visitor<'_> for IdVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(IdVisitor)
            }
        }
    };
}

ascii_id_impls!(TraceId, "an X-Ray trace id");
ascii_id_impls!(EntityId, "a 16-digit hex entity id");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_round_trips() {
        for _ in 0..100 {
            let id = TraceId::new();
            let text = id.to_string();
            assert_eq!(text.len(), 35);
            assert_eq!(text.parse::<TraceId>().unwrap(), id);
        }
    }

    #[test]
    fn trace_id_rejects_bad_input() {
        let cases = [
            ("", ParseIdError::Length { expected: 35, found: 0 }),
            ("2-58406520-a006649127e371903a2de979", ParseIdError::Layout),
            ("1-58406520ca006649127e371903a2de979", ParseIdError::Layout),
            ("1-5840652g-a006649127e371903a2de979", ParseIdError::NotHex(9)),
            ("1-58406520-a006649127e371903a2de97z", ParseIdError::NotHex(34)),
            ("1-58406520-a006649127e371903a2de97é", ParseIdError::Length { expected: 35, found: 36 }),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<TraceId>().unwrap_err(), want, "{input}");
        }
    }

    #[test]
    fn trace_id_uses_current_time() {
        let now = time::epoch_seconds();
        let id = TraceId::new();
        assert!(id.epoch_seconds().abs_diff(now) <= 1);
    }

    #[test]
    fn hex_digits_match_format() {
        // Every nibble value in every position, and a spread of mixed words.
        let mut words: Vec<u32> = (0..16u32).flat_map(|n| (0..8).map(move |pos| n << (4 * pos))).collect();
        words.extend([0, u32::MAX, 0x0123_4567, 0x89ab_cdef, 0xdead_beef, 0x9a9a_9a9a, 0xa9a9_a9a9]);
        words.extend((1..2_000u32).map(|i| i.wrapping_mul(0x9e37_79b9)));
        for w in words {
            assert_eq!(encode8(w), *format!("{w:08x}").as_bytes(), "{w:#x}");
        }
        let id = EntityId::from_u64(0x0123_4567_89ab_cdef).unwrap();
        assert_eq!(id.to_bytes(), *b"0123456789abcdef");
    }

    #[test]
    fn entity_ids_parse_any_case_and_print_lowercase() {
        let id: EntityId = "70DE5B6F19FF9A0A".parse().unwrap();
        assert_eq!(id.to_string(), "70de5b6f19ff9a0a");
        assert_eq!("0000000000000000".parse::<EntityId>(), Err(ParseIdError::Zero));
        assert_eq!("70de5b6f19ff9a0".parse::<EntityId>(), Err(ParseIdError::Length { expected: 16, found: 15 }));
        assert_eq!("70de5b6f19ff9a0x".parse::<EntityId>(), Err(ParseIdError::NotHex(15)));
    }

    #[test]
    fn every_byte_is_judged_like_the_table_says() {
        for pos in [0, 5, 15] {
            for b in 0..=255u8 {
                let mut digits = *b"70de5b6f19ff9a0a";
                digits[pos] = b;
                let is_hex = HEX_VALUE[b as usize] != 0xff;
                match EntityId::parse_ascii(&digits) {
                    Ok(id) => {
                        assert!(is_hex, "{b:#x} accepted");
                        let want = u64::from_str_radix(std::str::from_utf8(&digits).unwrap(), 16).unwrap();
                        assert_eq!(id.as_u64(), want);
                    }
                    Err(e) => {
                        assert!(!is_hex, "{b:#x} rejected");
                        assert_eq!(e, ParseIdError::NotHex(pos));
                    }
                }
            }
        }
    }

    #[test]
    fn entity_ids_are_distinct() {
        let ids: std::collections::HashSet<_> = (0..10_000).map(|_| EntityId::new()).collect();
        assert_eq!(ids.len(), 10_000);
    }

    #[test]
    fn ids_serialize_as_strings() {
        let id: EntityId = "70de5b6f19ff9a0a".parse().unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"70de5b6f19ff9a0a\"");
        let back: EntityId = serde_json::from_str("\"70de5b6f19ff9a0a\"").unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<TraceId>("\"nope\"").is_err());
    }
}
