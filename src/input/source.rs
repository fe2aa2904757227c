//! Read-only access to the input: a swarm dir, a raft dir, a bare dir of `.wal`/`.snap` files,
//! or a `.tar`/`.tar.gz` backup of a swarm dir.
//!
//! Invariants:
//! - The input is never opened for writing, never locked, never renamed or truncated. Files in a
//!   directory are opened with `File::open` (read-only) and memory-mapped read-only, or read into
//!   memory with `--no-mmap`. A tarball is streamed once and the files we need are kept in memory;
//!   nothing is extracted to disk.
//! - Every file is addressed by a path relative to the *swarm root* (`raft/...`,
//!   `certificates/...`), whatever the input kind, so later layers do not care where bytes came
//!   from. [`Source::display`] turns such a path back into what the user should see.
//! - Memory stays flat over big inputs: callers that are done with a range of a memory-mapped
//!   file hand it to [`Source::release`], which drops those pages from this process's resident
//!   set (`madvise(MADV_DONTNEED)` on a read-only shared file mapping: the file and the page
//!   cache are untouched, a later read faults the same bytes back in). Only ranges inside a
//!   mapping this `Source` made are released; heap buffers (`--no-mmap`, tarballs) never are.

use crate::error::{Error, Result};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What kind of thing the user pointed us at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    /// `/var/lib/docker/swarm` (has `raft/`).
    SwarmDir,
    /// The `raft/` dir itself.
    RaftDir,
    /// A directory holding `.wal` and/or `.snap` files directly.
    BareDir,
    /// A `.tar` or `.tar.gz` backup.
    Tarball,
}

/// How to read files from a directory.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// Read files into memory instead of memory-mapping them.
    pub no_mmap: bool,
}

#[derive(Debug)]
enum Backing {
    /// Real files under this root directory.
    Dir(PathBuf),
    /// In-memory files from a tarball.
    Memory(BTreeMap<String, Bytes>),
}

/// One file listed in the input.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path relative to the swarm root, `/`-separated.
    pub rel: String,
    /// Size in bytes.
    pub size: u64,
    /// True for directories.
    pub is_dir: bool,
}

/// Where a tarball ends before its end-of-archive marker: a backup cut short (an interrupted
/// copy, a full disk) or unreadable past a point.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TarTruncation {
    /// Offset in the (decompressed) tar stream where reading stopped.
    pub offset: u64,
    /// Size of the archive file.
    pub file_size: u64,
    /// What stopped the reading (the reader's error, or no end-of-archive marker).
    pub reason: String,
    /// Member names (as in the archive) read whole.
    pub whole: Vec<String>,
    /// The member the archive ends inside: (name, header offset, size in its header, bytes there).
    pub partial: Option<(String, u64, u64, u64)>,
    /// Whether the partial member's bytes were kept (WAL segments only: etcd's reader, and ours,
    /// handle a segment cut short).
    pub partial_kept: bool,
}

/// A reader that counts the bytes taken from it.
struct Counted<R> {
    inner: R,
    n: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.set(self.n.get() + k as u64);
        Ok(k)
    }
}

/// The opened input.
#[derive(Debug)]
pub struct Source {
    /// What the user gave us.
    pub input: PathBuf,
    /// The kind of input.
    pub kind: InputKind,
    /// Display prefix for relative paths (the swarm root, or `tarball:prefix`).
    display_root: String,
    backing: Backing,
    /// Every file and directory below the swarm root, sorted by path.
    pub entries: Vec<Entry>,
    opts: ReadOptions,
    /// Address ranges `[start, end)` of the file mappings made by [`Source::read`].
    mapped: std::sync::Mutex<Vec<(usize, usize)>>,
    /// A tarball that ends before its end-of-archive marker: what is whole was kept.
    pub truncated: Option<TarTruncation>,
}

/// Files we keep from a tarball. Everything else is only listed (worker/tasks.db can be big).
/// `name` is the member name before the swarm-root prefix is known, so match path components.
fn wanted_from_tar(name: &str) -> bool {
    let comp = |c: &str| name.starts_with(&format!("{c}/")) || name.contains(&format!("/{c}/"));
    comp("raft")
        || comp("certificates")
        || name == "state.json"
        || name.ends_with("/state.json")
        || name == "docker-state.json"
        || name.ends_with("/docker-state.json")
        || name.ends_with(".wal")
        || name.ends_with(".snap")
}

const RAFT_MARKERS: &[&str] = &["wal-v3-encrypted", "snap-v3-encrypted", "wal-v3", "snap-v3", "wal", "snap"];

impl Source {
    /// Open PATH, detecting its kind. Fails (tool error) only if nothing readable is there.
    pub fn open(path: &Path, opts: ReadOptions) -> Result<Source> {
        let meta = std::fs::metadata(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
        if meta.is_file() {
            return Self::open_tar(path, opts);
        }
        if !meta.is_dir() {
            return Err(Error::NotSwarmState { path: path.to_path_buf(), why: "not a file or directory".into() });
        }
        let has = |name: &str| path.join(name).exists();
        let (kind, root) = if has("raft") || (has("certificates") && !RAFT_MARKERS.iter().any(|m| has(m))) {
            (InputKind::SwarmDir, path.to_path_buf())
        } else if RAFT_MARKERS.iter().any(|m| path.join(m).is_dir()) {
            // A raft dir: take the parent as swarm root when it looks like one, so keys are found.
            match path.parent() {
                Some(p) if path.file_name().is_some_and(|n| n == "raft") && p.join("certificates").is_dir() => {
                    (InputKind::RaftDir, p.to_path_buf())
                }
                _ => (InputKind::RaftDir, path.to_path_buf()),
            }
        } else {
            let bare = std::fs::read_dir(path)
                .map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?
                .filter_map(|e| e.ok())
                .any(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    n.ends_with(".wal") || n.ends_with(".snap")
                });
            if !bare {
                return Err(Error::NotSwarmState {
                    path: path.to_path_buf(),
                    why: "no raft/ dir, no wal/snap dirs and no .wal/.snap files here: not a swarm dir".into(),
                });
            }
            (InputKind::BareDir, path.to_path_buf())
        };
        let mut entries = Vec::new();
        list_dir(&root, &root, &mut entries, 0)?;
        entries.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(Source {
            input: path.to_path_buf(),
            kind,
            display_root: root.display().to_string(),
            backing: Backing::Dir(root),
            entries,
            opts,
            mapped: Default::default(),
            truncated: None,
        })
    }

    fn open_tar(path: &Path, opts: ReadOptions) -> Result<Source> {
        let io = |e: std::io::Error| Error::Io { path: path.to_path_buf(), source: e };
        let mut f = File::open(path).map_err(io)?;
        let mut magic = [0u8; 2];
        let n = f.read(&mut magic).map_err(io)?;
        drop(f);
        let f = File::open(path).map_err(io)?;
        let reader: Box<dyn Read> = if n == 2 && magic == [0x1f, 0x8b] {
            Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(f)))
        } else {
            Box::new(std::io::BufReader::new(f))
        };
        let file_size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let count = std::rc::Rc::new(std::cell::Cell::new(0u64));
        let mut ar = tar::Archive::new(Counted { inner: reader, n: count.clone() });
        let mut raw: Vec<(String, u64, bool, Option<Bytes>)> = Vec::new();
        let not_tar = |why: String| Error::NotSwarmState { path: path.to_path_buf(), why };
        let bad_tar = |e: std::io::Error| {
            not_tar(format!("not a swarm dir and not a readable tar archive ({})", printable(&e.to_string(), 60)))
        };
        let iter = ar.entries().map_err(bad_tar)?;
        let mut truncated: Option<TarTruncation> = None;
        // End of the last member's data (512-byte blocks): a sound archive has its end-of-archive
        // block after it.
        let mut data_end = 0u64;
        let mut last_header = 0u64;
        let mut last_data = 0u64;
        let cut = |offset: u64, reason: String, raw: &[(String, u64, bool, Option<Bytes>)]| TarTruncation {
            offset,
            file_size,
            reason: printable(&reason, 120),
            whole: raw.iter().filter(|r| !r.2).map(|r| r.0.clone()).collect(),
            partial: None,
            partial_kept: false,
        };
        for ent in iter {
            let mut ent = match ent {
                Ok(e) => e,
                // Nothing read yet: not a tar archive at all.
                Err(e) if raw.is_empty() => return Err(bad_tar(e)),
                Err(e) => {
                    // A member we only listed (its data skipped) ends past the cut: not whole.
                    let partial = if count.get() < data_end { raw.pop() } else { None };
                    let mut t = cut(count.get(), e.to_string(), &raw);
                    t.partial =
                        partial.map(|r| (r.0, last_header, r.1, count.get().saturating_sub(last_data).min(r.1)));
                    truncated = Some(t);
                    break;
                }
            };
            let header_at = ent.raw_header_position();
            last_header = header_at;
            last_data = ent.raw_file_position();
            let size_in_header = ent.header().entry_size().unwrap_or(0);
            data_end = ent.raw_file_position() + size_in_header.div_ceil(512) * 512;
            let p = ent.path().map_err(|e| not_tar(format!("bad tar member name: {e}")))?;
            let name = normalize_tar_path(&p.to_string_lossy());
            if name.is_empty() {
                continue;
            }
            let ty = ent.header().entry_type();
            let is_dir = ty.is_dir();
            // GNU sparse members (`tar -S`, common for the 64 MB preallocated segments) are files too.
            if !(ty.is_file() || ty.is_gnu_sparse() || is_dir) {
                continue;
            }
            let size = ent.header().size().unwrap_or(0);
            let data = if !is_dir && (wanted_from_tar(&name) || looks_relevant(&name)) {
                // Bounded by the real member size; tar gives us no more than it holds.
                let mut v = Vec::with_capacity(size.min(1 << 26) as usize);
                // The tar reader returns a short member without an error when the stream ends
                // inside it: what it took from the stream tells.
                let read = ent.read_to_end(&mut v).map(|_| ()).and_then(|()| {
                    if count.get() < last_data + size_in_header {
                        Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "the stream ends inside this member",
                        ))
                    } else {
                        Ok(())
                    }
                });
                if let Err(e) = read {
                    // The archive ends inside this member: keep a WAL segment's bytes as far as
                    // they go (a segment cut short is judged as one), drop anything else.
                    let mut t = cut(count.get(), e.to_string(), &raw);
                    let keep = name.ends_with(".wal");
                    t.partial = Some((name.clone(), header_at, size, v.len() as u64));
                    t.partial_kept = keep;
                    truncated = Some(t);
                    if keep {
                        let n = v.len() as u64;
                        raw.push((name, n, false, Some(Bytes::from(v))));
                    }
                    break;
                }
                Some(Bytes::from(v))
            } else {
                None
            };
            raw.push((name, size, is_dir, data));
        }
        drop(ar);
        // The entries ended without an error: a sound archive read its end-of-archive block (512
        // zero bytes) after the last member; an archive cut at a member boundary did not.
        if truncated.is_none() && !raw.is_empty() && count.get() < data_end + 512 {
            truncated = Some(cut(count.get(), "no end-of-archive marker after the last member".into(), &raw));
        }
        if raw.is_empty() {
            return Err(not_tar("empty or not a tar archive".into()));
        }
        // Find the swarm root inside: the shortest prefix P such that P/raft/ or P/certificates/ exists,
        // else the directory holding .wal/.snap files.
        let mut prefix: Option<String> = None;
        for (name, _, _, _) in &raw {
            for marker in ["raft/", "certificates/"] {
                if let Some(pos) = find_component(name, marker) {
                    let p = name[..pos].to_string();
                    if prefix.as_ref().is_none_or(|q| p.len() < q.len()) {
                        prefix = Some(p);
                    }
                }
            }
        }
        let kind;
        let prefix = match prefix {
            Some(p) => {
                kind = InputKind::Tarball;
                p
            }
            None => {
                let Some((name, ..)) = raw.iter().find(|(n, ..)| n.ends_with(".wal") || n.ends_with(".snap")) else {
                    return Err(not_tar("no raft/, certificates/ or .wal/.snap files in this archive".into()));
                };
                kind = InputKind::Tarball;
                match name.rfind('/') {
                    Some(i) => {
                        // Bare archive of wal/snap files: the root is the parent of their dir.
                        let dir = &name[..i];
                        match dir.rfind('/') {
                            Some(j) => name[..j + 1].to_string(),
                            None => String::new(),
                        }
                    }
                    None => String::new(),
                }
            }
        };
        let mut files = BTreeMap::new();
        let mut entries = Vec::new();
        for (name, size, is_dir, data) in raw {
            let Some(rel) = name.strip_prefix(&prefix) else { continue };
            let rel = rel.trim_end_matches('/').to_string();
            if rel.is_empty() {
                continue;
            }
            entries.push(Entry { rel: rel.clone(), size, is_dir });
            if let Some(d) = data {
                files.insert(rel, d);
            }
        }
        entries.sort_by(|a, b| a.rel.cmp(&b.rel));
        entries.dedup_by(|a, b| a.rel == b.rel);
        Ok(Source {
            input: path.to_path_buf(),
            kind,
            display_root: format!("{}:{}", path.display(), prefix.trim_end_matches('/')),
            backing: Backing::Memory(files),
            entries,
            opts,
            mapped: Default::default(),
            truncated,
        })
    }

    /// Does a file (not dir) exist at this relative path?
    pub fn exists(&self, rel: &str) -> bool {
        self.entries.iter().any(|e| e.rel == rel && !e.is_dir)
    }

    /// Does a directory exist at this relative path?
    pub fn dir_exists(&self, rel: &str) -> bool {
        let pre = format!("{rel}/");
        self.entries.iter().any(|e| (e.rel == rel && e.is_dir) || e.rel.starts_with(&pre))
    }

    /// Files directly inside directory `rel` ("" for the root), as (name, size).
    pub fn list(&self, rel: &str) -> Vec<(String, u64)> {
        let pre = if rel.is_empty() { String::new() } else { format!("{rel}/") };
        self.entries
            .iter()
            .filter(|e| !e.is_dir)
            .filter_map(|e| {
                let rest = e.rel.strip_prefix(&pre)?;
                (!rest.contains('/')).then(|| (rest.to_string(), e.size))
            })
            .collect()
    }

    /// Subdirectories directly inside `rel`.
    pub fn subdirs(&self, rel: &str) -> Vec<String> {
        let pre = if rel.is_empty() { String::new() } else { format!("{rel}/") };
        let mut out: Vec<String> = self
            .entries
            .iter()
            .filter_map(|e| {
                let rest = e.rel.strip_prefix(&pre)?;
                match rest.find('/') {
                    Some(i) => Some(rest[..i].to_string()),
                    None if e.is_dir => Some(rest.to_string()),
                    None => None,
                }
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Read a whole file, read-only. Directory files are memory-mapped unless `no_mmap`.
    pub fn read(&self, rel: &str) -> Result<Bytes> {
        match &self.backing {
            Backing::Memory(m) => m.get(rel).cloned().ok_or_else(|| Error::Io {
                path: PathBuf::from(self.display(rel)),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not in archive"),
            }),
            Backing::Dir(root) => {
                let b = read_file(&root.join(rel), self.opts)?;
                if !self.opts.no_mmap && !b.is_empty() {
                    let start = b.as_ptr() as usize;
                    if let Ok(mut m) = self.mapped.lock() {
                        m.retain(|&(s, _)| s != start);
                        m.push((start, start + b.len()));
                    }
                }
                Ok(b)
            }
        }
    }

    /// Drop the whole pages inside `data` from the resident set, when `data` lies inside a file
    /// mapping made by [`Source::read`] (otherwise nothing happens). The bytes stay readable:
    /// the next access faults them back in from the page cache or the file.
    pub fn release(&self, data: &[u8]) {
        self.release_span(data.as_ptr() as usize, data.as_ptr() as usize + data.len());
    }

    /// [`Source::release`] by address range `[start, end)`: nothing happens unless the whole range
    /// lies inside one mapping made by [`Source::read`].
    pub fn release_span(&self, start: usize, end: usize) {
        let inside = self.mapped.lock().map(|m| m.iter().any(|&(s, e)| s <= start && end <= e)).unwrap_or(false);
        if inside {
            release_mapped(start, end);
        }
    }

    /// The path to show the user for a relative path.
    pub fn display(&self, rel: &str) -> String {
        match &self.backing {
            Backing::Dir(_) => format!("{}/{}", self.display_root.trim_end_matches('/'), rel),
            Backing::Memory(_) => {
                if self.display_root.ends_with(':') {
                    format!("{}{}", self.display_root, rel)
                } else {
                    format!("{}/{}", self.display_root, rel)
                }
            }
        }
    }

    /// The real directory behind the input, when it is a directory.
    pub fn root_dir(&self) -> Option<&Path> {
        match &self.backing {
            Backing::Dir(p) => Some(p),
            Backing::Memory(_) => None,
        }
    }
}

/// Keep an error text printable and short (tar errors can quote garbage bytes).
fn printable(s: &str, max: usize) -> String {
    let t: String = s.chars().map(|c| if c.is_control() || c == '\u{fffd}' { '?' } else { c }).take(max).collect();
    if s.chars().count() > max { format!("{t}...") } else { t }
}

fn looks_relevant(name: &str) -> bool {
    name.ends_with(".wal")
        || name.ends_with(".snap")
        || name.ends_with("swarm-node.key")
        || name.ends_with("swarm-node.crt")
}

/// Position in `name` where a path component equal to `marker` (e.g. `raft/`) starts.
fn find_component(name: &str, marker: &str) -> Option<usize> {
    if name.starts_with(marker) || name == marker.trim_end_matches('/') {
        return Some(0);
    }
    let needle = format!("/{marker}");
    if let Some(i) = name.find(&needle) {
        return Some(i + 1);
    }
    let bare = format!("/{}", marker.trim_end_matches('/'));
    if name.ends_with(&bare) {
        return Some(name.len() - bare.len() + 1);
    }
    None
}

fn normalize_tar_path(p: &str) -> String {
    let mut s = p.trim_start_matches("./").trim_start_matches('/').to_string();
    while let Some(r) = s.strip_prefix("./") {
        s = r.to_string();
    }
    s
}

fn list_dir(root: &Path, dir: &Path, out: &mut Vec<Entry>, depth: usize) -> Result<()> {
    if depth > 8 {
        return Ok(());
    }
    let rd = std::fs::read_dir(dir).map_err(|e| Error::Io { path: dir.to_path_buf(), source: e })?;
    for ent in rd.flatten() {
        let p = ent.path();
        let Ok(ft) = ent.file_type() else { continue };
        let rel = p.strip_prefix(root).unwrap_or(&p).to_string_lossy().replace('\\', "/");
        if ft.is_dir() {
            out.push(Entry { rel, size: 0, is_dir: true });
            // worker/ holds tasks.db only; still list it.
            list_dir(root, &p, out, depth + 1)?;
        } else if ft.is_file() {
            let size = ent.metadata().map(|m| m.len()).unwrap_or(0);
            out.push(Entry { rel, size, is_dir: false });
        }
    }
    Ok(())
}

fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *PAGE.get_or_init(|| match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 => n as usize,
        _ => 4096,
    })
}

/// `madvise(MADV_DONTNEED)` on the whole pages inside `[start, end)`, which the caller has checked
/// lie inside a live read-only shared file mapping.
fn release_mapped(start: usize, end: usize) {
    let page = page_size();
    let first = start.div_ceil(page) * page;
    let last = end / page * page;
    if last > first {
        // SAFETY: the range is page-aligned and inside a mapping that is still alive (the caller
        // holds a slice of it). The mapping is PROT_READ and MAP_SHARED over a file, so
        // MADV_DONTNEED only drops our page-table entries: no data changes, and later reads fault
        // the file's bytes back in. Failure is harmless (pages stay resident).
        unsafe {
            libc::madvise(first as *mut libc::c_void, last - first, libc::MADV_DONTNEED);
        }
    }
}

/// Read one file read-only: memory-mapped, or into memory with `no_mmap`.
pub fn read_file(path: &Path, opts: ReadOptions) -> Result<Bytes> {
    let io = |e: std::io::Error| Error::Io { path: path.to_path_buf(), source: e };
    let mut f = File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    if len == 0 {
        return Ok(Bytes::new());
    }
    if opts.no_mmap {
        let mut v = Vec::with_capacity(len.min(1 << 30) as usize);
        f.read_to_end(&mut v).map_err(io)?;
        return Ok(Bytes::from(v));
    }
    // SAFETY: the map is read-only and private to us. If another process truncates the file while
    // we hold the map, reads of vanished pages raise SIGBUS; this tool is meant for offline copies
    // or stopped daemons (documented in README), and `--no-mmap` avoids the risk entirely.
    let map = unsafe { memmap2::Mmap::map(&f) }.map_err(io)?;
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(Bytes::from_owner(map))
}

/// The file name of an input, for titles (never the full path: temp dirs would leak into
/// goldens, and the chart should not reveal where the evidence was stored).
pub fn input_name(p: &std::path::Path) -> String {
    let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if n.is_empty() { p.display().to_string() } else { n }
}
