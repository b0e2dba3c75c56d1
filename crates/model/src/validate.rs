//! Semantic checks of an [`Application`] that the schema alone cannot express, each reported at the
//! field path it concerns (`spec.destination: exactly one of server or name must be set`).

use std::path::{Component, Path};

use crate::application::{Application, SyncPolicy};
use crate::application::{
    ApplicationSource, Destination, ResourceIgnoreDifferences, RetryStrategy,
};
use crate::error::ModelError;
use crate::sync_options::SyncOptions;

/// The longest Kubernetes label value.
const MAX_LABEL_VALUE: usize = 63;

/// Checks `application`; the first problem found is returned, with a path from the document root.
pub fn validate_application(application: &Application) -> Result<(), ModelError> {
    let meta = &application.metadata;
    check_dns_subdomain(&meta.name).map_err(|m| ModelError::invalid("metadata.name", m))?;
    // Every synced object carries the name as a label value, which Kubernetes caps at 63
    // characters: a longer name (dots allow one) would be refused by the API server at sync.
    if meta.name.len() > MAX_LABEL_VALUE {
        return Err(ModelError::invalid(
            "metadata.name",
            format!(
                "`{}` is {} characters; bosun labels the objects it syncs with the Application's name, and a Kubernetes label value has at most {MAX_LABEL_VALUE}",
                meta.name,
                meta.name.len()
            ),
        ));
    }
    if let Some(namespace) = &meta.namespace {
        check_dns_label(namespace).map_err(|m| ModelError::invalid("metadata.namespace", m))?;
    }
    let spec = &application.spec;
    match (&spec.source, spec.sources.is_empty()) {
        (Some(source), true) => check_source(source).map_err(|e| e.under("spec.source"))?,
        (None, false) => {
            let mut refs = std::collections::HashSet::new();
            for (i, source) in spec.sources.iter().enumerate() {
                check_source(source).map_err(|e| e.under(&format!("spec.sources[{i}]")))?;
                if let Some(name) = source.reference.as_deref().filter(|r| !r.is_empty()) {
                    // As Argo CD: a chart of a Helm repository cannot give value files.
                    if source.chart.is_some() {
                        return Err(ModelError::invalid(
                            format!("spec.sources[{i}].ref"),
                            "a source with ref cannot also set chart",
                        ));
                    }
                    if !refs.insert(name) {
                        return Err(ModelError::invalid(
                            format!("spec.sources[{i}].ref"),
                            format!("{name:?} is the ref of an earlier source too"),
                        ));
                    }
                }
            }
        }
        _ => {
            return Err(ModelError::invalid(
                "spec",
                "exactly one of source or sources must be set",
            ));
        }
    }
    check_destination(&spec.destination).map_err(|e| e.under("spec.destination"))?;
    if let Some(policy) = &spec.sync_policy {
        check_sync_policy(policy).map_err(|e| e.under("spec.syncPolicy"))?;
    }
    for (i, ignore) in spec.ignore_differences.iter().enumerate() {
        check_ignore_differences(ignore)
            .map_err(|e| e.under(&format!("spec.ignoreDifferences[{i}]")))?;
    }
    if let Some(limit) = spec.revision_history_limit
        && limit < 0
    {
        return Err(ModelError::invalid(
            "spec.revisionHistoryLimit",
            "must not be negative",
        ));
    }
    Ok(())
}

fn check_source(source: &ApplicationSource) -> Result<(), ModelError> {
    if source.repo_url.trim().is_empty() {
        return Err(ModelError::invalid("repoURL", "must not be empty"));
    }
    if let Some(path) = &source.path {
        check_relative_path(path).map_err(|m| ModelError::invalid("path", m))?;
    }
    // As Argo CD: a source is of one type; two of them is "multiple application sources defined".
    let types: Vec<&str> = [
        ("helm", source.helm.is_some()),
        ("kustomize", source.kustomize.is_some()),
        ("directory", source.directory.is_some()),
        ("plugin", source.plugin.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if types.len() > 1 {
        return Err(ModelError::invalid(
            "",
            format!(
                "only one of helm, kustomize, directory or plugin may be set, found {}",
                types.join(" and ")
            ),
        ));
    }
    if let Some(helm) = &source.helm {
        for (i, parameter) in helm.parameters.iter().enumerate() {
            if parameter.name.trim().is_empty() {
                return Err(ModelError::invalid(
                    format!("helm.parameters[{i}].name"),
                    "must not be empty",
                ));
            }
        }
        for (i, file) in helm.value_files.iter().enumerate() {
            if file.trim().is_empty() {
                return Err(ModelError::invalid(
                    format!("helm.valueFiles[{i}]"),
                    "must not be empty",
                ));
            }
        }
        if let Some(release) = &helm.release_name {
            check_dns_subdomain(release).map_err(|m| ModelError::invalid("helm.releaseName", m))?;
        }
        if let Some(values) = &helm.values_object
            && !(values.is_object() || values.is_null())
        {
            return Err(ModelError::invalid(
                "helm.valuesObject",
                "must be a mapping of Helm values",
            ));
        }
    }
    if let Some(kustomize) = &source.kustomize {
        for (i, image) in kustomize.images.iter().enumerate() {
            if image.trim().is_empty() || image.contains(char::is_whitespace) {
                return Err(ModelError::invalid(
                    format!("kustomize.images[{i}]"),
                    "must be an image override such as `name=new-name:tag`, `name:tag` or `name@digest`",
                ));
            }
        }
    }
    Ok(())
}

fn check_destination(destination: &Destination) -> Result<(), ModelError> {
    let server = destination.server.as_deref().filter(|s| !s.is_empty());
    let name = destination.name.as_deref().filter(|s| !s.is_empty());
    match (server, name) {
        (Some(server), None) => {
            if !(server.starts_with("https://") || server.starts_with("http://")) {
                return Err(ModelError::invalid(
                    "server",
                    format!("`{server}` is not an http(s) URL of a Kubernetes API server"),
                ));
            }
        }
        (None, Some(_)) => {}
        _ => {
            return Err(ModelError::invalid(
                "",
                "exactly one of server or name must be set",
            ));
        }
    }
    if let Some(namespace) = &destination.namespace
        && !namespace.is_empty()
    {
        check_dns_label(namespace).map_err(|m| ModelError::invalid("namespace", m))?;
    }
    Ok(())
}

fn check_sync_policy(policy: &SyncPolicy) -> Result<(), ModelError> {
    SyncOptions::parse(&policy.sync_options)?;
    if let Some(retry) = &policy.retry {
        check_retry(retry).map_err(|e| e.under("retry"))?;
    }
    Ok(())
}

fn check_retry(retry: &RetryStrategy) -> Result<(), ModelError> {
    // Parsing the backoff is the check: it names the field that does not parse.
    retry.delays().map(drop)
}

fn check_ignore_differences(ignore: &ResourceIgnoreDifferences) -> Result<(), ModelError> {
    if ignore.kind.trim().is_empty() {
        return Err(ModelError::invalid("kind", "must not be empty"));
    }
    for (i, pointer) in ignore.json_pointers.iter().enumerate() {
        if !pointer.starts_with('/') {
            return Err(ModelError::invalid(
                format!("jsonPointers[{i}]"),
                format!("`{pointer}` is not a JSON pointer (RFC 6901): it must start with `/`"),
            ));
        }
    }
    for (i, expression) in ignore.jq_path_expressions.iter().enumerate() {
        if expression.trim().is_empty() {
            return Err(ModelError::invalid(
                format!("jqPathExpressions[{i}]"),
                "must not be empty",
            ));
        }
    }
    Ok(())
}

/// A path inside the repository: relative, and not climbing out of it with `..`.
fn check_relative_path(path: &str) -> Result<(), String> {
    let p = Path::new(path);
    if p.is_absolute() || path.starts_with('/') {
        return Err(format!("`{path}` must be relative to the repository root"));
    }
    let mut depth = 0i32;
    for component in p.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return Err(format!("`{path}` leads outside the repository"));
        }
    }
    Ok(())
}

/// RFC 1123 label, as Kubernetes checks namespace names: at most 63 lowercase letters, digits and
/// `-`, starting and ending with a letter or digit.
pub fn check_dns_label(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".to_string());
    }
    if value.len() > 63 {
        return Err(format!(
            "`{value}` is longer than 63 characters (RFC 1123 label)"
        ));
    }
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !value.chars().all(|c| alphanumeric(c) || c == '-')
        || !value.starts_with(alphanumeric)
        || !value.ends_with(alphanumeric)
    {
        return Err(format!(
            "`{value}` is not a valid RFC 1123 label: use lowercase letters, digits and `-`, starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// RFC 1123 subdomain, as Kubernetes checks object names: at most 253 characters, dot-separated
/// RFC 1123 labels.
pub fn check_dns_subdomain(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".to_string());
    }
    if value.len() > 253 {
        return Err(format!(
            "`{value}` is longer than 253 characters (RFC 1123 subdomain)"
        ));
    }
    // A long name is told it is long, not that its characters are wrong.
    if let Some(part) = value.split('.').find(|part| part.len() > 63) {
        return Err(if part.len() == value.len() {
            format!(
                "`{value}` is longer than 63 characters ({}); an RFC 1123 name has at most 63 characters between dots",
                value.len()
            )
        } else {
            format!(
                "`{value}` has a part longer than 63 characters between dots (`{part}`, {}); an RFC 1123 name allows at most 63",
                part.len()
            )
        });
    }
    if value
        .split('.')
        .any(|label| check_dns_label(label).is_err())
    {
        return Err(format!(
            "`{value}` is not a valid RFC 1123 subdomain: use lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_applications;

    const APP: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://github.com/org/repo.git
    path: guestbook
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
";

    /// The error for APP with `from` replaced by `to`.
    fn error(from: &str, to: &str) -> String {
        assert!(APP.contains(from), "{from}");
        parse_applications(&APP.replacen(from, to, 1), "app.yaml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_base_application_is_valid() {
        parse_applications(APP, "app.yaml").unwrap();
    }

    #[test]
    fn names_must_be_rfc_1123() {
        assert_eq!(
            error("name: guestbook", "name: Guest_Book"),
            "app.yaml: document 1: metadata.name: `Guest_Book` is not a valid RFC 1123 subdomain: use lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit"
        );
        assert!(error("namespace: argocd", "namespace: a.b").contains("metadata.namespace:"));
        assert!(
            error("namespace: guestbook", "namespace: -x")
                .contains("spec.destination.namespace: `-x` is not a valid RFC 1123 label")
        );
        assert!(check_dns_label(&"a".repeat(64)).is_err());
        assert!(check_dns_label(&"a".repeat(63)).is_ok());
        assert!(check_dns_subdomain("a.b-c.d1").is_ok());
        assert!(check_dns_subdomain("a..b").is_err());
    }

    #[test]
    fn a_long_name_is_told_it_is_too_long() {
        let long = "a".repeat(64);
        let e = error("name: guestbook", &format!("name: {long}"));
        assert_eq!(
            e,
            format!(
                "app.yaml: document 1: metadata.name: `{long}` is longer than 63 characters (64); an RFC 1123 name has at most 63 characters between dots"
            )
        );
        let dotted = format!("web.{long}");
        let e = check_dns_subdomain(&dotted).unwrap_err();
        assert!(
            e.contains("a part longer than 63 characters") && !e.contains("lowercase"),
            "{e}"
        );
        let e = check_dns_subdomain(&format!("{}a", "abcdefgh.".repeat(29))).unwrap_err();
        assert!(e.contains("longer than 253 characters"), "{e}");
        let e = check_dns_label(&long).unwrap_err();
        assert!(e.contains("longer than 63 characters"), "{e}");
        // A valid subdomain, but too long for the label every synced object carries.
        let dotted = format!("{}.{}", "a".repeat(40), "b".repeat(40));
        let e = error("name: guestbook", &format!("name: {dotted}"));
        assert!(
            e.starts_with("app.yaml: document 1: metadata.name: ")
                && e.contains("is 81 characters")
                && e.contains("a Kubernetes label value has at most 63"),
            "{e}"
        );
        let fits = format!("{}.{}", "a".repeat(31), "b".repeat(31));
        parse_applications(
            &APP.replacen("name: guestbook", &format!("name: {fits}"), 1),
            "app.yaml",
        )
        .unwrap();
    }

    #[test]
    fn exactly_one_of_source_and_sources() {
        let both = "  sources:\n  - repoURL: https://x/y.git\n  source:\n";
        assert_eq!(
            error("  source:\n", both),
            "app.yaml: document 1: spec: exactly one of source or sources must be set"
        );
        let none = APP.replace(
            "  source:\n    repoURL: https://github.com/org/repo.git\n    path: guestbook\n",
            "",
        );
        let e = parse_applications(&none, "app.yaml").unwrap_err();
        assert_eq!(e.path, "spec");
    }

    #[test]
    fn a_ref_is_one_source_s_and_not_a_chart_s() {
        for (sources, expected) in [
            (
                "  sources:\n  - repoURL: https://a/b.git\n    ref: values\n  - repoURL: https://c/d.git\n    ref: values\n",
                "a.yaml: document 1: spec.sources[1].ref: \"values\" is the ref of an earlier source too",
            ),
            (
                "  sources:\n  - repoURL: https://charts.example\n    chart: web\n    ref: values\n",
                "a.yaml: document 1: spec.sources[0].ref: a source with ref cannot also set chart",
            ),
        ] {
            let text = APP.replace(
                "  source:\n    repoURL: https://github.com/org/repo.git\n    path: guestbook\n",
                sources,
            );
            assert_eq!(
                parse_applications(&text, "a.yaml").unwrap_err().to_string(),
                expected
            );
        }
    }

    #[test]
    fn sources_are_checked_each() {
        let sources = "  sources:\n  - repoURL: https://a/b.git\n  - repoURL: ' '\n";
        let text = APP.replace(
            "  source:\n    repoURL: https://github.com/org/repo.git\n    path: guestbook\n",
            sources,
        );
        assert_eq!(
            parse_applications(&text, "a.yaml").unwrap_err().to_string(),
            "a.yaml: document 1: spec.sources[1].repoURL: must not be empty"
        );
    }

    #[test]
    fn source_paths_stay_in_the_repository() {
        assert!(
            error("path: guestbook", "path: /etc")
                .contains("spec.source.path: `/etc` must be relative")
        );
        assert!(
            error("path: guestbook", "path: a/../../b").contains("leads outside the repository")
        );
        assert!(check_relative_path("a/../b").is_ok());
        assert!(check_relative_path(".").is_ok());
    }

    #[test]
    fn one_source_type_only() {
        let e = error(
            "    path: guestbook\n",
            "    path: guestbook\n    helm: {}\n    directory: {recurse: true}\n",
        );
        assert_eq!(
            e,
            "app.yaml: document 1: spec.source: only one of helm, kustomize, directory or plugin may be set, found helm and directory"
        );
    }

    #[test]
    fn helm_parameters_need_names() {
        let e = error(
            "    path: guestbook\n",
            "    path: guestbook\n    helm:\n      parameters:\n      - name: a\n        value: b\n      - value: c\n",
        );
        assert_eq!(
            e,
            "app.yaml: document 1: spec.source.helm.parameters[1].name: must not be empty"
        );
    }

    #[test]
    fn destination_needs_server_xor_name() {
        assert_eq!(
            error("    server: https://kubernetes.default.svc\n", ""),
            "app.yaml: document 1: spec.destination: exactly one of server or name must be set"
        );
        assert!(
            error(
                "server: https://kubernetes.default.svc",
                "server: kubernetes.default.svc"
            )
            .contains("spec.destination.server: `kubernetes.default.svc` is not an http(s) URL")
        );
        parse_applications(
            &APP.replace("server: https://kubernetes.default.svc", "name: in-cluster"),
            "a.yaml",
        )
        .unwrap();
    }

    #[test]
    fn sync_options_and_retry_are_checked() {
        let policy = "  syncPolicy:\n    syncOptions:\n    - CreateNamespace=yes\n";
        assert_eq!(
            error("  destination:\n", &format!("{policy}  destination:\n")),
            "app.yaml: document 1: spec.syncPolicy.syncOptions[0]: `CreateNamespace=yes`: the value must be `true` or `false`"
        );
        let retry = "  syncPolicy:\n    retry:\n      limit: 3\n      backoff:\n        maxDuration: 3 minutes\n";
        assert!(
            error("  destination:\n", &format!("{retry}  destination:\n")).starts_with(
                "app.yaml: document 1: spec.syncPolicy.retry.backoff.maxDuration: invalid duration `3 minutes`"
            )
        );
    }

    #[test]
    fn ignore_differences_need_a_kind_and_json_pointers() {
        let ignore = "  ignoreDifferences:\n  - group: apps\n    kind: ''\n";
        assert_eq!(
            error("  destination:\n", &format!("{ignore}  destination:\n")),
            "app.yaml: document 1: spec.ignoreDifferences[0].kind: must not be empty"
        );
        let ignore =
            "  ignoreDifferences:\n  - kind: Deployment\n    jsonPointers: [spec/replicas]\n";
        assert!(
            error("  destination:\n", &format!("{ignore}  destination:\n")).contains(
                "spec.ignoreDifferences[0].jsonPointers[0]: `spec/replicas` is not a JSON pointer"
            )
        );
    }
}
