//! The Argo CD Applications from the seeds (seeds/001, copied verbatim into `fixtures/`) load,
//! validate and round-trip unchanged.

use std::time::Duration;

use bosun_model::{
    Application, DeletionMode, ErrorKind, PropagationPolicy, SyncOptions, parse_applications,
};

const MY_APPLICATION: &str = include_str!("fixtures/seed-001-my-application.yaml");
const PRODUCTION_APP: &str = include_str!("fixtures/seed-001-production-app.yaml");
const PROGRESSIVE_DELIVERY: &str = include_str!("fixtures/seed-001-progressive-delivery.yaml");

fn load_one(text: &str, file: &str) -> Application {
    let mut apps = parse_applications(text, file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(apps.len(), 1);
    apps.remove(0)
}

#[test]
fn helm_application_with_everything() {
    let app = load_one(MY_APPLICATION, "seed-001-my-application.yaml");
    assert_eq!(app.metadata.name, "my-application");
    assert_eq!(app.metadata.namespace.as_deref(), Some("argocd"));
    assert_eq!(
        app.metadata.finalizers,
        ["resources-finalizer.argocd.argoproj.io"]
    );
    let spec = &app.spec;
    assert_eq!(spec.project.as_deref(), Some("default"));
    let source = spec.source.as_ref().unwrap();
    assert_eq!(source.repo_url, "https://github.com/org/app-manifests.git");
    assert_eq!(source.target_revision.as_deref(), Some("main"));
    assert_eq!(source.path.as_deref(), Some("environments/production"));
    let helm = source.helm.as_ref().unwrap();
    assert_eq!(helm.value_files, ["values-production.yaml"]);
    assert_eq!(helm.parameters.len(), 1);
    assert_eq!(helm.parameters[0].name, "image.tag");
    assert_eq!(helm.parameters[0].value, "v1.2.3");
    assert!(!helm.parameters[0].force_string);
    assert_eq!(spec.all_sources().len(), 1);

    assert_eq!(
        spec.destination.server.as_deref(),
        Some("https://kubernetes.default.svc")
    );
    assert_eq!(spec.destination.name, None);
    assert_eq!(spec.destination.namespace.as_deref(), Some("production"));

    let policy = spec.sync_policy.as_ref().unwrap();
    let automated = policy.automated.as_ref().unwrap();
    assert!(automated.prune && automated.self_heal && !automated.allow_empty);
    assert!(policy.is_automated());
    let options = SyncOptions::parse(&policy.sync_options).unwrap();
    assert!(options.create_namespace && options.prune_last);
    assert!(!options.server_side_apply);
    assert_eq!(options.prune, DeletionMode::Allow);
    let delays: Vec<Duration> = policy.retry.as_ref().unwrap().delays().unwrap().collect();
    assert_eq!(delays, [5, 10, 20, 40, 80].map(Duration::from_secs));

    assert_eq!(spec.ignore_differences.len(), 1);
    let ignore = &spec.ignore_differences[0];
    assert_eq!(ignore.group.as_deref(), Some("apps"));
    assert_eq!(ignore.kind, "Deployment");
    assert_eq!(ignore.json_pointers, ["/spec/replicas"]);

    // `project: default` allows everything, as bosun does: nothing to warn about.
    assert_eq!(app.ignored_fields(), []);
}

#[test]
fn kustomize_overlay_application() {
    let app = load_one(PRODUCTION_APP, "seed-001-production-app.yaml");
    assert_eq!(app.metadata.name, "production-app");
    let source = app.spec.source.as_ref().unwrap();
    assert_eq!(source.path.as_deref(), Some("k8s/overlays/production"));
    assert!(source.helm.is_none() && source.kustomize.is_none());
    let policy = app.spec.sync_policy.as_ref().unwrap();
    let options = SyncOptions::parse(&policy.sync_options).unwrap();
    assert!(options.create_namespace);
    assert_eq!(options.prune_propagation, PropagationPolicy::Foreground);
    assert_eq!(policy.retry.as_ref().unwrap().limit, Some(5));
    assert_eq!(app.ignored_fields(), []);
}

#[test]
fn the_seed_block_with_a_rollout_names_the_rollout() {
    // The seed's code block puts the Application next to a Rollout and an AnalysisTemplate; as an
    // APP_FILE, that is an error that says which document is not an Application.
    let e = parse_applications(PROGRESSIVE_DELIVERY, "progressive.yaml").unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotAnApplication);
    assert_eq!(
        e.to_string(),
        "progressive.yaml: document 2: kind: `Rollout` is not an Argo CD Application; only `argoproj.io/v1alpha1` `Application` documents are read here"
    );
}

#[test]
fn seeds_round_trip_through_yaml_and_json() {
    for (text, file) in [
        (MY_APPLICATION, "my-application.yaml"),
        (PRODUCTION_APP, "production-app.yaml"),
    ] {
        let app = load_one(text, file);
        let yaml = serde_saphyr::to_string(&app).unwrap();
        assert_eq!(load_one(&yaml, "again.yaml"), app, "{yaml}");
        let json = serde_json::to_string(&app).unwrap();
        let from_json: Application = serde_json::from_str(&json).unwrap();
        assert_eq!(from_json, app);
        // Nothing is written that was not read: no `recurse: false`, no empty lists.
        assert!(!yaml.contains("forceString"), "{yaml}");
        assert!(!yaml.contains("[]"), "{yaml}");
    }
}

#[test]
fn a_typo_in_a_seed_is_an_error_with_its_path_and_line() {
    let typo = MY_APPLICATION.replace("targetRevision: main", "targetRevison: main");
    let e = parse_applications(&typo, "typo.yaml").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Schema);
    assert_eq!(e.path, "spec.source.targetRevison");
    assert_eq!(e.line, Some(14));
    assert!(
        e.to_string()
            .starts_with("typo.yaml: document 1: spec.source.targetRevison: unknown field `targetRevison`, expected one of"),
        "{e}"
    );
    let bad_option = MY_APPLICATION.replace("PruneLast=true", "PruneLast=yes");
    assert_eq!(
        parse_applications(&bad_option, "opt.yaml")
            .unwrap_err()
            .to_string(),
        "opt.yaml: document 1: spec.syncPolicy.syncOptions[1]: `PruneLast=yes`: the value must be `true` or `false`"
    );
    let bad_backoff = MY_APPLICATION.replace("maxDuration: 3m", "maxDuration: 3 min");
    assert!(
        parse_applications(&bad_backoff, "retry.yaml")
            .unwrap_err()
            .to_string()
            .starts_with("retry.yaml: document 1: spec.syncPolicy.retry.backoff.maxDuration: invalid duration `3 min`")
    );
}
