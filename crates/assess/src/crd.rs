//! CustomResourceDefinition, following Argo CD's built-in Lua check
//! (`resource_customizations/apiextensions.k8s.io/CustomResourceDefinition/health.lua`), which
//! is what Argo CD runs for CRDs: gitops-engine has no Go check for them.

use serde_json::Value;

use crate::object::{conditions, str_at};
use crate::status::Health;

/// No conditions yet → Progressing; Terminating → Progressing; names not accepted, not
/// Established, or a non-structural schema → Degraded; otherwise Healthy.
pub fn custom_resource_definition(crd: &Value) -> Health {
    let conditions = conditions(crd);
    if conditions.is_empty() {
        return Health::progressing("Status conditions not found");
    }
    let mut terminating = false;
    let mut names_rejected = false;
    let mut established = false;
    let mut non_structural = false;
    // One message for all: the last interesting condition's, as in the Lua script.
    let mut message = "";
    for c in conditions {
        let is = |status: &str| str_at(c, &["status"]) == status;
        let interesting = match str_at(c, &["type"]) {
            "Terminating" if is("True") => {
                terminating = true;
                true
            }
            "NamesAccepted" if is("False") => {
                names_rejected = true;
                true
            }
            "Established" if is("True") => {
                established = true;
                true
            }
            "NonStructuralSchema" if is("True") => {
                non_structural = true;
                true
            }
            _ => false,
        };
        if interesting {
            message = str_at(c, &["message"]);
        }
    }
    if terminating {
        Health::progressing(format!("CRD is terminating: {message}"))
    } else if names_rejected {
        Health::degraded(format!("CRD names have not been accepted: {message}"))
    } else if !established {
        Health::degraded("CRD is not established")
    } else if non_structural {
        Health::degraded(format!("Schema violations found: {message}"))
    } else {
        Health::healthy("CRD is healthy")
    }
}
