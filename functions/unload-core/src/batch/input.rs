//! The batch input and the table list: their keys, checked; the tolerance of failures.

use crate::checks::{self, invalid};
use crate::error::{Result, UnloadError};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The batch name when the input gives none.
pub const DEFAULT_NAME: &str = "batch";
/// Longest batch name: it is part of every child's execution name (80 characters in all).
const MAX_NAME_CHARS: usize = 32;
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

    pub(crate) fn label(&self) -> String {
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
