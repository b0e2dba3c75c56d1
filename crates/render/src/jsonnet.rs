//! `.jsonnet` files of a directory source, evaluated as Argo CD's repo server evaluates them
//! (`makeJsonnetVM`): external variables and top-level arguments from `directory.jsonnet` (a
//! string, or Jsonnet code with `code: true`, each after `$VAR` expansion against the build
//! environment), imports looked up next to the importing file, then in the source directory, then
//! in `libs` (relative to the repository root, last first), and the result one object or an array
//! of objects (a `List` is expanded later, as for any file).
//!
//! The evaluator is rsjsonnet-lang, a Rust implementation of Jsonnet that passes go-jsonnet's
//! test suite, with no I/O of its own: every import goes through [`Imports`], which keeps reads
//! inside the checkout.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bosun_model::JsonnetSource;
use rsjsonnet_lang::arena::Arena;
use rsjsonnet_lang::interner::InternedStr;
use rsjsonnet_lang::program::{
    Callbacks, EvalError, EvalErrorKind, EvalStackTraceItem, ImportError, LoadError, NativeError,
    Program, Thunk, Value as JsonnetValue,
};
use rsjsonnet_lang::span::{SourceId, SpanContext, SpanId};
use serde_json::Value;

use crate::build_env::envsubst;
use crate::error::RenderError;

/// Deep enough for real libraries (kube-libsonnet, grafonnet), bounded against runaway recursion.
const MAX_STACK: usize = 500;

/// Where a `.jsonnet` file's imports are found and what is substituted in its variables.
pub(crate) struct JsonnetContext<'a> {
    pub checkout_root: &'a Path,
    pub app_dir: &'a Path,
    pub options: Option<&'a JsonnetSource>,
    pub env: &'a [(String, String)],
}

/// Evaluates one file to the JSON value it denotes. Errors name the file (relative to the
/// checkout), the line and column, and Jsonnet's reason.
pub(crate) fn evaluate(
    file: &Path,
    shown: &str,
    context: &JsonnetContext<'_>,
) -> Result<Value, RenderError> {
    let fail = |message: String| RenderError::Jsonnet {
        file: shown.to_owned(),
        message,
    };
    let default = JsonnetSource::default();
    let options = context.options.unwrap_or(&default);
    let mut search = vec![context.app_dir.to_path_buf()];
    for lib in &options.libs {
        let resolved =
            inside(context.checkout_root, &context.checkout_root.join(lib)).ok_or_else(|| {
                fail(format!(
                    "directory.jsonnet.libs: {lib:?} is not a directory of the checkout"
                ))
            })?;
        search.push(resolved);
    }
    // go-jsonnet tries the JPaths last first.
    search[1..].reverse();

    let arena = Arena::new();
    let mut program = Program::new(&arena);
    program.set_max_stack(MAX_STACK);
    let mut imports = Imports {
        root: context.checkout_root.to_path_buf(),
        search,
        sources: HashMap::new(),
        loaded: HashMap::new(),
        failure: None,
    };
    let (stdlib_id, _) = program.get_stdlib_source();
    imports
        .sources
        .insert(stdlib_id, ("<stdlib>".into(), None, Vec::new()));

    for var in &options.ext_vars {
        let thunk = imports
            .variable(
                &mut program,
                "extVar",
                &var.name,
                &var.value,
                var.code,
                context.env,
            )
            .map_err(fail)?;
        let name = program.intern_str(&var.name);
        program.add_ext_var(name, &thunk);
    }
    let mut tlas: Vec<(InternedStr<'_>, Thunk<'_>)> = Vec::new();
    for tla in &options.tlas {
        let thunk = imports
            .variable(
                &mut program,
                "tla",
                &tla.name,
                &tla.value,
                tla.code,
                context.env,
            )
            .map_err(fail)?;
        tlas.push((program.intern_str(&tla.name), thunk));
    }

    let text = std::fs::read(file).map_err(|e| RenderError::io(format!("reading {shown}"), e))?;
    let thunk = imports
        .load(&mut program, shown, Some(file.to_path_buf()), text)
        .map_err(fail)?;
    let mut value = program
        .eval_value(&thunk, &mut imports)
        .map_err(|e| fail(imports.describe_eval(&program, &e)))?;
    // Top-level arguments apply when the file is a function, as in go-jsonnet.
    if value.is_function() {
        let function = program.value_to_thunk(&value);
        value = program
            .eval_call(&function, &[], &tlas, &mut imports)
            .map_err(|e| fail(imports.describe_eval(&program, &e)))?;
    }
    let json = program
        .manifest_json(&value, false)
        .map_err(|e| fail(imports.describe_eval(&program, &e)))?;
    serde_json::from_str(&json).map_err(|e| fail(format!("its output is not JSON: {e}")))
}

/// `path` canonicalised, if it stays inside `root` (itself canonical).
fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    path.canonicalize().ok().filter(|p| p.starts_with(root))
}

/// The loaded sources (for messages) and the import lookup.
struct Imports<'p> {
    root: PathBuf,
    search: Vec<PathBuf>,
    /// Each source: its name in messages, its file (none for variables), its text.
    sources: HashMap<SourceId, (String, Option<PathBuf>, Vec<u8>)>,
    loaded: HashMap<PathBuf, Thunk<'p>>,
    /// Why the last import failed (rsjsonnet's `ImportError` carries nothing).
    failure: Option<String>,
}

impl<'p> Imports<'p> {
    fn load(
        &mut self,
        program: &mut Program<'p>,
        name: &str,
        file: Option<PathBuf>,
        text: Vec<u8>,
    ) -> Result<Thunk<'p>, String> {
        let (context, source) = program.span_manager_mut().insert_source_context(text.len());
        let result = program.load_source(context, &text, true, name);
        self.sources.insert(source, (name.to_owned(), file, text));
        result.map_err(|e| self.describe_load(program, &e))
    }

    fn variable(
        &mut self,
        program: &mut Program<'p>,
        what: &str,
        name: &str,
        value: &str,
        code: bool,
        env: &[(String, String)],
    ) -> Result<Thunk<'p>, String> {
        let value = envsubst(value, env);
        if code {
            self.load(
                program,
                &format!("<{what}:{name}>"),
                None,
                value.into_bytes(),
            )
        } else {
            Ok(program.value_to_thunk(&JsonnetValue::string(&value)))
        }
    }

    /// go-jsonnet's order: the importing file's directory, then the search path.
    fn find(&self, program: &Program<'p>, from: SpanId, path: &str) -> Result<PathBuf, String> {
        let (context, _, _) = program.span_manager().get_span(from);
        let SpanContext::Source(source) = *program.span_manager().get_context(context);
        let from_dir = self
            .sources
            .get(&source)
            .and_then(|(_, file, _)| file.as_deref())
            .and_then(Path::parent)
            .map(Path::to_path_buf);
        for dir in from_dir.iter().chain(self.search.iter()) {
            let candidate = dir.join(path);
            if candidate.is_file() {
                return inside(&self.root, &candidate)
                    .ok_or_else(|| format!("import {path:?} leaves the checkout"));
            }
        }
        Err(format!("import {path:?} not found"))
    }

    fn read(
        &mut self,
        program: &Program<'p>,
        from: SpanId,
        path: &str,
    ) -> Result<(PathBuf, Vec<u8>), ImportError> {
        let found = self.find(program, from, path).and_then(|file| {
            std::fs::read(&file)
                .map(|text| (file, text))
                .map_err(|e| format!("import {path:?}: {e}"))
        });
        found.map_err(|message| {
            self.failure = Some(message);
            ImportError
        })
    }

    /// Line and column of a span's start, with its source's name.
    fn locate(&self, program: &Program<'p>, span: SpanId) -> String {
        let (context, start, _) = program.span_manager().get_span(span);
        let SpanContext::Source(source) = *program.span_manager().get_context(context);
        let Some((name, _, text)) = self.sources.get(&source) else {
            return String::new();
        };
        let before = &text[..start.min(text.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        format!("{name}:{line}:{column}")
    }

    fn describe_load(&self, program: &Program<'p>, error: &LoadError) -> String {
        let (span, message) = match error {
            LoadError::Parse(rsjsonnet_lang::parser::ParseError::Expected {
                span,
                instead,
                ..
            }) => (Some(*span), format!("syntax error: unexpected {instead:?}")),
            LoadError::Analyze(rsjsonnet_lang::program::AnalyzeError::UnknownVariable {
                span,
                name,
            }) => (Some(*span), format!("unknown variable `{name}`")),
            other => (None, without_spans(&format!("{other:?}"))),
        };
        match span {
            Some(span) => format!("{}: {message}", self.locate(program, span)),
            None => message,
        }
    }

    fn describe_eval(&self, program: &Program<'p>, error: &EvalError) -> String {
        let (own_span, message) = match &error.kind {
            EvalErrorKind::ExplicitError { message, span } => (Some(*span), message.clone()),
            EvalErrorKind::AssertFailed { message, span } => (
                Some(*span),
                match message {
                    Some(message) => format!("assertion failed: {message}"),
                    None => "assertion failed".into(),
                },
            ),
            EvalErrorKind::UnknownObjectField { field_name, span } => {
                (Some(*span), format!("field `{field_name}` does not exist"))
            }
            EvalErrorKind::ImportFailed { path, span } => (
                Some(*span),
                self.failure
                    .clone()
                    .unwrap_or_else(|| format!("import {path:?} failed")),
            ),
            EvalErrorKind::UnknownExtVar { name } => {
                (None, format!("undefined external variable `{name}`"))
            }
            EvalErrorKind::Other { message, span } => (*span, message.clone()),
            EvalErrorKind::StackOverflow => (None, format!("more than {MAX_STACK} nested calls")),
            other => (None, without_spans(&format!("{other:?}"))),
        };
        let span = error.stack_trace.iter().find_map(|item| match item {
            EvalStackTraceItem::Expr { span } | EvalStackTraceItem::Variable { span, .. } => {
                Some(*span)
            }
            EvalStackTraceItem::Call { span, .. }
            | EvalStackTraceItem::ArrayItem { span, .. }
            | EvalStackTraceItem::ObjectField { span, .. } => *span,
            _ => None,
        });
        match own_span.or(span) {
            Some(span) => format!("{}: {message}", self.locate(program, span)),
            None => message,
        }
    }
}

/// A `Debug` rendering without its `span: SpanId(..)` fields, which mean nothing to a reader.
fn without_spans(debug: &str) -> String {
    let mut out = debug.to_owned();
    while let Some(at) = out.find("span: ") {
        // The field's name may carry a prefix (`arg_span`): cut from the start of the name.
        let start = out[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let mut depth = 0usize;
        let mut end = out.len();
        for (i, c) in out[at..].char_indices() {
            match c {
                '(' | '{' | '[' => depth += 1,
                ')' | ']' => depth = depth.saturating_sub(1),
                '}' if depth == 0 => {
                    end = at + i;
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    end = at + i + 1;
                    break;
                }
                _ => {}
            }
        }
        out.replace_range(start..end, "");
    }
    out.replace("  ", " ")
        .replace("{ }", "")
        .replace(", }", " }")
        .trim()
        .to_owned()
}

impl<'p> Callbacks<'p> for Imports<'p> {
    fn import(
        &mut self,
        program: &mut Program<'p>,
        from: SpanId,
        path: &str,
    ) -> Result<Thunk<'p>, ImportError> {
        let (file, text) = self.read(program, from, path)?;
        if let Some(thunk) = self.loaded.get(&file) {
            return Ok(thunk.clone());
        }
        let name = file
            .strip_prefix(&self.root)
            .unwrap_or(&file)
            .display()
            .to_string();
        let thunk = self
            .load(program, &name, Some(file.clone()), text)
            .map_err(|message| {
                self.failure = Some(message);
                ImportError
            })?;
        self.loaded.insert(file, thunk.clone());
        Ok(thunk)
    }

    fn import_str(
        &mut self,
        program: &mut Program<'p>,
        from: SpanId,
        path: &str,
    ) -> Result<String, ImportError> {
        let (_, text) = self.read(program, from, path)?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    }

    fn import_bin(
        &mut self,
        program: &mut Program<'p>,
        from: SpanId,
        path: &str,
    ) -> Result<Vec<u8>, ImportError> {
        Ok(self.read(program, from, path)?.1)
    }

    fn trace(&mut self, _: &mut Program<'p>, message: &str, _: &[EvalStackTraceItem]) {
        tracing::debug!(message, "std.trace in a jsonnet render");
    }

    fn native_call(
        &mut self,
        _: &mut Program<'p>,
        _: InternedStr<'p>,
        _: &[JsonnetValue<'p>],
    ) -> Result<JsonnetValue<'p>, NativeError> {
        // No native functions are registered, so none can be called.
        Err(NativeError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_text_loses_its_spans() {
        assert_eq!(without_spans("DivByZero { span: SpanId(12) }"), "DivByZero");
        assert_eq!(
            without_spans(
                "InvalidStdFuncArgType { func_name: \"x\", arg_index: 0, got_type: Null, span: Some(SpanId(3)) }"
            ),
            "InvalidStdFuncArgType { func_name: \"x\", arg_index: 0, got_type: Null }"
        );
    }
}
