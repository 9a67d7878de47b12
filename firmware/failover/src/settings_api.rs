//! The box's settings (`hotspare-settings`, the model the serial console and
//! the front panel edit) over the spare's API, admins only (the route table in
//! [`crate::handlers`]): the current generation without its secrets, a whole
//! edit saved conflict-checked against the generation it was edited from, the
//! history and restore. Secrets left out of an edit are kept, clear passwords
//! hashed (`hotspare_settings::secrets`, off the async workers). A change that
//! can cut the installer off (the network) is applied with `--apply-network`
//! and reverted unless the same user confirms it within the window
//! (`hotspare_settings::confirm::ConfirmWindow`, driven by a task here; the
//! pending change is kept in `<settings>/pending-api.toml`, so a spare
//! restarted before the confirmation reverts it). Channel: `api:<user>`.
//! Design record: docs/design/settings.md; wire: docs/ref/api.md.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use hotspare_base::clock::now_us;
use hotspare_base::LockExt;
use hotspare_http::Identity;
use hotspare_settings::confirm::{Action, ConfirmWindow, Event, Pending};
use hotspare_settings::secrets::{self, MergeError};
use hotspare_settings::store::SaveError;
use hotspare_settings::{pending, FieldError, Settings, SettingsStore};
use serde::Serialize;
use serde_json::json;
use tokio::sync::Notify;

/// What `hotspare failover --settings DIR [--apply-network PROG] [--confirm-window D]` says.
pub struct SettingsApiOptions {
    pub dir: PathBuf,
    /// Run (no shell) with the settings directory as its argument after the network changed.
    pub apply_network: Option<PathBuf>,
    pub confirm_window: Duration,
}

/// The settings service behind the routes (cheap to clone).
#[derive(Clone)]
pub struct SettingsApi {
    inner: Arc<Mutex<Inner>>,
    /// Wakes the reverting task when a deadline was set.
    wake: Arc<Notify>,
}

struct Inner {
    store: SettingsStore,
    apply: Option<PathBuf>,
    window_us: i64,
    window: ConfirmWindow,
}

impl SettingsApi {
    /// Opens the store, reverts a change a previous run left unconfirmed (on a blocking thread:
    /// the apply program runs), and starts the task that reverts unconfirmed changes.
    pub async fn start(o: SettingsApiOptions) -> Result<SettingsApi, SaveError> {
        let store = SettingsStore::open(&o.dir)?;
        let window_us = i64::try_from(o.confirm_window.as_micros()).unwrap_or(i64::MAX);
        let inner = Inner { store, apply: o.apply_network, window_us, window: ConfirmWindow::default() };
        let api = SettingsApi { inner: Arc::new(Mutex::new(inner)), wake: Arc::new(Notify::new()) };
        let restarted = api.with(|i| match pending::read(i.store.dir(), pending::API) {
            Ok(Some(p)) => {
                let actions = i.window.handle(now_us(), Event::Restarted(p));
                i.perform(&actions);
            }
            Ok(None) => {}
            Err(e) => log::error!("{e}: ignored"),
        });
        if restarted.await.is_err() {
            log::error!("settings: the pending change could not be checked");
        }
        tokio::spawn(reverter(api.clone()));
        Ok(api)
    }

    /// `f` on the service, on a blocking thread (file I/O, hashing, the apply program).
    async fn with<T: Send + 'static>(&self, f: impl FnOnce(&mut Inner) -> T + Send + 'static) -> Result<T, Fail> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&mut inner.lock_or_recover()))
            .await
            .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    }
}

/// Sleeps until the pending change's deadline (or a new one), then lets the window revert it.
async fn reverter(api: SettingsApi) {
    loop {
        let Ok(at) = api.with(|i| i.window.poll_at()).await else { return };
        let Some(at) = at else {
            api.wake.notified().await;
            continue;
        };
        let wait = Duration::from_micros(u64::try_from(at - now_us()).unwrap_or(0));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = api.wake.notified() => continue,
        }
        let _ = api
            .with(|i| {
                let actions = i.window.handle(now_us(), Event::Tick);
                i.perform(&actions)
            })
            .await;
    }
}

/// A saved generation, as the API answers it.
#[derive(Serialize)]
struct Saved {
    seq: u64,
    /// Top-level sections that changed (`network`, `account`, …).
    changed: Vec<String>,
    /// The network was changed but `--apply-network` failed: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    apply_error: Option<String>,
    /// Confirm with `POST /api/v1/settings/confirm` (same user) before this (µs since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    confirm_by_us: Option<i64>,
}

impl Inner {
    fn perform(&mut self, actions: &[Action]) {
        for a in actions {
            match a {
                Action::Revert { to, why } => match self.store.restore(*to, "api") {
                    Ok(seq) => {
                        log::warn!("settings: {why}: generation {to} restored as {seq}");
                        if let Err(e) = self.apply_network() {
                            log::error!("settings: reverted network not applied: {e}");
                        }
                    }
                    Err(e) => log::error!("settings: {why}: cannot restore generation {to}: {e}"),
                },
                Action::Persist(p) => {
                    if let Err(e) = pending::write(self.store.dir(), pending::API, p.as_ref()) {
                        log::error!("settings: {e}");
                    }
                }
                Action::Confirmed { seq } => log::info!("settings: generation {seq} confirmed"),
                Action::Refused { .. } => {}
            }
        }
    }

    fn apply_network(&self) -> Result<(), String> {
        let Some(cmd) = &self.apply else {
            log::info!("settings: no --apply-network: the network settings are saved, not applied");
            return Ok(());
        };
        let out = std::process::Command::new(cmd)
            .arg(self.store.dir())
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", cmd.display()))?;
        if out.status.success() {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!("{} {}: {}", cmd.display(), out.status, err.lines().last().unwrap_or("")))
    }

    /// After generation `seq` (`new`) replaced `old_seq` (`old`): the network applied, and a
    /// change that can cut the installer off waiting for `channel`'s confirmation.
    fn after_save(&mut self, old_seq: u64, old: &Settings, seq: u64, new: &Settings, channel: &str) -> Saved {
        let mut saved = Saved { seq, changed: changed(old, new), apply_error: None, confirm_by_us: None };
        if old.network != new.network {
            saved.apply_error = self.apply_network().err();
        }
        if old_seq > 0 && old.cuts_off(new) {
            let deadline_us = now_us().saturating_add(self.window_us);
            let p = Pending { applied: seq, revert_to: old_seq, channel: channel.into(), deadline_us };
            let actions = self.window.handle(now_us(), Event::Applied(p));
            self.perform(&actions);
            saved.confirm_by_us = Some(deadline_us);
        }
        saved
    }
}

/// The top-level sections that differ.
fn changed(old: &Settings, new: &Settings) -> Vec<String> {
    let (a, b) = (toml::Table::try_from(old).unwrap_or_default(), toml::Table::try_from(new).unwrap_or_default());
    let mut keys: Vec<String> = a.keys().chain(b.keys()).filter(|k| a.get(*k) != b.get(*k)).cloned().collect();
    keys.sort();
    keys.dedup();
    keys
}

/// A refusal: its status and JSON body (`{"error": …}`, and more for some).
pub struct Fail(StatusCode, serde_json::Value);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

impl From<SaveError> for Fail {
    fn from(e: SaveError) -> Fail {
        match e {
            SaveError::Invalid(p) => problems(StatusCode::UNPROCESSABLE_ENTITY, "the settings have problems", p),
            SaveError::Conflict { current, .. } => {
                Fail(StatusCode::CONFLICT, json!({ "error": e.to_string(), "seq": current }))
            }
            SaveError::NoSuchGeneration(_) => fail(StatusCode::NOT_FOUND, e.to_string()),
            _ => fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

fn fail(code: StatusCode, msg: impl Into<String>) -> Fail {
    Fail(code, json!({ "error": msg.into() }))
}

fn problems(code: StatusCode, error: &str, problems: Vec<FieldError>) -> Fail {
    Fail(code, json!({ "error": error, "problems": problems }))
}

fn channel(id: &Identity) -> String {
    format!("api:{}", id.user)
}

fn enabled(api: Option<SettingsApi>) -> Result<SettingsApi, Fail> {
    api.ok_or_else(|| {
        fail(StatusCode::NOT_FOUND, "this spare has no settings directory (hotspare failover --settings)")
    })
}

/// `GET /api/v1/settings`: the current generation without secrets.
pub async fn get_settings(State(api): State<Option<SettingsApi>>) -> Result<Response, Fail> {
    let api = enabled(api)?;
    let (c, pending) = api.with(|i| i.store.current().map(|c| (c, i.window.pending().cloned()))).await??;
    let body = json!({
        "seq": c.seq(),
        "channel": c.meta.as_ref().map(|m| m.channel.clone()),
        "summary": c.meta.as_ref().map(|m| m.summary.clone()),
        "settings": secrets::redacted(&c.settings),
        "pending": pending,
    });
    Ok(Json(body).into_response())
}

/// `PUT /api/v1/settings` with `{"seq": N, "settings": {…}}`: the whole settings, edited from
/// generation N.
pub async fn put_settings(
    State(api): State<Option<SettingsApi>>,
    Extension(id): Extension<Identity>,
    body: Bytes,
) -> Result<Response, Fail> {
    let api = enabled(api)?;
    let (edited, edit) = parse_edit(&body)
        .map_err(|why| problems(StatusCode::BAD_REQUEST, &why, vec![FieldError::new("settings", why.clone())]))?;
    let channel = channel(&id);
    let reply = api
        .with(move |i| -> Result<Saved, Fail> {
            let cur = i.store.current()?;
            // hashing (PBKDF2) happens here, on this blocking thread
            let new = secrets::merge(edit, &cur.settings).map_err(|e| match e {
                MergeError::Fields(p) => problems(StatusCode::UNPROCESSABLE_ENTITY, "the settings have problems", p),
                MergeError::Shape(why) => {
                    let p = vec![FieldError::new("settings", why.clone())];
                    problems(StatusCode::BAD_REQUEST, &format!("not settings: {why}"), p)
                }
            })?;
            if cur.seq() == edited && new == cur.settings {
                return Ok(Saved { seq: edited, changed: Vec::new(), apply_error: None, confirm_by_us: None });
            }
            let summary = format!("changed {}", changed(&cur.settings, &new).join(", "));
            let seq = i.store.save(&new, edited, &channel, &summary)?;
            Ok(i.after_save(cur.seq(), &cur.settings, seq, &new, &channel))
        })
        .await;
    api.wake.notify_one();
    Ok(Json(reply??).into_response())
}

/// The body of a `PUT`: the generation edited and the settings tree (JSON `null`s are
/// absent keys: a secret sent back as `null` is kept).
fn parse_edit(body: &[u8]) -> Result<(u64, toml::Table), String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let seq = v.get("seq").and_then(serde_json::Value::as_u64).ok_or("seq: the generation edited is required")?;
    let mut settings = v.get("settings").cloned().ok_or("settings: required")?;
    strip_nulls(&mut settings);
    let t = serde_json::from_value(settings).map_err(|e| format!("settings: {e}"))?;
    Ok((seq, t))
}

fn strip_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(a) => {
            a.retain(|x| !x.is_null());
            a.iter_mut().for_each(strip_nulls);
        }
        _ => {}
    }
}

/// `POST /api/v1/settings/confirm`: the caller keeps the network change they made.
pub async fn confirm(
    State(api): State<Option<SettingsApi>>,
    Extension(id): Extension<Identity>,
) -> Result<Response, Fail> {
    let api = enabled(api)?;
    let channel = channel(&id);
    let actions = api
        .with(move |i| {
            let actions = i.window.handle(now_us(), Event::Confirm { channel });
            i.perform(&actions);
            actions
        })
        .await;
    api.wake.notify_one();
    match actions?.first() {
        Some(Action::Confirmed { seq }) => Ok(Json(json!({ "confirmed": seq })).into_response()),
        Some(Action::Refused { why }) if why.starts_with("no change") => Err(fail(StatusCode::CONFLICT, why)),
        Some(Action::Refused { why }) => Err(fail(StatusCode::FORBIDDEN, why)),
        Some(Action::Revert { why, .. }) => Err(fail(StatusCode::CONFLICT, format!("reverted: {why}"))),
        _ => Err(fail(StatusCode::CONFLICT, "nothing to confirm")),
    }
}

/// `GET /api/v1/settings/history`: the generations kept, newest first.
pub async fn history(State(api): State<Option<SettingsApi>>) -> Result<Response, Fail> {
    let api = enabled(api)?;
    let (h, current) = api.with(|i| Ok::<_, SaveError>((i.store.history()?, i.store.current()?.seq()))).await??;
    let list: Vec<serde_json::Value> = h
        .into_iter()
        .map(|g| match g.meta {
            Ok(m) => json!({ "seq": g.seq, "saved_us": m.saved_us, "channel": m.channel,
                             "summary": m.summary, "current": g.seq == current }),
            Err(why) => json!({ "seq": g.seq, "unreadable": why, "current": false }),
        })
        .collect();
    Ok(Json(list).into_response())
}

/// `POST /api/v1/settings/restore/{seq}`: generation `seq` again, as a new generation.
pub async fn restore(
    State(api): State<Option<SettingsApi>>,
    Extension(id): Extension<Identity>,
    Path(seq): Path<u64>,
) -> Result<Response, Fail> {
    let api = enabled(api)?;
    let channel = channel(&id);
    let reply = api
        .with(move |i| -> Result<Saved, Fail> {
            let cur = i.store.current()?;
            let new_seq = i.store.restore(seq, &channel)?;
            let new = i.store.current()?.settings;
            Ok(i.after_save(cur.seq(), &cur.settings, new_seq, &new, &channel))
        })
        .await;
    api.wake.notify_one();
    Ok(Json(reply??).into_response())
}
