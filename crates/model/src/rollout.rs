//! Argo Rollouts' `Rollout` (argoproj.io/v1alpha1) as users write it: the parts of its spec that
//! bosun's rollout controller acts on, read from the live object. Fields bosun does not act on
//! are kept in the object and ignored here; a field it would act on but cannot (an `analysis`
//! step, a traffic router it does not drive) is reported by the controller, never skipped.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::duration::parse_go_duration;

/// A Rollout's spec, as far as bosun drives it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    /// `None` means 1, as for a Deployment.
    pub replicas: Option<i32>,
    #[serde(default)]
    pub selector: Value,
    /// The pod template; its digest names a revision.
    #[serde(default)]
    pub template: Value,
    /// A workload whose pod template (and selector, unless the Rollout has one) the Rollout
    /// uses; the controller resolves it before the spec is read here.
    pub workload_ref: Option<WorkloadRef>,
    #[serde(default)]
    pub min_ready_seconds: i32,
    pub revision_history_limit: Option<i32>,
    #[serde(default)]
    pub paused: bool,
    pub progress_deadline_seconds: Option<i32>,
    #[serde(default)]
    pub progress_deadline_abort: bool,
    pub restart_at: Option<String>,
    #[serde(default)]
    pub strategy: Strategy,
}

/// `spec.workloadRef`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadRef {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    /// What happens to the referenced Deployment once the Rollout runs its pods.
    #[serde(default)]
    pub scale_down: ScaleDown,
}

/// `workloadRef.scaleDown` (Argo's values, lower case).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ScaleDown {
    /// The Deployment is left as it is.
    #[default]
    Never,
    /// Scaled to zero once the Rollout's first revision is Healthy.
    OnSuccess,
    /// Scaled down as the Rollout's first revision becomes ready.
    Progressively,
}

impl WorkloadRef {
    /// The kinds Argo resolves a pod template from: (group, kind, template path, selector
    /// path).
    pub fn paths(&self) -> Option<(&'static [&'static str], Option<&'static [&'static str]>)> {
        let group = self.api_version.rsplit_once('/').map_or("", |(g, _)| g);
        match (group, self.kind.as_str()) {
            ("apps", "Deployment" | "ReplicaSet") => {
                Some((&["spec", "template"], Some(&["spec", "selector"])))
            }
            ("", "PodTemplate") => Some((&["template"], None)),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Strategy {
    pub canary: Option<Canary>,
    pub blue_green: Option<BlueGreen>,
}

/// `strategy.canary`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Canary {
    #[serde(default)]
    pub steps: Vec<CanaryStep>,
    pub canary_service: Option<String>,
    pub stable_service: Option<String>,
    pub max_surge: Option<IntOrString>,
    pub max_unavailable: Option<IntOrString>,
    /// The router that splits traffic by weight (Istio, NGINX, the Gateway API plugin).
    pub traffic_routing: Option<TrafficRouting>,
    /// Background analysis: part 2 of progressive delivery.
    pub analysis: Option<Value>,
    pub scale_down_delay_seconds: Option<i32>,
    pub abort_scale_down_delay_seconds: Option<i32>,
    #[serde(default)]
    pub dynamic_stable_scale: bool,
}

impl Canary {
    /// `analysis.startingStep`: the step from which background analysis runs (default 0).
    pub fn analysis_starting_step(&self) -> usize {
        self.analysis
            .as_ref()
            .and_then(|a| a["startingStep"].as_u64())
            .unwrap_or(0) as usize
    }
}

/// `strategy.canary.trafficRouting`: the routers bosun drives are typed; any other key names a
/// router bosun does not drive (reported, never ignored).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficRouting {
    pub istio: Option<Istio>,
    pub nginx: Option<Nginx>,
    #[serde(default)]
    pub plugins: serde_json::Map<String, Value>,
    pub max_traffic_weight: Option<i32>,
    #[serde(flatten)]
    pub others: serde_json::Map<String, Value>,
}

/// The Gateway API plugin's name under `plugins`.
pub const GATEWAY_API_PLUGIN: &str = "argoproj-labs/gatewayAPI";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Istio {
    pub virtual_service: Option<IstioVirtualService>,
    #[serde(default)]
    pub virtual_services: Vec<IstioVirtualService>,
    pub destination_rule: Option<IstioDestinationRule>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct IstioVirtualService {
    /// `name` or `name.namespace`.
    pub name: String,
    /// The http routes to weigh; none means the VirtualService's only route.
    #[serde(default)]
    pub routes: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioDestinationRule {
    pub name: String,
    pub canary_subset_name: String,
    pub stable_subset_name: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Nginx {
    pub stable_ingress: Option<String>,
    #[serde(default)]
    pub stable_ingresses: Vec<String>,
    pub annotation_prefix: Option<String>,
    #[serde(default)]
    pub additional_ingress_annotations: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub canary_ingress_annotations: std::collections::BTreeMap<String, String>,
}

/// The Gateway API plugin's config: `httpRoute` or `httpRoutes`, in `namespace` (the Rollout's
/// by default).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayApi {
    pub http_route: Option<String>,
    #[serde(default)]
    pub http_routes: Vec<GatewayApiRoute>,
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct GatewayApiRoute {
    pub name: String,
}

impl TrafficRouting {
    /// The Istio VirtualServices named, either form.
    pub fn istio_virtual_services(&self) -> Vec<IstioVirtualService> {
        let Some(istio) = &self.istio else {
            return Vec::new();
        };
        istio
            .virtual_service
            .iter()
            .cloned()
            .chain(istio.virtual_services.iter().cloned())
            .collect()
    }

    /// The NGINX stable Ingresses named, either form.
    pub fn nginx_stable_ingresses(&self) -> Vec<String> {
        let Some(nginx) = &self.nginx else {
            return Vec::new();
        };
        nginx
            .stable_ingress
            .iter()
            .cloned()
            .chain(nginx.stable_ingresses.iter().cloned())
            .collect()
    }

    /// The Gateway API plugin's config, if that plugin is named.
    pub fn gateway_api(&self) -> Result<Option<GatewayApi>, InvalidSpec> {
        let Some(config) = self.plugins.get(GATEWAY_API_PLUGIN) else {
            return Ok(None);
        };
        serde_json::from_value(config.clone())
            .map(Some)
            .map_err(|e| {
                InvalidSpec::new(
                    format!("strategy.canary.trafficRouting.plugins.{GATEWAY_API_PLUGIN}"),
                    e.to_string(),
                )
            })
    }
}

/// One entry of `strategy.canary.steps`: exactly one of its fields is set.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStep {
    pub set_weight: Option<i32>,
    pub pause: Option<Pause>,
    pub set_canary_scale: Option<SetCanaryScale>,
    pub analysis: Option<Value>,
    pub experiment: Option<Value>,
    pub set_header_route: Option<Value>,
    pub set_mirror_route: Option<Value>,
    pub plugin: Option<Value>,
}

/// `pause: {}` waits for a promotion; `pause: {duration: 30s}` (or an integer of seconds) waits
/// that long.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Pause {
    pub duration: Option<IntOrString>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetCanaryScale {
    pub replicas: Option<i32>,
    pub weight: Option<i32>,
    #[serde(default)]
    pub match_traffic_weight: bool,
}

/// `strategy.blueGreen`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueGreen {
    pub active_service: String,
    pub preview_service: Option<String>,
    pub preview_replica_count: Option<i32>,
    /// `None` means true.
    pub auto_promotion_enabled: Option<bool>,
    pub auto_promotion_seconds: Option<i32>,
    pub scale_down_delay_seconds: Option<i32>,
    pub abort_scale_down_delay_seconds: Option<i32>,
    pub pre_promotion_analysis: Option<Value>,
    pub post_promotion_analysis: Option<Value>,
}

/// Kubernetes' int-or-string (`maxSurge: 25%`, `duration: 30` or `duration: 30s`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i32),
    String(String),
}

/// A Rollout spec that bosun cannot act on: the message names the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("spec.{field}: {message}")]
pub struct InvalidSpec {
    pub field: String,
    pub message: String,
}

impl InvalidSpec {
    fn new(field: impl Into<String>, message: impl Into<String>) -> InvalidSpec {
        InvalidSpec {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl RolloutSpec {
    /// Reads and checks the `spec` of a live Rollout object.
    pub fn from_object(object: &Value) -> Result<RolloutSpec, InvalidSpec> {
        let spec = &object["spec"];
        let parsed: RolloutSpec = serde_path_to_error::deserialize(spec)
            .map_err(|e| InvalidSpec::new(e.path().to_string(), e.inner().to_string()))?;
        parsed.validate()?;
        Ok(parsed)
    }

    pub fn replicas(&self) -> i32 {
        self.replicas.unwrap_or(1)
    }

    fn validate(&self) -> Result<(), InvalidSpec> {
        if self.replicas() < 0 {
            return Err(InvalidSpec::new("replicas", "must not be negative"));
        }
        if let Some(workload) = &self.workload_ref {
            if workload.paths().is_none() {
                return Err(InvalidSpec::new(
                    "workloadRef.kind",
                    format!(
                        "workload of type {}/{} is not supported (Deployment, ReplicaSet or PodTemplate)",
                        workload.api_version, workload.kind
                    ),
                ));
            }
            if workload.name.is_empty() {
                return Err(InvalidSpec::new("workloadRef.name", "a name is required"));
            }
        }
        if !self.template.is_object() {
            return Err(InvalidSpec::new("template", "a pod template is required"));
        }
        match (&self.strategy.canary, &self.strategy.blue_green) {
            (Some(_), Some(_)) => {
                return Err(InvalidSpec::new(
                    "strategy",
                    "canary and blueGreen are mutually exclusive",
                ));
            }
            (None, None) => {
                return Err(InvalidSpec::new(
                    "strategy",
                    "one of canary or blueGreen is required",
                ));
            }
            _ => {}
        }
        if let Some(canary) = &self.strategy.canary {
            if let Some(routing) = &canary.traffic_routing {
                validate_routing(canary, routing)?;
            }
            for (i, step) in canary.steps.iter().enumerate() {
                let at = |f: &str| format!("strategy.canary.steps[{i}].{f}");
                if let Some(w) = step.set_weight
                    && !(0..=100).contains(&w)
                {
                    return Err(InvalidSpec::new(
                        at("setWeight"),
                        "must be between 0 and 100",
                    ));
                }
                if let Some(pause) = &step.pause
                    && let Some(d) = &pause.duration
                {
                    parse_pause(d).map_err(|m| InvalidSpec::new(at("pause.duration"), m))?;
                }
                for (name, set) in [
                    ("experiment", step.experiment.is_some()),
                    ("setHeaderRoute", step.set_header_route.is_some()),
                    ("setMirrorRoute", step.set_mirror_route.is_some()),
                    ("plugin", step.plugin.is_some()),
                ] {
                    if set {
                        return Err(InvalidSpec::new(
                            at(name),
                            "this step is not driven by bosun yet",
                        ));
                    }
                }
            }
            for (name, v) in [
                ("maxSurge", &canary.max_surge),
                ("maxUnavailable", &canary.max_unavailable),
            ] {
                if let Some(v) = v {
                    int_or_percent(v)
                        .map_err(|m| InvalidSpec::new(format!("strategy.canary.{name}"), m))?;
                }
            }
        }
        if let Some(bg) = &self.strategy.blue_green
            && bg.active_service.is_empty()
        {
            return Err(InvalidSpec::new(
                "strategy.blueGreen.activeService",
                "is required",
            ));
        }
        Ok(())
    }
}

fn validate_routing(canary: &Canary, routing: &TrafficRouting) -> Result<(), InvalidSpec> {
    const AT: &str = "strategy.canary.trafficRouting";
    if let Some(other) = routing.others.keys().next() {
        return Err(InvalidSpec::new(
            format!("{AT}.{other}"),
            "this traffic router is not driven by bosun (it drives istio, nginx and the argoproj-labs/gatewayAPI plugin)",
        ));
    }
    if let Some(other) = routing.plugins.keys().find(|k| *k != GATEWAY_API_PLUGIN) {
        return Err(InvalidSpec::new(
            format!("{AT}.plugins.{other}"),
            "this plugin is not driven by bosun (it drives argoproj-labs/gatewayAPI)",
        ));
    }
    let gateway = routing.gateway_api()?;
    if routing.istio.is_none() && routing.nginx.is_none() && gateway.is_none() {
        return Err(InvalidSpec::new(AT, "names no traffic router"));
    }
    if let Some(istio) = &routing.istio {
        match (&istio.virtual_service, istio.virtual_services.is_empty()) {
            (Some(_), false) => {
                return Err(InvalidSpec::new(
                    format!("{AT}.istio"),
                    "either VirtualService or VirtualServices must be configured",
                ));
            }
            (None, true) => {
                return Err(InvalidSpec::new(
                    format!("{AT}.istio.virtualService"),
                    "is required",
                ));
            }
            _ => {}
        }
    }
    if let Some(nginx) = &routing.nginx
        && nginx.stable_ingress.is_some() != nginx.stable_ingresses.is_empty()
    {
        return Err(InvalidSpec::new(
            format!("{AT}.nginx"),
            "exactly one of stableIngress or stableIngresses must be configured",
        ));
    }
    if let Some(gateway) = &gateway
        && gateway.http_route.is_none()
        && gateway.http_routes.is_empty()
    {
        return Err(InvalidSpec::new(
            format!("{AT}.plugins.{GATEWAY_API_PLUGIN}.httpRoute"),
            "is required",
        ));
    }
    let subsets = routing
        .istio
        .as_ref()
        .is_some_and(|i| i.destination_rule.is_some());
    let services_needed =
        routing.nginx.is_some() || gateway.is_some() || (routing.istio.is_some() && !subsets);
    if services_needed && (canary.canary_service.is_none() || canary.stable_service.is_none()) {
        return Err(InvalidSpec::new(
            "strategy.canary",
            "canaryService and stableService must be set to use traffic routing",
        ));
    }
    if canary.canary_service.is_some() && canary.canary_service == canary.stable_service {
        return Err(InvalidSpec::new(
            "strategy.canary.stableService",
            "must differ from canaryService",
        ));
    }
    Ok(())
}

/// A pause's duration: an integer of seconds, or a Go duration string (`30s`, `1h`).
pub fn parse_pause(d: &IntOrString) -> Result<Duration, String> {
    match d {
        IntOrString::Int(s) if *s >= 0 => Ok(Duration::from_secs(*s as u64)),
        IntOrString::Int(s) => Err(format!("{s} is negative")),
        IntOrString::String(text) => {
            if let Ok(secs) = text.parse::<u64>() {
                return Ok(Duration::from_secs(secs));
            }
            parse_go_duration(text).map_err(|e| e.to_string())
        }
    }
}

/// `maxSurge`-style values: an integer, or a percentage `"25%"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntOrPercent {
    Int(i32),
    Percent(i32),
}

/// Argo reads every string as a percentage, with or without its `%` (`"25"` is 25 %).
pub fn int_or_percent(v: &IntOrString) -> Result<IntOrPercent, String> {
    match v {
        IntOrString::Int(n) if *n >= 0 => Ok(IntOrPercent::Int(*n)),
        IntOrString::Int(n) => Err(format!("{n} is negative")),
        IntOrString::String(s) => s
            .trim_end_matches('%')
            .parse::<i32>()
            .ok()
            .filter(|n| *n >= 0)
            .map(IntOrPercent::Percent)
            .ok_or_else(|| format!("`{s}` is neither an integer nor a percentage")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rollout(spec: Value) -> Value {
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"}, "spec": spec})
    }

    #[test]
    fn the_seeds_canary_reads() {
        let spec = RolloutSpec::from_object(&rollout(json!({
            "replicas": 5,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:1"}]}},
            "strategy": {"canary": {"maxSurge": "25%", "maxUnavailable": 0, "steps": [
                {"setWeight": 10}, {"pause": {"duration": "1h"}}, {"setWeight": 30}, {"pause": {}},
                {"setCanaryScale": {"replicas": 2}}, {"pause": {"duration": 30}}
            ]}}
        })))
        .unwrap();
        let canary = spec.strategy.canary.unwrap();
        assert_eq!(canary.steps.len(), 6);
        assert_eq!(canary.max_surge, Some(IntOrString::String("25%".into())));
        assert_eq!(
            parse_pause(
                canary.steps[1]
                    .pause
                    .as_ref()
                    .unwrap()
                    .duration
                    .as_ref()
                    .unwrap()
            ),
            Ok(Duration::from_secs(3600))
        );
        assert_eq!(
            parse_pause(
                canary.steps[5]
                    .pause
                    .as_ref()
                    .unwrap()
                    .duration
                    .as_ref()
                    .unwrap()
            ),
            Ok(Duration::from_secs(30))
        );
    }

    #[test]
    fn errors_name_the_field() {
        let template = json!({"spec": {"containers": []}});
        let cases = [
            (
                json!({"template": template, "strategy": {"canary": {"steps": [{"setWeight": 120}]}}}),
                "spec.strategy.canary.steps[0].setWeight: must be between 0 and 100",
            ),
            (
                json!({"template": template, "strategy": {"canary": {"steps": [{"pause": {"duration": "soon"}}]}}}),
                "spec.strategy.canary.steps[0].pause.duration",
            ),
            (
                json!({"template": template, "strategy": {"canary": {"steps": [{"setWeight": "ten"}]}}}),
                "spec.strategy.canary.steps[0].setWeight",
            ),
            (
                json!({"template": template, "strategy": {}}),
                "spec.strategy: one of canary or blueGreen is required",
            ),
            (
                json!({"template": template, "strategy": {"canary": {"maxSurge": "lots"}}}),
                "spec.strategy.canary.maxSurge",
            ),
            (
                json!({"template": template, "strategy": {"canary": {"trafficRouting": {"istio": {}}}}}),
                "spec.strategy.canary.trafficRouting",
            ),
            (
                json!({"strategy": {"canary": {}}}),
                "spec.template: a pod template is required",
            ),
            (
                json!({"template": template, "strategy": {"blueGreen": {}}}),
                "spec.strategy.blueGreen",
            ),
        ];
        for (spec, expected) in cases {
            let e = RolloutSpec::from_object(&rollout(spec.clone())).unwrap_err();
            assert!(e.to_string().starts_with(expected), "{spec}: {e}");
        }
    }

    #[test]
    fn percentages_and_integers() {
        assert_eq!(
            int_or_percent(&IntOrString::String("25%".into())),
            Ok(IntOrPercent::Percent(25))
        );
        assert_eq!(
            int_or_percent(&IntOrString::String("3".into())),
            Ok(IntOrPercent::Percent(3))
        );
        assert_eq!(
            int_or_percent(&IntOrString::Int(0)),
            Ok(IntOrPercent::Int(0))
        );
        assert!(int_or_percent(&IntOrString::Int(-1)).is_err());
    }
}
