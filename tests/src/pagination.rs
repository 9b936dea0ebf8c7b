//! Continue tokens exactly as kube-apiserver (etcd3 storage) makes them: unpadded base64url of
//! `{"v":"meta.k8s.io/v1","rv":<list resourceVersion>,"start":"<next key relative to the list prefix>"}`,
//! where the next key is the last examined key plus `\u0000` (recordings `071`–`077`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The decoded form of a continue token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinueToken {
    pub v: String,
    /// The snapshot's resourceVersion; `-1` for the "inconsistent continuation" token handed out
    /// with a 410 Expired (`073`).
    pub rv: i64,
    /// Where the next page starts (inclusive), relative to the list's key prefix.
    pub start: String,
}

/// The only token version the server accepts.
pub const TOKEN_VERSION: &str = "meta.k8s.io/v1";

impl ContinueToken {
    /// The token for a page that ended at `last_key` (the page after starts right after it).
    pub fn after(rv: i64, last_key: &str) -> ContinueToken {
        ContinueToken {
            v: TOKEN_VERSION.to_string(),
            rv,
            start: format!("{last_key}\u{0}"),
        }
    }

    /// The opaque string put in `metadata.continue`.
    pub fn encode(&self) -> String {
        // Serialising a struct of strings and an integer cannot fail.
        let json = serde_json::to_string(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes and validates a token; the error text follows the server's wording
    /// (`continue key is not valid: ...`).
    pub fn decode(token: &str) -> Result<ContinueToken, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|e| format!("continue key is not valid: {e}"))?;
        let parsed: ContinueToken = serde_json::from_slice(&bytes)
            .map_err(|e| format!("continue key is not valid: {e}"))?;
        if parsed.v != TOKEN_VERSION {
            return Err(
                "continue key is not valid: server does not recognize this encoded version".into(),
            );
        }
        if parsed.rv == 0 {
            return Err(format!(
                "continue key is not valid: incorrect encoded start resourceVersion (version {TOKEN_VERSION})"
            ));
        }
        if parsed.start.is_empty()
            || parsed.start.starts_with('/')
            || parsed.start.split('/').any(|s| s == "..")
        {
            return Err(format!(
                "continue key is not valid: {:?} is not a valid start key",
                parsed.start
            ));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recordings;

    #[test]
    fn encodes_exactly_the_recorded_tokens() {
        // 071: page 1 of clusterroles ended at monitoring-aggregate, snapshot 2765.
        assert_eq!(
            ContinueToken::after(2765, "monitoring-aggregate").encode(),
            recordings::body("071")["metadata"]["continue"]
        );
        // 075: a namespaced list's keys are relative to the namespace.
        assert_eq!(
            ContinueToken::after(4273, "default").encode(),
            recordings::body("075")["metadata"]["continue"]
        );
        // 073: the inconsistent-continuation token has rv -1.
        assert_eq!(
            ContinueToken::after(-1, "monitoring-aggregate").encode(),
            recordings::body("073")["metadata"]["continue"]
        );
    }

    #[test]
    fn decodes_recorded_tokens_and_rejects_bad_ones() {
        let token = recordings::body("072")["metadata"]["continue"]
            .as_str()
            .expect("token");
        assert_eq!(
            ContinueToken::decode(token),
            Ok(ContinueToken::after(2765, "system:auth-delegator"))
        );
        assert!(ContinueToken::decode("not base64!").is_err());
        assert!(
            ContinueToken::decode(&URL_SAFE_NO_PAD.encode(r#"{"v":"x","rv":1,"start":"a"}"#))
                .is_err()
        );
        assert!(
            ContinueToken::decode(
                &URL_SAFE_NO_PAD.encode(r#"{"v":"meta.k8s.io/v1","rv":1,"start":"/etc"}"#)
            )
            .is_err()
        );
        // Padding is not accepted (the server uses unpadded base64url).
        assert!(ContinueToken::decode(&format!("{token}==")).is_err());
    }
}
