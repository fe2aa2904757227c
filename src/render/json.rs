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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
