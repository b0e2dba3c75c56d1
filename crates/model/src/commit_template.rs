//! The message of an image write-back commit, as Argo CD Image Updater's
//! `git.commit-message-template` writes it: a Go `text/template` over `.AppName` and
//! `.AppChanges` (each change has `.Image`, `.OldTag` and `.NewTag`).
//!
//! No template crate is in the workspace, and Image Updater's templates use a small part of Go's
//! language, so this is exactly that part: `{{.AppName}}`, `{{range .AppChanges}}…{{end}}`,
//! `{{.Image}}`, `{{.OldTag}}`, `{{.NewTag}}`, with Go's `{{- ` / ` -}}` whitespace trimming.
//! Anything else (`if`, `index .Labels`, variables, pipelines) is refused when the config is
//! loaded, naming the line, rather than rendering a message that differs from Image Updater's.

use std::fmt;

/// Image Updater's default template (`git.commit-message-template` unset).
pub const DEFAULT_COMMIT_TEMPLATE: &str = "build: automatic update of {{ .AppName }}\n\n{{ range .AppChanges -}}\nupdates image {{ .Image }} tag '{{ .OldTag }}' to '{{ .NewTag }}'\n{{ end -}}\n";

/// One image a write-back changes, as the template sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateChange<'a> {
    /// The image's name without its registry, as Image Updater's `.Image`.
    pub image: &'a str,
    pub old_tag: &'a str,
    pub new_tag: &'a str,
}

/// A parsed commit-message template.
#[derive(Clone, PartialEq, Eq)]
pub struct CommitTemplate {
    source: String,
    nodes: Vec<Node>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Text(String),
    AppName,
    Image,
    OldTag,
    NewTag,
    /// `{{range .AppChanges}}` … `{{end}}`.
    Range(Vec<Node>),
}

impl fmt::Debug for CommitTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CommitTemplate").field(&self.source).finish()
    }
}

impl Default for CommitTemplate {
    fn default() -> Self {
        CommitTemplate::parse(DEFAULT_COMMIT_TEMPLATE).expect("the default template parses")
    }
}

/// A piece of the template's text: literal text, or the inside of one `{{ }}` with the byte
/// offset it starts at (for the line in an error).
enum Token<'a> {
    Text(String),
    Action { body: &'a str, at: usize },
}

impl CommitTemplate {
    /// Parses `text`; the error names the line and the action that is not supported.
    pub fn parse(text: &str) -> Result<CommitTemplate, String> {
        let tokens = tokenize(text)?;
        let mut stack: Vec<(Vec<Node>, usize)> = vec![(Vec::new(), 0)];
        for token in tokens {
            let (body, at) = match token {
                Token::Text(t) => {
                    if !t.is_empty() {
                        stack.last_mut().expect("root").0.push(Node::Text(t));
                    }
                    continue;
                }
                Token::Action { body, at } => (body, at),
            };
            let in_range = stack.len() > 1;
            let words: Vec<&str> = body.split_whitespace().collect();
            let node = match words.as_slice() {
                [".AppName"] if !in_range => Node::AppName,
                [".Image"] if in_range => Node::Image,
                [".OldTag"] if in_range => Node::OldTag,
                [".NewTag"] if in_range => Node::NewTag,
                ["range", ".AppChanges"] if !in_range => {
                    stack.push((Vec::new(), at));
                    continue;
                }
                ["end"] if in_range => {
                    let (body, _) = stack.pop().expect("in a range");
                    Node::Range(body)
                }
                [".AppName" | "range", ..] if in_range => {
                    return Err(format!(
                        "line {}: `{{{{{body}}}}}` inside {{{{range .AppChanges}}}}: there `.` is one change (.Image, .OldTag, .NewTag)",
                        line_of(text, at)
                    ));
                }
                [".Image" | ".OldTag" | ".NewTag"] => {
                    return Err(format!(
                        "line {}: `{{{{{body}}}}}` outside {{{{range .AppChanges}}}}",
                        line_of(text, at)
                    ));
                }
                ["end"] => {
                    return Err(format!(
                        "line {}: {{{{end}}}} without {{{{range .AppChanges}}}}",
                        line_of(text, at)
                    ));
                }
                _ => {
                    return Err(format!(
                        "line {}: `{{{{{body}}}}}` is not supported; bosun renders {{{{.AppName}}}}, {{{{range .AppChanges}}}}…{{{{end}}}}, {{{{.Image}}}}, {{{{.OldTag}}}} and {{{{.NewTag}}}}",
                        line_of(text, at)
                    ));
                }
            };
            stack.last_mut().expect("root").0.push(node);
        }
        if stack.len() > 1 {
            let (_, at) = stack.pop().expect("open range");
            return Err(format!(
                "line {}: {{{{range .AppChanges}}}} has no {{{{end}}}}",
                line_of(text, at)
            ));
        }
        let (nodes, _) = stack.pop().expect("root");
        Ok(CommitTemplate {
            source: text.to_string(),
            nodes,
        })
    }

    /// The message for Application `app` and these changes.
    pub fn render(&self, app: &str, changes: &[TemplateChange<'_>]) -> String {
        let mut out = String::new();
        render(&self.nodes, app, None, changes, &mut out);
        out
    }
}

fn render(
    nodes: &[Node],
    app: &str,
    change: Option<&TemplateChange<'_>>,
    changes: &[TemplateChange<'_>],
    out: &mut String,
) {
    for node in nodes {
        match (node, change) {
            (Node::Text(t), _) => out.push_str(t),
            (Node::AppName, _) => out.push_str(app),
            (Node::Image, Some(c)) => out.push_str(c.image),
            (Node::OldTag, Some(c)) => out.push_str(c.old_tag),
            (Node::NewTag, Some(c)) => out.push_str(c.new_tag),
            (Node::Range(body), _) => {
                for c in changes {
                    render(body, app, Some(c), changes, out);
                }
            }
            // The parser puts change fields only inside a range.
            (Node::Image | Node::OldTag | Node::NewTag, None) => {}
        }
    }
}

/// Splits `text` into literal text and actions, applying Go's trim markers: `{{- ` drops the
/// white space before the action, ` -}}` the white space after it.
fn tokenize(text: &str) -> Result<Vec<Token<'_>>, String> {
    let mut tokens = Vec::new();
    let mut rest = 0;
    let mut trim_next = false;
    while let Some(open) = text[rest..].find("{{").map(|i| rest + i) {
        let close = text[open..]
            .find("}}")
            .map(|i| open + i)
            .ok_or_else(|| format!("line {}: `{{{{` is never closed", line_of(text, open)))?;
        let mut inner = &text[open + 2..close];
        let mut literal = &text[rest..open];
        if trim_next {
            literal = literal.trim_start();
        }
        if let Some(after) = inner.strip_prefix('-')
            && after.starts_with(char::is_whitespace)
        {
            literal = literal.trim_end();
            inner = after;
        }
        trim_next = false;
        if let Some(before) = inner.strip_suffix('-')
            && before.ends_with(char::is_whitespace)
        {
            trim_next = true;
            inner = before;
        }
        tokens.push(Token::Text(literal.to_string()));
        let body = inner.trim();
        if body.starts_with("/*") {
            return Err(format!(
                "line {}: comments are not supported",
                line_of(text, open)
            ));
        }
        tokens.push(Token::Action { body, at: open });
        rest = close + 2;
    }
    let mut literal = &text[rest..];
    if trim_next {
        literal = literal.trim_start();
    }
    tokens.push(Token::Text(literal.to_string()));
    Ok(tokens)
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes() -> Vec<TemplateChange<'static>> {
        vec![
            TemplateChange {
                image: "acme/api",
                old_tag: "1.2.0",
                new_tag: "1.10.0",
            },
            TemplateChange {
                image: "acme/worker",
                old_tag: "0.9",
                new_tag: "1.0",
            },
        ]
    }

    #[test]
    fn the_default_is_image_updaters_message() {
        assert_eq!(
            CommitTemplate::default().render("api-dev", &changes()[..1]),
            "build: automatic update of api-dev\n\nupdates image acme/api tag '1.2.0' to '1.10.0'\n"
        );
    }

    #[test]
    fn go_trim_markers_and_ranges_render_as_go_does() {
        // The helm chart's example (`config.gitCommitTemplate`), and a one-line form.
        let template = CommitTemplate::parse(
            "build: automatic update of \"{{ .AppName }}\"\n\n{{ range .AppChanges -}}\nupdates image \"{{ .Image }}\" tag \"{{ .OldTag }}\" to \"{{ .NewTag }}\"\n{{ end -}}\n",
        )
        .unwrap();
        assert_eq!(
            template.render("api", &changes()),
            "build: automatic update of \"api\"\n\nupdates image \"acme/api\" tag \"1.2.0\" to \"1.10.0\"\nupdates image \"acme/worker\" tag \"0.9\" to \"1.0\"\n"
        );
        let template =
            CommitTemplate::parse("chore({{.AppName}}):{{range .AppChanges}} {{.Image}}={{.NewTag}}{{end}}  {{- \"x\" | printf}}")
                .unwrap_err();
        assert!(
            template.contains("line 1: `{{\"x\" | printf}}` is not supported"),
            "{template}"
        );
        let template = CommitTemplate::parse(
            "chore({{.AppName}}):{{range .AppChanges}} {{.Image}}={{.NewTag}}{{end}}\n\n  {{- /* no */ -}}",
        );
        assert!(template.unwrap_err().contains("comments"));
        let template = CommitTemplate::parse(
            "chore({{.AppName}}):{{range .AppChanges}} {{.Image}}={{.NewTag}}{{end}}\n",
        )
        .unwrap();
        assert_eq!(
            template.render("api", &changes()),
            "chore(api): acme/api=1.10.0 acme/worker=1.0\n"
        );
        assert_eq!(template.render("api", &[]), "chore(api):\n");
        // `{{-3}}` is the number -3 in Go, not a trim marker.
        assert!(
            CommitTemplate::parse("{{-3}}")
                .unwrap_err()
                .contains("`{{-3}}`")
        );
    }

    #[test]
    fn anything_else_is_refused_with_its_line() {
        for (text, words) in [
            ("a {{ .AppName", "line 1: `{{` is never closed"),
            (
                "a\n{{ range .AppChanges }}x",
                "line 2: {{range .AppChanges}} has no {{end}}",
            ),
            ("{{end}}", "line 1: {{end}} without {{range .AppChanges}}"),
            (
                "{{ .Image }}",
                "line 1: `{{.Image}}` outside {{range .AppChanges}}",
            ),
            (
                "{{range .AppChanges}}{{.AppName}}{{end}}",
                "`{{.AppName}}` inside {{range .AppChanges}}",
            ),
            (
                "x\n\n{{ range .AppChanges -}}\n{{- if index .Labels \"org.opencontainers.image.revision\" }}{{end}}{{end}}",
                "line 4: `{{if index .Labels \"org.opencontainers.image.revision\"}}` is not supported",
            ),
            (
                "{{ .AppNamespace }}",
                "`{{.AppNamespace}}` is not supported",
            ),
        ] {
            let e = CommitTemplate::parse(text).unwrap_err();
            assert!(e.contains(words), "{text:?}: {e}");
        }
    }
}
