//! The batch workflow's decisions (pure): its input, the plan of child executions, and the
//! summary of what they did. The plan and summarize functions add only the AWS calls.
//!
//! Every entry is validated here, with the validate function's own rules and defaults, before any
//! child starts: a typo is one invalid item in the plan, reported once, and the rest still run.

use crate::checks::{self, invalid};
use crate::contract::{Day, Scope};
use crate::error::{Result, UnloadError};
use crate::execution_names::{attempt_name, base_name, day_range, Action};
use crate::metrics::{Datum, Unit};
use crate::request::{normalize, RequestDefaults};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Items (entries × days) one batch runs. The inline Map keeps every item in the execution's
/// state, which Step Functions caps at 256 KiB ("Step Functions service quotas": "Maximum input
/// or output size for a task, state, or execution"); 200 items of a few hundred bytes leave room.
pub const MAX_ITEMS: usize = 200;
/// The plan's largest serialized size: what the state can hold beside the Map's results.
pub const MAX_PLAN_BYTES: usize = 160 * 1024;
/// The batch name when the input gives none.
pub const DEFAULT_NAME: &str = "batch";
/// Longest batch name: it is part of every child's execution name (80 characters in all).
const MAX_NAME_CHARS: usize = 32;
/// Longest child Cause kept in a summary's failure.
const MAX_CAUSE_CHARS: usize = 500;
/// A Fail state's Cause holds at most 32,768 characters (Step Functions API: StopExecution's and
/// the Fail state's `cause`); the summary JSON given as the Cause stays below it.
pub const MAX_FAILED_CAUSE_CHARS: usize = 32_000;

const BATCH_KEYS: [&str; 7] = [
    "Name",
    "Defaults",
    "Tables",
    "TablesUri",
    "Days",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
];

/// The batch execution's input (docs/CONTRACT.md, "Batch input").
#[derive(Debug, Clone, PartialEq)]
pub struct BatchInput {
    pub name: String,
    pub defaults: Map<String, Value>,
    pub tables: TableSource,
    pub days: Option<(NaiveDate, NaiveDate)>,
    pub tolerance: Tolerance,
}

/// Where the entries are.
#[derive(Debug, Clone, PartialEq)]
pub enum TableSource {
    Inline(Vec<Value>),
    /// An S3 object holding a `TableList` (the schedule's list, editable without a deploy).
    Object(String),
}

/// The table list: inline, or the S3 object's content (which may carry the tolerance too).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableList {
    pub defaults: Map<String, Value>,
    pub tables: Vec<Value>,
    pub tolerance: Tolerance,
}

/// How many failed items the batch tolerates, as a Distributed Map's ToleratedFailureCount and
/// ToleratedFailurePercentage: with neither, none; with both, exceeding either fails the batch.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Tolerance {
    pub count: Option<u64>,
    pub percentage: Option<f64>,
}

impl Tolerance {
    /// ToleratedFailureCount and ToleratedFailurePercentage of a batch input or table list.
    fn parse(map: &Map<String, Value>) -> Result<Self> {
        Ok(Self {
            count: match map.get("ToleratedFailureCount") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_u64().ok_or_else(|| {
                    invalid("ToleratedFailureCount", "must be a whole number ≥ 0")
                })?),
            },
            percentage: match map.get("ToleratedFailurePercentage") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_f64()
                        .filter(|p| (0.0..=100.0).contains(p))
                        .ok_or_else(|| {
                            invalid(
                                "ToleratedFailurePercentage",
                                "must be a number from 0 to 100",
                            )
                        })?,
                ),
            },
        })
    }

    /// This tolerance where it says something, `fallback`'s elsewhere (the input's over the list's).
    pub fn or(self, fallback: Tolerance) -> Tolerance {
        if self.count.is_some() || self.percentage.is_some() {
            self
        } else {
            fallback
        }
    }

    /// Whether `failed` of `items` is within the tolerance.
    pub fn tolerates(&self, failed: u64, items: u64) -> bool {
        if failed == 0 {
            return true;
        }
        let within_count = self.count.is_none_or(|n| failed <= n);
        let within_share = self
            .percentage
            .is_none_or(|p| (failed as f64) * 100.0 <= p * (items.max(1) as f64));
        (self.count.is_some() || self.percentage.is_some()) && within_count && within_share
    }

    fn label(&self) -> String {
        match (self.count, self.percentage) {
            (None, None) => "none".into(),
            (Some(n), None) => format!("{n}"),
            (None, Some(p)) => format!("{p}%"),
            (Some(n), Some(p)) => format!("{n} and {p}%"),
        }
    }
}

impl BatchInput {
    pub fn parse(event: &Value) -> Result<Self> {
        let map = event.as_object().ok_or_else(|| {
            UnloadError::InvalidRequest("the batch input must be a JSON object".into())
        })?;
        if let Some(key) = map.keys().find(|k| !BATCH_KEYS.contains(&k.as_str())) {
            return Err(invalid(
                key,
                format!(
                    "is not a batch key (accepted: {}); request keys go in Defaults or in each entry of Tables",
                    BATCH_KEYS.join(", ")
                ),
            ));
        }
        let name = match map.get("Name") {
            None | Some(Value::Null) => DEFAULT_NAME.to_string(),
            Some(Value::String(name)) => check_name(name)?,
            Some(_) => return Err(invalid("Name", "must be a string")),
        };
        let defaults = object("Defaults", map.get("Defaults"))?;
        let tables = match (map.get("Tables"), map.get("TablesUri")) {
            (Some(Value::Array(entries)), None) => TableSource::Inline(entries.clone()),
            (Some(_), None) => return Err(invalid("Tables", "must be a list of request objects")),
            (None, Some(Value::String(uri))) => TableSource::Object(check_object_uri(uri)?),
            (None, Some(_)) => {
                return Err(invalid("TablesUri", "must be an s3://bucket/key string"))
            }
            (Some(_), Some(_)) => {
                return Err(UnloadError::InvalidRequest(
                    "give either Tables or TablesUri, not both".into(),
                ))
            }
            (None, None) => {
                return Err(UnloadError::InvalidRequest(
                    "the batch needs its tables: Tables (a list) or TablesUri (an S3 object)"
                        .into(),
                ))
            }
        };
        let days = match map.get("Days") {
            None | Some(Value::Null) => None,
            Some(Value::Object(days)) => {
                let day = |key: &str| match days.get(key) {
                    Some(Value::String(text)) => {
                        checks::calendar_date(&format!("Days.{key}"), text)
                    }
                    _ => Err(invalid(&format!("Days.{key}"), "is required (YYYY-MM-DD)")),
                };
                if let Some(key) = days.keys().find(|k| *k != "From" && *k != "To") {
                    return Err(invalid(
                        &format!("Days.{key}"),
                        "is not a key of Days (From, To)",
                    ));
                }
                Some((day("From")?, day("To")?))
            }
            Some(_) => return Err(invalid("Days", "must be {\"From\": day, \"To\": day}")),
        };
        let tolerance = Tolerance::parse(map)?;
        Ok(Self {
            name,
            defaults,
            tables,
            days,
            tolerance,
        })
    }
}

impl TableList {
    /// The S3 object's content: `{"Defaults": {...}, "Tables": [...]}`.
    pub fn parse(bytes: &[u8], uri: &str) -> Result<Self> {
        let refuse =
            |why: String| UnloadError::InvalidRequest(format!("the table list {uri} {why}"));
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| refuse(format!("is not JSON: {e}")))?;
        let map = value.as_object().ok_or_else(|| {
            refuse("must be a JSON object {\"Defaults\": {...}, \"Tables\": [...]}".into())
        })?;
        const LIST_KEYS: [&str; 4] = [
            "Defaults",
            "Tables",
            "ToleratedFailureCount",
            "ToleratedFailurePercentage",
        ];
        if let Some(key) = map.keys().find(|k| !LIST_KEYS.contains(&k.as_str())) {
            return Err(refuse(format!(
                "has the key {key:?}; it takes {}",
                LIST_KEYS.join(", ")
            )));
        }
        let tables = match map.get("Tables") {
            Some(Value::Array(entries)) => entries.clone(),
            _ => return Err(refuse("needs Tables, a list of request objects".into())),
        };
        let defaults =
            object("Defaults", map.get("Defaults")).map_err(|e| refuse(e.to_string()))?;
        let tolerance = Tolerance::parse(map).map_err(|e| refuse(e.to_string()))?;
        Ok(Self {
            defaults,
            tables,
            tolerance,
        })
    }
}

/// One child execution the batch runs, skips or reports as invalid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub index: usize,
    /// schema.table as normalized, or as given when the entry is invalid.
    pub table: String,
    /// The day, or "full".
    pub scope: String,
    pub action: ItemAction,
    /// The attempt started, followed or skipped.
    pub name: Option<String>,
    /// The child's execution input: the merged request keys, the day explicit.
    pub input: Option<Value>,
    /// Why the entry is invalid ({"Error": "InvalidRequest", "Cause": ...}).
    pub error: Option<ItemError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemAction {
    Start,
    Follow,
    Skip,
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause")]
    pub cause: String,
}

/// An item before its attempts are looked up: valid (its base name and input) or not.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub index: usize,
    pub table: String,
    pub scope: String,
    pub outcome: std::result::Result<(String, Value), ItemError>,
}

impl Candidate {
    /// The item, once the attempts of a valid candidate are decided.
    pub fn into_item(self, action: Option<Action>) -> Item {
        let (action, name, input, error) = match (self.outcome, action) {
            (Err(error), _) => (ItemAction::Invalid, None, None, Some(error)),
            (Ok((base, input)), action) => {
                let (kind, attempt) = match action.unwrap_or(Action::Start { attempt: 1 }) {
                    Action::Start { attempt } => (ItemAction::Start, attempt),
                    Action::Follow { attempt } => (ItemAction::Follow, attempt),
                    Action::Skip { attempt } => (ItemAction::Skip, attempt),
                };
                (kind, Some(attempt_name(&base, attempt)), Some(input), None)
            }
        };
        Item {
            index: self.index,
            table: self.table,
            scope: self.scope,
            action,
            name,
            input,
            error,
        }
    }
}

/// The plan function's output (docs/CONTRACT.md, "Plan").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    pub day: Day,
    pub items: Vec<Item>,
    pub counts: Counts,
    /// The input's tolerance, else the table list's.
    pub tolerance: Tolerance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    pub items: usize,
    pub start: usize,
    pub follow: usize,
    pub skip: usize,
    pub invalid: usize,
}

impl Plan {
    pub fn new(name: String, day: NaiveDate, items: Vec<Item>, tolerance: Tolerance) -> Self {
        let day = Day::from(day);
        let mut counts = Counts {
            items: items.len(),
            ..Counts::default()
        };
        for item in &items {
            match item.action {
                ItemAction::Start => counts.start += 1,
                ItemAction::Follow => counts.follow += 1,
                ItemAction::Skip => counts.skip += 1,
                ItemAction::Invalid => counts.invalid += 1,
            }
        }
        Self {
            name,
            day,
            items,
            counts,
            tolerance,
        }
    }

    /// Refuses a plan the execution's state could not hold.
    pub fn check_size(&self) -> Result<()> {
        let bytes = serde_json::to_vec(self)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if bytes > MAX_PLAN_BYTES {
            return Err(UnloadError::InvalidRequest(format!(
                "the batch's plan is {} KiB, more than the {} KiB a Step Functions execution's state can carry beside the results: split the batch",
                bytes / 1024,
                MAX_PLAN_BYTES / 1024
            )));
        }
        Ok(())
    }
}

/// Every item of the batch, validated: entries (each over the list's and the input's Defaults),
/// once per day of `Days` when given. `default_day` is the stack's default day, resolved once.
pub fn candidates(
    input: &BatchInput,
    list: &TableList,
    defaults: &RequestDefaults,
    default_day: NaiveDate,
) -> Result<Vec<Candidate>> {
    let days = match input.days {
        Some((from, to)) => Some(day_range(from, to).map_err(|e| {
            UnloadError::InvalidRequest(e.replace("--to", "Days.To").replace("--from", "Days.From"))
        })?),
        None => None,
    };
    let per_entry = days.as_ref().map_or(1, Vec::len);
    let total = list.tables.len().saturating_mul(per_entry);
    if list.tables.is_empty() {
        return Err(UnloadError::InvalidRequest(
            "the batch has no tables (Tables is empty)".into(),
        ));
    }
    if total > MAX_ITEMS {
        return Err(UnloadError::InvalidRequest(format!(
            "the batch has {total} items ({} entries × {per_entry} days); one batch runs at most {MAX_ITEMS}: split it by tables or days",
            list.tables.len()
        )));
    }
    let mut out = Vec::with_capacity(total);
    let mut names: HashMap<String, usize> = HashMap::new();
    for (position, entry) in list.tables.iter().enumerate() {
        let merged = merge(&input.defaults, &list.defaults, entry);
        let label = entry_table(entry).unwrap_or_else(|| format!("Tables[{position}]"));
        let entry_days: Vec<Option<NaiveDate>> = match &days {
            Some(days) => days.iter().copied().map(Some).collect(),
            None => vec![None],
        };
        for day in entry_days {
            let index = out.len();
            let scope_label = day.map_or_else(|| "?".to_string(), |d| d.to_string());
            let outcome = merged
                .clone()
                .and_then(|m| child(m, day, &input.name, defaults, default_day))
                .map_err(|e| ItemError {
                    error: e.kind().to_string(),
                    cause: format!("Tables[{position}] ({label}): {e}"),
                });
            let (table, scope) = match &outcome {
                Ok(c) => (c.table.clone(), c.scope.clone()),
                Err(_) => (label.clone(), scope_label),
            };
            let outcome = match outcome {
                Ok(c) => match names.get(&c.base) {
                    Some(first) => Err(ItemError {
                        error: "InvalidRequest".into(),
                        cause: format!(
                            "Tables[{position}] ({label}): the same unload as item {first} ({table} {scope}); each table and day runs once per batch"
                        ),
                    }),
                    None => {
                        names.insert(c.base.clone(), index);
                        Ok((c.base, c.input))
                    }
                },
                Err(e) => Err(e),
            };
            out.push(Candidate {
                index,
                table,
                scope,
                outcome,
            });
        }
    }
    Ok(out)
}

/// A valid child: its table, scope label, base name and execution input.
struct Child {
    table: String,
    scope: String,
    base: String,
    input: Value,
}

fn child(
    mut keys: Map<String, Value>,
    day: Option<NaiveDate>,
    batch_name: &str,
    defaults: &RequestDefaults,
    default_day: NaiveDate,
) -> Result<Child> {
    if let Some(day) = day {
        if keys.contains_key("DayPartitionValue") {
            return Err(invalid(
                "DayPartitionValue",
                "is set by the batch's Days; remove it from the entry and its Defaults",
            ));
        }
        keys.insert("DayPartitionValue".into(), Value::String(day.to_string()));
    }
    let request = normalize(&Value::Object(keys.clone()), defaults, default_day)?;
    let tag = match request.scope {
        Scope::Day(_) => batch_name.to_string(),
        Scope::Full if day.is_some() => {
            return Err(UnloadError::InvalidRequest(
                "a whole-table entry (SnapshotYN n) has no day to run once per day of Days; leave it out of a backfill".into(),
            ))
        }
        // A nightly snapshot is a new unload every day: the batch's day is part of its name.
        Scope::Full => format!("{default_day}-{batch_name}"),
    };
    if let Scope::Day(day) = request.scope {
        // The child unloads exactly this day, whatever the clock says when it starts.
        keys.insert("DayPartitionValue".into(), Value::String(day.to_string()));
    }
    Ok(Child {
        base: base_name(&request.table, request.scope, &tag),
        table: request.table,
        scope: request.scope.label(),
        input: Value::Object(keys),
    })
}

/// The entry over the list's Defaults over the input's Defaults.
fn merge(
    input_defaults: &Map<String, Value>,
    list_defaults: &Map<String, Value>,
    entry: &Value,
) -> Result<Map<String, Value>> {
    let entry = entry.as_object().ok_or_else(|| {
        UnloadError::InvalidRequest("an entry must be a JSON object of request keys".into())
    })?;
    let mut merged = input_defaults.clone();
    merged.extend(list_defaults.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged.extend(entry.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(merged)
}

fn entry_table(entry: &Value) -> Option<String> {
    entry
        .get("PrefixedTablename")
        .and_then(Value::as_str)
        .map(|t| t.chars().take(128).collect())
}

fn object(field: &str, value: Option<&Value>) -> Result<Map<String, Value>> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(invalid(field, "must be an object of request keys")),
    }
}

fn check_name(name: &str) -> Result<String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(name.to_string())
    } else {
        Err(invalid(
            "Name",
            format!("must be 1-{MAX_NAME_CHARS} letters, digits, - or _ (it is part of every child's execution name)"),
        ))
    }
}

fn check_object_uri(uri: &str) -> Result<String> {
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| invalid("TablesUri", "must start with s3://"))?;
    let (bucket, key) = rest
        .split_once('/')
        .ok_or_else(|| invalid("TablesUri", "must name an object: s3://bucket/key"))?;
    checks::bucket_name("TablesUri", bucket)?;
    if key.is_empty() || key.ends_with('/') || key.chars().any(|c| c.is_control()) {
        return Err(invalid("TablesUri", "must name an object: s3://bucket/key"));
    }
    Ok(uri.to_string())
}

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

#[cfg(test)]
mod tests;
