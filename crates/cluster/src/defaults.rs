//! Defaulting: the fields a real apiserver fills in when a client leaves them out (the
//! `SetDefaults_*` functions of the built-in API groups), so that what a client reads back — and
//! what a server-side dry run returns — looks like a real cluster's answer.

use serde_json::{Value, json};

use crate::resources::ResourceType;

fn set_default(object: &mut Value, field: &str, value: Value) {
    if let Some(map) = object.as_object_mut()
        && map.get(field).is_none_or(Value::is_null)
    {
        map.insert(field.to_string(), value);
    }
}

/// A nested field, without creating it (indexing a `Value` mutably would insert a null).
fn field<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    v.get_mut(key).filter(|f| f.is_object())
}

/// Fills the defaults for `rt`'s kind in place.
pub fn apply_defaults(rt: &ResourceType, object: &mut Value) {
    if rt.schema.is_some() {
        return;
    }
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment") => {
            let Some(spec) = field(object, "spec") else {
                return;
            };
            set_default(spec, "replicas", json!(1));
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(spec, "progressDeadlineSeconds", json!(600));
            set_default(
                spec,
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
            );
            // `strategy: {}` (what `kubectl create deployment` sends) means RollingUpdate.
            if let Some(strategy) = field(spec, "strategy") {
                set_default(strategy, "type", json!("RollingUpdate"));
            }
            if spec["strategy"]["type"] == "RollingUpdate"
                && let Some(strategy) = field(spec, "strategy")
            {
                set_default(strategy, "rollingUpdate", json!({}));
                if let Some(ru) = field(strategy, "rollingUpdate") {
                    set_default(ru, "maxSurge", json!("25%"));
                    set_default(ru, "maxUnavailable", json!("25%"));
                }
            }
            pod_template(spec);
        }
        ("apps", "ReplicaSet") => {
            let Some(spec) = field(object, "spec") else {
                return;
            };
            set_default(spec, "replicas", json!(1));
            pod_template(spec);
        }
        ("apps", "StatefulSet") => {
            let Some(spec) = field(object, "spec") else {
                return;
            };
            set_default(spec, "replicas", json!(1));
            set_default(spec, "podManagementPolicy", json!("OrderedReady"));
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
            set_default(
                spec,
                "persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
            pod_template(spec);
        }
        ("apps", "DaemonSet") => {
            let Some(spec) = field(object, "spec") else {
                return;
            };
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}),
            );
            pod_template(spec);
        }
        ("batch", "Job") => {
            if let Some(spec) = field(object, "spec") {
                job_spec(spec);
            }
        }
        ("batch", "CronJob") => {
            let Some(spec) = field(object, "spec") else {
                return;
            };
            set_default(spec, "concurrencyPolicy", json!("Allow"));
            set_default(spec, "suspend", json!(false));
            set_default(spec, "successfulJobsHistoryLimit", json!(3));
            set_default(spec, "failedJobsHistoryLimit", json!(1));
            if let Some(job) = field(spec, "jobTemplate").and_then(|t| field(t, "spec")) {
                job_spec(job);
            }
        }
        ("", "Pod") => {
            if let Some(spec) = field(object, "spec") {
                pod_spec(spec);
            }
        }
        ("", "Service") => service(object),
        ("", "Namespace") => {
            set_default(object, "spec", json!({}));
            if let Some(spec) = field(object, "spec") {
                set_default(spec, "finalizers", json!(["kubernetes"]));
            }
        }
        ("", "PersistentVolumeClaim") => {
            if let Some(spec) = field(object, "spec") {
                set_default(spec, "volumeMode", json!("Filesystem"));
            }
        }
        ("", "Secret") => {
            set_default(object, "type", json!("Opaque"));
        }
        _ => {}
    }
}

fn job_spec(spec: &mut Value) {
    set_default(spec, "backoffLimit", json!(6));
    set_default(spec, "completions", json!(1));
    set_default(spec, "parallelism", json!(1));
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    set_default(spec, "manualSelector", json!(false));
    set_default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    if let Some(pod) = field(spec, "template").and_then(|t| field(t, "spec")) {
        set_default(pod, "restartPolicy", json!("Never"));
    }
    pod_template(spec);
}

/// Defaults the pod template under a workload's `spec.template`.
fn pod_template(workload_spec: &mut Value) {
    if let Some(pod) = field(workload_spec, "template").and_then(|t| field(t, "spec")) {
        pod_spec(pod);
    }
}

fn pod_spec(spec: &mut Value) {
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    for list in ["containers", "initContainers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in containers {
                container(c);
            }
        }
    }
}

fn container(c: &mut Value) {
    let image = c["image"].as_str().unwrap_or_default().to_string();
    // No tag (or `:latest`) means Always, as the kubelet's defaulting does; a digest counts as a tag.
    let last = image.rsplit('/').next().unwrap_or_default();
    let tagged = last.contains(':') || image.contains('@');
    let pull = if !tagged || image.ends_with(":latest") {
        "Always"
    } else {
        "IfNotPresent"
    };
    set_default(c, "imagePullPolicy", json!(pull));
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    set_default(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            set_default(p, "protocol", json!("TCP"));
        }
    }
}

fn service(object: &mut Value) {
    set_default(object, "spec", json!({}));
    let Some(spec) = field(object, "spec") else {
        return;
    };
    set_default(spec, "type", json!("ClusterIP"));
    set_default(spec, "sessionAffinity", json!("None"));
    set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
    set_default(spec, "ipFamilies", json!(["IPv4"]));
    let external = matches!(spec["type"].as_str(), Some("LoadBalancer" | "NodePort"));
    if external {
        set_default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            set_default(p, "protocol", json!("TCP"));
            // A zero targetPort (protobuf clients send it) means "the same as port".
            if p["targetPort"] == json!(0) || p["targetPort"] == json!("") {
                p.as_object_mut().expect("port").remove("targetPort");
            }
            let port = p["port"].clone();
            set_default(p, "targetPort", port);
        }
    }
}

/// Defaults that need the server-assigned uid: a Job's selector and the labels that tie its Pods
/// to it (`batch.kubernetes.io/controller-uid`, `job-name`), as the Job registry's create strategy
/// writes them unless `manualSelector` is set.
pub fn apply_create_defaults(rt: &ResourceType, object: &mut Value) {
    if (rt.group.as_str(), rt.kind.as_str()) != ("batch", "Job")
        || object["spec"]["manualSelector"] == true
    {
        return;
    }
    let uid = object["metadata"]["uid"].clone();
    let name = object["metadata"]["name"].clone();
    let labels = json!({
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    });
    let Some(spec) = field(object, "spec") else {
        return;
    };
    if spec.get("selector").is_none_or(Value::is_null) {
        spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    }
    if let Some(template) = field(spec, "template") {
        set_default(template, "metadata", json!({}));
        if let Some(meta) = field(template, "metadata") {
            set_default(meta, "labels", json!({}));
            if let (Some(existing), Some(add)) = (
                meta.get_mut("labels").and_then(Value::as_object_mut),
                labels.as_object(),
            ) {
                for (k, v) in add {
                    existing.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
}
