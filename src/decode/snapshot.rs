//! Snapshot payloads (`raftpb.Snapshot.data`) decrypted and read object by object into an
//! `api.Snapshot`'s parts: membership, object counts, sizes on the wire, and each object handed
//! to the caller.
//!
//! Invariants: accepts and rejects exactly what prost's `api::Snapshot::decode` does, prost's
//! recursion limit included (the membership, the store's fields and each object are read with
//! the budget the whole decoding has left there, see [`decode_in_store`]); the decoded
//! `api.Snapshot` is never held whole (objects go to the caller one at a time).

use super::object::{Kind, Membership, Object};
use super::{open_payload, open_payload_releasing};
use crate::crypto::Dek;
use crate::pb::docker::swarmkit::v1 as api;
use prost::Message;
use std::collections::BTreeMap;

/// Decrypt and decode a snapshot payload into `api.Snapshot`.
pub fn decode_snapshot(
    payload: &[u8],
    encrypted: bool,
    deks: &[Dek],
) -> std::result::Result<(api::Snapshot, Option<String>), String> {
    let (plain, dek) = open_payload(payload, encrypted, deks).map_err(|e| format!("cannot decrypt: {e}"))?;
    let s =
        api::Snapshot::decode(plain.as_slice()).map_err(|e| format!("decrypted data is not an api.Snapshot: {e}"))?;
    if s.version != 0 {
        return Err(format!("unknown api.Snapshot version {}", s.version));
    }
    Ok((s, dek))
}

/// A snapshot payload read object by object: what it holds. Accepts and rejects exactly what
/// [`decode_snapshot`] does (the same prost decoders run on each object), but never holds the
/// decoded `api.Snapshot`: objects go straight to the caller's sink (or are counted and
/// dropped), so memory is the decrypted payload plus what the caller keeps.
pub struct SnapState {
    /// Which DEK decrypted it.
    pub dek: Option<String>,
    /// The `ClusterSnapshot`, when present.
    pub membership: Option<Membership>,
    /// Object counts by kind (plural names), empty when the snapshot has no store.
    pub objects: BTreeMap<String, usize>,
    /// Wire sizes, measured during the same walk.
    pub wire: WireSizes,
}

/// A snapshot payload's plaintext measured on the wire (no re-encoding): what `snapshots` and
/// the charts break down.
#[derive(Debug, Clone, Default)]
pub struct WireSizes {
    /// Plaintext `api.Snapshot` bytes.
    pub plain: u64,
    /// `ClusterSnapshot` bytes (without its field key and length).
    pub membership: u64,
    /// Per `StoreSnapshot` field number 1-10: objects and bytes with their key and length prefix.
    pub kinds: [(usize, u64); 10],
}

/// Decrypt and read a snapshot payload without materialising the decoded `api.Snapshot`, handing
/// each object to `sink` when given; with `on_wire` (and no sink), each object is checked on the
/// wire ([`crate::format::wirecheck`]) instead of decoded, and decoded only when the check
/// rejects it.
pub fn snapshot_state(
    payload: &[u8],
    encrypted: bool,
    deks: &[Dek],
    sink: Option<&mut dyn FnMut(Object)>,
    on_wire: bool,
) -> std::result::Result<SnapState, String> {
    match sink {
        // Not asked for encoded objects, the walk hands over decoded ones only.
        Some(f) => {
            let mut decoded = |o: SnapObject| {
                if let SnapObject::Decoded(o) = o {
                    f(*o)
                }
            };
            walk(payload, encrypted, deks, &|_| (), Some(&mut decoded), false, false)
        }
        None => walk(payload, encrypted, deks, &|_| (), None, on_wire, false),
    }
}

/// One object of a snapshot as [`snapshot_objects`] hands it over.
pub enum SnapObject {
    /// Checked sound on the wire, as it was encoded: a slice of the decrypted payload, which it
    /// shares.
    Encoded(Kind, bytes::Bytes),
    /// Decoded: the wire check did not accept it but prost's decoder did (rare: boxed).
    Decoded(Box<Object>),
}

/// [`snapshot_state`] handing each object to `sink` as it was encoded, without decoding it: each
/// is checked on the wire ([`crate::format::wirecheck`]) and shares the decrypted payload's
/// buffer; one the check rejects is decoded, and is an error when prost rejects it too. Accepts
/// and rejects what [`decode_snapshot`] does, at the cost of a byte walk per object. `release`
/// is told of each part of `payload` once it has been copied to become the plaintext, so that
/// its mapped pages need not stay beside it.
pub fn snapshot_objects(
    payload: &[u8],
    encrypted: bool,
    deks: &[Dek],
    release: &dyn Fn(&[u8]),
    sink: &mut dyn FnMut(SnapObject),
) -> std::result::Result<SnapState, String> {
    walk(payload, encrypted, deks, release, Some(sink), true, true)
}

fn walk(
    payload: &[u8],
    encrypted: bool,
    deks: &[Dek],
    release: &dyn Fn(&[u8]),
    mut sink: Option<&mut dyn FnMut(SnapObject)>,
    on_wire: bool,
    encoded: bool,
) -> std::result::Result<SnapState, String> {
    use crate::format::cursor::{Cursor, CursorError};
    use prost::encoding::WireType;
    let (plain, dek) =
        open_payload_releasing(payload, encrypted, deks, release).map_err(|e| format!("cannot decrypt: {e}"))?;
    let bad = |e: prost::DecodeError| format!("decrypted data is not an api.Snapshot: {e}");
    let wire = |want: WireType, got: WireType, what: &str| {
        if want == got {
            Ok(())
        } else {
            Err(format!("decrypted data is not an api.Snapshot: {what}: invalid wire type {got:?}, expected {want:?}"))
        }
    };
    let at = |e: CursorError| format!("decrypted data is not an api.Snapshot: {e}");
    let plain = bytes::Bytes::from(plain);
    let mut buf = Cursor::new(&plain, 0);
    let mut wire_sizes = WireSizes { plain: plain.len() as u64, ..Default::default() };
    let mut version: i32 = 0;
    let mut membership: Option<api::ClusterSnapshot> = None;
    let mut counts = [0usize; 10];
    let mut has_store = false;
    let mut scratch = Vec::new();
    while !buf.is_empty() {
        let (tag, wt) = buf.key().map_err(at)?;
        match tag {
            1 => {
                wire(WireType::Varint, wt, "Snapshot.version")?;
                version = buf.varint().map_err(at)? as i32;
            }
            2 => {
                wire(WireType::LengthDelimited, wt, "Snapshot.membership")?;
                let body = buf.delimited().map_err(at)?;
                wire_sizes.membership += body.len() as u64;
                // Merged as the field of a `Snapshot`, where prost's recursion budget is one
                // level less than in a `ClusterSnapshot` decoded alone.
                let mut holder = api::Snapshot { membership: membership.take(), ..Default::default() };
                holder.merge(framed(&mut scratch, &[(2, body.len())], body)).map_err(bad)?;
                membership = holder.membership;
            }
            3 => {
                wire(WireType::LengthDelimited, wt, "Snapshot.store")?;
                has_store = true;
                let body = buf.delimited().map_err(at)?;
                let mut s = Cursor::new(body, buf.offset() - body.len() as u64);
                // The store's objects are found first (field keys and lengths only), then checked
                // on the wire in parallel, then handed over in order. A structural error ends the
                // list; it is returned after the objects before it, as a single pass would.
                let mut objects: Vec<(u32, &[u8])> = Vec::new();
                let mut structural = None;
                while !s.is_empty() {
                    let (tag, wt) = match s.key() {
                        Ok(k) => k,
                        Err(e) => {
                            structural = Some(at(e));
                            break;
                        }
                    };
                    if !(1..=10).contains(&tag) {
                        // A `StoreSnapshot`'s fields have one level less than the top's.
                        if let Err(e) = s.skip_within(tag, wt, STORE_BUDGET) {
                            structural = Some(at(e));
                            break;
                        }
                        continue;
                    }
                    if let Err(e) = wire(WireType::LengthDelimited, wt, "StoreSnapshot") {
                        structural = Some(e);
                        break;
                    }
                    match s.delimited() {
                        Ok(m) => objects.push((tag, m)),
                        Err(e) => {
                            structural = Some(at(e));
                            break;
                        }
                    }
                }
                let sound: Vec<bool> = if on_wire {
                    use rayon::prelude::*;
                    objects
                        .par_iter()
                        .with_min_len(256)
                        .map(|&(tag, m)| {
                            let kind = Kind::STORE_SNAPSHOT_FIELDS[tag as usize - 1];
                            crate::format::wirecheck::check_at(kind.message_name(), m, 2).is_ok()
                        })
                        .collect()
                } else {
                    vec![false; objects.len()]
                };
                for (&(tag, m), sound) in objects.iter().zip(sound) {
                    let framed = crate::format::field_len(m.len() as u64);
                    wire_sizes.kinds[tag as usize - 1].0 += 1;
                    wire_sizes.kinds[tag as usize - 1].1 += framed;
                    let kind = Kind::STORE_SNAPSHOT_FIELDS[tag as usize - 1];
                    if sound {
                        counts[tag as usize - 1] += 1;
                        if let (true, Some(f)) = (encoded, sink.as_mut()) {
                            f(SnapObject::Encoded(kind, plain.slice_ref(m)));
                        }
                        continue;
                    }
                    let o = decode_in_store(tag, m, &mut scratch).map_err(bad)?;
                    counts[tag as usize - 1] += 1;
                    if let Some(f) = sink.as_mut() {
                        f(SnapObject::Decoded(Box::new(o)));
                    }
                }
                if let Some(e) = structural {
                    return Err(e);
                }
            }
            _ => buf.skip(tag, wt).map_err(at)?,
        }
    }
    drop(plain);
    if version != 0 {
        return Err(format!("unknown api.Snapshot version {version}"));
    }
    let objects = if has_store {
        Kind::STORE_SNAPSHOT_FIELDS.iter().zip(counts).map(|(k, v)| (k.plural().to_string(), v)).collect()
    } else {
        BTreeMap::new()
    };
    Ok(SnapState { dek, membership: membership.as_ref().map(Membership::from_snapshot), objects, wire: wire_sizes })
}

/// prost's recursion budget for the fields of a `StoreSnapshot` inside a `Snapshot` (its
/// `DecodeContext` starts at 100 for the top message's fields and loses one per nested message).
const STORE_BUDGET: u32 = 99;

/// `body` as the innermost of nested length-delimited fields `(field number, body length)`,
/// outermost first, written into `scratch`: the bytes of a `Snapshot` that holds only it.
fn framed<'s>(scratch: &'s mut Vec<u8>, path: &[(u32, usize)], body: &[u8]) -> &'s [u8] {
    use prost::encoding::{WireType, encode_key, encode_varint};
    scratch.clear();
    for &(tag, len) in path {
        encode_key(tag, WireType::LengthDelimited, scratch);
        encode_varint(len as u64, scratch);
    }
    scratch.extend_from_slice(body);
    scratch
}

/// Decode store object `m` (of `StoreSnapshot` field `tag`, 1-10) as the whole `Snapshot`'s
/// decoding does: prost's recursion limit is counted from the `Snapshot`, two levels up, so a
/// message decoded alone would be allowed two more levels of nested groups or messages. The
/// object is copied once, behind the keys and lengths of `Snapshot.store` and its field; the
/// error (if any) is prost's own, with that path.
fn decode_in_store(tag: u32, m: &[u8], scratch: &mut Vec<u8>) -> Result<Object, prost::DecodeError> {
    let inner = prost::encoding::key_len(tag) + prost::encoding::encoded_len_varint(m.len() as u64) + m.len();
    let s = api::Snapshot::decode(framed(scratch, &[(3, inner), (tag, m.len())], m))?;
    let mut st = s.store.unwrap_or_default();
    // One object was framed, so its list holds exactly it.
    Ok(match tag {
        1 => Object::Node(st.nodes.pop().unwrap_or_default()),
        2 => Object::Service(st.services.pop().unwrap_or_default()),
        3 => Object::Network(st.networks.pop().unwrap_or_default()),
        4 => Object::Task(st.tasks.pop().unwrap_or_default()),
        5 => Object::Cluster(st.clusters.pop().unwrap_or_default()),
        6 => Object::Secret(st.secrets.pop().unwrap_or_default()),
        7 => Object::Resource(st.resources.pop().unwrap_or_default()),
        8 => Object::Extension(st.extensions.pop().unwrap_or_default()),
        9 => Object::Config(st.configs.pop().unwrap_or_default()),
        _ => Object::Volume(st.volumes.pop().unwrap_or_default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A length-delimited field.
    fn ld(tag: u32, body: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        prost::encoding::encode_key(tag, prost::encoding::WireType::LengthDelimited, &mut b);
        prost::encoding::encode_varint(body.len() as u64, &mut b);
        b.extend_from_slice(body);
        b
    }

    /// `n` empty groups of unknown field 1000, each inside the one before.
    fn groups(n: usize) -> Vec<u8> {
        let mut b = Vec::new();
        for _ in 0..n {
            prost::encoding::encode_key(1000, prost::encoding::WireType::StartGroup, &mut b);
        }
        for _ in 0..n {
            prost::encoding::encode_key(1000, prost::encoding::WireType::EndGroup, &mut b);
        }
        b
    }

    /// Every way of reading a payload object by object, against prost's whole decoding.
    fn walks_agree(snap: &[u8]) -> bool {
        let whole = decode_snapshot(snap, false, &[]).is_ok();
        for on_wire in [false, true] {
            assert_eq!(snapshot_state(snap, false, &[], None, on_wire).is_ok(), whole, "on_wire {on_wire}");
        }
        let mut n = 0;
        assert_eq!(snapshot_state(snap, false, &[], Some(&mut |_| n += 1), false).is_ok(), whole, "with a sink");
        assert_eq!(snapshot_objects(snap, false, &[], &|_| (), &mut |_| ()).is_ok(), whole, "objects");
        whole
    }

    #[test]
    fn the_walk_keeps_prosts_recursion_limit_where_the_whole_decoding_has_it() {
        // Unknown groups nested about 100 deep, at each place the walk reads with something
        // other than the whole `Snapshot` decoder: prost's budget there is 100 less the levels
        // above, and a part decoded alone would have two levels more (found by the fuzz
        // harness's comparison of the walk with `decode_snapshot`).
        /// Where a run of nested groups is put in a snapshot.
        type Place = fn(&[u8]) -> Vec<u8>;
        let places: [(&str, Place); 5] = [
            ("a task", |g| ld(3, &ld(4, g))),
            ("a task's status", |g| ld(3, &ld(4, &ld(9, g)))),
            ("the store", |g| ld(3, g)),
            ("the membership", |g| ld(2, g)),
            ("the top", |g| g.to_vec()),
        ];
        for (what, place) in places {
            let outcomes: Vec<bool> = (94..=101).map(|n| walks_agree(&place(&groups(n)))).collect();
            assert!(outcomes.contains(&true) && outcomes.contains(&false), "{what}: the limit lies in 94..=101");
        }
    }

    #[test]
    fn a_refused_object_says_where_it_sits_as_the_whole_decoding_does() {
        let snap = ld(3, &ld(4, &ld(9, b"\x08")));
        let whole = decode_snapshot(&snap, false, &[]).err().unwrap();
        assert_eq!(snapshot_state(&snap, false, &[], None, true).err(), Some(whole.clone()));
        assert_eq!(snapshot_objects(&snap, false, &[], &|_| (), &mut |_| ()).err(), Some(whole));
    }
}
