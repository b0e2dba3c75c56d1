//! The simulated scheduler and kubelet (what kwok's pod stages do): every Pod is bound to a
//! simulated Node and then "runs" by rules — no container is started, the status is a pure
//! function of the Pod's spec and the time since it started, so it survives restarts and never
//! drifts.
//!
//! # Scheduling
//!
//! A Pod without `spec.nodeName` is bound to a Node, round-robin over the Nodes that are not
//! being deleted, not `unschedulable`, match `spec.nodeSelector` and the required node affinity
//! (`matchExpressions` on labels, `matchFields` on `metadata.name`). Taints, resources and
//! ports are not considered. No such Node: `PodScheduled=False`, reason `Unschedulable`.
//!
//! # Lifecycle rules
//!
//! Once bound, a Pod gets `startTime`, a `podIP` from 10.244.0.0/16 and the Node's `hostIP`,
//! and its init containers count as completed. Each container then follows a *rule*, taken
//! from the Pod annotation `bosun.dev/simulate` if present, else from its image: the image
//! reference contains the rule's word delimited by `/ : @ . _ -` or the ends
//! (`example/app:crashloop`, `crashloop-app:1`; not `crashloopy`). Rules, by precedence:
//!
//! | rule | what the container does |
//! | --- | --- |
//! | `pull-error` | never starts: waiting `ErrImagePull`, then `ImagePullBackOff` after the ready delay; the Pod stays `Pending` |
//! | `crashloop` | exits with code 1 as soon as it starts; never Ready |
//! | `never-ready` | runs but its readiness probe never passes: `Running`, never Ready |
//! | `fail` | runs for `Timing::job_run_time`, then exits with code 1; never Ready |
//! | (none) | runs; Ready `Timing::pod_ready_delay` after start |
//!
//! What happens after a container exits depends on `restartPolicy`, as on a real node:
//! `Always` (and `OnFailure` after a non-zero exit) restarts it with the kubelet's back-off —
//! `pod_ready_delay` doubled at each restart, capped at 5 minutes — showing
//! `CrashLoopBackOff` between runs, `restartCount` and the previous run in `lastState`; the Pod
//! stays `Running`. `Never` (and `OnFailure` after exit 0) leaves it terminated; when every
//! container has terminated the Pod is `Succeeded` (all exit codes 0) or `Failed`.
//!
//! Containers of Pods whose `restartPolicy` is `Never` or `OnFailure` (Jobs' Pods) are batch
//! work: without a rule they run for `Timing::job_run_time` and exit 0. With `Always` they
//! serve forever.
//!
//! A Pod being deleted (it has finalizers, so it is still there) is no longer Ready.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::events::{Kind, record};
use super::runner::{Key, Reconciler, event_key, is_type};
use super::{Timing, builtin, controller_write, uid_of};
use crate::objects::{name_of, namespace_of, now};
use crate::selectors::{LabelSelector, labels_of};
use crate::server::Shared;
use crate::store::{EventType, WatchEvent};

/// The Pod annotation that picks a rule for every container of the Pod.
pub const SIMULATE_ANNOTATION: &str = "bosun.dev/simulate";
/// The kubelet's longest crash back-off.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

pub async fn run(state: Shared) {
    super::runner::run(state, Kubelet::default()).await;
}

#[derive(Default)]
struct Kubelet {
    /// When each Pod (by uid) started, in monotonic and wall-clock time.
    started: HashMap<String, (Instant, jiff::Timestamp)>,
    ips: IpPool,
    next_node: usize,
    /// The Pods (by uid) whose containers were told to stop (one `Killing` Event each).
    killed: HashSet<String>,
}

impl Reconciler for Kubelet {
    fn keys_for(&mut self, state: &Shared, event: &WatchEvent) -> Vec<Key> {
        if is_type(event, "", "pods") {
            if event.event_type == EventType::Deleted {
                self.started.remove(uid_of(&event.object));
                // Deleted without a terminating stage (no finalizers): its containers stop now.
                if !self.killed.remove(uid_of(&event.object)) {
                    killing_events(state, &event.object);
                }
                if let Some(ip) = event.object["status"]["podIP"].as_str() {
                    self.ips.release(ip);
                }
                return Vec::new();
            }
            return vec![event_key(event)];
        }
        if is_type(event, "", "nodes") {
            // A new or changed Node may take the Pods nobody could take.
            let pods = builtin(state, "", "v1", "pods");
            return state
                .objects
                .list(&pods, None)
                .items
                .iter()
                .filter(|p| p["spec"]["nodeName"].as_str().is_none_or(str::is_empty))
                .map(|p| (namespace_of(p).to_string(), name_of(p).to_string()))
                .collect();
        }
        Vec::new()
    }

    fn all_keys(&mut self, state: &Shared) -> Vec<Key> {
        let pods = builtin(state, "", "v1", "pods");
        let all = state.objects.list(&pods, None).items;
        self.ips
            .rebuild(all.iter().filter_map(|p| p["status"]["podIP"].as_str()));
        all.iter()
            .filter(|p| {
                let phase = p["status"]["phase"].as_str().unwrap_or_default();
                phase != "Succeeded" && phase != "Failed"
            })
            .map(|p| (namespace_of(p).to_string(), name_of(p).to_string()))
            .collect()
    }

    fn reconcile(&mut self, state: &Shared, key: &Key) -> Option<Duration> {
        let pods = builtin(state, "", "v1", "pods");
        let mut pod = state.objects.get(&pods, &key.0, &key.1).ok()?;
        if pod["metadata"]["deletionTimestamp"].is_string() {
            self.mark_terminating(state, &pod);
            return None;
        }
        let phase = pod["status"]["phase"].as_str().unwrap_or_default();
        if phase == "Succeeded" || phase == "Failed" {
            return None;
        }
        if pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty) {
            match self.choose_node(state, &pod) {
                Ok(node) => {
                    let uid = uid_of(&pod).to_string();
                    pod = state
                        .objects
                        .modify(&pods, &key.0, &key.1, None, &controller_write(), |live| {
                            if uid_of(live) != uid {
                                return Err(crate::status::ApiError::conflict(&pods, &key.1));
                            }
                            let mut next = live.clone();
                            next["spec"]["nodeName"] = json!(node);
                            Ok(next)
                        })
                        .ok()?;
                    record(
                        state,
                        &pod,
                        Kind::Normal,
                        "Scheduled",
                        &format!("Successfully assigned {}/{} to {node}", key.0, key.1),
                        "default-scheduler",
                    );
                }
                Err(message) => {
                    record(
                        state,
                        &pod,
                        Kind::Warning,
                        "FailedScheduling",
                        &message,
                        "default-scheduler",
                    );
                    self.write_status(state, &pod, unschedulable_status(&pod, &message));
                    return None;
                }
            }
        }
        let uid = uid_of(&pod).to_string();
        let (started, start_time) = *self.started.entry(uid).or_insert_with(|| {
            let now_wall = jiff::Timestamp::now();
            match pod["status"]["startTime"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            {
                // Started before a restart of the cluster: keep the original clock.
                Some(t) => {
                    let ago = (now_wall - t).total(jiff::Unit::Millisecond).unwrap_or(0.0);
                    let ago = Duration::from_millis(ago.max(0.0) as u64);
                    (
                        Instant::now().checked_sub(ago).unwrap_or_else(Instant::now),
                        t,
                    )
                }
                None => (Instant::now(), now_wall),
            }
        });
        let pod_ip = match pod["status"]["podIP"].as_str() {
            Some(ip) => ip.to_string(),
            None => self.ips.allocate()?,
        };
        let host_ip = node_ip(state, pod["spec"]["nodeName"].as_str().unwrap_or_default());
        let (status, next) = simulate(
            &pod,
            started.elapsed(),
            start_time,
            &state.timing,
            &pod_ip,
            &host_ip,
        );
        container_events(state, &pod, &status);
        self.write_status(state, &pod, status);
        next
    }
}

/// `Killing` for each running container of a Pod being deleted.
fn killing_events(state: &Shared, pod: &Value) {
    let empty = Vec::new();
    for c in pod["status"]["containerStatuses"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter(|c| c["state"]["running"].is_object())
    {
        let message = format!(
            "Stopping container {}",
            c["name"].as_str().unwrap_or_default()
        );
        record(state, pod, Kind::Normal, "Killing", &message, "kubelet");
    }
}

/// The kubelet's Events for what changed between the Pod's recorded status and `next`:
/// a container (re)started, is backing off after a crash, cannot pull its image.
fn container_events(state: &Shared, pod: &Value, next: &Value) {
    let empty = Vec::new();
    let before = pod["status"]["containerStatuses"]
        .as_array()
        .unwrap_or(&empty);
    for c in next["containerStatuses"].as_array().unwrap_or(&empty) {
        let name = c["name"].as_str().unwrap_or_default();
        let image = c["image"].as_str().unwrap_or_default();
        let old = before.iter().find(|o| o["name"] == c["name"]);
        let ran =
            |s: &Value| s["state"]["running"].is_object() || s["state"]["terminated"].is_object();
        let restarts = |s: &Value| s["restartCount"].as_i64().unwrap_or(0);
        let waiting = |s: &Value| s["state"]["waiting"]["reason"].as_str().map(String::from);
        let started_now = ran(c) && old.is_none_or(|o| !ran(o) || restarts(c) > restarts(o));
        if started_now {
            let normal = |reason: &str, message: String| {
                record(state, pod, Kind::Normal, reason, &message, "kubelet");
            };
            normal(
                "Pulled",
                format!("Container image {image:?} already present on machine"),
            );
            normal("Created", format!("Created container: {name}"));
            normal("Started", format!("Started container {name}"));
        }
        let reason = waiting(c);
        if reason.is_some() && reason != old.and_then(waiting) {
            let (kind, event, message) = match reason.as_deref() {
                Some("CrashLoopBackOff") => (
                    Kind::Warning,
                    "BackOff",
                    format!(
                        "Back-off restarting failed container {name} in pod {}_{}({})",
                        name_of(pod),
                        namespace_of(pod),
                        uid_of(pod)
                    ),
                ),
                Some("ErrImagePull") => (
                    Kind::Warning,
                    "Failed",
                    format!(
                        "Failed to pull image {image:?}: {}",
                        c["state"]["waiting"]["message"]
                            .as_str()
                            .unwrap_or_default()
                    ),
                ),
                Some("ImagePullBackOff") => (
                    Kind::Normal,
                    "BackOff",
                    format!("Back-off pulling image {image:?}"),
                ),
                _ => continue,
            };
            record(state, pod, kind, event, &message, "kubelet");
        }
    }
}

impl Kubelet {
    fn choose_node(&mut self, state: &Shared, pod: &Value) -> Result<String, String> {
        let nodes = builtin(state, "", "v1", "nodes");
        let all = state.objects.list(&nodes, None).items;
        let eligible: Vec<&Value> = all
            .iter()
            .map(|n| &**n)
            .filter(|n| {
                !n["metadata"]["deletionTimestamp"].is_string()
                    && n["spec"]["unschedulable"] != true
                    && node_matches(pod, n)
            })
            .collect();
        if eligible.is_empty() {
            return Err(format!(
                "0/{} nodes are available: {} node(s) didn't match Pod's node affinity/selector.",
                all.len(),
                all.len()
            ));
        }
        let node = eligible[self.next_node % eligible.len()];
        self.next_node = self.next_node.wrapping_add(1);
        Ok(name_of(node).to_string())
    }

    fn mark_terminating(&mut self, state: &Shared, pod: &Value) {
        if self.killed.insert(uid_of(pod).to_string()) {
            killing_events(state, pod);
        }
        let mut status = pod["status"].clone();
        if let Some(list) = status.get_mut("conditions").and_then(Value::as_array_mut) {
            for c in list.iter_mut() {
                if (c["type"] == "Ready" || c["type"] == "ContainersReady") && c["status"] == "True"
                {
                    c["status"] = json!("False");
                    c["lastTransitionTime"] = json!(now());
                }
            }
        }
        if let Some(list) = status
            .get_mut("containerStatuses")
            .and_then(Value::as_array_mut)
        {
            for c in list.iter_mut() {
                c["ready"] = json!(false);
            }
        }
        self.write_status(state, pod, status);
    }

    fn write_status(&mut self, state: &Shared, pod: &Value, status: Value) {
        let status = keep_transition_times(&pod["status"], status);
        if status == pod["status"] {
            // Nothing to write (a resync, or an event of the Pod's own last write): a write
            // would cost the whole write path to find the same.
            return;
        }
        let pods = builtin(state, "", "v1", "pods");
        let uid = uid_of(pod).to_string();
        let _ = state.objects.modify(
            &pods,
            namespace_of(pod),
            name_of(pod),
            Some("status"),
            &controller_write(),
            |live| {
                if uid_of(live) != uid {
                    return Err(crate::status::ApiError::conflict(&pods, name_of(live)));
                }
                let status = keep_transition_times(&live["status"], status);
                Ok(crate::objects::status_write(live, status))
            },
        );
    }
}

/// Whether `node` satisfies the Pod's nodeSelector and required node affinity.
pub(crate) fn node_matches(pod: &Value, node: &Value) -> bool {
    let labels = labels_of(node);
    if let Some(selector) = pod["spec"]["nodeSelector"].as_object()
        && selector
            .iter()
            .any(|(k, v)| labels.get(k).map(String::as_str) != v.as_str())
    {
        return false;
    }
    let terms = &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"];
    let Some(terms) = terms.as_array() else {
        return true;
    };
    // Terms are ORed; the requirements within a term are ANDed.
    terms.iter().any(|term| {
        let by_labels =
            LabelSelector::from_object(&json!({"matchExpressions": term["matchExpressions"]}))
                .is_ok_and(|s| s.matches_labels(&labels));
        let fields: std::collections::BTreeMap<String, String> =
            [("metadata.name".to_string(), name_of(node).to_string())].into();
        let by_fields =
            LabelSelector::from_object(&json!({"matchExpressions": term["matchFields"]}))
                .is_ok_and(|s| s.matches_labels(&fields));
        by_labels && by_fields
    })
}

pub(crate) fn node_ip(state: &Shared, node: &str) -> String {
    let nodes = builtin(state, "", "v1", "nodes");
    state
        .objects
        .get(&nodes, "", node)
        .ok()
        .and_then(|n| {
            n["status"]["addresses"].as_array().and_then(|a| {
                a.iter()
                    .find(|a| a["type"] == "InternalIP")
                    .and_then(|a| a["address"].as_str().map(String::from))
            })
        })
        .unwrap_or_else(|| "10.0.0.1".to_string())
}

fn unschedulable_status(pod: &Value, message: &str) -> Value {
    let mut status = pod["status"].clone();
    if !status.is_object() {
        status = json!({});
    }
    status["phase"] = json!("Pending");
    status["conditions"] = json!([{"type": "PodScheduled", "status": "False", "lastProbeTime": null,
        "lastTransitionTime": now(), "reason": "Unschedulable", "message": message}]);
    status
}

/// A condition keeps its lastTransitionTime while its status stays the same, so rewriting an
/// unchanged status is a no-op.
fn keep_transition_times(live: &Value, mut next: Value) -> Value {
    if let Some(list) = next.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in list.iter_mut() {
            let old = live["conditions"]
                .as_array()
                .and_then(|l| l.iter().find(|o| o["type"] == c["type"]));
            if let Some(old) = old
                && old["status"] == c["status"]
            {
                c["lastTransitionTime"] = old["lastTransitionTime"].clone();
            }
        }
    }
    next
}

/// The rule a container follows (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    Normal,
    PullError,
    CrashLoop,
    NeverReady,
    Fail,
}

impl Rule {
    const WORDS: [(&'static str, Rule); 4] = [
        ("pull-error", Rule::PullError),
        ("crashloop", Rule::CrashLoop),
        ("never-ready", Rule::NeverReady),
        ("fail", Rule::Fail),
    ];

    /// The Pod annotation wins over the image.
    pub fn of(image: &str, annotation: Option<&str>) -> Rule {
        if let Some(a) = annotation
            && let Some((_, rule)) = Self::WORDS.iter().find(|(w, _)| *w == a.trim())
        {
            return *rule;
        }
        let image = image.to_ascii_lowercase();
        Self::WORDS
            .iter()
            .find(|(w, _)| contains_word(&image, w))
            .map(|(_, r)| *r)
            .unwrap_or(Rule::Normal)
    }
}

/// `word` occurs in `text` delimited by `/ : @ . _ -` or the ends.
fn contains_word(text: &str, word: &str) -> bool {
    let delimiter = |c: Option<char>| c.is_none_or(|c| "/:@._-".contains(c));
    text.match_indices(word).any(|(i, _)| {
        delimiter(text[..i].chars().next_back()) && delimiter(text[i + word.len()..].chars().next())
    })
}

/// What one container is doing at a moment.
struct ContainerNow {
    status: Value,
    ready: bool,
    /// Exit code, once it has terminated for good.
    terminal: Option<i64>,
    /// Waiting for its image: it never ran.
    pulling: bool,
    /// When its state changes next.
    next: Option<Duration>,
}

/// The Pod's status `elapsed` after it started.
pub(crate) fn simulate(
    pod: &Value,
    elapsed: Duration,
    start: jiff::Timestamp,
    timing: &Timing,
    pod_ip: &str,
    host_ip: &str,
) -> (Value, Option<Duration>) {
    let policy = pod["spec"]["restartPolicy"].as_str().unwrap_or("Always");
    let annotation = pod["metadata"]["annotations"][SIMULATE_ANNOTATION].as_str();
    let at = |offset: Duration| -> String {
        let t = start
            .checked_add(jiff::SignedDuration::try_from(offset).unwrap_or_default())
            .unwrap_or(start);
        t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    };
    let empty = Vec::new();
    let containers = pod["spec"]["containers"].as_array().unwrap_or(&empty);
    let mut statuses = Vec::new();
    let mut next: Option<Duration> = None;
    let (mut all_ready, mut all_terminal, mut any_failed, mut all_pulling) =
        (true, true, false, true);
    let mut unready = Vec::new();
    for c in containers {
        let image = c["image"].as_str().unwrap_or_default();
        let rule = Rule::of(image, annotation);
        let now = container_now(pod, c, rule, policy, elapsed, timing, &at);
        if let Some(n) = now.next {
            next = Some(next.map_or(n, |m| m.min(n)));
        }
        if !now.ready {
            all_ready = false;
            unready.push(c["name"].as_str().unwrap_or_default().to_string());
        }
        match now.terminal {
            Some(code) => any_failed |= code != 0,
            None => all_terminal = false,
        }
        all_pulling &= now.pulling;
        statuses.push(now.status);
    }
    let phase = if containers.is_empty() {
        "Pending"
    } else if all_terminal {
        if any_failed { "Failed" } else { "Succeeded" }
    } else if all_pulling {
        "Pending"
    } else {
        "Running"
    };
    let now = now();
    let condition = |kind: &str, ok: bool, reason: Option<&str>, message: Option<String>| {
        let mut c = json!({"type": kind, "status": if ok {"True"} else {"False"},
            "lastProbeTime": null, "lastTransitionTime": now});
        if let Some(r) = reason {
            c["reason"] = json!(r);
        }
        if let Some(m) = message {
            c["message"] = json!(m);
        }
        c
    };
    let terminal = phase == "Succeeded" || phase == "Failed";
    let (ready_reason, ready_message) = if terminal {
        (Some("PodCompleted"), None)
    } else if all_ready {
        (None, None)
    } else {
        (
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        )
    };
    let ready = all_ready && !terminal;
    let conditions = json!([
        condition("PodReadyToStartContainers", !terminal, None, None),
        condition(
            "Initialized",
            true,
            terminal.then_some("PodCompleted"),
            None
        ),
        condition("Ready", ready, ready_reason, ready_message.clone()),
        condition("ContainersReady", ready, ready_reason, ready_message),
        condition("PodScheduled", true, None, None),
    ]);
    let mut status = json!({
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": at(Duration::ZERO),
        "containerStatuses": statuses,
        "qosClass": qos_class(containers),
    });
    if let Some(init) = pod["spec"]["initContainers"].as_array() {
        status["initContainerStatuses"] = json!(
            init.iter()
                .map(|c| json!({
                    "name": c["name"], "image": c["image"], "imageID": c["image"],
                    "containerID": container_id(pod, c, 0),
                    "ready": true, "started": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                        "startedAt": at(Duration::ZERO), "finishedAt": at(Duration::ZERO)}},
                }))
                .collect::<Vec<_>>()
        );
    }
    if terminal {
        next = None;
    }
    (status, next)
}

fn container_id(pod: &Value, c: &Value, restarts: u64) -> String {
    let uid = uid_of(pod);
    format!(
        "bosun://{}-{}-{restarts}",
        &uid[..uid.len().min(8)],
        c["name"].as_str().unwrap_or_default()
    )
}

fn container_now(
    pod: &Value,
    c: &Value,
    rule: Rule,
    policy: &str,
    elapsed: Duration,
    timing: &Timing,
    at: &dyn Fn(Duration) -> String,
) -> ContainerNow {
    let delay = timing.pod_ready_delay;
    let base = json!({"name": c["name"], "image": c["image"], "imageID": c["image"]});
    let with = |mut status: Value, fields: Value| {
        for (k, v) in fields.as_object().expect("fields") {
            status[k] = v.clone();
        }
        status
    };
    let batch = policy != "Always";
    let until = |t: Duration| {
        t.checked_sub(elapsed)
            .map(|d| d + Duration::from_millis(20))
    };
    let (run, code) = match rule {
        Rule::PullError => {
            let reason = if elapsed < delay {
                "ErrImagePull"
            } else {
                "ImagePullBackOff"
            };
            let message = format!(
                "failed to pull image {:?}: simulated by bosun (rule pull-error)",
                c["image"].as_str().unwrap_or_default()
            );
            return ContainerNow {
                status: with(
                    base,
                    json!({"ready": false, "started": false, "restartCount": 0,
                    "state": {"waiting": {"reason": reason, "message": message}}, "lastState": {}}),
                ),
                ready: false,
                terminal: None,
                pulling: true,
                next: until(delay),
            };
        }
        Rule::Normal | Rule::NeverReady if !batch => {
            let ready = rule == Rule::Normal && elapsed >= delay;
            return ContainerNow {
                status: with(
                    base,
                    json!({"ready": ready, "started": true, "restartCount": 0,
                    "containerID": container_id(pod, c, 0),
                    "state": {"running": {"startedAt": at(Duration::ZERO)}}, "lastState": {}}),
                ),
                ready,
                terminal: None,
                pulling: false,
                next: if rule == Rule::Normal && !ready {
                    until(delay)
                } else {
                    None
                },
            };
        }
        Rule::Normal | Rule::NeverReady => (timing.job_run_time, 0),
        Rule::CrashLoop => (Duration::ZERO, 1),
        Rule::Fail => (timing.job_run_time, 1),
    };
    let restarts = policy == "Always" || (policy == "OnFailure" && code != 0);
    let readiness_allowed = code == 0 && rule == Rule::Normal;
    let terminated = |from: Duration, to: Duration| {
        json!({"terminated": {"exitCode": code, "reason": if code == 0 {"Completed"} else {"Error"},
            "startedAt": at(from), "finishedAt": at(to), "containerID": container_id(pod, c, 0)}})
    };
    if !restarts {
        if elapsed < run {
            let ready = readiness_allowed && elapsed >= delay;
            let mut next = until(run);
            if readiness_allowed && !ready {
                next = until(delay).min(next);
            }
            return ContainerNow {
                status: with(
                    base,
                    json!({"ready": ready, "started": true, "restartCount": 0,
                    "containerID": container_id(pod, c, 0),
                    "state": {"running": {"startedAt": at(Duration::ZERO)}}, "lastState": {}}),
                ),
                ready,
                terminal: None,
                pulling: false,
                next,
            };
        }
        return ContainerNow {
            status: with(
                base,
                json!({"ready": false, "started": false, "restartCount": 0,
                "containerID": container_id(pod, c, 0),
                "state": terminated(Duration::ZERO, run), "lastState": {}}),
            ),
            ready: false,
            terminal: Some(code),
            pulling: false,
            next: None,
        };
    }
    // Restarting: run k occupies [s_k, s_k + run), then back-off until s_{k+1}.
    let base_backoff = delay.max(Duration::from_millis(100));
    let mut k: u32 = 0;
    let mut s = Duration::ZERO;
    let backoff = |k: u32| {
        base_backoff
            .saturating_mul(1u32 << k.min(20))
            .min(MAX_BACKOFF)
    };
    while k < 100_000 && s + run + backoff(k) <= elapsed {
        s += run + backoff(k);
        k += 1;
    }
    let previous = (k > 0).then(|| {
        let prev_start = s.saturating_sub(run + backoff(k - 1));
        terminated(prev_start, prev_start + run)
    });
    let running = elapsed < s + run;
    let (state, last_state, next) = if running {
        (
            json!({"running": {"startedAt": at(s)}}),
            previous.unwrap_or(json!({})),
            until(s + run),
        )
    } else {
        let wait = backoff(k);
        (
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!(
                "back-off {} restarting failed container={} pod={}_{}({})",
                go_duration(wait),
                c["name"].as_str().unwrap_or_default(),
                name_of(pod),
                namespace_of(pod),
                uid_of(pod)
            )}}),
            terminated(s, s + run),
            until(s + run + wait),
        )
    };
    ContainerNow {
        status: with(
            base,
            json!({"ready": false, "started": running, "restartCount": k,
            "containerID": container_id(pod, c, u64::from(k)),
            "state": state, "lastState": last_state}),
        ),
        ready: false,
        terminal: None,
        pulling: false,
        next,
    }
}

/// A duration as Go prints it (`10s`, `1m20s`, `5m0s`, `200ms`).
fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    if secs < 60 {
        return format!("{secs}s");
    }
    format!("{}m{}s", secs / 60, secs % 60)
}

/// `BestEffort` without requests or limits, `Guaranteed` when every container's limits equal
/// its requests for cpu and memory, else `Burstable`.
pub(crate) fn qos_class(containers: &[Value]) -> &'static str {
    let any = containers.iter().any(|c| {
        c["resources"]["requests"]
            .as_object()
            .is_some_and(|m| !m.is_empty())
            || c["resources"]["limits"]
                .as_object()
                .is_some_and(|m| !m.is_empty())
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            let limit = &c["resources"]["limits"][r];
            let request = &c["resources"]["requests"][r];
            !limit.is_null() && (request.is_null() || request == limit)
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Pod IPs from 10.244.0.0/16, reused once their Pod is gone.
#[derive(Default)]
struct IpPool {
    used: HashSet<u32>,
    cursor: u32,
}

impl IpPool {
    const BASE: u32 = u32::from_be_bytes([10, 244, 0, 0]);
    const SIZE: u32 = 1 << 16;

    fn rebuild<'a>(&mut self, ips: impl Iterator<Item = &'a str>) {
        self.used = ips
            .filter_map(|ip| ip.parse::<Ipv4Addr>().ok())
            .map(u32::from)
            .collect();
    }

    fn allocate(&mut self) -> Option<String> {
        for _ in 0..Self::SIZE {
            self.cursor = (self.cursor + 1) % Self::SIZE;
            // Skip the network address, the gateway (.1) and the broadcast address.
            if self.cursor < 2 || self.cursor == Self::SIZE - 1 {
                continue;
            }
            let ip = Self::BASE + self.cursor;
            if self.used.insert(ip) {
                return Some(Ipv4Addr::from(ip).to_string());
            }
        }
        None
    }

    fn release(&mut self, ip: &str) {
        if let Ok(ip) = ip.parse::<Ipv4Addr>() {
            self.used.remove(&u32::from(ip));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing {
            pod_ready_delay: Duration::from_secs(2),
            job_run_time: Duration::from_secs(3),
            resync: Duration::from_secs(5),
        }
    }

    fn pod(image: &str, policy: &str) -> Value {
        json!({"metadata": {"name": "p", "namespace": "default", "uid": "0123456789"},
            "spec": {"restartPolicy": policy, "containers": [{"name": "c", "image": image}]}})
    }

    fn at(image: &str, policy: &str, secs: f64) -> (Value, Option<Duration>) {
        simulate(
            &pod(image, policy),
            Duration::from_secs_f64(secs),
            jiff::Timestamp::UNIX_EPOCH,
            &timing(),
            "10.244.0.2",
            "10.0.0.1",
        )
    }

    fn ready(status: &Value) -> bool {
        status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    }

    #[test]
    fn rules_come_from_delimited_words_or_the_annotation() {
        assert_eq!(Rule::of("example/app:crashloop", None), Rule::CrashLoop);
        assert_eq!(Rule::of("crashloop-app:1", None), Rule::CrashLoop);
        assert_eq!(Rule::of("crashloopy:1", None), Rule::Normal);
        assert_eq!(Rule::of("failover:1", None), Rule::Normal);
        assert_eq!(Rule::of("app:fail", None), Rule::Fail);
        assert_eq!(Rule::of("app:never-ready", None), Rule::NeverReady);
        assert_eq!(
            Rule::of("registry.local/pull-error/app", None),
            Rule::PullError
        );
        assert_eq!(Rule::of("nginx:1.27", Some("crashloop")), Rule::CrashLoop);
        assert_eq!(Rule::of("nginx:1.27", Some("bogus")), Rule::Normal);
    }

    #[test]
    fn a_normal_pod_becomes_ready_after_the_delay() {
        let (before, next) = at("nginx:1", "Always", 1.0);
        assert_eq!(before["phase"], "Running");
        assert!(!ready(&before));
        assert!(next.unwrap() <= Duration::from_millis(1100));
        let (after, next) = at("nginx:1", "Always", 2.5);
        assert!(ready(&after));
        assert_eq!(next, None);
        assert_eq!(after["containerStatuses"][0]["ready"], true);
    }

    // With a 2 s base, restarts happen at 2, 2+4, 2+4+8 s...; the Pod stays Running, never Ready.
    #[test]
    fn crashloop_restarts_with_growing_backoff() {
        let (s, _) = at("app:crashloop", "Always", 1.0);
        assert_eq!(s["phase"], "Running");
        assert_eq!(
            s["containerStatuses"][0]["state"]["waiting"]["reason"],
            "CrashLoopBackOff"
        );
        assert_eq!(s["containerStatuses"][0]["restartCount"], 0);
        let (s, _) = at("app:crashloop", "Always", 7.0);
        assert_eq!(s["containerStatuses"][0]["restartCount"], 2);
        assert_eq!(
            s["containerStatuses"][0]["lastState"]["terminated"]["exitCode"],
            1
        );
        assert!(!ready(&s));
    }

    #[test]
    fn batch_pods_complete_or_fail_after_the_run_time() {
        let (s, _) = at("busybox", "Never", 1.0);
        assert_eq!(s["phase"], "Running");
        let (s, next) = at("busybox", "Never", 3.5);
        assert_eq!(s["phase"], "Succeeded");
        assert_eq!(next, None);
        let (s, _) = at("busybox:fail", "Never", 3.5);
        assert_eq!(s["phase"], "Failed");
        assert_eq!(
            s["containerStatuses"][0]["state"]["terminated"]["reason"],
            "Error"
        );
        let (s, _) = at("busybox:fail", "OnFailure", 3.5);
        assert_eq!(s["phase"], "Running", "OnFailure restarts in place");
    }

    #[test]
    fn never_ready_and_pull_error() {
        let (s, next) = at("app:never-ready", "Always", 100.0);
        assert_eq!(s["phase"], "Running");
        assert!(!ready(&s));
        assert_eq!(next, None);
        let (s, _) = at("app:pull-error", "Always", 100.0);
        assert_eq!(s["phase"], "Pending");
        assert_eq!(
            s["containerStatuses"][0]["state"]["waiting"]["reason"],
            "ImagePullBackOff"
        );
    }

    #[test]
    fn ip_pool_skips_reserved_and_reuses_released() {
        let mut pool = IpPool::default();
        assert_eq!(pool.allocate().as_deref(), Some("10.244.0.2"));
        assert_eq!(pool.allocate().as_deref(), Some("10.244.0.3"));
        pool.release("10.244.0.2");
        pool.cursor = 0;
        assert_eq!(pool.allocate().as_deref(), Some("10.244.0.2"));
    }
}
