//! One commit message → what Conventional Commits 1.0.0 says about it.
//!
//! This module knows nothing about versions or profiles: it records what the message *says*
//! (type, scope, `!`, breaking-change footers, `git revert` metadata, `Release-As`) and leaves the
//! judgement — does `!` count, does `BREAKING-CHANGE:` count, what does `docs` bump — to
//! [`crate::profile`]. A malformed message is data, not an error: it simply does not bump.

use serde::Serialize;

/// What one commit message says, parsed once and judged later by a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedMessage {
    /// The first line, as written.
    pub header: String,
    /// The Conventional Commits header, or why the header is not one.
    pub header_kind: HeaderKind,
    /// `BREAKING CHANGE:` / `BREAKING-CHANGE:` lines after the header.
    pub breaking_notes: Vec<BreakingNote>,
    /// The commit this one reverts, when the message is what `git revert` writes.
    pub revert: Option<RevertOf>,
    /// A `Release-As: x.y.z` footer (release-please forces the version with it).
    pub release_as: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HeaderKind {
    Conventional {
        /// Lower-cased: the spec says types are not case sensitive.
        #[serde(rename = "type")]
        type_: String,
        scope: Option<String>,
        description: String,
        /// `type!:` or `type(scope)!:`.
        bang: bool,
    },
    Malformed {
        reason: String,
    },
}

/// A breaking-change footer. Which spelling was used matters: semantic-release's older angular
/// preset only knows `BREAKING CHANGE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakingNote {
    pub hyphenated: bool,
    pub text: String,
}

/// What `git revert` records: the reverted commit's header and hash (as written, maybe abbreviated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevertOf {
    pub header: String,
    pub hash: String,
}

impl ParsedMessage {
    pub fn type_(&self) -> Option<&str> {
        match &self.header_kind {
            HeaderKind::Conventional { type_, .. } => Some(type_),
            HeaderKind::Malformed { .. } => None,
        }
    }

    pub fn scope(&self) -> Option<&str> {
        match &self.header_kind {
            HeaderKind::Conventional { scope, .. } => scope.as_deref(),
            HeaderKind::Malformed { .. } => None,
        }
    }

    pub fn description(&self) -> &str {
        match &self.header_kind {
            HeaderKind::Conventional { description, .. } => description,
            HeaderKind::Malformed { .. } => &self.header,
        }
    }

    pub fn bang(&self) -> bool {
        matches!(
            self.header_kind,
            HeaderKind::Conventional { bang: true, .. }
        )
    }
}

/// Parses a full commit message. Never fails: a message that is not conventional comes back as
/// [`HeaderKind::Malformed`] with the parser's reason, which `--json` shows to the user.
pub fn parse(message: &str) -> ParsedMessage {
    let message = message.trim_start_matches(['\n', '\r']);
    let header = message.lines().next().unwrap_or("").trim_end().to_string();
    ParsedMessage {
        header_kind: parse_header(message, &header),
        breaking_notes: breaking_notes(message),
        revert: revert_of(message),
        release_as: release_as(message),
        header,
    }
}

fn parse_header(message: &str, header: &str) -> HeaderKind {
    if header.trim().is_empty() {
        return HeaderKind::Malformed {
            reason: "empty message".into(),
        };
    }
    // The whole message first (this validates the body/footer layout too); when only the
    // layout after the header is off — text after the footers, say — the header alone still
    // decides the type, as conventional-changelog's parser (semantic-release) does.
    let parsed = git_conventional::Commit::parse(message.trim_end())
        .or_else(|_| git_conventional::Commit::parse(header));
    match parsed {
        Ok(commit) => HeaderKind::Conventional {
            type_: commit.type_().as_str().to_lowercase(),
            scope: commit.scope().map(|s| s.as_str().to_string()),
            description: commit.description().trim().to_string(),
            bang: header_has_bang(header, commit.type_().as_str()),
        },
        Err(err) => HeaderKind::Malformed {
            reason: err.to_string(),
        },
    }
}

/// git-conventional folds `!` and breaking footers into one flag; profiles need `!` on its own.
fn header_has_bang(header: &str, type_: &str) -> bool {
    let mut rest = &header[type_.len().min(header.len())..];
    if rest.starts_with('(')
        && let Some(close) = rest.find(')')
    {
        rest = &rest[close + 1..];
    }
    rest.starts_with('!')
}

/// Breaking-change notes anywhere after the header. The spec places them in the footer, but
/// conventional-changelog's parser (and so semantic-release) accepts such a line anywhere in the
/// body; being as lenient keeps versions equal. The token is case-sensitive: the spec says
/// "BREAKING CHANGE MUST be uppercase".
fn breaking_notes(message: &str) -> Vec<BreakingNote> {
    let mut notes = Vec::new();
    let mut lines = message.lines().skip(1).peekable();
    while let Some(line) = lines.next() {
        let line = line.trim_start_matches([' ', '\t', '*', '|']);
        let (hyphenated, rest) = if let Some(rest) = line.strip_prefix("BREAKING CHANGE:") {
            (false, rest)
        } else if let Some(rest) = line.strip_prefix("BREAKING-CHANGE:") {
            (true, rest)
        } else {
            continue;
        };
        // A note runs until a blank line (or the next note): footers may wrap, and the lines
        // stay lines, as in conventional-changelog's parser (the notes print them so).
        let mut text = rest.trim().to_string();
        while let Some(next) = lines.peek() {
            let trimmed = next.trim();
            if trimmed.is_empty()
                || trimmed.starts_with("BREAKING CHANGE:")
                || trimmed.starts_with("BREAKING-CHANGE:")
            {
                break;
            }
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(trimmed);
            lines.next();
        }
        notes.push(BreakingNote { hyphenated, text });
    }
    notes
}

/// `git revert` writes `Revert "<header>"` + `This reverts commit <sha>.`; conventional-changelog
/// also accepts `revert: <header>` with the same line. Mirrors its `revertPattern`
/// (`^(?:Revert|revert:)\s"?([\s\S]+?)"?\s*This reverts commit (\w*)\.`, case-insensitive).
fn revert_of(message: &str) -> Option<RevertOf> {
    let lower = message.to_ascii_lowercase();
    let prefix_len = if lower.starts_with("revert:") {
        "revert:".len()
    } else if lower.starts_with("revert") {
        "revert".len()
    } else {
        return None;
    };
    let after = &message[prefix_len..];
    let mut chars = after.chars();
    if !chars.next()?.is_whitespace() {
        return None;
    }
    let after = chars.as_str();
    let marker = "this reverts commit ";
    let at = after.to_ascii_lowercase().find(marker)?;
    let mut reverted_header = after[..at].trim_end();
    reverted_header = reverted_header.strip_suffix('"').unwrap_or(reverted_header);
    reverted_header = reverted_header.strip_prefix('"').unwrap_or(reverted_header);
    let tail = &after[at + marker.len()..];
    let hash_len = tail
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(tail.len());
    if !tail[hash_len..].starts_with('.') {
        return None;
    }
    Some(RevertOf {
        header: reverted_header.trim().to_string(),
        hash: tail[..hash_len].to_string(),
    })
}

/// release-please's `Release-As: x.y.z` footer (token case-insensitive, as footers are).
fn release_as(message: &str) -> Option<String> {
    message.lines().skip(1).find_map(|line| {
        let (token, value) = line.split_once(':')?;
        token
            .trim()
            .eq_ignore_ascii_case("release-as")
            .then(|| value.trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conventional(m: &ParsedMessage) -> (&str, Option<&str>, &str, bool) {
        (m.type_().unwrap(), m.scope(), m.description(), m.bang())
    }

    #[test]
    fn header_with_scope_and_bang() {
        let m = parse("feat(api)!: drop v1\n\nlong body\n");
        assert_eq!(conventional(&m), ("feat", Some("api"), "drop v1", true));
        assert!(m.breaking_notes.is_empty());
    }

    #[test]
    fn types_are_case_insensitive() {
        assert_eq!(parse("FEAT: x").type_(), Some("feat"));
        assert_eq!(parse("Fix(Core): y").scope(), Some("Core"));
    }

    #[test]
    fn breaking_footers_both_spellings_uppercase_only() {
        let m = parse("fix: a\n\nbody\n\nBREAKING CHANGE: gone\nwrapped\n\nBREAKING-CHANGE: also");
        assert_eq!(
            m.breaking_notes,
            vec![
                BreakingNote {
                    hyphenated: false,
                    text: "gone\nwrapped".into()
                },
                BreakingNote {
                    hyphenated: true,
                    text: "also".into()
                }
            ]
        );
        assert!(
            parse("fix: a\n\nbreaking change: lower")
                .breaking_notes
                .is_empty()
        );
        // A breaking token in the header is not a footer.
        assert!(parse("BREAKING CHANGE: x").breaking_notes.is_empty());
    }

    #[test]
    fn malformed_messages_are_data() {
        for msg in [
            "Update stuff",
            "WIP",
            "",
            "feat missing colon",
            "Merge branch 'x'",
        ] {
            let m = parse(msg);
            assert!(
                matches!(m.header_kind, HeaderKind::Malformed { .. }),
                "{msg:?} parsed as {m:?}"
            );
            assert_eq!(m.type_(), None);
        }
    }

    #[test]
    fn text_after_footers_keeps_the_header() {
        let m = parse("feat: x\n\nBREAKING CHANGE: y\n\ntrailing prose after the footer\n");
        assert_eq!(m.type_(), Some("feat"));
        assert_eq!(m.breaking_notes.len(), 1);
    }

    #[test]
    fn git_revert_message() {
        let m = parse(
            "Revert \"feat: add x\"\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.\n",
        );
        assert_eq!(m.type_(), None);
        assert_eq!(
            m.revert,
            Some(RevertOf {
                header: "feat: add x".into(),
                hash: "0123456789abcdef0123456789abcdef01234567".into()
            })
        );
        let m = parse("revert: feat: add x\n\nThis reverts commit abc1234.");
        assert_eq!(m.type_(), Some("revert"));
        assert_eq!(m.revert.unwrap().hash, "abc1234");
        assert_eq!(parse("revert: feat: add x").revert, None);
    }

    #[test]
    fn release_as_footer() {
        assert_eq!(
            parse("chore: x\n\nRelease-As: 2.0.0").release_as.as_deref(),
            Some("2.0.0")
        );
        assert_eq!(parse("chore: release-as: 2.0.0").release_as, None);
    }
}
