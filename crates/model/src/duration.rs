//! Durations as Argo CD writes them: Go's `time.ParseDuration` syntax (`5s`, `3m`, `1h30m`,
//! `1.5h`, `300ms`), and for retry backoff also a bare integer meaning seconds.

use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error(
        "invalid duration `{0}`: expected a number followed by a unit (ns, us, ms, s, m, h), as in `5s` or `1h30m`"
    )]
    Syntax(String),
    #[error("invalid duration `{0}`: unknown unit `{1}` (use ns, us, ms, s, m or h)")]
    UnknownUnit(String, String),
    #[error("invalid duration `{0}`: negative durations are not allowed here")]
    Negative(String),
    #[error("invalid duration `{0}`: too large")]
    Overflow(String),
}

/// Parses a Go duration (`time.ParseDuration`): an optional sign, then one or more decimal numbers,
/// each with an optional fraction and a unit — `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`. `0` needs
/// no unit. A negative duration is an error, since every duration bosun reads is a wait.
pub fn parse_go_duration(text: &str) -> Result<Duration, DurationError> {
    let syntax = || DurationError::Syntax(text.to_string());
    let mut rest = text;
    if rest.is_empty() {
        return Err(DurationError::Empty);
    }
    let negative = if let Some(r) = rest.strip_prefix('-') {
        rest = r;
        true
    } else {
        rest = rest.strip_prefix('+').unwrap_or(rest);
        false
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(syntax());
    }
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(syntax)?;
        let (number, after) = rest.split_at(number_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(syntax());
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(syntax()),
            other => return Err(DurationError::UnknownUnit(text.into(), other.into())),
        };
        let overflow = || DurationError::Overflow(text.to_string());
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| overflow())?
        };
        let mut nanos = whole.checked_mul(unit_nanos).ok_or_else(overflow)?;
        // The fraction in the unit's nanoseconds, truncated as Go does.
        let mut scale = unit_nanos;
        for digit in fraction.bytes().map(|b| u128::from(b - b'0')) {
            scale /= 10;
            if scale == 0 {
                break;
            }
            nanos += digit * scale;
        }
        total_nanos = total_nanos.checked_add(nanos).ok_or_else(overflow)?;
        rest = next;
    }
    if negative && total_nanos > 0 {
        return Err(DurationError::Negative(text.to_string()));
    }
    // Go's Duration is an i64 of nanoseconds; keep the same range.
    if total_nanos > i64::MAX as u128 {
        return Err(DurationError::Overflow(text.to_string()));
    }
    Ok(Duration::from_nanos(total_nanos as u64))
}

/// Parses a retry backoff duration as Argo CD does (`parseStringToDuration`): a bare integer is
/// seconds (`"5"`), anything else is a Go duration (`"5s"`, `"2m"`).
pub fn parse_backoff_duration(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.strip_prefix('+').unwrap_or(text);
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let seconds: u64 = trimmed
            .parse()
            .map_err(|_| DurationError::Overflow(text.to_string()))?;
        if seconds > i64::MAX as u64 / 1_000_000_000 {
            return Err(DurationError::Overflow(text.to_string()));
        }
        return Ok(Duration::from_secs(seconds));
    }
    parse_go_duration(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("5s"), Ok(secs(5)));
        assert_eq!(parse_go_duration("3m"), Ok(secs(180)));
        assert_eq!(parse_go_duration("1h30m"), Ok(secs(5400)));
        assert_eq!(parse_go_duration("1.5h"), Ok(secs(5400)));
        assert_eq!(parse_go_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("2us"), Ok(Duration::from_micros(2)));
        assert_eq!(parse_go_duration("2µs"), Ok(Duration::from_micros(2)));
        assert_eq!(parse_go_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_go_duration(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(
            parse_go_duration("1m0.25s"),
            Ok(Duration::from_millis(60_250))
        );
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("-0"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("+5s"), Ok(secs(5)));
    }

    #[test]
    fn bad_go_durations() {
        assert_eq!(parse_go_duration(""), Err(DurationError::Empty));
        assert!(matches!(
            parse_go_duration("5"),
            Err(DurationError::Syntax(_))
        ));
        assert!(matches!(
            parse_go_duration("s"),
            Err(DurationError::Syntax(_))
        ));
        assert!(matches!(
            parse_go_duration("1..5s"),
            Err(DurationError::Syntax(_))
        ));
        assert!(matches!(
            parse_go_duration(".s"),
            Err(DurationError::Syntax(_))
        ));
        assert!(matches!(
            parse_go_duration("5 s"),
            Err(DurationError::UnknownUnit(_, _))
        ));
        assert_eq!(
            parse_go_duration("3d"),
            Err(DurationError::UnknownUnit("3d".into(), "d".into()))
        );
        assert!(matches!(
            parse_go_duration("-5s"),
            Err(DurationError::Negative(_))
        ));
        assert!(matches!(
            parse_go_duration("999999999999h"),
            Err(DurationError::Overflow(_))
        ));
        assert_eq!(
            parse_go_duration("3d").unwrap_err().to_string(),
            "invalid duration `3d`: unknown unit `d` (use ns, us, ms, s, m or h)"
        );
    }

    #[test]
    fn backoff_durations_take_bare_seconds() {
        assert_eq!(parse_backoff_duration("5"), Ok(secs(5)));
        assert_eq!(parse_backoff_duration("180"), Ok(secs(180)));
        assert_eq!(parse_backoff_duration("3m"), Ok(secs(180)));
        assert!(parse_backoff_duration("five").is_err());
        assert!(matches!(
            parse_backoff_duration("99999999999999999999"),
            Err(DurationError::Overflow(_))
        ));
    }
}
