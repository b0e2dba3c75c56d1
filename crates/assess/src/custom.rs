//! Health rules the user configured (Argo CD's `resource.customizations.health.*`, read by
//! `bosun_model::customizations`), compiled once and consulted before the built-in checks: as in
//! Argo CD, a configured Lua check wins over bosun's own check of that kind.
//!
//! They are installed for the whole process ([`install`]) because health is assessed in many
//! places (comparison, sync waves, hooks, `--wait`) that all must agree.

use std::sync::{Arc, RwLock};

use bosun_model::customizations::Customizations;

use crate::lua::LuaHealth;

/// Compiled health rules: `(pattern, check)` in the order they are tried.
#[derive(Debug, Default)]
pub struct CustomHealth {
    rules: Customizations,
    checks: Vec<LuaHealth>,
}

static INSTALLED: RwLock<Option<Arc<CustomHealth>>> = RwLock::new(None);

impl CustomHealth {
    /// Compiles every health script; the error names the argocd-cm key of the first that does
    /// not compile.
    pub fn new(rules: Customizations) -> Result<CustomHealth, String> {
        let mut checks = Vec::new();
        for rule in &rules.health {
            let check = LuaHealth {
                script: rule.script.clone(),
                open_libs: rule.open_libs,
            };
            check
                .check_syntax()
                .map_err(|e| format!("{}: the Lua script does not compile: {e}", rule.origin))?;
            checks.push(check);
        }
        Ok(CustomHealth { rules, checks })
    }

    /// The configured check for objects of `group`/`kind`, if any.
    pub fn check_for(&self, group: &str, kind: &str) -> Option<&LuaHealth> {
        let rule = self.rules.health_rule(group, kind)?;
        let at = self.rules.health.iter().position(|r| r == rule)?;
        self.checks.get(at)
    }

    /// How many checks are configured.
    pub fn len(&self) -> usize {
        self.checks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }
}

/// Makes `custom` the rules every later [`crate::assess`] in this process uses.
pub fn install(custom: CustomHealth) {
    *INSTALLED.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(custom));
}

pub(crate) fn installed() -> Option<Arc<CustomHealth>> {
    INSTALLED
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .filter(|c| !c.is_empty())
}
