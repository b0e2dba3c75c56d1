//! What `bosun diff` prints: a unified diff per object that differs, like `kubectl diff`, and
//! the same plan as JSON for machines. Both only ever see masked Secrets (the plan holds nothing
//! else).

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Value, json};
use similar::TextDiff;

use crate::plan::{Plan, ResourceDiff, SyncState};

/// Lines of context around each change, as `diff -u`.
const CONTEXT: usize = 3;

/// An object as YAML with keys sorted at every level, so renderings compare line by line
/// whatever order the server or the manifest used.
pub fn to_yaml(object: &Value) -> String {
    serde_saphyr::to_string(&Sorted(object)).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
}

/// The unified diff of one object (`--- live/<key>`, `+++ desired/<key>`), `None` when it does
/// not differ or is a hook.
pub fn unified_diff(resource: &ResourceDiff) -> Option<String> {
    if !resource.differs() || resource.hook {
        return None;
    }
    let old = resource.live.as_ref().map(to_yaml).unwrap_or_default();
    let new = resource.predicted.as_ref().map(to_yaml).unwrap_or_default();
    let diff = TextDiff::from_lines(&old, &new);
    let text = diff
        .unified_diff()
        .context_radius(CONTEXT)
        .header(
            &format!("live/{}", resource.key),
            &format!("desired/{}", resource.key),
        )
        .to_string();
    Some(match &resource.refused {
        // Said before the diff: it is why the sync of this object will fail (or, with
        // Force=true, delete and re-create it).
        Some(words) => format!("# the cluster refuses this change: {words}\n{text}"),
        None => text,
    })
}

/// Every differing object's unified diff, one after the other, without colour.
pub fn render(plan: &Plan) -> String {
    plan.resources.iter().filter_map(unified_diff).collect()
}

/// Writes the diffs with ANSI colour (removals red, additions green, hunk headers cyan). Pass
/// `anstream::stdout()`: it drops the colour when stdout is not a terminal or `NO_COLOR` is set.
pub fn write_coloured(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    let header = Style::new().bold();
    let hunk = Style::new().fg_color(Some(AnsiColor::Cyan.into()));
    let removed = Style::new().fg_color(Some(AnsiColor::Red.into()));
    let added = Style::new().fg_color(Some(AnsiColor::Green.into()));
    for diff in plan.resources.iter().filter_map(unified_diff) {
        for line in diff.split_inclusive('\n') {
            let style = if line.starts_with("---") || line.starts_with("+++") {
                header
            } else if line.starts_with("@@") {
                hunk
            } else if line.starts_with('-') {
                removed
            } else if line.starts_with('+') {
                added
            } else {
                Style::new()
            };
            let body = line.strip_suffix('\n').unwrap_or(line);
            writeln!(out, "{style}{body}{style:#}")?;
        }
    }
    Ok(())
}

/// Prints the diffs to stdout, coloured when it is a terminal.
pub fn print(plan: &Plan) -> io::Result<()> {
    let mut out = anstream::stdout();
    write_coloured(plan, &mut out)?;
    out.flush()
}

/// `bosun diff -o json`: the application, whether it is in sync, and per object its key,
/// status, hook flag, both (masked) sides and the unified diff.
pub fn to_json(plan: &Plan) -> Value {
    let resources: Vec<Value> = plan
        .resources
        .iter()
        .map(|r| {
            json!({
                "group": r.key.group,
                "kind": r.key.kind,
                "namespace": r.key.namespace,
                "name": r.key.name,
                "status": status_name(r.status),
                "hook": r.hook,
                "sharedWith": r.shared_with,
                "refused": r.refused,
                "live": r.live,
                "predicted": r.predicted,
                "diff": unified_diff(r),
            })
        })
        .collect();
    json!({
        "app": plan.app,
        "inSync": plan.in_sync(),
        "warnings": plan.resources.iter().filter_map(|r| r.shared_warning(&plan.app)).map(|w| format!("SharedResourceWarning: {w}")).collect::<Vec<_>>(),
        "resources": resources,
    })
}

/// The status as Argo CD spells it.
pub fn status_name(status: SyncState) -> &'static str {
    match status {
        SyncState::Synced => "Synced",
        SyncState::OutOfSync => "OutOfSync",
        SyncState::Missing => "Missing",
        SyncState::Extraneous => "Extraneous",
    }
}

/// Serialises a JSON value with object keys in sorted order, whatever map type serde_json was
/// built with (another crate may turn on `preserve_order`).
struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    out.serialize_entry(k, &Sorted(v))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Sorted(item))?;
                }
                out.end()
            }
            scalar => scalar.serialize(serializer),
        }
    }
}
