//! The phases of a sync, and which phase runs a hook of each Argo CD hook type. What is a hook,
//! and of which types, is decided by `bosun_model::argo`.

use bosun_model::argo::HookType;

/// When an object is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    PreSync,
    Sync,
    PostSync,
    /// Only when the sync fails.
    SyncFail,
}

impl Phase {
    /// The phase [`Phase::as_str`] names.
    pub fn parse(name: &str) -> Option<Phase> {
        [
            Phase::PreSync,
            Phase::Sync,
            Phase::PostSync,
            Phase::SyncFail,
        ]
        .into_iter()
        .find(|p| p.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::PreSync => "PreSync",
            Phase::Sync => "Sync",
            Phase::PostSync => "PostSync",
            Phase::SyncFail => "SyncFail",
        }
    }

    /// The sync phase that runs hooks of `hook_type`; `None` for the types a sync never runs
    /// (`Skip`, and `PreDelete`/`PostDelete`, which belong to deleting the Application).
    pub fn of_hook(hook_type: HookType) -> Option<Phase> {
        match hook_type {
            HookType::PreSync => Some(Phase::PreSync),
            HookType::Sync => Some(Phase::Sync),
            HookType::PostSync => Some(Phase::PostSync),
            HookType::SyncFail => Some(Phase::SyncFail),
            HookType::PreDelete | HookType::PostDelete | HookType::Skip => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_runs_sync_hook_types_only() {
        assert_eq!(Phase::of_hook(HookType::PreSync), Some(Phase::PreSync));
        assert_eq!(Phase::of_hook(HookType::SyncFail), Some(Phase::SyncFail));
        assert_eq!(Phase::of_hook(HookType::Skip), None);
        assert_eq!(Phase::of_hook(HookType::PostDelete), None);
    }
}
