//! The rule catalogue: what makes an image reference risky, and what to do about it.

use guardrails::finding::RuleInfo;
use guardrails::rule;

rule!(
    LATEST_TAG,
    "image-latest-tag",
    High,
    "mutability",
    "Image uses the :latest tag",
    "latest moves with every push: two pods of one workload can run different code, and a rollback redeploys whatever latest is now.",
    "Use a version tag and pin its digest: `kubectl image-pins pin` rewrites manifests to name:tag@sha256:…"
);
rule!(
    NO_TAG,
    "image-no-tag",
    High,
    "mutability",
    "Image has neither tag nor digest",
    "A reference without a tag means :latest, with the same drift, and hides it from reviewers.",
    "Name a version tag and pin its digest (`kubectl image-pins pin`)."
);
rule!(
    NOT_PINNED,
    "image-not-pinned",
    Medium,
    "mutability",
    "Image tag is not pinned by digest",
    "Tags can be re-pushed: what runs is whatever the tag pointed at when each node pulled it.",
    "Append the digest: name:tag@sha256:… (`kubectl image-pins resolve` shows it, `pin` writes it)."
);
rule!(
    REGISTRY_NOT_ALLOWED,
    "image-registry-not-allowed",
    High,
    "provenance",
    "Image comes from a registry that is not allowed",
    "Images from unvetted registries bypass the scanning and signing of the allowed ones.",
    "Mirror the image into an allowed registry, or add the registry to the allow-list after review."
);
rule!(
    PULL_POLICY_MISMATCH,
    "image-pull-policy-mismatch",
    Medium,
    "mutability",
    "Mutable :latest image with imagePullPolicy IfNotPresent or Never",
    "Nodes that already hold the tag never fetch the new image: replicas on different nodes run different code.",
    "Pin the image by digest; or, for a deliberately moving tag, use imagePullPolicy: Always."
);
rule!(
    INVALID_REFERENCE,
    "image-invalid-reference",
    High,
    "validity",
    "Image reference is missing or not valid",
    "The kubelet cannot pull it: pods fail with InvalidImageName.",
    "Fix the reference: [registry[:port]/]path[:tag][@sha256:<64 hex>], path in lower case."
);

rule!(
    TAG_MOVED,
    "image-tag-moved",
    Medium,
    "drift",
    "The tag now points to a different digest than the workload runs or pins",
    "The next pod pulled (a reschedule, a scale-up, a new node) runs different code from its siblings.",
    "Pin the digest that was tested (`kubectl image-pins pin`), or roll out the new one deliberately."
);
rule!(
    REPLICAS_DIFFER,
    "image-replicas-differ",
    High,
    "drift",
    "Pods of one workload run different digests of the same container",
    "The replicas run different code: behaviour depends on which pod answers.",
    "Pin the image by digest and roll the workload out so every pod runs it."
);
rule!(
    DIGEST_GONE,
    "image-digest-gone",
    High,
    "drift",
    "The pinned digest is no longer in the registry",
    "Pods that need to pull it (a reschedule, a new node) fail with ErrImagePull.",
    "Pin a digest the registry still serves, or restore the image."
);

rule!(
    VULNERABLE,
    "image-vulnerable",
    High,
    "vulnerabilities",
    "A scan report lists known vulnerabilities in the image (severity: the worst one)",
    "The workload runs code with published vulnerabilities.",
    "Move to a fixed version (the scan report names them), then pin its digest."
);

pub const RULES: &[RuleInfo] = &[
    LATEST_TAG,
    NO_TAG,
    NOT_PINNED,
    REGISTRY_NOT_ALLOWED,
    PULL_POLICY_MISMATCH,
    INVALID_REFERENCE,
    TAG_MOVED,
    REPLICAS_DIFFER,
    DIGEST_GONE,
    VULNERABLE,
];
