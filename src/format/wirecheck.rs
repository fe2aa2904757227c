//! Protobuf validation on the wire: does a buffer decode as a given message of our `.proto`
//! subset? Answers like prost's generated decoder, without building the message, so a verifier
//! can check entries and snapshots the final state does not need at the speed of a byte walk.
//!
//! Invariants:
//! - Never more lenient than prost: every input prost rejects is rejected here (same key,
//!   varint and unknown-field rules, because those come from `prost::encoding` itself; known
//!   fields must have their wire type, or packed encoding for repeated scalars; strings must be
//!   UTF-8; lengths must fit; nesting is limited as prost limits it: one recursion budget of 100
//!   levels for nested messages and unknown groups together, so a group inside a nested message
//!   has less room than one at the top). Callers that get a rejection decode with prost to
//!   report prost's own error text.
//! - A message nested in another one ([`check_at`]: a snapshot's store objects sit two levels
//!   down) is checked with the budget prost's decoder of the outer message has left there.
//! - The schema is our `.proto` subset, compiled by `build.rs` into a `FileDescriptorSet` and
//!   parsed once.
//! - No allocation per message; recursion depth is bounded.

use prost::Message;
use prost::encoding::{WireType, decode_key, decode_varint};
use prost_types::field_descriptor_proto::{Label, Type};
use std::collections::HashMap;
use std::sync::OnceLock;

/// prost's recursion limit (`RECURSION_LIMIT`), for nested messages and groups together.
const DEPTH_LIMIT: u32 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Varint,
    Fixed32,
    Fixed64,
    Str,
    Bytes,
    /// A nested message: its index is [`Field::msg`].
    Msg,
}

/// 8 bytes, so a message's lookup table stays in a cache line or two.
#[derive(Clone, Copy, Debug)]
struct Field {
    number: u32,
    /// The nested message's index, for [`Kind::Msg`].
    msg: u16,
    kind: Kind,
    repeated: bool,
}

/// Field numbers up to this are looked up in a table; larger ones (rare in our subset) by a
/// binary search over the sorted fields.
const DENSE_MAX: u32 = 255;

/// One message's fields: sorted by number, and a table from number to field for the small
/// numbers that nearly every field of Docker's messages has (the walk's hottest lookup).
#[derive(Debug, Default)]
struct Fields {
    sorted: Vec<Field>,
    dense: Vec<Option<Field>>,
}

impl Fields {
    fn new(mut sorted: Vec<Field>) -> Fields {
        sorted.sort_by_key(|f| f.number);
        let top = sorted.iter().map(|f| f.number).filter(|&n| n <= DENSE_MAX).max().map_or(0, |n| n as usize + 1);
        let mut dense = vec![None; top];
        for f in sorted.iter().filter(|f| f.number <= DENSE_MAX) {
            dense[f.number as usize] = Some(*f);
        }
        Fields { sorted, dense }
    }

    #[inline]
    fn get(&self, number: u32) -> Option<Field> {
        if number <= DENSE_MAX {
            return self.dense.get(number as usize).copied().flatten();
        }
        self.sorted.binary_search_by_key(&number, |f| f.number).ok().map(|i| self.sorted[i])
    }
}

/// The compiled schema: messages by index, with their fields.
#[derive(Debug, Default)]
pub struct Schema {
    msgs: Vec<Fields>,
    by_name: HashMap<String, usize>,
}

/// Why a buffer is not a valid message (no details: callers ask prost for its text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid;

impl From<prost::DecodeError> for Invalid {
    fn from(_: prost::DecodeError) -> Self {
        Invalid
    }
}

static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));

/// The schema of our `.proto` subset.
pub fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| Schema::from_descriptors(DESCRIPTORS))
}

impl Schema {
    /// Build from an encoded `FileDescriptorSet` (an undecodable set gives an empty schema, in
    /// which every message is rejected).
    pub fn from_descriptors(bytes: &[u8]) -> Schema {
        let Ok(set) = prost_types::FileDescriptorSet::decode(bytes) else { return Schema::default() };
        let mut s = Schema::default();
        // First pass: names (nested types included) to indexes.
        let mut all: Vec<(String, &prost_types::DescriptorProto)> = Vec::new();
        fn walk<'a>(
            prefix: &str,
            d: &'a prost_types::DescriptorProto,
            out: &mut Vec<(String, &'a prost_types::DescriptorProto)>,
        ) {
            let name = format!("{prefix}.{}", d.name());
            for n in &d.nested_type {
                walk(&name, n, out);
            }
            out.push((name, d));
        }
        for f in &set.file {
            let prefix = if f.package().is_empty() { String::new() } else { format!(".{}", f.package()) };
            for d in &f.message_type {
                walk(&prefix, d, &mut all);
            }
        }
        for (i, (name, _)) in all.iter().enumerate() {
            s.by_name.insert(name.trim_start_matches('.').to_string(), i);
        }
        for (_, d) in &all {
            let fields: Vec<Field> = d
                .field
                .iter()
                .filter_map(|f| {
                    let mut msg = 0u16;
                    let kind = match f.r#type() {
                        Type::Double | Type::Fixed64 | Type::Sfixed64 => Kind::Fixed64,
                        Type::Float | Type::Fixed32 | Type::Sfixed32 => Kind::Fixed32,
                        Type::Int64 | Type::Uint64 | Type::Int32 | Type::Bool | Type::Uint32 | Type::Enum => {
                            Kind::Varint
                        }
                        Type::Sint32 | Type::Sint64 => Kind::Varint,
                        Type::String => Kind::Str,
                        Type::Bytes => Kind::Bytes,
                        Type::Message => {
                            msg = u16::try_from(*s.by_name.get(f.type_name().trim_start_matches('.'))?).ok()?;
                            Kind::Msg
                        }
                        Type::Group => return None,
                    };
                    Some(Field { number: f.number() as u32, msg, kind, repeated: f.label() == Label::Repeated })
                })
                .collect();
            s.msgs.push(Fields::new(fields));
        }
        s
    }

    /// Whether `buf` decodes as the message `name` (full name without the leading dot, e.g.
    /// `docker.swarmkit.v1.InternalRaftRequest`). Unknown names are rejected.
    pub fn check(&self, name: &str, buf: &[u8]) -> Result<(), Invalid> {
        self.check_at(name, buf, 0)
    }

    /// [`Schema::check`] for a message that sits `depth` levels down in the message prost
    /// decodes (a snapshot's store objects: 2, under `Snapshot.store` and `StoreSnapshot`).
    pub fn check_at(&self, name: &str, buf: &[u8], depth: u32) -> Result<(), Invalid> {
        let m = *self.by_name.get(name).ok_or(Invalid)?;
        let mut b = buf;
        self.message(m, &mut b, depth)
    }

    /// A message `depth` levels down: its fields have prost's budget `DEPTH_LIMIT - depth`
    /// (prost's `merge_loop` context), which a nested message or an unknown field needs to be
    /// non-zero.
    fn message(&self, m: usize, buf: &mut &[u8], depth: u32) -> Result<(), Invalid> {
        let fields = &self.msgs[m];
        let budget = DEPTH_LIMIT.saturating_sub(depth);
        while !buf.is_empty() {
            let (tag, wt) = key(buf)?;
            let Some(f) = fields.get(tag) else {
                super::cursor::skip_within(wt, tag, buf, budget).ok_or(Invalid)?;
                continue;
            };
            match (f.kind, wt) {
                (Kind::Varint, WireType::Varint) => {
                    varint(buf)?;
                }
                (Kind::Fixed32, WireType::ThirtyTwoBit) => advance(buf, 4)?,
                (Kind::Fixed64, WireType::SixtyFourBit) => advance(buf, 8)?,
                (Kind::Varint | Kind::Fixed32 | Kind::Fixed64, WireType::LengthDelimited) if f.repeated => {
                    let mut packed = delimited(buf)?;
                    while !packed.is_empty() {
                        match f.kind {
                            Kind::Varint => {
                                varint(&mut packed)?;
                            }
                            Kind::Fixed32 => advance(&mut packed, 4)?,
                            _ => advance(&mut packed, 8)?,
                        }
                    }
                }
                (Kind::Str, WireType::LengthDelimited) => {
                    // Nearly every string is ASCII: a word-at-a-time test, then the full check.
                    let b = delimited(buf)?;
                    if !b.is_ascii() {
                        std::str::from_utf8(b).map_err(|_| Invalid)?;
                    }
                }
                (Kind::Bytes, WireType::LengthDelimited) => {
                    delimited(buf)?;
                }
                (Kind::Msg, WireType::LengthDelimited) => {
                    if budget == 0 {
                        return Err(Invalid);
                    }
                    let mut inner = delimited(buf)?;
                    self.message(f.msg as usize, &mut inner, depth + 1)?;
                }
                _ => return Err(Invalid),
            }
        }
        Ok(())
    }
}

fn advance(buf: &mut &[u8], n: usize) -> Result<(), Invalid> {
    if buf.len() < n {
        return Err(Invalid);
    }
    *buf = &buf[n..];
    Ok(())
}

/// A varint: one byte inline (nearly every key and most lengths), else prost's decoder.
#[inline(always)]
fn varint(buf: &mut &[u8]) -> Result<u64, Invalid> {
    match buf.first() {
        Some(&b) if b < 0x80 => {
            *buf = &buf[1..];
            Ok(u64::from(b))
        }
        _ => Ok(decode_varint(buf)?),
    }
}

/// A field key by prost's rules (`decode_key`): a varint that fits in 32 bits, a known wire
/// type and a tag of at least 1; one-byte keys inline.
#[inline(always)]
fn key(buf: &mut &[u8]) -> Result<(u32, WireType), Invalid> {
    match buf.first() {
        Some(&b) if b < 0x80 => {
            let wt = WireType::try_from(u64::from(b & 7)).map_err(|_| Invalid)?;
            let tag = u32::from(b >> 3);
            if tag == 0 {
                return Err(Invalid);
            }
            *buf = &buf[1..];
            Ok((tag, wt))
        }
        _ => Ok(decode_key(buf)?),
    }
}

/// A length-delimited body, its length checked against what remains (as prost checks it).
#[inline(always)]
fn delimited<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], Invalid> {
    let len = varint(buf)?;
    if len > buf.len() as u64 {
        return Err(Invalid);
    }
    let (body, rest) = buf.split_at(len as usize);
    *buf = rest;
    Ok(body)
}

/// Whether `buf` decodes as the message `name` of our `.proto` subset.
pub fn check(name: &str, buf: &[u8]) -> Result<(), Invalid> {
    schema().check(name, buf)
}

/// Whether `buf` decodes as the message `name` when it sits `depth` levels down in the message
/// prost decodes ([`Schema::check_at`]).
pub fn check_at(name: &str, buf: &[u8], depth: u32) -> Result<(), Invalid> {
    schema().check_at(name, buf, depth)
}
