//! Streamed JSON: documents and NDJSON records serialized straight into a writer, never built
//! whole as a `serde_json::Value`. Per-object `Value`s (one task as the Docker API prints it)
//! are made, written and dropped one at a time.
//!
//! Invariants:
//! - [`pretty`] writes exactly the bytes `serde_json::to_string_pretty` gives for the same data,
//!   plus a newline, whether the data is a `Value` or a `Serialize` type that yields it lazily
//!   ([`Seq`], the documents' own `Serialize` impls): serde_json's pretty printer sees the same
//!   calls either way (an array or object is `[]`/`{}` when empty, whatever length it announced);
//! - [`line()`] writes one compact JSON value and a newline; the value holds no newline (JSON
//!   escapes them inside strings), so every line of NDJSON output is one record.

use serde::{Serialize, Serializer};
use std::io::{self, Write};

/// A JSON array whose elements are produced when it is serialized: `Seq(|| items.iter().map(f))`
/// writes `[f(a), f(b), ...]` without collecting them.
pub struct Seq<F>(pub F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: IntoIterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

/// One NDJSON record of a stream that holds several kinds: `{"kind": ..., "object": ...}`.
#[derive(Serialize)]
pub struct Record<'a, T: Serialize> {
    /// What the record is (`header`, an object kind, `created`, ...).
    pub kind: &'a str,
    /// The record's content.
    pub object: T,
}

/// Write `v` pretty-printed (two-space indent) and a newline.
pub fn pretty<W: Write + ?Sized, T: Serialize + ?Sized>(w: &mut W, v: &T) -> io::Result<()> {
    // serde_json writes a document in many small pieces: buffered here, each is a copy into a
    // concrete buffer rather than a call through the caller's (often dynamic) writer.
    let mut b = io::BufWriter::with_capacity(1 << 16, &mut *w);
    serde_json::to_writer_pretty(&mut b, v)?;
    b.write_all(b"\n")?;
    b.flush()
}

/// Write `v` as one compact line (an NDJSON record).
pub fn line<W: Write + ?Sized, T: Serialize + ?Sized>(w: &mut W, v: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *w, v)?;
    w.write_all(b"\n")
}

/// serde_json's two-space pretty printer started `depth` levels deep: a value printed with it is,
/// byte for byte, what [`serde_json::to_string_pretty`] prints for that value nested `depth`
/// levels inside a document. Lets parts of one document be printed apart (in parallel) and
/// joined.
struct PrettyAt {
    indent: usize,
    has_value: bool,
}

impl PrettyAt {
    fn newline<W: Write + ?Sized>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..self.indent {
            w.write_all(b"  ")?;
        }
        Ok(())
    }
}

impl PrettyAt {
    /// `[` or `{`: one level deeper, nothing in it yet.
    fn open<W: Write + ?Sized>(&mut self, w: &mut W, c: &[u8]) -> io::Result<()> {
        self.indent += 1;
        self.has_value = false;
        w.write_all(c)
    }
    /// `]` or `}`: on its own line when something was in it.
    fn close<W: Write + ?Sized>(&mut self, w: &mut W, c: &[u8]) -> io::Result<()> {
        self.indent -= 1;
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(c)
    }
    /// Before an element or a key: a comma after the first, then a new line.
    fn item<W: Write + ?Sized>(&self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }
}

impl serde_json::ser::Formatter for PrettyAt {
    fn begin_array<W: Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }
    fn end_array<W: Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }
    fn begin_array_value<W: Write + ?Sized>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }
    fn end_array_value<W: Write + ?Sized>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }
    fn end_object<W: Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }
    fn begin_object_key<W: Write + ?Sized>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }
    fn begin_object_value<W: Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
    fn end_object_value<W: Write + ?Sized>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// Append `v` pretty-printed as it appears `depth` levels deep in a document.
fn pretty_at<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T, depth: usize) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, PrettyAt { indent: depth, has_value: false });
    v.serialize(&mut ser).map_err(io::Error::other)
}

/// How many items a parallel window renders before its bytes are written: bounds the memory
/// held by rendered-but-unwritten output (about 9 MB for synth's tasks: 310 MB of JSON for
/// 68,000 of them is 4.5 KB each).
const WINDOW: usize = 2048;
/// Items per rayon job inside a window.
const CHUNK: usize = 64;

/// Render items `0..n` with `render` on the rayon pool, a window at a time, and hand each
/// chunk's bytes to `sink` in item order: the output is what rendering them one by one in
/// order would give.
pub fn par_ordered<R, S>(n: usize, render: R, mut sink: S) -> io::Result<()>
where
    R: Fn(usize, &mut Vec<u8>) -> io::Result<()> + Sync,
    S: FnMut(&[u8]) -> io::Result<()>,
{
    use rayon::prelude::*;
    // One buffer per chunk of a window, kept from window to window: after the first window
    // they have grown to size, so rendering neither reallocates nor faults in fresh pages.
    let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); n.min(WINDOW).div_ceil(CHUNK)];
    let mut start = 0;
    while start < n {
        let end = (start + WINDOW).min(n);
        let used = (end - start).div_ceil(CHUNK);
        bufs.get_mut(..used).unwrap_or_default().par_iter_mut().enumerate().try_for_each(|(j, b)| {
            b.clear();
            let c = start + j * CHUNK;
            (c..(c + CHUNK).min(end)).try_for_each(|i| render(i, b))
        })?;
        for b in bufs.iter().take(used) {
            sink(b)?;
        }
        start = end;
    }
    Ok(())
}

/// A pretty JSON object written member by member into `w`: the bytes [`pretty`] writes for the
/// same members (two-space indent, a newline after the closing brace). Arrays of many objects
/// ([`PrettyObject::array`]) are printed in parallel.
pub struct PrettyObject<'w, W: Write + ?Sized> {
    w: &'w mut W,
    first: bool,
    buf: Vec<u8>,
}

impl<'w, W: Write + ?Sized> PrettyObject<'w, W> {
    /// Start the object.
    pub fn new(w: &'w mut W) -> io::Result<PrettyObject<'w, W>> {
        w.write_all(b"{")?;
        Ok(PrettyObject { w, first: true, buf: Vec::new() })
    }

    fn key(&mut self, key: &str) -> io::Result<()> {
        self.w.write_all(if self.first { b"\n  " } else { b",\n  " })?;
        self.first = false;
        serde_json::to_writer(&mut *self.w, key)?;
        self.w.write_all(b": ")
    }

    /// One member.
    pub fn member<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> io::Result<()> {
        self.key(key)?;
        self.buf.clear();
        pretty_at(&mut self.buf, v, 1)?;
        self.w.write_all(&self.buf)
    }

    /// One member that is an array of the items `item(0..n)` gives (`None`: left out), each
    /// made and printed on the rayon pool, written in order.
    pub fn array<T, F>(&mut self, key: &str, n: usize, item: F) -> io::Result<()>
    where
        T: Serialize,
        F: Fn(usize) -> Option<T> + Sync,
    {
        self.key(key)?;
        let mut any = false;
        let w = &mut *self.w;
        w.write_all(b"[")?;
        par_ordered(
            n,
            |i, b| match item(i) {
                Some(v) => {
                    b.extend_from_slice(b",\n    ");
                    pretty_at(b, &v, 2)
                }
                None => Ok(()),
            },
            |part| {
                // Every element is written with a leading comma; the document's first has none.
                let part = if any { part } else { part.get(1..).unwrap_or_default() };
                any |= !part.is_empty();
                w.write_all(part)
            },
        )?;
        w.write_all(if any { b"\n  ]" } else { b"]" })
    }

    /// Close the object (and the document's line).
    pub fn end(self) -> io::Result<()> {
        self.w.write_all(if self.first { b"}\n" } else { b"\n}\n" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_printed_in_parallel_parts_equal_the_whole_document() {
        let item = |i: usize| json!({"i": i, "nested": {"a": [i, {"b": []}], "e": {}}, "s": "x\ny"});
        for n in [0usize, 1, 2, CHUNK - 1, CHUNK, CHUNK + 1, WINDOW, WINDOW + CHUNK + 3] {
            for skip in [usize::MAX, 0, 1, 5] {
                let keep = |i: usize| skip == usize::MAX || i % 7 != skip;
                let items: Vec<_> = (0..n).filter(|&i| keep(i)).map(item).collect();
                let v = json!({"a": 1, "items": items, "empty": [], "tail": {"x": [1, 2]}});
                let want = serde_json::to_string_pretty(&v).unwrap() + "\n";
                let mut got = Vec::new();
                let mut o = PrettyObject::new(&mut got).unwrap();
                o.member("a", &1).unwrap();
                o.array("items", n, |i| keep(i).then(|| item(i))).unwrap();
                o.array("empty", 3, |_| None::<u8>).unwrap();
                o.member("tail", &json!({"x": [1, 2]})).unwrap();
                o.end().unwrap();
                assert_eq!(String::from_utf8(got).unwrap(), want, "n {n} skip {skip}");
            }
        }
        let mut got = Vec::new();
        PrettyObject::new(&mut got).unwrap().end().unwrap();
        assert_eq!(got, b"{}\n");
    }

    #[test]
    fn lazy_documents_print_as_their_values() {
        let items = [json!({"a": 1, "b": [1, 2]}), json!({"c": {}}), json!([])];
        for n in 0..=items.len() {
            let v = json!({"x": 1, "items": items[..n], "empty": []});
            let want = serde_json::to_string_pretty(&v).unwrap() + "\n";
            #[derive(Serialize)]
            struct Doc<'a> {
                x: u8,
                items: Seq<Box<dyn Fn() -> std::slice::Iter<'a, serde_json::Value> + 'a>>,
                empty: Seq<fn() -> std::iter::Empty<u8>>,
            }
            let lazy = Seq(Box::new(|| items[..n].iter()) as Box<dyn Fn() -> _>);
            // A filtered iterator announces no length: same bytes.
            let filtered = Seq(|| items[..n].iter().filter(|_| true));
            let doc = Doc { x: 1, items: lazy, empty: Seq(std::iter::empty) };
            let mut got = Vec::new();
            pretty(&mut got, &doc).unwrap();
            assert_eq!(String::from_utf8(got).unwrap(), want);
            let mut got = Vec::new();
            pretty(&mut got, &filtered).unwrap();
            assert_eq!(String::from_utf8(got).unwrap(), serde_json::to_string_pretty(&v["items"]).unwrap() + "\n");
        }
        let mut l = Vec::new();
        line(&mut l, &Record { kind: "task", object: json!({"a": "x\ny"}) }).unwrap();
        assert_eq!(l, b"{\"kind\":\"task\",\"object\":{\"a\":\"x\\ny\"}}\n");
    }
}
