//! kmod's binary index format (`modules.dep.bin`, `modules.alias.bin`, ...),
//! which libkmod, and so `modprobe`, reads instead of the text files.
//!
//! The file is a big-endian header (magic `0xB007F457`, version 2.1, root
//! offset) and a trie whose nodes carry an optional prefix (path
//! compression), an optional child table indexed by the next byte, and an
//! optional list of `(priority, value)` pairs sorted by priority. Flags in
//! the high bits of each node offset say which parts are present. Nodes
//! are written children first, so the root comes last. The trie is built
//! and written exactly as `depmod` does, so the same entries give the same
//! bytes.

use std::collections::{btree_map, BTreeMap};

const MAGIC: u32 = 0xB007_F457;
const VERSION: u32 = 0x0002_0001;
const PREFIX: u32 = 0x8000_0000;
const VALUES: u32 = 0x4000_0000;
const CHILDS: u32 = 0x2000_0000;

/// An index being built: keys map to values ordered by priority.
#[derive(Debug, Default)]
pub struct Index {
    root: Node,
}

#[derive(Debug, Default)]
struct Node {
    prefix: Vec<u8>,
    /// Sorted by priority; among equal priorities the latest first.
    values: Vec<(u32, String)>,
    children: BTreeMap<u8, Node>,
}

impl Index {
    /// Adds `value` under `key`. Keys must be 7-bit ASCII, as in kmod;
    /// anything else is left out (no alias or module name needs it).
    pub fn insert(&mut self, key: &str, value: &str, priority: u32) {
        if !key.is_ascii() || key.contains('\0') {
            return;
        }
        let key = key.as_bytes();
        let mut node = &mut self.root;
        let mut i = 0;
        loop {
            let common = node.prefix.iter().zip(&key[i..]).take_while(|(a, b)| a == b).count();
            if common < node.prefix.len() {
                node.split(common);
            }
            i += common;
            let Some(&ch) = key.get(i) else {
                node.add_value(value, priority);
                return;
            };
            node = match node.children.entry(ch) {
                btree_map::Entry::Occupied(child) => child.into_mut(),
                btree_map::Entry::Vacant(slot) => {
                    let mut leaf = Node { prefix: key[i + 1..].to_vec(), ..Node::default() };
                    leaf.add_value(value, priority);
                    slot.insert(leaf);
                    return;
                }
            };
            i += 1;
        }
    }

    /// The index file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_be_bytes());
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        let root = self.root.write(&mut out);
        out[8..12].copy_from_slice(&root.to_be_bytes());
        out
    }
}

impl Node {
    /// Cuts the prefix at `at`: this node keeps `prefix[..at]`, a new
    /// child under `prefix[at]` takes the rest, the values and children.
    fn split(&mut self, at: usize) {
        let tail = self.prefix.split_off(at);
        let child = Node {
            prefix: tail[1..].to_vec(),
            values: std::mem::take(&mut self.values),
            children: std::mem::take(&mut self.children),
        };
        self.children.insert(tail[0], child);
    }

    fn add_value(&mut self, value: &str, priority: u32) {
        let at = self.values.iter().position(|(p, _)| *p >= priority).unwrap_or(self.values.len());
        self.values.insert(at, (priority, value.to_owned()));
    }

    /// Writes the children, then this node; returns its flagged offset.
    fn write(&self, out: &mut Vec<u8>) -> u32 {
        let range = self.children.keys().next().zip(self.children.keys().next_back());
        let child_offsets: Vec<u32> = match range {
            Some((&first, &last)) => {
                (first..=last).map(|c| self.children.get(&c).map_or(0, |child| child.write(out))).collect()
            }
            None => Vec::new(),
        };
        let mut offset = u32::try_from(out.len()).expect("index files stay far below 256 MiB");
        if !self.prefix.is_empty() {
            out.extend_from_slice(&self.prefix);
            out.push(0);
            offset |= PREFIX;
        }
        if let Some((&first, &last)) = range {
            out.extend_from_slice(&[first, last]);
            for child in child_offsets {
                out.extend_from_slice(&child.to_be_bytes());
            }
            offset |= CHILDS;
        }
        if !self.values.is_empty() {
            out.extend_from_slice(&(self.values.len() as u32).to_be_bytes());
            for (priority, value) in &self.values {
                out.extend_from_slice(&priority.to_be_bytes());
                out.extend_from_slice(value.as_bytes());
                out.push(0);
            }
            offset |= VALUES;
        }
        offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads an index back: every `(key, [(priority, value)])`, walking the
    /// trie as libkmod does.
    fn dump(bytes: &[u8]) -> Vec<(String, Vec<(u32, String)>)> {
        let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!((be(0), be(4)), (MAGIC, VERSION));
        let mut out = Vec::new();
        walk(bytes, be(8), String::new(), &mut out);
        out
    }

    fn walk(bytes: &[u8], offset: u32, mut key: String, out: &mut Vec<(String, Vec<(u32, String)>)>) {
        let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        let cstr = |at: usize| {
            let end = at + bytes[at..].iter().position(|&b| b == 0).unwrap();
            (String::from_utf8(bytes[at..end].to_vec()).unwrap(), end + 1)
        };
        let mut at = (offset & 0x0fff_ffff) as usize;
        if offset & PREFIX != 0 {
            let (prefix, next) = cstr(at);
            key.push_str(&prefix);
            at = next;
        }
        let mut children = Vec::new();
        if offset & CHILDS != 0 {
            let (first, last) = (bytes[at], bytes[at + 1]);
            at += 2;
            for c in first..=last {
                children.push((c, be(at)));
                at += 4;
            }
        }
        if offset & VALUES != 0 {
            let count = be(at);
            at += 4;
            let mut values = Vec::new();
            for _ in 0..count {
                let priority = be(at);
                let (value, next) = cstr(at + 4);
                values.push((priority, value));
                at = next;
            }
            out.push((key.clone(), values));
        }
        for (c, child) in children.into_iter().filter(|(_, o)| *o != 0) {
            walk(bytes, child, format!("{key}{}", c as char), out);
        }
    }

    #[test]
    fn every_key_reads_back_with_its_values_in_priority_order() {
        let mut index = Index::default();
        let entries =
            [("once", "3", 5), ("ask", "1", 0), ("on", "2", 1), ("one", "4", 2), ("ate", "5", 0), ("on", "0", 0)];
        for (key, value, priority) in entries {
            index.insert(key, value, priority);
        }
        index.insert("on", "later", 1);
        index.insert("caf\u{e9}", "skipped", 0);
        let dumped = dump(&index.to_bytes());
        let expected = [
            ("ask", vec![(0, "1")]),
            ("ate", vec![(0, "5")]),
            ("on", vec![(0, "0"), (1, "later"), (1, "2")]),
            ("once", vec![(5, "3")]),
            ("one", vec![(2, "4")]),
        ];
        let expected: Vec<(String, Vec<(u32, String)>)> = expected
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_iter().map(|(p, s)| (p, s.to_owned())).collect()))
            .collect();
        assert_eq!(dumped, expected);
    }

    #[test]
    fn an_empty_index_is_just_a_header_and_an_empty_root() {
        assert_eq!(Index::default().to_bytes(), [0xb0, 0x07, 0xf4, 0x57, 0, 2, 0, 1, 0, 0, 0, 12]);
    }
}
