//! s3-local: an S3 endpoint over a folder, for the local stack (`make demo`, tests/e2e).
//!
//!     s3-local --root DIR [--bind 127.0.0.1:0] [--access-key test] [--secret-key test]
//!
//! Built on the s3s crate (the S3 protocol, SigV4 auth) and s3s-fs (objects as plain files).
//! Path-style requests only: `http://127.0.0.1:<port>/<bucket>/<key>`, where a bucket is a
//! first-level folder of --root and a key its path below it. So what Spark (or anything else)
//! writes into `<root>/<bucket>/<key>` is what GetObject/ListObjectsV2 return, and what is PUT
//! lands there as a plain file. (s3s-fs keeps object metadata and in-progress uploads in hidden
//! `.bucket-…` / `.tmp.…` files directly in --root, never inside a bucket folder.)
//!
//! A key that names a folder is no object: GetObject and HeadObject answer 404 NoSuchKey, as S3
//! does for a prefix (s3s-fs would fail reading the folder as a file, a 500), so clients that probe
//! a "directory" first (pyarrow, Hadoop's s3a) go on to list it.
//!
//! Auth: requests must be SigV4-signed with the one key pair given, by default the dummy
//! credentials AWS_ACCESS_KEY_ID=test / AWS_SECRET_ACCESS_KEY=test (any region); anonymous or
//! wrongly signed requests get AccessDenied / SignatureDoesNotMatch.
//!
//! When ready it prints exactly one line to stdout, `s3-local listening on http://127.0.0.1:<port>`,
//! and logs one line per request to stderr. It stops on SIGTERM or SIGINT.

use clap::Parser;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::TokioIo;
use s3s::access::S3Access;
use s3s::auth::SimpleAuth;
use s3s::dto::{GetObjectInput, HeadObjectInput};
use s3s::service::S3ServiceBuilder;
use s3s::{s3_error, S3Request, S3Result};
use s3s_fs::FileSystem;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "A local S3 endpoint serving a folder (path-style, SigV4 with one key pair)"
)]
struct Cli {
    /// Address to listen on; port 0 picks a free port (printed in the ready line).
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// The folder to serve: each first-level folder is a bucket (created if missing).
    #[arg(long)]
    root: PathBuf,
    /// The only access key accepted.
    #[arg(long, default_value = "test")]
    access_key: String,
    /// Its secret key.
    #[arg(long, default_value = "test")]
    secret_key: String,
}

/// Refuses GetObject/HeadObject of a key that is a folder under the root (see the module doc);
/// every other check is s3s's default (a signed request).
struct FoldersAreNoObjects {
    root: PathBuf,
}

impl FoldersAreNoObjects {
    fn refuse_folder(&self, bucket: &str, key: &str) -> S3Result<()> {
        // s3s-fs refuses keys that climb out of the root itself; a plain join suffices here.
        if !key.is_empty() && self.root.join(bucket).join(Path::new(key)).is_dir() {
            return Err(s3_error!(NoSuchKey, "{key} is a prefix, not an object"));
        }
        Ok(())
    }

    /// s3s-fs keeps a PUT object's ETag and checksums beside it (`.bucket-…object-….internal.json`)
    /// and serves them with every GET. A file rewritten in the folder directly (Spark, the Data API
    /// emulator) replaced the object, as a PUT would on S3, so its old checksums are stale: a
    /// client checking them (the AWS SDKs do) would fail the read. Drop them; s3s-fs then
    /// computes the ETag from the file.
    fn forget_stale_checksums(&self, bucket: &str, key: &str) {
        let encode = |s: &str| base64_simd::URL_SAFE_NO_PAD.encode_to_string(s);
        let info = self.root.join(format!(
            ".bucket-{}.object-{}.internal.json",
            encode(bucket),
            encode(key)
        ));
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        if let (Some(info_at), Some(file_at)) = (
            modified(&info),
            modified(&self.root.join(bucket).join(Path::new(key))),
        ) {
            if file_at > info_at {
                let _ = std::fs::remove_file(&info);
            }
        }
    }
}

#[async_trait::async_trait]
impl S3Access for FoldersAreNoObjects {
    async fn get_object(&self, req: &mut S3Request<GetObjectInput>) -> S3Result<()> {
        self.refuse_folder(&req.input.bucket, &req.input.key)?;
        self.forget_stale_checksums(&req.input.bucket, &req.input.key);
        Ok(())
    }

    async fn head_object(&self, req: &mut S3Request<HeadObjectInput>) -> S3Result<()> {
        self.refuse_folder(&req.input.bucket, &req.input.key)?;
        self.forget_stale_checksums(&req.input.bucket, &req.input.key);
        Ok(())
    }
}

fn log(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "s3-local: {line}");
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            log(format_args!("cannot start the runtime: {err}"));
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            log(format_args!("{err}"));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(cli: Cli) -> Result<(), String> {
    std::fs::create_dir_all(&cli.root)
        .map_err(|e| format!("--root {}: {e}", cli.root.display()))?;
    let fs =
        FileSystem::new(&cli.root).map_err(|e| format!("--root {}: {e:?}", cli.root.display()))?;
    let service = {
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(
            cli.access_key.clone(),
            cli.secret_key.clone(),
        ));
        builder.set_access(FoldersAreNoObjects {
            root: cli.root.clone(),
        });
        builder.build()
    };
    let listener = TcpListener::bind(cli.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cli.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;

    log(format_args!(
        "serving {} (access key {})",
        cli.root.display(),
        cli.access_key
    ));
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "s3-local listening on http://{addr}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }

    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        log(format_args!("accept failed: {err}"));
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let service = service.clone();
                tokio::spawn(async move {
                    // The S3 service, with one log line per request.
                    let logged = service_fn(move |req: Request<Incoming>| {
                        let service = service.clone();
                        let what = format!("{} {}", req.method(), req.uri());
                        async move {
                            let response = service.call(req.map(s3s::Body::from)).await;
                            match &response {
                                Ok(r) => log(format_args!("{what} -> {}", r.status().as_u16())),
                                Err(err) => log(format_args!("{what} -> error {err:?}")),
                            }
                            response
                        }
                    });
                    if let Err(err) = http1::Builder::new().serve_connection(TokioIo::new(stream), logged).await {
                        log(format_args!("connection error: {err}"));
                    }
                });
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    log(format_args!("stopped"));
    Ok(())
}
