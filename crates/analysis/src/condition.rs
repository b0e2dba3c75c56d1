//! `successCondition` and `failureCondition`: Argo's expression language (Go's expr, here the
//! `expr-lang` crate) over a measurement's `result`, with the functions Argo Rollouts adds
//! (`isNaN`, `isInf`, `asInt`, `asFloat`, `default`, `isNil`) and Argo's rules for combining the
//! two conditions.

use std::sync::OnceLock;

use expr::{Context, Environment, Value};

use crate::phase::Phase;

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

fn error(message: String) -> expr::Error {
    expr::Error::ExprError(message)
}

/// The environment, built once: expr's builtins (len, all, any, sum, …) and Argo's functions.
fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.add_function("isNaN", |c| match c.args.as_slice() {
            [v] => number(v)
                .map(|f| Value::Bool(f.is_nan()))
                .ok_or_else(|| error(format!("isNaN: not a number: {v}"))),
            _ => Err(error("isNaN takes 1 argument".into())),
        });
        env.add_function("isInf", |c| match c.args.as_slice() {
            [v] => number(v)
                .map(|f| Value::Bool(f.is_infinite()))
                .ok_or_else(|| error(format!("isInf: not a number: {v}"))),
            _ => Err(error("isInf takes 1 argument".into())),
        });
        env.add_function("asInt", |c| match c.args.as_slice() {
            [Value::Integer(i)] => Ok(Value::Integer(*i)),
            [Value::Float(f)] => Ok(Value::Integer(*f as i64)),
            [Value::String(s)] => s
                .trim()
                .parse()
                .map(Value::Integer)
                .map_err(|e| error(format!("asInt({s:?}): {e}"))),
            [v] => Err(error(format!("asInt() not supported on {v}"))),
            _ => Err(error("asInt takes 1 argument".into())),
        });
        env.add_function("asFloat", |c| match c.args.as_slice() {
            [Value::String(s)] => s
                .trim()
                .parse()
                .map(Value::Float)
                .map_err(|e| error(format!("asFloat({s:?}): {e}"))),
            [v] => number(v)
                .map(Value::Float)
                .ok_or_else(|| error(format!("asFloat() not supported on {v}"))),
            _ => Err(error("asFloat takes 1 argument".into())),
        });
        // As Argo's: `default(_, d)` and `isNil(_)` test the whole `result`, not their argument.
        env.add_function("default", |c| {
            match (c.args.as_slice(), c.ctx.get("result")) {
                ([_, _], Some(r)) if !r.is_nil() => Ok(r.clone()),
                ([_, d], _) => Ok(d.clone()),
                _ => Err(error("default takes 2 arguments".into())),
            }
        });
        env.add_function("isNil", |c| {
            Ok(Value::Bool(c.ctx.get("result").is_none_or(Value::is_nil)))
        });
        env
    })
}

/// Whether `condition` holds for `result`. A condition that cannot be evaluated is an error
/// (never a pass); on an empty result the error says that the query returned no data, as
/// Argo's newer releases do.
pub fn holds(condition: &str, result: &Value) -> Result<bool, String> {
    let program = expr::compile(condition).map_err(|e| first_line(&e.to_string()))?;
    let mut ctx = Context::default();
    ctx.insert("result", result.clone());
    let empty = match result {
        Value::Nil => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    };
    match environment().run(&program, &ctx) {
        Ok(Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("expected bool, but got {other}")),
        Err(_) if empty => {
            Err("metric result is nil or empty: no data returned from the metric provider".into())
        }
        Err(e) => Err(first_line(&e.to_string())),
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A measurement's phase from its result, as Argo's `EvaluateResult`: no condition is success;
/// one condition implies the other's negation; both false is Inconclusive; failure wins when
/// both hold; an evaluation error is an Error with the message saying which condition.
pub fn judge(result: &Value, success: Option<&str>, failure: Option<&str>) -> (Phase, String) {
    let success = success.filter(|s| !s.trim().is_empty());
    let failure = failure.filter(|s| !s.trim().is_empty());
    let eval = |name: &str, condition: &str| {
        holds(condition, result)
            .map_err(|e| format!("could not evaluate {name} {condition:?}: {e}"))
    };
    let succeeded = match success.map(|c| eval("successCondition", c)).transpose() {
        Ok(v) => v,
        Err(e) => return (Phase::Error, e),
    };
    let failed = match failure.map(|c| eval("failureCondition", c)).transpose() {
        Ok(v) => v,
        Err(e) => return (Phase::Error, e),
    };
    let (succeeded, failed) = match (succeeded, failed) {
        (None, None) => return (Phase::Successful, String::new()),
        (Some(s), None) => (s, !s),
        (None, Some(f)) => (!f, f),
        (Some(s), Some(f)) => (s, f),
    };
    if failed {
        (Phase::Failed, String::new())
    } else if !succeeded {
        (Phase::Inconclusive, String::new())
    } else {
        (Phase::Successful, String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(v: &[f64]) -> Value {
        Value::from(v.to_vec())
    }

    #[test]
    fn argo_documented_conditions() {
        let cases: Vec<(&str, Value, Result<bool, ()>)> = vec![
            ("result[0] >= 0.99", floats(&[0.995]), Ok(true)),
            ("result[0] >= 0.99", floats(&[0.95]), Ok(false)),
            ("result[0] >= 0.99", floats(&[f64::NAN]), Ok(false)),
            ("result >= 0.99", Value::Float(1.0), Ok(true)),
            (
                "len(result) == 0 || isNaN(result[0])",
                floats(&[]),
                Ok(true),
            ),
            (
                "len(result) == 0 or isNaN(result[0])",
                floats(&[1.0]),
                Ok(false),
            ),
            (
                "not isNaN(result[0]) and !isInf(result[0])",
                floats(&[f64::INFINITY]),
                Ok(false),
            ),
            ("default(result, 0) < 5", Value::Nil, Ok(true)),
            ("isNil(result)", Value::Nil, Ok(true)),
            ("asInt(result) > 3", Value::String("4".into()), Ok(true)),
            ("asInt(result) > 3", Value::String("x".into()), Err(())),
            (
                "asFloat(result) > 3.5",
                Value::String("3.9".into()),
                Ok(true),
            ),
            ("result[1] > 0", floats(&[1.0]), Err(())),
            ("result[0] >= 0.99", floats(&[]), Err(())),
            ("result[0] >=", floats(&[1.0]), Err(())),
            ("result + 1", Value::Float(1.0), Err(())),
            (
                "all(result, {# > 0.5}) && sum(result) / len(result) > 0.7",
                floats(&[0.6, 0.9]),
                Ok(true),
            ),
        ];
        for (condition, result, want) in cases {
            let got = holds(condition, &result).map_err(|_| ());
            assert_eq!(got, want, "{condition} with {result}");
        }
    }

    #[test]
    fn an_empty_result_says_there_was_no_data() {
        let e = holds("result[0] >= 0.99", &floats(&[])).unwrap_err();
        assert!(e.contains("no data returned"), "{e}");
    }

    #[test]
    fn the_two_conditions_combine_as_argo_does() {
        let r = floats(&[0.5]);
        assert_eq!(judge(&r, None, None).0, Phase::Successful);
        assert_eq!(judge(&r, Some("result[0] > 0.9"), None).0, Phase::Failed);
        assert_eq!(
            judge(&r, None, Some("result[0] > 0.9")).0,
            Phase::Successful
        );
        // Both set and neither holds: Inconclusive.
        assert_eq!(
            judge(&r, Some("result[0] > 0.9"), Some("result[0] < 0.1")).0,
            Phase::Inconclusive
        );
        // Both hold: failure wins.
        assert_eq!(
            judge(&r, Some("result[0] > 0.1"), Some("result[0] < 0.9")).0,
            Phase::Failed
        );
        let (phase, message) = judge(&floats(&[]), Some("result[0] >= 0.99"), None);
        assert_eq!(phase, Phase::Error);
        assert!(
            message.starts_with("could not evaluate successCondition"),
            "{message}"
        );
    }
}
