//! HTTP client for an NVR's API (`docs/ref/api.md`): status, takeover
//! settings, re-insertion. Every error says which NVR and what failed.
//! `https://` URLs are accepted only from the NVR whose certificate
//! fingerprint is pinned in the config (`hotspare-tls`); a missing or
//! different pin is an error naming the fingerprint the NVR presented.

use std::time::Duration;

use hotspare_api::{ApiError, ImportOffset, ImportReceipt, ImportSegment, NvrStatus, TakeoverConfig};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{url}: {detail}")]
    Http { url: String, detail: String },
    #[error("{url}: HTTP {status}: {message}")]
    Status { url: String, status: u16, message: String },
    #[error("{url}: reply is not the expected JSON: {detail}")]
    Decode { url: String, detail: String },
}

/// One NVR's API.
#[derive(Clone, Debug)]
pub struct NvrClient {
    base: String,
    user: String,
    password: String,
    http: reqwest::Client,
}

fn describe(e: &reqwest::Error) -> String {
    if let Some(pin) = hotspare_tls::PinError::find(e) {
        return pin.to_string();
    }
    if e.is_timeout() {
        "no answer (timeout)".into()
    } else if e.is_connect() {
        "connection refused or unreachable".into()
    } else {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            s = format!("{s}: {inner}");
            src = inner.source();
        }
        s
    }
}

impl NvrClient {
    /// A client of the NVR at `base`; `pin`: its certificate fingerprint (`None`: every
    /// `https://` connection is refused, naming the fingerprint the NVR presented).
    pub fn new(base: &str, user: &str, password: &str, pin: Option<hotspare_tls::Fingerprint>) -> Self {
        let pins: Vec<_> = pin.into_iter().collect();
        let http = hotspare_tls::http_client_builder(&pins)
            .and_then(|b| {
                b.connect_timeout(Duration::from_secs(2))
                    .pool_max_idle_per_host(1)
                    .build()
                    .map_err(|e| hotspare_tls::TlsError::BadFile { path: base.into(), problem: e.to_string() })
            })
            .unwrap_or_else(|e| {
                log::error!("{base}: cannot make the HTTP client ({e}); using one without TLS pins");
                reqwest::Client::new()
            });
        NvrClient { base: base.trim_end_matches('/').to_string(), user: user.into(), password: password.into(), http }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        auth: bool,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.get(&url).timeout(timeout);
        if auth {
            req = req.basic_auth(&self.user, Some(&self.password));
        }
        let resp = req.send().await.map_err(|e| ClientError::Http { url: url.clone(), detail: describe(&e) })?;
        decode(url, resp).await
    }

    /// `GET /api/v1/status` (with the admin credentials: status needs an account).
    pub async fn status(&self, timeout: Duration) -> Result<NvrStatus, ClientError> {
        self.get_json(hotspare_api::api_path!("/status"), true, timeout).await
    }

    /// `GET /api/v1/config` with the NVR's admin credentials.
    pub async fn config(&self, timeout: Duration) -> Result<TakeoverConfig, ClientError> {
        self.get_json(hotspare_api::api_path!("/config"), true, timeout).await
    }
}

/// Reply to one chunk of a resumable import.
#[derive(Debug)]
pub enum ChunkReply {
    /// More bytes are needed; the NVR now holds this many.
    More(ImportOffset),
    /// The segment is complete and stored.
    Done(ImportReceipt),
}

impl NvrClient {
    /// `GET /api/v1/import?uid=…`: how many bytes of `uid`'s upload the NVR holds.
    pub async fn import_offset(&self, uid: &str) -> Result<ImportOffset, ClientError> {
        let url = format!("{}{}", self.base, hotspare_api::api_path!("/import"));
        let resp = self
            .http
            .get(&url)
            .query(&[("uid", uid)])
            .timeout(Duration::from_secs(30))
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .map_err(|e| ClientError::Http { url: url.clone(), detail: describe(&e) })?;
        decode(url, resp).await
    }

    /// `PUT /api/v1/import`: bytes `first..first + len` of the segment's body (of `total`).
    pub async fn import_chunk(
        &self,
        seg: &ImportSegment,
        first: u64,
        len: u64,
        body: reqwest::Body,
    ) -> Result<ChunkReply, ClientError> {
        let url = format!("{}{}", self.base, hotspare_api::api_path!("/import"));
        let header =
            serde_json::to_string(seg).map_err(|e| ClientError::Decode { url: url.clone(), detail: e.to_string() })?;
        let total = seg.body_len();
        let resp = self
            .http
            .put(&url)
            .timeout(Duration::from_secs(600))
            .basic_auth(&self.user, Some(&self.password))
            .header("X-Hotspare-Segment", header)
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", len.to_string())
            .header("Content-Range", format!("bytes {first}-{}/{total}", first + len - 1))
            .body(body)
            .send()
            .await
            .map_err(|e| ClientError::Http { url: url.clone(), detail: describe(&e) })?;
        if resp.status() == reqwest::StatusCode::ACCEPTED {
            return decode(url, resp).await.map(ChunkReply::More);
        }
        decode(url, resp).await.map(ChunkReply::Done)
    }
}

async fn decode<T: serde::de::DeserializeOwned>(url: String, resp: reqwest::Response) -> Result<T, ClientError> {
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| ClientError::Http { url: url.clone(), detail: describe(&e) })?;
    if !status.is_success() {
        let message = serde_json::from_slice::<ApiError>(&bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned());
        return Err(ClientError::Status { url, status: status.as_u16(), message });
    }
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode { url, detail: e.to_string() })
}
