use super::*;

fn fields<'a>(name: &'a str, xattrs: &'a BTreeMap<String, Vec<u8>>) -> Fields<'a> {
    Fields { name, linkname: "", typeflag: b'0', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, dev: (0, 0), xattrs }
}

/// The PAX records of an encoded member, or "" when it has none.
fn pax_text(blocks: &[u8]) -> String {
    if blocks[TYPEFLAG] != b'x' {
        return String::new();
    }
    let size = usize::from_str_radix(std::str::from_utf8(&blocks[SIZE][..11]).unwrap(), 8).unwrap();
    String::from_utf8_lossy(&blocks[BLOCK..BLOCK + size]).into_owned()
}

#[test]
fn record_length_counts_itself() {
    for value_len in [0, 1, 4, 5, 90, 91, 92, 93, 94, 95, 995, 996, 997] {
        let mut pax = Vec::new();
        record(&mut pax, "path", &vec![b'a'; value_len]);
        let (len, _) = std::str::from_utf8(&pax).unwrap().split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), pax.len(), "value of {value_len} bytes");
    }
}

#[test]
fn split_prefers_longest_prefix_and_never_the_trailing_slash() {
    let dir = format!("{}/{}/", "a".repeat(60), "b".repeat(60));
    assert_eq!(split_name(&dir), Some((&dir[..60], &dir[61..])));
    let one_component = format!("{}/", "c".repeat(120));
    assert_eq!(split_name(&one_component), None);
    let long = format!("{}/{}", "d".repeat(156), "e".repeat(10));
    assert_eq!(split_name(&long), None, "prefix would be 156 bytes");
    let tail = format!("{}/{}", "f".repeat(10), "g".repeat(101));
    assert_eq!(split_name(&tail), None, "name part would be 101 bytes");
}

#[test]
fn fitting_member_is_one_block_with_valid_checksum() {
    let none = BTreeMap::new();
    let blocks = encode(&fields("usr/bin/x", &none));
    assert_eq!(blocks.len(), BLOCK);
    let stored = u32::from_str_radix(std::str::from_utf8(&blocks[CHKSUM][..6]).unwrap(), 8).unwrap();
    let mut spaced = blocks.clone();
    spaced[CHKSUM].fill(b' ');
    assert_eq!(stored, spaced.iter().map(|&b| u32::from(b)).sum::<u32>());
    assert_eq!(&blocks[CHKSUM][6..], b"\0 ");
    assert_eq!(&blocks[MAGIC], b"ustar\x0000");
}

#[test]
fn overflowing_values_go_to_pax_with_zero_in_the_field() {
    let none = BTreeMap::new();
    let mut f = fields("big", &none);
    f.size = 9 << 30;
    f.uid = 4_000_000_000;
    f.mtime = -1;
    let blocks = encode(&f);
    let pax = pax_text(&blocks);
    assert!(pax.contains(" size=9663676416\n"), "{pax}");
    assert!(pax.contains(" uid=4000000000\n"), "{pax}");
    assert!(pax.contains(" mtime=-1\n"), "{pax}");
    let member = &blocks[blocks.len() - BLOCK..];
    assert_eq!(&member[SIZE], b"00000000000\0");
    assert_eq!(&member[UID], b"0000000\0");
    assert_eq!(&member[0..3], b"big");
    assert_eq!(&blocks[0..18], b"PaxHeaders/big\0\0\0\0");
}

#[test]
fn largest_octal_values_need_no_pax() {
    let none = BTreeMap::new();
    let mut f = fields("x", &none);
    f.uid = 0o7777777;
    f.mtime = 0o77777777777;
    f.dev = (4095, 1_048_575);
    assert_eq!(encode(&f).len(), BLOCK);
}
