//! Which health check judges which kind of object.
//!
//! Argo CD picks a check by API group and kind (gitops-engine `GetHealthCheckFunc`, plus the
//! Lua scripts in `resource_customizations/`), and only then looks at the version: a check
//! written against one version refuses the others with "unsupported … GVK", which makes the
//! object Unknown rather than unchecked. A later kind (Argo Rollouts' Rollout and AnalysisRun)
//! is one more line in [`BUILTIN`].

use serde_json::Value;

use crate::status::Health;
use crate::{batch, crd, hpa, network, pod, rollout, storage, workloads};

/// One health check: the kind it judges, the versions it understands, and the judgement.
#[derive(Debug)]
pub struct HealthCheck {
    pub group: &'static str,
    pub kind: &'static str,
    /// The versions the check was written for; `None` when it reads only fields that every
    /// version has (Argo CD reads those kinds untyped).
    pub versions: Option<&'static [&'static str]>,
    pub check: fn(&Value) -> Health,
}

const V1: Option<&[&str]> = Some(&["v1"]);

/// Argo CD's built-in checks that bosun implements.
pub const BUILTIN: &[HealthCheck] = &[
    HealthCheck {
        group: "apps",
        kind: "Deployment",
        versions: V1,
        check: workloads::deployment,
    },
    HealthCheck {
        group: "apps",
        kind: "ReplicaSet",
        versions: V1,
        check: workloads::replica_set,
    },
    HealthCheck {
        group: "apps",
        kind: "StatefulSet",
        versions: V1,
        check: workloads::stateful_set,
    },
    HealthCheck {
        group: "apps",
        kind: "DaemonSet",
        versions: V1,
        check: workloads::daemon_set,
    },
    HealthCheck {
        group: "",
        kind: "Pod",
        versions: V1,
        check: pod::pod,
    },
    HealthCheck {
        group: "",
        kind: "Service",
        versions: V1,
        check: network::service,
    },
    HealthCheck {
        group: "",
        kind: "PersistentVolumeClaim",
        versions: V1,
        check: storage::persistent_volume_claim,
    },
    HealthCheck {
        group: "networking.k8s.io",
        kind: "Ingress",
        versions: None,
        check: network::ingress,
    },
    HealthCheck {
        group: "extensions",
        kind: "Ingress",
        versions: None,
        check: network::ingress,
    },
    HealthCheck {
        group: "batch",
        kind: "Job",
        versions: V1,
        check: batch::job,
    },
    HealthCheck {
        group: "autoscaling",
        kind: "HorizontalPodAutoscaler",
        versions: Some(&["v1", "v2beta1", "v2beta2", "v2"]),
        check: hpa::horizontal_pod_autoscaler,
    },
    HealthCheck {
        group: "apiextensions.k8s.io",
        kind: "CustomResourceDefinition",
        versions: None,
        check: crd::custom_resource_definition,
    },
    HealthCheck {
        group: "argoproj.io",
        kind: "Rollout",
        versions: Some(&["v1alpha1"]),
        check: rollout::rollout,
    },
    HealthCheck {
        group: "argoproj.io",
        kind: "AnalysisRun",
        versions: Some(&["v1alpha1"]),
        check: rollout::analysis_run,
    },
];

/// The check for objects of `group` and `kind`, if bosun has one.
pub fn lookup(group: &str, kind: &str) -> Option<&'static HealthCheck> {
    BUILTIN.iter().find(|c| c.group == group && c.kind == kind)
}

impl HealthCheck {
    /// Run the check, or say Unknown for a version it was not written for.
    pub fn run(&self, object: &Value) -> Health {
        let version = crate::object::version(object);
        if self.versions.is_some_and(|known| !known.contains(&version)) {
            return Health::unknown(format!(
                "unsupported {} GVK: {}",
                self.kind,
                crate::object::gvk_string(object)
            ));
        }
        (self.check)(object)
    }
}
