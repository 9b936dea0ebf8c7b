//! The containers the Pod Security Standards look at: init containers, containers and ephemeral
//! containers, in that order (upstream `visitContainers`). Ephemeral containers are a distinct
//! type in the API, so checks see a common borrowed view.

use k8s_openapi::api::core::v1::{ContainerPort, Lifecycle, PodSpec, Probe, SecurityContext};

/// The fields of a container (of any of the three kinds) that checks read.
#[derive(Debug, Clone, Copy)]
pub struct ContainerView<'a> {
    pub name: &'a str,
    pub security_context: Option<&'a SecurityContext>,
    pub ports: &'a [ContainerPort],
    pub liveness_probe: Option<&'a Probe>,
    pub readiness_probe: Option<&'a Probe>,
    pub startup_probe: Option<&'a Probe>,
    pub lifecycle: Option<&'a Lifecycle>,
}

/// Every container of the pod, in upstream's visiting order.
pub fn visit(spec: &PodSpec) -> impl Iterator<Item = ContainerView<'_>> {
    let regular = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .map(|c| ContainerView {
            name: &c.name,
            security_context: c.security_context.as_ref(),
            ports: c.ports.as_deref().unwrap_or_default(),
            liveness_probe: c.liveness_probe.as_ref(),
            readiness_probe: c.readiness_probe.as_ref(),
            startup_probe: c.startup_probe.as_ref(),
            lifecycle: c.lifecycle.as_ref(),
        });
    let ephemeral = spec
        .ephemeral_containers
        .iter()
        .flatten()
        .map(|c| ContainerView {
            name: &c.name,
            security_context: c.security_context.as_ref(),
            ports: c.ports.as_deref().unwrap_or_default(),
            liveness_probe: c.liveness_probe.as_ref(),
            readiness_probe: c.readiness_probe.as_ref(),
            startup_probe: c.startup_probe.as_ref(),
            lifecycle: c.lifecycle.as_ref(),
        });
    regular.chain(ephemeral)
}
