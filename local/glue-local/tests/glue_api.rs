//! glue-local through aws-sdk-glue, against the built binary on a free port. Job scripts are
//! small shell files (the server runs them with `--python /bin/sh`) placed in a temporary
//! local-S3 folder. Every wait polls with a deadline. The admin endpoint (`/_twin/faults`) is
//! called with plain HTTP, as the project's Python tests do.

use aws_sdk_glue::config::retry::RetryConfig;
use aws_sdk_glue::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_glue::error::ProvideErrorMetadata;
use aws_sdk_glue::types::{ExecutionProperty, JobCommand, JobRun, JobRunState, JobUpdate};
use aws_sdk_glue::Client;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

struct Server {
    child: Child,
    dir: PathBuf,
    url: String,
    client: Client,
}

impl Server {
    fn launch(test: &str, extra: &[&str]) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("glue-local-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("s3/scripts")).unwrap();
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_glue-local"))
            .args(["--bind", "127.0.0.1:0", "--python", "/bin/sh"])
            .arg("--s3-root")
            .arg(dir.join("s3"))
            .arg("--state-dir")
            .arg(dir.join("state"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim_end()
            .strip_prefix("glue-local listening on ")
            .unwrap_or_else(|| panic!("unexpected ready line {line:?}"))
            .to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Self {
            child,
            dir,
            client: client(&url, RetryConfig::standard()),
            url,
        }
    }

    /// A client of this server with its own retry policy.
    fn client_with(&self, retry: RetryConfig) -> Client {
        client(&self.url, retry)
    }

    /// One plain HTTP/1.1 call (the admin endpoint): the status and the JSON body.
    fn http(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let addr = self.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, serde_json::from_str(body).unwrap())
    }

    /// Arms a fault through the admin endpoint.
    fn arm(&self, operation: &str, error: &str, count: u64) {
        let body = json!({"operation": operation, "error": error, "count": count}).to_string();
        let (status, answer) = self.http("POST", "/_twin/faults", &body);
        assert_eq!(status, 200, "{answer}");
    }

    fn s3_root(&self) -> PathBuf {
        self.dir.join("s3")
    }

    /// Writes a script into the local S3 folder; its s3:// location.
    fn script(&self, name: &str, body: &str) -> String {
        std::fs::write(self.s3_root().join("scripts").join(name), body).unwrap();
        format!("s3://scripts/{name}")
    }

    async fn create_job(&self, name: &str, script: &str, timeout: i32, max_concurrent: i32) {
        self.client
            .create_job()
            .name(name)
            .role("arn:aws:iam::123456789012:role/glue")
            .command(
                JobCommand::builder()
                    .name("glueetl")
                    .script_location(script)
                    .build(),
            )
            .timeout(timeout)
            .execution_property(
                ExecutionProperty::builder()
                    .max_concurrent_runs(max_concurrent)
                    .build(),
            )
            .default_arguments("--from_job", "job")
            .default_arguments("--both", "job")
            .send()
            .await
            .unwrap();
    }

    async fn start(&self, job: &str, args: &[(&str, &str)]) -> String {
        let args: HashMap<String, String> = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let out = self
            .client
            .start_job_run()
            .job_name(job)
            .set_arguments(Some(args))
            .send()
            .await
            .unwrap();
        out.job_run_id().unwrap().to_string()
    }

    async fn run(&self, job: &str, id: &str) -> JobRun {
        let out = self
            .client
            .get_job_run()
            .job_name(job)
            .run_id(id)
            .send()
            .await
            .unwrap();
        out.job_run().unwrap().clone()
    }

    /// Polls until the run's state satisfies `done`; the run and every state seen on the way.
    async fn wait_for(
        &self,
        job: &str,
        id: &str,
        done: impl Fn(&JobRunState) -> bool,
    ) -> (JobRun, Vec<String>) {
        let deadline = Instant::now() + DEADLINE;
        let mut seen: Vec<String> = Vec::new();
        loop {
            let run = self.run(job, id).await;
            let state = run.job_run_state().unwrap().clone();
            if seen.last().map(String::as_str) != Some(state.as_str()) {
                seen.push(state.as_str().to_string());
            }
            if done(&state) {
                return (run, seen);
            }
            assert!(
                Instant::now() < deadline,
                "run {id} still {state:?} (seen {seen:?}); log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// SIGTERM, and the exit status once the server has ended.
    fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "glue-local did not exit on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn client(url: &str, retry: RetryConfig) -> Client {
    let config = aws_sdk_glue::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(url)
        .retry_config(retry)
        .build();
    Client::from_conf(config)
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.terminate();
        }
        if std::thread::panicking() {
            eprintln!("glue-local log:\n{}", self.log());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn is(want: JobRunState) -> impl Fn(&JobRunState) -> bool {
    move |s| *s == want
}

fn terminal(s: &JobRunState) -> bool {
    !matches!(
        s,
        JobRunState::Starting | JobRunState::Running | JobRunState::Stopping | JobRunState::Waiting
    )
}

/// Waits for a file the script creates (its pid, its arguments...).
async fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if text.ends_with('\n') {
                return text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Alive and not a zombie.
fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

const SLEEPER: &str = "echo $$ > \"$UNLOAD_LOCAL_S3_ROOT/pid.tmp\" && mv \"$UNLOAD_LOCAL_S3_ROOT/pid.tmp\" \"$UNLOAD_LOCAL_S3_ROOT/pid\"\nsleep 120\n";

#[tokio::test]
async fn jobs_are_created_read_replaced_and_deleted() {
    let server = Server::launch("jobs", &[]);
    let glue = &server.client;
    server
        .create_job("demo.orders_ExtractToDataLake", "s3://scripts/x.py", 120, 1)
        .await;

    let job = glue
        .get_job()
        .job_name("demo.orders_ExtractToDataLake")
        .send()
        .await
        .unwrap();
    let job = job.job().unwrap();
    assert_eq!(job.name(), Some("demo.orders_ExtractToDataLake"));
    assert_eq!(
        job.command().unwrap().script_location(),
        Some("s3://scripts/x.py")
    );
    assert_eq!(job.timeout(), Some(120));
    assert_eq!(job.execution_property().unwrap().max_concurrent_runs(), 1);
    assert_eq!(job.default_arguments().unwrap()["--both"], "job");
    assert!(job.created_on().is_some() && job.last_modified_on().is_some());

    let again = glue
        .create_job()
        .name("demo.orders_ExtractToDataLake")
        .role("r")
        .command(
            JobCommand::builder()
                .script_location("s3://scripts/x.py")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(
        again
            .as_service_error()
            .unwrap()
            .is_already_exists_exception(),
        "{again:?}"
    );

    // UpdateJob replaces the whole definition: DefaultArguments and MaxConcurrentRuns go back to
    // what Glue assumes when they are not given.
    glue.update_job()
        .job_name("demo.orders_ExtractToDataLake")
        .job_update(
            JobUpdate::builder()
                .role("r2")
                .command(
                    JobCommand::builder()
                        .script_location("s3://scripts/y.py")
                        .build(),
                )
                .timeout(7)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let job = glue
        .get_job()
        .job_name("demo.orders_ExtractToDataLake")
        .send()
        .await
        .unwrap();
    let job = job.job().unwrap();
    assert_eq!(job.role(), Some("r2"));
    assert_eq!(
        job.command().unwrap().script_location(),
        Some("s3://scripts/y.py")
    );
    assert_eq!(job.timeout(), Some(7));
    assert!(job.default_arguments().is_none());
    assert_eq!(job.execution_property().unwrap().max_concurrent_runs(), 1);

    glue.delete_job()
        .job_name("demo.orders_ExtractToDataLake")
        .send()
        .await
        .unwrap();
    let missing = glue
        .get_job()
        .job_name("demo.orders_ExtractToDataLake")
        .send()
        .await
        .unwrap_err();
    assert!(
        missing
            .as_service_error()
            .unwrap()
            .is_entity_not_found_exception(),
        "{missing:?}"
    );
    let update_missing = glue
        .update_job()
        .job_name("nope")
        .job_update(
            JobUpdate::builder()
                .role("r")
                .command(JobCommand::builder().build())
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(update_missing
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
    // Deleting what is not there succeeds, as in Glue.
    glue.delete_job().job_name("nope").send().await.unwrap();
    let start_missing = glue
        .start_job_run()
        .job_name("nope")
        .send()
        .await
        .unwrap_err();
    assert!(start_missing
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
    let runs_missing = glue
        .get_job_runs()
        .job_name("nope")
        .send()
        .await
        .unwrap_err();
    assert!(runs_missing
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
}

#[tokio::test]
async fn a_run_gets_its_arguments_and_succeeds() {
    let server = Server::launch("succeeds", &[]);
    let script = server.script(
        "ok.sh",
        "printf '%s\\n' \"$@\" > \"$UNLOAD_LOCAL_S3_ROOT/args.txt\"\n\
         while [ ! -e \"$UNLOAD_LOCAL_S3_ROOT/go\" ]; do sleep 0.02; done\n\
         echo done\n",
    );
    server.create_job("ok", &script, 10, 1).await;
    let t0 = Instant::now();
    let id = server
        .start("ok", &[("--both", "run"), ("--execution_id", "arn:exec:1")])
        .await;
    assert!(id.starts_with("jr_") && id.len() == 67, "{id}");

    let (running, _) = server.wait_for("ok", &id, is(JobRunState::Running)).await;
    assert_eq!(running.execution_time(), 0);
    assert!(running.completed_on().is_none());
    std::fs::write(server.s3_root().join("go"), "").unwrap();
    let (run, seen) = server.wait_for("ok", &id, terminal).await;
    let wall = t0.elapsed().as_secs_f64().ceil() as i32;

    assert_eq!(
        run.job_run_state(),
        Some(&JobRunState::Succeeded),
        "{run:?}"
    );
    assert!(
        seen.iter()
            .all(|s| ["STARTING", "RUNNING", "SUCCEEDED"].contains(&s.as_str())),
        "{seen:?}"
    );
    assert!(
        run.execution_time() >= 1 && run.execution_time() <= wall + 1,
        "{run:?}"
    );
    assert!(run.started_on().is_some() && run.completed_on().is_some());
    assert!(run.completed_on().unwrap().secs() >= run.started_on().unwrap().secs());
    assert_eq!(run.attempt(), 0);
    assert_eq!(run.error_message(), None);
    // The run shows its own arguments; the script got the job's defaults overlaid with them.
    let run_args = run.arguments().unwrap();
    assert_eq!(run_args.len(), 2);
    assert_eq!(run_args["--both"], "run");
    let argv = std::fs::read_to_string(server.s3_root().join("args.txt")).unwrap();
    let argv: Vec<&str> = argv.lines().collect();
    assert_eq!(
        &argv[..4],
        ["--JOB_NAME", "ok", "--JOB_RUN_ID", id.as_str()]
    );
    let pairs: HashMap<&str, &str> = argv[4..].chunks(2).map(|p| (p[0], p[1])).collect();
    assert_eq!(
        pairs,
        HashMap::from([
            ("--both", "run"),
            ("--from_job", "job"),
            ("--execution_id", "arn:exec:1")
        ])
    );
    let stdout = server.dir.join("state/runs").join(&id).join("stdout.log");
    assert_eq!(std::fs::read_to_string(stdout).unwrap(), "done\n");
}

#[tokio::test]
async fn a_failing_run_reports_its_unload_error() {
    let server = Server::launch("fails", &[]);
    let boom = server.script(
        "boom.sh",
        "echo 'INFO spark noise' >&2\necho 'UnloadError: boom' >&2\necho 'INFO shutdown hook' >&2\nexit 1\n",
    );
    let noisy = server.script(
        "noisy.sh",
        "i=0; while [ $i -lt 400 ]; do echo \"trace line $i\" >&2; i=$((i+1)); done\nexit 3\n",
    );
    server.create_job("boom", &boom, 10, 1).await;
    server.create_job("noisy", &noisy, 10, 1).await;

    let id = server.start("boom", &[]).await;
    let (run, _) = server.wait_for("boom", &id, terminal).await;
    assert_eq!(run.job_run_state(), Some(&JobRunState::Failed));
    assert_eq!(run.error_message(), Some("UnloadError: boom"));
    assert!(run.execution_time() >= 1);

    let id = server.start("noisy", &[]).await;
    let (run, _) = server.wait_for("noisy", &id, terminal).await;
    assert_eq!(run.job_run_state(), Some(&JobRunState::Failed));
    let message = run.error_message().unwrap();
    assert!(message.chars().count() <= 1000, "{} chars", message.len());
    assert!(message.ends_with("trace line 399"), "{message}");
}

#[tokio::test]
async fn a_missing_script_fails_the_run_clearly() {
    let server = Server::launch("noscript", &[]);
    server
        .create_job("lost", "s3://scripts/not-uploaded.py", 10, 1)
        .await;
    let id = server.start("lost", &[]).await;
    let (run, _) = server.wait_for("lost", &id, terminal).await;
    assert_eq!(run.job_run_state(), Some(&JobRunState::Failed));
    let message = run.error_message().unwrap();
    assert!(
        message.contains("s3://scripts/not-uploaded.py") && message.contains("does not exist"),
        "{message}"
    );
}

#[tokio::test]
async fn a_run_past_its_timeout_is_killed() {
    let server = Server::launch("timeout", &["--timeout-unit-seconds", "1"]);
    let script = server.script("sleep.sh", SLEEPER);
    server.create_job("slow", &script, 1, 1).await;
    let id = server.start("slow", &[]).await;
    let pid: i32 = wait_for_file(&server.s3_root().join("pid"))
        .await
        .trim()
        .parse()
        .unwrap();
    let (run, _) = server.wait_for("slow", &id, terminal).await;
    assert_eq!(run.job_run_state(), Some(&JobRunState::Timeout), "{run:?}");
    assert!(run.error_message().unwrap().contains("timed out"));
    assert!(run.execution_time() >= 1);
    assert!(
        !process_alive(pid),
        "the script's shell {pid} survived its timeout"
    );
}

#[tokio::test]
async fn batch_stop_ends_a_run_and_frees_its_slot() {
    let server = Server::launch("stop", &[]);
    let script = server.script("sleep.sh", SLEEPER);
    server.create_job("busy", &script, 10, 1).await;
    let id = server.start("busy", &[]).await;
    server.wait_for("busy", &id, is(JobRunState::Running)).await;

    // MaxConcurrentRuns 1: a second run is refused while the first is active.
    let second = server
        .client
        .start_job_run()
        .job_name("busy")
        .send()
        .await
        .unwrap_err();
    assert!(
        second
            .as_service_error()
            .unwrap()
            .is_concurrent_runs_exceeded_exception(),
        "{second:?}"
    );

    let pid: i32 = wait_for_file(&server.s3_root().join("pid"))
        .await
        .trim()
        .parse()
        .unwrap();
    let out = server
        .client
        .batch_stop_job_run()
        .job_name("busy")
        .job_run_ids(&id)
        .job_run_ids("jr_unknown")
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful_submissions().len(), 1);
    assert_eq!(
        out.successful_submissions()[0].job_run_id(),
        Some(id.as_str())
    );
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].job_run_id(), Some("jr_unknown"));

    let (run, _) = server.wait_for("busy", &id, terminal).await;
    assert_eq!(run.job_run_state(), Some(&JobRunState::Stopped), "{run:?}");
    assert!(
        !process_alive(pid),
        "the stopped script {pid} is still running"
    );
    // Stopping a finished run is an error entry, not a failure of the call.
    let again = server
        .client
        .batch_stop_job_run()
        .job_name("busy")
        .job_run_ids(&id)
        .send()
        .await
        .unwrap();
    assert!(again.successful_submissions().is_empty() && again.errors().len() == 1);
    // The slot is free again.
    std::fs::remove_file(server.s3_root().join("pid")).unwrap();
    let next = server.start("busy", &[]).await;
    server
        .wait_for("busy", &next, is(JobRunState::Running))
        .await;
    let pid: i32 = wait_for_file(&server.s3_root().join("pid"))
        .await
        .trim()
        .parse()
        .unwrap();

    // Deleting the job stops its active run too: no process outlives its job.
    server
        .client
        .delete_job()
        .job_name("busy")
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + DEADLINE;
    while process_alive(pid) {
        assert!(
            Instant::now() < deadline,
            "the deleted job's run {pid} is still running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_run_ends_when_its_whole_process_group_has() {
    let server = Server::launch("group", &[]);
    // The script exits at once, leaving a child behind that finishes its work later (as
    // Spark's JVM outlives python for a moment).
    let script = server.script(
        "linger.sh",
        "(sleep 0.5; echo late > \"$UNLOAD_LOCAL_S3_ROOT/late\") &\nexit 0\n",
    );
    server.create_job("linger", &script, 10, 1).await;
    let id = server.start("linger", &[]).await;
    let (run, _) = server.wait_for("linger", &id, terminal).await;
    assert_eq!(run.job_run_state(), Some(&JobRunState::Succeeded));
    assert_eq!(
        std::fs::read_to_string(server.s3_root().join("late")).unwrap(),
        "late\n"
    );
}

#[tokio::test]
async fn get_job_runs_pages_newest_first_with_arguments() {
    let server = Server::launch("runs", &[]);
    let script = server.script("quick.sh", "exit 0\n");
    server.create_job("many", &script, 10, 5).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let id = server
            .start("many", &[("--execution_id", &format!("arn:exec:{n}"))])
            .await;
        server.wait_for("many", &id, terminal).await;
        ids.push(id);
    }
    let page = server
        .client
        .get_job_runs()
        .job_name("many")
        .max_results(2)
        .send()
        .await
        .unwrap();
    let got: Vec<&str> = page.job_runs().iter().map(|r| r.id().unwrap()).collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    let mine = page
        .job_runs()
        .iter()
        .find(|r| r.arguments().unwrap()["--execution_id"] == "arn:exec:1")
        .unwrap();
    assert_eq!(mine.id(), Some(ids[1].as_str()));
    assert!(page
        .job_runs()
        .iter()
        .all(|r| r.job_run_state() == Some(&JobRunState::Succeeded)));

    let rest = server
        .client
        .get_job_runs()
        .job_name("many")
        .max_results(2)
        .next_token(page.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.job_runs().len(), 1);
    assert_eq!(rest.job_runs()[0].id(), Some(ids[0].as_str()));
    assert_eq!(rest.next_token(), None);

    let all = server
        .client
        .get_job_runs()
        .job_name("many")
        .send()
        .await
        .unwrap();
    assert_eq!(all.job_runs().len(), 3);
    let too_many = server
        .client
        .get_job_runs()
        .job_name("many")
        .max_results(500)
        .send()
        .await
        .unwrap_err();
    assert!(
        too_many
            .as_service_error()
            .unwrap()
            .is_invalid_input_exception(),
        "{too_many:?}"
    );
    let missing = server
        .client
        .get_job_run()
        .job_name("many")
        .run_id("jr_nope")
        .send()
        .await
        .unwrap_err();
    assert!(missing
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
}

#[tokio::test]
async fn sigterm_ends_the_server_and_every_run() {
    let mut server = Server::launch("shutdown", &[]);
    // The shell starts a grandchild (as python starts Spark's JVM) and waits for it.
    let script = server.script(
        "family.sh",
        "sleep 120 &\necho $! > \"$UNLOAD_LOCAL_S3_ROOT/pid.tmp\" && mv \"$UNLOAD_LOCAL_S3_ROOT/pid.tmp\" \"$UNLOAD_LOCAL_S3_ROOT/pid\"\nwait\n",
    );
    server.create_job("family", &script, 10, 1).await;
    let id = server.start("family", &[]).await;
    server
        .wait_for("family", &id, is(JobRunState::Running))
        .await;
    let grandchild: i32 = wait_for_file(&server.s3_root().join("pid"))
        .await
        .trim()
        .parse()
        .unwrap();
    assert!(process_alive(grandchild));

    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    let deadline = Instant::now() + DEADLINE;
    while process_alive(grandchild) {
        assert!(
            Instant::now() < deadline,
            "the run's grandchild {grandchild} outlived the server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// --- Glue's own retries (MaxRetries) --------------------------------------------------------

impl Server {
    async fn create_retrying_job(&self, name: &str, script: &str, max_retries: i32) {
        self.client
            .create_job()
            .name(name)
            .role("arn:aws:iam::123456789012:role/glue")
            .command(
                JobCommand::builder()
                    .name("glueetl")
                    .script_location(script)
                    .build(),
            )
            .timeout(10)
            .max_retries(max_retries)
            .send()
            .await
            .unwrap();
    }

    /// Polls GetJobRuns until the job has `count` runs, all finished; newest first.
    async fn wait_for_runs(&self, job: &str, count: usize) -> Vec<JobRun> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let out = self
                .client
                .get_job_runs()
                .job_name(job)
                .send()
                .await
                .unwrap();
            let runs = out.job_runs().to_vec();
            let done = runs.iter().all(|r| r.job_run_state().is_some_and(terminal));
            if runs.len() == count && done {
                return runs;
            }
            assert!(runs.len() <= count, "more runs than {count}: {runs:?}");
            assert!(
                Instant::now() < deadline,
                "{job}: {} run(s) so far: {runs:?}; log:\n{}",
                runs.len(),
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// After the runs settled: no further attempt appears.
    async fn assert_no_more_runs(&self, job: &str, count: usize) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let out = self
            .client
            .get_job_runs()
            .job_name(job)
            .send()
            .await
            .unwrap();
        assert_eq!(out.job_runs().len(), count, "{:?}", out.job_runs());
    }
}

const FAILS: &str =
    "echo \"$@\" >> \"$UNLOAD_LOCAL_S3_ROOT/calls\"\necho 'UnloadError: boom' >&2\nexit 1\n";

#[tokio::test]
async fn a_failed_run_is_retried_max_retries_times_chained_by_previous_run_id() {
    let server = Server::launch("retries", &[]);
    let script = server.script("fails.sh", FAILS);
    server.create_retrying_job("flaky", &script, 2).await;
    let first = server
        .start("flaky", &[("--execution_id", "arn:exec:1")])
        .await;

    let runs = server.wait_for_runs("flaky", 3).await;
    server.assert_no_more_runs("flaky", 3).await;
    let oldest_first: Vec<&JobRun> = runs.iter().rev().collect();
    assert_eq!(oldest_first[0].id(), Some(first.as_str()));
    for (attempt, run) in oldest_first.iter().enumerate() {
        assert_eq!(run.attempt(), attempt as i32, "{run:?}");
        assert_eq!(run.job_run_state(), Some(&JobRunState::Failed));
        assert_eq!(run.error_message(), Some("UnloadError: boom"));
        assert_eq!(run.arguments().unwrap()["--execution_id"], "arn:exec:1");
        let previous = attempt.checked_sub(1).and_then(|i| oldest_first[i].id());
        assert_eq!(run.previous_run_id(), previous, "{run:?}");
        // GetJobRun shows the same chain.
        let one = server.run("flaky", run.id().unwrap()).await;
        assert_eq!(
            (one.attempt(), one.previous_run_id()),
            (run.attempt(), previous)
        );
    }
    // Each attempt ran the script with its own run id and the same arguments.
    let calls = std::fs::read_to_string(server.s3_root().join("calls")).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 3, "{calls:?}");
    for (call, run) in calls.iter().zip(&oldest_first) {
        assert!(call.contains(run.id().unwrap()), "{call}");
        assert!(call.contains("--execution_id arn:exec:1"), "{call}");
    }
}

#[tokio::test]
async fn without_max_retries_a_failed_run_runs_once() {
    let server = Server::launch("noretries", &[]);
    let script = server.script("fails.sh", FAILS);
    server.create_retrying_job("once", &script, 0).await;
    let id = server.start("once", &[]).await;
    let runs = server.wait_for_runs("once", 1).await;
    server.assert_no_more_runs("once", 1).await;
    assert_eq!(runs[0].id(), Some(id.as_str()));
    assert_eq!(runs[0].attempt(), 0);
    assert_eq!(runs[0].previous_run_id(), None);
    assert_eq!(runs[0].job_run_state(), Some(&JobRunState::Failed));
}

#[tokio::test]
async fn a_run_that_succeeds_is_not_retried() {
    let server = Server::launch("succeedsonce", &[]);
    let script = server.script("ok.sh", "exit 0\n");
    server.create_retrying_job("fine", &script, 2).await;
    server.start("fine", &[]).await;
    let runs = server.wait_for_runs("fine", 1).await;
    server.assert_no_more_runs("fine", 1).await;
    assert_eq!(runs[0].job_run_state(), Some(&JobRunState::Succeeded));
    assert_eq!(runs[0].attempt(), 0);
}

#[tokio::test]
async fn timed_out_and_stopped_runs_are_not_retried() {
    let server = Server::launch("notretried", &["--timeout-unit-seconds", "1"]);
    let script = server.script("sleep.sh", SLEEPER);
    server.create_retrying_job("slow", &script, 2).await;
    let out = server
        .client
        .start_job_run()
        .job_name("slow")
        .timeout(1)
        .send()
        .await
        .unwrap();
    let timed_out = out.job_run_id().unwrap().to_string();
    let (run, _) = server.wait_for("slow", &timed_out, terminal).await;
    assert_eq!(run.job_run_state(), Some(&JobRunState::Timeout));
    server.assert_no_more_runs("slow", 1).await;

    let out = server
        .client
        .start_job_run()
        .job_name("slow")
        .timeout(600)
        .send()
        .await
        .unwrap();
    let stopped = out.job_run_id().unwrap().to_string();
    server
        .wait_for("slow", &stopped, is(JobRunState::Running))
        .await;
    server
        .client
        .batch_stop_job_run()
        .job_name("slow")
        .job_run_ids(&stopped)
        .send()
        .await
        .unwrap();
    let (run, _) = server.wait_for("slow", &stopped, terminal).await;
    assert_eq!(run.job_run_state(), Some(&JobRunState::Stopped));
    server.assert_no_more_runs("slow", 2).await;
}

// --- Tags -------------------------------------------------------------------------------------

const ACCOUNT_ARN: &str = "arn:aws:glue:us-east-1:123456789012";

#[tokio::test]
async fn tags_are_read_and_added_through_the_job_arn() {
    let server = Server::launch("tags", &[]);
    let glue = &server.client;
    glue.create_job()
        .name("demo.orders_ExtractToDataLake")
        .role("r")
        .command(
            JobCommand::builder()
                .script_location("s3://scripts/x.py")
                .build(),
        )
        .tags("stack", "unload-dev")
        .tags("owner", "data")
        .send()
        .await
        .unwrap();
    let arn = format!("{ACCOUNT_ARN}:job/demo.orders_ExtractToDataLake");
    let tags = glue.get_tags().resource_arn(&arn).send().await.unwrap();
    let want: HashMap<String, String> = HashMap::from([
        ("stack".into(), "unload-dev".into()),
        ("owner".into(), "data".into()),
    ]);
    assert_eq!(tags.tags(), Some(&want));

    glue.tag_resource()
        .resource_arn(&arn)
        .tags_to_add("owner", "platform")
        .tags_to_add("cost-center", "42")
        .send()
        .await
        .unwrap();
    glue.untag_resource()
        .resource_arn(&arn)
        .tags_to_remove("stack")
        .send()
        .await
        .unwrap();
    let tags = glue.get_tags().resource_arn(&arn).send().await.unwrap();
    let want: HashMap<String, String> = HashMap::from([
        ("owner".into(), "platform".into()),
        ("cost-center".into(), "42".into()),
    ]);
    assert_eq!(tags.tags(), Some(&want));
    // UpdateJob leaves the tags alone (JobUpdate has none).
    glue.update_job()
        .job_name("demo.orders_ExtractToDataLake")
        .job_update(
            JobUpdate::builder()
                .role("r2")
                .command(
                    JobCommand::builder()
                        .script_location("s3://scripts/y.py")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let tags = glue.get_tags().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags().map(HashMap::len), Some(2));

    let missing = glue
        .get_tags()
        .resource_arn(format!("{ACCOUNT_ARN}:job/nope"))
        .send()
        .await
        .unwrap_err();
    assert!(
        missing
            .as_service_error()
            .unwrap()
            .is_entity_not_found_exception(),
        "{missing:?}"
    );
    let tag_missing = glue
        .tag_resource()
        .resource_arn(format!("{ACCOUNT_ARN}:job/nope"))
        .tags_to_add("a", "b")
        .send()
        .await
        .unwrap_err();
    assert!(tag_missing
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
    // The job exists in us-east-1, where the client signs; the same name elsewhere does not.
    let other_region = glue
        .get_tags()
        .resource_arn("arn:aws:glue:eu-west-1:123456789012:job/demo.orders_ExtractToDataLake")
        .send()
        .await
        .unwrap_err();
    assert!(other_region
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
    for not_a_job in [
        format!("{ACCOUNT_ARN}:database/db1"),
        "arn:aws:s3:::bucket".to_string(),
        "demo.orders_ExtractToDataLake".to_string(),
    ] {
        let err = glue
            .get_tags()
            .resource_arn(&not_a_job)
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error().unwrap().is_invalid_input_exception(),
            "{not_a_job}: {err:?}"
        );
        let err = glue
            .tag_resource()
            .resource_arn(&not_a_job)
            .tags_to_add("a", "b")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error().unwrap().is_invalid_input_exception(),
            "{not_a_job}"
        );
    }
    let reserved = glue
        .tag_resource()
        .resource_arn(&arn)
        .tags_to_add("aws:cloudformation:stack-name", "x")
        .send()
        .await
        .unwrap_err();
    assert!(reserved
        .as_service_error()
        .unwrap()
        .is_invalid_input_exception());
}

// --- Fault injection ----------------------------------------------------------------------------

/// Status and error code of a failed SDK call.
fn status_and_code<E: ProvideErrorMetadata>(
    err: &aws_sdk_glue::error::SdkError<E, aws_sdk_glue::config::http::HttpResponse>,
) -> (u16, String) {
    let status = err
        .raw_response()
        .map(|r| r.status().as_u16())
        .unwrap_or_default();
    (status, err.code().unwrap_or_default().to_string())
}

#[tokio::test]
async fn injected_faults_reach_the_sdk_as_glue_errors() {
    let server = Server::launch("faults", &[]);
    let glue = server.client_with(RetryConfig::disabled());
    let script = server.script("ok.sh", "exit 0\n");
    server.create_job("job", &script, 10, 5).await;

    server.arm("StartJobRun", "ThrottlingException", 2);
    let (status, armed) = server.http("GET", "/_twin/faults", "");
    assert_eq!(status, 200);
    assert_eq!(
        armed,
        json!({"faults": [{"operation": "StartJobRun", "error": "ThrottlingException",
                           "count": 2, "message": "Rate exceeded"}]})
    );
    for _ in 0..2 {
        let err = glue
            .start_job_run()
            .job_name("job")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            status_and_code(&err),
            (400, "ThrottlingException".into()),
            "{err:?}"
        );
        assert_eq!(err.message(), Some("Rate exceeded"));
    }
    // A refused call has no effect; the third goes through.
    let runs = glue.get_job_runs().job_name("job").send().await.unwrap();
    assert!(runs.job_runs().is_empty());
    glue.start_job_run().job_name("job").send().await.unwrap();
    assert_eq!(
        server.http("GET", "/_twin/faults", ""),
        (200, json!({"faults": []}))
    );

    server.arm("GetJobRuns", "InternalServiceException", 1);
    let err = glue
        .get_job_runs()
        .job_name("job")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        status_and_code(&err),
        (500, "InternalServiceException".into())
    );
    assert!(err
        .as_service_error()
        .unwrap()
        .is_internal_service_exception());
    glue.get_job_runs().job_name("job").send().await.unwrap();

    // DELETE disarms everything.
    server.arm("GetJob", "ThrottlingException", 5);
    assert_eq!(
        server.http("DELETE", "/_twin/faults", ""),
        (200, json!({"faults": []}))
    );
    glue.get_job().job_name("job").send().await.unwrap();
}

#[tokio::test]
async fn the_sdk_retries_injected_throttling_until_its_attempts_run_out() {
    let server = Server::launch("sdkretry", &[]);
    let glue = server.client_with(
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(10)),
    );
    server.create_job("job", "s3://scripts/x.py", 10, 1).await;
    // Two throttled attempts, then the third succeeds: the SDK treats it as retryable.
    server.arm("GetJob", "ThrottlingException", 2);
    glue.get_job().job_name("job").send().await.unwrap();
    // Three throttled attempts exhaust the SDK's retries: the caller sees ThrottlingException.
    server.arm("GetJob", "ThrottlingException", 3);
    let err = glue.get_job().job_name("job").send().await.unwrap_err();
    assert_eq!(
        status_and_code(&err),
        (400, "ThrottlingException".into()),
        "{err:?}"
    );
    // InternalServiceException (500) is retried the same way.
    server.arm("GetJob", "InternalServiceException", 2);
    glue.get_job().job_name("job").send().await.unwrap();
}

#[tokio::test]
async fn the_admin_endpoint_refuses_what_it_cannot_arm() {
    let server = Server::launch("admin", &[]);
    for body in [
        "not json",
        "[]",
        r#"{"error": "ThrottlingException"}"#,
        r#"{"operation": "StartCrawler", "error": "ThrottlingException"}"#,
        r#"{"operation": "StartJobRun", "error": "AccessDeniedException"}"#,
        r#"{"operation": "StartJobRun", "error": "ThrottlingException", "count": 0}"#,
    ] {
        let (status, answer) = server.http("POST", "/_twin/faults", body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    assert_eq!(server.http("GET", "/_twin/nothing", "").0, 404);
    assert_eq!(server.http("PUT", "/_twin/faults", "").0, 405);
    assert_eq!(
        server.http("GET", "/_twin/faults", ""),
        (200, json!({"faults": []}))
    );
}

#[tokio::test]
async fn the_fault_flag_arms_faults_at_start() {
    let server = Server::launch("faultflag", &["--fault", "GetJob:ThrottlingException:1"]);
    let glue = server.client_with(RetryConfig::disabled());
    let err = glue.get_job().job_name("nope").send().await.unwrap_err();
    assert_eq!(status_and_code(&err), (400, "ThrottlingException".into()));
    let err = glue.get_job().job_name("nope").send().await.unwrap_err();
    assert!(err
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
}

// --- The Data Catalog, forwarded ------------------------------------------------------------

/// One request as the upstream received it.
#[derive(Debug, Clone)]
struct Received {
    request_line: String,
    headers: HashMap<String, String>,
    body: Value,
}

/// A tiny HTTP/1.1 server standing in for moto: records each request and answers with
/// `answer(&request)` = (status line, extra headers, body), one request per connection.
struct Upstream {
    url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

type Answer = (&'static str, Vec<(&'static str, &'static str)>, String);

impl Upstream {
    fn start(answer: impl Fn(&Received) -> Answer + Send + 'static) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = received.clone();
        // Detached: it ends with the test process.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let request = read_request(&mut stream);
                let (status, headers, body) = answer(&request);
                log.lock().unwrap().push(request);
                let mut out = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                out.push_str(&body);
                stream.write_all(out.as_bytes()).unwrap();
            }
        });
        Self { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Received {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length: usize = headers
        .get("content-length")
        .map_or(0, |n| n.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    Received {
        request_line: request_line.trim_end().to_string(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

const JSON_1_1: (&str, &str) = ("Content-Type", "application/x-amz-json-1.1");

#[tokio::test]
async fn catalog_operations_go_to_the_catalog_endpoint_and_come_back_verbatim() {
    let upstream = Upstream::start(|request| match request.body["Name"].as_str() {
        Some("orders") => (
            "200 OK",
            vec![JSON_1_1, ("x-amzn-RequestId", "from-upstream")],
            json!({"Table": {"Name": "orders", "DatabaseName": "lake",
                             "StorageDescriptor": {"Location": "s3://lake/orders/"}}})
            .to_string(),
        ),
        _ => (
            "400 Bad Request",
            vec![JSON_1_1, ("x-amzn-ErrorType", "EntityNotFoundException")],
            json!({"__type": "EntityNotFoundException", "message": "Table nope not found."})
                .to_string(),
        ),
    });
    let server = Server::launch("catalog", &["--catalog-endpoint", &upstream.url]);
    let glue = server.client_with(RetryConfig::disabled());

    use aws_sdk_glue::operation::RequestId;
    let get_table = |name: &str| glue.get_table().database_name("lake").name(name).send();
    let out = get_table("orders").await.unwrap();
    let table = out.table().unwrap();
    assert_eq!(table.name(), "orders");
    assert_eq!(
        table.storage_descriptor().unwrap().location(),
        Some("s3://lake/orders/")
    );
    assert_eq!(out.request_id(), Some("from-upstream"));
    let [seen]: [Received; 1] = upstream.received().try_into().unwrap();
    assert_eq!(seen.request_line, "POST / HTTP/1.1");
    assert_eq!(seen.headers["x-amz-target"], "AWSGlue.GetTable");
    assert!(seen.headers["authorization"].starts_with("AWS4-HMAC-SHA256 Credential=test/"));
    assert_eq!(
        seen.headers["host"],
        upstream.url.trim_start_matches("http://")
    );
    assert_eq!(seen.body, json!({"DatabaseName": "lake", "Name": "orders"}));

    // The upstream's errors reach the SDK as they were answered.
    let err = get_table("nope").await.unwrap_err();
    assert_eq!(
        status_and_code(&err),
        (400, "EntityNotFoundException".into())
    );
    assert_eq!(err.message(), Some("Table nope not found."));
    assert!(err
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());

    // Jobs stay here, other unknown operations stay unknown, and a fault answers first.
    let script = server.script("ok.sh", "exit 0\n");
    server.create_job("job", &script, 10, 1).await;
    glue.get_job().job_name("job").send().await.unwrap();
    let err = glue.start_crawler().name("c").send().await.unwrap_err();
    assert_eq!(
        status_and_code(&err),
        (400, "UnknownOperationException".into())
    );
    server.arm("GetTable", "ThrottlingException", 1);
    let err = get_table("orders").await.unwrap_err();
    assert_eq!(status_and_code(&err), (400, "ThrottlingException".into()));
    assert_eq!(upstream.received().len(), 2, "{:?}", upstream.received());
}

#[tokio::test]
async fn without_a_catalog_endpoint_catalog_operations_are_unknown() {
    let server = Server::launch("nocatalog", &[]);
    let glue = server.client_with(RetryConfig::disabled());
    let err = glue.get_databases().send().await.unwrap_err();
    assert_eq!(
        status_and_code(&err),
        (400, "UnknownOperationException".into())
    );
    assert!(
        err.message().unwrap().contains("--catalog-endpoint"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreachable_catalog_endpoint_is_an_internal_service_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let server = Server::launch("catalogdown", &["--catalog-endpoint", &url]);
    let glue = server.client_with(RetryConfig::disabled());
    let err = glue.get_databases().send().await.unwrap_err();
    assert_eq!(
        status_and_code(&err),
        (500, "InternalServiceException".into())
    );
    assert!(err.message().unwrap().contains(&url), "{err:?}");
}
