use std::io::Write;

use super::*;

/// A tiny x86-64 ELF executable with one PT_LOAD segment.
fn fake_vmlinux() -> Vec<u8> {
    let mut elf = vec![0u8; 64 + 56];
    elf[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
    elf[0x10..0x12].copy_from_slice(&elf::ET_EXEC.to_le_bytes());
    elf[0x12..0x14].copy_from_slice(&elf::EM_X86_64.to_le_bytes());
    elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
    elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
    elf[64..68].copy_from_slice(&1u32.to_le_bytes());
    elf.extend(std::iter::repeat_n(0x90, 5000));
    elf
}

/// Wraps `payload` in a boot sector and setup header the way the kernel
/// build lays out a bzImage, with `setup_sects` as given.
fn bzimage(payload: &[u8], setup_sects: u8) -> Vec<u8> {
    let sects = if setup_sects == 0 { 4 } else { usize::from(setup_sects) };
    let pm_start = (sects + 1) * 512;
    let mut image = vec![0u8; pm_start + 100];
    image[SETUP_SECTS] = setup_sects;
    image[MAGIC_AT..MAGIC_AT + 4].copy_from_slice(HEADER_MAGIC);
    image[VERSION_AT..VERSION_AT + 2].copy_from_slice(&0x020fu16.to_le_bytes());
    let version = b"6.1.0-test-amd64 (someone@example) #1 SMP\0";
    image[0x300..0x300 + version.len()].copy_from_slice(version);
    image[KERNEL_VERSION_AT..KERNEL_VERSION_AT + 2].copy_from_slice(&0x100u16.to_le_bytes());
    image[PAYLOAD_OFFSET_AT..PAYLOAD_OFFSET_AT + 4].copy_from_slice(&100u32.to_le_bytes());
    image[PAYLOAD_LENGTH_AT..PAYLOAD_LENGTH_AT + 4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    image.extend_from_slice(payload);
    image.extend_from_slice(b"decompressor code after the payload");
    image
}

fn with_size(mut compressed: Vec<u8>, size: usize) -> Vec<u8> {
    compressed.extend_from_slice(&(size as u32).to_le_bytes());
    compressed
}

fn payloads(vmlinux: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(vmlinux).unwrap();
    vec![
        // gzip carries the size in its own trailer: nothing is appended.
        ("gzip", gz.finish().unwrap()),
        ("xz", with_size(liblzma::encode_all(vmlinux, 6).unwrap(), vmlinux.len())),
        ("zstd", with_size(zstd::encode_all(vmlinux, 19).unwrap(), vmlinux.len())),
        ("uncompressed", vmlinux.to_vec()),
    ]
}

#[test]
fn extracts_every_supported_format() {
    let vmlinux = fake_vmlinux();
    for (name, payload) in payloads(&vmlinux) {
        for sects in [0, 27, 39] {
            let image = bzimage(&payload, sects);
            assert_eq!(extract_vmlinux(&image).unwrap(), vmlinux, "{name}, setup_sects {sects}");
            assert_eq!(kernel_version(&image).unwrap(), "6.1.0-test-amd64");
        }
    }
}

#[test]
fn a_wrong_recorded_size_is_caught() {
    let vmlinux = fake_vmlinux();
    let payload = with_size(zstd::encode_all(&vmlinux[..], 3).unwrap(), vmlinux.len() + 1);
    let err = extract_vmlinux(&bzimage(&payload, 27)).unwrap_err();
    assert!(matches!(err, Error::SizeMismatch { expected, got, .. } if expected == got + 1), "{err}");
    let payload = with_size(zstd::encode_all(&vmlinux[..], 3).unwrap(), vmlinux.len() - 1);
    let err = extract_vmlinux(&bzimage(&payload, 27)).unwrap_err();
    let (got, recorded) = (vmlinux.len(), vmlinux.len() - 1);
    assert_eq!(
        err.to_string(),
        format!("the kernel payload decompressed to {got} bytes, but the image records {recorded}\nhint: the kernel image is corrupt")
    );
}

#[test]
fn other_formats_are_named_in_the_error() {
    for (magic, name) in [(&b"\x02\x21\x4c\x18rest"[..], "lz4"), (b"\x5d\x00\x00\x80", "lzma"), (b"BZh91AY", "bzip2")] {
        let err = extract_vmlinux(&bzimage(magic, 27)).unwrap_err();
        assert!(matches!(err, Error::UnsupportedCompression { format } if format == name), "{err}");
        assert!(err.to_string().contains(&format!("is {name}-compressed")), "{err}");
        assert!(err.to_string().contains("hint: use a kernel built with CONFIG_KERNEL_ZSTD"), "{err}");
    }
    let err = extract_vmlinux(&bzimage(b"????", 27)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the kernel payload starts with [3f, 3f, 3f, 3f], which is no known compression format"
    );
}

#[test]
fn not_a_bzimage() {
    let vmlinux = fake_vmlinux();
    let err = extract_vmlinux(&vmlinux).unwrap_err();
    assert_eq!(err.to_string(), "not an x86 bzImage: no `HdrS` magic at 0x202");
    assert!(extract_vmlinux(b"short").unwrap_err().to_string().contains("5 bytes is too short"));
    let mut old = bzimage(&vmlinux, 27);
    old[VERSION_AT..VERSION_AT + 2].copy_from_slice(&0x0204u16.to_le_bytes());
    assert!(extract_vmlinux(&old).unwrap_err().to_string().contains("boot protocol 2.04 is older than 2.08"));
    let mut truncated = bzimage(&vmlinux, 27);
    truncated.truncate(28 * 512 + 100 + 10);
    assert!(matches!(extract_vmlinux(&truncated).unwrap_err(), Error::PayloadOutOfBounds { .. }));
}

#[test]
fn the_payload_must_be_an_x86_64_executable() {
    let mut arm = fake_vmlinux();
    arm[0x12..0x14].copy_from_slice(&183u16.to_le_bytes());
    let err = extract_vmlinux(&bzimage(&arm, 27)).unwrap_err();
    assert_eq!(err.to_string(), "the decompressed kernel is not a usable ELF file: machine 183 is not x86-64 (62)");
    let mut no_load = fake_vmlinux();
    no_load[64..68].copy_from_slice(&0u32.to_le_bytes());
    let err = extract_vmlinux(&bzimage(&no_load, 27)).unwrap_err();
    assert!(err.to_string().ends_with("it has no loadable segments"), "{err}");
}
