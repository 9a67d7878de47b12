//! A route table with the access each route needs. A role server builds its
//! router only through [`build`], so every route declares its [`Access`] and
//! a test can walk the table ([`sample_path`]) to prove that no route
//! answers without credentials unless it is declared public.

use std::sync::Arc;

use axum::routing::MethodRouter;
use axum::Router;

use crate::accounts::Role;
use crate::auth::{require_role, Authenticator, Require};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (e.g. UPnP discovery documents).
    Public,
    /// An account with at least this role (checked before the handler runs).
    Needs(Role),
    /// The handler authenticates the request itself, with the shared [`Authenticator`], against
    /// accounts only it knows (e.g. the spare's `whoami`); it answers 401 without credentials.
    Handler,
}

/// One route: method (for tests and docs), path, access, handler.
pub struct Route<S> {
    pub method: &'static str,
    pub path: String,
    pub access: Access,
    pub handler: MethodRouter<S>,
}

impl<S> Route<S> {
    pub fn new(method: &'static str, path: impl Into<String>, access: Access, handler: MethodRouter<S>) -> Self {
        Route { method, path: path.into(), access, handler }
    }
}

/// `(method, path, access)` of each route, for tests and documentation.
pub fn table<S>(routes: &[Route<S>]) -> Vec<(&'static str, String, Access)> {
    routes.iter().map(|r| (r.method, r.path.clone(), r.access)).collect()
}

/// The router of `routes`, with [`require_role`] in front of every [`Access::Needs`] route.
pub fn build<S: Clone + Send + Sync + 'static>(routes: Vec<Route<S>>, auth: &Arc<Authenticator>) -> Router<S> {
    let mut router = Router::new();
    for r in routes {
        let handler = match r.access {
            Access::Needs(role) => r
                .handler
                .route_layer(axum::middleware::from_fn_with_state(Require { auth: auth.clone(), role }, require_role)),
            Access::Public | Access::Handler => r.handler,
        };
        router = router.route(&r.path, handler);
    }
    router
}

/// `path` with each `{param}` replaced by a plausible value (`x`, or `x.mp4` for `{file}`).
pub fn sample_path(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find('}') else { break };
        let name = &rest[i + 1..i + j];
        out.push_str(if name == "file" { "x.mp4" } else { "x" });
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn samples() {
        assert_eq!(super::sample_path("/a/{nvr}/r/{file}"), "/a/x/r/x.mp4");
        assert_eq!(super::sample_path("/a"), "/a");
    }
}
