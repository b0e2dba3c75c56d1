//! What a Rollout needs next, as a pure function of its object (spec and status), the
//! ReplicaSets it owns and the time: the reconciler only carries out a [`Decision`]. Every
//! canary and blue-green rule lives here, so it is tested step by step without a cluster.
//!
//! The state between reconciles is the Rollout's own `status`, as Argo Rollouts keeps it
//! (`currentStepIndex`, `pauseConditions` with their start times, `controllerPause`, `abort`,
//! `stableRS`, `currentPodHash`): a restart of bosun, or a switch from Argo's controller to
//! bosun's, resumes at the same step with the same pause clock.

use std::collections::BTreeMap;
use std::time::Duration;

use bosun_model::rollout::{BlueGreen, Canary, IntOrString, RolloutSpec, parse_pause};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::config::{self, Digests};
use crate::replicas;
use crate::revision::{self, HASH_LABEL, REVISION_ANNOTATION, SCALE_DOWN_DEADLINE_ANNOTATION};

/// One ReplicaSet of a Rollout, as read from the cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaSetView {
    pub name: String,
    pub hash: String,
    /// `spec.replicas`.
    pub desired: i32,
    /// `status.replicas`, `status.readyReplicas`, `status.availableReplicas`.
    pub current: i32,
    pub ready: i32,
    pub available: i32,
    pub revision: u64,
    pub scale_down_deadline: Option<Timestamp>,
}

impl ReplicaSetView {
    pub fn from_object(rs: &Value) -> Option<ReplicaSetView> {
        let hash = rs["metadata"]["labels"][HASH_LABEL].as_str()?.to_string();
        let annotations = &rs["metadata"]["annotations"];
        let int = |v: &Value| v.as_i64().unwrap_or(0) as i32;
        Some(ReplicaSetView {
            name: rs["metadata"]["name"].as_str()?.to_string(),
            hash,
            desired: rs["spec"]["replicas"].as_i64().unwrap_or(1) as i32,
            current: int(&rs["status"]["replicas"]),
            ready: int(&rs["status"]["readyReplicas"]),
            available: int(&rs["status"]["availableReplicas"]),
            revision: annotations[REVISION_ANNOTATION]
                .as_str()
                .and_then(|r| r.parse().ok())
                .unwrap_or(0),
            scale_down_deadline: annotations[SCALE_DOWN_DEADLINE_ANNOTATION]
                .as_str()
                .and_then(|t| t.parse().ok()),
        })
    }
}

/// What the reconciler does, in this order: create the new ReplicaSet, scale, point Services,
/// then write the status.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    /// A ReplicaSet to create (the new revision's).
    pub create: Option<Value>,
    /// The copies of its config to make before it: (kind, original's name, the digest the hash
    /// took, the copy's name).
    pub copies: Vec<ConfigCopy>,
    /// ReplicaSet name → `spec.replicas`, for those that differ.
    pub scale: BTreeMap<String, i32>,
    /// ReplicaSet name → the scale-down deadline to write (`None` removes it).
    pub deadlines: BTreeMap<String, Option<Timestamp>>,
    /// Service name → the pod-template hash it selects.
    pub services: BTreeMap<String, String>,
    /// The whole new `status`.
    pub status: Value,
    /// The weight to set on the traffic routers (a canary with `trafficRouting`).
    pub traffic: Option<Traffic>,
    /// Old ReplicaSets to delete (beyond `revisionHistoryLimit`).
    pub delete: Vec<String>,
    /// Look again after this long even if nothing changes (a pause or a scale-down delay ends).
    pub requeue: Option<Duration>,
    /// AnalysisRuns to create from the Rollout's templates.
    pub runs: Vec<RunRequest>,
    /// AnalysisRuns (by name) to stop: `spec.terminate`.
    pub terminate: Vec<String>,
    /// Completed AnalysisRuns (by name) to delete: beyond the history limits, or of a revision
    /// whose ReplicaSet is gone.
    pub delete_runs: Vec<String>,
}

/// A ConfigMap or Secret to copy for the new revision ([`crate::config`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigCopy {
    pub kind: config::Kind,
    pub name: String,
    /// The digest of the content the revision's hash was taken over: a copy of other content
    /// would disagree with its hash, and is not made.
    pub digest: String,
    pub copy: String,
}

/// Argo's run history (`FilterAnalysisRunsToDelete`): the newest
/// `spec.analysis.successfulRunHistoryLimit` (default 5) successful and
/// `unsuccessfulRunHistoryLimit` (default 5) unsuccessful completed runs stay, and so does every
/// run still measuring or named as current; the others go, and so do completed runs of a
/// revision whose ReplicaSet was deleted.
fn runs_to_delete(object: &Value, owned: &[ReplicaSetView], state: &State) -> Vec<String> {
    let limit = |field: &str| {
        object["spec"]["analysis"][field]
            .as_u64()
            .map_or(5, |n| n as usize)
    };
    let (keep_ok, keep_bad) = (
        limit("successfulRunHistoryLimit"),
        limit("unsuccessfulRunHistoryLimit"),
    );
    let current: Vec<&str> = [
        &state.step_run,
        &state.background_run,
        &state.pre_promotion_run,
        &state.post_promotion_run,
    ]
    .into_iter()
    .flatten()
    .map(|r| r.name.as_str())
    .collect();
    let (mut ok, mut bad) = (0, 0);
    let mut delete = Vec::new();
    for run in state.runs.iter().rev() {
        if !run.completed() || current.contains(&run.name.as_str()) {
            continue;
        }
        let kept = if !owned.iter().any(|rs| rs.hash == run.hash) {
            false
        } else if run.phase == "Successful" {
            ok += 1;
            ok <= keep_ok
        } else {
            bad += 1;
            bad <= keep_bad
        };
        if !kept {
            delete.push(run.name.clone());
        }
    }
    delete
}

/// Where an AnalysisRun belongs: an analysis step (its index) or the background analysis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunKind {
    Step(usize),
    Background,
    /// Blue-green: judges the preview before the active Service switches to it.
    PrePromotion,
    /// Blue-green: judges the new side after the switch, before it becomes stable.
    PostPromotion,
}

impl RunKind {
    /// The `rollout-type` label Argo gives the run.
    pub fn label(&self) -> &'static str {
        match self {
            RunKind::Step(_) => "Step",
            RunKind::Background => "Background",
            RunKind::PrePromotion => "PrePromotion",
            RunKind::PostPromotion => "PostPromotion",
        }
    }
}

/// An AnalysisRun the Rollout needs: made by the controller from `analysis` (the step's or the
/// strategy's `templates`, `args`, `dryRun`, `measurementRetention`, `analysisRunMetadata`).
#[derive(Clone, Debug, PartialEq)]
pub struct RunRequest {
    /// Argo's name: `<rollout>-<hash>-<revision>[-<step>]`, with `.N` when a run of that name
    /// exists already (a retry).
    pub name: String,
    pub kind: RunKind,
    pub hash: String,
    pub analysis: Value,
}

/// An AnalysisRun the Rollout owns, as far as decisions need it.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalysisRunView {
    pub name: String,
    pub hash: String,
    pub kind: RunKind,
    pub phase: String,
    pub message: String,
    /// What the metrics that did not succeed measured last (`success-rate measured [0.69],
    /// [0.71]`): Argo's run message names the metric and the limit, not the values.
    pub measured: String,
    pub terminating: bool,
}

/// The most values of one metric an abort message quotes.
const MEASURED_QUOTED: usize = 5;

impl AnalysisRunView {
    /// From an AnalysisRun's labels (`rollouts-pod-template-hash`, `rollout-type`,
    /// `step-index`) and status; `None` for a run that is not a Rollout's.
    pub fn from_object(run: &Value) -> Option<AnalysisRunView> {
        let labels = &run["metadata"]["labels"];
        let kind = match labels["rollout-type"].as_str()? {
            "Step" => RunKind::Step(labels["step-index"].as_str()?.parse().ok()?),
            "Background" => RunKind::Background,
            "PrePromotion" => RunKind::PrePromotion,
            "PostPromotion" => RunKind::PostPromotion,
            _ => return None,
        };
        Some(AnalysisRunView {
            name: run["metadata"]["name"].as_str()?.to_string(),
            hash: labels[HASH_LABEL].as_str()?.to_string(),
            kind,
            phase: run["status"]["phase"]
                .as_str()
                .unwrap_or("Pending")
                .to_string(),
            message: run["status"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            measured: measured(&run["status"]),
            terminating: run["spec"]["terminate"].as_bool().unwrap_or(false),
        })
    }

    fn completed(&self) -> bool {
        matches!(
            self.phase.as_str(),
            "Successful" | "Failed" | "Error" | "Inconclusive"
        )
    }

    fn status(&self) -> Value {
        json!({"name": self.name, "status": self.phase, "message": if self.message.is_empty() { Value::Null } else { json!(self.message) }})
    }
}

/// The last values of each metric of a run's status that failed, erred or was inconclusive,
/// oldest first: `success-rate measured [0.69], [0.71]; latency measured 812`.
fn measured(status: &Value) -> String {
    let mut parts = Vec::new();
    for result in status["metricResults"].as_array().into_iter().flatten() {
        if !matches!(
            result["phase"].as_str(),
            Some("Failed" | "Error" | "Inconclusive")
        ) {
            continue;
        }
        let values: Vec<&str> = result["measurements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["value"].as_str().filter(|v| !v.is_empty()))
            .collect();
        if values.is_empty() {
            continue;
        }
        let last = &values[values.len().saturating_sub(MEASURED_QUOTED)..];
        parts.push(format!(
            "{} measured {}",
            result["name"].as_str().unwrap_or_default(),
            last.join(", ")
        ));
    }
    parts.join("; ")
}

/// Argo's pause reason for an Inconclusive analysis: a person decides (promote skips the step,
/// abort rolls back).
pub const INCONCLUSIVE_PAUSE: &str = "InconclusiveAnalysisRun";

/// The traffic split a router is to carry: `canary_weight` percent to the canary's pods (by
/// its Service or subset), the rest to the stable's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traffic {
    pub canary_weight: i32,
    pub canary_hash: String,
    pub stable_hash: String,
}

/// Argo Rollouts' defaults.
const DEFAULT_SCALE_DOWN_DELAY: i64 = 30;
pub const CANARY_PAUSE: &str = "CanaryPauseStep";
pub const BLUE_GREEN_PAUSE: &str = "BlueGreenPause";

/// The state read from `status`, plus what this reconcile changes of it.
struct State {
    step: usize,
    pauses: Vec<(String, Timestamp)>,
    controller_pause: bool,
    abort: bool,
    aborted_at: Option<String>,
    promote_full: bool,
    stable: Option<String>,
    /// `status.currentPodHash` as it was: a different hash now means a new revision.
    previous_hash: Option<String>,
    phase: &'static str,
    message: String,
    requeue: Option<Duration>,
    /// When the Rollout last made progress (the Progressing condition's `lastUpdateTime`).
    progress_at: Option<Timestamp>,
    deadline_exceeded: bool,
    /// Why the update was aborted (an analysis), kept in the message while it stays aborted.
    abort_reason: Option<String>,
    /// The Rollout's AnalysisRuns, oldest first.
    runs: Vec<AnalysisRunView>,
    /// The runs `status.canary` names as current: a run is current only while named there, so
    /// that after an abort (which drops the names) a retry makes new runs.
    named_step_run: Option<String>,
    named_background_run: Option<String>,
    named_pre_promotion_run: Option<String>,
    named_post_promotion_run: Option<String>,
    /// Blue-green: the ReplicaSet hash the active Service selects (`status.blueGreen.
    /// activeSelector`); ahead of the stable one while post-promotion analysis judges it.
    active_selector: Option<String>,
    rollout_name: String,
    /// The current step's and the background run, for `status.canary`.
    step_run: Option<AnalysisRunView>,
    background_run: Option<AnalysisRunView>,
    pre_promotion_run: Option<AnalysisRunView>,
    post_promotion_run: Option<AnalysisRunView>,
    /// Waiting on an analysis run: like a pause, not counted against the progress deadline
    /// (Argo exempts analysis steps).
    waiting_on_analysis: bool,
}

impl State {
    fn read(status: &Value) -> State {
        let pauses = status["pauseConditions"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|p| {
                        Some((
                            p["reason"].as_str()?.to_string(),
                            p["startTime"].as_str()?.parse().ok()?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        State {
            step: status["currentStepIndex"].as_u64().unwrap_or(0) as usize,
            pauses,
            controller_pause: status["controllerPause"].as_bool().unwrap_or(false),
            abort: status["abort"].as_bool().unwrap_or(false),
            aborted_at: status["abortedAt"].as_str().map(str::to_string),
            promote_full: status["promoteFull"].as_bool().unwrap_or(false),
            stable: status["stableRS"].as_str().map(str::to_string),
            previous_hash: status["currentPodHash"].as_str().map(str::to_string),
            phase: "Progressing",
            message: String::new(),
            requeue: None,
            progress_at: status["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Progressing"))
                .and_then(|c| c["lastUpdateTime"].as_str())
                .and_then(|t| t.parse().ok()),
            deadline_exceeded: false,
            // An abort's reason, from the message the abort wrote, or from the deadline's
            // message when the abort was decided by `progressDeadlineAbort` and not yet carried
            // out.
            abort_reason: status["abort"]
                .as_bool()
                .filter(|a| *a)
                .and_then(|_| status["message"].as_str())
                .and_then(|m| {
                    m.strip_prefix("RolloutAborted: Rollout aborted update to revision ")
                        .and_then(|rest| rest.split_once(": "))
                        .map(|(_, reason)| reason)
                        .or_else(|| m.starts_with("ProgressDeadlineExceeded: ").then_some(m))
                })
                .map(str::to_string),
            runs: Vec::new(),
            named_step_run: status["canary"]["currentStepAnalysisRunStatus"]["name"]
                .as_str()
                .map(str::to_string),
            named_background_run: status["canary"]["currentBackgroundAnalysisRunStatus"]["name"]
                .as_str()
                .map(str::to_string),
            named_pre_promotion_run: status["blueGreen"]["prePromotionAnalysisRunStatus"]["name"]
                .as_str()
                .map(str::to_string),
            named_post_promotion_run: status["blueGreen"]["postPromotionAnalysisRunStatus"]["name"]
                .as_str()
                .map(str::to_string),
            active_selector: status["blueGreen"]["activeSelector"]
                .as_str()
                .map(str::to_string),
            rollout_name: String::new(),
            step_run: None,
            background_run: None,
            pre_promotion_run: None,
            post_promotion_run: None,
            waiting_on_analysis: false,
        }
    }

    fn requeue_within(&mut self, after: Duration) {
        self.requeue = Some(self.requeue.map_or(after, |r| r.min(after)));
    }

    /// Aborted: no pause holds any more, the abort time is kept from the first reconcile that
    /// saw it, and the phase says which revision was given up.
    fn aborted(&mut self, now: Timestamp, revision: u64) {
        self.pauses.clear();
        self.controller_pause = false;
        if self.aborted_at.is_none() {
            self.aborted_at = Some(now.to_string());
        }
        let mut message = format!(
            "RolloutAborted: Rollout aborted update to revision {}",
            revision.max(1)
        );
        if let Some(reason) = &self.abort_reason {
            message.push_str(": ");
            message.push_str(reason);
        }
        self.set("Degraded", message);
    }

    /// Aborts the update because of an analysis run (`what`: Argo's words for where it ran).
    fn abort_for(&mut self, what: &str, run: &AnalysisRunView, now: Timestamp, revision: u64) {
        let mut reason = format!("{what} analysis phase error/failed");
        if !run.message.is_empty() {
            reason.push_str(": ");
            reason.push_str(&run.message);
        }
        if !run.measured.is_empty() {
            reason.push_str(&format!(" ({})", run.measured));
        }
        self.abort = true;
        self.abort_reason = Some(reason);
        self.aborted(now, revision);
        // The next reconcile puts everything back on stable.
        self.requeue_within(Duration::from_millis(1));
    }

    /// The current run of `kind` for revision `revision` of `hash`, or the name of the run to
    /// make: the one `status.canary` names (made again if it is not there yet), or a new name.
    fn current_run(
        &self,
        kind: &RunKind,
        hash: &str,
        revision: u64,
    ) -> Result<AnalysisRunView, String> {
        let base = self.run_base(kind, hash, revision);
        let ours = |name: &str| name == base || name.starts_with(&format!("{base}."));
        let named = match kind {
            RunKind::Step(_) => &self.named_step_run,
            RunKind::Background => &self.named_background_run,
            RunKind::PrePromotion => &self.named_pre_promotion_run,
            RunKind::PostPromotion => &self.named_post_promotion_run,
        };
        if let Some(name) = named.as_deref().filter(|n| ours(n)) {
            return match self.runs.iter().find(|r| r.name == name) {
                Some(run) => Ok(run.clone()),
                None => Err(name.to_string()),
            };
        }
        // A run of ours still measuring, that the status does not name yet (made by the last
        // reconcile, whose status write this one has not seen): the same run, not a second.
        if let Some(run) = self
            .runs
            .iter()
            .rev()
            .find(|r| ours(&r.name) && !r.completed() && !r.terminating)
        {
            return Ok(run.clone());
        }
        Err(self.new_run_name(kind, hash, revision))
    }

    /// Argo's name for a new run: `<rollout>-<hash>-<revision>[-<step>|-pre]`, with `.N` when
    /// runs of that name exist already (a retry, a resume after an inconclusive result).
    fn new_run_name(&self, kind: &RunKind, hash: &str, revision: u64) -> String {
        let base = self.run_base(kind, hash, revision);
        let taken = self
            .runs
            .iter()
            .filter(|r| r.name == base || r.name.starts_with(&format!("{base}.")))
            .count();
        if taken == 0 {
            base
        } else {
            format!("{base}.{taken}")
        }
    }

    fn run_base(&self, kind: &RunKind, hash: &str, revision: u64) -> String {
        match kind {
            RunKind::Step(i) => format!("{}-{hash}-{revision}-{i}", self.rollout_name),
            RunKind::Background => format!("{}-{hash}-{revision}", self.rollout_name),
            RunKind::PrePromotion => format!("{}-{hash}-{revision}-pre", self.rollout_name),
            RunKind::PostPromotion => format!("{}-{hash}-{revision}-post", self.rollout_name),
        }
    }

    /// Asks for the run `name` and names it as current while it is made.
    fn request_run(
        &mut self,
        decision: &mut Decision,
        name: String,
        kind: RunKind,
        hash: &str,
        analysis: &Value,
    ) {
        let pending = AnalysisRunView {
            name: name.clone(),
            hash: hash.to_string(),
            kind: kind.clone(),
            phase: "Pending".into(),
            message: String::new(),
            measured: String::new(),
            terminating: false,
        };
        match kind {
            RunKind::Step(_) => self.step_run = Some(pending),
            RunKind::Background => self.background_run = Some(pending),
            RunKind::PrePromotion => self.pre_promotion_run = Some(pending),
            RunKind::PostPromotion => self.post_promotion_run = Some(pending),
        }
        decision.runs.push(RunRequest {
            name,
            kind,
            hash: hash.to_string(),
            analysis: analysis.clone(),
        });
    }

    fn set(&mut self, phase: &'static str, message: impl Into<String>) {
        self.phase = phase;
        self.message = message.into();
    }

    /// A pause of `reason` that has lasted `duration` (if any): `true` when it is over
    /// (or was promoted), and the step may advance.
    fn pause(&mut self, reason: &str, duration: Option<Duration>, now: Timestamp) -> bool {
        let started = self.pauses.iter().find(|(r, _)| r == reason).map(|p| p.1);
        match started {
            None if self.controller_pause => {
                // Paused by us and the condition is gone: somebody promoted.
                self.controller_pause = false;
                true
            }
            None => {
                self.pauses.push((reason.to_string(), now));
                self.controller_pause = true;
                if let Some(d) = duration {
                    self.requeue_within(d);
                }
                self.set("Paused", reason);
                false
            }
            Some(start) => {
                let Some(d) = duration else {
                    self.set("Paused", reason);
                    return false;
                };
                let elapsed = now.duration_since(start).unsigned_abs();
                if elapsed >= d {
                    self.pauses.retain(|(r, _)| r != reason);
                    self.controller_pause = false;
                    true
                } else {
                    self.requeue_within(d - elapsed);
                    self.set("Paused", reason);
                    false
                }
            }
        }
    }
}

/// The decision for a Rollout whose spec cannot be acted on: nothing is done, and its status
/// says why (`InvalidSpec: <message>`, Degraded).
pub fn refuse(object: &Value, owned: &[ReplicaSetView], now: Timestamp, message: &str) -> Decision {
    let mut state = State::read(&object["status"]);
    state.set("Degraded", format!("InvalidSpec: {message}"));
    Decision {
        status: write_status(object, now, None, &state, owned, None, None),
        ..Decision::default()
    }
}

/// Decides the next actions of the Rollout `object`, which owns `owned`, at `now`.
pub fn decide(object: &Value, owned: &[ReplicaSetView], now: Timestamp) -> Decision {
    decide_with_runs(object, &Digests::new(), owned, &[], now)
}

/// [`decide`], knowing the digests of the config the pod template references (part of the
/// revision) and the Rollout's AnalysisRuns (oldest first).
pub fn decide_with_runs(
    object: &Value,
    configs: &Digests,
    owned: &[ReplicaSetView],
    runs: &[AnalysisRunView],
    now: Timestamp,
) -> Decision {
    let status = &object["status"];
    let mut state = State::read(status);
    state.runs = runs.to_vec();
    state.rollout_name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let spec = match RolloutSpec::from_object(object) {
        Ok(spec) => spec,
        Err(e) => return refuse(object, owned, now, &e.to_string()),
    };
    let collisions = status["collisionCount"].as_i64().unwrap_or(0);
    let hash = revision::pod_template_hash(&spec.template, configs, collisions);
    let mut decision = Decision::default();
    let new_rs = owned.iter().find(|rs| rs.hash == hash);
    if new_rs.is_none() {
        let next = owned.iter().map(|rs| rs.revision).max().unwrap_or(0) + 1;
        decision.create = Some(revision::replica_set(object, &spec, &hash, next, configs));
        decision.copies = configs
            .iter()
            .map(|((kind, name), digest)| ConfigCopy {
                kind: *kind,
                name: name.clone(),
                digest: digest.clone(),
                copy: config::copy_name(name, &hash),
            })
            .collect();
    }
    let new = new_rs.cloned().unwrap_or_else(|| ReplicaSetView {
        name: revision::replica_set_name(object, &hash),
        hash: hash.clone(),
        desired: 0,
        current: 0,
        ready: 0,
        available: 0,
        revision: 0,
        scale_down_deadline: None,
    });
    // A new revision (the template changed since the last reconcile) starts at step 0; an
    // abort belongs to the revision it aborted.
    if state.previous_hash.as_deref() != Some(hash.as_str()) && state.previous_hash.is_some() {
        state.step = 0;
        state.pauses.clear();
        state.controller_pause = false;
        state.abort = false;
        state.aborted_at = None;
        state.abort_reason = None;
        state.promote_full = false;
    }
    // The first revision ever, or a stable that no longer exists: no steps, it is stable as
    // soon as it is available (Argo: "the first deploy skips steps").
    let stable = state
        .stable
        .clone()
        .filter(|s| owned.iter().any(|rs| &rs.hash == s));
    let stable = match stable {
        Some(s) => s,
        None => {
            state.stable = Some(hash.clone());
            hash.clone()
        }
    };
    let mut selectors = None;
    if let Some(canary) = &spec.strategy.canary {
        let router_weights = status["canary"]["weights"]["canary"]["weight"]
            .as_i64()
            .map(|canary| replicas::TrafficWeights {
                canary: canary as i32,
                stable: status["canary"]["weights"]["stable"]["weight"]
                    .as_i64()
                    .unwrap_or(100 - canary) as i32,
            });
        let weight = canary_step(
            &spec,
            canary,
            &hash,
            &stable,
            &new,
            owned,
            now,
            &mut state,
            &mut decision,
            router_weights,
        );
        if canary.traffic_routing.is_some() {
            let traffic = Traffic {
                canary_weight: weight,
                canary_hash: hash.clone(),
                stable_hash: state.stable.clone().unwrap_or_else(|| stable.clone()),
            };
            decision.traffic = Some(traffic);
        }
    } else if let Some(bg) = &spec.strategy.blue_green {
        selectors = Some(blue_green_step(
            &spec,
            bg,
            &hash,
            &stable,
            &new,
            owned,
            now,
            &mut state,
            &mut decision,
        ));
    }
    if spec.paused && state.phase != "Degraded" {
        state.set("Paused", "manually paused");
    }
    // Runs that no longer judge anything are stopped: another revision's, every run of an
    // aborted or fully promoted update, a step run once the Rollout is past its step.
    let promoted = state.stable.as_deref() == Some(hash.as_str());
    for run in &state.runs {
        if run.completed() || run.terminating {
            continue;
        }
        let stale = run.hash != hash
            || state.abort
            || state.promote_full
            || promoted
            || matches!(run.kind, RunKind::Step(i) if i != state.step);
        if stale {
            decision.terminate.push(run.name.clone());
        }
    }
    decision.delete_runs = runs_to_delete(object, owned, &state);
    // The scale map only keeps real changes.
    decision.scale.retain(|name, replicas| {
        owned
            .iter()
            .find(|rs| &rs.name == name)
            .is_none_or(|rs| rs.desired != *replicas)
    });
    progress_deadline(&spec, object, owned, &new, &decision, now, &mut state);
    decision.delete = history_to_delete(&spec, owned, &hash, state.stable.as_deref());
    decision.requeue = state.requeue;
    decision.status = write_status(
        object,
        now,
        Some((&spec, &hash)),
        &state,
        owned,
        decision.traffic.clone(),
        selectors,
    );
    decision
}

/// Argo's progress deadline (`progressDeadlineSeconds`, 600 s by default): a revision that is
/// Progressing (not paused) without any change for that long turns Degraded, and is aborted with
/// `progressDeadlineAbort`. Progress is a ReplicaSet created or scaled, a step taken, or pods
/// counted differently than the status says.
fn progress_deadline(
    spec: &RolloutSpec,
    object: &Value,
    owned: &[ReplicaSetView],
    new: &ReplicaSetView,
    decision: &Decision,
    now: Timestamp,
    state: &mut State,
) {
    if state.waiting_on_analysis {
        state.progress_at = Some(now);
        return;
    }
    let status = &object["status"];
    let counted = |field: &str, value: i32| status[field].as_i64() != Some(i64::from(value));
    let sum = |f: fn(&ReplicaSetView) -> i32| owned.iter().map(f).sum::<i32>();
    let moved = decision.create.is_some()
        || !decision.scale.is_empty()
        || !decision.deadlines.is_empty()
        || status["currentStepIndex"].as_u64() != Some(state.step as u64)
        || counted("replicas", sum(|rs| rs.current))
        || counted("availableReplicas", sum(|rs| rs.available))
        || counted("updatedReplicas", new.current);
    // The clock restarts on progress and on a resume (a fresh wait); outside Progressing it
    // stands still, so that a settled Rollout's status is a fixed point (a clock written on every
    // reconcile would be a write, a watch event and a reconcile again).
    let resumed = status["phase"] == "Paused" && state.phase == "Progressing";
    if moved || resumed || state.progress_at.is_none() {
        state.progress_at = Some(now);
        return;
    }
    if state.phase != "Progressing" {
        return;
    }
    let deadline = Duration::from_secs(spec.progress_deadline_seconds.unwrap_or(600).max(0) as u64);
    let since = state.progress_at.unwrap_or(now);
    let elapsed = now.duration_since(since).unsigned_abs();
    if elapsed < deadline {
        state.requeue_within(deadline - elapsed);
        return;
    }
    state.deadline_exceeded = true;
    let message = format!(
        "ProgressDeadlineExceeded: ReplicaSet \"{}\" has timed out progressing.",
        new.name
    );
    if spec.progress_deadline_abort {
        // Recorded as an abort: the next reconcile puts everything back on stable. The reason
        // stays in the abort's message, so that whoever reads the Rollout (the Application's
        // automatic rollback) knows the update failed rather than was aborted by hand.
        state.abort = true;
        state.abort_reason = Some(message.clone());
        state.requeue_within(Duration::from_millis(1));
    }
    state.set("Degraded", message);
}

/// The old ReplicaSets beyond `revisionHistoryLimit` (10 by default), oldest first: scaled to
/// zero, neither the new nor the stable revision, and not waiting for a scale-down.
fn history_to_delete(
    spec: &RolloutSpec,
    owned: &[ReplicaSetView],
    hash: &str,
    stable: Option<&str>,
) -> Vec<String> {
    let limit = spec.revision_history_limit.unwrap_or(10).max(0) as usize;
    let mut old: Vec<&ReplicaSetView> = owned
        .iter()
        .filter(|rs| rs.hash != hash && Some(rs.hash.as_str()) != stable)
        .filter(|rs| rs.desired == 0 && rs.current == 0 && rs.scale_down_deadline.is_none())
        .collect();
    old.sort_by_key(|rs| rs.revision);
    let extra = old.len().saturating_sub(limit);
    old.into_iter()
        .take(extra)
        .map(|rs| rs.name.clone())
        .collect()
}

/// The canary weight the steps before and at `step` set (100 past the last step).
fn current_weight(canary: &Canary, step: usize) -> i32 {
    if step >= canary.steps.len() {
        return 100;
    }
    canary.steps[..=step]
        .iter()
        .rev()
        .find_map(|s| s.set_weight)
        .unwrap_or(0)
}

/// The pods that may be unavailable at once (`maxUnavailable`, resolved as Argo resolves it
/// for the strategy in use): how many pods a restart takes down together.
pub fn max_unavailable(spec: &RolloutSpec) -> i32 {
    let replicas = spec.replicas();
    if spec.strategy.blue_green.is_some() {
        return replicas::blue_green_max_unavailable(replicas, None);
    }
    let canary = spec.strategy.canary.as_ref();
    let read = |v: Option<&IntOrString>| v.and_then(argo_int_or_percent);
    replicas::resolve_surge_unavailable(
        replicas,
        read(canary.and_then(|c| c.max_surge.as_ref())).as_ref(),
        read(canary.and_then(|c| c.max_unavailable.as_ref())).as_ref(),
    )
    .max_unavailable
}

/// `maxSurge`-style values as Argo reads them (every string is a percentage).
fn argo_int_or_percent(v: &IntOrString) -> Option<replicas::IntOrPercent> {
    match v {
        IntOrString::Int(n) => Some(replicas::IntOrPercent::Int(*n)),
        IntOrString::String(text) => replicas::IntOrPercent::parse(text).ok(),
    }
}

/// A delay in seconds from the spec, or Argo's default of 30.
fn seconds_or_30(value: Option<i32>) -> Duration {
    Duration::from_secs(
        value
            .map(i64::from)
            .unwrap_or(DEFAULT_SCALE_DOWN_DELAY)
            .max(0) as u64,
    )
}

/// The canary: the steps walked as far as they go without waiting. Returns the canary's share
/// of traffic: what the router is set to (with a router), or the step's weight (without).
#[allow(clippy::too_many_arguments)]
fn canary_step(
    spec: &RolloutSpec,
    canary: &Canary,
    hash: &str,
    stable_hash: &str,
    new: &ReplicaSetView,
    owned: &[ReplicaSetView],
    now: Timestamp,
    state: &mut State,
    decision: &mut Decision,
    router_weights: Option<replicas::TrafficWeights>,
) -> i32 {
    let replicas = spec.replicas();
    let routed = canary.traffic_routing.is_some();
    let others: Vec<&ReplicaSetView> = owned
        .iter()
        .filter(|rs| rs.hash != hash && rs.hash != stable_hash)
        .collect();
    if let Some(svc) = &canary.canary_service {
        decision.services.insert(svc.clone(), hash.to_string());
    }
    if let Some(svc) = &canary.stable_service {
        decision
            .services
            .insert(svc.clone(), stable_hash.to_string());
    }
    // Stable (or rolled back to stable): everything on it. Without a router the old pods go at
    // once; with one, after scaleDownDelaySeconds (the router may still send them traffic).
    if hash == stable_hash {
        state.step = canary.steps.len();
        state.pauses.clear();
        state.controller_pause = false;
        state.abort = false;
        state.promote_full = false;
        decision.scale.insert(new.name.clone(), replicas);
        if routed && !canary.dynamic_stable_scale {
            let delay = seconds_or_30(canary.scale_down_delay_seconds);
            scale_down_after_delay(owned, &[hash], delay, now, state, decision);
        } else {
            for rs in &others {
                decision.scale.insert(rs.name.clone(), 0);
            }
        }
        if new.available < replicas {
            state.set(
                "Progressing",
                "updated replicas are still becoming available",
            );
        } else if !routed && others.iter().any(|rs| rs.current > 0) {
            state.set("Progressing", "old replicas are pending termination");
        } else {
            state.set("Healthy", "");
        }
        return 0;
    }
    let stable = owned.iter().find(|rs| rs.hash == stable_hash);
    let arithmetic = |step: usize, abort: bool| replicas::CanaryRollout {
        replicas: Some(replicas),
        max_surge: canary.max_surge.as_ref().and_then(argo_int_or_percent),
        max_unavailable: canary
            .max_unavailable
            .as_ref()
            .and_then(argo_int_or_percent),
        steps: canary
            .steps
            .iter()
            .map(|s| replicas::CanaryStep {
                set_weight: s.set_weight,
                set_canary_scale: s
                    .set_canary_scale
                    .as_ref()
                    .map(|c| replicas::SetCanaryScale {
                        replicas: c.replicas,
                        weight: c.weight,
                        match_traffic_weight: c.match_traffic_weight,
                    }),
            })
            .collect(),
        traffic_routing: routed,
        max_traffic_weight: canary
            .traffic_routing
            .as_ref()
            .and_then(|r| r.max_traffic_weight),
        dynamic_stable_scale: canary.dynamic_stable_scale,
        abort_scale_down_delay_seconds: canary.abort_scale_down_delay_seconds,
        current_step_index: Some(step as i32),
        abort,
        stable_rs: stable_hash.to_string(),
        current_pod_hash: hash.to_string(),
        ..Default::default()
    };
    let others_counts: Vec<replicas::RsCounts> = others
        .iter()
        .map(|rs| replicas::RsCounts::new(rs.desired, rs.available))
        .collect();
    let replica_sets = replicas::ReplicaSets {
        new: (new.revision > 0).then(|| replicas::RsCounts::new(new.desired, new.available)),
        stable: match stable {
            Some(st) => {
                replicas::StableRs::Distinct(replicas::RsCounts::new(st.desired, st.available))
            }
            None => replicas::StableRs::Missing,
        },
        others: &others_counts,
    };
    // The counts to scale to now (Argo's arithmetic: a basic canary moves towards the step's
    // weight within maxSurge and maxUnavailable; a routed one scales the canary to its weight
    // and keeps the stable whole), and the step's own target (reached: the step is done).
    let counts = |step: usize, abort: bool| -> (i32, i32) {
        let ro = arithmetic(step, abort);
        let now = if routed {
            replicas::traffic_routed_canary(&ro, &replica_sets, router_weights.as_ref())
        } else {
            replicas::basic_canary(&ro, &replica_sets)
        };
        (now.canary, now.stable)
    };
    let target = |step: usize| -> (i32, i32) {
        if routed {
            return counts(step, false);
        }
        let ro = arithmetic(step, false);
        let weight = replicas::current_set_weight(&ro);
        let t = replicas::approximate_weighted_counts(
            replicas,
            weight,
            100,
            ro.surge_unavailable().max_surge,
        );
        (t.canary, t.stable)
    };
    let stable_name = stable.map(|s| s.name.clone());
    let at_counts = |c: i32, s: i32| -> bool {
        new.desired == c
            && new.available >= c
            && stable.is_none_or(|st| st.desired == s && st.available >= s)
            && others.iter().all(|rs| rs.current == 0)
    };
    let apply = |decision: &mut Decision, c: i32, s: i32| {
        decision.scale.insert(new.name.clone(), c);
        if let Some(name) = &stable_name {
            decision.scale.insert(name.clone(), s);
        }
        for rs in &others {
            decision.scale.insert(rs.name.clone(), 0);
        }
    };
    if state.abort {
        // Everything back on stable, and a retry starts at step 0. With a router, traffic
        // leaves the canary first; its pods go after abortScaleDownDelaySeconds (0: never).
        state.step = 0;
        state.aborted(now, new.revision);
        if routed {
            if let Some(name) = &stable_name {
                decision.scale.insert(name.clone(), replicas);
            }
            match canary.abort_scale_down_delay_seconds {
                Some(0) => {}
                delay => {
                    let delay = seconds_or_30(delay);
                    scale_down_after_delay(owned, &[stable_hash], delay, now, state, decision);
                }
            }
        } else {
            let (c, s) = counts(0, true);
            apply(decision, c, s);
        }
        return 0;
    }
    // What the router sends the canary while a step waits: the last weight set before it.
    let weight_before = |step: usize| {
        if step == 0 {
            0
        } else {
            current_weight(canary, step - 1)
        }
    };
    if spec.paused {
        // Manually paused: keep the replicas as they are, and keep naming the runs in progress
        // (a result that lands during the pause is read after it).
        if new.revision > 0 {
            if canary
                .steps
                .get(state.step)
                .is_some_and(|s| s.analysis.is_some())
            {
                state.step_run = state
                    .current_run(&RunKind::Step(state.step), hash, new.revision)
                    .ok();
            }
            if canary.analysis.is_some() {
                state.background_run = state
                    .current_run(&RunKind::Background, hash, new.revision)
                    .ok();
            }
        }
        return router_weights.map_or(current_weight(canary, state.step), |w| w.canary);
    }
    state.aborted_at = None;
    state.abort_reason = None;
    if let Some(analysis) = &canary.analysis
        && hash != stable_hash
        && new.revision > 0
        && !state.promote_full
        && state.step >= canary.analysis_starting_step()
    {
        // Background analysis runs beside the steps from `startingStep` until promotion; a
        // failure aborts the update, an inconclusive result pauses it.
        match state.current_run(&RunKind::Background, hash, new.revision) {
            Ok(run) => {
                state.background_run = Some(run.clone());
                match run.phase.as_str() {
                    "Failed" | "Error" => {
                        state.abort_for("Background", &run, now, new.revision);
                        return weight_before(state.step);
                    }
                    "Inconclusive" => {
                        if !state.pause(INCONCLUSIVE_PAUSE, None, now) {
                            return weight_before(state.step);
                        }
                        // Resumed after an inconclusive result: the analysis runs again (Argo's
                        // `needsNewAnalysisRun`), beside the steps.
                        let name = state.new_run_name(&RunKind::Background, hash, new.revision);
                        state.request_run(decision, name, RunKind::Background, hash, analysis);
                    }
                    _ => {}
                }
            }
            Err(name) => state.request_run(decision, name, RunKind::Background, hash, analysis),
        }
    }
    if state.promote_full {
        state.step = canary.steps.len();
        state.pauses.clear();
        state.controller_pause = false;
    }
    // Walk the steps as far as they go without waiting.
    loop {
        let weight = current_weight(canary, state.step);
        let (c, s) = counts(state.step, false);
        apply(decision, c, s);
        if state.step >= canary.steps.len() {
            // Past the last step: all traffic to the canary once it is fully available, and
            // then it becomes the stable.
            if new.desired == replicas && new.available >= replicas {
                state.stable = Some(hash.to_string());
                state.promote_full = false;
                if let Some(name) = &stable_name {
                    if routed {
                        decision.scale.remove(name);
                    } else {
                        decision.scale.insert(name.clone(), 0);
                    }
                }
                if let Some(svc) = &canary.stable_service {
                    decision.services.insert(svc.clone(), hash.to_string());
                }
                state.set("Progressing", "old replicas are pending termination");
                state.requeue_within(Duration::from_millis(1));
                return 100;
            }
            state.set(
                "Progressing",
                "updated replicas are still becoming available",
            );
            return weight_before(state.step);
        }
        let step = &canary.steps[state.step];
        if step.set_weight.is_some() || step.set_canary_scale.is_some() {
            let (c, s) = target(state.step);
            if at_counts(c, s) {
                state.step += 1;
                continue;
            }
            if new.desired != c || new.current < c {
                state.set("Progressing", "more replicas need to be updated");
            } else if new.available < c {
                state.set(
                    "Progressing",
                    "updated replicas are still becoming available",
                );
            } else {
                state.set("Progressing", "old replicas are pending termination");
            }
            return weight_before(state.step);
        }
        if let Some(pause) = &step.pause {
            let duration = pause.duration.as_ref().and_then(|d| parse_pause(d).ok());
            if state.pause(CANARY_PAUSE, duration, now) {
                state.step += 1;
                continue;
            }
            return weight;
        }
        if let Some(analysis) = &step.analysis {
            // The step waits for its run: Successful moves on, Failed or Error aborts,
            // Inconclusive pauses for a person (a promote then skips the step).
            if new.revision == 0 {
                // The run is named after the revision: once its ReplicaSet exists.
                return weight;
            }
            let kind = RunKind::Step(state.step);
            match state.current_run(&kind, hash, new.revision) {
                Ok(run) => {
                    state.step_run = Some(run.clone());
                    match run.phase.as_str() {
                        "Successful" => {
                            state.step += 1;
                            continue;
                        }
                        "Failed" | "Error" => {
                            state.abort_for("Step-based", &run, now, new.revision);
                            return weight;
                        }
                        "Inconclusive" => {
                            if state.pause(INCONCLUSIVE_PAUSE, None, now) {
                                state.step += 1;
                                continue;
                            }
                            return weight;
                        }
                        _ => {
                            state.waiting_on_analysis = true;
                            state.set(
                                "Progressing",
                                format!("waiting for analysis run {} to complete", run.name),
                            );
                            return weight;
                        }
                    }
                }
                Err(name) => {
                    state.request_run(decision, name, kind, hash, analysis);
                    state.waiting_on_analysis = true;
                    state.set("Progressing", "creating an analysis run");
                    return weight;
                }
            }
        }
        // A step of no kind bosun knows (validation rejects those it can name).
        state.step += 1;
    }
}

/// The ReplicaSets other than `keep` go to zero once their scale-down deadline passes (set to
/// `delay` from now the first time one is seen with pods): the old side of a blue-green switch,
/// the old stable of a traffic-routed canary, an aborted canary.
fn scale_down_after_delay(
    owned: &[ReplicaSetView],
    keep: &[&str],
    delay: Duration,
    now: Timestamp,
    state: &mut State,
    decision: &mut Decision,
) {
    for rs in owned.iter().filter(|rs| !keep.contains(&rs.hash.as_str())) {
        if rs.desired == 0 {
            if rs.scale_down_deadline.is_some() {
                decision.deadlines.insert(rs.name.clone(), None);
            }
            continue;
        }
        match rs.scale_down_deadline {
            Some(deadline) if deadline <= now => {
                decision.scale.insert(rs.name.clone(), 0);
                decision.deadlines.insert(rs.name.clone(), None);
            }
            Some(deadline) => {
                state.requeue_within(deadline.duration_since(now).unsigned_abs());
            }
            None => {
                decision
                    .deadlines
                    .insert(rs.name.clone(), Some(now + delay));
                state.requeue_within(delay);
            }
        }
    }
}

/// Blue-green: the new ReplicaSet comes up behind the preview Service, the active Service
/// switches at promotion, and the old side is scaled down after the delay.
#[allow(clippy::too_many_arguments)]
fn blue_green_step(
    spec: &RolloutSpec,
    bg: &BlueGreen,
    hash: &str,
    active_hash: &str,
    new: &ReplicaSetView,
    owned: &[ReplicaSetView],
    now: Timestamp,
    state: &mut State,
    decision: &mut Decision,
) -> (String, String) {
    let replicas = spec.replicas();
    let delay = Duration::from_secs(
        bg.scale_down_delay_seconds
            .map(i64::from)
            .unwrap_or(DEFAULT_SCALE_DOWN_DELAY)
            .max(0) as u64,
    );
    // Old ReplicaSets (neither active nor new) go down once their deadline passes.
    if hash == active_hash {
        state.pauses.clear();
        state.controller_pause = false;
        state.abort = false;
        decision.scale.insert(new.name.clone(), replicas);
        decision
            .services
            .insert(bg.active_service.clone(), hash.to_string());
        if let Some(preview) = &bg.preview_service {
            decision.services.insert(preview.clone(), hash.to_string());
        }
        if new.scale_down_deadline.is_some() {
            decision.deadlines.insert(new.name.clone(), None);
        }
        scale_down_after_delay(owned, &[hash], delay, now, state, decision);
        if new.available < replicas {
            state.set(
                "Progressing",
                "updated replicas are still becoming available",
            );
        } else {
            // Healthy even while the old side waits out its scale-down delay, as Argo reports it.
            state.set("Healthy", "");
        }
        return (hash.to_string(), hash.to_string());
    }
    let active = owned.iter().find(|rs| rs.hash == active_hash);
    decision
        .services
        .insert(bg.active_service.clone(), active_hash.to_string());
    if let Some(a) = active {
        // The active side stays whole until promotion.
        if a.desired < replicas {
            decision.scale.insert(a.name.clone(), replicas);
        }
        if a.scale_down_deadline.is_some() {
            decision.deadlines.insert(a.name.clone(), None);
        }
    }
    if state.abort {
        decision.scale.insert(new.name.clone(), 0);
        if let Some(preview) = &bg.preview_service {
            decision
                .services
                .insert(preview.clone(), active_hash.to_string());
        }
        state.aborted(now, new.revision);
        return (active_hash.to_string(), active_hash.to_string());
    }
    state.aborted_at = None;
    if let Some(preview) = &bg.preview_service {
        decision.services.insert(preview.clone(), hash.to_string());
    }
    scale_down_after_delay(owned, &[hash, active_hash], delay, now, state, decision);
    // Post-promotion analysis: the active Service already selects the new side, which is not
    // stable until the run is Successful. The old side stays whole meanwhile, so that Failed or
    // Error switches the active Service back to it (the abort above, from the next look on);
    // Inconclusive pauses for a person, whose promote accepts the new side.
    if let Some(analysis) = &bg.post_promotion_analysis
        && new.revision > 0
        && state.active_selector.as_deref() == Some(hash)
    {
        decision.scale.insert(new.name.clone(), replicas);
        let accepted = match state.current_run(&RunKind::PostPromotion, hash, new.revision) {
            Ok(run) => {
                state.post_promotion_run = Some(run.clone());
                match run.phase.as_str() {
                    "Successful" => true,
                    "Failed" | "Error" => {
                        // Traffic goes back first: the new side, still what the active Service
                        // selects until this decision's Services are written, is scaled down by
                        // the abort on the next look, never in the same breath.
                        state.abort_for("Blue/green post-promotion", &run, now, new.revision);
                        decision.scale.remove(&new.name);
                        return (active_hash.to_string(), active_hash.to_string());
                    }
                    "Inconclusive" => state.pause(INCONCLUSIVE_PAUSE, None, now),
                    _ => {
                        state.waiting_on_analysis = true;
                        state.set(
                            "Progressing",
                            format!("waiting for analysis run {} to complete", run.name),
                        );
                        false
                    }
                }
            }
            Err(name) => {
                state.request_run(decision, name, RunKind::PostPromotion, hash, analysis);
                state.waiting_on_analysis = true;
                state.set("Progressing", "creating an analysis run");
                false
            }
        };
        decision
            .services
            .insert(bg.active_service.clone(), hash.to_string());
        if !accepted {
            return (hash.to_string(), hash.to_string());
        }
        return promoted(bg, hash, active, delay, now, state, decision);
    }
    let preview_count = bg.preview_replica_count.unwrap_or(replicas).min(replicas);
    let promoting = state.promote_full;
    let wanted = if promoting { replicas } else { preview_count };
    decision
        .scale
        .insert(new.name.clone(), wanted.max(new.desired.min(replicas)));
    if new.available < wanted {
        state.set(
            "Progressing",
            "updated replicas are still becoming available",
        );
        return (active_hash.to_string(), hash.to_string());
    }
    if spec.paused {
        if bg.pre_promotion_analysis.is_some() && new.revision > 0 {
            state.pre_promotion_run = state
                .current_run(&RunKind::PrePromotion, hash, new.revision)
                .ok();
        }
        return (active_hash.to_string(), hash.to_string());
    }
    // Pre-promotion analysis judges the preview: promotion (by a person or automatic) waits for
    // Successful; Failed or Error aborts (the preview goes, the active never switched);
    // Inconclusive pauses for a person (a promote then goes ahead). A full promotion skips it.
    if let Some(analysis) = &bg.pre_promotion_analysis
        && !promoting
        && new.revision > 0
    {
        match state.current_run(&RunKind::PrePromotion, hash, new.revision) {
            Ok(run) => {
                state.pre_promotion_run = Some(run.clone());
                match run.phase.as_str() {
                    "Successful" => {}
                    "Failed" | "Error" => {
                        state.abort_for("Blue/green pre-promotion", &run, now, new.revision);
                        return (active_hash.to_string(), hash.to_string());
                    }
                    "Inconclusive" => {
                        if !state.pause(INCONCLUSIVE_PAUSE, None, now) {
                            return (active_hash.to_string(), hash.to_string());
                        }
                        // Resumed after an inconclusive result: the preview is judged again
                        // (Argo's `needsNewAnalysisRun`); promote --full skips the analysis.
                        let name = state.new_run_name(&RunKind::PrePromotion, hash, new.revision);
                        state.request_run(decision, name, RunKind::PrePromotion, hash, analysis);
                        state.waiting_on_analysis = true;
                        state.set("Progressing", "creating an analysis run");
                        return (active_hash.to_string(), hash.to_string());
                    }
                    _ => {
                        state.waiting_on_analysis = true;
                        state.set(
                            "Progressing",
                            format!("waiting for analysis run {} to complete", run.name),
                        );
                        return (active_hash.to_string(), hash.to_string());
                    }
                }
            }
            Err(name) => {
                state.request_run(decision, name, RunKind::PrePromotion, hash, analysis);
                state.waiting_on_analysis = true;
                state.set("Progressing", "creating an analysis run");
                return (active_hash.to_string(), hash.to_string());
            }
        }
    }
    if !promoting {
        let auto = bg.auto_promotion_enabled.unwrap_or(true);
        let wait = bg
            .auto_promotion_seconds
            .filter(|s| *s > 0)
            .map(|s| Duration::from_secs(s as u64));
        let promoted = if !auto || wait.is_some() {
            state.pause(BLUE_GREEN_PAUSE, if auto { wait } else { None }, now)
        } else {
            true
        };
        if !promoted {
            return (active_hash.to_string(), hash.to_string());
        }
        if preview_count < replicas {
            // Full size before the switch.
            state.promote_full = true;
            decision.scale.insert(new.name.clone(), replicas);
            state.set(
                "Progressing",
                "updated replicas are still becoming available",
            );
            state.requeue_within(Duration::from_millis(1));
            return (active_hash.to_string(), hash.to_string());
        }
    } else if new.available < replicas {
        return (active_hash.to_string(), hash.to_string());
    }
    // Promotion: the active Service switches. With post-promotion analysis the new side is
    // judged first (above, from the next look on); without, it is stable at once.
    state.promote_full = false;
    state.step = 0;
    decision
        .services
        .insert(bg.active_service.clone(), hash.to_string());
    if bg.post_promotion_analysis.is_some() && new.revision > 0 {
        state.set("Progressing", "creating an analysis run");
        state.requeue_within(Duration::from_millis(1));
        return (hash.to_string(), hash.to_string());
    }
    promoted(bg, hash, active, delay, now, state, decision)
}

/// The new side is stable: the old active waits out the scale-down delay.
fn promoted(
    bg: &BlueGreen,
    hash: &str,
    active: Option<&ReplicaSetView>,
    delay: Duration,
    now: Timestamp,
    state: &mut State,
    decision: &mut Decision,
) -> (String, String) {
    state.stable = Some(hash.to_string());
    state.promote_full = false;
    state.step = 0;
    decision
        .services
        .insert(bg.active_service.clone(), hash.to_string());
    if let Some(a) = active {
        let deadline = now + delay;
        decision.deadlines.insert(a.name.clone(), Some(deadline));
        decision.scale.remove(&a.name);
        state.requeue_within(delay);
    }
    state.set("Healthy", "");
    (hash.to_string(), hash.to_string())
}

/// The status Argo Rollouts would write, from `state` and the ReplicaSets.
fn write_status(
    object: &Value,
    now: Timestamp,
    spec: Option<(&RolloutSpec, &str)>,
    state: &State,
    owned: &[ReplicaSetView],
    weights: Option<Traffic>,
    selectors: Option<(String, String)>,
) -> Value {
    let mut status = object["status"].as_object().cloned().unwrap_or_default();
    let set = |status: &mut Map<String, Value>, key: &str, value: Value| {
        if value.is_null() {
            status.remove(key);
        } else {
            status.insert(key.to_string(), value);
        }
    };
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(0);
    set(
        &mut status,
        "observedGeneration",
        json!(generation.to_string()),
    );
    set(&mut status, "phase", json!(state.phase));
    set(
        &mut status,
        "message",
        if state.message.is_empty() {
            Value::Null
        } else {
            json!(state.message)
        },
    );
    let Some((spec, hash)) = spec else {
        return Value::Object(status);
    };
    let sum = |f: fn(&ReplicaSetView) -> i32| owned.iter().map(f).sum::<i32>();
    let updated = owned.iter().find(|rs| rs.hash == hash);
    set(&mut status, "replicas", json!(sum(|rs| rs.current)));
    set(&mut status, "HPAReplicas", json!(sum(|rs| rs.current)));
    set(&mut status, "readyReplicas", json!(sum(|rs| rs.ready)));
    set(
        &mut status,
        "availableReplicas",
        json!(sum(|rs| rs.available)),
    );
    set(
        &mut status,
        "updatedReplicas",
        json!(updated.map_or(0, |rs| rs.current)),
    );
    set(&mut status, "currentPodHash", json!(hash));
    set(&mut status, "stableRS", json!(state.stable));
    set(
        &mut status,
        "selector",
        json!(revision::selector_string(&spec.selector)),
    );
    set(
        &mut status,
        "pauseConditions",
        if state.pauses.is_empty() {
            Value::Null
        } else {
            json!(
                state
                    .pauses
                    .iter()
                    .map(
                        |(reason, start)| json!({"reason": reason, "startTime": start.to_string()})
                    )
                    .collect::<Vec<_>>()
            )
        },
    );
    set(
        &mut status,
        "controllerPause",
        if state.controller_pause {
            json!(true)
        } else {
            Value::Null
        },
    );
    set(
        &mut status,
        "abort",
        if state.abort {
            json!(true)
        } else {
            Value::Null
        },
    );
    set(&mut status, "abortedAt", json!(state.aborted_at));
    set(
        &mut status,
        "promoteFull",
        if state.promote_full {
            json!(true)
        } else {
            Value::Null
        },
    );
    if let Some(canary) = &spec.strategy.canary {
        set(
            &mut status,
            "currentStepIndex",
            json!(state.step.min(canary.steps.len())),
        );
        set(
            &mut status,
            "currentStepHash",
            json!(revision::steps_hash(
                &object["spec"]["strategy"]["canary"]["steps"]
            )),
        );
        // Argo writes weights only where a router carries them.
        let mut canary_status = match &weights {
            Some(t) => json!({"weights": {
                "canary": {"weight": t.canary_weight, "podTemplateHash": t.canary_hash, "serviceName": canary.canary_service},
                "stable": {"weight": 100 - t.canary_weight, "podTemplateHash": t.stable_hash, "serviceName": canary.stable_service},
            }}),
            None => json!({}),
        };
        if let Some(run) = &state.step_run {
            canary_status["currentStepAnalysisRunStatus"] = run.status();
        }
        if let Some(run) = &state.background_run {
            canary_status["currentBackgroundAnalysisRunStatus"] = run.status();
        }
        set(&mut status, "canary", canary_status);
    }
    if let Some((active, preview)) = selectors {
        let mut blue_green = json!({"activeSelector": active, "previewSelector": preview});
        if let Some(run) = &state.pre_promotion_run {
            blue_green["prePromotionAnalysisRunStatus"] = run.status();
        }
        if let Some(run) = &state.post_promotion_run {
            blue_green["postPromotionAnalysisRunStatus"] = run.status();
        }
        set(&mut status, "blueGreen", blue_green);
    }
    set(
        &mut status,
        "conditions",
        json!(conditions(object, state, spec, owned, hash, now)),
    );
    Value::Object(status)
}

/// Argo's conditions, keeping `lastTransitionTime` while a condition's status is unchanged.
fn conditions(
    object: &Value,
    state: &State,
    spec: &RolloutSpec,
    owned: &[ReplicaSetView],
    hash: &str,
    now: Timestamp,
) -> Vec<Value> {
    let now = now.to_string();
    let previous = object["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let available = owned.iter().map(|rs| rs.available).sum::<i32>() >= spec.replicas();
    let completed = state.stable.as_deref() == Some(hash) && state.phase == "Healthy";
    let wanted = [
        (
            "Available",
            available,
            "AvailableReason",
            if available {
                "Rollout has minimum availability"
            } else {
                "Rollout does not have minimum availability"
            },
        ),
        (
            "Progressing",
            state.phase != "Degraded",
            match state.phase {
                "Degraded" if state.deadline_exceeded => "ProgressDeadlineExceeded",
                "Degraded" if state.abort => "RolloutAborted",
                "Degraded" => "InvalidSpec",
                "Paused" => "RolloutPaused",
                "Healthy" => "NewReplicaSetAvailable",
                _ => "ReplicaSetUpdated",
            },
            state.message.as_str(),
        ),
        (
            "Paused",
            state.phase == "Paused",
            "RolloutPaused",
            "Rollout is paused",
        ),
        (
            "Healthy",
            state.phase == "Healthy",
            "RolloutHealthy",
            if state.phase == "Healthy" {
                "Rollout is healthy"
            } else {
                "Rollout is not healthy"
            },
        ),
        (
            "Completed",
            completed,
            "RolloutCompleted",
            if completed {
                "Rollout completed update to revision"
            } else {
                "Rollout not completed"
            },
        ),
    ];
    wanted
        .iter()
        .filter(|(kind, ok, ..)| *ok || *kind != "Paused")
        .map(|(kind, ok, reason, message)| {
            let status = if *ok { "True" } else { "False" };
            let kept = previous
                .iter()
                .find(|c| c["type"] == *kind && c["status"] == status);
            let since = kept
                .and_then(|c| c["lastTransitionTime"].as_str())
                .map(str::to_string)
                .unwrap_or_else(|| now.clone());
            let updated = match (*kind, state.progress_at) {
                ("Progressing", Some(at)) => at.to_string(),
                _ => since.clone(),
            };
            json!({"type": kind, "status": status, "reason": reason, "message": message,
                "lastTransitionTime": since, "lastUpdateTime": updated})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cluster in miniature: ReplicaSets become available as soon as they are scaled, and the
    /// Rollout's status is what the last decision wrote.
    struct World {
        rollout: Value,
        rss: Vec<ReplicaSetView>,
        now: Timestamp,
        services: BTreeMap<String, String>,
        last: Decision,
        /// The AnalysisRuns made so far (Running when made; a test sets their phase).
        runs: Vec<AnalysisRunView>,
        /// The digests of the config the template references, as the controller read them.
        configs: Digests,
        /// Every ReplicaSet made, as made.
        made: Vec<Value>,
    }

    impl World {
        fn new(spec: Value) -> World {
            World {
                rollout: json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                    "metadata": {"name": "web", "namespace": "shop", "uid": "u1", "generation": 1}, "spec": spec}),
                rss: Vec::new(),
                now: "2026-12-05T12:00:00Z".parse().unwrap(),
                services: BTreeMap::new(),
                last: Decision::default(),
                runs: Vec::new(),
                configs: Digests::new(),
                made: Vec::new(),
            }
        }

        /// Reconciles until nothing changes; returns the last decision.
        fn settle(&mut self) -> &Decision {
            for _ in 0..20 {
                let d = decide_with_runs(
                    &self.rollout,
                    &self.configs,
                    &self.rss,
                    &self.runs,
                    self.now,
                );
                let mut changed = d.status != self.rollout["status"];
                for request in &d.runs {
                    if self.runs.iter().any(|r| r.name == request.name) {
                        continue;
                    }
                    self.runs.push(AnalysisRunView {
                        name: request.name.clone(),
                        hash: request.hash.clone(),
                        kind: request.kind.clone(),
                        phase: "Running".into(),
                        message: String::new(),
                        measured: String::new(),
                        terminating: false,
                    });
                    changed = true;
                }
                for name in &d.terminate {
                    let run = self.runs.iter_mut().find(|r| &r.name == name).unwrap();
                    changed |= !run.terminating;
                    run.terminating = true;
                }
                if !d.delete_runs.is_empty() {
                    self.runs.retain(|r| !d.delete_runs.contains(&r.name));
                    changed = true;
                }
                if let Some(rs) = &d.create {
                    self.made.push(rs.clone());
                    let mut view = ReplicaSetView::from_object(rs).unwrap();
                    view.desired = d.scale.get(&view.name).copied().unwrap_or(0);
                    self.rss.push(view);
                    changed = true;
                }
                for (name, replicas) in &d.scale {
                    let rs = self.rss.iter_mut().find(|rs| &rs.name == name).unwrap();
                    changed |= rs.desired != *replicas;
                    rs.desired = *replicas;
                }
                for (name, deadline) in &d.deadlines {
                    let rs = self.rss.iter_mut().find(|rs| &rs.name == name).unwrap();
                    changed |= rs.scale_down_deadline != *deadline;
                    rs.scale_down_deadline = *deadline;
                }
                for rs in &mut self.rss {
                    changed |= rs.current != rs.desired || rs.available != rs.desired;
                    (rs.current, rs.ready, rs.available) = (rs.desired, rs.desired, rs.desired);
                }
                self.services.extend(d.services.clone());
                self.rollout["status"] = d.status.clone();
                self.last = d;
                if !changed {
                    break;
                }
            }
            &self.last
        }

        fn status(&self, field: &str) -> &Value {
            &self.rollout["status"][field]
        }

        fn replicas(&self) -> Vec<(u64, i32)> {
            let mut r: Vec<(u64, i32)> = self
                .rss
                .iter()
                .map(|rs| (rs.revision, rs.desired))
                .collect();
            r.sort();
            r
        }

        fn image(&mut self, image: &str) {
            self.rollout["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
            let g = self.rollout["metadata"]["generation"].as_i64().unwrap();
            self.rollout["metadata"]["generation"] = json!(g + 1);
        }

        fn advance(&mut self, secs: i64) {
            self.now += jiff::SignedDuration::from_secs(secs);
        }
    }

    fn template(image: &str) -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}})
    }

    fn canary(steps: Value) -> World {
        World::new(
            json!({"replicas": 5, "selector": {"matchLabels": {"app": "web"}},
            "template": template("web:1"),
            "strategy": {"canary": {"canaryService": "web-canary", "stableService": "web-stable", "steps": steps}}}),
        )
    }

    #[test]
    fn a_change_of_config_alone_is_a_new_revision_whose_pods_reference_its_copies() {
        let mut w = canary(json!([{"setWeight": 20}, {"pause": {}}]));
        w.rollout["spec"]["template"]["spec"]["containers"][0]["envFrom"] =
            json!([{"configMapRef": {"name": "web-config"}}]);
        let key = (config::Kind::ConfigMap, "web-config".to_string());
        w.configs.insert(key.clone(), "digest-1".into());
        let d = w.settle().clone();
        assert_eq!(
            w.replicas(),
            vec![(1, 5)],
            "the first revision skips the steps"
        );
        let first = w.status("stableRS").as_str().unwrap().to_string();
        let copy = format!("web-config-{first}");
        assert_eq!(
            w.made[0]["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"],
            json!(copy)
        );
        assert!(d.copies.is_empty(), "made with the ReplicaSet, not again");
        // The same template, other content: a new revision that walks the steps.
        w.configs.insert(key, "digest-2".into());
        let d = decide_with_runs(&w.rollout, &w.configs, &w.rss, &w.runs, w.now);
        let second = d.status["currentPodHash"].as_str().unwrap().to_string();
        assert_ne!(second, first);
        assert_eq!(
            d.copies,
            vec![ConfigCopy {
                kind: config::Kind::ConfigMap,
                name: "web-config".into(),
                digest: "digest-2".into(),
                copy: format!("web-config-{second}"),
            }]
        );
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 4), (2, 1)], "paused at 20 %");
        assert_eq!(w.status("stableRS"), &json!(first));
        assert_eq!(
            w.rollout["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"],
            "web-config",
            "the Rollout's own template is not changed"
        );
    }

    #[test]
    fn the_first_deploy_skips_the_steps() {
        let mut w = canary(json!([{"setWeight": 20}, {"pause": {}}]));
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 5)]);
        assert_eq!(w.status("phase"), "Healthy");
        assert_eq!(w.status("currentStepIndex"), 2);
        assert_eq!(w.status("stableRS"), w.status("currentPodHash"));
        assert_eq!(w.status("observedGeneration"), "1");
        assert_eq!(w.status("selector"), "app=web");
        let hash = w.status("currentPodHash").as_str().unwrap().to_string();
        assert_eq!(w.services["web-canary"], hash);
        assert_eq!(w.services["web-stable"], hash);
    }

    /// A settled Rollout decided again later writes nothing: its status is a fixed point, or
    /// every reconcile would write, and every write's watch event would reconcile again.
    #[test]
    fn a_settled_rollout_is_decided_into_the_same_status() {
        let mut w = canary(json!([{"setWeight": 20}, {"pause": {}}]));
        w.settle();
        let healthy = w.rollout["status"].clone();
        w.advance(30);
        assert_eq!(decide(&w.rollout, &w.rss, w.now).status, healthy);
        w.image("web:2");
        w.settle();
        assert_eq!(w.status("phase"), "Paused");
        let paused = w.rollout["status"].clone();
        w.advance(30);
        assert_eq!(decide(&w.rollout, &w.rss, w.now).status, paused);
    }

    #[test]
    fn a_canary_walks_its_steps_pauses_and_is_promoted() {
        let mut w = canary(
            json!([{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}, {"pause": {"duration": "10s"}}]),
        );
        w.settle();
        let stable = w.status("stableRS").clone();
        w.image("web:2");
        w.settle();
        // 20 % of 5: one canary pod and four stable ones (Argo's arithmetic), then an
        // indefinite pause.
        assert_eq!(w.replicas(), vec![(1, 4), (2, 1)]);
        assert_eq!(w.status("phase"), "Paused");
        assert_eq!(w.status("message"), "CanaryPauseStep");
        assert_eq!(w.status("currentStepIndex"), 1);
        assert_eq!(w.status("controllerPause"), true);
        assert_eq!(
            w.status("pauseConditions")[0]["startTime"],
            "2026-12-05T12:00:00Z"
        );
        assert_eq!(
            w.last.requeue, None,
            "an indefinite pause waits for a promotion, not a timer"
        );
        let canary_hash = w.status("currentPodHash").clone();
        assert_eq!(w.services["web-canary"], canary_hash);
        assert_eq!(json!(w.services["web-stable"]), stable);
        // Still paused an hour later.
        w.advance(3600);
        w.settle();
        assert_eq!(w.status("currentStepIndex"), 1);
        // Promote (what `bosun rollout promote` writes): the pause condition goes.
        w.rollout["status"]["pauseConditions"] = Value::Null;
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 2), (2, 3)]);
        assert_eq!(w.status("currentStepIndex"), 3);
        assert_eq!(w.status("phase"), "Paused");
        assert_eq!(w.last.requeue, Some(Duration::from_secs(10)));
        w.advance(4);
        w.settle();
        assert_eq!(
            w.last.requeue,
            Some(Duration::from_secs(6)),
            "the pause clock keeps its start"
        );
        w.advance(6);
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 0), (2, 5)]);
        assert_eq!(w.status("stableRS"), &canary_hash);
        assert_eq!(w.status("phase"), "Healthy");
        assert_eq!(w.status("currentStepIndex"), 4);
        assert_eq!(json!(w.services["web-stable"]), canary_hash);
        assert!(w.status("pauseConditions").is_null());
        assert!(w.status("controllerPause").is_null());
    }

    #[test]
    fn abort_puts_everything_back_on_stable_and_retry_starts_again() {
        let mut w = canary(json!([{"setWeight": 40}, {"pause": {}}]));
        w.settle();
        w.image("web:2");
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 3), (2, 2)]);
        w.rollout["status"]["abort"] = json!(true);
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 5), (2, 0)]);
        assert_eq!(w.status("phase"), "Degraded");
        assert_eq!(
            w.status("message"),
            "RolloutAborted: Rollout aborted update to revision 2"
        );
        assert_eq!(w.status("currentStepIndex"), 0);
        assert_eq!(w.status("abortedAt"), "2026-12-05T12:00:00Z");
        assert!(w.status("pauseConditions").is_null());
        // Retry: the steps run again from the first.
        w.rollout["status"]["abort"] = json!(false);
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 3), (2, 2)]);
        assert_eq!(w.status("phase"), "Paused");
        assert!(w.status("abortedAt").is_null());
        // A new revision after an abort starts fresh, without the abort.
        w.rollout["status"]["abort"] = json!(true);
        w.settle();
        w.image("web:3");
        w.settle();
        assert_eq!(w.status("phase"), "Paused");
        assert_eq!(w.replicas(), vec![(1, 3), (2, 0), (3, 2)]);
    }

    #[test]
    fn promote_full_skips_the_remaining_steps() {
        let mut w =
            canary(json!([{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]));
        w.settle();
        w.image("web:2");
        w.settle();
        w.rollout["status"]["promoteFull"] = json!(true);
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 0), (2, 5)]);
        assert_eq!(w.status("phase"), "Healthy");
        assert!(w.status("promoteFull").is_null());
    }

    #[test]
    fn going_back_to_the_stable_template_skips_the_steps() {
        let mut w = canary(json!([{"setWeight": 20}, {"pause": {}}]));
        w.settle();
        w.image("web:2");
        w.settle();
        assert_eq!(w.status("phase"), "Paused");
        w.image("web:1");
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 5), (2, 0)]);
        assert_eq!(w.status("phase"), "Healthy");
    }

    #[test]
    fn a_manual_pause_holds_the_replicas() {
        let mut w = canary(json!([{"setWeight": 20}, {"setWeight": 60}]));
        w.settle();
        w.rollout["spec"]["paused"] = json!(true);
        w.image("web:2");
        w.settle();
        assert_eq!(w.status("phase"), "Paused");
        assert_eq!(w.status("message"), "manually paused");
        assert_eq!(w.replicas(), vec![(1, 5), (2, 0)]);
        w.rollout["spec"]["paused"] = json!(false);
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 0), (2, 5)]);
    }

    impl World {
        /// The newest run gets `phase` (and `message`) as the analysis controller would write.
        fn judge_last_run(&mut self, phase: &str, message: &str) {
            let run = self.runs.last_mut().expect("a run");
            run.phase = phase.into();
            run.message = message.into();
        }
    }

    #[test]
    fn an_analysis_step_waits_for_its_run_and_moves_on_when_it_succeeds() {
        let mut w = canary(
            json!([{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "rate"}]}}, {"setWeight": 60}, {"pause": {}}]),
        );
        w.settle();
        assert!(w.runs.is_empty(), "the first deploy runs no analysis");
        w.image("web:2");
        w.settle();
        assert_eq!(w.runs.len(), 1);
        assert_eq!(w.runs[0].kind, RunKind::Step(1));
        assert_eq!(w.status("currentStepIndex"), 1);
        assert_eq!(w.status("phase"), "Progressing");
        assert_eq!(
            w.status("canary")["currentStepAnalysisRunStatus"]["status"],
            "Running"
        );
        assert_eq!(w.replicas(), vec![(1, 4), (2, 1)]);
        w.judge_last_run("Successful", "");
        w.settle();
        assert_eq!(w.status("currentStepIndex"), 3);
        assert_eq!(w.status("phase"), "Paused");
        assert_eq!(w.runs.len(), 1, "one run per step");
    }

    /// A long analysis is not a stalled update: waiting on a run does not count against
    /// `progressDeadlineSeconds` (Argo exempts analysis steps), and a manual pause meanwhile
    /// keeps the run named, so its result is read after the pause.
    #[test]
    fn a_long_analysis_outlasts_the_progress_deadline_and_a_pause() {
        let mut w = canary(
            json!([{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "rate"}]}}]),
        );
        w.rollout["spec"]["progressDeadlineSeconds"] = json!(60);
        w.rollout["spec"]["progressDeadlineAbort"] = json!(true);
        w.settle();
        w.image("web:2");
        w.settle();
        w.advance(600);
        w.settle();
        assert_eq!(w.status("phase"), "Progressing", "{}", w.status("message"));
        w.rollout["spec"]["paused"] = json!(true);
        w.settle();
        w.judge_last_run("Failed", "Metric \"rate\" assessed Failed");
        w.settle();
        assert_eq!(w.runs.len(), 1);
        w.rollout["spec"]["paused"] = json!(false);
        w.settle();
        assert_eq!(w.status("phase"), "Degraded");
        assert_eq!(w.runs.len(), 1, "the failed run is read, not run again");
    }

    /// Argo's run history: five successful runs stay (the limit is the Rollout's to change),
    /// older ones go, and the one in use is never deleted.
    #[test]
    fn old_runs_go_beyond_the_history_limit() {
        let mut w = canary(
            json!([{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "rate"}]}}]),
        );
        w.rollout["spec"]["analysis"] = json!({"successfulRunHistoryLimit": 2});
        w.settle();
        for i in 2..6 {
            w.image(&format!("web:{i}"));
            w.settle();
            w.judge_last_run("Successful", "");
            w.settle();
            assert_eq!(w.status("phase"), "Healthy");
        }
        let names: Vec<&str> = w.runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(w.runs.len(), 2, "{names:?}");
        assert!(names[1].contains("-5-1"), "the newest stay: {names:?}");
    }

    /// The run made by the last reconcile, seen before that reconcile's status write (the
    /// runs' cache ahead of the Rollout's): adopted, not made twice.
    #[test]
    fn a_run_not_yet_named_in_the_status_is_not_made_twice() {
        let mut w = canary(
            json!([{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "rate"}]}}]),
        );
        w.settle();
        w.image("web:2");
        w.settle();
        assert_eq!(w.runs.len(), 1);
        let mut stale = w.rollout.clone();
        stale["status"]["canary"] = json!({});
        let d = decide_with_runs(&stale, &Digests::new(), &w.rss, &w.runs, w.now);
        assert!(d.runs.is_empty(), "{:?}", d.runs);
        assert_eq!(
            d.status["canary"]["currentStepAnalysisRunStatus"]["name"],
            w.runs[0].name.as_str()
        );
    }

    #[test]
    fn a_failed_step_run_aborts_with_argos_message_and_a_retry_runs_it_again() {
        let mut w = canary(
            json!([{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "rate"}]}}]),
        );
        w.settle();
        w.image("web:2");
        w.settle();
        w.judge_last_run(
            "Failed",
            "Metric \"success-rate\" assessed Failed due to failed (4) > failureLimit (3)",
        );
        let rates: Vec<Value> = [0.99, 0.93, 0.69, 0.71, 0.70, 0.68]
            .iter()
            .map(|v| json!({"phase": "Failed", "value": format!("[{v}]")}))
            .collect();
        w.runs.last_mut().unwrap().measured = measured(&json!({"metricResults": [
            {"name": "latency", "phase": "Successful", "measurements": [{"value": "120"}]},
            {"name": "success-rate", "phase": "Failed", "measurements": rates},
        ]}));
        w.settle();
        assert_eq!(w.status("phase"), "Degraded");
        assert_eq!(
            w.status("message"),
            "RolloutAborted: Rollout aborted update to revision 2: Step-based analysis phase error/failed: Metric \"success-rate\" assessed Failed due to failed (4) > failureLimit (3) (success-rate measured [0.93], [0.69], [0.71], [0.7], [0.68])"
        );
        assert_eq!(w.status("abort"), true);
        assert_eq!(
            w.replicas(),
            vec![(1, 5), (2, 0)],
            "everything back on stable"
        );
        // Still aborted, still saying why, on the next looks.
        w.advance(60);
        w.settle();
        assert!(w.status("message").as_str().unwrap().ends_with(
            "failureLimit (3) (success-rate measured [0.93], [0.69], [0.71], [0.7], [0.68])"
        ));
        // Retry (what `bosun rollout retry` writes): a new run, not the failed one again.
        w.rollout["status"]["abort"] = json!(false);
        w.settle();
        assert_eq!(w.runs.len(), 2);
        assert_eq!(w.status("phase"), "Progressing");
        assert_eq!(w.replicas(), vec![(1, 4), (2, 1)]);
    }

    #[test]
    fn an_inconclusive_run_pauses_and_a_promote_skips_the_step() {
        let mut w = canary(
            json!([{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "rate"}]}}]),
        );
        w.settle();
        w.image("web:2");
        w.settle();
        w.judge_last_run(
            "Inconclusive",
            "Metric \"rate\" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)",
        );
        w.settle();
        assert_eq!(w.status("phase"), "Paused");
        assert_eq!(w.status("message"), INCONCLUSIVE_PAUSE);
        assert_eq!(w.status("pauseConditions")[0]["reason"], INCONCLUSIVE_PAUSE);
        w.rollout["status"]["pauseConditions"] = Value::Null;
        w.settle();
        assert_eq!(w.status("phase"), "Healthy");
        assert_eq!(w.replicas(), vec![(1, 0), (2, 5)]);
    }

    #[test]
    fn background_analysis_runs_from_its_starting_step_and_aborts_on_failure() {
        let mut w =
            canary(json!([{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}, {"pause": {}}]));
        w.rollout["spec"]["strategy"]["canary"]["analysis"] =
            json!({"templates": [{"templateName": "success-rate"}], "startingStep": 1});
        w.settle();
        assert!(w.runs.is_empty(), "the first deploy runs no analysis");
        w.image("web:2");
        w.settle();
        // Step 0 done, paused at step 1: the background run starts there and does not block.
        assert_eq!(w.status("currentStepIndex"), 1);
        assert_eq!(w.runs.len(), 1);
        assert_eq!(w.runs[0].kind, RunKind::Background);
        w.rollout["status"]["pauseConditions"] = Value::Null;
        w.settle();
        assert_eq!(w.status("currentStepIndex"), 3);
        assert_eq!(
            w.status("canary")["currentBackgroundAnalysisRunStatus"]["status"],
            "Running"
        );
        w.judge_last_run("Error", "Metric \"success-rate\" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4)");
        w.settle();
        assert_eq!(w.status("phase"), "Degraded");
        assert!(
            w.status("message")
                .as_str()
                .unwrap()
                .contains(": Background analysis phase error/failed: Metric"),
            "{}",
            w.status("message")
        );
        assert_eq!(w.replicas(), vec![(1, 5), (2, 0)]);
    }

    /// The seeds' canary Rollout and AnalysisTemplate, unchanged. The template is valid by
    /// Argo's rules. The Rollout routes through Istio without `canaryService`/`stableService`,
    /// which Argo Rollouts' validation refuses too: bosun says so, naming the field. With the two
    /// Services named (what Argo asks of its users), an update runs the background analysis from
    /// `startingStep: 1` beside the steps (10 % on the Istio route, then the 5 m pause).
    #[test]
    fn the_seeds_canary_and_its_analysis_as_written() {
        let text = include_str!("../tests/fixtures/seed-001-canary.yaml");
        let docs: Vec<Value> = text
            .split("\n---\n")
            .map(|d| serde_saphyr::from_str(d).unwrap())
            .collect();
        let (rollout, template) = (&docs[0], &docs[1]);
        let metrics = bosun_model::analysis::metrics(&template["spec"]).unwrap();
        assert_eq!(metrics[0].failure_limit(), 3);
        assert_eq!(
            metrics[0].interval().unwrap(),
            Some(Duration::from_secs(60))
        );

        let mut w = World::new(rollout["spec"].clone());
        w.rollout["metadata"]["name"] = rollout["metadata"]["name"].clone();
        w.settle();
        assert_eq!(w.status("phase"), "Degraded");
        assert_eq!(
            w.status("message"),
            "InvalidSpec: spec.strategy.canary: canaryService and stableService must be set to use traffic routing"
        );

        let mut spec = rollout["spec"].clone();
        spec["strategy"]["canary"]["canaryService"] = json!("production-app-canary");
        spec["strategy"]["canary"]["stableService"] = json!("production-app");
        let mut w = World::new(spec);
        w.rollout["metadata"]["name"] = rollout["metadata"]["name"].clone();
        w.settle();
        assert_eq!(w.status("phase"), "Healthy", "{}", w.status("message"));
        assert!(w.runs.is_empty());
        w.image("app:v2");
        w.settle();
        assert_eq!(w.status("currentStepIndex"), 1);
        assert_eq!(w.status("phase"), "Paused");
        assert_eq!(w.status("canary")["weights"]["canary"]["weight"], 10);
        assert_eq!(w.runs.len(), 1);
        assert_eq!(w.runs[0].kind, RunKind::Background);
        let hash = w.status("currentPodHash").as_str().unwrap().to_string();
        assert_eq!(w.runs[0].name, format!("app-rollout-{hash}-2"));
        assert!(w.last.runs.is_empty(), "made once");
    }

    #[test]
    fn a_promoted_update_stops_its_background_run() {
        let mut w = canary(json!([{"setWeight": 20}, {"pause": {}}]));
        w.rollout["spec"]["strategy"]["canary"]["analysis"] =
            json!({"templates": [{"templateName": "success-rate"}]});
        w.settle();
        w.image("web:2");
        w.settle();
        assert_eq!(w.runs.len(), 1);
        w.rollout["status"]["pauseConditions"] = Value::Null;
        w.settle();
        assert_eq!(w.status("phase"), "Healthy");
        assert!(
            w.runs[0].terminating,
            "the run is stopped once the canary is stable"
        );
    }

    /// One reconcile in which the new revision's pods never become available.
    fn stuck(w: &mut World) -> Decision {
        let d = decide(&w.rollout, &w.rss, w.now);
        if let Some(rs) = &d.create {
            w.rss.push(ReplicaSetView::from_object(rs).unwrap());
        }
        let new = w.status("currentPodHash").clone();
        for rs in &mut w.rss {
            if let Some(r) = d.scale.get(&rs.name) {
                rs.desired = *r;
            }
            rs.current = rs.desired;
            if json!(rs.hash) != new || d.create.is_some() {
                rs.ready = rs.desired;
                rs.available = rs.desired;
            }
        }
        w.rollout["status"] = d.status.clone();
        d
    }

    #[test]
    fn no_progress_for_the_deadline_is_degraded_and_aborts_when_asked() {
        let mut w = canary(json!([{"setWeight": 20}, {"pause": {}}]));
        w.rollout["spec"]["progressDeadlineSeconds"] = json!(60);
        w.settle();
        w.image("web:2");
        let mut d = stuck(&mut w);
        for _ in 0..5 {
            d = stuck(&mut w);
        }
        assert_eq!(w.status("phase"), "Progressing");
        assert_eq!(d.requeue, Some(Duration::from_secs(60)));
        w.advance(30);
        let d = stuck(&mut w);
        assert_eq!(
            d.requeue,
            Some(Duration::from_secs(30)),
            "the clock runs from the last progress"
        );
        w.advance(30);
        stuck(&mut w);
        assert_eq!(w.status("phase"), "Degraded");
        assert!(
            w.status("message")
                .as_str()
                .unwrap()
                .starts_with("ProgressDeadlineExceeded: ReplicaSet"),
            "{}",
            w.status("message")
        );
        // Still Degraded on the next look; progress ends it.
        stuck(&mut w);
        assert_eq!(w.status("phase"), "Degraded");
        w.settle();
        assert_eq!(w.status("phase"), "Paused");
        // With progressDeadlineAbort the update is aborted.
        let mut w = canary(json!([{"setWeight": 20}, {"pause": {}}]));
        w.rollout["spec"]["progressDeadlineSeconds"] = json!(10);
        w.rollout["spec"]["progressDeadlineAbort"] = json!(true);
        w.settle();
        w.image("web:2");
        for _ in 0..5 {
            stuck(&mut w);
        }
        w.advance(10);
        stuck(&mut w);
        assert_eq!(w.status("abort"), true);
        w.settle();
        assert_eq!(w.status("phase"), "Degraded");
        assert!(
            w.status("message")
                .as_str()
                .unwrap()
                .starts_with("RolloutAborted: Rollout aborted update to revision 2: ProgressDeadlineExceeded: ReplicaSet"),
            "{}",
            w.status("message")
        );
        assert_eq!(w.replicas(), vec![(1, 5), (2, 0)]);
    }

    #[test]
    fn old_revisions_beyond_the_history_limit_are_deleted() {
        let mut w = canary(json!([]));
        w.rollout["spec"]["revisionHistoryLimit"] = json!(1);
        w.settle();
        for image in ["web:2", "web:3", "web:4"] {
            w.image(image);
            w.settle();
            let gone = w.last.delete.clone();
            w.rss.retain(|rs| !gone.contains(&rs.name));
        }
        assert_eq!(w.replicas(), vec![(3, 0), (4, 5)]);
    }

    fn routed(steps: Value) -> World {
        World::new(
            json!({"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
            "template": template("web:1"),
            "strategy": {"canary": {"canaryService": "web-canary", "stableService": "web-stable",
                "trafficRouting": {"istio": {"virtualService": {"name": "web", "routes": ["primary"]}}},
                "steps": steps}}}),
        )
    }

    fn router_weight(w: &World) -> Option<i32> {
        w.last.traffic.as_ref().map(|t| t.canary_weight)
    }

    #[test]
    fn a_routed_canary_sets_the_router_once_its_pods_are_ready_and_keeps_the_stable_whole() {
        let mut w =
            routed(json!([{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]));
        w.settle();
        assert_eq!(router_weight(&w), Some(0));
        assert_eq!(w.status("canary")["weights"]["stable"]["weight"], 100);
        w.image("web:2");
        // The first look scales the canary; the router keeps everything on stable meanwhile.
        let d = decide(&w.rollout, &w.rss, w.now);
        assert_eq!(d.traffic.as_ref().unwrap().canary_weight, 0);
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 4), (2, 1)]);
        assert_eq!(router_weight(&w), Some(20));
        assert_eq!(w.status("canary")["weights"]["canary"]["weight"], 20);
        assert_eq!(w.status("phase"), "Paused");
        w.rollout["status"]["pauseConditions"] = Value::Null;
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 4), (2, 2)]);
        assert_eq!(router_weight(&w), Some(50));
        w.rollout["status"]["pauseConditions"] = Value::Null;
        w.settle();
        // Promoted: the stable Service follows the new pods, the router sends the canary
        // Service nothing, and the old pods stay for scaleDownDelaySeconds.
        let new = w.status("currentPodHash").clone();
        assert_eq!(w.status("stableRS"), &new);
        assert_eq!(router_weight(&w), Some(0));
        assert_eq!(json!(w.services["web-stable"]), new);
        assert_eq!(w.replicas(), vec![(1, 4), (2, 4)]);
        assert_eq!(w.last.requeue, Some(Duration::from_secs(30)));
        w.advance(30);
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 0), (2, 4)]);
        assert_eq!(w.status("phase"), "Healthy");
    }

    #[test]
    fn a_routed_abort_moves_traffic_first_and_pods_after_the_delay() {
        let mut w = routed(json!([{"setWeight": 50}, {"pause": {}}]));
        w.rollout["spec"]["strategy"]["canary"]["abortScaleDownDelaySeconds"] = json!(10);
        w.settle();
        w.image("web:2");
        w.settle();
        assert_eq!(router_weight(&w), Some(50));
        w.rollout["status"]["abort"] = json!(true);
        w.settle();
        assert_eq!(router_weight(&w), Some(0));
        assert_eq!(w.status("phase"), "Degraded");
        assert_eq!(
            w.replicas(),
            vec![(1, 4), (2, 2)],
            "the canary's pods wait for the delay"
        );
        w.advance(10);
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 4), (2, 0)]);
    }

    #[test]
    fn an_invalid_spec_is_degraded_with_the_field() {
        let mut w = canary(json!([{"setWeight": 200}]));
        w.settle();
        assert_eq!(w.status("phase"), "Degraded");
        assert_eq!(
            w.status("message"),
            "InvalidSpec: spec.strategy.canary.steps[0].setWeight: must be between 0 and 100"
        );
        assert!(w.rss.is_empty());
    }

    fn blue_green(strategy: Value) -> World {
        World::new(
            json!({"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": template("web:1"), "strategy": {"blueGreen": strategy}}),
        )
    }

    #[test]
    fn blue_green_waits_for_promotion_then_scales_the_old_side_down_after_the_delay() {
        let mut w = blue_green(
            json!({"activeService": "web", "previewService": "web-preview", "autoPromotionEnabled": false}),
        );
        w.settle();
        let old = w.status("currentPodHash").as_str().unwrap().to_string();
        assert_eq!(w.services["web"], old);
        assert_eq!(w.status("phase"), "Healthy");
        w.image("web:2");
        w.settle();
        let new = w.status("currentPodHash").as_str().unwrap().to_string();
        assert_eq!(w.replicas(), vec![(1, 3), (2, 3)]);
        assert_eq!(
            (
                w.services["web"].as_str(),
                w.services["web-preview"].as_str()
            ),
            (old.as_str(), new.as_str())
        );
        assert_eq!(w.status("phase"), "Paused");
        assert_eq!(w.status("message"), "BlueGreenPause");
        assert_eq!(w.status("blueGreen")["activeSelector"], old.as_str());
        // Promote.
        w.rollout["status"]["pauseConditions"] = Value::Null;
        w.settle();
        assert_eq!(w.services["web"], new);
        assert_eq!(w.status("stableRS"), new.as_str());
        assert_eq!(
            w.replicas(),
            vec![(1, 3), (2, 3)],
            "the old side waits for scaleDownDelaySeconds"
        );
        assert_eq!(w.last.requeue, Some(Duration::from_secs(30)));
        w.advance(30);
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 0), (2, 3)]);
        assert_eq!(w.status("phase"), "Healthy");
    }

    #[test]
    fn blue_green_pre_promotion_analysis_holds_the_switch_and_a_failure_drops_the_preview() {
        let strategy = json!({"activeService": "web", "previewService": "web-preview",
            "prePromotionAnalysis": {"templates": [{"templateName": "smoke"}]}});
        let mut w = blue_green(strategy.clone());
        w.settle();
        let old = w.status("currentPodHash").as_str().unwrap().to_string();
        assert!(w.runs.is_empty(), "the first deploy runs no analysis");
        w.image("web:2");
        w.settle();
        // The preview is up; its run judges it before the active Service may switch.
        assert_eq!(w.runs.len(), 1);
        assert_eq!(w.runs[0].kind, RunKind::PrePromotion);
        assert!(w.runs[0].name.ends_with("-2-pre"), "{}", w.runs[0].name);
        assert_eq!(w.services["web"], old);
        assert_eq!(
            w.status("blueGreen")["prePromotionAnalysisRunStatus"]["status"],
            "Running"
        );
        w.judge_last_run("Successful", "");
        w.settle();
        let new = w.status("currentPodHash").as_str().unwrap().to_string();
        assert_eq!(
            w.services["web"], new,
            "promoted after a successful analysis"
        );

        // A bad preview: the run fails, the active Service never switches, the preview goes.
        let mut w = blue_green(strategy);
        w.settle();
        let old = w.status("currentPodHash").as_str().unwrap().to_string();
        w.image("web:2");
        w.settle();
        w.judge_last_run(
            "Failed",
            "Metric \"smoke\" assessed Failed due to failed (1) > failureLimit (0)",
        );
        w.settle();
        assert_eq!(w.status("phase"), "Degraded");
        assert!(
            w.status("message")
                .as_str()
                .unwrap()
                .contains("Blue/green pre-promotion analysis phase error/failed: Metric"),
            "{}",
            w.status("message")
        );
        assert_eq!(w.services["web"], old);
        assert_eq!(w.services["web-preview"], old);
        assert_eq!(w.replicas(), vec![(1, 3), (2, 0)]);
    }

    #[test]
    fn blue_green_post_promotion_analysis_judges_the_switched_side_and_a_failure_switches_back() {
        let strategy = json!({"activeService": "web", "previewService": "web-preview",
            "scaleDownDelaySeconds": 10,
            "postPromotionAnalysis": {"templates": [{"templateName": "smoke"}]}});
        let mut w = blue_green(strategy.clone());
        w.settle();
        let old = w.status("currentPodHash").as_str().unwrap().to_string();
        assert!(w.runs.is_empty(), "the first deploy runs no analysis");
        w.image("web:2");
        w.settle();
        let new = w.status("currentPodHash").as_str().unwrap().to_string();
        // Promoted at once (auto-promotion): the active Service switched, the run judges it,
        // and the old side stays whole, not yet stable's predecessor.
        assert_eq!(w.runs.len(), 1);
        assert_eq!(w.runs[0].kind, RunKind::PostPromotion);
        assert!(w.runs[0].name.ends_with("-2-post"), "{}", w.runs[0].name);
        assert_eq!(w.services["web"], new);
        assert_eq!(w.status("stableRS"), old.as_str());
        assert_eq!(w.status("phase"), "Progressing");
        assert_eq!(
            w.status("blueGreen")["postPromotionAnalysisRunStatus"]["status"],
            "Running"
        );
        assert_eq!(w.replicas(), vec![(1, 3), (2, 3)]);
        w.advance(60);
        w.settle();
        assert_eq!(
            w.replicas(),
            vec![(1, 3), (2, 3)],
            "no scale-down while the analysis runs"
        );
        w.judge_last_run("Successful", "");
        w.settle();
        assert_eq!(w.status("stableRS"), new.as_str());
        assert_eq!(w.status("phase"), "Healthy");
        assert_eq!(w.last.requeue, Some(Duration::from_secs(10)));
        w.advance(10);
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 0), (2, 3)]);

        // A bad version: the run fails after the switch; the active Service goes back to the
        // old side, which never went down, and the new side is scaled to zero.
        let mut w = blue_green(strategy);
        w.settle();
        let old = w.status("currentPodHash").as_str().unwrap().to_string();
        w.image("web:2");
        w.settle();
        let new = w.status("currentPodHash").as_str().unwrap().to_string();
        assert_eq!(w.services["web"], new);
        w.judge_last_run(
            "Failed",
            "Metric \"smoke\" assessed Failed due to failed (1) > failureLimit (0)",
        );
        w.settle();
        assert_eq!(w.status("phase"), "Degraded");
        assert!(
            w.status("message")
                .as_str()
                .unwrap()
                .contains("Blue/green post-promotion analysis phase error/failed: Metric"),
            "{}",
            w.status("message")
        );
        assert_eq!(w.services["web"], old);
        assert_eq!(w.services["web-preview"], old);
        assert_eq!(w.status("stableRS"), old.as_str());
        assert_eq!(w.status("blueGreen")["activeSelector"], old.as_str());
        assert_eq!(w.replicas(), vec![(1, 3), (2, 0)]);
    }

    #[test]
    fn blue_green_promotes_itself_after_auto_promotion_seconds_with_a_small_preview() {
        let mut w = blue_green(
            json!({"activeService": "web", "autoPromotionSeconds": 20, "previewReplicaCount": 1, "scaleDownDelaySeconds": 5}),
        );
        w.settle();
        w.image("web:2");
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 3), (2, 1)]);
        assert_eq!(w.status("phase"), "Paused");
        assert_eq!(w.last.requeue, Some(Duration::from_secs(20)));
        w.advance(20);
        w.settle();
        let new = w.status("currentPodHash").as_str().unwrap().to_string();
        assert_eq!(w.services["web"], new);
        assert_eq!(w.replicas(), vec![(1, 3), (2, 3)]);
        w.advance(5);
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 0), (2, 3)]);
    }

    #[test]
    fn blue_green_abort_keeps_the_active_side_and_drops_the_preview() {
        let mut w = blue_green(
            json!({"activeService": "web", "previewService": "web-preview", "autoPromotionEnabled": false}),
        );
        w.settle();
        let old = w.status("currentPodHash").as_str().unwrap().to_string();
        w.image("web:2");
        w.settle();
        w.rollout["status"]["abort"] = json!(true);
        w.settle();
        assert_eq!(w.replicas(), vec![(1, 3), (2, 0)]);
        assert_eq!(w.services["web-preview"], old);
        assert_eq!(w.status("phase"), "Degraded");
    }
}
