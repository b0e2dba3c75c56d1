//! Service and Ingress, ported from gitops-engine `health_service.go` and `health_ingress.go`.
//! Both are about an address being assigned: only a load balancer (or an ingress controller)
//! can take time, so every other Service is Healthy as soon as it exists.

use serde_json::Value;

use crate::object::{list_at, str_at};
use crate::status::Health;

/// Service: type LoadBalancer is Progressing until `status.loadBalancer.ingress` has an entry;
/// every other type is Healthy.
pub fn service(service: &Value) -> Health {
    if str_at(service, &["spec", "type"]) == "LoadBalancer" && !has_address(service) {
        return Health::progressing("");
    }
    Health::healthy("")
}

/// Ingress (networking.k8s.io and the old extensions group): Progressing until the ingress
/// controller has written an address to `status.loadBalancer.ingress`. An ingress controller
/// that never writes status keeps it Progressing forever, as in Argo CD.
pub fn ingress(ingress: &Value) -> Health {
    if has_address(ingress) {
        Health::healthy("")
    } else {
        Health::progressing("")
    }
}

/// Argo CD only checks that the list is not empty, not what its entries hold.
fn has_address(object: &Value) -> bool {
    !list_at(object, &["status", "loadBalancer", "ingress"]).is_empty()
}
