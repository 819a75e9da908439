//! The summary: what each item came to, counted, against the tolerance; the batch metrics.

use super::{ItemError, Plan};
use crate::contract::Day;
use crate::metrics::{Datum, Unit};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Longest child Cause kept in a summary's failure.
const MAX_CAUSE_CHARS: usize = 500;
/// A Fail state's Cause holds at most 32,768 characters (Step Functions API: StopExecution's and
/// the Fail state's `cause`); the summary JSON given as the Cause stays below it.
pub const MAX_FAILED_CAUSE_CHARS: usize = 32_000;

/// What one item came to, as summarize learns it from the Map's result and the child itself.
#[derive(Debug, Clone, PartialEq)]
pub enum ChildOutcome {
    Succeeded {
        execution_arn: String,
        rows: Option<u64>,
    },
    /// The child ended FAILED, TIMED_OUT or ABORTED: its own Error and Cause.
    Failed {
        execution_arn: String,
        error: String,
        cause: String,
    },
    /// An earlier attempt succeeded; nothing ran.
    Skipped,
    Invalid(ItemError),
    /// StartExecution itself failed (after the Map's retries): no child ran.
    NotStarted(ItemError),
}

/// The batch's outcome: the execution output, or the Cause of BatchFailed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub name: String,
    pub day: Day,
    pub items: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub skipped: usize,
    pub rows: u64,
    pub failures: Vec<FailedItem>,
    pub tolerated: bool,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedItem {
    pub table: String,
    pub scope: String,
    pub name: Option<String>,
    pub execution_arn: Option<String>,
    pub error: String,
    pub cause: String,
}

pub fn summarize(plan: &Plan, outcomes: &[ChildOutcome]) -> Summary {
    let tolerance = plan.tolerance;
    let (mut succeeded, mut skipped, mut rows) = (0, 0, 0u64);
    let mut failures = Vec::new();
    for (item, outcome) in plan.items.iter().zip(outcomes) {
        let mut fail = |execution_arn: Option<&str>, error: &str, cause: &str| {
            failures.push(FailedItem {
                table: item.table.clone(),
                scope: item.scope.clone(),
                name: item.name.clone(),
                execution_arn: execution_arn.map(str::to_string),
                error: error.to_string(),
                cause: cause.chars().take(MAX_CAUSE_CHARS).collect(),
            })
        };
        match outcome {
            ChildOutcome::Succeeded { rows: r, .. } => {
                succeeded += 1;
                rows += r.unwrap_or(0);
            }
            ChildOutcome::Skipped => skipped += 1,
            ChildOutcome::Failed {
                execution_arn,
                error,
                cause,
            } => fail(Some(execution_arn), error, cause),
            ChildOutcome::Invalid(e) | ChildOutcome::NotStarted(e) => {
                fail(None, &e.error, &e.cause)
            }
        }
    }
    let items = plan.items.len();
    let failed = failures.len();
    let tolerated = tolerance.tolerates(failed as u64, items as u64);
    let mut message = format!(
        "{succeeded} of {items} succeeded, {failed} failed, {skipped} skipped (succeeded before); failures tolerated: {}",
        tolerance.label()
    );
    for f in failures.iter().take(5) {
        message.push_str(&format!("; {} {}: {}", f.table, f.scope, f.error));
    }
    if failed > 5 {
        message.push_str(&format!("; and {} more", failed - 5));
    }
    Summary {
        name: plan.name.clone(),
        day: plan.day,
        items,
        succeeded,
        failed,
        skipped,
        rows,
        failures,
        tolerated,
        message,
    }
}

impl Summary {
    /// The summary as the Cause of BatchFailed: JSON, within the Fail state's limit (the longest
    /// failure causes are cut first, then failures are left out and counted).
    pub fn cause(&self) -> String {
        let mut shown = self.clone();
        loop {
            let text = json!(shown).to_string();
            if text.chars().count() <= MAX_FAILED_CAUSE_CHARS || shown.failures.is_empty() {
                return text;
            }
            shown.failures.pop();
            shown.message = format!(
                "{} (the Cause lists {} of the {} failures)",
                self.message,
                shown.failures.len(),
                self.failed
            );
        }
    }

    /// The batch metrics, with the Batch dimension.
    pub fn datums(&self) -> Vec<Datum> {
        [
            (crate::metrics::BATCH_SUCCEEDED, self.succeeded as f64),
            (crate::metrics::BATCH_FAILED, self.failed as f64),
            (crate::metrics::BATCH_SKIPPED, self.skipped as f64),
            (crate::metrics::BATCH_ROWS, self.rows as f64),
        ]
        .into_iter()
        .map(|(name, value)| Datum {
            name,
            value,
            unit: Unit::Count,
            dimension: Some((crate::metrics::BATCH_DIMENSION, self.name.clone())),
        })
        .collect()
    }
}
