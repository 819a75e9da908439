//! s3-local through aws-sdk-s3 (path-style, dummy credentials), against the built binary.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    root: PathBuf,
    url: String,
}

impl Server {
    fn launch(test: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("s3-local-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("s3");
        std::fs::create_dir_all(root.join("lake")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_s3-local"))
            .args(["--bind", "127.0.0.1:0", "--root"])
            .arg(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("server.log")).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim_end()
            .strip_prefix("s3-local listening on ")
            .unwrap_or_else(|| panic!("unexpected ready line {line:?}"))
            .to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Self { child, root, url }
    }

    fn client(&self, secret: &str) -> Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", secret, None, None, "test"))
            .endpoint_url(&self.url)
            .force_path_style(true)
            .build();
        Client::from_conf(config)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log =
                std::fs::read_to_string(self.root.with_file_name("server.log")).unwrap_or_default();
            eprintln!("s3-local log:\n{log}");
        } else if let Some(dir) = self.root.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[tokio::test]
async fn objects_round_trip_and_files_in_the_folder_are_objects() {
    let server = Server::launch("roundtrip");
    let s3 = server.client("test");

    // PUT → a plain file in the folder.
    s3.put_object()
        .bucket("lake")
        .key("demo/parquet/orders/o_orderdate_key=1998-07-21/_manifest.json")
        .body(ByteStream::from_static(b"{\"rows\": 415}"))
        .send()
        .await
        .unwrap();
    let on_disk = server
        .root
        .join("lake/demo/parquet/orders/o_orderdate_key=1998-07-21/_manifest.json");
    assert_eq!(std::fs::read(&on_disk).unwrap(), b"{\"rows\": 415}");

    // HEAD and GET.
    let head = s3
        .head_object()
        .bucket("lake")
        .key("demo/parquet/orders/o_orderdate_key=1998-07-21/_manifest.json")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(13));
    let got = s3
        .get_object()
        .bucket("lake")
        .key("demo/parquet/orders/o_orderdate_key=1998-07-21/_manifest.json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"{\"rows\": 415}"
    );

    // A file written straight into the folder, as Spark does, is an object.
    let part = server
        .root
        .join("lake/demo/parquet/orders/o_orderdate_key=1998-07-21/part-00000.snappy.parquet");
    std::fs::write(&part, b"PAR1 not really PAR1").unwrap();
    std::fs::create_dir_all(
        server
            .root
            .join("lake/demo/parquet/orders/o_orderdate_key=1998-07-22"),
    )
    .unwrap();
    std::fs::write(
        server
            .root
            .join("lake/demo/parquet/orders/o_orderdate_key=1998-07-22/part-1.parquet"),
        b"x",
    )
    .unwrap();
    let got = s3
        .get_object()
        .bucket("lake")
        .key("demo/parquet/orders/o_orderdate_key=1998-07-21/part-00000.snappy.parquet")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_length(), Some(20));
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"PAR1 not really PAR1"
    );

    // LIST with a prefix sees exactly that partition, sizes included.
    let listed = s3
        .list_objects_v2()
        .bucket("lake")
        .prefix("demo/parquet/orders/o_orderdate_key=1998-07-21/")
        .send()
        .await
        .unwrap();
    let keys: Vec<(&str, i64)> = listed
        .contents()
        .iter()
        .map(|o| (o.key().unwrap(), o.size().unwrap()))
        .collect();
    assert_eq!(
        keys,
        [
            (
                "demo/parquet/orders/o_orderdate_key=1998-07-21/_manifest.json",
                13
            ),
            (
                "demo/parquet/orders/o_orderdate_key=1998-07-21/part-00000.snappy.parquet",
                20
            ),
        ]
    );
    // ... and with a delimiter, the partition folders.
    let folders = s3
        .list_objects_v2()
        .bucket("lake")
        .prefix("demo/parquet/orders/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = folders
        .common_prefixes()
        .iter()
        .map(|p| p.prefix().unwrap())
        .collect();
    assert_eq!(
        prefixes,
        [
            "demo/parquet/orders/o_orderdate_key=1998-07-21/",
            "demo/parquet/orders/o_orderdate_key=1998-07-22/"
        ]
    );

    // A bucket made through the API is a folder.
    s3.create_bucket().bucket("artifacts").send().await.unwrap();
    assert!(server.root.join("artifacts").is_dir());
}

/// GetObject and HeadObject of `key` in bucket lake answer 404 NoSuchKey / NotFound.
async fn assert_no_object(s3: &Client, key: &str) {
    let get = s3
        .get_object()
        .bucket("lake")
        .key(key)
        .send()
        .await
        .unwrap_err();
    assert!(
        get.as_service_error().is_some_and(|e| e.is_no_such_key()),
        "{key}: {get:?}"
    );
    assert_eq!(get.raw_response().unwrap().status().as_u16(), 404, "{key}");
    let head = s3
        .head_object()
        .bucket("lake")
        .key(key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(head.raw_response().unwrap().status().as_u16(), 404, "{key}");
    assert!(
        head.as_service_error().is_some_and(|e| e.is_not_found()),
        "{key}: {head:?}"
    );
}

#[tokio::test]
async fn missing_keys_are_404_and_bad_credentials_are_refused() {
    let server = Server::launch("missing");
    let s3 = server.client("test");

    assert_no_object(&s3, "nope/_manifest.json").await;

    let listed = s3
        .list_objects_v2()
        .bucket("lake")
        .prefix("nope/")
        .send()
        .await
        .unwrap();
    assert!(listed.contents().is_empty());

    let wrong = server.client("not-the-secret");
    let denied = wrong
        .list_objects_v2()
        .bucket("lake")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        denied.raw_response().unwrap().status().as_u16(),
        403,
        "{denied:?}"
    );
}

#[tokio::test]
async fn a_key_that_names_a_folder_is_no_object() {
    // As S3 answers for a prefix: pyarrow and s3a probe "dir" with HeadObject, then list "dir/"
    // (listing is the round-trip test's).
    let server = Server::launch("folder");
    let s3 = server.client("test");
    let day = server.root.join("lake/orders/o_orderdate_key=1998-07-21");
    std::fs::create_dir_all(&day).unwrap();
    std::fs::write(day.join("part-0.parquet"), b"data").unwrap();

    for key in [
        "orders/o_orderdate_key=1998-07-21",
        "orders/o_orderdate_key=1998-07-21/",
        "orders",
    ] {
        assert_no_object(&s3, key).await;
    }

    // An unsigned probe of a folder is still refused for want of a signature, not answered 404.
    let addr = server.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "HEAD /lake/orders HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");
}
