//! The plan: every entry merged over the defaults and validated as validate does, once per day,
//! named, and (once its attempts are looked up) decided: start, follow, skip or invalid.

use super::{BatchInput, TableList, Tolerance};
use crate::checks::invalid;
use crate::contract::{Day, Scope};
use crate::error::{Result, UnloadError};
use crate::execution_names::{attempt_name, base_name, day_range, Action};
use crate::request::{normalize, RequestDefaults};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Items (entries × days) one batch runs. The inline Map keeps every item in the execution's
/// state, which Step Functions caps at 256 KiB ("Step Functions service quotas": "Maximum input
/// or output size for a task, state, or execution"); 200 items of a few hundred bytes leave room.
pub const MAX_ITEMS: usize = 200;
/// The plan's largest serialized size: what the state can hold beside the Map's results.
pub const MAX_PLAN_BYTES: usize = 160 * 1024;

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
            let scope_label = day.map_or_else(|| "-".to_string(), |d| d.to_string());
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
