use super::*;
use aws_sdk_glue::operation::create_job::{CreateJobError, CreateJobOutput};
use aws_sdk_glue::operation::get_job::{GetJobError, GetJobOutput};
use aws_sdk_glue::operation::update_job::UpdateJobOutput;
use aws_sdk_glue::types::error::{AlreadyExistsException, EntityNotFoundException};
use aws_sdk_glue::types::{ConnectionsList, ExecutionProperty, Job, JobCommand, WorkerType};
use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
use aws_sdk_s3::types::error::NotFound;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use serde_json::json;
use unload_core::job_spec::JobSettings;

const SCRIPT: &str = "s3://artifacts-bucket/glue/unload_table.py";
const JOB: &str = "demo_master.orders_ExtractToDataLake";

fn settings() -> JobSettings {
    let vars = [
        ("GLUE_SCRIPT_LOCATION", SCRIPT),
        ("GLUE_JOB_ROLE_ARN", "arn:aws:iam::123456789012:role/glue"),
        ("GLUE_TEMP_DIR", "s3://artifacts-bucket/tmp"),
    ];
    JobSettings::from_lookup(|k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

fn state() -> State {
    State::from_value(json!({
        "input": {},
        "request": {
            "table": "demo_master.orders", "schema": "demo_master", "table_name": "orders", "scope": "day",
            "partition_key": "o_orderdate", "partition_value": "1998-07-21", "file_format": "parquet",
            "write_mode": "overwrite", "s3_path": "s3://lake-bucket",
            "target_uri": "s3://lake-bucket/demo_master/parquet/orders/o_orderdate_key=1998-07-21/",
            "glue_connection": "tpc-rs", "redshift_role_arn": null, "allow_empty_source": false, "job_name": JOB
        }
    }))
    .unwrap()
}

/// The job as Glue would store it after a create with `def`.
fn stored_job(def: &JobDefinition) -> Job {
    Job::builder()
        .name(JOB)
        .description(&def.description)
        .role(&def.role)
        .command(
            JobCommand::builder()
                .name("glueetl")
                .python_version("3")
                .script_location(&def.script_location)
                .build(),
        )
        .glue_version(&def.glue_version)
        .worker_type(WorkerType::from(def.worker_type.as_str()))
        .number_of_workers(def.number_of_workers)
        .timeout(def.timeout_minutes)
        .max_retries(def.max_retries)
        .execution_property(
            ExecutionProperty::builder()
                .max_concurrent_runs(def.max_concurrent_runs)
                .build(),
        )
        .execution_class(aws_sdk_glue::types::ExecutionClass::from(
            def.execution_class.as_str(),
        ))
        .connections(
            ConnectionsList::builder()
                .set_connections(Some(def.connections.clone()))
                .build(),
        )
        .set_default_arguments(Some(def.default_arguments.clone().into_iter().collect()))
        .build()
}

fn desired() -> JobDefinition {
    JobDefinition::desired(&settings(), state().request().unwrap(), SCRIPT)
}

fn script_present() -> Rule {
    mock!(aws_sdk_s3::Client::head_object)
        .then_output(|| HeadObjectOutput::builder().content_length(100).build())
}

fn not_found() -> GetJobError {
    GetJobError::EntityNotFoundException(
        EntityNotFoundException::builder().message("no job").build(),
    )
}

fn clients(glue_rules: &[&Rule], s3_rules: &[&Rule]) -> Clients {
    Clients {
        glue: mock_client!(
            aws_sdk_glue,
            RuleMode::Sequential,
            glue_rules.iter().copied()
        ),
        s3: mock_client!(aws_sdk_s3, RuleMode::Sequential, s3_rules.iter().copied()),
    }
}

#[tokio::test]
async fn missing_job_is_created_with_the_full_definition() {
    let get = mock!(aws_sdk_glue::Client::get_job).then_error(not_found);
    let create = mock!(aws_sdk_glue::Client::create_job)
        .match_requests(|req| {
            req.name() == Some(JOB)
                && req.glue_version() == Some("5.0")
                && req.command().and_then(|c| c.script_location()) == Some(SCRIPT)
                && req.connections().map(|c| c.connections().to_vec())
                    == Some(vec!["tpc-rs".to_string()])
                && req
                    .default_arguments()
                    .and_then(|a| a.get("--TempDir"))
                    .map(String::as_str)
                    == Some("s3://artifacts-bucket/tmp")
                && req.execution_property().map(|p| p.max_concurrent_runs()) == Some(1)
        })
        .then_output(|| CreateJobOutput::builder().name(JOB).build());
    let head = script_present();
    let c = clients(&[&get, &create], &[&head]);
    let job = handle(&state(), &c, &settings()).await.unwrap();
    assert_eq!(
        job,
        JobRef {
            name: JOB.into(),
            action: JobAction::Created
        }
    );
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn identical_job_is_left_unchanged() {
    let get = mock!(aws_sdk_glue::Client::get_job)
        .then_output(|| GetJobOutput::builder().job(stored_job(&desired())).build());
    let update =
        mock!(aws_sdk_glue::Client::update_job).then_output(|| UpdateJobOutput::builder().build());
    let head = script_present();
    let c = clients(&[&get, &update], &[&head]);
    let job = handle(&state(), &c, &settings()).await.unwrap();
    assert_eq!(job.action, JobAction::Unchanged);
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn drifted_job_is_updated_with_every_field() {
    let mut drifted = desired();
    drifted.number_of_workers = 10;
    drifted.default_arguments.clear();
    let get = mock!(aws_sdk_glue::Client::get_job)
        .then_output(move || GetJobOutput::builder().job(stored_job(&drifted)).build());
    let update = mock!(aws_sdk_glue::Client::update_job)
        .match_requests(|req| {
            let u = req.job_update().unwrap();
            req.job_name() == Some(JOB)
                && u.number_of_workers() == Some(2)
                && u.role().is_some()
                && u.command().and_then(|c| c.script_location()) == Some(SCRIPT)
                && u.glue_version() == Some("5.0")
                && u.timeout() == Some(120)
                && u.connections().is_some()
                && u.default_arguments()
                    .is_some_and(|a| a.contains_key("--TempDir"))
        })
        .then_output(|| UpdateJobOutput::builder().job_name(JOB).build());
    let head = script_present();
    let c = clients(&[&get, &update], &[&head]);
    let job = handle(&state(), &c, &settings()).await.unwrap();
    assert_eq!(job.action, JobAction::Updated);
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn lost_create_race_rereads_and_continues() {
    let get_missing = mock!(aws_sdk_glue::Client::get_job).then_error(not_found);
    let create = mock!(aws_sdk_glue::Client::create_job).then_error(|| {
        CreateJobError::AlreadyExistsException(
            AlreadyExistsException::builder().message("exists").build(),
        )
    });
    let get_again = mock!(aws_sdk_glue::Client::get_job)
        .then_output(|| GetJobOutput::builder().job(stored_job(&desired())).build());
    let head = script_present();
    let c = clients(&[&get_missing, &create, &get_again], &[&head]);
    let job = handle(&state(), &c, &settings()).await.unwrap();
    assert_eq!(job.action, JobAction::Unchanged);
    assert_eq!(get_again.num_calls(), 1);
}

#[tokio::test]
async fn missing_script_fails_naming_the_uri() {
    let head = mock!(aws_sdk_s3::Client::head_object)
        .then_error(|| HeadObjectError::NotFound(NotFound::builder().build()));
    let get = mock!(aws_sdk_glue::Client::get_job).then_error(not_found);
    let c = clients(&[&get], &[&head]);
    let err = handle(&state(), &c, &settings()).await.unwrap_err();
    assert_eq!(err.kind(), "GlueScriptMissing");
    assert!(err.to_string().contains(SCRIPT), "{err}");
    assert_eq!(
        get.num_calls(),
        0,
        "no job is touched before the script is known to exist"
    );
}

#[tokio::test]
async fn template_job_supplies_the_script_location() {
    let vars = [
        ("GLUE_TEMPLATE_JOB_NAME", "unload-template"),
        ("GLUE_JOB_ROLE_ARN", "arn:aws:iam::123456789012:role/glue"),
    ];
    let settings = JobSettings::from_lookup(|k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    let template = mock!(aws_sdk_glue::Client::get_job)
        .match_requests(|r| r.job_name() == Some("unload-template"))
        .then_output(|| GetJobOutput::builder().job(stored_job(&desired())).build());
    let get = mock!(aws_sdk_glue::Client::get_job).then_error(not_found);
    let create = mock!(aws_sdk_glue::Client::create_job)
        .match_requests(|r| r.command().and_then(|c| c.script_location()) == Some(SCRIPT))
        .then_output(|| CreateJobOutput::builder().name(JOB).build());
    let head = mock!(aws_sdk_s3::Client::head_object)
        .match_requests(|r| {
            r.bucket() == Some("artifacts-bucket") && r.key() == Some("glue/unload_table.py")
        })
        .then_output(|| HeadObjectOutput::builder().build());
    let c = clients(&[&template, &get, &create], &[&head]);
    assert_eq!(
        handle(&state(), &c, &settings).await.unwrap().action,
        JobAction::Created
    );
}

#[tokio::test]
async fn state_without_request_is_invalid_state() {
    let c = clients(&[], &[]);
    let err = handle(&State::default(), &c, &settings())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "InvalidState");
}

/// Settings of a stack named `mine` that checks job ownership.
fn owning_settings() -> JobSettings {
    let vars = [
        ("GLUE_SCRIPT_LOCATION", SCRIPT),
        ("GLUE_JOB_ROLE_ARN", "arn:aws:iam::123456789012:role/glue"),
        ("GLUE_TEMP_DIR", "s3://artifacts-bucket/tmp"),
        ("GLUE_JOB_TAGS", r#"{"redshift-unload:stack": "mine"}"#),
        (
            "GLUE_JOB_ARN_PREFIX",
            "arn:aws:glue:us-east-1:123456789012:job/",
        ),
    ];
    JobSettings::from_lookup(|k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

fn tags_of(owner: Option<&'static str>) -> Rule {
    mock!(aws_sdk_glue::Client::get_tags)
        .match_requests(|r| {
            r.resource_arn()
                == Some(
                    "arn:aws:glue:us-east-1:123456789012:job/demo_master.orders_ExtractToDataLake",
                )
        })
        .then_output(move || {
            aws_sdk_glue::operation::get_tags::GetTagsOutput::builder()
                .set_tags(owner.map(|o| {
                    [("redshift-unload:stack".to_string(), o.to_string())]
                        .into_iter()
                        .collect()
                }))
                .build()
        })
}

#[tokio::test]
async fn a_job_another_stack_owns_is_refused_and_left_alone() {
    let mut drifted = desired();
    drifted.number_of_workers = 10;
    for owner in [Some("other-stack"), None] {
        let drifted = drifted.clone();
        let get = mock!(aws_sdk_glue::Client::get_job)
            .then_output(move || GetJobOutput::builder().job(stored_job(&drifted)).build());
        let tags = tags_of(owner);
        let update = mock!(aws_sdk_glue::Client::update_job)
            .then_output(|| UpdateJobOutput::builder().build());
        let head = script_present();
        let c = clients(&[&get, &tags, &update], &[&head]);
        let err = handle(&state(), &c, &owning_settings()).await.unwrap_err();
        assert_eq!(err.kind(), "JobOwnedElsewhere", "{owner:?}");
        assert!(err.to_string().contains(JOB), "{err}");
        assert_eq!(
            update.num_calls(),
            0,
            "the other stack's job is not updated"
        );
    }
}

#[tokio::test]
async fn a_job_this_stack_owns_is_converged() {
    let mut drifted = desired();
    drifted.number_of_workers = 10;
    let get = mock!(aws_sdk_glue::Client::get_job)
        .then_output(move || GetJobOutput::builder().job(stored_job(&drifted)).build());
    let tags = tags_of(Some("mine"));
    let update = mock!(aws_sdk_glue::Client::update_job)
        .then_output(|| UpdateJobOutput::builder().job_name(JOB).build());
    let head = script_present();
    let c = clients(&[&get, &tags, &update], &[&head]);
    let job = handle(&state(), &c, &owning_settings()).await.unwrap();
    assert_eq!(job.action, JobAction::Updated);
}

#[tokio::test]
async fn the_unload_engine_needs_no_glue_job_and_no_call_is_made() {
    let mut state = state();
    if let Some(request) = state.request.as_mut() {
        request.engine = unload_core::contract::EngineKind::Unload;
    }
    // No rules: any Glue or S3 call would fail the test.
    let clients = Clients {
        glue: mock_client!(aws_sdk_glue, RuleMode::MatchAny, Vec::<&Rule>::new()),
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, Vec::<&Rule>::new()),
    };
    let job = handle(&state, &clients, &settings()).await.unwrap();
    assert_eq!(job.action, JobAction::Skipped);
    assert_eq!(job.name, state.request.unwrap().job_name);
}
