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
    Msg(usize),
}

#[derive(Clone, Copy, Debug)]
struct Field {
    number: u32,
    kind: Kind,
    repeated: bool,
}

/// The compiled schema: messages by index, fields sorted by number.
#[derive(Debug, Default)]
pub struct Schema {
    msgs: Vec<Vec<Field>>,
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
            let mut fields: Vec<Field> = d
                .field
                .iter()
                .filter_map(|f| {
                    let kind = match f.r#type() {
                        Type::Double | Type::Fixed64 | Type::Sfixed64 => Kind::Fixed64,
                        Type::Float | Type::Fixed32 | Type::Sfixed32 => Kind::Fixed32,
                        Type::Int64 | Type::Uint64 | Type::Int32 | Type::Bool | Type::Uint32 | Type::Enum => {
                            Kind::Varint
                        }
                        Type::Sint32 | Type::Sint64 => Kind::Varint,
                        Type::String => Kind::Str,
                        Type::Bytes => Kind::Bytes,
                        Type::Message => Kind::Msg(*s.by_name.get(f.type_name().trim_start_matches('.'))?),
                        Type::Group => return None,
                    };
                    Some(Field { number: f.number() as u32, kind, repeated: f.label() == Label::Repeated })
                })
                .collect();
            fields.sort_by_key(|f| f.number);
            s.msgs.push(fields);
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
            let (tag, wt) = decode_key(buf)?;
            let Ok(i) = fields.binary_search_by_key(&tag, |f| f.number) else {
                super::cursor::skip_within(wt, tag, buf, budget).ok_or(Invalid)?;
                continue;
            };
            let f = fields[i];
            match (f.kind, wt) {
                (Kind::Varint, WireType::Varint) => {
                    decode_varint(buf)?;
                }
                (Kind::Fixed32, WireType::ThirtyTwoBit) => advance(buf, 4)?,
                (Kind::Fixed64, WireType::SixtyFourBit) => advance(buf, 8)?,
                (Kind::Varint | Kind::Fixed32 | Kind::Fixed64, WireType::LengthDelimited) if f.repeated => {
                    let mut packed = delimited(buf)?;
                    while !packed.is_empty() {
                        match f.kind {
                            Kind::Varint => {
                                decode_varint(&mut packed)?;
                            }
                            Kind::Fixed32 => advance(&mut packed, 4)?,
                            _ => advance(&mut packed, 8)?,
                        }
                    }
                }
                (Kind::Str, WireType::LengthDelimited) => {
                    std::str::from_utf8(delimited(buf)?).map_err(|_| Invalid)?;
                }
                (Kind::Bytes, WireType::LengthDelimited) => {
                    delimited(buf)?;
                }
                (Kind::Msg(n), WireType::LengthDelimited) => {
                    if budget == 0 {
                        return Err(Invalid);
                    }
                    let mut inner = delimited(buf)?;
                    self.message(n, &mut inner, depth + 1)?;
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

fn delimited<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], Invalid> {
    let mut c = super::cursor::Cursor::new(buf, 0);
    let body = c.delimited().map_err(|_| Invalid)?;
    *buf = c.rest();
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
