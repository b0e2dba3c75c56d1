//! Argo CD's build environment (`ARGOCD_APP_*`, `KUBE_VERSION`, `KUBE_API_VERSIONS`): the
//! variables config management plugins see, and what `$VAR` in a Jsonnet external variable or
//! top-level argument expands to (Argo CD's `Env.Envsubst`).

use crate::renderer::RenderRequest;

/// The variables of Argo CD's `newEnv`, in its order.
pub(crate) fn build_env(req: &RenderRequest<'_>, path: &str) -> Vec<(String, String)> {
    let short = |n: usize| req.commit.get(..n).unwrap_or(req.commit).to_owned();
    let kube_version = req
        .kube_version
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches('v')
        .split('+')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut api_versions = req.api_versions.clone();
    api_versions.sort();
    vec![
        ("ARGOCD_APP_NAME".into(), req.app_name.into()),
        ("ARGOCD_APP_NAMESPACE".into(), req.namespace.into()),
        ("ARGOCD_APP_PROJECT_NAME".into(), req.project.into()),
        ("ARGOCD_APP_REVISION".into(), req.commit.into()),
        ("ARGOCD_APP_REVISION_SHORT".into(), short(7)),
        ("ARGOCD_APP_REVISION_SHORT_8".into(), short(8)),
        (
            "ARGOCD_APP_SOURCE_REPO_URL".into(),
            req.source.repo_url.clone(),
        ),
        ("ARGOCD_APP_SOURCE_PATH".into(), path.into()),
        (
            "ARGOCD_APP_SOURCE_TARGET_REVISION".into(),
            req.source.target_revision.clone().unwrap_or_default(),
        ),
        ("KUBE_VERSION".into(), kube_version),
        ("KUBE_API_VERSIONS".into(), api_versions.join(",")),
    ]
}

/// `$NAME` and `${NAME}` replaced by their value in `env` (an unknown name by nothing), `$$` by
/// `$`: Go's `os.Expand` as Argo CD uses it.
pub(crate) fn envsubst(text: &str, env: &[(String, String)]) -> String {
    let lookup = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => {
                    out.push_str(lookup(&braced[..end]));
                    rest = &braced[end + 1..];
                }
                // `${` without a closing brace: Go drops the bad syntax.
                None => rest = "",
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if end == 0 {
                // A lone `$` (before a space, at the end) stays as written.
                out.push('$');
            } else {
                out.push_str(lookup(&after[..end]));
            }
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envsubst_expands_as_go_does() {
        let env = vec![
            ("ARGOCD_APP_NAME".to_owned(), "shop".to_owned()),
            ("A_1".to_owned(), "x".to_owned()),
        ];
        assert_eq!(envsubst("app-$ARGOCD_APP_NAME", &env), "app-shop");
        assert_eq!(envsubst("${ARGOCD_APP_NAME}-db", &env), "shop-db");
        assert_eq!(envsubst("$A_1.$UNKNOWN.", &env), "x..");
        assert_eq!(envsubst("cost: $$5 $", &env), "cost: $5 $");
        assert_eq!(envsubst("plain", &env), "plain");
    }
}
