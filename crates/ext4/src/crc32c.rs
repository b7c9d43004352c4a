//! CRC-32C (Castagnoli), the checksum behind ext4's `metadata_csum`.
//!
//! [`crc32c`] is the raw update the kernel's `ext4_chksum` uses: no
//! inversion going in or coming out, so ext4 seeds it with `!0` and stores
//! the result as it is. Slicing by 8 keeps it fast enough to checksum every
//! directory block and inode of a large tree without showing up in
//! profiles.

const POLY: u32 = 0x82f6_3b78;

const TABLES: [[u32; 256]; 8] = tables();

const fn tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ POLY } else { crc >> 1 };
            bit += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

/// Continues the CRC `crc` over `data`, without pre- or post-inversion.
pub(crate) fn crc32c(mut crc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        crc = TABLES[7][(lo & 0xff) as usize]
            ^ TABLES[6][((lo >> 8) & 0xff) as usize]
            ^ TABLES[5][((lo >> 16) & 0xff) as usize]
            ^ TABLES[4][(lo >> 24) as usize]
            ^ TABLES[3][c[4] as usize]
            ^ TABLES[2][c[5] as usize]
            ^ TABLES[1][c[6] as usize]
            ^ TABLES[0][c[7] as usize];
    }
    for &b in chunks.remainder() {
        crc = (crc >> 8) ^ TABLES[0][((crc ^ b as u32) & 0xff) as usize];
    }
    crc
}

/// The seed every checksum of the filesystem starts from: the UUID's CRC.
pub(crate) fn fs_seed(uuid: &[u8; 16]) -> u32 {
    crc32c(!0, uuid)
}

/// The seed of checksums over an inode's own blocks (directory blocks,
/// extent blocks) and the inode itself. Every inode has generation 0.
pub(crate) fn inode_seed(fs_seed: u32, ino: u32) -> u32 {
    crc32c(crc32c(fs_seed, &ino.to_le_bytes()), &0u32.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::crc32c;

    #[test]
    fn matches_the_standard_check_value() {
        // CRC-32C("123456789") is 0xe3069283 with the usual inversions.
        assert_eq!(!crc32c(!0, b"123456789"), 0xe306_9283);
    }

    #[test]
    fn slicing_agrees_with_bytewise_updates() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let bytewise = data.iter().fold(!0u32, |crc, &b| crc32c(crc, &[b]));
        assert_eq!(crc32c(!0, &data), bytewise);
        let split = crc32c(crc32c(!0, &data[..333]), &data[333..]);
        assert_eq!(split, bytewise);
    }
}
