//! Choosing the filesystem's size: the fixed one asked for, or the
//! smallest whole number of MiB that holds the content, the metadata and
//! the headroom.
//!
//! Metadata depends on the size (more groups, more inodes, a larger
//! journal), so auto sizing lays the content out, grows to what that
//! needed plus headroom, and repeats until the layout fits. Sizes only
//! grow, so this ends after a few rounds.

use crate::geometry::{Geometry, BLOCK, MAX_BLOCKS};
use crate::plan::{lay_out, Layout, Prepared};
use crate::{Error, Size};

/// Auto sizes are whole MiB.
const MIB_BLOCKS: u64 = (1 << 20) / BLOCK;

pub(crate) fn choose(
    prep: &Prepared<'_>,
    size: &Size,
    journal: bool,
    max_extent: u64,
) -> Result<(Geometry, Layout), Error> {
    let used_inodes = prep.last_ino() as u64;
    match *size {
        Size::Fixed(bytes) => {
            let fits = match Geometry::new(bytes / BLOCK, used_inodes, journal) {
                Some(geo) if bytes / BLOCK <= MAX_BLOCKS => {
                    let layout = lay_out(&geo, prep, max_extent)?;
                    (layout.end <= geo.blocks).then_some((geo, layout))
                }
                _ => None,
            };
            match fits {
                Some(fit) => Ok(fit),
                None if bytes / BLOCK > MAX_BLOCKS => Err(Error::TooLarge { size: bytes, max: MAX_BLOCKS * BLOCK }),
                None => {
                    let (geo, _) = auto(prep, 0, 0, journal, max_extent)?;
                    Err(Error::TooSmall { size: bytes, needed: geo.blocks * BLOCK })
                }
            }
        }
        Size::Auto { headroom_percent, min_bytes } => auto(prep, headroom_percent, min_bytes, journal, max_extent),
    }
}

fn auto(
    prep: &Prepared<'_>,
    headroom: u32,
    min_bytes: u64,
    journal: bool,
    max_extent: u64,
) -> Result<(Geometry, Layout), Error> {
    let with_headroom = |n: u64| (n as u128 * (100 + headroom as u128)).div_ceil(100).min(u64::MAX as u128) as u64;
    let min_inodes = with_headroom(prep.last_ino() as u64);
    let min_blocks = min_bytes.div_ceil(BLOCK).next_multiple_of(MIB_BLOCKS);
    let content: u64 = prep.content.iter().map(|c| c.blocks).sum();
    let mut blocks = min_blocks.max(content.next_multiple_of(MIB_BLOCKS)).max(MIB_BLOCKS);
    loop {
        if blocks > MAX_BLOCKS {
            return Err(Error::TooLarge { size: blocks * BLOCK, max: MAX_BLOCKS * BLOCK });
        }
        let Some(geo) = Geometry::new(blocks, min_inodes, journal) else {
            // Not enough groups for the inodes: each group holds 32768.
            blocks = (blocks + MIB_BLOCKS).max(min_inodes.div_ceil(32768) * crate::geometry::BLOCKS_PER_GROUP);
            continue;
        };
        let layout = lay_out(&geo, prep, max_extent)?;
        let want = with_headroom(layout.used_blocks()).max(layout.end).next_multiple_of(MIB_BLOCKS);
        if want <= geo.blocks && geo.blocks >= min_blocks {
            return Ok((geo, layout));
        }
        blocks = want.max(blocks + MIB_BLOCKS);
    }
}
