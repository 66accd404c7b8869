//! Who may use the console: whoever presents the API token (a bearer header
//! or the cookie the sign-in sets), or, behind a fronting proxy that
//! authenticates users (OIDC), whoever that proxy names in a trusted header
//! such as `X-Forwarded-Email`. Trust that header only when the proxy is the
//! sole way in: it is taken as given.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use std::sync::Arc;

pub const COOKIE: &str = "fd_console";

#[derive(Debug, Clone, Default)]
pub struct AccessConfig {
    /// The API token; a random one is generated (and logged) when unset.
    pub token: Option<String>,
    /// A header set by an authenticating proxy, naming the analyst.
    pub trusted_header: Option<String>,
}

/// The analyst a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analyst(pub String);

pub struct Access {
    token: String,
    trusted_header: Option<header::HeaderName>,
}

impl Access {
    pub fn new(config: AccessConfig) -> Access {
        let token = config
            .token
            .filter(|token| !token.trim().is_empty())
            .unwrap_or_else(generate_token);
        let trusted_header = config
            .trusted_header
            .and_then(|name| header::HeaderName::from_bytes(name.trim().as_bytes()).ok());
        Access {
            token,
            trusted_header,
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn token_matches(&self, offered: &str) -> bool {
        constant_time_eq(offered.as_bytes(), self.token.as_bytes())
    }

    /// The analyst the headers identify, if any.
    pub fn identify(&self, headers: &HeaderMap) -> Option<Analyst> {
        if let Some(name) = &self.trusted_header {
            let named = headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
                .filter(|value| !value.is_empty());
            if let Some(named) = named {
                return Some(Analyst(named.to_owned()));
            }
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let offered = bearer.or_else(|| cookie(headers, COOKIE));
        offered
            .filter(|offered| self.token_matches(offered.trim()))
            .map(|_| Analyst("token holder".to_owned()))
    }
}

/// Lets identified requests through with their analyst; 401 otherwise.
pub async fn require(
    State(console): State<Arc<super::Console>>,
    mut request: Request,
    next: Next,
) -> Response {
    match console.access.identify(request.headers()) {
        Some(analyst) => {
            request.extensions_mut().insert(analyst);
            next.run(request).await
        }
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            axum::Json(serde_json::json!({"error": "sign in with the console token"})),
        )
            .into_response(),
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn generate_token() -> String {
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| char::from(b"abcdefghijkmnpqrstuvwxyz23456789"[rng.gen_range(0..32)]))
        .collect()
}

/// Compares without stopping at the first difference, so the time taken
/// does not tell how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = a.len() ^ b.len();
    for (index, byte) in b.iter().enumerate() {
        difference |= usize::from(a.get(index).copied().unwrap_or(0) ^ byte);
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn access(trusted: Option<&str>) -> Access {
        Access::new(AccessConfig {
            token: Some("s3cret".into()),
            trusted_header: trusted.map(str::to_owned),
        })
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_bearer_token_or_the_cookie_signs_in() {
        let access = access(None);
        assert!(access
            .identify(&headers(&[("authorization", "Bearer s3cret")]))
            .is_some());
        assert!(access
            .identify(&headers(&[("cookie", "a=b; fd_console=s3cret")]))
            .is_some());
        assert!(access
            .identify(&headers(&[("authorization", "Bearer s3cre")]))
            .is_none());
        assert!(access
            .identify(&headers(&[("cookie", "fd_console=nope")]))
            .is_none());
        assert!(access.identify(&HeaderMap::new()).is_none());
    }

    #[test]
    fn the_trusted_header_counts_only_when_configured() {
        let email = [("x-forwarded-email", "ana@bank.example")];
        assert!(access(None).identify(&headers(&email)).is_none());
        assert_eq!(
            access(Some("X-Forwarded-Email")).identify(&headers(&email)),
            Some(Analyst("ana@bank.example".into()))
        );
    }

    #[test]
    fn a_token_is_generated_when_none_is_given() {
        let first = Access::new(AccessConfig::default());
        let second = Access::new(AccessConfig::default());
        assert_eq!(first.token().len(), 32);
        assert_ne!(first.token(), second.token());
    }
}
