//! What `bosun rollout promote|abort|retry|pause|resume|undo` write: the patches Argo Rollouts'
//! kubectl plugin writes, so either tool can drive a Rollout the other started.

use serde_json::{Value, json};

use crate::revision::{HASH_LABEL, REVISION_ANNOTATION};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RolloutAction {
    /// Ends the current pause (or skips the current step); `full` skips every remaining step.
    Promote {
        full: bool,
    },
    /// Puts everything back on the stable revision.
    Abort,
    /// Starts an aborted revision's steps again.
    Retry,
    Pause,
    Resume,
    /// Recreates every pod (`spec.restartAt` = now).
    Restart,
    /// Sets the template back to that of an earlier revision (`None`: the one before the
    /// current).
    Undo {
        to_revision: Option<u64>,
    },
}

impl std::str::FromStr for RolloutAction {
    type Err = String;

    fn from_str(s: &str) -> Result<RolloutAction, String> {
        Ok(match s {
            "promote" => RolloutAction::Promote { full: false },
            "promote-full" => RolloutAction::Promote { full: true },
            "abort" => RolloutAction::Abort,
            "retry" => RolloutAction::Retry,
            "pause" => RolloutAction::Pause,
            "resume" => RolloutAction::Resume,
            "undo" => RolloutAction::Undo { to_revision: None },
            "restart" => RolloutAction::Restart,
            other => {
                return Err(format!(
                    "unknown action `{other}`: promote, promote-full, abort, retry, pause, resume, undo, restart"
                ));
            }
        })
    }
}

/// Which part of the Rollout a patch goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Spec,
    Status,
}

impl RolloutAction {
    /// The merge patches that carry the action out on `rollout` (which owns `replica_sets`).
    pub fn patches(
        &self,
        rollout: &Value,
        replica_sets: &[Value],
    ) -> Result<Vec<(Target, Value)>, String> {
        let status = &rollout["status"];
        let paused = rollout["spec"]["paused"].as_bool().unwrap_or(false);
        let pause_conditions = status["pauseConditions"]
            .as_array()
            .is_some_and(|p| !p.is_empty());
        Ok(match self {
            RolloutAction::Promote { full: true } => vec![
                (Target::Spec, json!({"spec": {"paused": false}})),
                (
                    Target::Status,
                    json!({"status": {"promoteFull": true, "pauseConditions": null}}),
                ),
            ],
            RolloutAction::Promote { full: false } | RolloutAction::Resume => {
                if status["abort"].as_bool().unwrap_or(false) {
                    return Err("the Rollout is aborted: retry it first".into());
                }
                let mut patches = Vec::new();
                if paused {
                    patches.push((Target::Spec, json!({"spec": {"paused": false}})));
                }
                if pause_conditions {
                    patches.push((Target::Status, json!({"status": {"pauseConditions": null}})));
                } else if *self == (RolloutAction::Promote { full: false }) && !paused {
                    // Not paused: skip the step it is at (Argo's plugin does the same).
                    let steps = rollout["spec"]["strategy"]["canary"]["steps"]
                        .as_array()
                        .map_or(0, Vec::len) as u64;
                    let at = status["currentStepIndex"].as_u64().unwrap_or(0);
                    if at >= steps {
                        return Err("the Rollout is not paused and has no step left to skip".into());
                    }
                    patches.push((
                        Target::Status,
                        json!({"status": {"currentStepIndex": at + 1}}),
                    ));
                }
                if patches.is_empty() {
                    return Err("the Rollout is not paused".into());
                }
                patches
            }
            RolloutAction::Abort => vec![(Target::Status, json!({"status": {"abort": true}}))],
            RolloutAction::Retry => {
                if !status["abort"].as_bool().unwrap_or(false) {
                    return Err("the Rollout is not aborted".into());
                }
                vec![(
                    Target::Status,
                    json!({"status": {"abort": false, "abortedAt": null, "currentStepIndex": 0, "pauseConditions": null, "controllerPause": null}}),
                )]
            }
            RolloutAction::Pause => vec![(Target::Spec, json!({"spec": {"paused": true}}))],
            RolloutAction::Restart => vec![(
                Target::Spec,
                json!({"spec": {"restartAt": jiff::Timestamp::now().round(jiff::Unit::Second).map_err(|e| e.to_string())?.to_string()}}),
            )],
            RolloutAction::Undo { to_revision } => {
                let revision = |rs: &Value| {
                    rs["metadata"]["annotations"][REVISION_ANNOTATION]
                        .as_str()
                        .and_then(|r| r.parse::<u64>().ok())
                        .unwrap_or(0)
                };
                let mut by_revision: Vec<&Value> = replica_sets.iter().collect();
                by_revision.sort_by_key(|rs| std::cmp::Reverse(revision(rs)));
                let target = match to_revision {
                    Some(n) => by_revision.iter().find(|rs| revision(rs) == *n).copied(),
                    None => by_revision.get(1).copied(),
                }
                .ok_or_else(|| match to_revision {
                    Some(n) => format!(
                        "no revision {n}; revisions: {}",
                        by_revision
                            .iter()
                            .map(|rs| revision(rs).to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None => "there is no earlier revision".to_string(),
                })?;
                let mut template = target["spec"]["template"].clone();
                if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
                    labels.remove(HASH_LABEL);
                }
                // The revision's pods reference its copies of the config; the Rollout names
                // the originals (their content now is what the new revision takes).
                crate::config::point_at_originals(&mut template, target);
                vec![(Target::Spec, json!({"spec": {"template": template}}))]
            }
        })
    }
}
