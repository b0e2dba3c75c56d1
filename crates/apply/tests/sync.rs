//! The sync executor (`bosun_apply::sync::sync`) against bosun's local cluster started
//! in-process: Replace=true, ApplyOutOfSyncOnly, SyncFail and PostSync hooks, Helm hooks and
//! `crd-install`, the wave health gate and dry runs. Each request is built as `Engine::sync` builds it: the Plan first, its
//! verdicts as `planned`, its no-op objects as `unchanged`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use bosun_apply::hooks::Phase;
use bosun_apply::sync::{Action, ResourceResult, SyncEvent, SyncOutcome, SyncRequest, sync};
use bosun_cluster::controllers::Timing;
use bosun_cluster::server::{self, ClusterConfig, RunningCluster};
use bosun_model::SyncOptions;
use bosun_plan::{Plan, Resolver, SyncState, live, plan};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

const APP: &str = "shop";
const NS: &str = "default";
const MANAGER: &str = "bosun";
/// Upper bound of one sync, waits included; generous so a slow machine does not fail a test.
const SYNC_TIMEOUT: Duration = Duration::from_secs(180);

struct TestCluster {
    _cluster: RunningCluster,
    resolver: Resolver,
}

impl TestCluster {
    async fn start() -> Self {
        let cluster = server::start(ClusterConfig {
            timing: Timing {
                job_run_time: Duration::from_secs(1),
                ..Timing::default()
            },
            ..ClusterConfig::default()
        })
        .await
        .expect("cluster starts");
        let config = kube::Config::new(cluster.url().parse().expect("url"));
        let client = kube::Client::try_from(config).expect("kube client");
        let resolver = Resolver::new(client).await.expect("discovery");
        Self {
            _cluster: cluster,
            resolver,
        }
    }

    fn api(&self, api_version: &str, kind: &str) -> Api<DynamicObject> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        let resource = kube::discovery::ApiResource::from_gvk(&gvk);
        Api::namespaced_with(self.resolver.client().clone(), NS, &resource)
    }

    /// The live object, if any.
    async fn get(&self, api_version: &str, kind: &str, name: &str) -> Option<Value> {
        self.api(api_version, kind)
            .get_opt(name)
            .await
            .unwrap_or_else(|e| panic!("get {kind}/{name}: {e}"))
            .map(|o| serde_json::to_value(o).expect("json"))
    }

    async fn must_get(&self, api_version: &str, kind: &str, name: &str) -> Value {
        self.get(api_version, kind, name)
            .await
            .unwrap_or_else(|| panic!("{kind}/{name} does not exist"))
    }

    /// A forced server-side apply of `object` as given, by `manager`.
    async fn apply_as(&self, object: &Value, manager: &str) {
        let name = object["metadata"]["name"].as_str().expect("name");
        self.api(
            object["apiVersion"].as_str().expect("apiVersion"),
            object["kind"].as_str().expect("kind"),
        )
        .patch(
            name,
            &PatchParams::apply(manager).force(),
            &Patch::Apply(object),
        )
        .await
        .unwrap_or_else(|e| panic!("apply {name} as {manager}: {e}"));
    }

    /// `object` as a bosun sync of APP puts it: tracking stamped, applied by bosun.
    async fn synced(&self, object: &Value) {
        let prepared = live::prepare(&self.resolver, object, APP, NS)
            .await
            .expect("prepare");
        self.apply_as(&prepared.object, MANAGER).await;
    }

    async fn plan(&self, objects: &[Value]) -> Plan {
        plan(&self.resolver, objects, APP, NS, &[], MANAGER)
            .await
            .expect("plan")
    }

    /// The request `Engine::sync` would make for `objects` with `options`.
    async fn request(&self, objects: Vec<Value>, options: SyncOptions) -> SyncRequest {
        let plan = self.plan(&objects).await;
        SyncRequest {
            app: APP.into(),
            namespace: NS.into(),
            objects,
            options,
            prune: false,
            dry_run: false,
            timeout: SYNC_TIMEOUT,
            manager: MANAGER.into(),
            planned: plan
                .resources
                .iter()
                .map(|r| (r.key.clone(), r.status))
                .collect(),
            unchanged: plan
                .resources
                .iter()
                .filter(|r| r.noop)
                .filter_map(|r| Some((r.key.clone(), r.observed.clone()?)))
                .collect::<BTreeMap<_, _>>(),
            tracked: None,
            resume: None,
            revision: "0123456789abcdef".into(),
            started: std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            shared: plan
                .resources
                .iter()
                .filter_map(|r| r.shared_warning(APP))
                .collect(),
            only: None,
        }
    }

    /// Runs the sync and returns its outcome with every event it emitted, in order.
    async fn run(&self, req: &SyncRequest) -> (SyncOutcome, Vec<SyncEvent>) {
        let events = Mutex::new(Vec::new());
        let outcome = sync(&self.resolver, req, &|e: &SyncEvent| {
            events.lock().unwrap().push(e.clone())
        })
        .await
        .expect("the sync runs");
        (outcome, events.into_inner().unwrap())
    }

    /// Waits (bounded, generously) until the object is gone.
    async fn wait_gone(&self, api_version: &str, kind: &str, name: &str) -> bool {
        for _ in 0..600 {
            if self.get(api_version, kind, name).await.is_none() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}

fn configmap(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NS}, "data": data})
}

fn annotated(mut object: Value, annotations: Value) -> Value {
    object["metadata"]["annotations"] = annotations;
    object
}

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
}

/// A hook Job; an image with the word `fail` makes its Pod exit 1 (docs/local-cluster.md).
fn hook_job(name: &str, hook: &str, delete_policy: Option<&str>, image: &str) -> Value {
    let mut annotations = json!({"argocd.argoproj.io/hook": hook});
    if let Some(policy) = delete_policy {
        annotations["argocd.argoproj.io/hook-delete-policy"] = policy.into();
    }
    json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": NS, "annotations": annotations},
        "spec": {"backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "task", "image": image}]}}}})
}

fn result_of<'a>(outcome: &'a SyncOutcome, kind: &str, name: &str) -> &'a ResourceResult {
    let found: Vec<_> = outcome
        .resources
        .iter()
        .filter(|r| r.key.kind == kind && r.key.name == name)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{kind}/{name}: one result expected in {:#?}",
        outcome.resources
    );
    found[0]
}

fn position(outcome: &SyncOutcome, kind: &str, name: &str) -> usize {
    outcome
        .resources
        .iter()
        .position(|r| r.key.kind == kind && r.key.name == name)
        .unwrap_or_else(|| panic!("{kind}/{name} not in {:#?}", outcome.resources))
}

fn has_condition(object: &Value, kind: &str) -> bool {
    object["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == kind && c["status"] == "True")
    })
}

/// When the Deployment's `Available` condition last turned True (RFC 3339, seconds).
fn available_since(deployment: &Value) -> String {
    deployment["status"]["conditions"]
        .as_array()
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == "Available" && c["status"] == "True")
        })
        .and_then(|c| c["lastTransitionTime"].as_str())
        .unwrap_or_else(|| panic!("no Available=True condition: {deployment:#}"))
        .to_string()
}

fn created_at(object: &Value) -> String {
    object["metadata"]["creationTimestamp"]
        .as_str()
        .expect("creationTimestamp")
        .to_string()
}

fn managers(object: &Value) -> Vec<(String, String)> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or_default().to_string(),
                        e["operation"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `Replace=true` creates the object with a POST and replaces it with a PUT: the whole object
/// becomes the manifest, so a key another manager added is gone (a forced server-side apply
/// would have left it to its owner), and bosun's managedFields entry is an Update, not an Apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_creates_and_replaces_the_whole_object() {
    let c = TestCluster::start().await;
    let replace = json!({"argocd.argoproj.io/sync-options": "Replace=true"});

    // Created: POST by bosun.
    let fresh = annotated(configmap("fresh", json!({"a": "1"})), replace.clone());
    let req = c.request(vec![fresh], SyncOptions::default()).await;
    let (outcome, _) = c.run(&req).await;
    assert!(outcome.succeeded, "{}", outcome.message);
    assert_eq!(
        result_of(&outcome, "ConfigMap", "fresh").action,
        Action::Created
    );
    let live = c.must_get("v1", "ConfigMap", "fresh").await;
    assert_eq!(live["data"], json!({"a": "1"}));
    assert_eq!(live["metadata"]["labels"]["bosun.dev/app"], APP, "{live:#}");
    assert_eq!(
        managers(&live),
        vec![(MANAGER.to_string(), "Update".to_string())],
        "{live:#}"
    );

    // Replaced: bosun applied {a, b}; someone else then added c. The manifest now says {a}.
    c.synced(&configmap("settings", json!({"a": "1", "b": "2"})))
        .await;
    c.apply_as(
        &json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": NS}, "data": {"c": "3"}}),
        "kubectl-edit",
    )
    .await;
    let before = c.must_get("v1", "ConfigMap", "settings").await;
    assert_eq!(before["data"], json!({"a": "1", "b": "2", "c": "3"}));

    let settings = annotated(configmap("settings", json!({"a": "1"})), replace);
    let req = c.request(vec![settings], SyncOptions::default()).await;
    let (outcome, _) = c.run(&req).await;
    assert!(outcome.succeeded, "{}", outcome.message);
    let after = c.must_get("v1", "ConfigMap", "settings").await;
    assert_eq!(
        after["data"],
        json!({"a": "1"}),
        "Replace=true must drop every key not in the manifest, also one another manager owns"
    );
    assert_eq!(
        after["metadata"]["uid"], before["metadata"]["uid"],
        "replaced in place, not deleted and created again"
    );
    assert!(
        managers(&after).contains(&(MANAGER.to_string(), "Update".to_string())),
        "{after:#}"
    );
}

/// A change the cluster refuses (a Deployment's selector is immutable) does not stop the plan:
/// the Deployment is OutOfSync with the cluster's words, the sync applies what comes before it
/// and fails on it, as Argo CD does. With `Force=true` the sync deletes it and creates it again
/// with the new selector (`kubectl apply --force`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_change_fails_on_its_object_and_force_re_creates_it() {
    let c = TestCluster::start().await;
    c.synced(&deployment("web")).await;
    c.synced(&configmap("settings", json!({"level": "info"})))
        .await;
    let before = c.must_get("apps/v1", "Deployment", "web").await;
    let mut relabelled = deployment("web");
    for path in [
        "/spec/selector/matchLabels",
        "/spec/template/metadata/labels",
    ] {
        relabelled.pointer_mut(path).unwrap()["tier"] = json!("front");
    }
    let settings = configmap("settings", json!({"level": "debug"}));
    let objects = vec![relabelled.clone(), settings];

    let plan = c.plan(&objects).await;
    let web = plan
        .resources
        .iter()
        .find(|r| r.key.kind == "Deployment")
        .unwrap();
    assert_eq!(web.status, SyncState::OutOfSync);
    let refused = web.refused.as_deref().unwrap_or_default();
    assert!(
        refused.contains("spec.selector") && refused.contains("field is immutable"),
        "{refused}"
    );
    let diff = bosun_plan::text::unified_diff(web).unwrap();
    assert!(
        diff.starts_with("# the cluster refuses this change: Deployment.apps \"web\" is invalid"),
        "{diff}"
    );
    let req = c.request(objects, SyncOptions::default()).await;
    let error = sync(&c.resolver, &req, &|_: &SyncEvent| {})
        .await
        .expect_err("a refused write fails the sync")
        .to_string();
    assert!(
        error.contains("apps/Deployment/default/web") && error.contains("field is immutable"),
        "{error}"
    );
    // ConfigMaps go before workloads: applied; the Deployment is as it was.
    assert_eq!(
        c.must_get("v1", "ConfigMap", "settings").await["data"]["level"],
        "debug"
    );
    let after = c.must_get("apps/v1", "Deployment", "web").await;
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
    assert_eq!(after["spec"]["selector"], before["spec"]["selector"]);

    // Force=true: deleted, then created with the new selector.
    let forced = annotated(
        relabelled,
        json!({"argocd.argoproj.io/sync-options": "Force=true"}),
    );
    let req = c.request(vec![forced], SyncOptions::default()).await;
    let (outcome, _) = c.run(&req).await;
    assert!(outcome.succeeded, "{}", outcome.message);
    assert_eq!(
        result_of(&outcome, "Deployment", "web").message,
        "deleted and re-created (Force=true)"
    );
    let recreated = c.must_get("apps/v1", "Deployment", "web").await;
    assert_ne!(recreated["metadata"]["uid"], before["metadata"]["uid"]);
    assert_eq!(
        recreated["spec"]["selector"]["matchLabels"],
        json!({"app": "web", "tier": "front"})
    );
}

/// `Force=true,Replace=true` on a Job (Argo CD's way to run a Job at every sync): each sync
/// deletes it and creates it again, even unchanged (`kubectl replace --force`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_and_replace_re_create_a_job_at_every_sync() {
    let c = TestCluster::start().await;
    let job = annotated(
        json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "migrate", "namespace": NS},
            "spec": {"backoffLimit": 0,
                "template": {"spec": {"restartPolicy": "Never",
                    "containers": [{"name": "task", "image": "migrate:1"}]}}}}),
        json!({"argocd.argoproj.io/sync-options": "Force=true,Replace=true"}),
    );
    let mut uids = Vec::new();
    for _ in 0..2 {
        let req = c.request(vec![job.clone()], SyncOptions::default()).await;
        let (outcome, _) = c.run(&req).await;
        assert!(outcome.succeeded, "{}", outcome.message);
        uids.push(c.must_get("batch/v1", "Job", "migrate").await["metadata"]["uid"].clone());
    }
    assert_ne!(
        uids[0], uids[1],
        "the second sync did not re-create the Job"
    );
}

/// An object to re-create that a finalizer keeps from going: the sync fails on it at its
/// deadline, naming the deletion and the finalizer (not with the create's AlreadyExists).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_create_held_by_a_finalizer_says_so() {
    let c = TestCluster::start().await;
    let mut held = annotated(
        configmap("held", json!({"k": "v"})),
        json!({"argocd.argoproj.io/sync-options": "Force=true,Replace=true"}),
    );
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    let req = c.request(vec![held.clone()], SyncOptions::default()).await;
    let (outcome, _) = c.run(&req).await;
    assert!(outcome.succeeded, "{}", outcome.message);
    let mut req = c.request(vec![held], SyncOptions::default()).await;
    req.timeout = Duration::from_secs(2);
    let error = sync(&c.resolver, &req, &|_: &SyncEvent| {})
        .await
        .expect_err("the re-create cannot finish")
        .to_string();
    assert!(
        error.contains("ConfigMap/default/held")
            && error.contains("still being deleted when the sync's time ran out")
            && error.contains("(finalizers: example.com/hold)")
            && !error.contains("already exists"),
        "{error}"
    );
}

/// `ApplyOutOfSyncOnly=true`: an object the Plan found in sync is skipped without a write (even
/// one an apply would change, here by taking over its fields); an out-of-sync one is configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_out_of_sync_only_skips_in_sync_objects() {
    let c = TestCluster::start().await;
    let same = configmap("same", json!({"k": "v"}));
    let changed = configmap("changed", json!({"k": "old"}));
    // `same` is as Git says but was written by another manager: a sync's apply would add bosun's
    // managedFields entry (a write), yet the object is in sync.
    let prepared = live::prepare(&c.resolver, &same, APP, NS)
        .await
        .expect("prepare");
    c.apply_as(&prepared.object, "helm").await;
    c.synced(&changed).await;
    let same_before = c.must_get("v1", "ConfigMap", "same").await;
    let changed_before = c.must_get("v1", "ConfigMap", "changed").await;

    let desired = vec![same.clone(), configmap("changed", json!({"k": "new"}))];
    let options = SyncOptions {
        apply_out_of_sync_only: true,
        ..SyncOptions::default()
    };
    let req = c.request(desired, options).await;
    // Preconditions: the Plan sees `same` in sync but not a no-op, `changed` out of sync.
    let same_key = live::prepare(&c.resolver, &same, APP, NS)
        .await
        .expect("prepare")
        .key;
    assert_eq!(req.planned.get(&same_key), Some(&SyncState::Synced));
    assert!(
        !req.unchanged.contains_key(&same_key),
        "without the option `same` would be written"
    );

    let (outcome, _) = c.run(&req).await;
    assert!(outcome.succeeded, "{}", outcome.message);
    assert_eq!(
        result_of(&outcome, "ConfigMap", "same").action,
        Action::Skipped
    );
    assert_eq!(
        result_of(&outcome, "ConfigMap", "changed").action,
        Action::Configured
    );

    let same_after = c.must_get("v1", "ConfigMap", "same").await;
    assert_eq!(
        same_after["metadata"]["resourceVersion"], same_before["metadata"]["resourceVersion"],
        "a skipped object is not written"
    );
    assert!(
        !managers(&same_after).iter().any(|(m, _)| m == MANAGER),
        "{same_after:#}"
    );
    let changed_after = c.must_get("v1", "ConfigMap", "changed").await;
    assert_eq!(changed_after["data"], json!({"k": "new"}));
    assert_ne!(
        changed_after["metadata"]["resourceVersion"],
        changed_before["metadata"]["resourceVersion"]
    );
}

/// A Sync hook Job that fails fails the sync, and the SyncFail hook then runs (its Job is
/// created and completes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_sync_hook_fails_the_sync_and_runs_sync_fail_hooks() {
    let c = TestCluster::start().await;
    let objects = vec![
        configmap("app-config", json!({"k": "v"})),
        hook_job("migrate", "Sync", None, "example/migrate:fail"),
        hook_job("on-failure", "SyncFail", None, "busybox:1.36"),
    ];
    let req = c.request(objects, SyncOptions::default()).await;
    let (outcome, _) = c.run(&req).await;

    assert!(!outcome.succeeded, "the sync must fail: {:#?}", outcome);
    assert!(
        outcome.message.contains("migrate"),
        "the message names the failed hook: {}",
        outcome.message
    );
    let migrate = result_of(&outcome, "Job", "migrate");
    assert_eq!(
        (migrate.phase, migrate.action),
        (Phase::Sync, Action::HookFailed)
    );
    let on_failure = result_of(&outcome, "Job", "on-failure");
    assert_eq!(
        (on_failure.phase, on_failure.action),
        (Phase::SyncFail, Action::HookSucceeded)
    );
    assert!(position(&outcome, "Job", "on-failure") > position(&outcome, "Job", "migrate"));

    let migrate = c.must_get("batch/v1", "Job", "migrate").await;
    assert!(has_condition(&migrate, "Failed"), "{migrate:#}");
    let on_failure = c.must_get("batch/v1", "Job", "on-failure").await;
    assert!(has_condition(&on_failure, "Complete"), "{on_failure:#}");
    assert_eq!(
        on_failure["metadata"]["labels"]["bosun.dev/app"], APP,
        "{on_failure:#}"
    );
}

/// PostSync hooks run once the Sync phase is healthy; one with `HookSucceeded` is deleted after
/// it succeeds, one with the default policy stays; SyncFail hooks do not run when the sync
/// succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_sync_hooks_run_after_the_sync_and_hook_succeeded_deletes() {
    let c = TestCluster::start().await;
    let objects = vec![
        deployment("web"),
        hook_job("smoke", "PostSync", Some("HookSucceeded"), "busybox:1.36"),
        hook_job("report", "PostSync", None, "busybox:1.36"),
        hook_job("cleanup", "SyncFail", None, "busybox:1.36"),
    ];
    let req = c.request(objects, SyncOptions::default()).await;
    let (outcome, events) = c.run(&req).await;
    assert!(outcome.succeeded, "{}", outcome.message);

    let web = position(&outcome, "Deployment", "web");
    for name in ["smoke", "report"] {
        let result = result_of(&outcome, "Job", name);
        assert_eq!(
            (result.phase, result.action),
            (Phase::PostSync, Action::HookSucceeded),
            "{name}"
        );
        assert!(position(&outcome, "Job", name) > web, "{name} after web");
    }
    // The PostSync phase starts only after the wait for the Deployment.
    let waited = events
        .iter()
        .position(|e| matches!(e, SyncEvent::Waiting { phase: Phase::Sync, wave: 0, pending } if pending.iter().any(|p| p.contains("web"))))
        .unwrap_or_else(|| panic!("no wait for the Deployment: {events:#?}"));
    let post = events
        .iter()
        .position(|e| {
            matches!(
                e,
                SyncEvent::Wave {
                    phase: Phase::PostSync,
                    ..
                }
            )
        })
        .unwrap_or_else(|| panic!("no PostSync wave: {events:#?}"));
    assert!(waited < post, "{events:#?}");
    let web = c.must_get("apps/v1", "Deployment", "web").await;
    let report = c.must_get("batch/v1", "Job", "report").await;
    assert!(
        created_at(&report) >= available_since(&web),
        "the PostSync hook was created before the Deployment was Available: {report:#} {web:#}"
    );
    assert!(has_condition(&report, "Complete"), "{report:#}");

    assert!(
        c.wait_gone("batch/v1", "Job", "smoke").await,
        "the HookSucceeded hook is deleted"
    );
    assert!(
        c.get("batch/v1", "Job", "cleanup").await.is_none(),
        "no SyncFail hook after a successful sync"
    );
    assert!(
        !outcome.resources.iter().any(|r| r.phase == Phase::SyncFail),
        "{:#?}",
        outcome.resources
    );
}

/// A hook with `generateName` (Argo CD's documented form) is created under the name Argo CD gives
/// it: the prefix, the commit's first 7 characters, the phase and the operation's start in Unix
/// seconds. A second operation creates a new one; a hook of two phases is created once per phase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_name_hooks_are_created_with_argo_cds_names() {
    let c = TestCluster::start().await;
    let unnamed = |mut job: Value| {
        let meta = job["metadata"].as_object_mut().unwrap();
        meta.remove("name");
        meta.insert("generateName".into(), "migrate-".into());
        job
    };
    let objects = vec![
        configmap("settings", json!({"a": "1"})),
        unnamed(hook_job("x", "PreSync,PostSync", None, "busybox:1.36")),
    ];
    let req = c.request(objects.clone(), SyncOptions::default()).await;
    let (outcome, _) = c.run(&req).await;
    assert!(outcome.succeeded, "{}", outcome.message);
    for (phase, name) in [
        (Phase::PreSync, "migrate-0123456-presync-1700000000"),
        (Phase::PostSync, "migrate-0123456-postsync-1700000000"),
    ] {
        let result = result_of(&outcome, "Job", name);
        assert_eq!(
            (result.phase, result.action),
            (phase, Action::HookSucceeded)
        );
        let job = c.must_get("batch/v1", "Job", name).await;
        assert!(has_condition(&job, "Complete"), "{job:#}");
        assert!(job["metadata"].get("generateName").is_none(), "{job:#}");
    }
    assert!(
        position(&outcome, "Job", "migrate-0123456-presync-1700000000")
            < position(&outcome, "ConfigMap", "settings")
    );

    // The next operation (another start) creates its own hook; the first one's stays (Argo CD
    // deletes a generated hook only by HookSucceeded/HookFailed).
    let mut next = c.request(objects, SyncOptions::default()).await;
    next.started += Duration::from_secs(60);
    let (outcome, _) = c.run(&next).await;
    assert!(outcome.succeeded, "{}", outcome.message);
    c.must_get("batch/v1", "Job", "migrate-0123456-presync-1700000060")
        .await;
    c.must_get("batch/v1", "Job", "migrate-0123456-presync-1700000000")
        .await;
}

/// An object whose tracking annotation names another Application is shared (Argo CD's
/// SharedResourceWarning): the plan says who owns it; with `FailOnSharedResource=true` the sync
/// fails naming it and its owner before it writes anything; without, it takes the object over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_object_is_named_and_fail_on_shared_resource_refuses_it() {
    let c = TestCluster::start().await;
    let shared = configmap("shared", json!({"a": "1"}));
    let billing = live::prepare(&c.resolver, &shared, "billing", NS)
        .await
        .expect("prepare");
    c.apply_as(&billing.object, MANAGER).await;
    let owner = |object: &Value| bosun_plan::tracking::owner(object);

    let plan = c.plan(std::slice::from_ref(&shared)).await;
    let entry = &plan.resources[0];
    assert_eq!(entry.shared_with.as_deref(), Some("billing"));
    let warning = "ConfigMap/shared is part of applications shop and billing";
    assert_eq!(entry.shared_warning(APP).as_deref(), Some(warning));

    let objects = vec![shared.clone(), configmap("mine", json!({"b": "2"}))];
    let fail = SyncOptions::parse(&["FailOnSharedResource=true".into()]).expect("options");
    let req = c.request(objects.clone(), fail).await;
    let (outcome, _) = c.run(&req).await;
    assert!(!outcome.succeeded);
    assert_eq!(outcome.message, format!("Shared resource found: {warning}"));
    assert!(outcome.resources.is_empty(), "{:#?}", outcome.resources);
    assert!(c.get("v1", "ConfigMap", "mine").await.is_none());
    let live = c.must_get("v1", "ConfigMap", "shared").await;
    assert_eq!(owner(&live).as_deref(), Some("billing"));

    let req = c.request(objects, SyncOptions::default()).await;
    let (outcome, _) = c.run(&req).await;
    assert!(outcome.succeeded, "{}", outcome.message);
    let live = c.must_get("v1", "ConfigMap", "shared").await;
    assert_eq!(
        owner(&live).as_deref(),
        Some(APP),
        "taken over, as Argo CD does"
    );
    let plan = c.plan(&[shared]).await;
    assert_eq!(plan.resources[0].shared_with, None);
}

/// A wave starts only when the previous one is healthy: the ConfigMap of wave 1 is created after
/// the Deployment of wave 0 became Available (`pod_ready_delay` after its Pod started).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_wave_waits_for_the_previous_to_be_healthy() {
    let c = TestCluster::start().await;
    let objects = vec![
        annotated(
            configmap("after", json!({"k": "v"})),
            json!({"argocd.argoproj.io/sync-wave": "1"}),
        ),
        annotated(
            deployment("web"),
            json!({"argocd.argoproj.io/sync-wave": "0"}),
        ),
    ];
    let req = c.request(objects, SyncOptions::default()).await;
    let (outcome, events) = c.run(&req).await;
    assert!(outcome.succeeded, "{}", outcome.message);

    let web = result_of(&outcome, "Deployment", "web");
    assert_eq!((web.wave, web.action), (0, Action::Created));
    let after = result_of(&outcome, "ConfigMap", "after");
    assert_eq!((after.wave, after.action), (1, Action::Created));

    let waited = events
        .iter()
        .position(|e| matches!(e, SyncEvent::Waiting { phase: Phase::Sync, wave: 0, pending } if pending.iter().any(|p| p.contains("web"))))
        .unwrap_or_else(|| panic!("no wait for wave 0: {events:#?}"));
    let written = events
        .iter()
        .position(|e| matches!(e, SyncEvent::Resource(r) if r.key.name == "after"))
        .unwrap_or_else(|| panic!("ConfigMap not written: {events:#?}"));
    assert!(waited < written, "{events:#?}");

    let web = c.must_get("apps/v1", "Deployment", "web").await;
    let after = c.must_get("v1", "ConfigMap", "after").await;
    assert!(
        created_at(&after) >= available_since(&web),
        "wave 1 created before wave 0 was healthy: {after:#} {web:#}"
    );
    assert!(
        created_at(&after) > created_at(&web),
        "pod_ready_delay (2 s) separates the waves: {after:#} {web:#}"
    );
}

/// A dry run reports what it would do and stores nothing: no object, no Replace=true object, no
/// hook.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_stores_nothing() {
    let c = TestCluster::start().await;
    let objects = vec![
        configmap("settings", json!({"k": "v"})),
        annotated(
            configmap("replaced", json!({"k": "v"})),
            json!({"argocd.argoproj.io/sync-options": "Replace=true"}),
        ),
        deployment("web"),
        hook_job("migrate", "PreSync", None, "busybox:1.36"),
        hook_job("smoke", "PostSync", None, "busybox:1.36"),
    ];
    let mut req = c.request(objects, SyncOptions::default()).await;
    req.dry_run = true;
    let (outcome, _) = c.run(&req).await;
    assert!(outcome.succeeded, "{}", outcome.message);
    assert_eq!(outcome.message, "dry run succeeded");
    for (kind, name) in [
        ("ConfigMap", "settings"),
        ("ConfigMap", "replaced"),
        ("Deployment", "web"),
    ] {
        let result = result_of(&outcome, kind, name);
        assert_eq!(
            (result.action, result.message.as_str()),
            (Action::Created, "(dry run)"),
            "{kind}/{name}"
        );
    }
    for name in ["migrate", "smoke"] {
        assert_eq!(result_of(&outcome, "Job", name).action, Action::Skipped);
    }
    // The server answered each write (its predictions), so the dry runs reached it.
    assert_eq!(outcome.written.len(), 3, "{:#?}", outcome.written);

    for (api_version, kind, name) in [
        ("v1", "ConfigMap", "settings"),
        ("v1", "ConfigMap", "replaced"),
        ("apps/v1", "Deployment", "web"),
        ("batch/v1", "Job", "migrate"),
        ("batch/v1", "Job", "smoke"),
    ] {
        assert!(
            c.get(api_version, kind, name).await.is_none(),
            "{kind}/{name} was stored by a dry run"
        );
    }
    let pods = c
        .api("v1", "Pod")
        .list(&Default::default())
        .await
        .expect("pods");
    assert!(pods.items.is_empty(), "{:?}", pods.items);
}

/// A Helm hook Job of `kinds` (`helm.sh/hook`) with `helm.sh/hook-weight: weight`.
fn helm_hook_job(name: &str, kinds: &str, weight: &str) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": NS,
            "annotations": {"helm.sh/hook": kinds, "helm.sh/hook-weight": weight}},
        "spec": {"backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "task", "image": "busybox:1.36"}]}}}})
}

/// Helm calls `crd-install` a hook, but Argo CD applies such an object as a normal resource: the
/// CustomResourceDefinition is created in the Sync phase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_crd_install_object_is_applied_as_a_resource() {
    let c = TestCluster::start().await;
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com", "annotations": {"helm.sh/hook": "crd-install"}},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let plan = c.plan(std::slice::from_ref(&crd)).await;
    let planned = &plan.resources[0];
    assert_eq!(
        (planned.hook, planned.status),
        (false, SyncState::Missing),
        "the plan compares it like any resource: {planned:#?}"
    );

    let req = c.request(vec![crd], SyncOptions::default()).await;
    let (outcome, _) = c.run(&req).await;
    assert!(outcome.succeeded, "{}", outcome.message);
    let result = result_of(&outcome, "CustomResourceDefinition", "widgets.example.com");
    assert_eq!(
        (result.phase, result.action),
        (Phase::Sync, Action::Created)
    );

    let crds: Api<DynamicObject> = Api::all_with(
        c.resolver.client().clone(),
        &kube::discovery::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
        )),
    );
    let live = crds
        .get_opt("widgets.example.com")
        .await
        .expect("get the CRD")
        .expect("the crd-install CRD exists");
    assert_eq!(
        live.metadata
            .labels
            .unwrap_or_default()
            .get("bosun.dev/app"),
        Some(&APP.to_string())
    );
}

/// Helm pre-install hooks are PreSync hooks ordered by `helm.sh/hook-weight`: the one of weight
/// -1 runs (and finishes) before the one of weight 5 is created, both before the Sync phase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_pre_install_hooks_run_in_hook_weight_order() {
    let c = TestCluster::start().await;
    let objects = vec![
        helm_hook_job("late", "pre-install", "5"),
        helm_hook_job("early", "pre-install,pre-upgrade", "-1"),
        configmap("settings", json!({"k": "v"})),
    ];
    let req = c.request(objects, SyncOptions::default()).await;
    let (outcome, events) = c.run(&req).await;
    assert!(outcome.succeeded, "{}", outcome.message);

    let early = result_of(&outcome, "Job", "early");
    assert_eq!(
        (early.phase, early.wave, early.action),
        (Phase::PreSync, -1, Action::HookSucceeded)
    );
    let late = result_of(&outcome, "Job", "late");
    assert_eq!(
        (late.phase, late.wave, late.action),
        (Phase::PreSync, 5, Action::HookSucceeded)
    );
    assert!(position(&outcome, "Job", "early") < position(&outcome, "Job", "late"));
    assert!(position(&outcome, "Job", "late") < position(&outcome, "ConfigMap", "settings"));
    let waves: Vec<(Phase, i64)> = events
        .iter()
        .filter_map(|e| match e {
            SyncEvent::Wave { phase, wave, .. } => Some((*phase, *wave)),
            _ => None,
        })
        .collect();
    assert_eq!(
        waves,
        vec![(Phase::PreSync, -1), (Phase::PreSync, 5), (Phase::Sync, 0)]
    );

    let early = c.must_get("batch/v1", "Job", "early").await;
    let late = c.must_get("batch/v1", "Job", "late").await;
    let completed = early["status"]["completionTime"]
        .as_str()
        .unwrap_or_else(|| panic!("early did not complete: {early:#}"));
    assert!(
        created_at(&late).as_str() >= completed,
        "the weight-5 hook was created before the weight -1 hook finished: {early:#} {late:#}"
    );
}

/// A partial sync (Argo CD's sync `resources`): only the selected objects are applied, pruning
/// looks only among them, and no hook runs — not the PreSync and PostSync hooks, and not the
/// SyncFail hook either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_sync_applies_and_prunes_only_the_selected_and_runs_no_hook() {
    let c = TestCluster::start().await;
    for name in ["a", "b", "gone-kept", "gone-pruned"] {
        c.synced(&configmap(name, json!({"v": "1"}))).await;
    }
    let objects = vec![
        configmap("a", json!({"v": "2"})),
        // Without a namespace: matched as the destination's.
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"v": "2"}}),
        configmap("new", json!({"v": "2"})),
        hook_job("before", "PreSync", None, "busybox:1.36"),
        hook_job("after", "PostSync", None, "busybox:1.36"),
        hook_job("cleanup", "SyncFail", None, "busybox:1.36"),
    ];
    let key = |name: &str| bosun_plan::ResourceKey {
        group: String::new(),
        kind: "ConfigMap".into(),
        namespace: Some(NS.into()),
        name: name.into(),
    };
    let mut req = c.request(objects, SyncOptions::default()).await;
    req.prune = true;
    req.only = Some([key("b"), key("gone-pruned")].into_iter().collect());
    let (outcome, _) = c.run(&req).await;
    assert!(outcome.succeeded, "{}", outcome.message);
    let touched: Vec<(String, Action)> = outcome
        .resources
        .iter()
        .map(|r| (r.key.name.clone(), r.action))
        .collect();
    assert_eq!(
        touched,
        [
            ("b".to_string(), Action::Configured),
            ("gone-pruned".to_string(), Action::Pruned)
        ],
        "{:#?}",
        outcome.resources
    );
    let value = |o: Option<Value>| o.map(|o| o["data"]["v"].clone());
    assert_eq!(value(c.get("v1", "ConfigMap", "a").await), Some(json!("1")));
    assert_eq!(value(c.get("v1", "ConfigMap", "b").await), Some(json!("2")));
    assert_eq!(c.get("v1", "ConfigMap", "new").await, None);
    assert!(c.get("v1", "ConfigMap", "gone-kept").await.is_some());
    assert!(c.wait_gone("v1", "ConfigMap", "gone-pruned").await);
    for hook in ["before", "after", "cleanup"] {
        assert_eq!(c.get("batch/v1", "Job", hook).await, None, "{hook} ran");
    }

    // A partial sync that fails runs no SyncFail hook either (the selected object's write is
    // refused: a number where the ConfigMap's data holds strings).
    let mut req = c
        .request(
            vec![hook_job("cleanup", "SyncFail", None, "busybox:1.36")],
            SyncOptions::default(),
        )
        .await;
    req.objects.push(configmap("a", json!({"v": 3})));
    req.only = Some([key("a")].into_iter().collect());
    let failed = sync(&c.resolver, &req, &|_| {}).await;
    assert!(failed.as_ref().is_err(), "{failed:?}");
    assert_eq!(
        c.get("batch/v1", "Job", "cleanup").await,
        None,
        "cleanup ran"
    );
    assert_eq!(value(c.get("v1", "ConfigMap", "a").await), Some(json!("1")));
}
