//! The pages, as maud templates: every value is escaped by the template engine; no inline
//! script or style (the Content Security Policy forbids them), so behaviour lives in
//! `assets/app.js`, which finds what it needs through `data-` attributes.

use bosun_api::{Application, ImageApplication, RolloutView};
use bosun_model::Role;
use bosun_record::{Operation, Phase};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::assets;
use super::session::Session;

/// The frame every signed-in page shares: landmarks, navigation, who is signed in.
pub(crate) fn layout(
    title: &str,
    session: Option<&Session>,
    current: &str,
    main: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(session) = session {
                    meta name="csrf-token" content=(session.csrf);
                    meta name="role" content=(session.caller.role.as_str());
                }
                title { (title) " · bosun" }
                link rel="stylesheet" href=(assets::STYLE.path());
                script src=(assets::SCRIPT.path()) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header role="banner" {
                    nav aria-label="Main" {
                        a.brand href="/ui/applications" { "bosun" }
                        @if session.is_some() {
                            a href="/ui/applications" aria-current=[(current == "applications").then_some("page")] { "Applications" }
                            a href="/ui/images" aria-current=[(current == "images").then_some("page")] { "Images" }
                        }
                        @if let Some(session) = session {
                            form.logout method="post" action="/ui/logout" {
                                span.who { (session.caller.name) " (" (session.caller.role.as_str()) ")" }
                                input type="hidden" name="csrf" value=(session.csrf);
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" { (main) }
            }
        }
    }
}

pub(crate) fn login(error: Option<&str>, next: &str) -> Markup {
    layout(
        "Sign in",
        None,
        "",
        html! {
            h1 { "Sign in" }
            form.login method="post" action="/ui/login" {
                @if let Some(error) = error {
                    p.error role="alert" { (error) }
                }
                input type="hidden" name="next" value=(next);
                label for="token" { "API token" }
                input id="token" name="token" type="password" autocomplete="current-password" required autofocus;
                p.hint { "A token from the server's config (server.tokens); the page keeps only a session." }
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// The status badge of a sync or health status, with a class for its colour.
fn badge(field: &str, value: &str) -> Markup {
    html! {
        span class={ "badge " (value.to_lowercase()) } data-field=(field) { (value) }
    }
}

fn short(revision: &str) -> &str {
    &revision[..revision.len().min(7)]
}

/// The filters of the list page, as read from its query.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub sync: String,
    #[serde(default)]
    pub health: String,
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub cluster: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub page: usize,
    /// `rows`: only the table's rows and count (search as you type).
    #[serde(default)]
    pub partial: String,
}

pub(crate) const PAGE_SIZE: usize = 50;

fn spec_str<'a>(app: &'a Application, pointer: &str) -> &'a str {
    app.spec
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Where an Application deploys: its destination's name, else server.
pub(crate) fn cluster_of(app: &Application) -> &str {
    match spec_str(app, "/destination/name") {
        "" => spec_str(app, "/destination/server"),
        name => name,
    }
}

impl Filters {
    pub(crate) fn matches(&self, app: &Application) -> bool {
        let contains = |hay: &str, needle: &str| {
            needle.is_empty() || hay.to_lowercase().contains(&needle.to_lowercase())
        };
        let label_ok = match self.label.split_once('=') {
            _ if self.label.is_empty() => true,
            Some((k, v)) => app.metadata.labels.get(k.trim()).map(String::as_str) == Some(v.trim()),
            None => app.metadata.labels.contains_key(self.label.trim()),
        };
        contains(&app.metadata.name, &self.q)
            && (self.sync.is_empty() || app.status.sync.status.as_str() == self.sync)
            && (self.health.is_empty() || app.status.health.status.as_str() == self.health)
            && contains(spec_str(app, "/project"), &self.project)
            && contains(spec_str(app, "/destination/namespace"), &self.namespace)
            && contains(cluster_of(app), &self.cluster)
            && label_ok
    }

    fn query(&self, page: usize) -> String {
        let mut parts = Vec::new();
        for (key, value) in [
            ("q", &self.q),
            ("sync", &self.sync),
            ("health", &self.health),
            ("project", &self.project),
            ("namespace", &self.namespace),
            ("cluster", &self.cluster),
            ("label", &self.label),
        ] {
            if !value.is_empty() {
                parts.push(format!("{key}={}", encode(value)));
            }
        }
        if page > 0 {
            parts.push(format!("page={page}"));
        }
        parts.join("&")
    }
}

/// Percent-encodes a query value or path segment.
pub(crate) fn encode(value: &str) -> String {
    encode_keeping(value, b"")
}

/// Percent-encodes all but unreserved characters and those in `keep` (`/` for a path).
pub(crate) fn encode_keeping(value: &str, keep: &[u8]) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b if keep.contains(&b) => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn select(name: &str, label: &str, current: &str, options: &[&str]) -> Markup {
    html! {
        label for=(name) { (label) }
        select id=(name) name=(name) {
            option value="" selected[current.is_empty()] { "any" }
            @for option in options {
                option value=(option) selected[current == *option] { (option) }
            }
        }
    }
}

/// The table rows and the count line of one page of matching Applications.
pub(crate) fn rows(matching: &[&Application], total: usize, filters: &Filters) -> Markup {
    let first = filters.page.saturating_mul(PAGE_SIZE);
    let shown = matching.iter().skip(first).take(PAGE_SIZE);
    let last = first.saturating_add(PAGE_SIZE).min(matching.len());
    html! {
        p #count role="status" {
            @if matching.is_empty() {
                "No Application matches (" (total) " in all)."
            } @else {
                (matching.len()) " of " (total) " Applications; showing " (first.saturating_add(1)) "–" (last) "."
            }
        }
        table.apps {
            thead {
                tr {
                    th scope="col" { span.visually-hidden { "Favourite" } }
                    th scope="col" { "Name" }
                    th scope="col" { "Sync" }
                    th scope="col" { "Health" }
                    th scope="col" { "Revision" }
                    th scope="col" { "Last operation" }
                    th scope="col" { "Project" }
                    th scope="col" { "Destination" }
                }
            }
            tbody {
                @for app in shown {
                    @let name = &app.metadata.name;
                    tr data-app=(name) {
                        td { button.star type="button" data-star=(name) aria-pressed="false" aria-label={ "Favourite " (name) } { "☆" } }
                        th scope="row" { a href={ "/ui/applications/" (encode(name)) } { (name) } }
                        td { (badge("sync", app.status.sync.status.as_str())) }
                        td { (badge("health", app.status.health.status.as_str())) }
                        td { code data-field="revision" { (short(&app.status.sync.revision)) } }
                        td data-field="operation" {
                            @if let Some(op) = &app.status.operation_state {
                                (op.phase.as_str())
                            }
                        }
                        td { (spec_str(app, "/project")) }
                        td { (cluster_of(app)) " / " (spec_str(app, "/destination/namespace")) }
                    }
                }
            }
        }
        nav.pages aria-label="Pages" {
            @if filters.page > 0 {
                a rel="prev" href={ "/ui/applications?" (filters.query(filters.page - 1)) } { "← Previous" }
            }
            @if last < matching.len() {
                a rel="next" href={ "/ui/applications?" (filters.query(filters.page + 1)) } { "Next →" }
            }
        }
    }
}

pub(crate) fn list(
    session: &Session,
    matching: &[&Application],
    total: usize,
    counts: &[(String, String, usize)],
    filters: &Filters,
) -> Markup {
    layout(
        "Applications",
        Some(session),
        "applications",
        html! {
            h1 { "Applications" }
            ul.summary aria-label="Applications by status" {
                @for (kind, status, n) in counts {
                    li { (kind) " " (badge("summary", status)) " " (n) }
                }
            }
            form.filters #filters method="get" action="/ui/applications" role="search" {
                label for="q" { "Search" }
                input id="q" name="q" type="search" value=(filters.q) placeholder="name" autocomplete="off";
                (select("sync", "Sync", &filters.sync, &["Synced", "OutOfSync", "Unknown"]))
                (select("health", "Health", &filters.health, &["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"]))
                label for="project" { "Project" }
                input id="project" name="project" value=(filters.project);
                label for="namespace" { "Namespace" }
                input id="namespace" name="namespace" value=(filters.namespace);
                label for="cluster" { "Cluster" }
                input id="cluster" name="cluster" value=(filters.cluster);
                label for="label" { "Label" }
                input id="label" name="label" value=(filters.label) placeholder="key=value";
                label.favourites { input type="checkbox" id="favourites-only"; " Favourites only" }
                button type="submit" { "Filter" }
            }
            div #rows { (rows(matching, total, filters)) }
        },
    )
}

/// The page of one object of `app` (its live manifest, Events and logs).
pub(crate) fn resource_href(
    app: &str,
    group: &str,
    kind: &str,
    namespace: &str,
    name: &str,
) -> String {
    format!(
        "/ui/applications/{}/resource?group={}&kind={}&namespace={}&resourceName={}",
        encode(app),
        encode(group),
        encode(kind),
        encode(namespace),
        encode(name)
    )
}

/// The resource tree: every managed object with what its controllers made under it.
fn tree(app: &str, nodes: &[Value]) -> Markup {
    // A node's children are the nodes whose parentRefs name its uid.
    fn children<'a>(nodes: &'a [Value], uid: &Value) -> Vec<&'a Value> {
        if uid.is_null() {
            return Vec::new();
        }
        nodes
            .iter()
            .filter(|n| {
                n["parentRefs"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"] == *uid))
            })
            .collect()
    }
    fn node(app: &str, nodes: &[Value], n: &Value, depth: usize) -> Markup {
        let health = n["health"]["status"].as_str().unwrap_or("");
        let message = n["health"]["message"].as_str().unwrap_or("");
        let kids = if depth < 6 {
            children(nodes, &n["uid"])
        } else {
            Vec::new()
        };
        let field = |key: &str| n[key].as_str().unwrap_or("");
        html! {
            li data-kind=(field("kind")) {
                span.kind { (field("kind")) }
                " "
                a.name href=(resource_href(app, field("group"), field("kind"), field("namespace"), field("name"))) { (field("name")) }
                @if !health.is_empty() { " " (badge("health", health)) }
                @if let Some(status) = n["status"].as_str() { " " (badge("sync", status)) }
                @if !message.is_empty() { " " span.message { (message) } }
                @if !kids.is_empty() {
                    ul { @for kid in kids { (node(app, nodes, kid, depth + 1)) } }
                }
            }
        }
    }
    let roots: Vec<&Value> = nodes
        .iter()
        .filter(|n| n["parentRefs"].as_array().is_none_or(|r| r.is_empty()))
        .collect();
    html! {
        ul.tree #tree { @for root in roots { (node(app, nodes, root, 0)) } }
    }
}

fn history_table(name: &str, history: &[Operation], can_act: bool) -> Markup {
    html! {
        table.history {
            thead { tr {
                th scope="col" { "ID" } th scope="col" { "Kind" } th scope="col" { "Who" }
                th scope="col" { "Started" } th scope="col" { "Took" } th scope="col" { "Revision" }
                th scope="col" { "Result" } th scope="col" { "Message" }
                @if can_act { th scope="col" { span.visually-hidden { "Actions" } } }
            } }
            tbody {
                @for op in history {
                    tr {
                        td { (op.id) }
                        td {
                            (op.kind.as_str()) @if op.dry_run { " (dry run)" }
                            @if !op.selected.is_empty() {
                                " of "
                                @for (i, r) in op.selected.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    code.selected { (r.group) ":" (r.kind) ":" @if !r.namespace.is_empty() { (r.namespace) "/" } (r.name) }
                                }
                            }
                        }
                        td { (op.initiated_by) }
                        td { time datetime=(op.started_at) { (op.started_at) } }
                        td { @if let Some(ms) = op.duration_ms { (format!("{:.1} s", ms as f64 / 1000.0)) } }
                        td { @for r in &op.revisions { code { (short(r)) } " " } }
                        td { (badge("phase", op.phase.as_str())) }
                        td { (op.message) }
                        @if can_act {
                            td {
                                @if op.phase == Phase::Succeeded && !op.dry_run && !op.revisions.is_empty() {
                                    button type="button" data-action="rollback" data-app=(name) data-id=(op.id)
                                        data-confirm={ "Roll " (name) " back to what entry " (op.id) " synced (" (op.revisions.iter().map(|r| short(r)).collect::<Vec<_>>().join(", ")) ")?" } {
                                        "Roll back"
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn diff(plan: &Value) -> Markup {
    let resources: Vec<&Value> = plan["resources"]
        .as_array()
        .map(|r| r.iter().filter(|r| r["status"] != "Synced").collect())
        .unwrap_or_default();
    html! {
        @if resources.is_empty() {
            p { "Live objects match Git." }
        }
        @for r in resources {
            details.diff open {
                summary {
                    (r["kind"].as_str().unwrap_or("")) " "
                    (r["namespace"].as_str().filter(|n| !n.is_empty()).map(|n| format!("{n}/")).unwrap_or_default())
                    (r["name"].as_str().unwrap_or("")) " "
                    (badge("sync", r["status"].as_str().unwrap_or("")))
                }
                pre { code {
                    @for line in r["diff"].as_str().unwrap_or("").lines() {
                        @let class = if line.starts_with('+') && !line.starts_with("+++") { "add" }
                            else if line.starts_with('-') && !line.starts_with("---") { "del" } else { "" };
                        span class=(class) { (line) } "\n"
                    }
                } }
            }
        }
    }
}

/// A Rollout the Application manages: where it is in its steps, its revisions, its analysis
/// runs with their measurements, and Argo's actions.
fn rollout(view: &RolloutView, can_act: bool) -> Markup {
    let summary = &view.summary;
    let path = format!(
        "/api/v1/rollouts/{}/{}/{}",
        encode(&summary.cluster),
        encode(&summary.namespace),
        encode(&summary.name)
    );
    let current = summary.step.unwrap_or(summary.steps) as usize;
    html! {
        section.rollout aria-label={ "Rollout " (summary.name) } data-rollout=(summary.name) data-namespace=(summary.namespace) data-cluster=(summary.cluster) {
            h3 {
                "Rollout " (summary.name) " " (badge("phase", &summary.phase))
                " " span.hint { (summary.strategy) @if summary.steps > 0 { ", step " (current.min(summary.steps as usize)) " of " (summary.steps) } ", " (summary.available) "/" (summary.desired) " available" }
            }
            @if !summary.message.is_empty() { p.hint { (summary.message) } }
            @if can_act {
                div.actions {
                    @for (action, label) in [("promote", "Promote"), ("promote-full", "Promote fully"), ("abort", "Abort"), ("retry", "Retry"), ("pause", "Pause"), ("resume", "Resume")] {
                        button type="button" data-action="rollout" data-path={ (path) "/" (action) }
                            data-confirm={ (label) " Rollout " (summary.name) "?" } { (label) }
                    }
                }
            }
            @if !view.steps.is_empty() {
                ol.steps {
                    @for (i, step) in view.steps.iter().enumerate() {
                        li aria-current=[(i == current).then_some("step")] class=[(i < current).then_some("done")] {
                            (step_text(step))
                        }
                    }
                }
            }
            @if let Some(w) = &view.weights {
                p.weights data-canary-weight=(w.canary) data-stable-weight=(w.stable) {
                    strong { "Traffic" } ": canary " (w.canary) " % · stable " (w.stable) " % "
                    meter min="0" max="100" value=(w.canary) aria-label={ "Canary weight " (w.canary) " %" } {}
                    " " span.hint {
                        @if w.source == "trafficRouting" { "(set on the traffic router)" }
                        @else { "(by pods, without a traffic router)" }
                    }
                }
            }
            table.revisions {
                caption.visually-hidden { "ReplicaSets of Rollout " (summary.name) " per revision" }
                thead { tr {
                    th scope="col" { "Revision" } th scope="col" { "Role" } th scope="col" { "ReplicaSet" }
                    th scope="col" { "Pods ready" } th scope="col" { "Available" } th scope="col" { "Scaled down at" }
                } }
                tbody {
                    @for r in &view.revisions {
                        tr data-role=(r.role) {
                            td { (r.revision) }
                            td { span class={ "role " (r.role) } { (r.role) } }
                            td { (r.replica_set) }
                            td { (r.ready) "/" (r.desired) }
                            td { (r.available) }
                            td { @if let Some(at) = &r.scale_down_deadline { time datetime=(at) { (at) } } }
                        }
                    }
                }
            }
            @let last = view.analysis_runs.len().saturating_sub(1);
            @for (i, run) in view.analysis_runs.iter().enumerate() {
                details.analysis data-run=(run.name) open[i == last || !matches!(run.phase.as_str(), "Successful")] {
                    summary {
                        "Analysis " (run.name) " " (badge("phase", &run.phase))
                        " " span.hint {
                            @match run.step_index.and_then(|i| view.steps.get(i as usize).map(|s| (i, s))) {
                                Some((i, step)) => { "at step " (i) " (" (step_text(step)) ")" },
                                None => (run.rollout_type),
                            }
                            @if !run.pod_template_hash.is_empty() { ", judging " code { (run.pod_template_hash) } }
                        }
                        @if !run.message.is_empty() { " " span.message { (run.message) } }
                    }
                    @for metric in &run.metric_results {
                        (metric_result(metric))
                    }
                }
            }
        }
    }
}

/// One metric of an AnalysisRun (Argo's `status.metricResults[]`): its counts and every
/// measurement, oldest first, with value, phase, times and the message of one that failed.
fn metric_result(metric: &Value) -> Markup {
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let count = |key: &str| metric[key].as_i64().unwrap_or(0);
    let measurements: &[Value] = metric["measurements"].as_array().map_or(&[], Vec::as_slice);
    html! {
        section.metric aria-label={ "Metric " (text(&metric["name"])) } data-metric=(text(&metric["name"])) {
            h4 {
                (text(&metric["name"])) " " (badge("phase", &text(&metric["phase"])))
                " " span.hint {
                    (count("count")) " measured: " (count("successful")) " successful, " (count("failed")) " failed"
                    @if count("inconclusive") > 0 { ", " (count("inconclusive")) " inconclusive" }
                    @if count("error") > 0 { ", " (count("error")) " erred" }
                }
            }
            @if let Some(message) = metric["message"].as_str().filter(|m| !m.is_empty()) {
                p.error { (message) }
            }
            @if !measurements.is_empty() {
                table.measurements {
                    thead { tr {
                        th scope="col" { "#" } th scope="col" { "Value" } th scope="col" { "Phase" }
                        th scope="col" { "Started" } th scope="col" { "Finished" } th scope="col" { "Message" }
                    } }
                    tbody {
                        @for (n, m) in measurements.iter().enumerate() {
                            tr data-phase=(text(&m["phase"])) {
                                td { (n + 1) }
                                td.value { code { (text(&m["value"])) } }
                                td { (badge("phase", &text(&m["phase"]))) }
                                td { @if let Some(at) = m["startedAt"].as_str() { time datetime=(at) { (at) } } }
                                td { @if let Some(at) = m["finishedAt"].as_str() { time datetime=(at) { (at) } } }
                                td.message { (text(&m["message"])) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One canary step in words.
fn step_text(step: &Value) -> String {
    if let Some(weight) = step["setWeight"].as_i64() {
        format!("set weight {weight} %")
    } else if let Some(pause) = step.get("pause") {
        match pause["duration"]
            .as_str()
            .map(str::to_string)
            .or_else(|| pause["duration"].as_i64().map(|d| format!("{d}s")))
        {
            Some(duration) => format!("pause {duration}"),
            None => "pause until promoted".to_string(),
        }
    } else if let Some(analysis) = step.get("analysis") {
        let names: Vec<&str> = analysis["templates"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|t| t["templateName"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        format!("analysis {}", names.join(", "))
    } else {
        serde_json::to_string(step).unwrap_or_default()
    }
}

/// The main part of an Application's page (what a live update re-renders).
pub(crate) fn app_main(
    app: &Application,
    nodes: &[Value],
    plan: Option<&Value>,
    history: &[Operation],
    rollouts: &[RolloutView],
    role: Role,
) -> Markup {
    let name = &app.metadata.name;
    let can_act = role >= Role::Deployer;
    let status = &app.status;
    let mut conditions = status.conditions.clone();
    // Errors first: a failed render is what the reader must see.
    conditions.sort_by_key(|c| !c.kind.ends_with("Error"));
    html! {
        h1 { (name) " " (badge("sync", status.sync.status.as_str())) " " (badge("health", status.health.status.as_str())) }
        @if !conditions.is_empty() {
            section aria-labelledby="conditions" {
                h2 #conditions { "Conditions" }
                ul.conditions {
                    @for c in &conditions {
                        li class=(if c.kind.ends_with("Error") { "error" } else { "warning" }) role=[c.kind.ends_with("Error").then_some("alert")] {
                            strong { (c.kind) } ": " (c.message)
                        }
                    }
                }
            }
        }
        @if can_act {
            section.actions aria-label="Actions" {
                label { input type="checkbox" id="sync-prune"; " Prune" }
                label { input type="checkbox" id="sync-dry-run"; " Dry run" }
                button type="button" data-action="sync" data-app=(name) data-confirm={ "Sync " (name) " to Git now?" } { "Sync" }
                // Hooks are not offered: a partial sync runs none.
                @let selectable: Vec<_> = status.resources.iter().filter(|r| !r.hook).collect();
                @if !selectable.is_empty() {
                    details.sync-resources {
                        summary { "Only these resources" }
                        p.hint { "Checked resources only: nothing else is applied, Prune deletes only among them, and no hook runs." }
                        ul {
                            @for r in selectable {
                                li {
                                    label {
                                        input type="checkbox" data-sync-resource data-group=(r.group) data-kind=(r.kind) data-namespace=(r.namespace) data-name=(r.name);
                                        " " span.kind { (r.kind) } " "
                                        @if !r.namespace.is_empty() { (r.namespace) "/" } (r.name)
                                        " " (badge("sync", r.status.as_str()))
                                        @if r.requires_pruning { " " span.hint { "(to prune)" } }
                                    }
                                }
                            }
                        }
                    }
                }
                button type="button" data-action="refresh" data-app=(name) { "Refresh" }
                output #action-result role="status" {}
            }
        }
        section aria-labelledby="summary" {
            h2 #summary { "Summary" }
            dl.summary {
                dt { "Repository" } dd { (spec_str(app, "/source/repoURL")) }
                dt { "Path" } dd { (spec_str(app, "/source/path")) }
                dt { "Target revision" } dd { (spec_str(app, "/source/targetRevision")) }
                dt { "Synced to" } dd { code { (short(&status.sync.revision)) } }
                dt { "Destination" } dd { (cluster_of(app)) " / " (spec_str(app, "/destination/namespace")) }
                @if let Some(op) = &status.operation_state {
                    dt { "Last operation" } dd { (op.phase.as_str()) " — " (op.message) }
                }
                @if let Some(at) = &status.reconciled_at {
                    dt { "Compared" } dd { time datetime=(at) { (at) } }
                }
            }
        }
        @if !rollouts.is_empty() {
            section aria-labelledby="rollouts" {
                h2 #rollouts { "Rollouts" }
                @for view in rollouts { (rollout(view, can_act)) }
            }
        }
        section aria-labelledby="resources" {
            h2 #resources { "Resources" }
            label.toggle { input type="checkbox" id="tree-as-list"; " Show as a list" }
            (tree(name, nodes))
            table.resource-list hidden {
                thead { tr { th scope="col" { "Kind" } th scope="col" { "Namespace" } th scope="col" { "Name" } th scope="col" { "Sync" } th scope="col" { "Health" } } }
                tbody {
                    @for r in &status.resources {
                        tr {
                            td { (r.kind) } td { (r.namespace) }
                            td { a href=(resource_href(name, &r.group, &r.kind, &r.namespace, &r.name)) { (r.name) } }
                            td { (r.status.as_str()) }
                            td { @if let Some(h) = &r.health { (h.status.as_str()) } }
                        }
                    }
                }
            }
        }
        section aria-labelledby="diff" {
            h2 #diff { "Diff (desired ⇄ live)" }
            @match plan {
                Some(plan) => (diff(plan)),
                None => p { "The diff could not be computed now; see the conditions." },
            }
        }
        section aria-labelledby="history" {
            h2 #history { "History" }
            (history_table(name, history, can_act))
        }
    }
}

/// Kinds whose page shows container logs: a Pod's own, or its Pods'.
pub(crate) fn has_logs(kind: &str) -> bool {
    matches!(
        kind,
        "Pod"
            | "Deployment"
            | "ReplicaSet"
            | "StatefulSet"
            | "DaemonSet"
            | "Job"
            | "CronJob"
            | "Rollout"
    )
}

/// The object part of a resource page's query (what its log form keeps).
pub(crate) fn object_query(query: &crate::inspect::LogQuery) -> String {
    format!(
        "group={}&kind={}&namespace={}&resourceName={}",
        encode(&query.group),
        encode(&query.kind),
        encode(&query.namespace),
        encode(&query.resource_name)
    )
}

/// How a resource page shows the manifest: `managedFields=true` with its managed fields
/// (hidden by default, as Argo CD's UI does).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ManifestView {
    #[serde(default)]
    pub managed_fields: bool,
}

/// One object of an Application: its live manifest (Secret values masked), its Events, and its
/// containers' logs (for a Pod, or a workload's Pods), each as the API answers it.
pub(crate) struct ResourcePage<'a> {
    pub app: &'a str,
    pub object: &'a bosun_controller::inspect::ObjectRef,
    pub query: &'a crate::inspect::LogQuery,
    pub view: &'a ManifestView,
    pub manifest: Result<bosun_api::ResourceManifest, String>,
    pub events: Result<bosun_api::ResourceEventList, String>,
    /// `None` for kinds without containers.
    pub logs: Option<Result<bosun_api::PodLogList, String>>,
}

pub(crate) fn resource(session: &Session, page: ResourcePage<'_>) -> Markup {
    let ResourcePage {
        app,
        object,
        query,
        view,
        manifest,
        events,
        logs,
    } = page;
    let tail = query
        .tail_lines
        .unwrap_or(bosun_controller::inspect::DEFAULT_TAIL_LINES);
    layout(
        &format!("{} {}", object.kind, object.name),
        Some(session),
        "applications",
        html! {
            nav.crumbs aria-label="Breadcrumb" {
                a href="/ui/applications" { "Applications" } " / "
                a href={ "/ui/applications/" (encode(app)) } { (app) } " / "
                span aria-current="page" { (object.kind) " " (object.name) }
            }
            h1 #resource data-kind=(object.kind) {
                (object.kind) " " (object.name)
                @if !object.namespace.is_empty() { " " span.hint { "in " (object.namespace) } }
            }
            section aria-labelledby="manifest" {
                h2 #manifest { "Live manifest" }
                p.hint {
                    @if view.managed_fields {
                        a href={ "/ui/applications/" (encode(app)) "/resource?" (object_query(query)) } { "Hide managed fields" }
                    } @else {
                        a href={ "/ui/applications/" (encode(app)) "/resource?" (object_query(query)) "&managedFields=true" } { "Show managed fields" }
                    }
                }
                @match &manifest {
                    Ok(m) => pre.manifest { code { (m.manifest) } },
                    Err(e) => p.error role="alert" { (e) },
                }
            }
            section aria-labelledby="events" {
                h2 #events { "Events" }
                @match &events {
                    Ok(list) if list.items.is_empty() => p.no-events { "No Events for this object (the cluster keeps them for an hour)." },
                    Ok(list) => table.events {
                        thead { tr {
                            th scope="col" { "Type" } th scope="col" { "Reason" } th scope="col" { "Message" }
                            th scope="col" { "Count" } th scope="col" { "Last seen" } th scope="col" { "From" }
                        } }
                        tbody {
                            @for e in &list.items {
                                tr class=(e.event_type.to_lowercase()) {
                                    td { (e.event_type) } td { (e.reason) } td { (e.message) } td { (e.count) }
                                    td { @if let Some(at) = &e.last_timestamp { time datetime=(at) { (at) } } }
                                    td { (e.source) }
                                }
                            }
                        }
                    },
                    Err(e) => p.error role="alert" { (e) },
                }
            }
            @if let Some(logs) = &logs {
                section aria-labelledby="logs" {
                    h2 #logs { "Logs" }
                    form.log-options method="get" action={ "/ui/applications/" (encode(app)) "/resource" } {
                        input type="hidden" name="group" value=(query.group);
                        input type="hidden" name="kind" value=(query.kind);
                        input type="hidden" name="namespace" value=(query.namespace);
                        input type="hidden" name="resourceName" value=(query.resource_name);
                        label for="tailLines" { "Last lines" }
                        input #tailLines name="tailLines" type="number" min="1" max=(bosun_controller::inspect::MAX_TAIL_LINES) value=(tail);
                        label for="container" { "Container" }
                        input #container name="container" value=(query.container) placeholder="all";
                        label { input type="checkbox" name="previous" value="true" checked[query.previous]; " Previous run" }
                        button type="submit" { "Show" }
                    }
                    @match logs {
                        Ok(list) => {
                            @for log in &list.items {
                                section.log data-pod=(log.pod_name) data-container=(log.container) aria-label={ "Log of " (log.pod_name) " " (log.container) } {
                                    h3 {
                                        a href=(resource_href(app, "", "Pod", &log.namespace, &log.pod_name)) { (log.pod_name) }
                                        @if !log.container.is_empty() { " · " (log.container) }
                                    }
                                    @if let Some(error) = &log.error {
                                        p.error { (error) }
                                    } @else if log.content.is_empty() {
                                        p.hint { "(empty)" }
                                    } @else {
                                        pre.log { code { (log.content) } }
                                    }
                                }
                            }
                        },
                        Err(e) => p.error role="alert" { (e) },
                    }
                }
            }
        },
    )
}

pub(crate) fn app_page(session: &Session, app: &Application, main: Markup) -> Markup {
    layout(
        &app.metadata.name,
        Some(session),
        "applications",
        html! {
            div #app data-app=(app.metadata.name) { (main) }
        },
    )
}

/// Where a web host shows a commit of `repository` (GitHub, GitLab, Gitea and Bitbucket
/// all answer `/commit/ID` under the repository's address), for an http(s) repository only.
fn commit_href(repository: &str, revision: &str) -> Option<String> {
    let base = repository.trim_end_matches('/').trim_end_matches(".git");
    (base.starts_with("https://") || base.starts_with("http://"))
        .then(|| format!("{base}/commit/{}", encode(revision)))
}

/// A write-back's commit, abbreviated, linked to its web page where the host has one.
fn commit(repository: &str, revision: &str) -> Markup {
    html! {
        @match commit_href(repository, revision) {
            Some(href) => a href=(href) title=(revision) { code data-revision=(revision) { (short(revision)) } },
            None => code title=(revision) data-revision=(revision) { (short(revision)) },
        }
    }
}

/// The images page: per Application, what `GET /api/v1/images/NAME` answers — each watched
/// image with the tag in Git, the tags seen and the policy's pick, then the write-back commits
/// and failed checks, newest first.
pub(crate) fn images(session: &Session, apps: &[ImageApplication]) -> Markup {
    layout(
        "Images",
        Some(session),
        "images",
        html! {
            h1 { "Images" }
            @if apps.is_empty() {
                p { "No Application has images to watch (argocd-image-updater.argoproj.io/image-list)." }
            }
            @for app in apps {
                section.images aria-labelledby={ "images-" (app.app) } data-app=(app.app) {
                    h2 id={ "images-" (app.app) } { a href={ "/ui/applications/" (encode(&app.app)) } { (app.app) } }
                    p {
                        "Writes to " code { (app.file) } " on " code { (app.branch) } " of " (app.repository)
                        @if let Some(at) = &app.checked_at { "; last checked " time datetime=(at) { (at) } }
                        @else { "; not checked yet" }
                    }
                    @if let Some(error) = &app.error { p.error role="alert" { (error) } }
                    table.watched {
                        caption.visually-hidden { "Watched images of " (app.app) }
                        thead { tr {
                            th scope="col" { "Image" } th scope="col" { "Policy" } th scope="col" { "In Git" }
                            th scope="col" { "Tags seen" } th scope="col" { "Latest allowed" } th scope="col" { "Message" }
                        } }
                        tbody {
                            @for image in &app.images {
                                tr {
                                    td { @if let Some(alias) = &image.alias { (alias) "=" } (image.image) }
                                    td { (image.strategy) @if let Some(c) = &image.constraint { " " (c) } }
                                    td { code { (image.current.as_deref().unwrap_or("")) } }
                                    td { (image.tags_seen) }
                                    td { code { (image.latest.as_deref().unwrap_or("")) } }
                                    td { (image.message.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                    h3 { "Write-backs and failed checks" }
                    @if app.history.is_empty() {
                        p.hint { "No write-back yet, and no failed check." }
                    } @else {
                        table.image-history {
                            caption.visually-hidden { "Image updates of " (app.app) ", newest first" }
                            thead { tr {
                                th scope="col" { "When" } th scope="col" { "Outcome" } th scope="col" { "Change" }
                                th scope="col" { "Commit" } th scope="col" { "Branch" } th scope="col" { "Attempts" }
                                th scope="col" { "Error" }
                            } }
                            tbody {
                                @for entry in &app.history {
                                    tr data-outcome=(entry.outcome) {
                                        td { time datetime=(entry.at) { (entry.at) } }
                                        td { (badge("outcome", &entry.outcome)) }
                                        td {
                                            @for (i, change) in entry.changes.iter().enumerate() {
                                                @if i > 0 { br; }
                                                span.change { (change.image) " " code { (change.old_tag) } " → " code { (change.new_tag) } }
                                            }
                                        }
                                        td { @if !entry.revision.is_empty() { (commit(&app.repository, &entry.revision)) } }
                                        td { @if !entry.branch.is_empty() { code { (entry.branch) } } }
                                        td { @if let Some(n) = entry.attempts { (n) } }
                                        td.message { (entry.message) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub(crate) fn not_found(session: &Session, what: &str) -> Markup {
    layout(
        "Not found",
        Some(session),
        "",
        html! {
            h1 { "Not found" }
            p { (what) }
            p { a href="/ui/applications" { "All Applications" } }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_links_to_its_web_page_on_http_hosts_only() {
        assert_eq!(
            commit_href("https://github.com/acme/config.git", "0123abc").as_deref(),
            Some("https://github.com/acme/config/commit/0123abc")
        );
        assert_eq!(commit_href("file:///srv/config", "0123abc"), None);
        assert_eq!(
            commit_href("git@github.com:acme/config.git", "0123abc"),
            None
        );
        let html = commit("file:///srv/config", "0123456789abcdef").into_string();
        assert!(
            html.contains(">0123456<") && html.contains("title=\"0123456789abcdef\""),
            "{html}"
        );
    }

    #[test]
    fn every_measurement_is_shown_with_the_message_of_a_failed_one() {
        let metric = serde_json::json!({
            "name": "error-rate", "phase": "Error", "count": 2, "successful": 1, "error": 1,
            "message": "<b>web metric: connection refused</b>",
            "measurements": [
                {"phase": "Successful", "value": "0.01", "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:01Z"},
                {"phase": "Error", "message": "connection refused", "startedAt": "2026-01-01T00:00:10Z", "finishedAt": "2026-01-01T00:00:10Z"},
            ],
        });
        let html = metric_result(&metric).into_string();
        assert_eq!(html.matches("<tr data-phase=").count(), 2, "{html}");
        assert!(html.contains("<code>0.01</code>"), "{html}");
        assert!(
            html.contains("<td class=\"message\">connection refused</td>"),
            "{html}"
        );
        assert!(html.contains("datetime=\"2026-01-01T00:00:10Z\""), "{html}");
        // Escaped by the template engine.
        assert!(html.contains("&lt;b&gt;web metric"), "{html}");
        assert!(html.contains("1 erred"), "{html}");
    }
}
