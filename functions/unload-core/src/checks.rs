//! Validators for every value that can reach SQL, a Glue argument or an S3 key.
//! Each returns the normalized value or an `InvalidRequest` naming the field and the rule.
//! Offending values are shown escaped and truncated, so a hostile value cannot forge log lines.

use crate::error::{Result, UnloadError};
use chrono::NaiveDate;

/// Redshift's limit for an identifier, in bytes.
pub const MAX_IDENTIFIER_BYTES: usize = 127;
/// Glue's limit for a job name.
pub const MAX_JOB_NAME_CHARS: usize = 255;

pub fn invalid(field: &str, rule: impl std::fmt::Display) -> UnloadError {
    UnloadError::InvalidRequest(format!("{field}: {rule}"))
}

/// A value as it may appear in an error message: debug-escaped and cut at 64 characters.
pub fn shown(value: &str) -> String {
    const LIMIT: usize = 64;
    if value.chars().count() <= LIMIT {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(LIMIT).collect();
        format!("{head:?}… ({} characters)", value.chars().count())
    }
}

/// A Redshift identifier (schema, table or column), lower-cased as Redshift folds unquoted names.
/// Stricter than Redshift on purpose: ASCII only, so look-alike letters cannot alias a name,
/// and no quoting characters, so the value is safe inside double quotes.
pub fn identifier(field: &str, value: &str) -> Result<String> {
    if value.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.len() > MAX_IDENTIFIER_BYTES {
        return Err(invalid(
            field,
            format!(
                "{} is longer than Redshift's {MAX_IDENTIFIER_BYTES}-byte identifier limit",
                shown(value)
            ),
        ));
    }
    let mut chars = value.chars();
    let first = chars.next().unwrap_or_default();
    if !(first.is_ascii_alphabetic() || first == '_') {
        return Err(invalid(
            field,
            format!(
                "{} must start with an ASCII letter or underscore",
                shown(value)
            ),
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '$'))
    {
        return Err(invalid(
            field,
            format!(
                "{} contains {bad:?}; only ASCII letters, digits, '_' and '$' are allowed",
                shown(value)
            ),
        ));
    }
    Ok(value.to_ascii_lowercase())
}

/// `schema.table` → (schema, table), both checked identifiers.
pub fn table_reference(field: &str, value: &str) -> Result<(String, String)> {
    let parts: Vec<&str> = value.split('.').collect();
    if parts.len() != 2 {
        return Err(invalid(
            field,
            format!("{} must be schema.table (exactly one '.')", shown(value)),
        ));
    }
    Ok((
        identifier(&format!("{field} (schema)"), parts[0])?,
        identifier(&format!("{field} (table)"), parts[1])?,
    ))
}

/// A real calendar date written exactly `YYYY-MM-DD`.
pub fn calendar_date(field: &str, value: &str) -> Result<NaiveDate> {
    let shape_ok = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(invalid(
            field,
            format!("{} must be a date written YYYY-MM-DD", shown(value)),
        ));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        invalid(
            field,
            format!("{} is not a real calendar date", shown(value)),
        )
    })
}

/// `y`/`n` in any case, as the original sample's SnapshotYN.
pub fn yes_no(field: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "y" => Ok(true),
        "n" => Ok(false),
        _ => Err(invalid(field, format!("{} must be y or n", shown(value)))),
    }
}

/// A boolean flag given as y/n, yes/no or true/false.
pub fn flag(field: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" => Ok(true),
        "n" | "no" | "false" => Ok(false),
        _ => Err(invalid(
            field,
            format!("{} must be true or false (or y/n)", shown(value)),
        )),
    }
}

/// A closed set of values with one lower-case name each (FileFormat, WriteMode).
pub trait Named: Copy + 'static {
    const ALL: &'static [Self];
    fn name(self) -> &'static str;
}

/// The value a word names, case-insensitive, or InvalidRequest listing the names.
pub fn one_of<T: Named>(field: &str, value: &str) -> Result<T> {
    let lower = value.to_ascii_lowercase();
    T::ALL
        .iter()
        .copied()
        .find(|v| v.name() == lower)
        .ok_or_else(|| {
            let names: Vec<&str> = T::ALL.iter().map(|v| v.name()).collect();
            invalid(
                field,
                format!("{} must be one of {}", shown(value), names.join(", ")),
            )
        })
}

/// A parsed `s3://bucket[/prefix]` location, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Key prefix without leading or trailing '/', possibly empty.
    pub prefix: String,
}

impl S3Location {
    pub fn uri(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// Characters allowed in a key segment: ASCII letters, digits and `.` `_` `-` (S3's "safe
/// characters" without `!*'()`, which Hive partition paths and Hadoop paths would need quoted),
/// plus `=` for Hive folders. The Glue script applies the same rule; both suites read the cases
/// in data/s3_uri_cases.json.
fn safe_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.=".contains(c)
}

/// `s3://bucket[/prefix][/]`. A trailing slash is accepted and dropped; an empty, `.` or `..`
/// segment, or any character outside S3's safe set, is refused.
pub fn s3_location(field: &str, value: &str) -> Result<S3Location> {
    let rest = value
        .strip_prefix("s3://")
        .ok_or_else(|| invalid(field, format!("{} must start with s3://", shown(value))))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    bucket_name(field, bucket)?;
    if !prefix.is_empty() {
        for segment in prefix.split('/') {
            if segment.is_empty() {
                return Err(invalid(
                    field,
                    format!("{} has an empty path segment ('//')", shown(value)),
                ));
            }
            if segment == "." || segment == ".." {
                return Err(invalid(
                    field,
                    format!("{} has a '{segment}' path segment", shown(value)),
                ));
            }
            if let Some(bad) = segment.chars().find(|c| !safe_key_char(*c)) {
                return Err(invalid(
                    field,
                    format!(
                        "{} contains {bad:?}; path segments may use ASCII letters, digits and . _ = -",
                        shown(value)
                    ),
                ));
            }
        }
    }
    Ok(S3Location {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
    })
}

/// S3's bucket naming rules for general purpose buckets.
pub fn bucket_name(field: &str, bucket: &str) -> Result<()> {
    let rule = |why: &str| invalid(field, format!("bucket {} {why}", shown(bucket)));
    if !(3..=63).contains(&bucket.len()) {
        return Err(rule("must be 3 to 63 characters long"));
    }
    if !bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
    {
        return Err(rule("may only use lower-case letters, digits, '.' and '-'"));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(bucket.chars().next()) || !edge_ok(bucket.chars().last()) {
        return Err(rule("must begin and end with a letter or digit"));
    }
    if bucket.contains("..") || bucket.contains(".-") || bucket.contains("-.") {
        return Err(rule("must not have adjacent '.' or '-' and '.'"));
    }
    if bucket.split('.').count() == 4 && bucket.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err(rule("must not look like an IP address"));
    }
    if bucket.starts_with("xn--")
        || bucket.starts_with("sthree-")
        || bucket.ends_with("-s3alias")
        || bucket.ends_with("--ol-s3")
    {
        return Err(rule("uses a prefix or suffix S3 reserves"));
    }
    Ok(())
}

/// An IAM role ARN in any partition.
pub fn role_arn(field: &str, value: &str) -> Result<String> {
    let bad = || {
        invalid(
            field,
            format!(
                "{} must be an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)",
                shown(value)
            ),
        )
    };
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    if parts.len() != 6
        || parts[0] != "arn"
        || !parts[1].starts_with("aws")
        || parts[2] != "iam"
        || !parts[3].is_empty()
    {
        return Err(bad());
    }
    if parts[4].len() != 12 || !parts[4].bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let name = parts[5].strip_prefix("role/").ok_or_else(bad)?;
    let name_ok = !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c));
    if !name_ok || !parts[1].chars().all(|c| c.is_ascii_lowercase() || c == '-') {
        return Err(bad());
    }
    Ok(value.to_string())
}

/// A Glue connection name: printable ASCII without quoting or separator characters.
pub fn connection_name(field: &str, value: &str) -> Result<String> {
    let ok = !value.is_empty()
        && value.len() <= 255
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !ok {
        return Err(invalid(
            field,
            format!("{} must be a Glue connection name (ASCII letters, digits, '_', '-', '.'; up to 255)", shown(value)),
        ));
    }
    Ok(value.to_string())
}

/// Parameters a compatibility JdbcUrl may carry: none of them can hold a secret.
pub const JDBC_PARAMETERS: [&str; 3] = ["user", "ssl", "sslmode"];

/// A JDBC URL is accepted for compatibility only in its plain form,
/// `jdbc:redshift://<host>:<port>/<database>` (or `jdbc:postgresql://` for the local stand-in),
/// with no user info and no parameters but the non-secret JDBC_PARAMETERS (the original sample's
/// URLs carried `?user=...`). The Glue connection defines the endpoint and holds the credentials;
/// an allowlist cannot be fooled by a secret-bearing parameter spelled in a way a denylist does
/// not know. The URL is percent-decoded before it is judged, and it is never echoed.
pub fn jdbc_url_without_credentials(field: &str, value: &str) -> Result<()> {
    let decoded = percent_decode(value).ok_or_else(|| {
        invalid(
            field,
            "is not a valid percent-encoded URL (value not shown)",
        )
    })?;
    let rest = ["jdbc:redshift://", "jdbc:postgresql://"]
        .iter()
        .find_map(|scheme| {
            decoded
                .get(..scheme.len())
                .filter(|head| head.eq_ignore_ascii_case(scheme))
                .map(|_| &decoded[scheme.len()..])
        })
        .ok_or_else(|| {
            invalid(
                field,
                "must be a jdbc:redshift://host:port/database URL (value not shown)",
            )
        })?;
    let refused = || {
        invalid(
            field,
            format!(
                "carries credentials or parameters beyond jdbc:redshift://<host>:<port>/<database>\
                 [?{}=<value>] (value not shown); passwords are not accepted in a request: store \
                 them in the Glue connection or AWS Secrets Manager and drop them from JdbcUrl",
                JDBC_PARAMETERS.join("=..|")
            ),
        )
    };
    let (address, parameters) = match rest.find(['?', ';']) {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let parameters_ok = parameters.is_none_or(|text| {
        text.split(['&', ';']).all(|pair| {
            pair.split_once('=').is_some_and(|(name, value)| {
                JDBC_PARAMETERS.iter().any(|p| p.eq_ignore_ascii_case(name))
                    && !value.is_empty()
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            })
        })
    });
    if !parameters_ok {
        return Err(refused());
    }
    let (authority, database) = address.split_once('/').ok_or_else(refused)?;
    let (host, port) = authority.rsplit_once(':').ok_or_else(refused)?;
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    let port_ok = (1..=5).contains(&port.len())
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p));
    let database_ok = !database.is_empty()
        && database.len() <= 127
        && database
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_$-".contains(c));
    if host_ok && port_ok && database_ok {
        Ok(())
    } else {
        Err(refused())
    }
}

/// `%XX` sequences decoded (as UTF-8); None for a malformed escape or invalid UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Comma-separated names from an allowlist variable; empty entries are dropped.
pub fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}
