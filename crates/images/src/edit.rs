//! Byte-exact edits of YAML files: a Helm values file's `image.tag`, a kustomization's
//! `images[name=nginx].newTag`.
//!
//! Users complain that write-back tools reformat their files (moved comments, re-indented
//! sequences, reflowed block scalars, lost quotes). Here nothing is re-serialised: the file is
//! parsed only to find the byte span of the scalar a path names, and the new text is spliced into
//! that span. Every other byte — comments, blank lines, indentation, key order, anchors, `---`,
//! CRLF, a missing final newline — stays. The scalar keeps its quote style; a plain scalar is
//! quoted only when the new value, written plain, would read as something other than a string
//! (`1.20` is a float, `true` a boolean).
//!
//! A path is dotted keys with list steps: `image.tag`, `containers[1].image.tag`,
//! `images[name=ghcr.io/acme/api].newTag` (the entry of a list whose `name` is that value). It
//! addresses the first document of the file that has it. A missing key is an error, except the
//! last key of a `[key=value]`-selected entry (a kustomization image without `newTag` yet), which
//! is added as a line of that entry, as `kustomize edit set image` would add it.
//!
//! A path may instead be a Flux image-automation marker, `$imagepolicy(flux-system:api:tag)`:
//! every scalar whose line ends in the comment `# {"$imagepolicy": "flux-system:api:tag"}`, in
//! any document of the file (Flux's setters; the comment itself stays as it is).

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use granit_parser::{Event, Parser, ScalarStyle, Span, StructureStyle};

/// One step of a [`KeyPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
    /// The entry of a sequence of mappings whose `key` is `value`.
    Select { key: String, value: String },
    /// The scalars marked `# {"$imagepolicy": "<policy>"}` (the only segment of its path).
    Marker(String),
}

/// The comment that marks a Flux setter, when `comment` (the text after `#`) is one: its
/// policy, `ns:name`, `ns:name:tag` or `ns:name:name`.
pub fn marker_policy(comment: &str) -> Option<String> {
    let comment = comment.trim();
    if !comment.starts_with('{') || !comment.contains("$imagepolicy") {
        return None;
    }
    let fields: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_str(comment).ok()?;
    fields
        .get("$imagepolicy")?
        .as_str()
        .map(|p| p.trim().to_string())
}

/// Where in a YAML document a scalar is: `image.tag`, `images[name=nginx].newTag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Segment>);

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Select { key, value } => write!(f, "[{key}={value}]")?,
                Segment::Marker(policy) => write!(f, "$imagepolicy({policy})")?,
            }
        }
        Ok(())
    }
}

impl FromStr for KeyPath {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if let Some(rest) = text.strip_prefix("$imagepolicy(") {
            return match rest.strip_suffix(')') {
                Some(policy) if !policy.is_empty() && !policy.contains([' ', '(', ')']) => {
                    Ok(KeyPath(vec![Segment::Marker(policy.to_string())]))
                }
                _ => Err(format!(
                    "`{text}`: expected $imagepolicy(namespace:name[:tag|:name])"
                )),
            };
        }
        let mut segments = Vec::new();
        let mut rest = text;
        let mut first = true;
        while !rest.is_empty() {
            if !first && !rest.starts_with('[') {
                rest = rest
                    .strip_prefix('.')
                    .ok_or_else(|| format!("`{text}`: expected `.` or `[` before `{rest}`"))?;
            }
            first = false;
            if let Some(inner) = rest.strip_prefix('[') {
                let close = inner
                    .find(']')
                    .ok_or_else(|| format!("`{text}`: `[` without `]`"))?;
                let step = &inner[..close];
                rest = &inner[close + 1..];
                segments.push(match step.split_once('=') {
                    Some((key, value)) if !key.is_empty() && !value.is_empty() => Segment::Select {
                        key: key.to_string(),
                        value: value.to_string(),
                    },
                    Some(_) => {
                        return Err(format!("`{text}`: `[{step}]` needs a key and a value"));
                    }
                    None => Segment::Index(step.parse().map_err(|_| {
                        format!("`{text}`: `[{step}]` is neither an index nor `key=value`")
                    })?),
                });
            } else {
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                if end == 0 {
                    return Err(format!("`{text}`: empty key"));
                }
                segments.push(Segment::Key(rest[..end].to_string()));
                rest = &rest[end..];
            }
        }
        if segments.is_empty() {
            return Err("empty path".to_string());
        }
        Ok(KeyPath(segments))
    }
}

/// One `KEY=VALUE` change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub path: KeyPath,
    pub value: String,
}

impl FromStr for Edit {
    type Err = String;

    /// `KEY=VALUE`; the `=` that separates them is the first one outside `[…]`.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut depth = 0usize;
        for (i, c) in text.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                '=' if depth == 0 => {
                    return Ok(Edit {
                        path: text[..i].parse()?,
                        value: text[i + 1..].to_string(),
                    });
                }
                _ => {}
            }
        }
        Err(format!("`{text}`: expected KEY=VALUE"))
    }
}

/// Why an edit could not be made; the file is then left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("not valid YAML: {0}")]
    Parse(String),
    #[error("{path}: not found ({reason})")]
    NotFound { path: String, reason: String },
    #[error("{path}: {reason}")]
    NotAScalar { path: String, reason: String },
    #[error("{path} and {other} name the same value")]
    Overlap { path: String, other: String },
}

/// What an applied edit changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    /// The value before, or `None` when the key was added.
    pub old: Option<String>,
    pub new: String,
}

/// The file after the edits, and what each changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    pub text: String,
    pub changes: Vec<Change>,
}

impl Edited {
    /// Whether any value differs from before.
    pub fn changed(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.old.as_deref() != Some(c.new.as_str()))
    }
}

/// Applies every edit to `text`, or none of them.
pub fn apply(text: &str, edits: &[Edit]) -> Result<Edited, EditError> {
    let documents = parse(text)?;
    let mut splices: Vec<(usize, usize, String, String)> = Vec::new();
    let mut changes = Vec::new();
    for edit in edits {
        let path = edit.path.to_string();
        let targets: Vec<Target<'_>> = match edit.path.0.as_slice() {
            [Segment::Marker(policy)] => marked(&documents, policy, &path)?
                .into_iter()
                .map(Target::Scalar)
                .collect(),
            _ => vec![locate(&documents, &edit.path)?],
        };
        // One change per edit, however many lines a marker names (its first line's old value).
        let mut first_old = None;
        for target in targets {
            let (start, end, replacement, old) = match target {
                Target::Scalar(scalar) if scalar.start == scalar.end => {
                    // `tag:` alone: there is no span to splice into, and writing after the colon
                    // by guesswork could land in a comment.
                    return Err(EditError::NotAScalar {
                        path,
                        reason: "has no value (`key:` alone); give it one first".to_string(),
                    });
                }
                Target::Scalar(scalar) => {
                    let replacement = if scalar.value == edit.value {
                        text[scalar.start..scalar.end].to_string()
                    } else {
                        render(scalar, &edit.value, &path)?
                    };
                    let old = Some(scalar.value.clone());
                    (scalar.start, scalar.end, replacement, old)
                }
                Target::Alias => {
                    return Err(EditError::NotAScalar {
                        path,
                        reason: "is an alias (`*name`); edit the anchored value instead"
                            .to_string(),
                    });
                }
                Target::Collection(kind) => {
                    return Err(EditError::NotAScalar {
                        path,
                        reason: format!("is a {kind}, not a single value"),
                    });
                }
                Target::Missing { map, key } => {
                    let (at, insertion) = insertion(text, map, key, &edit.value);
                    (at, at, insertion, None)
                }
            };
            // Two insertions at one place (an entry gaining `newTag` and `digest`) do not overlap;
            // two edits of one value do.
            let insertion = start == end;
            if let Some((.., other)) = splices.iter().find(|(s, e, ..)| {
                (start < *e && *s < end) || (start == *s && end == *e && !(insertion && s == e))
            }) {
                return Err(EditError::Overlap {
                    path,
                    other: other.clone(),
                });
            }
            splices.push((start, end, replacement, path.clone()));
            first_old.get_or_insert(old);
        }
        changes.push(Change {
            path,
            old: first_old.flatten(),
            new: edit.value.clone(),
        });
    }
    let mut out = text.to_string();
    // From the end, so earlier offsets stay right; at one place, the later edit first, so that
    // insertions there end up in the order they were asked for.
    let mut splices: Vec<(usize, (usize, usize, String, String))> =
        splices.into_iter().enumerate().collect();
    splices.sort_by_key(|(i, (start, ..))| std::cmp::Reverse((*start, *i)));
    for (_, (start, end, replacement, _)) in splices {
        out.replace_range(start..end, &replacement);
    }
    Ok(Edited { text: out, changes })
}

/// The value a path names, when it is a scalar; `None` when it is absent.
pub fn get(text: &str, path: &KeyPath) -> Result<Option<String>, EditError> {
    let documents = parse(text)?;
    if let [Segment::Marker(policy)] = path.0.as_slice() {
        // The lines a marker names hold one value, or the file is not one bosun should guess in.
        let scalars = match marked(&documents, policy, &path.to_string()) {
            Ok(scalars) => scalars,
            Err(EditError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let first = &scalars[0].value;
        if let Some(other) = scalars.iter().find(|s| s.value != *first) {
            return Err(EditError::NotAScalar {
                path: path.to_string(),
                reason: format!(
                    "the lines it marks hold different values ({first}, {})",
                    other.value
                ),
            });
        }
        return Ok((!first.is_empty() || scalars[0].start != scalars[0].end).then(|| first.clone()));
    }
    match locate(&documents, path) {
        Ok(Target::Scalar(scalar)) if scalar.start == scalar.end => Ok(None),
        Ok(Target::Scalar(scalar)) => Ok(Some(scalar.value.clone())),
        Ok(Target::Missing { .. }) | Err(EditError::NotFound { .. }) => Ok(None),
        Ok(Target::Alias) => Err(EditError::NotAScalar {
            path: path.to_string(),
            reason: "is an alias (`*name`)".to_string(),
        }),
        Ok(Target::Collection(kind)) => Err(EditError::NotAScalar {
            path: path.to_string(),
            reason: format!("is a {kind}, not a single value"),
        }),
        Err(e) => Err(e),
    }
}

#[derive(Debug)]
struct Scalar {
    value: String,
    style: ScalarStyle,
    /// Byte range of the scalar's text in the file, quotes included.
    start: usize,
    end: usize,
    /// Whether the scalar sits inside a flow collection, where `,[]{}` end a plain scalar.
    in_flow: bool,
    /// The policy of a Flux marker comment ending the scalar's line.
    marker: Option<String>,
}

#[derive(Debug)]
struct Map {
    entries: Vec<(Node, Node)>,
    flow: bool,
    /// Byte offset of the end of the mapping (the `}` of a flow mapping).
    end: usize,
}

#[derive(Debug)]
enum Node {
    Scalar(Scalar),
    Map(Map),
    Seq(Vec<Node>),
    Alias,
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Scalar(_) => "scalar",
            Node::Map(_) => "mapping",
            Node::Seq(_) => "list",
            Node::Alias => "alias",
        }
    }

    /// The end of the last scalar inside this node: where its last line of content is.
    fn last_content_end(&self) -> Option<usize> {
        match self {
            Node::Scalar(s) => Some(s.end),
            Node::Map(m) => m
                .entries
                .iter()
                .filter_map(|(k, v)| v.last_content_end().or(k.last_content_end()))
                .max(),
            Node::Seq(items) => items.iter().filter_map(Node::last_content_end).max(),
            Node::Alias => None,
        }
    }
}

fn range(span: &Span) -> Result<(usize, usize), EditError> {
    span.byte_range()
        .map(|r| (r.start, r.end))
        .ok_or_else(|| EditError::Parse("the parser gave no byte offsets".to_string()))
}

/// The documents of a file, as trees that remember where each scalar is.
fn parse(text: &str) -> Result<Vec<Node>, EditError> {
    let mut events = Vec::new();
    let mut markers = Vec::new();
    for next in Parser::new_from_str(text) {
        let (event, span) = next.map_err(|e| EditError::Parse(e.to_string()))?;
        match event {
            Event::Comment(comment, _) => {
                if let Some(policy) = marker_policy(&comment) {
                    markers.push((range(&span)?.0, policy));
                }
            }
            event => events.push((event, span)),
        }
    }
    let mut documents = Vec::new();
    let mut events = events.into_iter().peekable();
    let reader = Reader {
        text,
        markers: &markers,
    };
    while let Some((event, _)) = events.next() {
        if let Event::DocumentStart(..) = event {
            if matches!(events.peek(), Some((Event::DocumentEnd, _))) {
                continue;
            }
            documents.push(reader.node(&mut events, false)?);
        }
    }
    Ok(documents)
}

/// The text being read, and where its marker comments start.
struct Reader<'t> {
    text: &'t str,
    markers: &'t [(usize, String)],
}

impl Reader<'_> {
    /// The policy of the marker comment right after `end` (only blanks between): the line
    /// comment of the scalar, as Flux's setters read it. A comment after more content (the rest
    /// of a flow mapping) is not this scalar's.
    fn marker_after(&self, end: usize) -> Option<String> {
        self.markers
            .iter()
            .find(|(at, _)| {
                *at >= end && self.text[end..*at].bytes().all(|b| b == b' ' || b == b'\t')
            })
            .map(|(_, policy)| policy.clone())
    }

    fn node(&self, events: &mut Events<'_>, in_flow: bool) -> Result<Node, EditError> {
        node(events, in_flow, self)
    }
}

/// The value scalars (not keys) marked with `policy`, in every document; an error naming
/// `path` when no line carries the marker.
fn marked<'a>(
    documents: &'a [Node],
    policy: &str,
    path: &str,
) -> Result<Vec<&'a Scalar>, EditError> {
    fn collect<'a>(node: &'a Node, policy: &str, found: &mut Vec<&'a Scalar>) {
        match node {
            Node::Scalar(s) if s.marker.as_deref() == Some(policy) => found.push(s),
            Node::Map(map) => map
                .entries
                .iter()
                .for_each(|(_, v)| collect(v, policy, found)),
            Node::Seq(items) => items.iter().for_each(|i| collect(i, policy, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for document in documents {
        collect(document, policy, &mut found);
    }
    if found.is_empty() {
        return Err(EditError::NotFound {
            path: path.to_string(),
            reason: format!("no line ends in the marker # {{\"$imagepolicy\": \"{policy}\"}}"),
        });
    }
    Ok(found)
}

/// The policies of the Flux markers in `text` (on values), each once, in file order.
pub fn markers(text: &str) -> Result<Vec<String>, EditError> {
    fn collect(node: &Node, found: &mut Vec<String>) {
        match node {
            Node::Scalar(Scalar {
                marker: Some(p), ..
            }) if !found.contains(p) => found.push(p.clone()),
            Node::Map(map) => map.entries.iter().for_each(|(_, v)| collect(v, found)),
            Node::Seq(items) => items.iter().for_each(|i| collect(i, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for document in parse(text)? {
        collect(&document, &mut found);
    }
    Ok(found)
}

type Events<'a> = std::iter::Peekable<std::vec::IntoIter<(Event<'a>, Span)>>;

fn node(events: &mut Events<'_>, in_flow: bool, reader: &Reader<'_>) -> Result<Node, EditError> {
    let text = reader.text;
    let Some((event, span)) = events.next() else {
        return Err(EditError::Parse("unexpected end of the file".to_string()));
    };
    match event {
        Event::Scalar(value, style, ..) => {
            let (start, end) = range(&span)?;
            let (start, end) = quoted_range(text, start, end, style);
            Ok(Node::Scalar(Scalar {
                value: value.into_owned(),
                style,
                start,
                end,
                in_flow,
                marker: reader.marker_after(end),
            }))
        }
        Event::Alias(_) | Event::UnresolvedAlias(_) => Ok(Node::Alias),
        Event::SequenceStart(style, ..) => {
            let flow = in_flow || style == StructureStyle::Flow;
            let mut items = Vec::new();
            loop {
                if next_end(events, false)?.is_some() {
                    return Ok(Node::Seq(items));
                }
                items.push(node(events, flow, reader)?);
            }
        }
        Event::MappingStart(style, ..) => {
            let flow = in_flow || style == StructureStyle::Flow;
            let mut entries = Vec::new();
            loop {
                if let Some(end) = next_end(events, true)? {
                    return Ok(Node::Map(Map {
                        entries,
                        flow: style == StructureStyle::Flow,
                        end,
                    }));
                }
                let key = node(events, flow, reader)?;
                let value = node(events, flow, reader)?;
                entries.push((key, value));
            }
        }
        other => Err(EditError::Parse(format!("unexpected {other:?}"))),
    }
}

/// Consumes the end event of the collection being read, if it is next, returning its byte
/// offset.
fn next_end(events: &mut Events<'_>, mapping: bool) -> Result<Option<usize>, EditError> {
    let end = match events.peek() {
        Some((Event::MappingEnd, span)) if mapping => Some(range(span)?.0),
        Some((Event::SequenceEnd, span)) if !mapping => Some(range(span)?.0),
        _ => None,
    };
    if end.is_some() {
        events.next();
    }
    Ok(end)
}

/// The scalar's span with its quotes, whatever the parser's span covers.
fn quoted_range(text: &str, start: usize, end: usize, style: ScalarStyle) -> (usize, usize) {
    let quote = match style {
        ScalarStyle::SingleQuoted => b'\'',
        ScalarStyle::DoubleQuoted => b'"',
        _ => return (start, end),
    };
    let bytes = text.as_bytes();
    let start = if bytes.get(start) == Some(&quote) {
        start
    } else {
        start.saturating_sub(1)
    };
    let end = if end > start + 1 && bytes.get(end - 1) == Some(&quote) {
        end
    } else {
        end + 1
    };
    (start, end)
}

enum Target<'a> {
    Scalar(&'a Scalar),
    Alias,
    Collection(&'static str),
    /// The last key of a selected entry is absent: it may be added.
    Missing {
        map: &'a Map,
        key: &'a str,
    },
}

/// The node a path names in the first document that has it.
fn locate<'a>(documents: &'a [Node], path: &'a KeyPath) -> Result<Target<'a>, EditError> {
    let mut best: Option<(usize, EditError)> = None;
    for document in documents {
        match walk(document, path) {
            Ok(target) => return Ok(target),
            Err((depth, error)) => {
                if best.as_ref().is_none_or(|(d, _)| depth > *d) {
                    best = Some((depth, error));
                }
            }
        }
    }
    Err(best.map(|(_, e)| e).unwrap_or(EditError::NotFound {
        path: path.to_string(),
        reason: "the file has no YAML document".to_string(),
    }))
}

fn walk<'a>(root: &'a Node, path: &'a KeyPath) -> Result<Target<'a>, (usize, EditError)> {
    let mut node = root;
    let mut selected = false;
    let not_found = |depth: usize, reason: String| {
        (
            depth,
            EditError::NotFound {
                path: path.to_string(),
                reason,
            },
        )
    };
    for (depth, segment) in path.0.iter().enumerate() {
        let at = if depth == 0 {
            "the top level".to_string()
        } else {
            format!("`{}`", KeyPath(path.0[..depth].to_vec()))
        };
        let last = depth + 1 == path.0.len();
        match (segment, node) {
            (Segment::Key(key), Node::Map(map)) => {
                match map
                    .entries
                    .iter()
                    .find(|(k, _)| matches!(k, Node::Scalar(s) if s.value == *key))
                {
                    Some((_, value)) => node = value,
                    None if last && selected => return Ok(Target::Missing { map, key }),
                    None => return Err(not_found(depth, format!("no key `{key}` under {at}"))),
                }
            }
            (Segment::Index(index), Node::Seq(items)) => match items.get(*index) {
                Some(item) => node = item,
                None => {
                    return Err(not_found(
                        depth,
                        format!("{at} has {} entries, no [{index}]", items.len()),
                    ));
                }
            },
            (Segment::Select { key, value }, Node::Seq(items)) => {
                let found = items.iter().find(|item| {
                    let Node::Map(map) = item else { return false };
                    map.entries.iter().any(|(k, v)| {
                        matches!(k, Node::Scalar(k) if k.value == *key)
                            && matches!(v, Node::Scalar(v) if v.value == *value)
                    })
                });
                match found {
                    Some(item) => node = item,
                    None => {
                        return Err(not_found(
                            depth,
                            format!("no entry of {at} has {key}: {value}"),
                        ));
                    }
                }
            }
            (_, Node::Alias) => {
                return Err((
                    depth,
                    EditError::NotAScalar {
                        path: path.to_string(),
                        reason: format!("{at} is an alias (`*name`); edit the anchored value"),
                    },
                ));
            }
            (Segment::Marker(_), _) => {
                return Err(not_found(
                    depth,
                    "a $imagepolicy marker is a path of its own".to_string(),
                ));
            }
            (Segment::Key(key), other) => {
                return Err(not_found(
                    depth,
                    format!("{at} is a {}, it has no key `{key}`", other.kind()),
                ));
            }
            (_, other) => {
                return Err(not_found(
                    depth,
                    format!("{at} is a {}, not a list", other.kind()),
                ));
            }
        }
        selected = matches!(segment, Segment::Select { .. });
    }
    Ok(match node {
        Node::Scalar(scalar) => Target::Scalar(scalar),
        Node::Alias => Target::Alias,
        other => Target::Collection(other.kind()),
    })
}

/// The scalar's new text, in the scalar's own style.
fn render(scalar: &Scalar, value: &str, path: &str) -> Result<String, EditError> {
    Ok(match scalar.style {
        ScalarStyle::SingleQuoted if !value.contains(['\n', '\r']) => {
            format!("'{}'", value.replace('\'', "''"))
        }
        ScalarStyle::Plain if !needs_quotes(value, scalar.in_flow) => value.to_string(),
        ScalarStyle::Literal | ScalarStyle::Folded => {
            return Err(EditError::NotAScalar {
                path: path.to_string(),
                reason: "is a block scalar (`|` or `>`); bosun edits single-line values only"
                    .to_string(),
            });
        }
        _ => double_quoted(value),
    })
}

fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `value`, written plain, would not read back as that same string — under YAML 1.2's
/// core schema or YAML 1.1 (which Helm and kustomize's Go parsers still follow for booleans
/// such as `yes`, numbers such as `1_000` or `0o17`, and dates such as `2024-01-15`).
pub fn needs_quotes(value: &str, in_flow: bool) -> bool {
    static NOT_A_STRING: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(concat!(
            r"^(?:~|null|Null|NULL",
            r"|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
            r"|[-+]?(?:0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(?::[0-5]?[0-9])*)",
            r"|[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?",
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
            // YAML 1.1 timestamps: Go's YAML parsers read `2024-01-15` as a time.
            r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?)$"
        ))
        .expect("a valid regular expression")
    });
    let Some(first) = value.chars().next() else {
        return true;
    };
    value != value.trim()
        || NOT_A_STRING.is_match(value)
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || value.contains(": ")
        || value.contains(" #")
        || value.ends_with(':')
        || value.chars().any(char::is_control)
        || (in_flow && value.contains([',', '[', ']', '{', '}']))
}

/// Where and what to insert so that `map` gains `key: value` as its last entry.
fn insertion(text: &str, map: &Map, key: &str, value: &str) -> (usize, String) {
    let rendered = if needs_quotes(value, map.flow) {
        double_quoted(value)
    } else {
        value.to_string()
    };
    if map.flow {
        let close = text[..=map.end.min(text.len() - 1)]
            .rfind('}')
            .unwrap_or(map.end);
        let before = text[..close].trim_end();
        let sep = if before.ends_with('{') { "" } else { ", " };
        return (before.len(), format!("{sep}{key}: {rendered}"));
    }
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let indent = map
        .entries
        .first()
        .and_then(|(k, _)| match k {
            Node::Scalar(s) => {
                let line_start = text[..s.start].rfind('\n').map_or(0, |i| i + 1);
                Some(text[line_start..s.start].chars().count())
            }
            _ => None,
        })
        .unwrap_or(0);
    let last = map
        .entries
        .iter()
        .filter_map(|(k, v)| v.last_content_end().or(k.last_content_end()))
        .max()
        .unwrap_or(0);
    let line_end = text[last..]
        .find('\n')
        .map_or(text.len(), |i| last + i)
        .min(text.len());
    let line_end = if text[..line_end].ends_with('\r') {
        line_end - 1
    } else {
        line_end
    };
    (
        line_end,
        format!("{eol}{}{key}: {rendered}", " ".repeat(indent)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str, edit: &str) -> Result<String, EditError> {
        apply(text, &[edit.parse().unwrap()]).map(|e| e.text)
    }

    #[test]
    fn flux_markers_are_paths_of_their_own() {
        let path: KeyPath = "$imagepolicy(flux-system:api:tag)".parse().unwrap();
        assert_eq!(path.0, vec![Segment::Marker("flux-system:api:tag".into())]);
        assert_eq!(path.to_string(), "$imagepolicy(flux-system:api:tag)");
        let edit: Edit = "$imagepolicy(apps:api)=ghcr.io/acme/api:1.3.0"
            .parse()
            .unwrap();
        assert_eq!(edit.value, "ghcr.io/acme/api:1.3.0");
        assert!("$imagepolicy()".parse::<KeyPath>().is_err());
        assert!("$imagepolicy(a:b".parse::<KeyPath>().is_err());
        for (comment, policy) in [
            (
                r#" {"$imagepolicy": "flux-system:api:tag"}"#,
                Some("flux-system:api:tag"),
            ),
            (r#"{"$imagepolicy":"apps:api"}  "#, Some("apps:api")),
            (r#" {"$imagepolicy": 3}"#, None),
            (" $imagepolicy flux-system:api", None),
            (" a plain comment", None),
        ] {
            assert_eq!(marker_policy(comment).as_deref(), policy, "{comment}");
        }
        let text = "a: 1 # {\"$imagepolicy\": \"x:a\"}\nb: [2] # {\"$imagepolicy\": \"x:b\"}\n# {\"$imagepolicy\": \"x:c\"}\nc: 3\nd: 4 # {\"$imagepolicy\": \"x:a\"}\n";
        // Only a value's own line comment marks it: not one after a flow list, not one above.
        assert_eq!(markers(text).unwrap(), ["x:a"]);
        let path: KeyPath = "$imagepolicy(x:a)".parse().unwrap();
        let e = get(text, &path).unwrap_err().to_string();
        assert!(e.contains("different values (1, 4)"), "{e}");
        let edited = apply(
            text,
            &[Edit {
                path,
                value: "v5".into(),
            }],
        )
        .unwrap();
        assert_eq!(
            edited.text,
            text.replace("a: 1", "a: v5").replace("d: 4", "d: v5")
        );
        assert_eq!(edited.changes.len(), 1);
        assert_eq!(edited.changes[0].old.as_deref(), Some("1"));
    }

    #[test]
    fn paths_parse() {
        let path: KeyPath = "images[name=ghcr.io/acme/api].newTag".parse().unwrap();
        assert_eq!(
            path.0,
            vec![
                Segment::Key("images".into()),
                Segment::Select {
                    key: "name".into(),
                    value: "ghcr.io/acme/api".into()
                },
                Segment::Key("newTag".into()),
            ]
        );
        assert_eq!(path.to_string(), "images[name=ghcr.io/acme/api].newTag");
        let edit: Edit = "containers[1].image.tag=v1=2".parse().unwrap();
        assert_eq!(edit.path.to_string(), "containers[1].image.tag");
        assert_eq!(edit.value, "v1=2");
        assert!("a..b".parse::<KeyPath>().is_err());
        assert!("a[x".parse::<KeyPath>().is_err());
        assert!("image.tag".parse::<Edit>().is_err());
    }

    #[test]
    fn a_scalar_keeps_its_quotes_and_everything_around_it() {
        let text =
            "# top\nimage:\n  repository: nginx # the web server\n  tag: \"1.25.0\" # pinned\n";
        assert_eq!(
            set(text, "image.tag=1.26.1").unwrap(),
            "# top\nimage:\n  repository: nginx # the web server\n  tag: \"1.26.1\" # pinned\n"
        );
        let text = "image: {repository: nginx, tag: '1.25'}";
        assert_eq!(
            set(text, "image.tag=1.26").unwrap(),
            "image: {repository: nginx, tag: '1.26'}"
        );
        assert_eq!(set("tag: v1\n", "tag=1.20").unwrap(), "tag: \"1.20\"\n");
        assert_eq!(set("tag: v1\n", "tag=v2").unwrap(), "tag: v2\n");
        assert_eq!(set("tag: 'it''s'\n", "tag=o'k").unwrap(), "tag: 'o''k'\n");
    }

    #[test]
    fn anchors_stay_and_aliases_are_refused() {
        let text = "version: &ver 1.2.3\nimage:\n  tag: *ver\n";
        assert_eq!(
            set(text, "version=1.3.0").unwrap(),
            "version: &ver 1.3.0\nimage:\n  tag: *ver\n"
        );
        let error = set(text, "image.tag=1.3.0").unwrap_err().to_string();
        assert!(
            error.contains("image.tag") && error.contains("alias"),
            "{error}"
        );
    }

    #[test]
    fn missing_keys_are_errors_except_in_a_selected_entry() {
        let error = set("image:\n  repository: x\n", "image.tag=1").unwrap_err();
        assert_eq!(
            error.to_string(),
            "image.tag: not found (no key `tag` under `image`)"
        );
        let text = "images:\n- name: nginx\n  newName: mirror/nginx # ours\n- name: redis\n";
        assert_eq!(
            set(text, "images[name=nginx].newTag=1.25").unwrap(),
            "images:\n- name: nginx\n  newName: mirror/nginx # ours\n  newTag: \"1.25\"\n- name: redis\n"
        );
        let text = "images:\r\n  - name: nginx\r\n    newTag: a\r\n";
        assert_eq!(
            set(text, "images[name=nginx].digest=sha256:00").unwrap(),
            "images:\r\n  - name: nginx\r\n    newTag: a\r\n    digest: sha256:00\r\n"
        );
        let error = set(text, "images[name=web].newTag=1")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no entry of `images` has name: web"),
            "{error}"
        );
    }

    #[test]
    fn an_empty_value_is_refused_and_two_fields_can_be_added_to_one_entry() {
        let error = set("image:\n  tag:\n  pullPolicy: Always\n", "image.tag=v2").unwrap_err();
        assert!(error.to_string().contains("has no value"), "{error}");
        let path: KeyPath = "image.tag".parse().unwrap();
        assert_eq!(get("image:\n  tag:\n", &path).unwrap(), None);
        let text = "images:\n- name: api\n  newName: r/api\n";
        let edits: Vec<Edit> = vec![
            "images[name=api].newTag=1.2.0".parse().unwrap(),
            "images[name=api].digest=sha256:ab".parse().unwrap(),
        ];
        assert_eq!(
            apply(text, &edits).unwrap().text,
            "images:\n- name: api\n  newName: r/api\n  newTag: 1.2.0\n  digest: sha256:ab\n"
        );
        let twice: Vec<Edit> = vec![
            "images[name=api].newName=a".parse().unwrap(),
            "images[name=api].newName=b".parse().unwrap(),
        ];
        assert!(matches!(
            apply(text, &twice),
            Err(EditError::Overlap { .. })
        ));
    }

    #[test]
    fn multibyte_text_before_the_scalar_keeps_offsets_right() {
        let text = "# café 日本\r\nimage:\r\n  tag: 1.0.0";
        assert_eq!(
            set(text, "image.tag=1.1.0").unwrap(),
            "# café 日本\r\nimage:\r\n  tag: 1.1.0"
        );
    }

    #[test]
    fn the_first_document_with_the_path_is_edited() {
        let text = "---\nkind: A\n---\nimage:\n  tag: a\n---\nimage:\n  tag: b\n";
        assert_eq!(
            set(text, "image.tag=c").unwrap(),
            "---\nkind: A\n---\nimage:\n  tag: c\n---\nimage:\n  tag: b\n"
        );
    }

    #[test]
    fn plain_values_that_would_change_type_are_quoted() {
        for value in [
            "1.20",
            "1",
            "true",
            "yes",
            "off",
            "null",
            "~",
            "1e3",
            "0x1F",
            "",
            " a",
            "a: b",
            "#x",
            "*x",
            "-",
            "1_000",
            "0o17",
            ".inf",
            "2024-01-15",
        ] {
            assert!(needs_quotes(value, false), "{value:?}");
        }
        for value in [
            "1.2.3",
            "v1.20",
            "sha256:abc",
            "latest",
            "1.2.3-rc.1",
            "a#b",
            "main-abc123",
        ] {
            assert!(!needs_quotes(value, false), "{value:?}");
        }
        assert!(needs_quotes("a,b", true));
    }
}
