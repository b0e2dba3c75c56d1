//! Health checks written in Lua, run as Argo CD runs them (`util/lua/lua.go`): Lua 5.1 (Argo CD
//! uses gopher-lua, a Lua 5.1), the object in the global `obj`, and the script's last return
//! value a table `{status = "...", message = "..."}`.
//!
//! Each run gets a fresh interpreter with a budget: one second of time (Argo CD's timeout) and
//! 32 MiB of memory, so a script that loops or allocates for ever is cut off and the object is
//! Unknown with the reason. Without `useOpenLibs` a script has the base library without its file
//! loaders (`dofile`, `loadfile`), `table`, `string`, `math`, and an `os` with only `time`,
//! `date` and `clock` (also through `require("os")`, Argo CD's way to reach it); no `io`, no
//! `os.execute`, no loading of modules or C libraries. Argo CD leaves `string` and `math` closed
//! there; opening them lets every script Argo CD runs run here as well. With `useOpenLibs` every
//! library but `debug` is open, as in Argo CD.

use std::time::{Duration, Instant};

use mlua::{HookTriggers, Lua, LuaOptions, LuaSerdeExt, MultiValue, StdLib, VmState};
use serde_json::Value;

use crate::status::{Health, HealthStatus};

/// Argo CD's timeout for one run of a script.
const TIME_BUDGET: Duration = Duration::from_secs(1);
const MEMORY_BUDGET: usize = 32 << 20;
/// How often (in VM instructions) the time budget is checked.
const CHECK_EVERY: u32 = 10_000;

/// A health script and whether it may use every standard library.
#[derive(Clone, Debug, PartialEq)]
pub struct LuaHealth {
    pub script: String,
    pub open_libs: bool,
}

impl LuaHealth {
    /// Compiles the script once, without running it: a syntax error is found when the rule is
    /// configured, not when an object is assessed.
    pub fn check_syntax(&self) -> Result<(), String> {
        let lua = Lua::new_with(StdLib::NONE, LuaOptions::default()).map_err(|e| e.to_string())?;
        lua.load(self.script.as_str())
            .set_name("health.lua")
            .into_function()
            .map(drop)
            .map_err(|e| one_line(&e))
    }

    /// The object's health by the script. A script that fails, runs out of time or memory, or
    /// returns something that is not a health makes the object Unknown with the reason, as in
    /// Argo CD.
    pub fn assess(&self, object: &Value) -> Health {
        match self.run(object) {
            Ok(health) => health,
            Err(message) => Health::unknown(message),
        }
    }

    fn run(&self, object: &Value) -> Result<Health, String> {
        let lua = self.interpreter().map_err(|e| one_line(&e))?;
        let obj = lua
            .to_value_with(
                object,
                mlua::serde::SerializeOptions::new()
                    .serialize_none_to_null(false)
                    .serialize_unit_to_null(false),
            )
            .map_err(|e| one_line(&e))?;
        lua.globals().set("obj", obj).map_err(|e| one_line(&e))?;
        let started = Instant::now();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(CHECK_EVERY),
            move |_, _| {
                if started.elapsed() > TIME_BUDGET {
                    Err(mlua::Error::runtime(format!(
                        "the health script ran longer than {}s and was stopped",
                        TIME_BUDGET.as_secs()
                    )))
                } else {
                    Ok(VmState::Continue)
                }
            },
        )
        .map_err(|e| one_line(&e))?;
        let returned: MultiValue = lua
            .load(self.script.as_str())
            .set_name("health.lua")
            .call(())
            .map_err(|e| one_line(&e))?;
        let Some(last) = returned.into_iter().last() else {
            return Ok(invalid());
        };
        let table = match last {
            mlua::Value::Table(table) => table,
            mlua::Value::Nil => return Ok(invalid()),
            other => {
                return Err(format!(
                    "expect table output from Lua script, not {}",
                    other.type_name()
                ));
            }
        };
        let text = |key: &str| -> String {
            match table.get::<mlua::Value>(key) {
                Ok(mlua::Value::String(s)) => s.to_string_lossy(),
                _ => String::new(),
            }
        };
        let Some(status) = HealthStatus::parse(&text("status")) else {
            return Ok(invalid());
        };
        Ok(Health::new(status, text("message")))
    }

    fn interpreter(&self) -> mlua::Result<Lua> {
        let libs = if self.open_libs {
            StdLib::ALL_SAFE
        } else {
            StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::OS
        };
        let lua = Lua::new_with(libs, LuaOptions::default())?;
        lua.set_memory_limit(MEMORY_BUDGET)?;
        if !self.open_libs {
            let globals = lua.globals();
            for name in ["dofile", "loadfile"] {
                globals.set(name, mlua::Value::Nil)?;
            }
            // `os` keeps only its clock functions.
            let full: mlua::Table = globals.get("os")?;
            let os = lua.create_table()?;
            for name in ["time", "date", "clock"] {
                os.set(name, full.get::<mlua::Value>(name)?)?;
            }
            globals.set("os", &os)?;
            // Argo CD preloads a safe `os` for `require("os")`; the open libraries are there too.
            let modules = lua.create_table()?;
            for name in ["os", "string", "table", "math"] {
                modules.set(name, globals.get::<mlua::Value>(name)?)?;
            }
            let require = lua.create_function(move |_, name: String| {
                match modules.get::<mlua::Value>(name.as_str())? {
                    mlua::Value::Nil => Err(mlua::Error::runtime(format!(
                        "module '{name}' not found: a health script without useOpenLibs may \
                         require only os, string, table and math"
                    ))),
                    module => Ok(module),
                }
            })?;
            globals.set("require", require)?;
        }
        Ok(lua)
    }
}

/// Argo CD's answer for a table without a valid status.
fn invalid() -> Health {
    Health::unknown("Lua returned an invalid health status")
}

/// An mlua error as one line: the Lua message without the Rust-side traceback.
fn one_line(error: &mlua::Error) -> String {
    match error {
        mlua::Error::CallbackError { cause, .. } => one_line(cause),
        mlua::Error::RuntimeError(message) | mlua::Error::SyntaxError { message, .. } => {
            message.lines().next().unwrap_or_default().to_owned()
        }
        mlua::Error::MemoryError(_) => format!(
            "the health script used more than {} MiB and was stopped",
            MEMORY_BUDGET >> 20
        ),
        other => other
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn script(text: &str) -> LuaHealth {
        LuaHealth {
            script: text.into(),
            open_libs: false,
        }
    }

    /// A script in the style of Argo CD's documentation: conditions read from `obj`.
    const WIDGET: &str = r#"
hs = {}
if obj.status ~= nil and obj.status.conditions ~= nil then
  for i, condition in ipairs(obj.status.conditions) do
    if condition.type == "Ready" and condition.status == "False" then
      hs.status = "Degraded"
      hs.message = condition.message
      return hs
    end
    if condition.type == "Ready" and condition.status == "True" then
      hs.status = "Healthy"
      hs.message = condition.message
      return hs
    end
  end
end
hs.status = "Progressing"
hs.message = "Waiting for the widget"
return hs
"#;

    fn widget(conditions: Value) -> Value {
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "annotations": null},
            "status": {"conditions": conditions}})
    }

    #[test]
    fn a_script_reads_obj_and_returns_a_health() {
        let check = script(WIDGET);
        let ready = widget(json!([{"type": "Ready", "status": "True", "message": "all set"}]));
        assert_eq!(check.assess(&ready), Health::healthy("all set"));
        let broken = widget(json!([{"type": "Ready", "status": "False", "message": "no disk"}]));
        assert_eq!(check.assess(&broken), Health::degraded("no disk"));
        assert_eq!(
            check.assess(&widget(json!([]))),
            Health::progressing("Waiting for the widget")
        );
    }

    #[test]
    fn a_script_that_loops_for_ever_is_stopped() {
        let health = script("while true do end").assess(&json!({}));
        assert_eq!(health.status, HealthStatus::Unknown);
        assert!(health.message.contains("longer than 1s"), "{health:?}");
    }

    #[test]
    fn a_script_that_allocates_without_end_is_stopped() {
        let health = script("local s = 'x' while true do s = s .. s end").assess(&json!({}));
        assert_eq!(health.status, HealthStatus::Unknown);
        assert!(health.message.contains("MiB"), "{health:?}");
    }

    #[test]
    fn without_open_libs_a_script_cannot_run_commands_or_read_files() {
        for text in [
            "os.execute('touch /tmp/bosun-lua-was-here') return {status = 'Healthy'}",
            "io.open('/etc/passwd') return {status = 'Healthy'}",
            "dofile('/etc/passwd') return {status = 'Healthy'}",
            "require('io') return {status = 'Healthy'}",
        ] {
            let health = script(text).assess(&json!({}));
            assert_eq!(health.status, HealthStatus::Unknown, "{text}: {health:?}");
        }
        // What Argo CD's scripts use without useOpenLibs still works.
        let clock = script(
            "local os = require('os') if os.time() > 0 and string.len('ab') == 2 then \
             return {status = 'Healthy', message = os.date('%Y') ~= '' and 'ok' or ''} end",
        );
        assert_eq!(clock.assess(&json!({})), Health::healthy("ok"));
    }

    #[test]
    fn open_libs_opens_io_and_os() {
        let check = LuaHealth {
            script:
                "return {status = (io ~= nil and os.getenv ~= nil) and 'Healthy' or 'Degraded'}"
                    .into(),
            open_libs: true,
        };
        assert_eq!(check.assess(&json!({})).status, HealthStatus::Healthy);
    }

    #[test]
    fn answers_that_are_not_a_health_are_unknown_with_argo_cds_words() {
        for (text, message) in [
            (
                "return {status = 'Fine'}",
                "Lua returned an invalid health status",
            ),
            ("return {}", "Lua returned an invalid health status"),
            ("return nil", "Lua returned an invalid health status"),
            (
                "return 'Healthy'",
                "expect table output from Lua script, not string",
            ),
        ] {
            assert_eq!(
                script(text).assess(&json!({})),
                Health::unknown(message),
                "{text}"
            );
        }
        let error = script("error('broken widget')").assess(&json!({}));
        assert_eq!(error.status, HealthStatus::Unknown);
        assert!(error.message.contains("broken widget"), "{error:?}");
    }

    #[test]
    fn a_syntax_error_is_found_before_any_object() {
        assert!(script(WIDGET).check_syntax().is_ok());
        let error = script("hs = {").check_syntax().unwrap_err();
        assert!(error.contains("expected"), "{error}");
    }
}
