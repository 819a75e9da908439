//! The Glue Data Catalog, served by another server: with `--catalog-endpoint`, the catalog's
//! operations (databases, tables, partitions) are forwarded there — moto's, in the local stack —
//! and its answer (status, headers, body) comes back verbatim. The functions reach Glue through
//! one endpoint (`AWS_ENDPOINT_URL_GLUE`), so the job API and the catalog must share it.
//!
//! Only the catalog's operations go upstream, not every operation glue-local lacks: moto also
//! serves a job API, but its jobs are not glue-local's, so a forwarded job or crawler call would
//! answer from a second, unrelated state. Anything else stays UnknownOperationException.

use crate::store::ApiError;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderMap, HeaderValue, HOST};
use hyper::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;

/// The Data Catalog operations forwarded (Glue API reference: databases, tables, partitions).
pub const OPERATIONS: &[&str] = &[
    "CreateDatabase",
    "GetDatabase",
    "GetDatabases",
    "UpdateDatabase",
    "DeleteDatabase",
    "CreateTable",
    "GetTable",
    "GetTables",
    "UpdateTable",
    "DeleteTable",
    "BatchDeleteTable",
    "GetTableVersion",
    "GetTableVersions",
    "DeleteTableVersion",
    "BatchDeleteTableVersion",
    "SearchTables",
    "CreatePartition",
    "GetPartition",
    "GetPartitions",
    "UpdatePartition",
    "DeletePartition",
    "BatchCreatePartition",
    "BatchGetPartition",
    "BatchUpdatePartition",
    "BatchDeletePartition",
];

/// A forwarded call that took longer than this answers InternalServiceException.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Headers that belong to one connection, not to the message (RFC 9110 §7.6.1): never copied.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
];

/// The server the catalog's operations go to.
#[derive(Debug, Clone)]
pub struct Upstream {
    authority: String,
}

impl Upstream {
    /// `http://host:port` (no path; HTTPS is not needed on one machine).
    pub fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("{url:?}: only http:// endpoints are supported"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!("{url:?}: give the endpoint without a path"));
        }
        let authority = uri
            .authority()
            .filter(|a| a.port_u16().is_some())
            .ok_or_else(|| format!("{url:?}: give host and port (http://127.0.0.1:PORT)"))?;
        Ok(Self {
            authority: authority.to_string(),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.authority)
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Sends the call upstream as it came (minus hop-by-hop headers, with the upstream's Host)
    /// and returns the answer as it came; a transport failure is InternalServiceException.
    pub async fn forward(
        &self,
        operation: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response<Full<Bytes>>, ApiError> {
        let unreachable = |why: String| ApiError {
            code: "InternalServiceException",
            message: format!(
                "glue-local could not forward {operation} to the catalog at {}: {why}",
                self.url()
            ),
        };
        let mut request = Request::post("/")
            .body(Full::new(body))
            .map_err(|e| unreachable(e.to_string()))?;
        *request.headers_mut() = message_headers(headers);
        let host =
            HeaderValue::from_str(&self.authority).map_err(|e| unreachable(e.to_string()))?;
        request.headers_mut().insert(HOST, host);
        let response = tokio::time::timeout(TIMEOUT, self.send(request))
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", TIMEOUT.as_secs())))?
            .map_err(unreachable)?;
        log!("{operation} → {}: {}", self.url(), response.status());
        Ok(response)
    }

    /// One request on its own connection: forwarded calls are few (a handful per run).
    pub(crate) async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Full<Bytes>>, String> {
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                log!("catalog connection error: {err}");
            }
        });
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let (mut parts, body) = response.into_parts();
        let bytes = body
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        parts.headers = message_headers(&parts.headers);
        Ok(Response::from_parts(parts, Full::new(bytes)))
    }
}

/// The headers of a message without the hop-by-hop ones and Host.
fn message_headers(headers: &HeaderMap) -> HeaderMap {
    let mut kept = headers.clone();
    for name in HOP_BY_HOP {
        kept.remove(*name);
    }
    kept.remove(HOST);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_http_host_and_port_is_an_upstream() {
        let up = Upstream::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!(up.url(), "http://127.0.0.1:5000");
        assert_eq!(
            Upstream::parse("http://localhost:80/").unwrap().authority,
            "localhost:80"
        );
        for bad in [
            "127.0.0.1:5000",
            "https://127.0.0.1:5000",
            "http://127.0.0.1",
            "http://127.0.0.1:5000/glue",
            "not a url",
        ] {
            assert!(Upstream::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hop_by_hop_headers_and_host_are_not_copied() {
        let mut headers = HeaderMap::new();
        for (k, v) in [
            ("host", "a:1"),
            ("connection", "keep-alive"),
            ("transfer-encoding", "chunked"),
            ("x-amz-target", "AWSGlue.GetTable"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=x"),
        ] {
            headers.insert(k, HeaderValue::from_static(v));
        }
        let kept = message_headers(&headers);
        let names: Vec<&str> = kept.keys().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(kept["x-amz-target"], "AWSGlue.GetTable");
        assert!(kept.contains_key("authorization"));
    }
}
