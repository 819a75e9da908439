//! `unloadctl validate` as a user runs it: the real binary, files, stdin and exit codes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn unloadctl(args: &[&str], stdin: Option<&str>) -> Output {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_unloadctl"))
        .args(args)
        .current_dir(root)
        .env("UNLOAD_DEFAULT_S3_PATH", "s3://lake-bucket/datalake")
        .env("UNLOAD_DEFAULT_GLUE_CONNECTION", "redshift-conn")
        .env(
            "UNLOAD_DEFAULT_REDSHIFT_ROLE_ARN",
            "arn:aws:iam::123456789012:role/redshift-unload",
        )
        .env_remove("UNLOAD_DAY_OFFSET_DAYS")
        .env_remove("UNLOAD_DAY_TIME_ZONE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unloadctl runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn schedule_sample_prints_the_normalized_request() {
    let out = unloadctl(
        &[
            "validate",
            "events/schedule-daily.json",
            "--today",
            "2026-11-25",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let request: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(request["table"], "demo_master.orders");
    assert_eq!(request["job_name"], "demo_master.orders_ExtractToDataLake");
    assert!(request["target_uri"]
        .as_str()
        .unwrap()
        .ends_with("/o_orderdate_key=2026-11-25/"));
}

#[test]
fn the_original_samples_input_is_refused_and_its_password_never_shown() {
    let out = unloadctl(
        &["validate", "events/legacy-sample-with-password.json"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("InvalidRequest") && stderr.contains("JdbcUrl"),
        "{stderr}"
    );
    assert!(!stderr.contains("Welcome123") && !stdout.contains("Welcome123"));
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line, no stack trace: {stderr}"
    );
}

#[test]
fn stdin_is_read_when_no_file_is_given() {
    let out = unloadctl(
        &["validate", "--today", "2026-01-31"],
        Some(r#"{"PrefixedTablename":"a.b"}"#),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"scope\": \"full\""));
}

#[test]
fn invalid_json_and_missing_files_exit_2() {
    let out = unloadctl(&["validate", "-"], Some("{password=oops"));
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("oops"));
    let out = unloadctl(&["validate", "no/such/file.json"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read"));
}

#[test]
fn bad_today_is_refused() {
    let out = unloadctl(
        &["validate", "--today", "2023-02-29"],
        Some(r#"{"PrefixedTablename":"a.b"}"#),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--today"));
}

#[test]
fn poll_schedule_prints_the_waits() {
    let out = unloadctl(&["poll-schedule", "--run-seconds", "3600"], None);
    assert!(out.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let waits: Vec<u64> = plan["waits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_u64().unwrap())
        .collect();
    assert!(waits.iter().sum::<u64>() >= 3600);
    assert_eq!(plan["polls"].as_u64().unwrap() as usize, waits.len());
    assert!(waits.len() * 3 <= 120, "{} polls", waits.len());
}
