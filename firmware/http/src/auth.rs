//! HTTP Basic authentication against [`Account`]s, with the defences a LAN
//! needs: PBKDF2 runs on the blocking pool behind a small semaphore (never on
//! an async worker); a bounded cache of recently verified credentials spares
//! clients polling every second the PBKDF2 cost; and every client IP is
//! rate-limited: after [`AuthLimits::free_failures`] wrong passwords it is
//! answered 429 with `Retry-After` (exponential backoff), without hashing.

use hotspare_base::{Backoff, LockExt};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::accounts::{Account, Role};
use crate::password::{hash_password, verify_password};

/// Tuning of an [`Authenticator`].
#[derive(Clone, Debug)]
pub struct AuthLimits {
    /// Wrong passwords a client may send before it is backed off.
    pub free_failures: u32,
    /// Backoff after the first failure past the free ones; doubles with each further failure.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// A client's failures are forgotten after this long without one.
    pub forget_after: Duration,
    /// Client IPs tracked at most (the least-failing are forgotten first).
    pub tracked_clients: usize,
    /// Verifications one client may have running at once (more: 429).
    pub in_flight_per_client: u32,
    /// Verifications running at once in all (PBKDF2 threads).
    pub hashing_threads: usize,
    /// Verified credentials remembered at most, and for how long.
    pub cache_entries: usize,
    pub cache_ttl: Duration,
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            free_failures: 5,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            forget_after: Duration::from_secs(900),
            tracked_clients: 4096,
            in_flight_per_client: 2,
            hashing_threads: 2,
            cache_entries: 256,
            cache_ttl: Duration::from_secs(600),
        }
    }
}

/// Who a request authenticated as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub role: Role,
    /// Position of the matched account in the list it was checked against.
    pub account: usize,
}

/// Why a request is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denied {
    /// No (usable) `Authorization: Basic` header: 401.
    Missing,
    /// Unknown user or wrong password: 401.
    Wrong,
    /// Authenticated, but the role is not enough: 403.
    Forbidden { user: String, needed: Role },
    /// Too many failures from this client: 429 with `Retry-After`.
    Backoff { retry_after: Duration },
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            Denied::Missing => (StatusCode::UNAUTHORIZED, "credentials required (HTTP Basic)".to_owned()),
            Denied::Wrong => (StatusCode::UNAUTHORIZED, "wrong user or password".to_owned()),
            Denied::Forbidden { user, needed } => {
                (StatusCode::FORBIDDEN, format!("user {user:?} lacks the {} role this needs", needed.name()))
            }
            Denied::Backoff { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many failed logins from this address; retry in {} s", retry_secs(*retry_after)),
            ),
        };
        let mut r = (status, Json(hotspare_api::ApiError { error: message })).into_response();
        match self {
            Denied::Missing | Denied::Wrong => {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"hotspare\""));
            }
            Denied::Backoff { retry_after } => {
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_secs(retry_after)));
            }
            Denied::Forbidden { .. } => {}
        }
        r
    }
}

fn retry_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `(user, password)` of an `Authorization: Basic` header.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The peer address the server recorded ([`ConnectInfo`]); unspecified when served in-process.
pub fn client_ip(req: &Request) -> IpAddr {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

#[derive(Default)]
struct ClientRecord {
    failures: u32,
    last_failure: Option<Instant>,
    blocked_until: Option<Instant>,
    in_flight: u32,
}

struct CacheEntry {
    /// The stored hash it was verified against (a changed password invalidates it).
    stored: String,
    at: Instant,
}

/// Verifies Basic credentials; see the module doc.
pub struct Authenticator {
    accounts: Vec<Account>,
    limits: AuthLimits,
    clients: Mutex<HashMap<IpAddr, ClientRecord>>,
    cache: Mutex<HashMap<[u8; 32], CacheEntry>>,
    hashing: Arc<Semaphore>,
    /// Random per process: cache keys are not plain hashes of passwords.
    cache_key: [u8; 32],
}

/// Hash checked for unknown users, so they cost as much as known ones.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password(&format!("{:x}", rand::random::<u128>())))
}

impl Authenticator {
    pub fn new(accounts: Vec<Account>, limits: AuthLimits) -> Arc<Authenticator> {
        let hashing = Arc::new(Semaphore::new(limits.hashing_threads.max(1)));
        Arc::new(Authenticator {
            accounts,
            limits,
            clients: Mutex::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
            hashing,
            cache_key: rand::random(),
        })
    }

    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// Authenticates against the configured accounts.
    pub async fn authenticate(self: &Arc<Self>, ip: IpAddr, headers: &HeaderMap) -> Result<Identity, Denied> {
        self.authenticate_against(ip, headers, &self.accounts).await
    }

    /// Authenticates against `accounts` (e.g. ones that change at run time), with this
    /// authenticator's rate limiting and cache. The verification runs to its end even when the
    /// caller is dropped (a client hanging up): its outcome is still counted (failure) or cached
    /// (success), and it holds its in-flight place until then.
    pub async fn authenticate_against(
        self: &Arc<Self>,
        ip: IpAddr,
        headers: &HeaderMap,
        accounts: &[Account],
    ) -> Result<Identity, Denied> {
        let Some((user, password)) = basic_credentials(headers) else { return Err(Denied::Missing) };
        self.admit(ip)?;
        // Several accounts may share a user name (e.g. the spare accepts the `admin` of each NVR
        // it protects, each with its own password): any of them may match.
        let candidates: Vec<(usize, &Account)> = accounts.iter().enumerate().filter(|(_, a)| a.user == user).collect();
        let key = self.cache_key(&user, &password);
        if let Some((account, a)) = self.cached(&key, &candidates) {
            self.record(ip, true);
            return Ok(Identity { user, role: a.role, account });
        }
        let flight = self.begin(ip)?;
        let hashes: Vec<String> = if candidates.is_empty() {
            vec![dummy_hash().to_owned()]
        } else {
            candidates.iter().map(|(_, a)| a.password_hash.clone()).collect()
        };
        let known = !candidates.is_empty();
        let me = self.clone();
        let verification = tokio::spawn(async move {
            let matched = me.verify(password, hashes.clone()).await.filter(|_| known);
            if let Some(stored) = matched.and_then(|i| hashes.get(i)) {
                me.remember(key, stored.clone());
            }
            me.record(ip, matched.is_some());
            drop(flight);
            matched
        });
        let matched = verification.await.ok().flatten();
        match matched.and_then(|i| candidates.get(i)) {
            Some(&(account, a)) => Ok(Identity { user, role: a.role, account }),
            None => Err(Denied::Wrong),
        }
    }

    /// Index of the first of `hashes` that `password` matches: PBKDF2 on the blocking pool, at
    /// most `hashing_threads` verifications at once.
    async fn verify(&self, password: String, hashes: Vec<String>) -> Option<usize> {
        let _permit = self.hashing.acquire().await.ok()?;
        tokio::task::spawn_blocking(move || hashes.iter().position(|h| verify_password(&password, h)))
            .await
            .ok()
            .flatten()
    }

    fn cache_key(&self, user: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.cache_key);
        h.update((user.len() as u64).to_le_bytes());
        h.update(user.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// The role of the candidate these credentials were recently verified against, if any.
    fn cached<'a>(&self, key: &[u8; 32], candidates: &[(usize, &'a Account)]) -> Option<(usize, &'a Account)> {
        let cache = self.cache.lock_or_recover();
        let e = cache.get(key).filter(|e| e.at.elapsed() < self.limits.cache_ttl)?;
        candidates.iter().find(|(_, a)| a.password_hash == e.stored).copied()
    }

    fn remember(&self, key: [u8; 32], stored: String) {
        let mut cache = self.cache.lock_or_recover();
        if cache.len() >= self.limits.cache_entries && !cache.contains_key(&key) {
            let ttl = self.limits.cache_ttl;
            cache.retain(|_, e| e.at.elapsed() < ttl);
            if cache.len() >= self.limits.cache_entries {
                if let Some(oldest) = cache.iter().min_by_key(|(_, e)| e.at).map(|(k, _)| *k) {
                    cache.remove(&oldest);
                }
            }
        }
        cache.insert(key, CacheEntry { stored, at: Instant::now() });
    }

    /// `Err` while `ip` is backed off.
    fn admit(&self, ip: IpAddr) -> Result<(), Denied> {
        let clients = self.clients.lock_or_recover();
        match clients.get(&ip).and_then(|c| c.blocked_until) {
            Some(until) if until > Instant::now() => Err(Denied::Backoff { retry_after: until - Instant::now() }),
            _ => Ok(()),
        }
    }

    /// Counts a verification in flight until the returned guard drops; `Err` when the client has
    /// too many already.
    fn begin(self: &Arc<Self>, ip: IpAddr) -> Result<InFlight, Denied> {
        let mut clients = self.clients.lock_or_recover();
        self.make_room(&mut clients, ip);
        let c = clients.entry(ip).or_default();
        if c.in_flight >= self.limits.in_flight_per_client {
            return Err(Denied::Backoff { retry_after: Duration::from_secs(1) });
        }
        c.in_flight += 1;
        Ok(InFlight { auth: self.clone(), ip })
    }

    fn end(&self, ip: IpAddr) {
        let mut clients = self.clients.lock_or_recover();
        if let Some(c) = clients.get_mut(&ip) {
            c.in_flight = c.in_flight.saturating_sub(1);
        }
    }

    /// Keeps the table within `tracked_clients`: forgets quiet clients, then the least failing.
    fn make_room(&self, clients: &mut HashMap<IpAddr, ClientRecord>, ip: IpAddr) {
        if clients.len() < self.limits.tracked_clients || clients.contains_key(&ip) {
            return;
        }
        let forget = self.limits.forget_after;
        clients.retain(|_, c| c.in_flight > 0 || c.last_failure.is_some_and(|t| t.elapsed() < forget));
        if clients.len() >= self.limits.tracked_clients {
            if let Some(k) =
                clients.iter().filter(|(_, c)| c.in_flight == 0).min_by_key(|(_, c)| c.failures).map(|(k, _)| *k)
            {
                clients.remove(&k);
            }
        }
    }

    fn record(&self, ip: IpAddr, ok: bool) {
        let mut clients = self.clients.lock_or_recover();
        if ok {
            if let Some(c) = clients.get_mut(&ip) {
                c.failures = 0;
                c.blocked_until = None;
            }
            return;
        }
        self.make_room(&mut clients, ip);
        let c = clients.entry(ip).or_default();
        let now = Instant::now();
        if c.last_failure.is_some_and(|t| now.duration_since(t) > self.limits.forget_after) {
            c.failures = 0;
        }
        c.failures = c.failures.saturating_add(1);
        c.last_failure = Some(now);
        if c.failures >= self.limits.free_failures {
            let doublings = (c.failures - self.limits.free_failures).min(20);
            let backoff = Backoff::nth(self.limits.first_backoff, self.limits.max_backoff, doublings);
            c.blocked_until = Some(now + backoff);
        }
    }
}

/// A verification in flight for a client address ([`Authenticator::begin`]).
struct InFlight {
    auth: Arc<Authenticator>,
    ip: IpAddr,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.auth.end(self.ip);
    }
}

/// Middleware state: the authenticator and the role a route needs.
#[derive(Clone)]
pub struct Require {
    pub auth: Arc<Authenticator>,
    pub role: Role,
}

/// Middleware ([`axum::middleware::from_fn_with_state`] with a [`Require`]): lets the request
/// through with its [`Identity`] in the extensions, or answers 401/403/429.
pub async fn require_role(State(r): State<Require>, mut req: Request, next: Next) -> Response {
    let ip = client_ip(&req);
    match r.auth.authenticate(ip, req.headers()).await {
        Ok(id) if id.role.allows(r.role) => {
            req.extensions_mut().insert(id);
            next.run(req).await
        }
        Ok(id) => Denied::Forbidden { user: id.user, needed: r.role }.into_response(),
        Err(d) => d.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::hash_password;

    fn headers(user: &str, password: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Basic {b}")).unwrap());
        h
    }

    fn auth(limits: AuthLimits) -> Arc<Authenticator> {
        let accounts = vec![
            Account { user: "admin".into(), role: Role::Admin, password_hash: hash_password("adm") },
            Account { user: "eve".into(), role: Role::Viewer, password_hash: hash_password("view") },
        ];
        Authenticator::new(accounts, limits)
    }

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    #[tokio::test]
    async fn roles_and_wrong_passwords() {
        let a = auth(AuthLimits::default());
        assert_eq!(a.authenticate(A, &headers("admin", "adm")).await.unwrap().role, Role::Admin);
        assert_eq!(a.authenticate(A, &headers("eve", "view")).await.unwrap().role, Role::Viewer);
        assert_eq!(a.authenticate(A, &headers("eve", "adm")).await, Err(Denied::Wrong));
        assert_eq!(a.authenticate(A, &headers("nobody", "adm")).await, Err(Denied::Wrong));
        assert_eq!(a.authenticate(A, &HeaderMap::new()).await, Err(Denied::Missing));
    }

    #[tokio::test]
    async fn backoff_after_failures_without_hashing() {
        let a = auth(AuthLimits { free_failures: 3, ..AuthLimits::default() });
        for _ in 0..3 {
            assert_eq!(a.authenticate(A, &headers("admin", "guess")).await, Err(Denied::Wrong));
        }
        // Backed off: even the right password is refused, at once (no PBKDF2).
        let t = Instant::now();
        for _ in 0..100 {
            match a.authenticate(A, &headers("admin", "adm")).await {
                Err(Denied::Backoff { retry_after }) => assert!(retry_after <= Duration::from_secs(1)),
                other => panic!("{other:?}"),
            }
        }
        assert!(t.elapsed() < Duration::from_secs(2), "100 refusals took {:?}", t.elapsed());
        // Another client is not affected.
        assert!(a.authenticate(B, &headers("admin", "adm")).await.is_ok());
        let r = Denied::Backoff { retry_after: Duration::from_millis(1500) }.into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
    }

    /// A client that hangs up during the verification neither leaks its in-flight place nor
    /// loses the outcome: the failure still counts, the success is still cached.
    #[tokio::test]
    async fn dropped_requests_finish_their_verification() {
        let a = auth(AuthLimits { free_failures: 3, in_flight_per_client: 1, ..AuthLimits::default() });
        for _ in 0..5 {
            let r = tokio::time::timeout(Duration::from_millis(1), a.authenticate(A, &headers("admin", "adm"))).await;
            assert!(matches!(r, Err(_) | Ok(Ok(_)) | Ok(Err(Denied::Backoff { .. }))), "{r:?}");
        }
        let end = Instant::now() + Duration::from_secs(30);
        while a.clients.lock().unwrap().get(&A).is_some_and(|c| c.in_flight > 0) {
            assert!(Instant::now() < end, "in-flight verification never ended");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Cached by the abandoned verification: no hashing permit needed now.
        let permit = a.hashing.clone().acquire_many_owned(2).await.unwrap();
        let r = tokio::time::timeout(Duration::from_secs(5), a.authenticate(A, &headers("admin", "adm"))).await;
        assert!(matches!(r, Ok(Ok(_))), "{r:?}");
        drop(permit);
        // Abandoned wrong guesses still count toward the backoff.
        for _ in 0..3 {
            let _ = tokio::time::timeout(Duration::from_millis(1), a.authenticate(B, &headers("admin", "x"))).await;
            let end = Instant::now() + Duration::from_secs(30);
            while a.clients.lock().unwrap().get(&B).is_some_and(|c| c.in_flight > 0) {
                assert!(Instant::now() < end, "in-flight verification never ended");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        assert!(matches!(a.authenticate(B, &headers("admin", "adm")).await, Err(Denied::Backoff { .. })));
    }

    #[tokio::test]
    async fn backoff_doubles_and_success_resets() {
        let limits = AuthLimits { free_failures: 1, first_backoff: Duration::from_millis(50), ..AuthLimits::default() };
        let a = auth(limits);
        let _ = a.authenticate(A, &headers("admin", "x")).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
        let _ = a.authenticate(A, &headers("admin", "x")).await;
        match a.authenticate(A, &headers("admin", "adm")).await {
            Err(Denied::Backoff { retry_after }) => assert!(retry_after > Duration::from_millis(50), "{retry_after:?}"),
            other => panic!("{other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(110)).await;
        assert!(a.authenticate(A, &headers("admin", "adm")).await.is_ok());
        // Reset: one more failure gives the first backoff again.
        let _ = a.authenticate(A, &headers("admin", "x")).await;
        match a.authenticate(A, &headers("admin", "adm")).await {
            Err(Denied::Backoff { retry_after }) => {
                assert!(retry_after <= Duration::from_millis(50), "{retry_after:?}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn cache_spares_hashing_and_forgets_changed_passwords() {
        let a = auth(AuthLimits { hashing_threads: 1, ..AuthLimits::default() });
        assert!(a.authenticate(A, &headers("admin", "adm")).await.is_ok());
        // Hold the only hashing permit: a cached login must not need it.
        let permit = a.hashing.clone().acquire_owned().await.unwrap();
        let r = tokio::time::timeout(Duration::from_secs(5), a.authenticate(A, &headers("admin", "adm"))).await;
        assert!(matches!(r, Ok(Ok(_))), "{r:?}");
        drop(permit);
        // Same user, other account list with another hash: the cache entry does not apply.
        let changed = vec![Account { user: "admin".into(), role: Role::Admin, password_hash: hash_password("new") }];
        assert_eq!(a.authenticate_against(A, &headers("admin", "adm"), &changed).await, Err(Denied::Wrong));
    }

    #[tokio::test]
    async fn shared_user_names() {
        let a = auth(AuthLimits::default());
        let two = vec![
            Account { user: "admin".into(), role: Role::Viewer, password_hash: hash_password("one") },
            Account { user: "admin".into(), role: Role::Admin, password_hash: hash_password("two") },
        ];
        assert_eq!(a.authenticate_against(A, &headers("admin", "two"), &two).await.unwrap().account, 1);
        assert_eq!(a.authenticate_against(A, &headers("admin", "one"), &two).await.unwrap().role, Role::Viewer);
        let cached = a.authenticate_against(A, &headers("admin", "two"), &two).await.unwrap();
        assert_eq!((cached.role, cached.account), (Role::Admin, 1));
    }

    #[tokio::test]
    async fn cache_and_clients_are_bounded() {
        let a = auth(AuthLimits { cache_entries: 2, tracked_clients: 3, free_failures: 100, ..AuthLimits::default() });
        for _ in 0..3 {
            assert!(a.authenticate(A, &headers("admin", "adm")).await.is_ok());
            assert!(a.authenticate(A, &headers("eve", "view")).await.is_ok());
        }
        let accounts: Vec<Account> = (0..4)
            .map(|i| Account { user: format!("u{i}"), role: Role::Viewer, password_hash: hash_password("p") })
            .collect();
        for acc in &accounts {
            assert!(a.authenticate_against(A, &headers(&acc.user, "p"), &accounts).await.is_ok());
        }
        assert!(a.cache.lock().unwrap().len() <= 2);
        for i in 0..10u8 {
            let ip = IpAddr::V4(Ipv4Addr::new(10, 1, 0, i));
            let _ = a.authenticate(ip, &headers("admin", "x")).await;
        }
        assert!(a.clients.lock().unwrap().len() <= 3);
    }
}
