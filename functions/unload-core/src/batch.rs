//! The batch workflow's decisions (pure): its input, the plan of child executions, and the
//! summary of what they did. The plan and summarize functions add only the AWS calls.
//!
//! Every entry is validated here, with the validate function's own rules and defaults, before any
//! child starts: a typo is one invalid item in the plan, reported once, and the rest still run.

mod input;
mod plan;
mod summary;

pub use input::{BatchInput, TableList, TableSource, Tolerance, DEFAULT_NAME};
pub use plan::{
    candidates, Candidate, Counts, Item, ItemAction, ItemError, Plan, MAX_ITEMS, MAX_PLAN_BYTES,
};
pub use summary::{summarize, ChildOutcome, FailedItem, Summary, MAX_FAILED_CAUSE_CHARS};

#[cfg(test)]
mod tests;
