//! End-to-end test support (skeleton).
