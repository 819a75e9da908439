//! Runs a job run as a local process, the way Glue runs the job's script:
//!
//!     <python> <script> --JOB_NAME <job> --JOB_RUN_ID <run> [--key value ...]
//!
//! The script is copied out of the local S3 folder (s3://bucket/key = <s3-root>/bucket/key) into
//! the run's folder, `<state-dir>/runs/<run-id>/`, which is also the process's working directory
//! and holds its `stdout.log` and `stderr.log`. The process gets the server's environment plus
//! UNLOAD_LOCAL_S3_ROOT=<s3-root>.
//!
//! Each run is its own process group (Spark's JVM is a child of python): stop and timeout signal
//! the whole group, SIGTERM first, SIGKILL after a grace period. A run reaches its final state
//! only when no process of its group is left (the JVM outlives python for a moment), so a new
//! run never overlaps the remains of the previous one. On Linux every run also gets
//! PR_SET_PDEATHSIG, so it dies even if the server is SIGKILLed; on SIGTERM/SIGINT the server
//! ends every group itself (`shutdown`) and records those runs as STOPPED.

use crate::catalog::Upstream;
use crate::events;
use crate::store::{Launch, Outcome, RunState, Store};
use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Component, Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a stopped or timed-out run gets between SIGTERM and SIGKILL (and how long the rest
/// of a group gets to exit by itself after the main process has).
const KILL_GRACE: Duration = Duration::from_secs(5);
/// ErrorMessage never carries more than this many characters.
pub const ERROR_MESSAGE_LIMIT: usize = 1000;
/// The line the job script prints last when it fails (see glue-scripts/unload_table.py).
const ERROR_LINE_PREFIX: &str = "UnloadError:";

pub struct Runner {
    store: Arc<Store>,
    python: PathBuf,
    s3_root: PathBuf,
    state_dir: PathBuf,
    /// Real seconds per Glue Timeout minute.
    timeout_unit: Duration,
    /// Process groups that may still have members.
    groups: Mutex<HashSet<i32>>,
    shutting_down: AtomicBool,
    /// The local EventBridge bus that hears of every run's end (`--events-endpoint`).
    events: Option<Upstream>,
}

/// Why the runner stopped waiting for the process to exit by itself.
enum Ending {
    Exited(std::io::Result<ExitStatus>),
    TimedOut,
    Stopped,
}

impl Runner {
    pub fn new(
        store: Arc<Store>,
        python: PathBuf,
        s3_root: PathBuf,
        state_dir: PathBuf,
        timeout_unit: Duration,
        events: Option<Upstream>,
    ) -> Self {
        Self {
            store,
            python,
            s3_root,
            state_dir,
            timeout_unit,
            groups: Mutex::default(),
            shutting_down: AtomicBool::new(false),
            events,
        }
    }

    /// Starts the run in the background; its state moves in the store as the process does.
    /// When the store answers a failure with a retry (MaxRetries), that attempt runs next.
    pub fn launch(self: &Arc<Self>, launch: Launch) {
        let runner = Arc::clone(self);
        tokio::spawn(async move {
            let mut launch = launch;
            loop {
                let outcome = if runner.shutting_down.load(Ordering::SeqCst) {
                    stopped_by_shutdown(0) // a retry queued while the server stops never starts
                } else {
                    runner.execute(&launch).await
                };
                let (state, message) = (outcome.state, outcome.error_message.clone());
                let next = runner.store.run_finished(&launch, outcome);
                if let Some(bus) = runner.events.as_ref().filter(|_| events::is_final(state)) {
                    let event = events::job_state_change(
                        &launch.job_name,
                        &launch.run_id,
                        state,
                        message.as_deref(),
                    );
                    events::put(bus, event).await;
                }
                match next {
                    Some(next) => launch = next,
                    None => break,
                }
            }
        });
    }

    fn groups(&self) -> std::sync::MutexGuard<'_, HashSet<i32>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn execute(&self, launch: &Launch) -> Outcome {
        let dir = self.state_dir.join("runs").join(&launch.run_id);
        if let Err(err) = std::fs::create_dir_all(&dir) {
            return failed(
                format!(
                    "glue-local could not create the run folder {}: {err}",
                    dir.display()
                ),
                0,
            );
        }
        let script = match self.fetch_script(&launch.script_location, &dir) {
            Ok(path) => path,
            Err(message) => return failed(message, 0),
        };
        let (stdout, stderr) = match (
            File::create(dir.join("stdout.log")),
            File::create(dir.join("stderr.log")),
        ) {
            (Ok(out), Ok(err)) => (out, err),
            (Err(e), _) | (_, Err(e)) => {
                return failed(
                    format!(
                        "glue-local could not create the run's log files in {}: {e}",
                        dir.display()
                    ),
                    0,
                )
            }
        };

        let mut cmd = tokio::process::Command::new(&self.python);
        cmd.arg(&script)
            .args([
                "--JOB_NAME",
                &launch.job_name,
                "--JOB_RUN_ID",
                &launch.run_id,
            ])
            .env("UNLOAD_LOCAL_S3_ROOT", &self.s3_root)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0);
        for (key, value) in &launch.arguments {
            if key == "--JOB_NAME" || key == "--JOB_RUN_ID" {
                continue; // Glue's own: never taken from the caller
            }
            cmd.arg(key).arg(value);
        }
        die_with_parent(&mut cmd);

        let started = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(err) => {
                return failed(
                    format!(
                        "glue-local could not start {}: {err}",
                        self.python.display()
                    ),
                    0,
                );
            }
        };
        let Some(pid) = child.id() else {
            return failed(
                "glue-local lost the process right after starting it".into(),
                0,
            );
        };
        let pgid = pid as i32;
        self.groups().insert(pgid);
        self.store.run_started(&launch.run_id, pid);

        let timeout = self
            .timeout_unit
            .saturating_mul(u32::try_from(launch.timeout_minutes).unwrap_or(u32::MAX));
        let ending = tokio::select! {
            status = child.wait() => Ending::Exited(status),
            () = tokio::time::sleep(timeout) => Ending::TimedOut,
            () = launch.stop.notified() => Ending::Stopped,
        };
        let signalled = !matches!(ending, Ending::Exited(_));
        if signalled {
            let what = if matches!(ending, Ending::TimedOut) {
                "timed out"
            } else {
                "stop requested"
            };
            log!("run {}: {what}, ending process group {pgid}", launch.run_id);
            signal_group(pgid, libc::SIGTERM);
            if tokio::time::timeout(KILL_GRACE, child.wait())
                .await
                .is_err()
            {
                signal_group(pgid, libc::SIGKILL);
                let _ = child.wait().await;
            }
        }
        // The run is over when all of its processes are (Spark's JVM outlives python briefly).
        self.end_group(pgid, signalled).await;
        let execution_seconds = started.elapsed().as_secs_f64().ceil() as u64;

        if self.shutting_down.load(Ordering::SeqCst) {
            return stopped_by_shutdown(execution_seconds);
        }
        match ending {
            Ending::TimedOut => Outcome {
                state: RunState::Timeout,
                error_message: Some(format!(
                    "Job run timed out after {} minute(s) (the run's Timeout; glue-local counts {} s a minute)",
                    launch.timeout_minutes,
                    self.timeout_unit.as_secs_f64()
                )),
                execution_seconds,
            },
            Ending::Stopped => Outcome { state: RunState::Stopped, error_message: None, execution_seconds },
            Ending::Exited(Ok(status)) if status.success() => {
                Outcome { state: RunState::Succeeded, error_message: None, execution_seconds }
            }
            Ending::Exited(Ok(status)) => failed(failure_message(&dir.join("stderr.log"), status), execution_seconds),
            Ending::Exited(Err(err)) => failed(format!("glue-local lost track of the process: {err}"), execution_seconds),
        }
    }

    /// Copies the job's script out of the local S3 folder, as Glue downloads it before a run.
    fn fetch_script(&self, location: &str, dir: &Path) -> Result<PathBuf, String> {
        let source = local_path(&self.s3_root, location)?;
        let name = source
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| "script.py".into());
        let target = dir.join(name);
        match std::fs::copy(&source, &target) {
            Ok(_) => Ok(target),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound || source.is_dir() => {
                Err(format!(
                    "Script {location} does not exist in the local S3 (looked for {}): \
                 upload it, or fix the job's Command.ScriptLocation",
                    source.display()
                ))
            }
            Err(err) => Err(format!(
                "Script {location} could not be read from {}: {err}",
                source.display()
            )),
        }
    }

    /// Once the run's main process is gone, waits for the rest of its group: a grace period to
    /// exit by itself (unless it was already sent SIGTERM), then SIGTERM (Spark's JVM runs its
    /// shutdown hooks), another grace period, then SIGKILL.
    async fn end_group(&self, pgid: i32, signalled: bool) {
        let mut ended = drain_group(pgid, KILL_GRACE).await;
        if !ended && !signalled {
            signal_group(pgid, libc::SIGTERM);
            ended = drain_group(pgid, KILL_GRACE).await;
        }
        if !ended {
            log!("process group {pgid} ignores SIGTERM: SIGKILL");
            signal_group(pgid, libc::SIGKILL);
            drain_group(pgid, Duration::from_secs(1)).await;
        }
        self.groups().remove(&pgid);
    }

    /// Ends every run's process group: SIGTERM, a grace period while the runs finish, SIGKILL.
    pub async fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let groups: Vec<i32> = self.groups().iter().copied().collect();
        if groups.is_empty() {
            return;
        }
        log!("shutting down: ending {} process group(s)", groups.len());
        for &pgid in &groups {
            signal_group(pgid, libc::SIGTERM);
        }
        let deadline = Instant::now() + KILL_GRACE;
        while Instant::now() < deadline && !self.store.active_run_ids().is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for &pgid in &groups {
            signal_group(pgid, libc::SIGKILL);
        }
    }
}

fn stopped_by_shutdown(execution_seconds: u64) -> Outcome {
    Outcome {
        state: RunState::Stopped,
        error_message: Some("glue-local shut down while the run was active".into()),
        execution_seconds,
    }
}

fn failed(message: String, execution_seconds: u64) -> Outcome {
    Outcome {
        state: RunState::Failed,
        error_message: Some(message),
        execution_seconds,
    }
}

/// Sends a signal to a process group; false when the group is gone.
fn signal_group(pgid: i32, signal: libc::c_int) -> bool {
    // SAFETY: kill(2) with a negative pid signals the group; no memory is involved.
    unsafe { libc::kill(-pgid, signal) == 0 }
}

/// Polls until no live process is left in the group; false if some still are at the deadline.
async fn drain_group(pgid: i32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if !group_alive(pgid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Whether any process of the group is still running. Zombies do not count: an orphan that
/// died is reaped by init (or not, in some containers), but it holds no resources.
fn group_alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks that the group exists.
    if unsafe { libc::kill(-pgid, 0) } != 0 {
        return false;
    }
    live_group_member(pgid).unwrap_or(true)
}

/// Linux: scan /proc for a member of the group that is not a zombie.
#[cfg(target_os = "linux")]
fn live_group_member(pgid: i32) -> Option<bool> {
    let entries = std::fs::read_dir("/proc").ok()?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let (Some(state), Some(_ppid), Some(pgrp)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if pgrp.parse::<i32>().ok() == Some(pgid) && state != "Z" && state != "X" {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(not(target_os = "linux"))]
fn live_group_member(_pgid: i32) -> Option<bool> {
    None
}

/// On Linux the child gets SIGKILL when the server dies, however it dies. The runtime is
/// single-threaded, so the forking thread (whose death PDEATHSIG follows) is the main thread.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut tokio::process::Command) {
    // SAFETY: getpid/prctl/getppid/_exit are async-signal-safe, as pre_exec requires.
    let parent = unsafe { libc::getpid() };
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1); // the server died before prctl took effect
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut tokio::process::Command) {}

/// `s3://bucket/key` → `<root>/bucket/key`, refusing anything that could leave the root.
pub fn local_path(root: &Path, uri: &str) -> Result<PathBuf, String> {
    let invalid = || {
        format!("Command.ScriptLocation {uri:?} is not an s3://bucket/key URI glue-local can serve")
    };
    let rest = uri.strip_prefix("s3://").ok_or_else(invalid)?;
    let (bucket, key) = rest.split_once('/').ok_or_else(invalid)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid());
    }
    let relative = Path::new(bucket).join(key);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(invalid());
    }
    Ok(root.join(relative))
}

/// The run's ErrorMessage: the last `UnloadError:` line of stderr if there is one, else the
/// tail of stderr; never more than ERROR_MESSAGE_LIMIT characters.
pub fn failure_message(stderr: &Path, status: ExitStatus) -> String {
    let mut error_line: Option<String> = None;
    let mut tail: VecDeque<String> = VecDeque::new();
    let mut tail_chars = 0usize;
    if let Ok(file) = File::open(stderr) {
        for line in BufReader::new(file).split(b'\n').map_while(Result::ok) {
            let line = String::from_utf8_lossy(&line).trim_end().to_string();
            if line.trim_start().starts_with(ERROR_LINE_PREFIX) {
                error_line = Some(line.trim_start().to_string());
            }
            if line.is_empty() {
                continue;
            }
            tail_chars += line.chars().count() + 1;
            tail.push_back(line);
            while tail_chars > ERROR_MESSAGE_LIMIT + 1 && tail.len() > 1 {
                tail_chars -= tail.pop_front().map(|l| l.chars().count() + 1).unwrap_or(0);
            }
        }
    }
    let text = match error_line {
        Some(line) => line,
        None if tail.is_empty() => {
            format!("The job script exited with {status} and printed nothing to stderr")
        }
        None => Vec::from(tail).join("\n"),
    };
    last_chars(&text, ERROR_MESSAGE_LIMIT)
}

fn last_chars(text: &str, limit: usize) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(limit)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    /// A stderr file in the temp dir, removed when dropped.
    struct Stderr(PathBuf);

    impl std::ops::Deref for Stderr {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Stderr {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn stderr_file(name: &str, content: &str) -> Stderr {
        let path =
            std::env::temp_dir().join(format!("glue-local-unit-{}-{name}", std::process::id()));
        std::fs::write(&path, content).unwrap();
        Stderr(path)
    }

    #[test]
    fn the_last_unload_error_line_wins_over_later_noise() {
        let path = stderr_file(
            "a",
            "INFO start\nUnloadError: first\nTraceback...\nUnloadError: boom\n24/01/01 INFO ShutdownHookManager\n",
        );
        assert_eq!(
            failure_message(&path, ExitStatus::from_raw(1 << 8)),
            "UnloadError: boom"
        );
    }

    #[test]
    fn without_an_unload_error_the_tail_is_kept_short() {
        let long: String = (0..500).map(|i| format!("line {i}\n")).collect();
        let path = stderr_file("b", &long);
        let message = failure_message(&path, ExitStatus::from_raw(3 << 8));
        assert!(message.chars().count() <= ERROR_MESSAGE_LIMIT);
        assert!(message.ends_with("line 499"), "{message}");
        let huge_line = "x".repeat(5000) + "END";
        let path = stderr_file("c", &huge_line);
        let message = failure_message(&path, ExitStatus::from_raw(3 << 8));
        assert_eq!(message.chars().count(), ERROR_MESSAGE_LIMIT);
        assert!(message.ends_with("END"));
    }

    #[test]
    fn silent_failures_name_the_exit_status() {
        let path = stderr_file("d", "");
        let message = failure_message(&path, ExitStatus::from_raw(2 << 8));
        assert!(message.contains("exit status: 2"), "{message}");
    }

    #[test]
    fn script_locations_map_into_the_root() {
        let root = Path::new("/s3");
        assert_eq!(
            local_path(root, "s3://b/scripts/x.py").unwrap(),
            Path::new("/s3/b/scripts/x.py")
        );
        for bad in [
            "s3://b",
            "s3:///k",
            "file:///etc/passwd",
            "s3://b/../etc/passwd",
            "s3://../x/y",
            "/abs",
        ] {
            assert!(local_path(root, bad).is_err(), "{bad}");
        }
    }
}
