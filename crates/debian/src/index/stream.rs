//! Parsing index files while they decompress. One thread decodes and cuts
//! the text into blocks at paragraph boundaries; the others parse each
//! block as it comes. The blocks are kept until the pieces are merged (the
//! parsed names borrow from them), so memory is that of the whole text, as
//! with [`super::Index::parse_many`].

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use super::chunk::{self, Parsed, Piece};
use super::{open_index, text_of, too_big, Index, IndexError, MAX_INDEX_BYTES};

/// Text handed to a parser at a time, about: a 56 MB index makes 14.
const BLOCK: usize = 4 << 20;

/// One verified index file to read.
#[derive(Clone, Copy, Debug)]
pub struct IndexFile<'p> {
    /// How errors name it, e.g. `trixie/main`.
    pub origin: &'p str,
    /// The file, e.g. a cache entry.
    pub path: &'p Path,
    /// Its name in the suite, whose extension says how it is compressed,
    /// e.g. `main/binary-amd64/Packages.xz`.
    pub name: &'p str,
}

/// A block of one file's text, and how many lines of that file precede it.
struct Block {
    file: usize,
    text: String,
    lines_before: usize,
}

pub(super) fn read(files: &[IndexFile<'_>]) -> Result<Index, IndexError> {
    let slots_per_file = (MAX_INDEX_BYTES as usize).div_ceil(BLOCK) + 2;
    let blocks: Vec<OnceLock<Block>> = (0..slots_per_file * files.len()).map(|_| OnceLock::new()).collect();
    let parsers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(2, 8) - 1;
    let (ready, next) = mpsc::channel::<usize>();
    let next = Mutex::new(next);
    let (decoded, parsed) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..parsers)
            .map(|_| {
                let (next, blocks) = (&next, &blocks);
                scope.spawn(move || {
                    let mut out = Vec::new();
                    loop {
                        let slot = next.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
                        let Ok(slot) = slot else { return out };
                        let block = blocks[slot].get().expect("a slot is sent once filled");
                        let piece = Piece {
                            origin: files[block.file].origin,
                            text: &block.text,
                            lines_before: block.lines_before,
                        };
                        out.push((slot, chunk::parse(&piece, chunk::count_packages(&block.text))));
                    }
                })
            })
            .collect();
        let decoded = decode(files, &blocks, &ready);
        drop(ready);
        let mut parsed: Vec<(usize, Result<Parsed<'_>, IndexError>)> = Vec::new();
        for worker in workers {
            parsed.extend(worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        (decoded, parsed)
    });
    decoded?;
    let mut parsed = parsed;
    parsed.sort_by_key(|(slot, _)| *slot);
    let pieces = parsed.into_iter().map(|(_, p)| p).collect::<Result<Vec<_>, _>>()?;
    Ok(Index::merge(pieces))
}

/// Decodes each file into blocks, filling slots in order and sending each
/// slot's number once it is filled.
fn decode(files: &[IndexFile<'_>], blocks: &[OnceLock<Block>], ready: &mpsc::Sender<usize>) -> Result<(), IndexError> {
    let mut slot = 0;
    for (file, index) in files.iter().enumerate() {
        let io = |source| IndexError::Io { path: index.path.to_owned(), source };
        let mut reader = open_index(index.path, index.name)?;
        let (mut buf, mut total, mut lines_before) = (Vec::with_capacity(BLOCK + BLOCK / 4), 0u64, 0);
        loop {
            let start = buf.len();
            buf.resize(start + BLOCK / 4, 0);
            let n = loop {
                match reader.read(&mut buf[start..]) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    other => break other.map_err(io)?,
                }
            };
            buf.truncate(start + n);
            total += n as u64;
            if total > MAX_INDEX_BYTES {
                return Err(too_big(index.path, index.name));
            }
            let end = n == 0;
            // A block ends after a blank line (the last one of the file
            // ends where the file does).
            let cut = match end {
                true => buf.len(),
                false if buf.len() < BLOCK => continue,
                false => match memchr::memmem::rfind(&buf, b"\n\n") {
                    Some(gap) => gap + 2,
                    None => continue,
                },
            };
            if cut > 0 {
                let rest = buf.split_off(cut);
                let text = text_of(std::mem::replace(&mut buf, rest));
                let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count();
                let _ = blocks[slot].set(Block { file, text, lines_before });
                lines_before += lines;
                // No parser left means one failed: its error is reported.
                let _ = ready.send(slot);
                slot += 1;
            }
            if end {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> String {
        let sha = "0".repeat(64);
        (0..n)
            .map(|i| {
                format!(
                    "Package: p{i}\nVersion: 1\nArchitecture: all\nDepends: q{}\nProvides: v{}\nFilename: f\nSize: 1\nSHA256: {sha}\nDescription: {}\n\n",
                    n - i,
                    i % 7,
                    "x".repeat(i % 300)
                )
            })
            .collect()
    }

    fn names(index: &Index) -> Vec<(String, Option<usize>)> {
        index.packages().iter().map(|p| (p.name.clone(), index.first_seen(&p.name))).collect()
    }

    #[test]
    fn read_while_decoding_is_parse_many() {
        let dir = tempfile::tempdir().unwrap();
        // Big enough for several blocks; xz-compressed, and a plain second
        // file, as two components.
        let (a, b) = (text(40_000), text(300));
        let xz = dir.path().join("a.xz");
        let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 0);
        std::io::Write::write_all(&mut enc, a.as_bytes()).unwrap();
        std::fs::write(&xz, enc.finish().unwrap()).unwrap();
        let plain = dir.path().join("b");
        std::fs::write(&plain, &b).unwrap();
        assert!(a.len() > 3 * BLOCK, "{} bytes", a.len());
        let files = [
            IndexFile { origin: "s/main", path: &xz, name: "main/Packages.xz" },
            IndexFile { origin: "s/contrib", path: &plain, name: "contrib/Packages" },
        ];
        let streamed = Index::read(&files).unwrap();
        let whole = Index::parse_many([("s/main", a.as_str()), ("s/contrib", b.as_str())]).unwrap();
        assert_eq!(streamed.len(), 40_300);
        assert_eq!(names(&streamed), names(&whole));
        assert_eq!(streamed.packages(), whole.packages());
        assert_eq!(streamed.providers("v3").count(), whole.providers("v3").count());
    }

    #[test]
    fn errors_name_the_file_and_the_real_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = text(30_000);
        let line = memchr::memchr_iter(b'\n', t.as_bytes()).count() + 1;
        t.push_str("Package: broken\nno colon here\n\n");
        let path = dir.path().join("Packages");
        std::fs::write(&path, &t).unwrap();
        let err = Index::read(&[IndexFile { origin: "s/main", path: &path, name: "main/Packages" }]).unwrap_err();
        let whole = Index::parse("s/main", &t).unwrap_err();
        assert_eq!(err.to_string(), whole.to_string());
        assert!(err.to_string().contains(&format!("{}", line + 1)), "{err}");
    }
}
