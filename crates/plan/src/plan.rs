//! Desired versus live for a whole Application: which objects are in sync, which differ, which
//! are missing and which are left over from earlier syncs.

use std::collections::{BTreeSet, HashMap};

use bosun_model::ResourceIgnoreDifferences;
use bosun_model::argo;
use futures::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::ignore::IgnoreRules;
use crate::key::{ResourceKey, group_of};
use crate::live::{self, Predicted};
use crate::managed_fields::copy_owned_fields;
use crate::mask::mask_pair;
use crate::memo::DryRunMemo;
use crate::normalize::normalize;
use crate::resolve::Resolver;
use crate::tracking;

/// How many objects are dry-run at once: enough to hide round trips to a remote cluster,
/// few enough not to trip its rate limits.
const CONCURRENCY: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum SyncState {
    /// Live equals the prediction after normalisation.
    Synced,
    /// Live differs from the prediction.
    OutOfSync,
    /// Desired, not in the cluster.
    Missing,
    /// Tracked as this Application's in the cluster, no longer desired: pruning removes it.
    Extraneous,
}

/// One object's comparison. Both sides are normalised and Secret values masked.
#[derive(Clone, Debug, Serialize)]
pub struct ResourceDiff {
    pub key: ResourceKey,
    pub status: SyncState,
    pub live: Option<Value>,
    pub predicted: Option<Value>,
    /// An Argo CD (or Helm) hook, or an object marked `argocd.argoproj.io/hook: Skip`
    /// (`bosun_model::argo::Role`): run by the sync or never applied, not compared (Argo CD
    /// leaves both out of the sync status), so its status is always Synced and `live` is not read.
    pub hook: bool,
    /// The live object exactly as read (status kept, not normalised), for assessing its health
    /// without reading it again; Secret values masked. `None` when it does not exist, and for
    /// hooks and objects left to prune. Never serialised: outputs show `live`.
    #[serde(skip)]
    pub observed: Option<Value>,
    /// The dry run answered with the live object itself, byte for byte (same resourceVersion,
    /// same managedFields): applying it would change nothing at all, so the sync may skip the
    /// write. Stricter than `Synced`, which ignores what normalisation and ignoreDifferences hide.
    #[serde(skip)]
    pub noop: bool,
    /// The other Application whose tracking annotation is on the live object: two
    /// Applications render it (Argo CD's `SharedResourceWarning`). A sync takes it over, or,
    /// with `FailOnSharedResource=true`, refuses to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_with: Option<String>,
    /// The cluster refused the change in the dry run (see [`Predicted::refused`]): its words.
    /// Out of sync; `predicted` is the object as Git has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl ResourceDiff {
    /// Argo CD's warning for an object two Applications render (see `shared_with`).
    pub fn shared_warning(&self, app: &str) -> Option<String> {
        let owner = self.shared_with.as_deref()?;
        Some(format!(
            "{}/{} is part of applications {app} and {owner}",
            self.key.kind, self.key.name
        ))
    }

    /// Whether this object makes the Application out of sync.
    pub fn differs(&self) -> bool {
        self.status != SyncState::Synced
    }
}

/// The comparison of one Application, resources ordered by key.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub app: String,
    pub resources: Vec<ResourceDiff>,
}

impl Plan {
    /// No object differs, is missing or is left to prune.
    pub fn in_sync(&self) -> bool {
        !self.resources.iter().any(ResourceDiff::differs)
    }
}

/// Compares `desired` (rendered manifests of Application `app`) with the cluster: every desired
/// object through a server-side-apply dry run by `manager` against its live version, plus the
/// live objects tracked as `app`'s that are no longer desired. Nothing is written.
pub async fn plan(
    resolver: &Resolver,
    desired: &[Value],
    app: &str,
    destination_namespace: &str,
    ignore: &[ResourceIgnoreDifferences],
    manager: &str,
) -> Result<Plan> {
    // Bad ignore rules fail before any request.
    IgnoreRules::new(ignore)?;
    let tracked = tracking::find_tracked(resolver, app).await?;
    plan_with_tracked(
        resolver,
        desired,
        app,
        destination_namespace,
        ignore,
        manager,
        tracked,
        None,
    )
    .await
}

/// [`plan`] with the live objects `app` owns given (a watch cache holds them; see
/// [`tracking::is_tracked_by`]) instead of listed from the cluster, and dry-run answers reused
/// from `memo` where neither side changed since (see [`DryRunMemo`]).
#[allow(clippy::too_many_arguments)] // the one entry point with everything a plan reads
pub async fn plan_with_tracked(
    resolver: &Resolver,
    desired: &[Value],
    app: &str,
    destination_namespace: &str,
    ignore: &[ResourceIgnoreDifferences],
    manager: &str,
    tracked: Vec<Value>,
    memo: Option<&DryRunMemo>,
) -> Result<Plan> {
    // Bad ignore rules fail before any request.
    IgnoreRules::new(ignore)?;
    // Hooks and skipped objects are listed, not compared.
    let (objects, hooks): (Vec<&Value>, Vec<&Value>) =
        desired.iter().partition(|o| argo::role(o).is_resource());

    // What this Application already owns (listed per kind with its label, or from a watch
    // cache): the comparison reads those objects from here rather than one GET each (only
    // objects not found are read singly), and whatever is no longer desired is left to prune.
    let listed: HashMap<ResourceKey, Value> = tracked
        .iter()
        .map(|live| (ResourceKey::of(live), live.clone()))
        .collect();

    // The futures are built before they are streamed: a closure inside the stream would make
    // this future not `Send` (a known higher-ranked lifetime limitation of rustc).
    let pending: Vec<_> = objects
        .into_iter()
        .map(|object| {
            predict_or_pending_crd(
                resolver,
                object,
                desired,
                app,
                destination_namespace,
                manager,
                &listed,
                memo,
            )
        })
        .collect();
    let predictions: Vec<Outcome> = stream::iter(pending)
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;

    let mut desired_keys = BTreeSet::new();
    for outcome in &predictions {
        if !desired_keys.insert(outcome.key().clone()) {
            return Err(Error::InvalidObject {
                key: outcome.key().clone(),
                reason: "the object appears twice in the desired manifests".into(),
            });
        }
    }

    if let Some(memo) = memo {
        memo.remember(
            app,
            predictions
                .iter()
                .filter_map(|outcome| match outcome {
                    Outcome::Predicted(p) if p.refused.is_none() => Some((
                        p.prepared.key.clone(),
                        &p.prepared.object,
                        p.live.as_ref()?,
                        &p.predicted,
                    )),
                    Outcome::Predicted(_) | Outcome::PendingCrd { .. } => None,
                })
                .collect(),
        );
    }

    // Pure from here on: compile the rules (once) and compare.
    let rules = IgnoreRules::new(ignore)?;
    let mut resources: Vec<ResourceDiff> = predictions
        .into_iter()
        .map(|outcome| compare(outcome, app, &rules))
        .collect();
    resources.extend(
        hooks
            .into_iter()
            .map(|hook| hook_entry(hook, destination_namespace)),
    );
    for live in tracked {
        let key = ResourceKey::of(&live);
        if desired_keys.contains(&key)
            || !argo::role(&live).is_resource()
            || argo::compare_options(&live).ignore_extraneous
        {
            continue;
        }
        let mut live = live;
        normalize(&mut live);
        rules.remove_ignored(&key, &mut live);
        mask_pair(None, Some(&mut live));
        resources.push(ResourceDiff {
            key,
            status: SyncState::Extraneous,
            live: Some(live),
            predicted: None,
            hook: false,
            observed: None,
            noop: false,
            shared_with: None,
            refused: None,
        });
    }
    resources.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Plan {
        app: app.to_owned(),
        resources,
    })
}

/// What the cluster said about one desired object.
enum Outcome {
    Predicted(Box<Predicted>),
    /// Its kind is defined by a CustomResourceDefinition in the same desired set that the
    /// cluster does not serve yet: it cannot be dry-run, and it is Missing by definition.
    PendingCrd {
        key: ResourceKey,
        object: Value,
    },
}

impl Outcome {
    fn key(&self) -> &ResourceKey {
        match self {
            Outcome::Predicted(p) => &p.prepared.key,
            Outcome::PendingCrd { key, .. } => key,
        }
    }
}

#[allow(clippy::too_many_arguments)] // plan_with_tracked's inputs, passed through per object
async fn predict_or_pending_crd(
    resolver: &Resolver,
    object: &Value,
    desired: &[Value],
    app: &str,
    destination_namespace: &str,
    manager: &str,
    listed: &HashMap<ResourceKey, Value>,
    memo: Option<&DryRunMemo>,
) -> Result<Outcome> {
    match live::predict_with(
        resolver,
        object,
        app,
        destination_namespace,
        manager,
        listed,
        memo,
    )
    .await
    {
        Ok(predicted) => Ok(Outcome::Predicted(Box::new(predicted))),
        Err(Error::UnknownKind { key, api_version }) => {
            let Some(namespaced) = crd_scope(desired, group_of(&api_version), &key.kind) else {
                return Err(Error::UnknownKind { key, api_version });
            };
            let mut object =
                live::place(object, namespaced, destination_namespace).map_err(|reason| {
                    Error::InvalidObject {
                        key: key.clone(),
                        reason,
                    }
                })?;
            tracking::stamp(&mut object, app);
            Ok(Outcome::PendingCrd {
                key: ResourceKey::of(&object),
                object,
            })
        }
        Err(other) => Err(other),
    }
}

/// The key `object` will have once the CRD among `desired` that defines its kind is served
/// (`None` when no desired CRD defines it): a sync that creates both knows it before the kind
/// exists.
pub fn pending_crd_key(
    desired: &[Value],
    object: &Value,
    destination_namespace: &str,
) -> Option<ResourceKey> {
    let api_version = object.get("apiVersion").and_then(Value::as_str)?;
    let kind = object.get("kind").and_then(Value::as_str)?;
    let namespaced = crd_scope(desired, group_of(api_version), kind)?;
    let placed = live::place(object, namespaced, destination_namespace).ok()?;
    Some(ResourceKey::of(&placed))
}

/// Whether a CRD among `desired` defines `group`/`kind` as namespaced (`Some(true)`) or
/// cluster-scoped (`Some(false)`); `None` if none defines it.
fn crd_scope(desired: &[Value], group: &str, kind: &str) -> Option<bool> {
    desired
        .iter()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition"))
        .find(|crd| {
            crd.pointer("/spec/group").and_then(Value::as_str) == Some(group)
                && crd.pointer("/spec/names/kind").and_then(Value::as_str) == Some(kind)
        })
        .map(|crd| crd.pointer("/spec/scope").and_then(Value::as_str) != Some("Cluster"))
}

fn compare(outcome: Outcome, app: &str, rules: &IgnoreRules) -> ResourceDiff {
    let (key, mut predicted, live, refused) = match outcome {
        Outcome::Predicted(p) => {
            let Predicted {
                prepared,
                predicted,
                live,
                refused,
            } = *p;
            (prepared.key, predicted, live, refused)
        }
        Outcome::PendingCrd { key, object } => (key, object, None, None),
    };
    let Some(mut live) = live else {
        normalize(&mut predicted);
        rules.remove_ignored(&key, &mut predicted);
        mask_pair(Some(&mut predicted), None);
        return ResourceDiff {
            key,
            status: SyncState::Missing,
            live: None,
            predicted: Some(predicted),
            hook: false,
            observed: None,
            noop: false,
            shared_with: None,
            refused: None,
        };
    };
    let noop = refused.is_none() && predicted == live;
    let shared_with = tracking::owner(&live).filter(|owner| owner != app);
    let mut observed = live.clone();
    crate::mask::mask(&mut observed);
    // Before normalising: the trusted managers' fields are read from live managedFields.
    copy_owned_fields(&live, &mut predicted, &rules.managers_for(&key));
    for side in [&mut predicted, &mut live] {
        normalize(side);
        rules.remove_ignored(&key, side);
    }
    let status = if predicted == live && refused.is_none() {
        SyncState::Synced
    } else {
        SyncState::OutOfSync
    };
    mask_pair(Some(&mut predicted), Some(&mut live));
    ResourceDiff {
        key,
        status,
        live: Some(live),
        predicted: Some(predicted),
        hook: false,
        observed: Some(observed),
        noop,
        shared_with,
        refused,
    }
}

/// A hook as the plan shows it: the manifest, namespace defaulted when it has none, never
/// compared.
fn hook_entry(hook: &Value, destination_namespace: &str) -> ResourceDiff {
    let mut predicted = hook.clone();
    if let Some(meta) = predicted.get_mut("metadata").and_then(Value::as_object_mut)
        && !meta.contains_key("namespace")
        && !destination_namespace.is_empty()
    {
        meta.insert("namespace".into(), destination_namespace.into());
    }
    normalize(&mut predicted);
    mask_pair(Some(&mut predicted), None);
    let mut key = ResourceKey::of(&predicted);
    if key.name.is_empty() {
        // generateName hooks get their name at sync time.
        key.name = predicted
            .pointer("/metadata/generateName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
    }
    ResourceDiff {
        key,
        status: SyncState::Synced,
        live: None,
        predicted: Some(predicted),
        hook: true,
        observed: None,
        noop: false,
        shared_with: None,
        refused: None,
    }
}
