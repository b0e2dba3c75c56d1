//! How many pods the canary and the stable ReplicaSet of a canary `Rollout` should have.
//!
//! A port of the replica arithmetic of Argo Rollouts (v1.9, `utils/replicaset/canary.go` and the
//! `maxSurge`/`maxUnavailable` helpers of `utils/replicaset/replicaset.go`), so that a Rollout
//! driven by bosun scales its ReplicaSets exactly as Argo's controller would:
//!
//! * [`basic_canary`] — canary without traffic routing: the split of pods *is* the split of
//!   traffic, and every step honours `maxSurge` and `maxUnavailable`
//!   (`CalculateReplicaCountsForBasicCanary`);
//! * [`traffic_routed_canary`] — canary with traffic routing: the canary gets the pods its
//!   weight (or `setCanaryScale`) asks for, the stable stays at full size unless
//!   `dynamicStableScale` (`CalculateReplicaCountsForTrafficRoutedCanary`);
//! * [`canary_replicas_or_weight`] — what the current step asks of the canary: a weight, or with
//!   `setCanaryScale` a replica count or weight of its own (`GetCanaryReplicasOrWeight`).
//!
//! Everything is a pure function of a [`CanaryRollout`] (the few fields of a Rollout's spec and
//! status the arithmetic reads) and of the current ReplicaSets ([`ReplicaSets`]). Counts are
//! `i32`, as Argo's `int32`; sums and products are taken in `i64`, so that no input overflows
//! (where Argo's `int32` arithmetic would wrap, this saturates to the `i32` range instead).

use std::cmp::{max, min};

/// Argo's default `maxSurge` for a canary: `"25"`, which it reads as 25 %.
pub const DEFAULT_MAX_SURGE: IntOrPercent = IntOrPercent::Percent(25);
/// Argo's default `maxUnavailable` (canary and blue-green): `"25"`, read as 25 %.
pub const DEFAULT_MAX_UNAVAILABLE: IntOrPercent = IntOrPercent::Percent(25);
/// Argo's `spec.replicas` when it is not given.
pub const DEFAULT_REPLICAS: i32 = 1;
/// The total traffic weight when `trafficRouting.maxTrafficWeight` is not given.
pub const DEFAULT_MAX_TRAFFIC_WEIGHT: i32 = 100;

/// A Kubernetes `IntOrString` as `maxSurge`/`maxUnavailable` use it: a number of pods, or a
/// percentage of `spec.replicas`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntOrPercent {
    /// An absolute number of pods (the integer form).
    Int(i32),
    /// A percentage (the string form), e.g. `Percent(25)` for `"25%"`.
    Percent(i32),
}

impl IntOrPercent {
    /// Reads the string form of the value the way Argo does. Argo resolves these values with
    /// apimachinery's legacy `intstr.GetValueFromIntOrPercent`, which takes *every* string as a
    /// percentage after deleting all `%` signs: `"25%"` and `"25"` are both 25 %, `"oops"` is an
    /// error. (The integer form of the YAML is `IntOrPercent::Int` and needs no parsing.)
    pub fn parse(s: &str) -> Result<IntOrPercent, String> {
        let digits: String = s.chars().filter(|&c| c != '%').collect();
        digits
            .parse::<i32>()
            .map(IntOrPercent::Percent)
            .map_err(|e| format!("invalid value {s:?}: {e}"))
    }

    /// The number of pods this value stands for out of `total`
    /// (`intstr.GetValueFromIntOrPercent`): an `Int` as it is; a percentage of `total`, rounded
    /// up when `round_up` (how `maxSurge` is resolved) and down otherwise (`maxUnavailable`).
    pub fn scaled(&self, total: i32, round_up: bool) -> i32 {
        match *self {
            IntOrPercent::Int(n) => n,
            IntOrPercent::Percent(p) => {
                let exact = p as f64 * total as f64 / 100.0;
                (if round_up {
                    exact.ceil()
                } else {
                    exact.floor()
                }) as i32
            }
        }
    }
}

/// `maxSurge` and `maxUnavailable` of a canary resolved to numbers of pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SurgeUnavailable {
    /// Pods that may exist above `spec.replicas`.
    pub max_surge: i32,
    /// Pods below `spec.replicas` that may be unavailable.
    pub max_unavailable: i32,
}

/// Resolves `maxSurge` and `maxUnavailable` together against `desired` pods, as Argo's
/// `resolveFenceposts`: an absent value counts as 0, a percentage of surge rounds up and one of
/// unavailability rounds down, and if both come to 0 the unavailability is 1 (so that the
/// rollout can move at all). Returns `(max_surge, max_unavailable)`.
///
/// Argo's validation forbids values that fail to parse; where one slips through, Argo's callers
/// ignore the error and use (0, 0). Here such values never reach this function (see
/// [`IntOrPercent::parse`]).
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrPercent>,
    max_unavailable: Option<&IntOrPercent>,
    desired: i32,
) -> (i32, i32) {
    let surge = max_surge.map_or(0, |v| v.scaled(desired, true));
    let mut unavailable = max_unavailable.map_or(0, |v| v.scaled(desired, false));
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

/// The surge and unavailability a canary Rollout may use, as Argo's `MaxSurge` and
/// `MaxUnavailable` for a canary strategy: an absent `maxSurge`/`maxUnavailable` is 25 %, both
/// are resolved together by [`resolve_fenceposts`]; the unavailability is 0 when
/// `spec_replicas` is 0 and never more than `spec_replicas`.
pub fn resolve_surge_unavailable(
    spec_replicas: i32,
    max_surge: Option<&IntOrPercent>,
    max_unavailable: Option<&IntOrPercent>,
) -> SurgeUnavailable {
    let (surge, unavailable) = resolve_fenceposts(
        Some(max_surge.unwrap_or(&DEFAULT_MAX_SURGE)),
        Some(max_unavailable.unwrap_or(&DEFAULT_MAX_UNAVAILABLE)),
        spec_replicas,
    );
    let max_unavailable = if spec_replicas == 0 {
        0
    } else {
        min(unavailable, spec_replicas)
    };
    SurgeUnavailable {
        max_surge: surge,
        max_unavailable,
    }
}

/// The unavailability a blue-green Rollout may use, as Argo's `MaxUnavailable` for a blue-green
/// strategy: `maxUnavailable` (25 % when absent) of `spec_replicas` rounded down, with no
/// minimum of 1, at most `spec_replicas`, and 0 when `spec_replicas` is 0. (A blue-green Rollout
/// has no surge: Argo's `MaxSurge` is 0 for it.)
pub fn blue_green_max_unavailable(
    spec_replicas: i32,
    max_unavailable: Option<&IntOrPercent>,
) -> i32 {
    if spec_replicas == 0 {
        return 0;
    }
    let unavailable = max_unavailable
        .unwrap_or(&DEFAULT_MAX_UNAVAILABLE)
        .scaled(spec_replicas, false);
    min(unavailable, spec_replicas)
}

/// A `setCanaryScale` step: scale the canary to a number of pods or to a weight of its own,
/// independently of the traffic weight, or back to matching the traffic weight.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetCanaryScale {
    /// `replicas`: an exact number of canary pods.
    pub replicas: Option<i32>,
    /// `weight`: canary pods as a weight of `spec.replicas` (out of the max traffic weight).
    pub weight: Option<i32>,
    /// `matchTrafficWeight`: undo earlier `setCanaryScale` steps.
    pub match_traffic_weight: bool,
}

/// One step of `spec.strategy.canary.steps`, reduced to what the replica arithmetic reads
/// (a pause, analysis or experiment step has both fields `None`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CanaryStep {
    /// `setWeight`.
    pub set_weight: Option<i32>,
    /// `setCanaryScale`.
    pub set_canary_scale: Option<SetCanaryScale>,
}

/// The fields of a canary Rollout's spec and status that the replica arithmetic reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CanaryRollout {
    /// `spec.replicas` ([`DEFAULT_REPLICAS`] when `None`).
    pub replicas: Option<i32>,
    /// `spec.strategy.canary.maxSurge` ([`DEFAULT_MAX_SURGE`] when `None`).
    pub max_surge: Option<IntOrPercent>,
    /// `spec.strategy.canary.maxUnavailable` ([`DEFAULT_MAX_UNAVAILABLE`] when `None`).
    pub max_unavailable: Option<IntOrPercent>,
    /// `spec.strategy.canary.steps`.
    pub steps: Vec<CanaryStep>,
    /// Whether `spec.strategy.canary.trafficRouting` is set.
    pub traffic_routing: bool,
    /// `spec.strategy.canary.trafficRouting.maxTrafficWeight` (only read with traffic routing).
    pub max_traffic_weight: Option<i32>,
    /// `spec.strategy.canary.dynamicStableScale`.
    pub dynamic_stable_scale: bool,
    /// `spec.strategy.canary.minPodsPerReplicaSet` (only read with traffic routing).
    pub min_pods_per_replica_set: Option<i32>,
    /// `spec.strategy.canary.abortScaleDownDelaySeconds`.
    pub abort_scale_down_delay_seconds: Option<i32>,
    /// `status.currentStepIndex` (0 when `None`).
    pub current_step_index: Option<i32>,
    /// `status.promoteFull`.
    pub promote_full: bool,
    /// `status.abort`.
    pub abort: bool,
    /// `status.stableRS`: the pod-template hash of the stable ReplicaSet ("" when none yet).
    pub stable_rs: String,
    /// `status.currentPodHash`: the pod-template hash of the current spec's ReplicaSet.
    pub current_pod_hash: String,
}

impl CanaryRollout {
    /// `spec.replicas`, or 1 when absent (Argo's `GetReplicasOrDefault`).
    pub fn spec_replicas(&self) -> i32 {
        self.replicas.unwrap_or(DEFAULT_REPLICAS)
    }

    /// The total traffic weight: `maxTrafficWeight` with traffic routing, else 100
    /// (Argo's `weightutil.MaxTrafficWeight`).
    pub fn max_weight(&self) -> i32 {
        match self.max_traffic_weight {
            Some(w) if self.traffic_routing => w,
            _ => DEFAULT_MAX_TRAFFIC_WEIGHT,
        }
    }

    /// `maxSurge`/`maxUnavailable` resolved against `spec.replicas` ([`resolve_surge_unavailable`]).
    pub fn surge_unavailable(&self) -> SurgeUnavailable {
        resolve_surge_unavailable(
            self.spec_replicas(),
            self.max_surge.as_ref(),
            self.max_unavailable.as_ref(),
        )
    }
}

/// The counts of one ReplicaSet that the arithmetic reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RsCounts {
    /// `spec.replicas`.
    pub spec: i32,
    /// `status.availableReplicas`.
    pub available: i32,
}

impl RsCounts {
    /// A ReplicaSet with `spec` desired and `available` available pods.
    pub fn new(spec: i32, available: i32) -> RsCounts {
        RsCounts { spec, available }
    }
}

/// The stable ReplicaSet, as Argo's `CheckStableRSExists` distinguishes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StableRs {
    /// There is no stable ReplicaSet (a first rollout, or `status.stableRS` names none).
    #[default]
    Missing,
    /// The stable ReplicaSet is the new one (the rollout is complete or being created): the new
    /// ReplicaSet is then scaled straight to `spec.replicas`, steps and weights aside.
    SameAsNew,
    /// The stable ReplicaSet is another ReplicaSet than the new one.
    Distinct(RsCounts),
}

/// The ReplicaSets of a canary Rollout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaSets<'a> {
    /// The ReplicaSet of the current pod template (the canary), if created yet.
    pub new: Option<RsCounts>,
    /// The stable ReplicaSet.
    pub stable: StableRs,
    /// Every other ReplicaSet of the Rollout (older revisions), neither new nor stable
    /// (Argo's `GetOtherRSs`). A basic canary scales these to 0 first.
    pub others: &'a [RsCounts],
}

impl ReplicaSets<'_> {
    /// The stable ReplicaSet as Argo's `stableRS` pointer: the new one when they are the same.
    fn stable_view(&self) -> Option<RsCounts> {
        match self.stable {
            StableRs::Missing => None,
            StableRs::SameAsNew => self.new,
            StableRs::Distinct(rs) => Some(rs),
        }
    }
}

/// Desired `spec.replicas` of the canary (new) and of the stable ReplicaSet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CanaryCounts {
    /// Pods of the canary (new) ReplicaSet.
    pub canary: i32,
    /// Pods of the stable ReplicaSet (0 when there is none, or it is the new one).
    pub stable: i32,
}

/// The traffic weights the traffic router currently applies (`status.canary.weights`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficWeights {
    /// Weight of the canary service.
    pub canary: i32,
    /// Weight of the stable service.
    pub stable: i32,
}

/// What the canary is to be scaled to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicasOrWeight {
    /// An exact number of pods (`setCanaryScale.replicas`).
    Replicas(i32),
    /// A weight out of the max traffic weight.
    Weight(i32),
}

impl ReplicasOrWeight {
    /// The weight, or 0 for an exact number of pods (as Argo's second return value).
    pub fn weight(&self) -> i32 {
        match *self {
            ReplicasOrWeight::Replicas(_) => 0,
            ReplicasOrWeight::Weight(w) => w,
        }
    }
}

/// The current step and its index, as Argo's `GetCurrentCanaryStep`: `(None, None)` when there
/// are no steps, `(None, Some(index))` once the index is past the last step (all steps done),
/// else `(Some(step), Some(index))`. `status.currentStepIndex` defaults to 0. (A negative index,
/// which Argo never writes and would crash on, is treated as past the last step.)
pub fn current_canary_step(ro: &CanaryRollout) -> (Option<&CanaryStep>, Option<i32>) {
    if ro.steps.is_empty() {
        return (None, None);
    }
    let index = ro.current_step_index.unwrap_or(0);
    match usize::try_from(index).ok().and_then(|i| ro.steps.get(i)) {
        Some(step) => (Some(step), Some(index)),
        None => (None, Some(index)),
    }
}

/// The steps up to and including the current one, latest first; empty when there is no
/// current step.
fn steps_back_from_current(ro: &CanaryRollout) -> impl Iterator<Item = &CanaryStep> {
    let upto = match current_canary_step(ro) {
        (Some(_), Some(index)) => index as usize + 1,
        _ => 0,
    };
    ro.steps[..upto].iter().rev()
}

/// The `setWeight` in force, as Argo's `GetCurrentSetWeight`: 0 when aborted; the max weight
/// when there is no current step (no steps, or all done); else the `setWeight` of the latest
/// step up to the current one that has one, or 0 if none has.
pub fn current_set_weight(ro: &CanaryRollout) -> i32 {
    if ro.abort {
        return 0;
    }
    if current_canary_step(ro).0.is_none() {
        return ro.max_weight();
    }
    steps_back_from_current(ro)
        .find_map(|s| s.set_weight)
        .unwrap_or(0)
}

/// The `setCanaryScale` in force, as Argo's `UseSetCanaryScale`: only with traffic routing;
/// none once aborted unless `abortScaleDownDelaySeconds` is explicitly 0 (leave the canary up);
/// else that of the latest step up to the current one that has one, unless that one says
/// `matchTrafficWeight`.
pub fn use_set_canary_scale(ro: &CanaryRollout) -> Option<&SetCanaryScale> {
    if !ro.traffic_routing {
        return None;
    }
    if ro.abort && ro.abort_scale_down_delay_seconds != Some(0) {
        return None;
    }
    let scs = steps_back_from_current(ro).find_map(|s| s.set_canary_scale.as_ref())?;
    if scs.match_traffic_weight {
        None
    } else {
        Some(scs)
    }
}

/// The weight the canary should have, as Argo's `GetDesiredCanaryWeight`. Normally
/// [`current_set_weight`]. When aborted with `dynamicStableScale` and both ReplicaSets exist,
/// the canary is instead brought down through the `setWeight` steps in reverse, so that the
/// stable grows back as the canary shrinks: the canary counts as
/// `max(spec.replicas - stable available, canary available)` pods, and the weight is that of the
/// last `setWeight` step whose pods are fewer than that (0 if none is).
///
/// `stable` is the stable ReplicaSet as Argo's pointer (the new one when they are the same).
pub fn desired_canary_weight(
    ro: &CanaryRollout,
    new: Option<RsCounts>,
    stable: Option<RsCounts>,
) -> i32 {
    if let (true, true, Some(new), Some(stable)) = (ro.abort, ro.dynamic_stable_scale, new, stable)
    {
        let spec = ro.spec_replicas();
        let max_weight = ro.max_weight();
        let expected_canary = spec.saturating_sub(stable.available);
        let canary_pods = max(expected_canary, new.available);
        return ro
            .steps
            .iter()
            .rev()
            .filter_map(|s| s.set_weight)
            .find(|&w| traffic_weight_to_replicas(spec, w, max_weight) < canary_pods)
            .unwrap_or(0);
    }
    current_set_weight(ro)
}

/// What the canary is to be scaled to, as Argo's `GetCanaryReplicasOrWeight`: the max weight
/// (everything to the new ReplicaSet) when fully promoted, when there is no stable yet, or when
/// the current pod hash is the stable one; else the replicas or weight of the
/// [`use_set_canary_scale`] in force; else [`desired_canary_weight`].
pub fn canary_replicas_or_weight(
    ro: &CanaryRollout,
    new: Option<RsCounts>,
    stable: Option<RsCounts>,
) -> ReplicasOrWeight {
    if ro.promote_full || ro.stable_rs.is_empty() || ro.current_pod_hash == ro.stable_rs {
        return ReplicasOrWeight::Weight(ro.max_weight());
    }
    if let Some(scs) = use_set_canary_scale(ro) {
        if let Some(replicas) = scs.replicas {
            return ReplicasOrWeight::Replicas(replicas);
        } else if let Some(weight) = scs.weight {
            return ReplicasOrWeight::Weight(weight);
        }
    }
    ReplicasOrWeight::Weight(desired_canary_weight(ro, new, stable))
}

/// Pods for `weight` out of `max_weight` of `replicas`, rounded up (Argo's
/// `trafficWeightToReplicas`).
pub fn traffic_weight_to_replicas(replicas: i32, weight: i32, max_weight: i32) -> i32 {
    (weight as f64 * replicas as f64 / max_weight as f64).ceil() as i32
}

/// Raises a non-zero count to `minPodsPerReplicaSet`, with traffic routing only (Argo's
/// `CheckMinPodsPerReplicaSet`).
pub fn check_min_pods_per_replica_set(ro: &CanaryRollout, count: i32) -> i32 {
    match ro.min_pods_per_replica_set {
        Some(min_pods) if count != 0 && ro.traffic_routing => max(count, min_pods),
        _ => count,
    }
}

/// The pods of a ReplicaSet that count as available when deciding how far the others may be
/// scaled down (Argo's `GetReplicasForScaleDown`): its available pods, but never more than its
/// `spec.replicas` (the extra ones are on their way out), and its `spec.replicas` when
/// `ignore_availability` (so that a ReplicaSet of crashing pods can still be scaled down).
pub fn replicas_for_scale_down(rs: Option<RsCounts>, ignore_availability: bool) -> i32 {
    match rs {
        None => 0,
        Some(rs) if rs.spec < rs.available || ignore_availability => rs.spec,
        Some(rs) => rs.available,
    }
}

/// The canary and stable counts closest to `desired_weight` out of `max_weight`, as Argo's
/// `approximateWeightedCanaryStableReplicaCounts`. The two sum to `spec_replicas`, or to
/// `spec_replicas + 1` when `max_surge > 0` and the extra pod gets nearer the weight. With a
/// weight strictly between 0 and the max, neither side is rounded to 0 pods unless
/// `spec_replicas` is 1 and there is no surge; a tie between rounding down and up goes up.
pub fn approximate_weighted_counts(
    spec_replicas: i32,
    desired_weight: i32,
    max_weight: i32,
    max_surge: i32,
) -> CanaryCounts {
    if spec_replicas == 0 {
        return CanaryCounts {
            canary: 0,
            stable: 0,
        };
    }
    let spec = i64::from(spec_replicas);
    let exact = (spec * i64::from(desired_weight)) as f64 / max_weight as f64;
    let ceil = exact.ceil() as i64;
    let floor = exact.floor() as i64;
    let tied = floor_ceiling_tied(desired_weight, max_weight, spec);
    let zero_allowed = desired_weight == max_weight
        || desired_weight == 0
        || (spec_replicas == 1 && max_surge == 0);

    // Candidate (canary, total) pairs, in Argo's order: the first of the closest wins.
    let mut options: Vec<(i64, i64)> = Vec::with_capacity(4);
    if ceil < spec || zero_allowed {
        options.push((ceil, spec));
    }
    if !tied && (floor != 0 || zero_allowed) {
        options.push((floor, spec));
    }
    if max_surge > 0 {
        options.push((ceil, spec + 1));
        let surge_tied = floor_ceiling_tied(desired_weight, max_weight, spec + 1);
        if !surge_tied && (floor != 0 || zero_allowed) {
            options.push((floor, spec + 1));
        }
    }
    let Some(&first) = options.first() else {
        // Argo: "should not get here".
        return CanaryCounts {
            canary: 0,
            stable: spec_replicas,
        };
    };
    let mut best = first;
    let mut best_delta = weight_delta(desired_weight, max_weight, best.0, best.1);
    for &option in &options[1..] {
        let delta = weight_delta(desired_weight, max_weight, option.0, option.1);
        if delta < best_delta {
            best = option;
            best_delta = delta;
        }
    }
    CanaryCounts {
        canary: to_i32(best.0),
        stable: to_i32(best.1 - best.0),
    }
}

/// Whether rounding `total` pods at the weight down or up is equally far from it (the weighted
/// count has a fraction of exactly one half), as Argo's `floorCeilingTied`.
fn floor_ceiling_tied(desired_weight: i32, max_weight: i32, total: i64) -> bool {
    let weighted = total as f64 * (desired_weight as f64 / max_weight as f64);
    weighted.fract() == 0.5
}

/// How far `canary` pods out of `total` are from the desired weight, as Argo's `weightDelta`.
fn weight_delta(desired_weight: i32, max_weight: i32, canary: i64, total: i64) -> f64 {
    let actual = (canary * i64::from(max_weight)) as f64 / total as f64;
    (actual - desired_weight as f64).abs()
}

fn to_i32(n: i64) -> i32 {
    n.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// The pods of a basic canary (no traffic routing) for this reconciliation, as Argo's
/// `CalculateReplicaCountsForBasicCanary`.
///
/// The target is [`approximate_weighted_counts`] of the weight in force
/// ([`canary_replicas_or_weight`]), or all of `spec.replicas` on the new ReplicaSet when there is
/// no distinct stable. Towards it, within `spec.replicas + maxSurge` pods in all, the stable is
/// scaled up first and then the canary. While older ReplicaSets still have pods, nothing is
/// scaled down (they go first). Otherwise the side that shrinks (the stable while the canary
/// grows, the canary while it shrinks, e.g. on abort) is scaled down as far as
/// `spec.replicas - maxUnavailable` available pods allow; the availability of that side is not
/// counted, and then the other side is trimmed back within the surge without losing the
/// availability it needs (Argo's `adjustReplicaWithinLimits`).
///
/// Counts already at target come back unchanged; `stable` is 0 when there is no distinct stable.
pub fn basic_canary(ro: &CanaryRollout, rss: &ReplicaSets) -> CanaryCounts {
    let spec = i64::from(ro.spec_replicas());
    let stable_view = rss.stable_view();
    let desired_weight = canary_replicas_or_weight(ro, rss.new, stable_view).weight();
    let su = ro.surge_unavailable();
    let target = approximate_weighted_counts(
        ro.spec_replicas(),
        desired_weight,
        ro.max_weight(),
        su.max_surge,
    );
    let (mut desired_new, mut desired_stable) =
        (i64::from(target.canary), i64::from(target.stable));

    let new_spec = rss.new.map(|rs| i64::from(rs.spec));
    let mut new_count = new_spec.unwrap_or(0);
    let scaled_stable = match rss.stable {
        StableRs::Distinct(rs) => Some(rs),
        StableRs::Missing | StableRs::SameAsNew => None,
    };
    let mut stable_count = 0;
    match scaled_stable {
        Some(rs) => stable_count = i64::from(rs.spec),
        None => {
            // No stable to step away from: the new ReplicaSet goes straight to 100 %.
            desired_new = spec;
            desired_stable = 0;
        }
    }

    let max_allowed = spec + i64::from(su.max_surge);
    let others_total: i64 = rss.others.iter().map(|rs| i64::from(rs.spec)).sum();
    let total =
        others_total + new_spec.unwrap_or(0) + scaled_stable.map_or(0, |rs| i64::from(rs.spec));
    let mut scale_up = max_allowed - total;

    if let Some(rs) = scaled_stable {
        let current = i64::from(rs.spec);
        if current < desired_stable && scale_up > 0 {
            if current + scale_up < desired_stable {
                stable_count = current + scale_up;
                scale_up = 0;
            } else {
                stable_count = desired_stable;
                scale_up -= desired_stable - current;
            }
        }
    }
    if let Some(current) = new_spec
        && current < desired_new
        && scale_up > 0
    {
        new_count = min(current + scale_up, desired_new);
    }

    let counts = |canary: i64, stable: i64| CanaryCounts {
        canary: to_i32(canary),
        stable: to_i32(stable),
    };
    if others_total > 0 {
        return counts(new_count, stable_count);
    }

    let min_available = spec - i64::from(su.max_unavailable);
    // Growing the canary: the stable's availability can be ignored; shrinking it (e.g. an
    // abort): the canary's can.
    let is_increasing = new_spec.is_none_or(|current| desired_new >= current);
    let countable = i64::from(replicas_for_scale_down(rss.new, !is_increasing))
        + i64::from(replicas_for_scale_down(stable_view, is_increasing));
    if countable <= min_available {
        return counts(new_count, stable_count);
    }
    let scale_down = countable - min_available;
    if !is_increasing {
        new_count = scale_down_count(rss.new, desired_new, scale_down, new_count);
        (new_count, stable_count) = adjust_within_limits(
            rss.new,
            stable_view,
            new_count,
            stable_count,
            max_allowed,
            min_available,
        );
    } else if scaled_stable.is_some() {
        stable_count = scale_down_count(stable_view, desired_stable, scale_down, stable_count);
        (stable_count, new_count) = adjust_within_limits(
            stable_view,
            rss.new,
            stable_count,
            new_count,
            max_allowed,
            min_available,
        );
    }
    counts(new_count, stable_count)
}

/// Argo's `calculateScaleDownReplicaCount`: scales the draining ReplicaSet down by up to
/// `scale_down` pods, not below its desired count.
fn scale_down_count(drain: Option<RsCounts>, desired: i64, scale_down: i64, count: i64) -> i64 {
    match drain {
        Some(rs) if i64::from(rs.spec) > desired => max(desired, i64::from(rs.spec) - scale_down),
        _ => count,
    }
}

/// Argo's `adjustReplicaWithinLimits`: after the draining side was scaled down, trims the other
/// (adjusted) side so that both stay within `max_allowed` pods, gives back to it what it needs
/// to keep `min_available` pods available, and takes any excess that leaves from the draining
/// side. Returns `(drain_count, adjust_count)`.
fn adjust_within_limits(
    drain: Option<RsCounts>,
    adjust: Option<RsCounts>,
    mut drain_count: i64,
    mut adjust_count: i64,
    max_allowed: i64,
    min_available: i64,
) -> (i64, i64) {
    let mut over_limit = max(0, adjust_count + drain_count - max_allowed);
    let mut total_available = drain.map_or(0, |rs| min(i64::from(rs.available), drain_count));
    if let Some(rs) = adjust {
        let available = i64::from(rs.available);
        adjust_count -= over_limit;
        total_available += min(available, adjust_count);
        let lost_available = max(0, available - adjust_count);
        let still_needed = max(0, min_available - total_available);
        adjust_count += min(lost_available, still_needed);
        over_limit = max(0, adjust_count + drain_count - max_allowed);
        drain_count -= over_limit;
    }
    (drain_count, adjust_count)
}

/// The pods of a canary with traffic routing, as Argo's
/// `CalculateReplicaCountsForTrafficRoutedCanary`. The canary gets the pods of the
/// `setCanaryScale` in force, or those of the weight in force rounded up
/// ([`traffic_weight_to_replicas`]) and raised to `minPodsPerReplicaSet`. Without
/// `dynamicStableScale` the stable keeps `spec.replicas`. With it, the stable gets the pods of
/// the rest of the weight, or of the weight the router actually sends it if more (it must not
/// shrink before its traffic does); and when aborted, the canary keeps the pods of the weight it
/// is actually sent if more. Both then respect `minPodsPerReplicaSet`.
///
/// `weights` is `status.canary.weights`, the weights currently set on the traffic router.
/// Surge and unavailability do not limit a traffic-routed canary.
pub fn traffic_routed_canary(
    ro: &CanaryRollout,
    rss: &ReplicaSets,
    weights: Option<&TrafficWeights>,
) -> CanaryCounts {
    let spec = ro.spec_replicas();
    let max_weight = ro.max_weight();
    let (mut canary, desired_weight) =
        match canary_replicas_or_weight(ro, rss.new, rss.stable_view()) {
            ReplicasOrWeight::Replicas(n) => (n, 0),
            ReplicasOrWeight::Weight(w) => (
                check_min_pods_per_replica_set(ro, traffic_weight_to_replicas(spec, w, max_weight)),
                w,
            ),
        };
    if !ro.dynamic_stable_scale {
        return CanaryCounts {
            canary,
            stable: spec,
        };
    }
    let mut stable =
        traffic_weight_to_replicas(spec, max_weight.saturating_sub(desired_weight), max_weight);
    if let Some(weights) = weights {
        stable = max(
            stable,
            traffic_weight_to_replicas(spec, weights.stable, max_weight),
        );
        if ro.abort {
            canary = max(
                traffic_weight_to_replicas(spec, weights.canary, max_weight),
                canary,
            );
        }
    }
    CanaryCounts {
        canary: check_min_pods_per_replica_set(ro, canary),
        stable: check_min_pods_per_replica_set(ro, stable),
    }
}

#[cfg(test)]
mod tests {
    //! Cases from Argo Rollouts v1.9's `utils/replicaset/canary_test.go` and
    //! `replicaset_test.go` (same names, same inputs, same expectations), then a few of bosun's.

    use super::*;
    use IntOrPercent::{Int, Percent};

    /// Argo's `newRollout`: one step with `setWeight` (and `setCanaryScale`), stable "stable",
    /// current pod hash "canary".
    fn rollout(
        spec: i32,
        set_weight: i32,
        surge: IntOrPercent,
        unavailable: IntOrPercent,
    ) -> CanaryRollout {
        CanaryRollout {
            replicas: Some(spec),
            max_surge: Some(surge),
            max_unavailable: Some(unavailable),
            steps: vec![CanaryStep {
                set_weight: Some(set_weight),
                set_canary_scale: None,
            }],
            stable_rs: "stable".into(),
            current_pod_hash: "canary".into(),
            ..CanaryRollout::default()
        }
    }

    fn scs(
        replicas: Option<i32>,
        weight: Option<i32>,
        match_traffic_weight: bool,
    ) -> SetCanaryScale {
        SetCanaryScale {
            replicas,
            weight,
            match_traffic_weight,
        }
    }

    /// A row of Argo's `TestCalculateReplicaCountsForCanary`.
    struct Case {
        name: &'static str,
        spec: i32,
        set_weight: i32,
        surge: IntOrPercent,
        unavailable: IntOrPercent,
        promote_full: bool,
        stable: (i32, i32),
        canary: (i32, i32),
        expected_stable: i32,
        expected_canary: i32,
        older: Option<(i32, i32)>,
        set_canary_scale: Option<SetCanaryScale>,
        traffic_routing: bool,
        abort_scale_down_delay_seconds: Option<i32>,
        abort: bool,
        min_pods_per_replica_set: Option<i32>,
    }

    #[allow(clippy::too_many_arguments)]
    fn case(
        name: &'static str,
        spec: i32,
        set_weight: i32,
        surge: IntOrPercent,
        unavailable: IntOrPercent,
        stable: (i32, i32),
        canary: (i32, i32),
        expected_stable: i32,
        expected_canary: i32,
    ) -> Case {
        Case {
            name,
            spec,
            set_weight,
            surge,
            unavailable,
            promote_full: false,
            stable,
            canary,
            expected_stable,
            expected_canary,
            older: None,
            set_canary_scale: None,
            traffic_routing: false,
            abort_scale_down_delay_seconds: None,
            abort: false,
            min_pods_per_replica_set: None,
        }
    }

    /// The rows of Argo's `TestCalculateReplicaCountsForCanary`, in its order.
    #[rustfmt::skip]
    fn canary_cases() -> Vec<Case> {
        let p = |s: &str| IntOrPercent::parse(s).unwrap();
        vec![
            case("Do not add extra RSs in scaleDownCount when .Spec.Replica < AvailableReplicas",
                10, 100, Int(3), Int(0), (7, 8), (6, 3), 7, 6),
            case("Use max surge int to scale up canary", 10, 20, Int(2), Int(0), (10, 10), (0, 0), 10, 2),
            case("Use max surge percentage to scale up canary", 10, 20, p("20%"), Int(0), (10, 10), (0, 0), 10, 2),
            case("Scale down extra stable replicas", 10, 20, p("20%"), Int(0), (10, 10), (2, 2), 8, 2),
            case("Do not go past max surge", 10, 30, Int(2), Int(0), (10, 10), (0, 0), 10, 2),
            case("Use max unavailable int to scale down stableRS", 10, 20, Int(0), Int(2), (10, 10), (0, 0), 8, 0),
            case("Use max surge percentage to scale down stableRS", 10, 20, Int(0), p("20%"), (10, 10), (0, 0), 8, 0),
            case("Do not go past max unavailable", 10, 30, Int(0), Int(2), (10, 10), (0, 0), 8, 0),
            case("Use Max Surge and Max Unavailable", 10, 50, Int(2), Int(1), (10, 10), (0, 0), 9, 2),
            case("Scale canaryRS to zero on setWeight of 0%", 10, 0, Int(1), Int(1), (10, 10), (1, 1), 10, 0),
            case("Scale stable to zero on setWeight of 100%", 10, 100, Int(1), Int(1), (1, 1), (10, 10), 0, 10),
            case("Do not scale canaryRS down to zero on non-zero weight", 1, 20, Int(1), Int(0), (1, 1), (0, 0), 1, 1),
            case("Do not scale canaryRS down to zero on non-100 weight", 1, 90, Int(1), Int(0), (1, 1), (0, 0), 1, 1),
            case("Scale canaryRS to zero on <50 weight without surge", 1, 49, Int(0), Int(1), (1, 1), (0, 0), 1, 0),
            case("Scale stableRS down to zero on >=50 weight without surge",
                1, 51, Int(0), Int(1), (1, 1), (0, 0), 0, 0),
            case("Scale canaryRS to one on >=50 weight without surge and stable replicas",
                1, 51, Int(0), Int(1), (0, 0), (0, 0), 0, 1),
            Case {
                older: Some((3, 3)),
                ..case("Scale up Stable before canaryRS", 10, 30, Int(1), Int(0), (1, 1), (0, 0), 7, 1)
            },
            case("Scale down canaryRS and stable", 10, 30, Int(0), Int(3), (8, 5), (4, 4), 7, 3),
            case("Scale down stable and canary available", 10, 100, Int(1), Int(0), (10, 2), (10, 8), 2, 9),
            Case {
                older: Some((3, 3)),
                ..case("Do not scale down canaryRS or stable when older RS count >= scaleDownCount",
                    10, 30, Int(0), Int(1), (8, 6), (4, 2), 8, 4)
            },
            case("Do not round past maxSurge with uneven setWeight divisor",
                10, 5, Int(0), Int(1), (10, 10), (0, 0), 9, 0),
            case("Do not round past maxSurge with uneven setWeight divisor (part 2)",
                10, 5, Int(0), Int(1), (9, 9), (0, 0), 9, 1),
            case("Use maxUnavailable of 1 when percentage of maxUnavailable and maxSurge result in 0 replicas",
                10, 10, p("0%"), p("0%"), (10, 10), (0, 0), 9, 0),
            Case {
                set_canary_scale: Some(scs(Some(9), None, false)),
                traffic_routing: true,
                ..case("For canary replicas, use setCanaryScale.replicas when specified along with trafficRouting (and ignore setWeight)",
                    1, 100, Int(0), Int(0), (1, 1), (0, 0), 1, 9)
            },
            Case {
                set_canary_scale: Some(scs(None, Some(200), false)),
                traffic_routing: true,
                ..case("Use setCanaryScale.weight for canary replicas when specified with trafficRouting (and ignore setWeight)",
                    4, 100, Int(0), Int(0), (4, 4), (0, 0), 4, 8)
            },
            Case {
                set_canary_scale: Some(scs(Some(9), Some(100), true)),
                traffic_routing: true,
                ..case("Ignore setCanaryScale replicas/weight when matchTrafficWeight is true",
                    10, 20, p("20%"), Int(0), (10, 10), (0, 0), 10, 2)
            },
            Case {
                set_canary_scale: Some(scs(Some(9), Some(100), false)),
                ..case("Ignore setCanaryScale when trafficRouting is missing and use setWeight for replicas",
                    10, 20, p("20%"), Int(0), (10, 10), (0, 0), 10, 2)
            },
            case("honor maxSurge during scale up when stableRS unavailable", 4, 100, Int(1), Int(0), (4, 1), (0, 0), 4, 1),
            case("scale down to maxunavailable without exceeding maxSurge", 3, 99, Int(0), Int(2), (3, 3), (0, 0), 1, 0),
            case("scale down to maxunavailable without exceeding maxSurge (part 2)",
                3, 99, Int(0), Int(2), (1, 1), (0, 0), 1, 2),
            case("honor maxUnavailable during scale down stableRS unavailable", 4, 100, Int(1), Int(0), (4, 1), (1, 1), 3, 1),
            case("honor maxUnavailable when aborting or reducing weight part 1", 4, 0, Int(1), Int(0), (0, 0), (4, 4), 1, 4),
            case("honor maxUnavailable when aborting or reducing weight part 2", 4, 0, Int(1), Int(0), (1, 0), (4, 4), 1, 4),
            case("honor maxUnavailable when aborting or reducing weight part 3", 4, 0, Int(1), Int(0), (1, 1), (4, 4), 1, 3),
            Case {
                promote_full: true,
                ..case("promote full does not consider weight", 4, 1, Int(4), Int(4), (4, 4), (0, 0), 0, 4)
            },
            Case {
                promote_full: true,
                ..case("promote full still honors maxSurge/maxUnavailable", 4, 1, Int(3), Int(0), (4, 4), (0, 0), 4, 3)
            },
            Case {
                set_canary_scale: Some(scs(Some(1), None, false)),
                traffic_routing: true,
                abort_scale_down_delay_seconds: Some(0),
                abort: true,
                ..case("aborted with abortScaleDownDelaySeconds:0 and setCanaryScale",
                    1, 0, Int(0), Int(0), (1, 1), (1, 1), 1, 1)
            },
            Case {
                set_canary_scale: Some(scs(Some(1), None, false)),
                traffic_routing: true,
                abort_scale_down_delay_seconds: Some(30),
                abort: true,
                ..case("aborted with abortScaleDownDelaySeconds>0 and setCanaryScale",
                    1, 0, Int(0), Int(0), (1, 1), (1, 1), 1, 0)
            },
            Case {
                traffic_routing: true,
                min_pods_per_replica_set: Some(2),
                ..case("Honor MinPodsPerReplicaSet when using trafficRouting and starting canary",
                    10, 5, Int(0), Int(0), (10, 10), (0, 0), 10, 2)
            },
        ]
    }

    #[test]
    fn calculate_replica_counts_for_canary() {
        let cases = canary_cases();
        assert!(cases.len() >= 39);
        for c in &cases {
            let mut ro = rollout(c.spec, c.set_weight, c.surge, c.unavailable);
            ro.steps[0].set_canary_scale = c.set_canary_scale.clone();
            ro.traffic_routing = c.traffic_routing;
            ro.promote_full = c.promote_full;
            ro.abort = c.abort;
            ro.abort_scale_down_delay_seconds = c.abort_scale_down_delay_seconds;
            ro.min_pods_per_replica_set = c.min_pods_per_replica_set;
            let got = if c.traffic_routing {
                // Argo's test passes no ReplicaSets and no weights here.
                traffic_routed_canary(&ro, &ReplicaSets::default(), None)
            } else {
                let older: Vec<RsCounts> =
                    c.older.iter().map(|&(s, a)| RsCounts::new(s, a)).collect();
                let rss = ReplicaSets {
                    new: Some(RsCounts::new(c.canary.0, c.canary.1)),
                    stable: StableRs::Distinct(RsCounts::new(c.stable.0, c.stable.1)),
                    others: &older,
                };
                basic_canary(&ro, &rss)
            };
            assert_eq!(
                got,
                CanaryCounts {
                    canary: c.expected_canary,
                    stable: c.expected_stable
                },
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn approximate_weighted_new_stable_replica_counts() {
        // (replicas, weight, maxWeight, maxSurge, canary, stable), Argo's table in its order.
        let rows: &[(i32, i32, i32, i32, i32, i32)] = &[
            (0, 0, 100, 0, 0, 0),
            (0, 50, 100, 0, 0, 0),
            (0, 100, 100, 0, 0, 0),
            (0, 0, 100, 1, 0, 0),
            (0, 50, 100, 1, 0, 0),
            (0, 100, 100, 1, 0, 0),
            (1, 0, 100, 0, 0, 1),
            (1, 1, 100, 0, 0, 1),
            (1, 49, 100, 0, 0, 1),
            (1, 50, 100, 0, 1, 0),
            (1, 99, 100, 0, 1, 0),
            (1, 100, 100, 0, 1, 0),
            (1, 0, 100, 1, 0, 1),
            (1, 1, 100, 1, 1, 1),
            (1, 49, 100, 1, 1, 1),
            (1, 50, 100, 1, 1, 1),
            (1, 99, 100, 1, 1, 1),
            (1, 100, 100, 1, 1, 0),
            (2, 0, 100, 0, 0, 2),
            (2, 1, 100, 0, 1, 1),
            (2, 50, 100, 0, 1, 1),
            (2, 99, 100, 0, 1, 1),
            (2, 100, 100, 0, 2, 0),
            (2, 0, 100, 1, 0, 2),
            (2, 1, 100, 1, 1, 2),
            (2, 50, 100, 1, 1, 1),
            (2, 99, 100, 1, 2, 1),
            (2, 100, 100, 1, 2, 0),
            (3, 10, 100, 0, 1, 2),
            (3, 25, 100, 0, 1, 2),
            (3, 33, 100, 0, 1, 2),
            (3, 34, 100, 0, 1, 2),
            (3, 49, 100, 0, 1, 2),
            (3, 50, 100, 0, 2, 1),
            (3, 10, 100, 1, 1, 3),
            (3, 25, 100, 1, 1, 3),
            (3, 33, 100, 1, 1, 2),
            (3, 34, 100, 1, 1, 2),
            (3, 49, 100, 1, 2, 2),
            (3, 50, 100, 1, 2, 2),
            (10, 0, 100, 1, 0, 10),
            (10, 1, 100, 0, 1, 9),
            (10, 14, 100, 0, 1, 9),
            (10, 15, 100, 0, 2, 8),
            (10, 16, 100, 0, 2, 8),
            (10, 99, 100, 0, 9, 1),
            (10, 100, 100, 1, 10, 0),
            (10, 0, 100, 1, 0, 10),
            (10, 1, 100, 1, 1, 10),
            (10, 18, 100, 1, 2, 9),
            (10, 19, 100, 1, 2, 9),
            (10, 20, 100, 1, 2, 8),
            (10, 23, 100, 1, 2, 8),
            (10, 24, 100, 1, 3, 8),
            (10, 25, 100, 1, 3, 8),
            (10, 99, 100, 1, 10, 1),
            (10, 100, 100, 1, 10, 0),
        ];
        for &(replicas, weight, max_weight, surge, canary, stable) in rows {
            assert_eq!(
                approximate_weighted_counts(replicas, weight, max_weight, surge),
                CanaryCounts { canary, stable },
                "replicas:{replicas} weight:{weight} maxweight:{max_weight} surge:{surge}"
            );
        }
    }

    #[test]
    fn calculate_replica_counts_for_new_deployment() {
        // The new and the stable ReplicaSet are the same one ("stable" both).
        let ro = rollout(10, 10, Int(0), Int(1));
        let rss = ReplicaSets {
            new: Some(RsCounts::new(10, 0)),
            stable: StableRs::SameAsNew,
            others: &[],
        };
        assert_eq!(
            basic_canary(&ro, &rss),
            CanaryCounts {
                canary: 10,
                stable: 0
            }
        );
    }

    #[test]
    fn calculate_replica_counts_for_canary_traffic_routing() {
        let mut ro = rollout(10, 10, Int(0), Int(1));
        ro.traffic_routing = true;
        assert_eq!(
            traffic_routed_canary(&ro, &ReplicaSets::default(), None),
            CanaryCounts {
                canary: 1,
                stable: 10
            }
        );
    }

    #[test]
    fn calculate_replica_counts_for_canary_traffic_routing_dynamic_scale() {
        struct Dyn {
            name: &'static str,
            replicas: i32,
            first_set_weight: i32, // Argo's "rolloutMaxReplicas", passed as newRollout's setWeight
            abort: bool,
            more_steps: &'static [i32],
            weights: (i32, i32),
            canary_rs: i32, // 0: none; available = spec, as in Argo's test
            stable_rs: (i32, i32),
            expected: (i32, i32),
        }
        #[rustfmt::skip]
        let cases = [
            Dyn { name: "Should scale stable replica up depending on next expected canary downscale step, if abort is true",
                replicas: 10, first_set_weight: 20, abort: true, more_steps: &[60], weights: (60, 40),
                canary_rs: 6, stable_rs: (4, 4), expected: (6, 8) },
            Dyn { name: "Should scale stable replica up depending on available canary replicas, if actual number of canaries is less than expected and abort is true",
                replicas: 10, first_set_weight: 20, abort: true, more_steps: &[60], weights: (60, 40),
                canary_rs: 1, stable_rs: (4, 4), expected: (6, 8) },
            Dyn { name: "Should scale stable replica up depending on available stable replicas, if abort is true",
                replicas: 10, first_set_weight: 20, abort: true, more_steps: &[60], weights: (60, 40),
                canary_rs: 2, stable_rs: (8, 4), expected: (6, 8) },
            Dyn { name: "Should scale stable up as if canaries are scaled down to 0 if stable and canary replicas not passed, and abort is true",
                replicas: 10, first_set_weight: 20, abort: true, more_steps: &[60], weights: (60, 40),
                canary_rs: 0, stable_rs: (0, 0), expected: (6, 10) },
            Dyn { name: "Should scale down stable",
                replicas: 10, first_set_weight: 10, abort: false, more_steps: &[], weights: (10, 90),
                canary_rs: 0, stable_rs: (0, 0), expected: (1, 9) },
            Dyn { name: "Should take max of desired canary (20) > actual (10)",
                replicas: 10, first_set_weight: 20, abort: false, more_steps: &[], weights: (10, 90),
                canary_rs: 0, stable_rs: (0, 0), expected: (2, 9) },
            Dyn { name: "Should leave canary scaled up if there is still traffic to it on abort",
                replicas: 10, first_set_weight: 20, abort: true, more_steps: &[], weights: (20, 80),
                canary_rs: 0, stable_rs: (0, 0), expected: (2, 10) },
            Dyn { name: "Should reduce canary when there is less traffic to it on abort",
                replicas: 10, first_set_weight: 20, abort: true, more_steps: &[], weights: (10, 90),
                canary_rs: 0, stable_rs: (0, 0), expected: (1, 10) },
        ];
        for c in &cases {
            let mut ro = rollout(c.replicas, c.first_set_weight, Int(0), Int(1));
            ro.traffic_routing = true;
            ro.dynamic_stable_scale = true;
            ro.abort = c.abort;
            ro.steps.extend(c.more_steps.iter().map(|&w| CanaryStep {
                set_weight: Some(w),
                set_canary_scale: None,
            }));
            let rss = ReplicaSets {
                new: (c.canary_rs > 0).then(|| RsCounts::new(c.canary_rs, c.canary_rs)),
                stable: if c.stable_rs.0 > 0 {
                    StableRs::Distinct(RsCounts::new(c.stable_rs.0, c.stable_rs.1))
                } else {
                    StableRs::Missing
                },
                others: &[],
            };
            let weights = TrafficWeights {
                canary: c.weights.0,
                stable: c.weights.1,
            };
            assert_eq!(
                traffic_routed_canary(&ro, &rss, Some(&weights)),
                CanaryCounts {
                    canary: c.expected.0,
                    stable: c.expected.1
                },
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn calculate_replica_counts_for_canary_stable_rs_edge_cases() {
        let mut ro = rollout(10, 10, Int(0), Int(1));
        ro.stable_rs = String::new();
        ro.current_pod_hash = String::new();
        let new = Some(RsCounts::new(9, 9));
        let missing = ReplicaSets {
            new,
            stable: StableRs::Missing,
            others: &[],
        };
        assert_eq!(
            basic_canary(&ro, &missing),
            CanaryCounts {
                canary: 10,
                stable: 0
            }
        );
        let same = ReplicaSets {
            new,
            stable: StableRs::SameAsNew,
            others: &[],
        };
        assert_eq!(
            basic_canary(&ro, &same),
            CanaryCounts {
                canary: 10,
                stable: 0
            }
        );
    }

    #[test]
    fn traffic_weight_to_replicas_rounds_up() {
        assert_eq!(traffic_weight_to_replicas(10, 0, 100), 0);
        assert_eq!(traffic_weight_to_replicas(10, 20, 100), 2);
        assert_eq!(traffic_weight_to_replicas(10, 25, 100), 3);
        assert_eq!(traffic_weight_to_replicas(10, 33, 100), 4);
        assert_eq!(traffic_weight_to_replicas(10, 99, 100), 10);
        assert_eq!(traffic_weight_to_replicas(10, 100, 100), 10);
        assert_eq!(traffic_weight_to_replicas(23, 100000000, 100000000), 23);
    }

    #[test]
    fn get_current_set_weight() {
        let mut ro = rollout(10, 10, Int(0), Int(1));
        ro.stable_rs = String::new();
        ro.current_pod_hash = String::new();
        ro.current_step_index = Some(1);
        assert_eq!(current_set_weight(&ro), 100);
        ro.current_step_index = Some(0);
        assert_eq!(current_set_weight(&ro), 10);
        ro.abort = true;
        assert_eq!(current_set_weight(&ro), 0);
    }

    #[test]
    fn get_replicas_for_scale_down() {
        assert_eq!(replicas_for_scale_down(None, false), 0, "test rs is nil");
        assert_eq!(
            replicas_for_scale_down(Some(RsCounts::new(3, 5)), false),
            3,
            "test expected replicas is less than actual replicas"
        );
        assert_eq!(
            replicas_for_scale_down(Some(RsCounts::new(3, 2)), true),
            3,
            "test ignore availability"
        );
        assert_eq!(
            replicas_for_scale_down(Some(RsCounts::new(3, 2)), false),
            2,
            "test not ignore availability"
        );
    }

    #[test]
    fn get_canary_replicas_or_weight() {
        let full = CanaryRollout {
            promote_full: true,
            ..CanaryRollout::default()
        };
        assert_eq!(
            canary_replicas_or_weight(&full, None, None),
            ReplicasOrWeight::Weight(100),
            "test full promote rollout"
        );

        let with_scale = |scale: SetCanaryScale| CanaryRollout {
            steps: vec![
                CanaryStep {
                    set_weight: Some(10),
                    set_canary_scale: None,
                },
                CanaryStep {
                    set_weight: None,
                    set_canary_scale: Some(scale),
                },
            ],
            traffic_routing: true,
            current_step_index: Some(1),
            stable_rs: "stable-rs".into(),
            ..CanaryRollout::default()
        };
        let by_weight = with_scale(scs(None, Some(20), false));
        assert_eq!(
            canary_replicas_or_weight(&by_weight, None, None),
            ReplicasOrWeight::Weight(20),
            "test canary step weight"
        );
        let by_replicas = with_scale(scs(Some(5), None, false));
        let got = canary_replicas_or_weight(&by_replicas, None, None);
        assert_eq!(
            got,
            ReplicasOrWeight::Replicas(5),
            "test canary step replicas"
        );
        assert_eq!(got.weight(), 0);

        // Argo's case is a blue-green Rollout, aborted, with no status.stableRS.
        let aborted = CanaryRollout {
            abort: true,
            ..CanaryRollout::default()
        };
        assert_eq!(
            canary_replicas_or_weight(&aborted, None, None),
            ReplicasOrWeight::Weight(100),
            "test get current step weight"
        );
    }

    #[test]
    fn resolve_fenceposts_table() {
        let p = |s: &str| IntOrPercent::parse(s).unwrap();
        assert_eq!(
            resolve_fenceposts(Some(&p("0%")), Some(&p("0%")), 0),
            (0, 1)
        );
        assert_eq!(
            resolve_fenceposts(Some(&p("39%")), Some(&p("39%")), 10),
            (4, 3)
        );
        assert!(IntOrPercent::parse("oops").is_err());
        assert!(IntOrPercent::parse("urg").is_err());
        assert_eq!(resolve_fenceposts(None, Some(&p("39%")), 10), (0, 3));
        assert_eq!(resolve_fenceposts(Some(&p("39%")), None, 10), (4, 0));
        assert_eq!(resolve_fenceposts(None, None, 10), (0, 1));
    }

    #[test]
    fn max_surge_and_max_unavailable() {
        let surge = |replicas: i32, v: IntOrPercent| {
            resolve_surge_unavailable(replicas, Some(&v), Some(&Int(1))).max_surge
        };
        assert_eq!(surge(10, Int(5)), 5, "maxSurge with int");
        assert_eq!(surge(10, Percent(50)), 5, "maxSurge with percents");

        let unavailable = |replicas: i32, v: IntOrPercent| {
            resolve_surge_unavailable(replicas, Some(&Int(1)), Some(&v)).max_unavailable
        };
        assert_eq!(
            unavailable(10, Int(5)),
            5,
            "maxUnavailable less than replicas"
        );
        assert_eq!(
            unavailable(10, Int(10)),
            10,
            "maxUnavailable equal replicas"
        );
        assert_eq!(
            unavailable(5, Int(10)),
            5,
            "maxUnavailable greater than replicas"
        );
        assert_eq!(
            unavailable(0, Int(10)),
            0,
            "maxUnavailable with replicas is 0"
        );
        assert_eq!(
            unavailable(10, Percent(50)),
            5,
            "maxUnavailable less than replicas with percents"
        );
        assert_eq!(
            unavailable(10, Percent(100)),
            10,
            "maxUnavailable equal replicas with percents"
        );
        assert_eq!(
            unavailable(5, Percent(100)),
            5,
            "maxUnavailable greater than replicas with percents"
        );
        // "maxUnavailable with BlueGreen deployment strategy": replicas unset (1), default 25 %.
        assert_eq!(blue_green_max_unavailable(DEFAULT_REPLICAS, None), 0);
    }

    // bosun's own cases below.

    #[test]
    fn string_values_are_percentages_as_argo_reads_them() {
        assert_eq!(IntOrPercent::parse("25%"), Ok(Percent(25)));
        assert_eq!(
            IntOrPercent::parse("25"),
            Ok(Percent(25)),
            "Argo's own default is the string \"25\""
        );
        assert_eq!(Percent(25).scaled(3, true), 1);
        assert_eq!(Percent(25).scaled(3, false), 0);
        assert_eq!(Percent(25).scaled(5, true), 2);
        assert_eq!(Percent(25).scaled(5, false), 1);
        assert_eq!(Int(7).scaled(3, false), 7);
    }

    #[test]
    fn defaults_are_25_percent_each() {
        let ro = CanaryRollout {
            replicas: Some(10),
            ..CanaryRollout::default()
        };
        assert_eq!(
            ro.surge_unavailable(),
            SurgeUnavailable {
                max_surge: 3,
                max_unavailable: 2
            }
        );
        // 25 % of 3 is 1 (up) and 0 (down); only 0 and 0 becomes an unavailability of 1.
        let three = CanaryRollout {
            replicas: Some(3),
            ..CanaryRollout::default()
        };
        assert_eq!(
            three.surge_unavailable(),
            SurgeUnavailable {
                max_surge: 1,
                max_unavailable: 0
            }
        );
        let one = CanaryRollout::default();
        assert_eq!(one.spec_replicas(), 1);
        assert_eq!(
            one.surge_unavailable(),
            SurgeUnavailable {
                max_surge: 1,
                max_unavailable: 0
            }
        );
        // 10 % of 2: a surge of 1 (up), so the unavailability may stay 0 (down) ...
        assert_eq!(
            resolve_surge_unavailable(2, Some(&Percent(10)), Some(&Percent(10))),
            SurgeUnavailable {
                max_surge: 1,
                max_unavailable: 0
            }
        );
        // ... but with no surge either it becomes 1.
        assert_eq!(
            resolve_surge_unavailable(2, Some(&Percent(0)), Some(&Percent(10))),
            SurgeUnavailable {
                max_surge: 0,
                max_unavailable: 1
            }
        );
    }

    #[test]
    fn max_traffic_weight_only_with_traffic_routing() {
        let mut ro = rollout(10, 500, Int(1), Int(0));
        ro.max_traffic_weight = Some(1000);
        assert_eq!(ro.max_weight(), 100);
        ro.traffic_routing = true;
        assert_eq!(ro.max_weight(), 1000);
        assert_eq!(
            traffic_routed_canary(&ro, &ReplicaSets::default(), None),
            CanaryCounts {
                canary: 5,
                stable: 10
            }
        );
    }

    #[test]
    fn set_canary_scale_latest_step_wins_and_match_traffic_weight_resets() {
        let steps = vec![
            CanaryStep {
                set_weight: None,
                set_canary_scale: Some(scs(Some(3), None, false)),
            },
            CanaryStep {
                set_weight: Some(20),
                set_canary_scale: None,
            },
            CanaryStep {
                set_weight: None,
                set_canary_scale: Some(scs(None, None, true)),
            },
            CanaryStep {
                set_weight: Some(40),
                set_canary_scale: None,
            },
        ];
        let mut ro = CanaryRollout {
            replicas: Some(10),
            steps,
            traffic_routing: true,
            stable_rs: "stable".into(),
            current_pod_hash: "canary".into(),
            ..CanaryRollout::default()
        };
        let at = |ro: &mut CanaryRollout, index: i32| {
            ro.current_step_index = Some(index);
            traffic_routed_canary(ro, &ReplicaSets::default(), None)
        };
        assert_eq!(
            at(&mut ro, 0),
            CanaryCounts {
                canary: 3,
                stable: 10
            }
        );
        assert_eq!(
            at(&mut ro, 1),
            CanaryCounts {
                canary: 3,
                stable: 10
            },
            "setCanaryScale outlives setWeight"
        );
        assert_eq!(
            at(&mut ro, 2),
            CanaryCounts {
                canary: 2,
                stable: 10
            },
            "matchTrafficWeight: back to 20 %"
        );
        assert_eq!(
            at(&mut ro, 3),
            CanaryCounts {
                canary: 4,
                stable: 10
            }
        );
        assert_eq!(
            at(&mut ro, 4),
            CanaryCounts {
                canary: 10,
                stable: 10
            },
            "all steps done: 100 %"
        );
    }

    #[test]
    fn basic_canary_odd_replicas_and_weights() {
        // 5 replicas, default surge (2) and unavailability (1), from all-stable, nothing scaled
        // yet: the canary surges by up to 2 and, in the same pass, the stable gives up the one
        // pod it may lose (when its target is below 5).
        let cases: &[(i32, CanaryCounts)] = &[
            (
                0,
                CanaryCounts {
                    canary: 0,
                    stable: 5,
                },
            ), // target 0 + 5
            (
                10,
                CanaryCounts {
                    canary: 1,
                    stable: 5,
                },
            ), // target 1 + 5 (1/6 is nearer 10 % than 1/5)
            (
                33,
                CanaryCounts {
                    canary: 2,
                    stable: 4,
                },
            ), // target 2 + 4 (33.3 %)
            (
                50,
                CanaryCounts {
                    canary: 2,
                    stable: 4,
                },
            ), // target 3 + 3, surge-limited to 2 canaries
            (
                100,
                CanaryCounts {
                    canary: 2,
                    stable: 4,
                },
            ), // target 5 + 0
        ];
        for &(weight, expected) in cases {
            let ro = CanaryRollout {
                max_surge: None,
                max_unavailable: None,
                ..rollout(5, weight, Int(0), Int(0))
            };
            let rss = ReplicaSets {
                new: Some(RsCounts::new(0, 0)),
                stable: StableRs::Distinct(RsCounts::new(5, 5)),
                others: &[],
            };
            assert_eq!(basic_canary(&ro, &rss), expected, "weight {weight}");
        }
    }

    /// Steps a basic canary to its fixed point, pods becoming available at once, and checks that
    /// it ends on [`approximate_weighted_counts`] without ever holding more than
    /// `spec.replicas + maxSurge` pods or fewer than `spec.replicas - maxUnavailable` available.
    #[test]
    fn basic_canary_converges_within_surge_and_unavailability() {
        let limits = [
            (None, None),
            (Some(Int(0)), Some(Int(1))),
            (Some(Int(1)), Some(Int(0))),
            (Some(Percent(50)), Some(Percent(0))),
        ];
        for replicas in [1, 2, 3, 5, 10] {
            for weight in [0, 10, 33, 50, 90, 100] {
                for (surge, unavailable) in limits {
                    let ro = CanaryRollout {
                        max_surge: surge,
                        max_unavailable: unavailable,
                        ..rollout(replicas, weight, Int(0), Int(0))
                    };
                    let su = ro.surge_unavailable();
                    let target = approximate_weighted_counts(replicas, weight, 100, su.max_surge);
                    let (mut canary, mut stable) =
                        (RsCounts::new(0, 0), RsCounts::new(replicas, replicas));
                    let mut rounds = 0;
                    loop {
                        let rss = ReplicaSets {
                            new: Some(canary),
                            stable: StableRs::Distinct(stable),
                            others: &[],
                        };
                        let got = basic_canary(&ro, &rss);
                        let label = format!(
                            "replicas {replicas} weight {weight} {surge:?}/{unavailable:?} round {rounds}"
                        );
                        assert!(
                            got.canary + got.stable <= replicas + su.max_surge,
                            "{label}: over surge {got:?}"
                        );
                        // Scale-downs take effect at once, scale-ups become available at once.
                        let available =
                            min(canary.available, got.canary) + min(stable.available, got.stable);
                        assert!(
                            available >= replicas - su.max_unavailable,
                            "{label}: under availability {got:?}"
                        );
                        if got
                            == (CanaryCounts {
                                canary: canary.spec,
                                stable: stable.spec,
                            })
                        {
                            assert_eq!(got, target, "{label}: stuck short of the target");
                            break;
                        }
                        canary = RsCounts::new(got.canary, got.canary);
                        stable = RsCounts::new(got.stable, got.stable);
                        rounds += 1;
                        assert!(rounds < 50, "{label}: no fixed point");
                    }
                }
            }
        }
    }
}
