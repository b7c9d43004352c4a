//! Just enough ELF64 (little-endian) to check a vmlinux and to find a
//! module's sections by name. Every offset is bounds-checked: module files
//! come from packages, not from the build host.

const EI_CLASS_64: u8 = 2;
const EI_DATA_LE: u8 = 1;
pub const EM_X86_64: u16 = 62;
pub const ET_REL: u16 = 1;
pub const ET_EXEC: u16 = 2;
const PT_LOAD: u32 = 1;
const HEADER_LEN: usize = 64;
const SECTION_HEADER_LEN: usize = 64;
const PROGRAM_HEADER_LEN: usize = 56;

/// The fields of an ELF64 header that microroot looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub e_type: u16,
    pub machine: u16,
    pub entry: u64,
    phoff: u64,
    phentsize: u16,
    phnum: u16,
    shoff: u64,
    shentsize: u16,
    shnum: u16,
    shstrndx: u16,
}

/// Reads the file header; the error says what is wrong with it.
pub fn header(data: &[u8]) -> Result<Header, String> {
    if data.len() < HEADER_LEN || !data.starts_with(b"\x7fELF") {
        return Err(format!("no ELF magic (starts with {:02x?})", &data[..data.len().min(4)]));
    }
    if data[4] != EI_CLASS_64 {
        return Err(format!("ELF class {} is not ELF64", data[4]));
    }
    if data[5] != EI_DATA_LE {
        return Err("big-endian ELF is not supported".to_owned());
    }
    Ok(Header {
        e_type: u16_at(data, 0x10),
        machine: u16_at(data, 0x12),
        entry: u64_at(data, 0x18),
        phoff: u64_at(data, 0x20),
        shoff: u64_at(data, 0x28),
        phentsize: u16_at(data, 0x36),
        phnum: u16_at(data, 0x38),
        shentsize: u16_at(data, 0x3a),
        shnum: u16_at(data, 0x3c),
        shstrndx: u16_at(data, 0x3e),
    })
}

/// How many `PT_LOAD` program headers the file has.
pub fn load_segments(data: &[u8], h: &Header) -> Result<usize, String> {
    if h.phnum > 0 && usize::from(h.phentsize) < PROGRAM_HEADER_LEN {
        return Err(format!("program header entries of {} bytes are too small", h.phentsize));
    }
    let mut count = 0;
    for i in 0..u64::from(h.phnum) {
        let at = h.phoff.checked_add(i * u64::from(h.phentsize));
        let entry = at.and_then(|at| slice(data, at, PROGRAM_HEADER_LEN as u64));
        let entry = entry.ok_or_else(|| format!("program header {i} lies outside the file"))?;
        if u32_at(entry, 0) == PT_LOAD {
            count += 1;
        }
    }
    Ok(count)
}

/// The contents of the section called `name`, if the file has one.
pub fn section<'a>(data: &'a [u8], h: &Header, name: &str) -> Result<Option<&'a [u8]>, String> {
    if h.shnum == 0 {
        return Ok(None);
    }
    if usize::from(h.shentsize) < SECTION_HEADER_LEN {
        return Err(format!("section header entries of {} bytes are too small", h.shentsize));
    }
    let header_of = |i: u64| {
        let at = h.shoff.checked_add(i * u64::from(h.shentsize))?;
        slice(data, at, SECTION_HEADER_LEN as u64)
    };
    let names = header_of(u64::from(h.shstrndx)).ok_or("the section name table lies outside the file")?;
    let names = contents(data, names).ok_or("the section name table lies outside the file")?;
    for i in 0..u64::from(h.shnum) {
        let sh = header_of(i).ok_or_else(|| format!("section header {i} lies outside the file"))?;
        let name_at = u32_at(sh, 0) as usize;
        let this = names.get(name_at..).and_then(|n| n.split(|&b| b == 0).next());
        if this == Some(name.as_bytes()) {
            return contents(data, sh).map(Some).ok_or_else(|| format!("section {name} lies outside the file"));
        }
    }
    Ok(None)
}

/// Names of the undefined symbols in `.symtab`, in table order: what a
/// module imports.
pub fn undefined_symbols<'a>(data: &'a [u8], h: &Header) -> Result<Vec<&'a str>, String> {
    const SYMBOL_LEN: usize = 24;
    let (Some(symtab), Some(strtab)) = (section(data, h, ".symtab")?, section(data, h, ".strtab")?) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for symbol in symtab.chunks_exact(SYMBOL_LEN).skip(1) {
        if u16_at(symbol, 6) != 0 {
            continue;
        }
        let name = strtab.get(u32_at(symbol, 0) as usize..).ok_or("a symbol name lies outside .strtab")?;
        let name = name.split(|&b| b == 0).next().unwrap_or_default();
        if !name.is_empty() {
            out.push(std::str::from_utf8(name).map_err(|_| "a symbol name is not UTF-8")?);
        }
    }
    Ok(out)
}

fn contents<'a>(data: &'a [u8], section_header: &[u8]) -> Option<&'a [u8]> {
    const SHT_NOBITS: u32 = 8;
    if u32_at(section_header, 4) == SHT_NOBITS {
        return Some(&[]);
    }
    slice(data, u64_at(section_header, 0x18), u64_at(section_header, 0x20))
}

fn slice(data: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    data.get(start..end)
}

pub fn u16_at(data: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([data[at], data[at + 1]])
}

pub fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A minimal relocatable ELF64 with the given sections (plus the null
    /// section and `.shstrtab`), as a module file would be laid out.
    pub fn relocatable(sections: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = vec![0u8; HEADER_LEN];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = EI_CLASS_64;
        out[5] = EI_DATA_LE;
        out[6] = 1;
        out[0x10..0x12].copy_from_slice(&ET_REL.to_le_bytes());
        out[0x12..0x14].copy_from_slice(&EM_X86_64.to_le_bytes());
        let mut names = vec![0u8];
        let mut placed = Vec::new();
        for (name, data) in sections {
            let name_at = names.len() as u32;
            names.extend_from_slice(name.as_bytes());
            names.push(0);
            placed.push((name_at, out.len() as u64, data.len() as u64));
            out.extend_from_slice(data);
        }
        let shstrtab_name = names.len() as u32;
        names.extend_from_slice(b".shstrtab\0");
        placed.push((shstrtab_name, out.len() as u64, names.len() as u64));
        out.extend_from_slice(&names);
        let shoff = out.len() as u64;
        out.extend_from_slice(&[0; SECTION_HEADER_LEN]);
        for (name, offset, size) in &placed {
            let mut sh = [0u8; SECTION_HEADER_LEN];
            sh[..4].copy_from_slice(&name.to_le_bytes());
            sh[4..8].copy_from_slice(&1u32.to_le_bytes());
            sh[0x18..0x20].copy_from_slice(&offset.to_le_bytes());
            sh[0x20..0x28].copy_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&sh);
        }
        out[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        out[0x3a..0x3c].copy_from_slice(&(SECTION_HEADER_LEN as u16).to_le_bytes());
        out[0x3c..0x3e].copy_from_slice(&(placed.len() as u16 + 1).to_le_bytes());
        out[0x3e..0x40].copy_from_slice(&(placed.len() as u16).to_le_bytes());
        out
    }

    #[test]
    fn finds_sections_by_name() {
        let elf = relocatable(&[(".text", b"\x90\x90"), (".modinfo", b"license=GPL\0depends=\0")]);
        let h = header(&elf).unwrap();
        assert_eq!((h.e_type, h.machine), (ET_REL, EM_X86_64));
        assert_eq!(section(&elf, &h, ".modinfo").unwrap(), Some(&b"license=GPL\0depends=\0"[..]));
        assert_eq!(section(&elf, &h, ".text").unwrap(), Some(&b"\x90\x90"[..]));
        assert_eq!(section(&elf, &h, ".modinf").unwrap(), None);
        assert_eq!(load_segments(&elf, &h).unwrap(), 0);
    }

    #[test]
    fn truncated_files_are_errors_not_panics() {
        let elf = relocatable(&[(".modinfo", b"depends=\0")]);
        assert!(header(&elf[..40]).is_err());
        for cut in [HEADER_LEN, elf.len() - 1, elf.len() - 70] {
            let h = header(&elf[..cut]).unwrap();
            assert!(section(&elf[..cut], &h, ".modinfo").is_err(), "cut at {cut}");
        }
        let mut big_endian = elf.clone();
        big_endian[5] = 2;
        assert_eq!(header(&big_endian).unwrap_err(), "big-endian ELF is not supported");
    }
}
