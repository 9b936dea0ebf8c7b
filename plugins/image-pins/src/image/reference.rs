//! Container image references, parsed and normalised exactly as `distribution/reference`
//! (`reference.go`, `normalize.go`) does — the code containerd and the kubelet use — so that
//! `nginx`, `docker.io/library/nginx:latest` and `index.docker.io/library/nginx` are one image.

use std::fmt;

/// Docker Hub's canonical domain in normalised references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
/// The tag a reference without tag or digest means.
pub const DEFAULT_TAG: &str = "latest";
/// `RepositoryNameTotalLengthMax`.
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    /// The registry host as normalised (`docker.io`, `ghcr.io`, `localhost:5000`).
    pub domain: String,
    /// The repository path inside the registry (`library/nginx`).
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    /// The name exactly as written (without tag and digest): pins keep the user's spelling.
    pub written_name: String,
}

/// Why a reference is not valid; the message reads like the container runtime's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {reference:?}: {reason}")]
pub struct ReferenceError {
    pub reference: String,
    pub reason: &'static str,
}

impl ImageRef {
    /// Parses a reference as written in a pod spec (`ParseNormalizedNamed`).
    pub fn parse(reference: &str) -> Result<ImageRef, ReferenceError> {
        let fail = |reason| ReferenceError {
            reference: reference.to_string(),
            reason,
        };
        if reference.is_empty() {
            return Err(fail("empty reference"));
        }
        if reference.len() == 64 && reference.bytes().all(is_lower_hex) {
            return Err(fail(
                "a 64-character hexadecimal string is an image ID, not a name",
            ));
        }
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest).map_err(fail)?;
                (rest, Some(digest.to_string()))
            }
            None => (reference, None),
        };
        // A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let (name, tag) = rest.split_at(last_slash + i);
                let tag = &tag[1..];
                if !valid_tag(tag) {
                    return Err(fail("invalid tag"));
                }
                (name, Some(tag.to_string()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(fail("empty repository name"));
        }
        if name.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(fail("repository name longer than 255 characters"));
        }
        let (domain, path) = split_domain(name);
        if let Some(domain) = domain
            && !valid_domain(domain)
        {
            return Err(fail("invalid registry host"));
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(fail("repository name must be lowercase"));
        }
        if path.is_empty() || !path.split('/').all(valid_path_component) {
            return Err(fail("invalid repository name"));
        }
        let domain = match domain {
            None | Some("index.docker.io") => DOCKER_HUB,
            Some(d) => d,
        };
        let path = if domain == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        Ok(ImageRef {
            domain: domain.to_string(),
            path,
            tag,
            digest,
            written_name: name.to_string(),
        })
    }

    /// `domain/path` (`docker.io/library/nginx`).
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The tag pulled when none is written: `latest` for a reference without tag or digest.
    pub fn effective_tag(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(tag), _) => Some(tag),
            (None, None) => Some(DEFAULT_TAG),
            (None, Some(_)) => None,
        }
    }

    /// Tag or digest — the `<reference>` of `/v2/<name>/manifests/<reference>`. The digest
    /// wins: the runtime pulls by digest when both are given.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or(DEFAULT_TAG)
    }

    /// Whether the reference can change under a running workload (no digest).
    pub fn is_mutable(&self) -> bool {
        self.digest.is_none()
    }

    /// The host serving the registry API (Docker Hub's API is not on `docker.io`).
    pub fn api_host(&self) -> &str {
        if self.domain == DOCKER_HUB {
            DOCKER_HUB_API_HOST
        } else {
            &self.domain
        }
    }

    /// The fully qualified form: `docker.io/library/nginx:latest`, `ghcr.io/a/b:1@sha256:…`.
    pub fn normalized(&self) -> String {
        let mut s = self.repository();
        if let Some(tag) = self.effective_tag() {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest);
        }
        s
    }

    /// The pinned spelling: the name as written, the tag kept (the default tag made explicit)
    /// for readability, and the digest, which is what the runtime pulls.
    pub fn pinned(&self, digest: &str) -> String {
        match self.effective_tag() {
            Some(tag) => format!("{}:{tag}@{digest}", self.written_name),
            None => format!("{}@{digest}", self.written_name),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized())
    }
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// The first component is a registry host only if it has a `.` or `:` or is `localhost`.
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

/// `host [':' port]`, host = DNS labels, an IPv4 address, or `[IPv6]`.
fn valid_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.is_empty()
            || !v6
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => ("ipv6", Some(port)),
                None => return false,
            },
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    host == "ipv6"
        || (!host.is_empty()
            && host.split('.').all(|label| {
                let b = label.as_bytes();
                !b.is_empty()
                    && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                    && b[0] != b'-'
                    && b[b.len() - 1] != b'-'
            }))
}

/// `alpha-numeric (separator alpha-numeric)*` with separator `[_.]|__|[-]*`.
fn valid_path_component(component: &str) -> bool {
    let b = component.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`.
fn valid_tag(tag: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// `algorithm ':' hex`, with OCI's exact lengths for sha256 (64) and sha512 (128).
fn check_digest(digest: &str) -> Result<(), &'static str> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err("invalid digest (expected algorithm:hex)");
    };
    let component_ok = |c: &str| {
        let b = c.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    };
    if !algorithm.split(['+', '.', '-', '_']).all(component_ok) {
        return Err("invalid digest algorithm");
    }
    if hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("invalid digest (hex part too short or not hexadecimal)");
    }
    let expected = match algorithm {
        "sha256" => Some(64),
        "sha512" => Some(128),
        _ => None,
    };
    if let Some(len) = expected
        && (hex.len() != len || !hex.bytes().all(is_lower_hex))
    {
        return Err("invalid digest (wrong length or upper-case hex for its algorithm)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:f3f8d7c5d1177f0f0215386b14d122c5c464986173faa8032a9cd7bcf7110aac";

    fn norm(s: &str) -> String {
        ImageRef::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .normalized()
    }

    #[test]
    fn docker_hub_names_get_domain_library_and_default_tag() {
        assert_eq!(norm("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(norm("nginx:1.27"), "docker.io/library/nginx:1.27");
        assert_eq!(norm("bitnami/redis"), "docker.io/bitnami/redis:latest");
        assert_eq!(norm("docker.io/nginx"), "docker.io/library/nginx:latest");
        assert_eq!(
            norm("index.docker.io/library/nginx:1"),
            "docker.io/library/nginx:1"
        );
        assert_eq!(
            norm("docker.io/library/nginx:latest"),
            norm("nginx"),
            "one image, two spellings"
        );
    }

    #[test]
    fn domains_need_a_dot_a_colon_or_localhost() {
        assert_eq!(norm("ghcr.io/a/b:v1"), "ghcr.io/a/b:v1");
        assert_eq!(norm("localhost/app"), "localhost/app:latest");
        assert_eq!(norm("localhost:5000/app:1"), "localhost:5000/app:1");
        assert_eq!(norm("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b:latest");
        assert_eq!(norm("[::1]:5000/app"), "[::1]:5000/app:latest");
        // "foo" has no dot: a Docker Hub organisation, not a host.
        assert_eq!(norm("foo/bar"), "docker.io/foo/bar:latest");
        assert_eq!(
            norm("Registry.Example.com/a"),
            "Registry.Example.com/a:latest"
        );
    }

    #[test]
    fn ports_are_not_tags() {
        let r = ImageRef::parse("localhost:5000/app").expect("parse");
        assert_eq!(r.tag, None);
        assert_eq!(r.domain, "localhost:5000");
        let r = ImageRef::parse("localhost:5000/app:2").expect("parse");
        assert_eq!(r.tag.as_deref(), Some("2"));
    }

    #[test]
    fn digests_tags_and_both() {
        let r = ImageRef::parse(&format!("nginx@{D}")).expect("parse");
        assert_eq!((r.tag.as_deref(), r.effective_tag()), (None, None));
        assert!(!r.is_mutable());
        assert_eq!(r.normalized(), format!("docker.io/library/nginx@{D}"));
        let r = ImageRef::parse(&format!("nginx:1.27@{D}")).expect("parse");
        assert_eq!(r.tag.as_deref(), Some("1.27"));
        assert_eq!(r.manifest_reference(), D, "the digest is what is pulled");
        assert_eq!(r.normalized(), format!("docker.io/library/nginx:1.27@{D}"));
    }

    #[test]
    fn pinned_keeps_the_written_name_and_tag() {
        let r = ImageRef::parse("nginx:1.27").expect("parse");
        assert_eq!(r.pinned(D), format!("nginx:1.27@{D}"));
        let r = ImageRef::parse("redis").expect("parse");
        assert_eq!(r.pinned(D), format!("redis:latest@{D}"));
        let r = ImageRef::parse("localhost:5000/a/b:v2").expect("parse");
        assert_eq!(r.pinned(D), format!("localhost:5000/a/b:v2@{D}"));
    }

    #[test]
    fn invalid_references_are_rejected_with_a_reason() {
        for (bad, why) in [
            ("", "empty"),
            ("Nginx", "lowercase"),
            ("nginx:", "tag"),
            ("nginx:-x", "tag"),
            ("nginx@sha256:abc", "digest"),
            (&format!("nginx@sha256:{}", "A".repeat(64)), "digest"),
            ("nginx@md5", "digest"),
            ("a//b", "repository"),
            ("a/b_", "repository"),
            ("a/-b", "repository"),
            ("a/b..c", "repository"),
            (":tag", "empty"),
            ("ghcr.io:x/a", "host"),
            ("-bad.io/a", "host"),
            (&"a".repeat(64).replace('a', "f"), "image ID"),
            (&format!("a/{}", "b".repeat(260)), "255"),
        ] {
            let err = ImageRef::parse(bad).expect_err(bad);
            assert!(err.to_string().contains(why), "{bad}: {err}");
        }
        // Separators the grammar allows.
        for good in [
            "a__b",
            "a-----b",
            "x/a.b_c/d",
            &format!("x@sha512:{}", "0".repeat(128)),
        ] {
            ImageRef::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    #[test]
    fn api_host_of_docker_hub() {
        assert_eq!(
            ImageRef::parse("nginx").expect("parse").api_host(),
            DOCKER_HUB_API_HOST
        );
        assert_eq!(
            ImageRef::parse("quay.io/x/y").expect("parse").api_host(),
            "quay.io"
        );
    }
}
