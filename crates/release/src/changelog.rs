//! Release notes in Markdown, laid out like conventional-changelog's conventionalcommits preset
//! (what semantic-release's release-notes-generator prints): breaking changes first, then
//! features, fixes, performance, reverts; scopes in bold; short hashes linked.

use crate::bump::{AnalyzedCommit, Bump, Status};

/// Where the notes link commits: `{hash}` (full) and `{short}` are substituted.
#[derive(Debug, Clone, Default)]
pub struct Links {
    pub commit_url: Option<String>,
}

/// The sections, in order: (title, does this commit belong).
const SECTIONS: &[(&str, &[&str])] = &[
    ("Features", &["feat", "feature"]),
    ("Bug Fixes", &["fix"]),
    ("Performance Improvements", &["perf"]),
    ("Reverts", &["revert"]),
];

/// Renders one release. `commits` is the analysis (newest first); only counted commits that
/// bump or belong to a section appear, oldest first as in conventional-changelog.
pub fn render(version: &str, date: &str, commits: &[AnalyzedCommit], links: &Links) -> String {
    let mut out = format!("## {version} ({date})\n");
    let counted: Vec<&AnalyzedCommit> = commits
        .iter()
        .rev()
        .filter(|c| c.status == Status::Counted || (c.breaking && c.bump == Bump::Major))
        .collect();

    let breaking: Vec<String> = counted
        .iter()
        .filter(|c| c.breaking)
        .flat_map(|c| {
            let texts = if c.breaking_notes.is_empty() {
                vec![c.description.clone()]
            } else {
                c.breaking_notes.clone()
            };
            texts.into_iter().map(move |t| line(c, &t, links))
        })
        .collect();
    if !breaking.is_empty() {
        out.push_str("\n### ⚠ BREAKING CHANGES\n\n");
        for l in breaking {
            out.push_str(&l);
        }
    }
    for (title, types) in SECTIONS {
        let lines: Vec<String> = counted
            .iter()
            .filter(|c| c.type_.as_deref().is_some_and(|t| types.contains(&t)))
            .map(|c| line(c, &c.description, links))
            .collect();
        if lines.is_empty() {
            continue;
        }
        out.push_str(&format!("\n### {title}\n\n"));
        for l in lines {
            out.push_str(&l);
        }
    }
    out
}

fn line(commit: &AnalyzedCommit, text: &str, links: &Links) -> String {
    let short = &commit.hash[..commit.hash.len().min(7)];
    let hash = match &links.commit_url {
        Some(template) => format!(
            "[{short}]({})",
            template
                .replace("{hash}", &commit.hash)
                .replace("{short}", short)
        ),
        None => short.to_string(),
    };
    match &commit.scope {
        Some(scope) => format!("* **{scope}:** {text} ({hash})\n"),
        None => format!("* {text} ({hash})\n"),
    }
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

    #[test]
    fn sections_in_order_with_bold_scopes_and_links() {
        let commits = analyzed(&[
            "perf: faster",
            "docs: hidden",
            "fix(parser): handle tabs",
            "feat(api)!: drop v1\n\nBREAKING CHANGE: the v1 routes are gone",
            "feat: add widgets",
            "Update stuff",
        ]);
        let links = Links {
            commit_url: Some("https://example.test/c/{hash}".into()),
        };
        let notes = render("2.0.0", "2026-01-02", &commits, &links);
        let expected = "## 2.0.0 (2026-01-02)

### ⚠ BREAKING CHANGES

* **api:** the v1 routes are gone ([0000000](https://example.test/c/000000000000000000000000000000000abc0003))

### Features

* add widgets ([0000000](https://example.test/c/000000000000000000000000000000000abc0004))
* **api:** drop v1 ([0000000](https://example.test/c/000000000000000000000000000000000abc0003))

### Bug Fixes

* **parser:** handle tabs ([0000000](https://example.test/c/000000000000000000000000000000000abc0002))

### Performance Improvements

* faster ([0000000](https://example.test/c/000000000000000000000000000000000abc0000))
";
        assert_eq!(notes, expected);
    }

    #[test]
    fn unlinked_hashes_and_bang_without_note() {
        let notes = render(
            "1.0.0",
            "2026-01-02",
            &analyzed(&["fix!: x"]),
            &Links::default(),
        );
        assert!(
            notes.contains("### ⚠ BREAKING CHANGES\n\n* x (0000000)\n"),
            "{notes}"
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
