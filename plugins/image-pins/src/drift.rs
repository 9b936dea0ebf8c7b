//! `drift` (live): for each container of each workload, the digest it pins, the digests its
//! pods actually run (`status.containerStatuses[].imageID`), and the digest its tag points to
//! in the registry now — findings when the tag moved, when replicas run different digests, and
//! when the pinned digest is gone from the registry.

use std::collections::{BTreeSet, HashMap};

use crate::catalogue;
use crate::image::ImageRef;
use crate::resolve::{ImageResolution, Target};
use crate::scan::ImageUse;
use guardrails::finding::{Finding, ObjectRef};
use guardrails::inventory::Inventory;
use guardrails::workload::ContainerList;
use serde_json::json;

/// What the registry must be asked for drift: every image's tag (without its digest) and every
/// pinned digest (does it still exist?).
pub fn registry_targets(targets: &[Target]) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    for t in targets {
        out.push(t.clone());
        if let Some(image) = &t.image
            && image.digest.is_some()
            && let Some(tag) = &image.tag
        {
            let mut tag_only = t.clone();
            let mut i = image.clone();
            i.digest = None;
            tag_only.reference = format!("{}:{tag}", image.written_name);
            tag_only.image = Some(i);
            out.push(tag_only);
        }
    }
    out
}

/// The digest in an `imageID` (`docker-pullable://nginx@sha256:…`, `docker.io/library/nginx@sha256:…`).
fn digest_of(image_id: &str) -> Option<&str> {
    let (_, digest) = image_id.rsplit_once('@')?;
    digest.starts_with("sha256:").then_some(digest)
}

/// Running digests per (workload, container name).
fn running(inventory: &Inventory) -> HashMap<(ObjectRef, String), BTreeSet<String>> {
    let mut out: HashMap<(ObjectRef, String), BTreeSet<String>> = HashMap::new();
    // Only the pods are read: no pod spec needs decoding.
    for w in inventory.pending_workloads() {
        // Every pod of the workload, bare Pods included (their status is their own).
        for (container, image_id) in w.pods.iter().flat_map(|pod| pod.image_ids.iter()) {
            if let Some(digest) = digest_of(image_id) {
                out.entry((w.object.clone(), container.to_string()))
                    .or_default()
                    .insert(digest.to_string());
            }
        }
    }
    out
}

/// The drift findings.
pub fn findings(
    inventory: &Inventory,
    uses: &[ImageUse],
    resolution: &ImageResolution,
) -> Vec<Finding> {
    let by_key: HashMap<&str, &crate::resolve::Resolution> = resolution
        .images
        .iter()
        .filter_map(|r| Some((r.normalized.as_deref()?, r)))
        .collect();
    let running = running(inventory);
    let mut findings = Vec::new();
    for u in uses {
        if u.list == ContainerList::EphemeralContainers {
            continue;
        }
        let Some(image) = u.image.as_deref().and_then(|i| ImageRef::parse(i).ok()) else {
            continue;
        };
        let pinned = image.digest.clone();
        let mut tag_ref = image.clone();
        tag_ref.digest = None;
        let tag_now = image
            .effective_tag()
            .and_then(|_| by_key.get(tag_ref.normalized().as_str()))
            .and_then(|r| r.digest.clone());
        let runs: Vec<String> = running
            .get(&(u.workload.clone(), u.container.clone()))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let evidence = json!({
            "container": u.container,
            "image": u.image,
            "pinned": pinned,
            "running": runs,
            "tagNow": tag_now,
        });
        let written = u.image.clone().unwrap_or_default();
        if runs.len() > 1 {
            findings.push(Finding::new(
                &catalogue::REPLICAS_DIFFER,
                u.workload.clone(),
                &u.container,
                format!(
                    "container {}: pods run {} different digests of {written}: {}",
                    u.container,
                    runs.len(),
                    runs.join(", ")
                ),
                evidence.clone(),
            ));
        }
        if let Some(p) = &pinned
            && by_key
                .get(image.normalized().as_str())
                .is_some_and(|r| r.not_found)
        {
            findings.push(Finding::new(
                &catalogue::DIGEST_GONE,
                u.workload.clone(),
                &u.container,
                format!(
                    "container {}: the pinned digest {p} of {} is no longer in the registry",
                    u.container,
                    image.repository()
                ),
                evidence.clone(),
            ));
        }
        if let Some(now) = &tag_now {
            let tag = image.effective_tag().unwrap_or_default();
            let moved_from = match &pinned {
                Some(p) if p != now => Some(format!("the workload pins {p}")),
                None if !runs.is_empty() && !runs.contains(now) => {
                    Some(format!("its pods run {}", runs.join(", ")))
                }
                _ => None,
            };
            if let Some(what) = moved_from {
                findings.push(Finding::new(
                    &catalogue::TAG_MOVED,
                    u.workload.clone(),
                    &u.container,
                    format!(
                        "container {}: tag {tag} of {} now points to {now}; {what}",
                        u.container,
                        image.repository()
                    ),
                    evidence,
                ));
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_read_from_every_image_id_spelling() {
        let d = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
        assert_eq!(digest_of(&format!("docker-pullable://nginx@{d}")), Some(d));
        assert_eq!(digest_of(&format!("docker.io/library/nginx@{d}")), Some(d));
        assert_eq!(
            digest_of("sha256:abc"),
            None,
            "a config digest is no manifest digest"
        );
    }
}
