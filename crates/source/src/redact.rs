//! Keeping secrets out of text: every error message and log line this crate produces goes through
//! here, because a token can arrive inside a repoURL (`https://user:token@host/...`) as easily as
//! through [`Credentials`](crate::Credentials).

/// What a removed secret is replaced with.
pub const MASK: &str = "***";

/// Hides the secret part of a URL's user-info.
///
/// - `https://user:token@host/x` → `https://user:***@host/x`
/// - `https://token@host/x` → `https://***@host/x` (GitHub and others accept a token as the user
///   name, so for http(s) a lone user name is treated as a secret)
/// - `ssh://git@host/x` and `git@host:x` are unchanged: an ssh user name is not a secret.
///
/// Anything that is not a URL with user-info comes back unchanged.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let scheme = &url[..scheme_end];
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    let user_info = &rest[..at];
    let redacted_user_info = match user_info.split_once(':') {
        Some((user, _password)) => format!("{user}:{MASK}"),
        None if is_http(scheme) => MASK.to_string(),
        None => user_info.to_string(),
    };
    format!("{scheme}://{redacted_user_info}{}", &rest[at..])
}

/// Redacts every URL embedded in `text` (as [`redact_url`] does) and replaces each of `secrets`
/// wherever it appears, so that messages from gix, `ssh` or `git-upload-pack` — which may quote
/// a URL or echo a credential — can be shown safely.
pub fn redact_text(text: &str, secrets: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let scheme_start = rest[..pos]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let url_end = rest[pos..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .map_or(rest.len(), |i| pos + i);
        out.push_str(&rest[..scheme_start]);
        out.push_str(&redact_url(&rest[scheme_start..url_end]));
        rest = &rest[url_end..];
    }
    out.push_str(rest);
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret, MASK);
    }
    out
}

fn is_http(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_masked_and_user_kept() {
        assert_eq!(
            redact_url("https://oauth2:ghp_abc123@github.com/org/repo.git"),
            "https://oauth2:***@github.com/org/repo.git"
        );
    }

    #[test]
    fn lone_http_user_is_treated_as_a_token() {
        assert_eq!(
            redact_url("https://ghp_abc123@github.com/org/repo"),
            "https://***@github.com/org/repo"
        );
    }

    #[test]
    fn ssh_user_is_not_a_secret() {
        assert_eq!(
            redact_url("ssh://git@host/org/repo"),
            "ssh://git@host/org/repo"
        );
        assert_eq!(redact_url("git@host:org/repo.git"), "git@host:org/repo.git");
        assert_eq!(
            redact_url("ssh://git:pw@host:22/org/repo"),
            "ssh://git:***@host:22/org/repo"
        );
    }

    #[test]
    fn urls_without_user_info_are_unchanged() {
        for url in [
            "https://github.com/org/repo",
            "file:///tmp/repo",
            "/tmp/repo",
            "https://host/a@b", // `@` in the path is not user-info
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    #[test]
    fn an_at_sign_in_the_password_does_not_leak_its_first_half() {
        assert_eq!(redact_url("https://u:p@ss@host/r"), "https://u:***@host/r");
    }

    #[test]
    fn text_with_several_urls_and_a_literal_secret() {
        let text = "fetch 'https://u:s3cret@a.example/r' failed; retried https://tok@b.example/r: \
                    server said s3cret is wrong";
        let redacted = redact_text(text, &["s3cret", ""]);
        assert_eq!(
            redacted,
            "fetch 'https://u:***@a.example/r' failed; retried https://***@b.example/r: \
             server said *** is wrong"
        );
        assert!(!redacted.contains("tok@"));
    }

    #[test]
    fn text_without_urls_is_unchanged() {
        assert_eq!(
            redact_text("no urls here: a:b@c", &[]),
            "no urls here: a:b@c"
        );
    }
}
