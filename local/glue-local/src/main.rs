//! glue-local: the AWS Glue job API on one machine, for the local stack (`make demo`, tests/e2e).
//!
//! It speaks Glue's JSON protocol for the calls our Lambdas make — CreateJob, GetJob, UpdateJob,
//! DeleteJob, StartJobRun, GetJobRun, GetJobRuns, BatchStopJobRun, GetTags, TagResource,
//! UntagResource — so the unchanged binaries reach it through `AWS_ENDPOINT_URL_GLUE`. A run
//! executes the job's script (fetched from the folder the local S3 serves) as a local process,
//! and its state follows the process: STARTING → RUNNING → SUCCEEDED | FAILED | TIMEOUT | STOPPED;
//! a FAILED run of a job with MaxRetries is followed by its next attempt, as in Glue. Faults
//! (throttling, 5xx) can be armed per operation with `--fault` or `POST /_twin/faults`. With
//! `--catalog-endpoint`, the Data Catalog's operations are forwarded to that server (moto's).
//!
//!     glue-local --s3-root DIR --state-dir DIR [--bind 127.0.0.1:0] [--python python3]
//!                [--timeout-unit-seconds 60] [--fault OPERATION:ERROR[:COUNT] ...]
//!                [--catalog-endpoint http://127.0.0.1:PORT]
//!
//! When ready it prints exactly one line to stdout, `glue-local listening on http://127.0.0.1:<port>`;
//! every call and state change is logged to stderr. Jobs and runs live in memory; each run's
//! script copy and logs are under `<state-dir>/runs/<run-id>/`. On SIGTERM or SIGINT it ends
//! every run's process group before exiting.

#[macro_use]
mod log;

mod admin;
mod catalog;
mod events;
mod faults;
mod protocol;
mod runner;
mod store;
mod tags;

use clap::Parser;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "A local stand-in for the AWS Glue job API (runs job scripts as local processes)"
)]
struct Cli {
    /// Address to listen on; port 0 picks a free port (printed in the ready line).
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// The folder the local S3 serves: s3://bucket/key is <s3-root>/bucket/key.
    #[arg(long)]
    s3_root: PathBuf,
    /// Where each run's script copy and logs go (<state-dir>/runs/<run-id>/).
    #[arg(long)]
    state_dir: PathBuf,
    /// The interpreter that runs job scripts.
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// Real seconds per minute of a job's Timeout (tests use 1).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_unit_seconds: u64,
    /// Fail the next COUNT (default 1) calls of OPERATION with ERROR (ThrottlingException or
    /// InternalServiceException); repeatable. POST /_twin/faults does the same at run time.
    #[arg(long = "fault", value_name = "OPERATION:ERROR[:COUNT]", value_parser = faults::Fault::from_flag)]
    faults: Vec<faults::Fault>,
    /// Forward the Data Catalog's operations (databases, tables, partitions) to this server,
    /// e.g. moto's; without it they answer UnknownOperationException.
    #[arg(long, value_name = "http://HOST:PORT", value_parser = catalog::Upstream::parse)]
    catalog_endpoint: Option<catalog::Upstream>,
    /// Announce every run's end ("Glue Job State Change") to this EventBridge stand-in
    /// (POST /events); without it, no events.
    #[arg(long, value_name = "http://HOST:PORT", value_parser = catalog::Upstream::parse)]
    events_endpoint: Option<catalog::Upstream>,
}

/// An absolute path (runs start in their own folder, so relative paths would break).
fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(path)?;
    path.canonicalize()
}

/// `python3` stays a PATH lookup; `.venv/bin/python` becomes absolute.
fn interpreter(path: &Path) -> std::io::Result<PathBuf> {
    if path.components().count() > 1 {
        Ok(std::env::current_dir()?.join(path))
    } else {
        Ok(path.to_path_buf())
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // One thread: children are forked from the main thread, which PR_SET_PDEATHSIG follows.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            log!("cannot start the runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            log!("{err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(cli: Cli) -> Result<(), String> {
    let s3_root =
        absolute(&cli.s3_root).map_err(|e| format!("--s3-root {}: {e}", cli.s3_root.display()))?;
    let state_dir = absolute(&cli.state_dir)
        .map_err(|e| format!("--state-dir {}: {e}", cli.state_dir.display()))?;
    let python =
        interpreter(&cli.python).map_err(|e| format!("--python {}: {e}", cli.python.display()))?;
    let listener = TcpListener::bind(cli.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cli.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;

    let store = Arc::new(store::Store::default());
    let runner = Arc::new(runner::Runner::new(
        store.clone(),
        python.clone(),
        s3_root.clone(),
        state_dir.clone(),
        Duration::from_secs(cli.timeout_unit_seconds),
        cli.events_endpoint.clone(),
    ));
    let faults = Arc::new(faults::Faults::default());
    for fault in cli.faults {
        faults.arm(fault);
    }
    let api = Arc::new(protocol::Api {
        store,
        runner: runner.clone(),
        faults,
        catalog: cli.catalog_endpoint.clone(),
    });

    log!(
        "s3 root {}, state dir {}, python {}, {} s per Timeout minute, catalog {}",
        s3_root.display(),
        state_dir.display(),
        python.display(),
        cli.timeout_unit_seconds,
        cli.catalog_endpoint
            .as_ref()
            .map_or("none".into(), catalog::Upstream::url)
    );
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "glue-local listening on http://{addr}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }

    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        log!("accept failed: {err}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let api = api.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| protocol::handle(api.clone(), req));
                    if let Err(err) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                        log!("connection error: {err}");
                    }
                });
            }
            _ = terminate.recv() => { log!("SIGTERM"); break; }
            _ = interrupt.recv() => { log!("SIGINT"); break; }
        }
    }
    runner.shutdown().await;
    log!("stopped");
    Ok(())
}
