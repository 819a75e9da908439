//! A function's settings from its environment, read one way everywhere. Every function has one
//! `Settings::from_env()`; its `main` keeps the Result and answers each invocation with the
//! ConfigurationError (naming the variable) instead of crashing at start-up, which Lambda would
//! only report as Runtime.ExitError.

use crate::error::{Result, UnloadError};
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// The process environment, as a lookup (tests pass a map instead).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A ConfigurationError on `variable`.
pub fn error(variable: &str, rule: impl Display) -> UnloadError {
    UnloadError::ConfigurationError(format!("{variable}: {rule}"))
}

/// Variables read through a lookup.
pub struct Vars<L> {
    lookup: L,
}

impl<L: Fn(&str) -> Option<String>> Vars<L> {
    pub fn new(lookup: L) -> Self {
        Self { lookup }
    }

    /// The variable's value, trimmed; None when it is unset or blank.
    pub fn text(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// A whole number within `range`; `default` when the variable is unset or blank.
    pub fn number<T>(&self, name: &str, default: T, range: RangeInclusive<T>) -> Result<T>
    where
        T: FromStr + PartialOrd + Display,
    {
        match self.text(name) {
            None => Ok(default),
            Some(text) => text
                .parse::<T>()
                .ok()
                .filter(|v| range.contains(v))
                .ok_or_else(|| {
                    error(
                        name,
                        format!(
                            "{text:?} must be a whole number in {}..={}",
                            range.start(),
                            range.end()
                        ),
                    )
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(value: &'static str) -> Vars<impl Fn(&str) -> Option<String>> {
        Vars::new(move |name: &str| (name == "V").then(|| value.to_string()))
    }

    #[test]
    fn blank_is_unset_and_values_are_trimmed() {
        assert_eq!(vars("  ").text("V"), None);
        assert_eq!(vars(" x ").text("V").as_deref(), Some("x"));
        assert_eq!(vars("x").text("W"), None);
    }

    #[test]
    fn numbers_are_checked_against_their_range_and_name_the_variable() {
        assert_eq!(vars("").number("V", 7, 1..=10).unwrap(), 7);
        assert_eq!(vars(" 3 ").number("V", 7, 1..=10).unwrap(), 3);
        for bad in ["11", "x", "-1"] {
            let err = vars(bad).number("V", 7u64, 1..=10).unwrap_err();
            assert_eq!(err.kind(), "ConfigurationError");
            assert_eq!(
                err.to_string(),
                format!("V: {bad:?} must be a whole number in 1..=10")
            );
        }
    }
}
