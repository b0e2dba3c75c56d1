//! Keeping a cached repository's packs few, as `git gc` would, so that it never outgrows gix's
//! object store.
//!
//! Every fetch writes one pack (gix never explodes small fetches into loose objects), and gix
//! sizes an open object store's index slots once, from what is on disk when the repository is
//! opened (32 for a new one, see `gix::odb::store::init::Slots`). A repository kept open while
//! fetches accumulate packs therefore fails on the fetch that needs slot 33 ("The object database
//! has too few index slots"). Two things prevent that:
//!
//! - after every fetch the cache reopens the repository, so the store is sized for the packs now
//!   on disk (see `RepoCache::after_fetch`);
//! - here, once [`LOOSE_PACK_LIMIT`] packs are not yet covered by the `multi-pack-index`, a new
//!   multi-pack index over every pack is written. gix loads a multi-pack index into one slot in
//!   place of all the single indices it covers, so the slots in use stay below the limit, and an
//!   object is found with one lookup instead of one per pack.
//!
//! gix (0.90) writes multi-pack indices but cannot repack; a multi-pack index holds at most 65535
//! packs, that is 65535 fetches of one repository before a cache directory must be cleared.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use gix::odb::pack::multi_index;

/// Packs outside the multi-pack index that trigger writing a new one. Well below gix's minimum
/// of 32 slots, which must also hold the multi-pack index being replaced while it is swapped.
pub(crate) const LOOSE_PACK_LIMIT: usize = 8;

/// The file gix and git read a multi-pack index from, in `objects/pack/`.
const MULTI_PACK_INDEX: &str = "multi-pack-index";

/// Writes a new multi-pack index over every pack in `pack_dir` when [`LOOSE_PACK_LIMIT`] or more
/// are not covered by the current one. Returns whether it wrote one. The new index is written
/// aside and renamed into place, so a reader (another process sharing the cache) sees the old
/// index or the new one, never half of one.
pub(crate) fn consolidate(
    pack_dir: &Path,
    object_hash: gix::hash::Kind,
    staging: &Path,
) -> Result<bool, String> {
    let indices = pack_indices(pack_dir).map_err(|e| format!("{}: {e}", pack_dir.display()))?;
    let midx_path = pack_dir.join(MULTI_PACK_INDEX);
    let covered: HashSet<PathBuf> = match multi_index::File::at(&midx_path, None) {
        Ok(midx) => midx.index_names().iter().cloned().collect(),
        Err(_) => HashSet::new(), // none yet (or unreadable: the new one replaces it)
    };
    let outside = indices
        .iter()
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| !covered.contains(Path::new(name)))
        })
        .count();
    if outside < LOOSE_PACK_LIMIT {
        return Ok(false);
    }
    let mut file = fs::File::create(staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    let written = multi_index::write_from_index_paths(
        indices,
        &mut file,
        &mut gix::progress::Discard,
        &AtomicBool::new(false),
        multi_index::write::Options { object_hash },
    );
    drop(file);
    let renamed = written
        .map_err(|e| format!("writing {}: {e}", midx_path.display()))
        .and_then(|_| {
            fs::rename(staging, &midx_path).map_err(|e| format!("{}: {e}", midx_path.display()))
        });
    if renamed.is_err() {
        let _ = fs::remove_file(staging);
    }
    renamed.map(|()| true)
}

/// The `.idx` files in `pack_dir` whose `.pack` is there too (a pack being written by another
/// process has no index yet).
fn pack_indices(pack_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(pack_dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut indices = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension() == Some(OsStr::new("idx")) && path.with_extension("pack").is_file() {
            indices.push(path);
        }
    }
    Ok(indices)
}
