//! `kubectl rbac-audit` (work in progress: the skeleton only parses the common flags).
