//! `pin` for manifest files: every mutable image of a workload in scope becomes
//! `name:tag@sha256:…`, edited in place by the format-preserving editor (comments, order,
//! indentation, quoting and line endings untouched), shown as a diff, confirmed, written
//! atomically.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::image::ImageRef;
use guardrails::edit::{self, PathSegment, PlannedWrite, YamlFile};
use guardrails::error::{Error, Result};
use guardrails::finding::ObjectRef;
use guardrails::render::Styles;
use guardrails::workload::{ContainerList, pod_spec_path};
use serde::Serialize;

/// One image rewritten in a file.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PinChange {
    pub document: usize,
    pub path: String,
    pub object: ObjectRef,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FilePlan {
    pub file: String,
    pub changes: Vec<PinChange>,
    #[serde(skip)]
    pub write: PlannedWrite,
}

/// Refuses files holding Helm/Go template expressions: their YAML is not the manifest that
/// gets applied, so no position in it can be edited safely.
pub fn refuse_templates(files: &[PathBuf]) -> Result<Vec<(PathBuf, String)>> {
    let mut texts = Vec::new();
    for file in files {
        if file.as_os_str() == "-" {
            return Err(Error::Usage(
                "pin rewrites files in place; stdin (-f -) cannot be pinned".into(),
            ));
        }
        let text = std::fs::read_to_string(file)
            .map_err(|e| Error::input(file.display().to_string(), e))?;
        if let Some(line) = text.lines().position(|l| l.contains("{{")) {
            return Err(Error::input(
                format!("{}:{}", file.display(), line + 1),
                "Helm/Go template expression ({{ … }}); pin edits plain manifests only — render them first (helm template) or pin the chart's values",
            ));
        }
        texts.push((file.clone(), text));
    }
    Ok(texts)
}

/// Plans the edits of one file. `pins` maps a normalised reference to its pinned spelling;
/// only workloads in `in_scope` are touched.
pub fn plan_file(
    file: &Path,
    text: &str,
    pins: &HashMap<String, String>,
    in_scope: &BTreeSet<ObjectRef>,
) -> Result<Option<FilePlan>> {
    let name = file.display().to_string();
    let mut yaml = YamlFile::parse(text).map_err(|e| Error::input(&name, e))?;
    let mut changes = Vec::new();
    for document in 0..yaml.document_count() {
        // A `kind: List` holds its objects under items.
        let mut roots: Vec<Vec<PathSegment>> = vec![Vec::new()];
        if yaml
            .get(document, &[PathSegment::from("kind")])
            .and_then(|n| n.as_str())
            == Some("List")
        {
            roots = (0..)
                .map(|i| vec![PathSegment::from("items"), PathSegment::Index(i)])
                .take_while(|p| yaml.get(document, p).is_some())
                .collect();
        }
        for root in roots {
            let text_at = |yaml: &YamlFile, rel: &[&str]| {
                let mut p = root.clone();
                p.extend(rel.iter().map(|s| PathSegment::from(*s)));
                yaml.get(document, &p)
                    .and_then(|n| n.as_str())
                    .map(str::to_string)
            };
            let Some(kind) = text_at(&yaml, &["kind"]) else {
                continue;
            };
            let Some(spec_path) = pod_spec_path(&kind) else {
                continue;
            };
            let object = ObjectRef {
                api_version: text_at(&yaml, &["apiVersion"]).unwrap_or_default(),
                kind: kind.clone(),
                namespace: text_at(&yaml, &["metadata", "namespace"]),
                name: text_at(&yaml, &["metadata", "name"]).unwrap_or_default(),
            };
            if !in_scope.contains(&object) {
                continue;
            }
            for list in [
                ContainerList::InitContainers,
                ContainerList::Containers,
                ContainerList::EphemeralContainers,
            ] {
                for index in 0.. {
                    let mut path = root.clone();
                    path.extend(spec_path.iter().map(|s| PathSegment::from(*s)));
                    path.push(PathSegment::from(list.field()));
                    path.push(PathSegment::Index(index));
                    if yaml.get(document, &path).is_none() {
                        break;
                    }
                    path.push(PathSegment::from("image"));
                    let Some(written) = yaml.get(document, &path).and_then(|n| n.as_str()) else {
                        continue;
                    };
                    let written = written.to_string();
                    let Ok(image) = ImageRef::parse(&written) else {
                        continue;
                    };
                    let Some(pinned) = pins.get(&image.normalized()) else {
                        continue;
                    };
                    if !image.is_mutable() || *pinned == written {
                        continue;
                    }
                    match yaml.set_scalar(document, &path, pinned) {
                        Ok(()) => changes.push(PinChange {
                            document,
                            path: edit::display_path(&path),
                            object: object.clone(),
                            from: written,
                            to: pinned.clone(),
                        }),
                        Err(e) => guardrails::run::warn(&format!("{name}: {e}")),
                    }
                }
            }
        }
    }
    if !yaml.has_edits() {
        return Ok(None);
    }
    let after = yaml.edited().map_err(|e| Error::input(&name, e))?;
    Ok(Some(FilePlan {
        file: name,
        changes,
        write: PlannedWrite {
            path: file.to_path_buf(),
            before: text.to_string(),
            after,
        },
    }))
}

/// Prints the plan: a unified diff per file, or the changes as JSON/YAML.
pub fn write_plan(
    out: &mut dyn Write,
    plans: &[FilePlan],
    format: guardrails::cli::OutputFormat,
    styles: Styles,
) -> Result<()> {
    use guardrails::cli::OutputFormat;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct PinPlan<'a> {
        api_version: &'static str,
        kind: &'static str,
        files: &'a [FilePlan],
    }
    let doc = PinPlan {
        api_version: "guardrails/v1",
        kind: "PinPlan",
        files: plans,
    };
    match format {
        OutputFormat::Json | OutputFormat::Sarif => guardrails::render::write_json(out, &doc),
        OutputFormat::Yaml => guardrails::render::write_yaml(out, &doc),
        _ => {
            if plans.is_empty() {
                writeln!(out, "Nothing to pin.")?;
            }
            for plan in plans {
                let label = plan.file.trim_start_matches("./");
                write!(
                    out,
                    "{}",
                    guardrails::preview::unified_diff(
                        &plan.write.before,
                        &plan.write.after,
                        &format!("a/{label}"),
                        &format!("b/{label}"),
                        styles
                    )
                )?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

    #[test]
    fn pins_only_mutable_images_of_workloads_in_scope() {
        let text = "\
# shop
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      initContainers:
      - name: init
        image: busybox   # init
      containers:
      - name: web
        image: \"nginx:1.27\"
      - name: pinned
        image: nginx:1.27@sha256:0000000000000000000000000000000000000000000000000000000000000002
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {image: nginx}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: elsewhere}
spec: {containers: [{name: c, image: nginx:1.27}]}
";
        let pins: HashMap<String, String> = [
            (
                "docker.io/library/busybox:latest",
                format!("busybox:latest@{D}"),
            ),
            ("docker.io/library/nginx:1.27", format!("nginx:1.27@{D}")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let scope: BTreeSet<ObjectRef> =
            [ObjectRef::new("apps/v1", "Deployment", Some("shop"), "web")].into();
        let plan = plan_file(Path::new("m.yaml"), text, &pins, &scope)
            .expect("plan")
            .expect("edits");
        let paths: Vec<&str> = plan.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.template.spec.initContainers[0].image",
                "spec.template.spec.containers[0].image"
            ]
        );
        let expected = text
            .replace(
                "image: busybox   #",
                &format!("image: busybox:latest@{D}   #"),
            )
            .replacen(
                "image: \"nginx:1.27\"",
                &format!("image: \"nginx:1.27@{D}\""),
                1,
            );
        assert_eq!(plan.write.after, expected);
    }

    #[test]
    fn json_lists_are_pinned_item_by_item() {
        let text = r#"{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "x"},
   "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}},
  {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "b", "namespace": "x"},
   "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec":
     {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}}}
]}
"#;
        let pins: HashMap<String, String> = [(
            "docker.io/library/nginx:1.27".to_string(),
            format!("nginx:1.27@{D}"),
        )]
        .into();
        let scope: BTreeSet<ObjectRef> = [
            ObjectRef::new("v1", "Pod", Some("x"), "a"),
            ObjectRef::new("batch/v1", "CronJob", Some("x"), "b"),
        ]
        .into();
        let plan = plan_file(Path::new("l.json"), text, &pins, &scope)
            .expect("plan")
            .expect("edits");
        assert_eq!(plan.changes.len(), 2);
        assert_eq!(
            plan.changes[1].path,
            "items[1].spec.jobTemplate.spec.template.spec.containers[0].image"
        );
        assert_eq!(
            plan.write.after,
            text.replace(
                "\"image\": \"nginx:1.27\"",
                &format!("\"image\": \"nginx:1.27@{D}\"")
            )
        );
        let parsed: serde_json::Value =
            serde_json::from_str(&plan.write.after).expect("still JSON");
        assert_eq!(
            parsed["items"][0]["spec"]["containers"][0]["image"],
            format!("nginx:1.27@{D}")
        );
    }

    #[test]
    fn templates_and_stdin_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let chart = dir.path().join("deploy.yaml");
        std::fs::write(
            &chart,
            "kind: Pod\nspec:\n  containers:\n  - image: {{ .Values.image }}\n",
        )
        .expect("write");
        let err = refuse_templates(std::slice::from_ref(&chart)).expect_err("template");
        assert_eq!(err.exit_code(), guardrails::exit_code::INPUT);
        assert!(
            err.to_string().contains("deploy.yaml:4: Helm/Go template"),
            "{err}"
        );
        let err = refuse_templates(&[PathBuf::from("-")]).expect_err("stdin");
        assert_eq!(err.exit_code(), guardrails::exit_code::USAGE);
    }
}
