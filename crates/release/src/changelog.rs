//! Release notes in Markdown, as conventional-changelog's conventionalcommits preset writes them
//! (what semantic-release's release-notes-generator prints; checked against its writer,
//! conventional-changelog-conventionalcommits 9.3.1):
//!
//! * which commits appear and under which heading is the preset's `types` list
//!   ([`default_types`], replaceable in the config): a listed, visible type goes under its
//!   section; a hidden or unlisted one only when it is breaking (`chore!: …` is listed under
//!   BREAKING CHANGES *and* under Miscellaneous Chores);
//! * sections in the order of the list (an unlisted type's group, and the untitled group of
//!   breaking commits whose header is not conventional, come first); entries sorted by scope then
//!   subject (`commitsSort: ['scope', 'subject']`, compared like `localeCompare`);
//! * BREAKING CHANGES first, its notes newest first (the preset does not sort them), each with the
//!   commit's scope and no hash;
//! * `#123` in a subject linked to the issue, and short hashes linked to the commit, when the
//!   repository's URL is known; else the hash alone, without parentheses.

use std::cmp::Ordering;

use serde::Deserialize;

use crate::bump::{AnalyzedCommit, Status};

/// Where the notes link commits (`{hash}` full, `{short}`) and issues (`{id}`).
#[derive(Debug, Clone, Default)]
pub struct Links {
    pub commit_url: Option<String>,
    pub issue_url: Option<String>,
}

impl Links {
    /// Commit links from `commit_url`; issue links from `issue_url`, else from a commit URL of the
    /// usual form `<repository>/commit/{hash}` (GitHub, GitLab, Gitea: `<repository>/issues/{id}`,
    /// the preset's `issueUrlFormat`).
    pub fn new(commit_url: Option<String>, issue_url: Option<String>) -> Links {
        let issue_url = issue_url.or_else(|| {
            let repository = commit_url.as_deref()?.strip_suffix("/commit/{hash}")?;
            Some(format!("{repository}/issues/{{id}}"))
        });
        Links {
            commit_url,
            issue_url,
        }
    }
}

/// One entry of the preset's `types`: commits of `type` (and `scope`, if given) are listed under
/// `section`, unless `hidden`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeSection {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub section: Option<String>,
    #[serde(default)]
    pub hidden: bool,
}

/// The preset's `DEFAULT_COMMIT_TYPES`.
pub fn default_types() -> Vec<TypeSection> {
    [
        ("feat", "Features", false),
        ("feature", "Features", false),
        ("fix", "Bug Fixes", false),
        ("perf", "Performance Improvements", false),
        ("revert", "Reverts", false),
        ("docs", "Documentation", true),
        ("style", "Styles", true),
        ("chore", "Miscellaneous Chores", true),
        ("refactor", "Code Refactoring", true),
        ("test", "Tests", true),
        ("build", "Build System", true),
        ("ci", "Continuous Integration", true),
    ]
    .into_iter()
    .map(|(type_, section, hidden)| TypeSection {
        type_: type_.into(),
        scope: None,
        section: Some(section.into()),
        hidden,
    })
    .collect()
}

/// A commit as the notes show it (the preset's `transform`).
struct Entry<'a> {
    commit: &'a AnalyzedCommit,
    /// Section title; `None` for the untitled group.
    group: Option<String>,
    scope: Option<&'a str>,
    /// The description with issue references linked; `None` when the header is not
    /// conventional (the header is shown instead).
    subject: Option<String>,
    notes: Vec<&'a str>,
}

/// Renders one release. `commits` is the analysis, newest first (as `git log` and
/// semantic-release list them).
pub fn render(
    version: &str,
    date: &str,
    commits: &[AnalyzedCommit],
    links: &Links,
    types: &[TypeSection],
) -> String {
    let entries: Vec<Entry> = commits
        .iter()
        .filter_map(|c| entry(c, links, types))
        .collect();
    let mut out = format!("## {version} ({date})\n");

    let notes: Vec<String> = entries
        .iter()
        .flat_map(|e| {
            e.notes.iter().map(move |text| match e.scope {
                Some(scope) => format!("* **{scope}:** {text}\n"),
                None => format!("* {text}\n"),
            })
        })
        .collect();
    if !notes.is_empty() {
        out.push_str("\n### ⚠ BREAKING CHANGES\n\n");
        out.extend(notes);
    }

    // Groups in order of first appearance, then (stably) by the rank of their section in
    // `types`; a group whose title is not a section ranks -1, before all of them.
    let mut groups: Vec<(Option<String>, Vec<&Entry>)> = Vec::new();
    for e in &entries {
        match groups.iter_mut().find(|(title, _)| *title == e.group) {
            Some((_, members)) => members.push(e),
            None => groups.push((e.group.clone(), vec![e])),
        }
    }
    let sections: Vec<&str> = types.iter().filter_map(|t| t.section.as_deref()).collect();
    let rank = |title: &Option<String>| {
        title
            .as_deref()
            .and_then(|t| sections.iter().position(|s| *s == t))
            .map_or(-1, |i| i as i64)
    };
    groups.sort_by_key(|(title, _)| rank(title));
    for (title, mut members) in groups {
        members.sort_by(|a, b| locale_cmp(&sort_key(a), &sort_key(b)));
        match title {
            Some(title) => out.push_str(&format!("\n### {title}\n\n")),
            None => out.push('\n'),
        }
        for e in members {
            out.push_str(&line(e, links));
        }
    }
    out
}

/// The preset's `transform`: `None` drops the commit from the notes.
fn entry<'a>(c: &'a AnalyzedCommit, links: &Links, types: &[TypeSection]) -> Option<Entry<'a>> {
    // Cancelled revert pairs are filtered out (the writer's `ignoreReverted`), skipped commits
    // never reached the analysis.
    if !matches!(c.status, Status::Counted | Status::Malformed { .. }) {
        return None;
    }
    let notes: Vec<&str> = match (c.breaking, c.breaking_notes.is_empty()) {
        (false, _) => Vec::new(),
        // `type!: description` without a footer: the parser makes the description the note.
        (true, true) => vec![c.description.as_str()],
        (true, false) => c.breaking_notes.iter().map(String::as_str).collect(),
    };
    let key = if c.revert {
        "revert"
    } else {
        c.type_.as_deref().unwrap_or("")
    };
    let found = types.iter().find(|t| {
        t.type_.eq_ignore_ascii_case(key)
            && t.scope
                .as_deref()
                .is_none_or(|s| c.scope.as_deref() == Some(s))
    });
    // Breaking changes of any type are shown.
    if notes.is_empty() && found.is_none_or(|t| t.hidden) {
        return None;
    }
    let group = match found {
        Some(t) => t.section.clone(),
        None => c.type_.clone(),
    };
    let subject = c.type_.as_ref().map(|_| link_issues(&c.description, links));
    Some(Entry {
        commit: c,
        group,
        scope: c.scope.as_deref().filter(|s| *s != "*"),
        subject,
        notes,
    })
}

/// `commitsSort: ['scope', 'subject']`: the two strings concatenated.
fn sort_key(e: &Entry) -> String {
    format!(
        "{}{}",
        e.scope.unwrap_or_default(),
        e.subject.as_deref().unwrap_or_default()
    )
}

fn line(e: &Entry, links: &Links) -> String {
    let c = e.commit;
    let short = &c.hash[..c.hash.len().min(7)];
    let hash = match &links.commit_url {
        Some(template) => format!(
            "([{short}]({}))",
            template
                .replace("{hash}", &c.hash)
                .replace("{short}", short)
        ),
        None => short.to_string(),
    };
    let text = e.subject.as_deref().unwrap_or(&c.header);
    match e.scope {
        Some(scope) => format!("* **{scope}:** {text} {hash}\n"),
        None => format!("* {text} {hash}\n"),
    }
}

/// `#123` → `[#123](<issue url>)`: the preset's `/(#)([a-z0-9]+)/g` on the subject, when issue
/// links are known (the preset would write `undefined/…` without them).
fn link_issues(subject: &str, links: &Links) -> String {
    let Some(template) = &links.issue_url else {
        return subject.to_string();
    };
    let mut out = String::with_capacity(subject.len());
    let mut rest = subject;
    while let Some(at) = rest.find('#') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let len = after
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
            .unwrap_or(after.len());
        if len == 0 {
            out.push('#');
        } else {
            let id = &after[..len];
            out.push_str(&format!("[#{id}]({})", template.replace("{id}", id)));
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// JavaScript's `a.localeCompare(b)` in the root locale, closely enough for commit subjects:
/// ICU's order of character classes (spaces, punctuation, symbols, digits, letters), letters
/// compared without case first, then lower case before upper case.
fn locale_cmp(a: &str, b: &str) -> Ordering {
    fn primary(c: char) -> (u8, u32) {
        const PUNCTUATION: &str = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";
        if c.is_whitespace() {
            (0, c as u32)
        } else if let Some(i) = PUNCTUATION.find(c) {
            (1, i as u32)
        } else if c.is_ascii_digit() {
            (3, c as u32)
        } else if c.is_alphabetic() {
            (4, c.to_lowercase().next().unwrap_or(c) as u32)
        } else {
            (2, c as u32)
        }
    }
    a.chars()
        .map(primary)
        .cmp(b.chars().map(primary))
        .then_with(|| {
            // Lower case first: `a` < `A`.
            a.chars()
                .map(|c| c.is_uppercase())
                .cmp(b.chars().map(|c| c.is_uppercase()))
        })
}

/// Puts `notes` on top of an existing changelog: below a leading `# Title` line if there is one.
/// Running twice for the same version does not add a second copy.
pub fn prepend(existing: &str, notes: &str) -> String {
    let heading = notes.lines().next().unwrap_or_default();
    if !heading.is_empty() && existing.lines().any(|l| l == heading) {
        return existing.to_string();
    }
    let (title, rest) = match existing.strip_prefix("# ") {
        Some(_) => {
            let end = existing.find('\n').map_or(existing.len(), |i| i + 1);
            (&existing[..end], existing[end..].trim_start_matches('\n'))
        }
        None => ("", existing),
    };
    let mut out = String::new();
    if !title.is_empty() {
        out.push_str(title);
        if !title.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(notes.trim_end());
    out.push('\n');
    if !rest.is_empty() {
        out.push('\n');
        out.push_str(rest);
    }
    out
}

/// `YYYY-MM-DD` (UTC) for seconds since the epoch; the civil-from-days algorithm (H. Hinnant),
/// so a date needs no time-zone crate.
pub fn date(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bump::{CommitInput, analyze};
    use crate::profile::{Profile, ProfileName};

    fn analyzed(messages: &[&str]) -> Vec<AnalyzedCommit> {
        let commits: Vec<CommitInput> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| CommitInput {
                id: format!("{:040x}", 0xabc0000 + i),
                message: m.to_string(),
            })
            .collect();
        analyze(&commits, &Profile::new(ProfileName::SemanticRelease)).commits
    }

    /// Expected outputs are what conventional-changelog-writer 8 with
    /// conventional-changelog-conventionalcommits 9.3.1 writes for the same commits (newest
    /// first, same hashes; host https://example.test, owner acme, repository app).
    #[test]
    fn sections_sorted_by_scope_then_subject_breaking_chores_and_issue_links() {
        let commits = analyzed(&[
            "perf: faster",
            "docs: hidden",
            "fix(parser): handle tabs (#12)",
            "feat(api)!: drop v1\n\nBREAKING CHANGE: the v1 routes are gone",
            "feat: add widgets",
            "Update stuff",
            "chore!: drop node 18",
            "feat(api): a second",
            "feat(Api): upper",
            "fix: see #abc",
        ]);
        let links = Links::new(
            Some("https://example.test/acme/app/commit/{hash}".into()),
            None,
        );
        let notes = render("2.0.0", "2026-01-02", &commits, &links, &default_types());
        let c = |n: u32| {
            format!(
                "([0000000](https://example.test/acme/app/commit/000000000000000000000000000000000abc000{n}))"
            )
        };
        let expected = format!(
            "## 2.0.0 (2026-01-02)

### ⚠ BREAKING CHANGES

* **api:** the v1 routes are gone
* drop node 18

### Features

* add widgets {}
* **api:** a second {}
* **api:** drop v1 {}
* **Api:** upper {}

### Bug Fixes

* **parser:** handle tabs ([#12](https://example.test/acme/app/issues/12)) {}
* see [#abc](https://example.test/acme/app/issues/abc) {}

### Performance Improvements

* faster {}

### Miscellaneous Chores

* drop node 18 {}
",
            c(4),
            c(7),
            c(3),
            c(8),
            c(2),
            c(9),
            c(0),
            c(6)
        );
        assert_eq!(notes, expected);
    }

    #[test]
    fn untitled_and_unlisted_groups_reverts_notes_newest_first_and_plain_hashes() {
        let commits = analyzed(&[
            "Revert \"feat: shipped\"\n\nThis reverts commit 1234567890abcdef1234567890abcdef12345678.",
            "Update the loader\n\nBREAKING CHANGE: old file ignored",
            "foo!: odd type",
            "feat(*): everywhere",
            "feat: x\n\nBREAKING CHANGE: first\nsecond line\n\nBREAKING CHANGE: another",
            "fix: (#7) unlinked",
            "feat(z): b",
            "feat: Zed",
            "feat: _under",
            "feat: 9 digits",
            "feat(a-b): dash",
            "feat(a_b): underscore",
            "feat(ab): plain",
        ]);
        let notes = render(
            "2.0.0",
            "2026-01-02",
            &commits,
            &Links::default(),
            &default_types(),
        );
        // The preset writes `undefined/undefined/undefined/issues/7` without a repository;
        // bosun leaves the reference as it is.
        let expected = "## 2.0.0 (2026-01-02)

### ⚠ BREAKING CHANGES

* old file ignored
* odd type
* first
second line
* another

* Update the loader 0000000

### foo

* odd type 0000000

### Features

* _under 0000000
* 9 digits 0000000
* **a_b:** underscore 0000000
* **a-b:** dash 0000000
* **ab:** plain 0000000
* everywhere 0000000
* x 0000000
* **z:** b 0000000
* Zed 0000000

### Bug Fixes

* (#7) unlinked 0000000

### Reverts

* Revert \"feat: shipped\" 0000000
";
        assert_eq!(notes, expected);
    }

    #[test]
    fn configured_types_replace_the_defaults() {
        let commits = analyzed(&[
            "docs: readme",
            "chore(deps): bump",
            "feat: y",
            "refactor: r",
        ]);
        let types: Vec<TypeSection> = serde_saphyr::from_str(
            "- {type: feat, section: New}\n- {type: docs, section: Documentation}\n\
             - {type: chore, section: Chores, hidden: false}\n- {type: refactor, hidden: true}\n",
        )
        .unwrap();
        let notes = render("2.0.0", "2026-01-02", &commits, &Links::default(), &types);
        assert_eq!(
            notes,
            "## 2.0.0 (2026-01-02)

### New

* y 0000000

### Documentation

* readme 0000000

### Chores

* **deps:** bump 0000000
"
        );
    }

    #[test]
    fn issue_links_come_from_the_commit_url_or_their_own_template() {
        let derived = Links::new(Some("https://github.com/o/r/commit/{hash}".into()), None);
        assert_eq!(
            derived.issue_url.as_deref(),
            Some("https://github.com/o/r/issues/{id}")
        );
        assert_eq!(
            Links::new(Some("https://cgit.example/r?id={hash}".into()), None).issue_url,
            None
        );
        let own = Links::new(None, Some("https://jira.example/browse/{id}".into()));
        assert_eq!(
            link_issues("x #12, #a1b and #Z (#)", &own),
            "x [#12](https://jira.example/browse/12), [#a1b](https://jira.example/browse/a1b) and #Z (#)"
        );
    }

    #[test]
    fn prepend_keeps_title_and_is_idempotent() {
        let existing = "# Changelog\n\n## 1.0.0 (2025-01-01)\n\n* old\n";
        let notes = "## 1.1.0 (2026-01-02)\n\n### Features\n\n* new\n";
        let once = prepend(existing, notes);
        assert_eq!(
            once,
            "# Changelog\n\n## 1.1.0 (2026-01-02)\n\n### Features\n\n* new\n\n## 1.0.0 (2025-01-01)\n\n* old\n"
        );
        assert_eq!(prepend(&once, notes), once);
        assert_eq!(prepend("", notes), notes);
    }

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_767_312_000), "2026-01-02");
        assert_eq!(date(951_782_400), "2000-02-29");
    }
}
