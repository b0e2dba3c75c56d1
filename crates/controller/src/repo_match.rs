//! Which Applications a GitHub push concerns: the same repository (however its URL is written:
//! https or ssh, with or without `.git`, user-info or a trailing slash) and a `targetRevision`
//! that the pushed ref moves.

/// `https://user@GitHub.com/Org/App.git/` and `git@github.com:Org/App` → `github.com/Org/App`.
pub fn normalize(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let rest = match url.split_once("://") {
        Some((_scheme, rest)) => rest.to_string(),
        // scp-like ssh: `git@host:path`.
        None => match url.split_once(':') {
            Some((host, path)) if !host.contains('/') => format!("{host}/{path}"),
            _ => url.to_string(),
        },
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest.as_str(), ""));
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    if host.is_empty() {
        format!("/{path}")
    } else {
        format!("{}/{path}", host.to_ascii_lowercase())
    }
}

/// Whether two repository URLs name the same repository.
pub fn same_repo(a: &str, b: &str) -> bool {
    normalize(a) == normalize(b)
}

/// Whether a push of `pushed_ref` (`refs/heads/main`, `refs/tags/v1.2.0`) can change what
/// `target_revision` resolves to. An empty or `HEAD` revision follows the default branch.
pub fn revision_moves(target_revision: &str, pushed_ref: &str, default_branch: &str) -> bool {
    let target = target_revision.trim();
    if let Some(branch) = pushed_ref.strip_prefix("refs/heads/") {
        return match target {
            "" | "HEAD" => branch == default_branch || default_branch.is_empty(),
            t => t == branch || t == pushed_ref,
        };
    }
    if let Some(tag) = pushed_ref.strip_prefix("refs/tags/") {
        return target == tag || target == pushed_ref;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_one_repository_match() {
        for url in [
            "https://github.com/org/app",
            "https://github.com/org/app.git",
            "https://bot:secret@GitHub.com/org/app/",
            "git@github.com:org/app.git",
            "ssh://git@github.com/org/app",
        ] {
            assert!(same_repo(url, "https://github.com/org/app.git"), "{url}");
        }
        assert!(!same_repo(
            "https://github.com/org/app2",
            "https://github.com/org/app"
        ));
        assert!(same_repo("file:///srv/repo", "/srv/repo/"));
    }

    #[test]
    fn pushed_refs_move_matching_revisions() {
        assert!(revision_moves("main", "refs/heads/main", "main"));
        assert!(!revision_moves("main", "refs/heads/dev", "main"));
        assert!(revision_moves("HEAD", "refs/heads/main", "main"));
        assert!(revision_moves("", "refs/heads/trunk", "trunk"));
        assert!(!revision_moves("HEAD", "refs/heads/feature", "main"));
        assert!(revision_moves("v1.2.0", "refs/tags/v1.2.0", "main"));
        assert!(!revision_moves("main", "refs/tags/main2", "main"));
    }
}
