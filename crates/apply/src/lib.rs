//! The Apply stage: puts the rendered objects of an Application into a cluster the way Argo CD
//! syncs — server-side apply with bosun's field manager, phase by phase (PreSync hooks, Sync,
//! PostSync hooks), wave by wave, each wave healthy before the next, then pruning what left Git.

pub mod hooks;
pub mod order;
pub mod sync;
