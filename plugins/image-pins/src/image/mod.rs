//! Container images: references (parse, normalise, pin), registry credentials with kubelet
//! semantics, and a registry client resolving tags to digests.

pub mod credentials;
pub mod reference;
pub mod registry;

pub use credentials::{Credential, Keyring};
pub use reference::{ImageRef, ReferenceError};
pub use registry::{ResolveError, Resolved, Resolver, ResolverOptions};
