//! Live inventory: one cluster-wide paginated list per kind (never one per namespace), all
//! kinds concurrently, after a SelfSubjectAccessReview preflight so that refused kinds are
//! reported as `skipped` instead of silently passing.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use k8s_openapi::ListableResource;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, PostParams};
use serde::de::DeserializeOwned;

use crate::cli::CommonArgs;
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::finding::{ReportSource, Skipped};
use crate::inventory::{Inventory, ResourceKind};

/// The page size of every list request.
pub const PAGE_SIZE: u32 = 500;

/// Lists kinds for the collector; shared by the concurrent per-kind tasks.
pub struct Lister {
    client: kube::Client,
    progress: ProgressBar,
    wanted: Vec<ResourceKind>,
    /// Controller-owned Pods, made lean page by page so a full Pod list is never held.
    owned_pods: std::sync::Mutex<Vec<crate::inventory::OwnedPod>>,
    /// Pod template specs kept as text (see `inventory::spec_text`), by kind and position.
    spec_texts: std::sync::Mutex<Vec<SpecText>>,
    /// The kind whose pages are handed over as they are decoded, instead of kept (see
    /// [`PageStream`]).
    streamed: Option<(ResourceKind, std::sync::mpsc::Sender<StreamedPage>)>,
    /// Buffers of pages already decoded, for the bodies of the next ones (see [`PageBody`]).
    spare_bodies: std::sync::Mutex<Vec<Vec<u8>>>,
}

/// At most this many spare body buffers are kept: two per list being paged is plenty.
const SPARE_BODIES: usize = 8;

/// A page's body as received. Its buffer goes back to the lister's spares when the page has
/// been decoded, for a later page's body: pages are up to a few MiB each, and taking fresh
/// memory for every one (the client's collect-then-copy took two) was a large share of a
/// live scan's time where faulting in memory is slow, as on VMs whose host reclaims it.
struct PageBody<'l> {
    bytes: Vec<u8>,
    spares: &'l std::sync::Mutex<Vec<Vec<u8>>>,
}

impl Drop for PageBody<'_> {
    fn drop(&mut self) {
        if let Ok(mut spares) = self.spares.lock()
            && spares.len() < SPARE_BODIES
        {
            let mut bytes = std::mem::take(&mut self.bytes);
            bytes.clear();
            spares.push(bytes);
        }
    }
}

/// What a [`PageStream`] carries.
enum StreamedPage {
    /// A `Vec` of the streamed kind's inventory type.
    Objects(Box<dyn std::any::Any + Send>),
    /// The list started again from a fresh snapshot (410 Expired): forget the pages so far.
    Restarted,
    /// The list is complete, or failed (the rest's inventory says which).
    End,
}

type SpecText = ((ResourceKind, u32), Box<serde_json::value::RawValue>);

impl Lister {
    fn collection_path(kind: ResourceKind) -> String {
        match kind.group() {
            "" => format!("/api/{}/{}", kind.api_version(), kind.plural()),
            _ => format!("/apis/{}/{}", kind.api_version(), kind.plural()),
        }
    }

    /// Asks for one page at once, on its own task, so that the server prepares it while the
    /// caller decodes the previous one. The page's continue token is handed over as soon as
    /// the head of its body is in (see [`PendingPage::continue_token`]).
    fn request_page(
        &self,
        kind: ResourceKind,
        continue_token: Option<&str>,
    ) -> std::result::Result<PendingPage, kube::Error> {
        let mut params = ListParams::default().limit(PAGE_SIZE);
        if let Some(token) = continue_token {
            params = params.continue_token(token);
        }
        let http_request = kube::core::Request::new(Self::collection_path(kind))
            .list(&params)
            .map_err(kube::Error::BuildRequest)?;
        let client = self.client.clone();
        let mut body = self
            .spare_bodies
            .lock()
            .ok()
            .and_then(|mut spares| spares.pop())
            .unwrap_or_default();
        let (send_head, head) = tokio::sync::oneshot::channel();
        let body = Background::spawn(async move {
            use futures::AsyncBufReadExt;
            // As `request_text` (failed requests are their Status), into `body`.
            let mut reader = client.request_stream(http_request).await?;
            let mut send_head = Some(send_head);
            loop {
                let chunk = reader
                    .fill_buf()
                    .await
                    .map_err(|e| kube::Error::Service(Box::new(e)))?;
                if chunk.is_empty() {
                    return Ok(body);
                }
                body.extend_from_slice(chunk);
                let read = chunk.len();
                reader.consume_unpin(read);
                if let Some(sender) = send_head.take() {
                    match read_list_head(&body) {
                        ListHead::Incomplete => send_head = Some(sender),
                        // Nobody waiting means the list was abandoned.
                        ListHead::Continue(token) => drop(sender.send(token)),
                        // Dropped unsent: the caller reads the token from the whole page.
                        ListHead::Unknown => {}
                    }
                }
            }
        });
        Ok(PendingPage { head, body })
    }

    /// All pages of one cluster-wide list, the next page always requested before the current
    /// one is decoded: on a large list the client's decoding then overlaps the server's
    /// work instead of adding to it. An expired continue token (410) restarts the list once
    /// from a fresh snapshot rather than mixing two snapshots.
    pub(crate) async fn list_all<K: DeserializeOwned + ListableResource + Send + 'static>(
        &self,
        kind: ResourceKind,
    ) -> std::result::Result<Vec<K>, kube::Error> {
        let lean_pods =
            kind == ResourceKind::Pod && crate::inventory::pods_may_be_owned(&self.wanted);
        let stream = self.stream_of(kind);
        let mut restarts = 0;
        'restart: loop {
            let mut items: Vec<K> = Vec::new();
            let mut next = Some(self.request_page(kind, None)?);
            while let Some(mut pending) = next.take() {
                // Without waiting for the rest of this page, so that the server is never
                // idle between two pages of a list.
                let asked_early = match pending.continue_token().await {
                    Some(token) => Some(
                        token
                            .map(|token| self.request_page(kind, Some(&token)))
                            .transpose()?,
                    ),
                    None => None,
                };
                let bytes = match pending.body().await {
                    Err(kube::Error::Api(status)) if status.code == 410 && restarts < 2 => {
                        restarts += 1;
                        // Lean Pods from the abandoned snapshot would be counted twice.
                        if kind == ResourceKind::Pod
                            && let Ok(mut lean) = self.owned_pods.lock()
                        {
                            lean.clear();
                        }
                        if let Ok(mut texts) = self.spec_texts.lock() {
                            texts.retain(|((of, _), _)| *of != kind);
                        }
                        if let Some(stream) = stream {
                            // Nobody listening means the scan has ended anyway.
                            let _ = stream.send(StreamedPage::Restarted);
                        }
                        self.progress.suspend(|| {
                            crate::run::warn(&format!(
                                "the {} list changed while paging (410 Expired); listing it again",
                                kind.plural()
                            ))
                        });
                        continue 'restart;
                    }
                    other => other?,
                };
                let body = PageBody {
                    bytes,
                    spares: &self.spare_bodies,
                };
                let page: RawPage<'_> =
                    serde_json::from_slice(&body.bytes).map_err(kube::Error::SerdeError)?;
                next = match asked_early {
                    Some(next) => next,
                    None => page
                        .metadata
                        .continue_
                        .as_deref()
                        .filter(|t| !t.is_empty())
                        .map(|token| self.request_page(kind, Some(token)))
                        .transpose()?,
                };
                if let Some(stream) = stream {
                    let objects = page
                        .items
                        .iter()
                        .map(|item| serde_json::from_str::<K>(item.get()))
                        .collect::<std::result::Result<Vec<K>, _>>()
                        .map_err(kube::Error::SerdeError)?;
                    let _ = stream.send(StreamedPage::Objects(Box::new(objects)));
                    continue;
                }
                if lean_pods {
                    let full: Box<dyn std::any::Any> = Box::new(self.keep_lean_pods(&page.items)?);
                    items.extend(full.downcast::<Vec<K>>().map(|b| *b).unwrap_or_default());
                    continue;
                }
                if items.is_empty() {
                    // The server says how many are left: size the list once.
                    let remaining = page.metadata.remaining_item_count.unwrap_or(0).max(0) as usize;
                    items.reserve_exact(page.items.len() + remaining);
                }
                let mut texts = Vec::new();
                for item in page.items {
                    let object = match crate::inventory::split_pod_spec(kind, item.get()) {
                        Ok(Some((shell, spec))) => {
                            texts.push(((kind, items.len() as u32), spec.to_owned()));
                            serde_json::from_str(&shell)
                        }
                        _ => serde_json::from_str(item.get()),
                    };
                    items.push(object.map_err(kube::Error::SerdeError)?);
                }
                if !texts.is_empty()
                    && let Ok(mut kept) = self.spec_texts.lock()
                {
                    kept.append(&mut texts);
                }
            }
            return Ok(items);
        }
    }

    fn stream_of(&self, kind: ResourceKind) -> Option<&std::sync::mpsc::Sender<StreamedPage>> {
        self.streamed
            .as_ref()
            .filter(|(streamed, _)| *streamed == kind)
            .map(|(_, sender)| sender)
    }

    /// Reads a page of Pods: each controller-owned one straight into its lean form (stored at
    /// once), only the others decoded in full and returned. A Pod's containers, volumes and
    /// status are most of a list's decoding time, and most Pods are owned.
    fn keep_lean_pods(
        &self,
        items: &[&serde_json::value::RawValue],
    ) -> std::result::Result<Vec<Pod>, kube::Error> {
        let mut full: Vec<Pod> = Vec::new();
        let mut lean = Vec::with_capacity(items.len());
        for item in items {
            let view: crate::inventory::OwnedPodView =
                serde_json::from_str(item.get()).map_err(kube::Error::SerdeError)?;
            match view.into_owned(&self.wanted) {
                Some(owned) => lean.push(owned),
                None => {
                    full.push(serde_json::from_str(item.get()).map_err(kube::Error::SerdeError)?)
                }
            }
        }
        if let Ok(mut owned_pods) = self.owned_pods.lock() {
            owned_pods.extend(lean);
        }
        Ok(full)
    }
}

/// A list page as received: its metadata read, its items still raw text.
#[derive(serde::Deserialize)]
struct RawPage<'a> {
    #[serde(default)]
    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta,
    #[serde(borrow, default)]
    items: Vec<&'a serde_json::value::RawValue>,
}

/// A spawned task that is cancelled when dropped unawaited (an error elsewhere ended what it
/// was for). A panic in it is resumed in the awaiting task.
struct Background<T>(tokio::task::JoinHandle<T>);

impl<T> Background<T> {
    fn spawn(task: impl std::future::Future<Output = T> + Send + 'static) -> Self
    where
        T: Send + 'static,
    {
        Background(tokio::spawn(task))
    }

    /// `None` if it was cancelled.
    async fn output(mut self) -> Option<T> {
        match (&mut self.0).await {
            Ok(output) => Some(output),
            Err(stopped) if stopped.is_panic() => std::panic::resume_unwind(stopped.into_panic()),
            Err(_) => None,
        }
    }
}

impl<T> Drop for Background<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A page requested and not yet read.
struct PendingPage {
    /// The page's continue token (`None` on the last page), sent once the head of the body
    /// is in; closed unsent if the request failed or the head could not be read on its own.
    head: tokio::sync::oneshot::Receiver<Option<String>>,
    body: Background<std::result::Result<Vec<u8>, kube::Error>>,
}

impl PendingPage {
    /// `Some(token)` as soon as the head of the body names the next page (or that there is
    /// none); `None` if only the whole page can tell.
    async fn continue_token(&mut self) -> Option<Option<String>> {
        (&mut self.head).await.ok()
    }

    async fn body(self) -> std::result::Result<Vec<u8>, kube::Error> {
        let cancelled = || kube::Error::Service("the page request was cancelled".into());
        self.body.output().await.unwrap_or_else(|| Err(cancelled()))
    }
}

/// What the first bytes of a list page's body say about the next page.
#[derive(Debug, PartialEq)]
enum ListHead {
    /// More bytes are needed.
    Incomplete,
    /// The list's `metadata` has been read: its continue token, if any.
    Continue(Option<String>),
    /// The body does not start with the list's `metadata` (the API server writes it before
    /// the items, but nothing else is assumed of a server).
    Unknown,
}

/// Reads a list's `metadata` from the start of its body, the items not needed.
fn read_list_head(prefix: &[u8]) -> ListHead {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
    use serde::de::{Deserializer as _, Error as _, IgnoredAny, MapAccess, Visitor};
    /// Stores the metadata, then stops the parse (with an error, which is how a visitor
    /// leaves a map early).
    struct Head<'m>(&'m mut Option<ListMeta>);
    impl<'de> Visitor<'de> for Head<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "metadata" => {
                        *self.0 = Some(map.next_value()?);
                        return Err(A::Error::custom("read"));
                    }
                    "items" => return Err(A::Error::custom("items before metadata")),
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(())
        }
    }
    let mut metadata = None;
    let parsed = serde_json::Deserializer::from_slice(prefix).deserialize_map(Head(&mut metadata));
    match (metadata, parsed) {
        (Some(metadata), _) => {
            ListHead::Continue(metadata.continue_.filter(|token| !token.is_empty()))
        }
        (None, Err(e)) if e.is_eof() => ListHead::Incomplete,
        (None, _) => ListHead::Unknown,
    }
}

/// Whether we may list this kind cluster-wide. `None` when the review itself failed (then the
/// list call decides).
async fn may_list(client: &kube::Client, kind: ResourceKind) -> Option<bool> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some("list".into()),
                group: Some(kind.group().into()),
                resource: Some(kind.plural().into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: kube::Api<SelfSubjectAccessReview> = kube::Api::all(client.clone());
    let answer = api.create(&PostParams::default(), &review).await.ok()?;
    answer.status.map(|s| s.allowed)
}

/// Collects the kinds asked for. Forbidden or unserved kinds become `skipped`; unreachable or
/// unauthenticated clusters are errors.
pub async fn collect(
    cluster: &Cluster,
    kinds: &[ResourceKind],
    show_progress: bool,
) -> Result<Inventory> {
    let progress = progress_bar(kinds.len(), show_progress);
    let inventory = collect_with(cluster, kinds, &progress).await;
    progress.finish_and_clear();
    inventory
}

/// "listing pods [3/14 kinds]" on stderr, or nothing.
fn progress_bar(kinds: usize, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(kinds as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} listing {msg} [{pos}/{len} kinds] {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// [`collect`], counting on a progress bar the caller owns (and clears).
async fn collect_with(
    cluster: &Cluster,
    kinds: &[ResourceKind],
    progress: &ProgressBar,
) -> Result<Inventory> {
    let lister = Lister::new(cluster, kinds, progress, None);
    let results = list_kinds(&lister, kinds).await;
    crate::run::phase("listed");
    assemble(cluster, &lister, results)
}

/// The rest of a staged inventory (see [`acquire_staged`]). Every kind but the `streamed`
/// one goes to `objects` as one inventory as soon as they are all in, while the streamed
/// kind's pages go to its stream as they arrive, however long that takes. Ends when both are
/// done, with what could not be listed of the streamed kind (the inventory says the others).
async fn collect_rest(
    cluster: &Cluster,
    kinds: &[ResourceKind],
    progress: &ProgressBar,
    streamed: Option<(ResourceKind, std::sync::mpsc::Sender<StreamedPage>)>,
    objects: std::sync::mpsc::SyncSender<Result<Inventory>>,
) -> Result<Vec<Skipped>> {
    let streamed_kind = streamed.as_ref().map(|(kind, _)| *kind);
    let (kept_kinds, streamed_kinds): (Vec<ResourceKind>, Vec<ResourceKind>) =
        kinds.iter().partition(|kind| Some(**kind) != streamed_kind);
    let lister = Lister::new(cluster, kinds, progress, streamed);
    let kept = async {
        let results = list_kinds(&lister, &kept_kinds).await;
        crate::run::phase("listed");
        // Nobody waiting means the scan has ended anyway.
        let _ = objects.send(assemble(cluster, &lister, results));
    };
    let ((), streamed) = futures::join!(kept, list_kinds(&lister, &streamed_kinds));
    let skipped = assemble(cluster, &lister, streamed)?.skipped;
    Ok(skipped)
}

impl Lister {
    fn new(
        cluster: &Cluster,
        kinds: &[ResourceKind],
        progress: &ProgressBar,
        streamed: Option<(ResourceKind, std::sync::mpsc::Sender<StreamedPage>)>,
    ) -> Arc<Lister> {
        Arc::new(Lister {
            client: cluster.client.clone(),
            progress: progress.clone(),
            wanted: kinds.to_vec(),
            owned_pods: std::sync::Mutex::new(Vec::new()),
            spec_texts: std::sync::Mutex::new(Vec::new()),
            streamed,
            spare_bodies: std::sync::Mutex::new(Vec::new()),
        })
    }
}

/// Every kind's list, concurrently; a streamed kind's stream ends with its list.
async fn list_kinds(lister: &Arc<Lister>, kinds: &[ResourceKind]) -> Vec<(ResourceKind, Outcome)> {
    let tasks = kinds.iter().map(|&kind| {
        let lister = Arc::clone(lister);
        async move {
            let outcome = list_kind(&lister, kind).await;
            if let Some(stream) = lister.stream_of(kind) {
                let _ = stream.send(StreamedPage::End);
            }
            (kind, outcome)
        }
    });
    join_all(tasks).await
}

/// The inventory of what [`list_kinds`] listed: forbidden or unserved kinds become
/// `skipped`; a failed list is the cluster's error.
fn assemble(
    cluster: &Cluster,
    lister: &Lister,
    results: Vec<(ResourceKind, Outcome)>,
) -> Result<Inventory> {
    let mut inventory = Inventory::default();
    inventory.source = ReportSource {
        context: cluster.context.clone(),
        files: Vec::new(),
    };
    for (kind, outcome) in results {
        match outcome {
            Outcome::Listed(batch) => inventory.put_batch(kind, batch),
            Outcome::Skipped(reason) => inventory.skipped.push(Skipped {
                resource: kind.plural().to_string(),
                namespace: None,
                reason: reason.to_string(),
            }),
            Outcome::Failed(e) => return Err(cluster.error(&e)),
        }
    }
    if let Ok(mut texts) = lister.spec_texts.lock() {
        inventory.spec_texts = texts.drain(..).collect();
    }
    if let Ok(mut lean) = lister.owned_pods.lock() {
        inventory.owned_pods = std::mem::take(&mut *lean);
    }
    inventory.drop_folded_templates();
    Ok(inventory)
}

/// One kind's list, after the access preflight.
async fn list_kind(lister: &Lister, kind: ResourceKind) -> Outcome {
    if may_list(&lister.client, kind).await == Some(false) {
        lister.progress.inc(1);
        return Outcome::Skipped("forbidden");
    }
    lister.progress.set_message(kind.plural());
    let result = kind.fetch_all(lister).await;
    crate::run::phase(&format!("listed {}", kind.plural()));
    lister.progress.inc(1);
    match result {
        Ok(batch) => Outcome::Listed(batch),
        Err(kube::Error::Api(status)) if status.code == 403 => Outcome::Skipped("forbidden"),
        Err(kube::Error::Api(status)) if status.code == 404 => {
            Outcome::Skipped("not served by this cluster")
        }
        Err(e) => Outcome::Failed(e),
    }
}

/// What happened to one kind.
enum Outcome {
    Listed(Box<dyn std::any::Any + Send>),
    Skipped(&'static str),
    Failed(kube::Error),
}

/// Surfaces skipped kinds on stderr and enforces `--require-complete`.
pub fn report_skipped(skipped: &[Skipped], require_complete: bool) -> Result<()> {
    if skipped.is_empty() {
        return Ok(());
    }
    let what: Vec<String> = skipped
        .iter()
        .map(|s| format!("{} ({})", s.resource, s.reason))
        .collect();
    if require_complete {
        return Err(Error::Incomplete(format!(
            "could not list {}",
            what.join(", ")
        )));
    }
    crate::run::warn(&format!(
        "could not list {}; findings that depend on them were not evaluated",
        what.join(", ")
    ));
    Ok(())
}

/// Where the inventory came from and the namespace scope the command reports on.
pub struct Acquired {
    pub inventory: Inventory,
    pub scope: crate::cluster::NamespaceScope,
    /// Live mode only.
    pub cluster: Option<Cluster>,
}

/// The first step of every plugin: an inventory of `kinds`, from `-f` files when given
/// (no cluster contacted), else from the cluster the kubeconfig names.
pub async fn acquire(common: &CommonArgs, kinds: &[ResourceKind]) -> Result<Acquired> {
    use std::io::IsTerminal;
    let CommonArgs {
        input,
        cluster: cluster_args,
        scope,
        gate,
        ..
    } = common;
    if input.is_offline() {
        let inventory = Inventory::from_files(&input.filenames, input.recursive, kinds)?;
        let scope = crate::cluster::NamespaceScope::resolve(scope, None);
        return Ok(Acquired {
            inventory,
            scope,
            cluster: None,
        });
    }
    let cluster = crate::cluster::connect(cluster_args).await?;
    let inventory = collect(&cluster, kinds, std::io::stderr().is_terminal()).await?;
    report_skipped(&inventory.skipped, gate.require_complete)?;
    let scope = crate::cluster::NamespaceScope::resolve(scope, Some(&cluster.default_namespace));
    Ok(Acquired {
        inventory,
        scope,
        cluster: Some(cluster),
    })
}

/// An inventory acquired in two parts (see [`acquire_staged`]).
pub struct Staged {
    /// The first part, complete; offline, the whole inventory.
    pub first: Acquired,
    /// The second part, still being listed (live only).
    pub rest: Option<Arriving>,
}

/// The second part of a live inventory, being listed in the background.
pub struct Arriving {
    /// The listing (dropping it cancels it).
    _task: Background<()>,
    /// What could not be listed of the streamed kind, once every kind is in (see
    /// [`collect_rest`]).
    done: std::sync::mpsc::Receiver<Result<Vec<Skipped>>>,
    progress: ProgressBar,
    require_complete: bool,
    server: String,
    objects: Option<ArrivingObjects>,
    stream: Option<PageStream>,
}

/// The rest's objects, every kind but the streamed one, handed over as soon as they are all
/// in: whoever analyses them need not wait for the streamed kind's last page.
pub struct ArrivingObjects {
    objects: std::sync::mpsc::Receiver<Result<Inventory>>,
    server: String,
}

impl ArrivingObjects {
    /// Blocks until the objects are in (no async runtime needed). What could not be listed
    /// is in the inventory's `skipped`, and reported by [`Arriving::finish`].
    pub fn wait(self) -> Result<Inventory> {
        let server = self.server;
        self.objects
            .recv()
            .unwrap_or_else(|_| Err(cancelled_listing(server)))
    }
}

fn cancelled_listing(server: String) -> Error {
    Error::Cluster {
        server,
        message: "listing was cancelled".into(),
    }
}

/// The pages of one kind of the rest, handed over as they are listed (see [`acquire_staged`]),
/// so that analysis of each can start before the next arrives.
pub struct PageStream(std::sync::mpsc::Receiver<StreamedPage>);

/// What [`PageStream::next`] gives.
pub enum Page<K> {
    /// The next page's objects.
    Objects(Vec<K>),
    /// The list expired while paging (410) and starts again from a fresh snapshot: the
    /// pages given so far are from an abandoned snapshot and must be forgotten.
    Restarted,
}

impl PageStream {
    /// Blocks until the next page arrives; `None` when the list is complete, forbidden or
    /// failed ([`Arriving::finish`] then says which). `K` is the kind's inventory type.
    pub fn next<K: 'static>(&self) -> Option<Page<K>> {
        match self.0.recv().ok()? {
            StreamedPage::Objects(objects) => match objects.downcast::<Vec<K>>() {
                Ok(objects) => Some(Page::Objects(*objects)),
                Err(_) => panic!("PageStream::next asked for the wrong type"),
            },
            StreamedPage::Restarted => Some(Page::Restarted),
            StreamedPage::End => None,
        }
    }
}

impl Arriving {
    /// The pages of the streamed kind (once; see [`acquire_staged`]).
    pub fn take_stream(&mut self) -> Option<PageStream> {
        self.stream.take()
    }

    /// The rest's objects, but the streamed kind (once; see [`ArrivingObjects`]).
    pub fn take_objects(&mut self) -> Option<ArrivingObjects> {
        self.objects.take()
    }

    /// Blocks until every kind of the rest is listed, then reports what the first part,
    /// the `rest` objects and the streamed kind could not list (and enforces
    /// `--require-complete`) as [`acquire`] does for one. Returns what the streamed kind adds
    /// to `rest.skipped`.
    pub fn finish(self, first: &Inventory, rest: &Inventory) -> Result<Vec<Skipped>> {
        let streamed = match self.done.recv() {
            Ok(streamed) => streamed?,
            Err(_) => return Err(cancelled_listing(self.server)),
        };
        self.progress.finish_and_clear();
        let skipped: Vec<Skipped> = [&first.skipped, &rest.skipped, &streamed]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        report_skipped(&skipped, self.require_complete)?;
        Ok(streamed)
    }
}

/// [`acquire`] in two parts, for analysis that can start on some kinds before the others
/// have arrived. Live, `first` and `rest` are listed at once and this returns as soon as
/// every `first` kind is in, the rest still listing. The rest's objects come as one inventory
/// ([`Arriving::take_objects`]), except the `streamed` kind's, if any, which are handed over
/// page by page ([`Arriving::take_stream`]); neither waits for the other.
/// [`Arriving::finish`] reports what could not be listed. Offline (or with no `rest`), this
/// is [`acquire`]: `first` holds every kind, the streamed one too.
pub async fn acquire_staged(
    common: &CommonArgs,
    first: &[ResourceKind],
    rest: &[ResourceKind],
    streamed: Option<ResourceKind>,
) -> Result<Staged> {
    use std::io::IsTerminal;
    if common.input.is_offline() || rest.is_empty() {
        let kinds: Vec<ResourceKind> = first.iter().chain(rest).copied().collect();
        let first = acquire(common, &kinds).await?;
        return Ok(Staged { first, rest: None });
    }
    let cluster = crate::cluster::connect(&common.cluster).await?;
    let progress = progress_bar(first.len() + rest.len(), std::io::stderr().is_terminal());
    let streamed = streamed.filter(|kind| rest.contains(kind));
    let (sender, receiver) = std::sync::mpsc::channel();
    let (send_objects, objects) = std::sync::mpsc::sync_channel(1);
    let (send_done, done) = std::sync::mpsc::sync_channel(1);
    let task = {
        let (cluster, kinds, progress) = (cluster.clone(), rest.to_vec(), progress.clone());
        let streamed = streamed.map(|kind| (kind, sender));
        Background::spawn(async move {
            let skipped = collect_rest(&cluster, &kinds, &progress, streamed, send_objects).await;
            // Received by a blocking call: [`Arriving::finish`] needs no async runtime.
            let _ = send_done.send(skipped);
        })
    };
    let rest = Arriving {
        _task: task,
        done,
        progress: progress.clone(),
        require_complete: common.gate.require_complete,
        server: cluster.server.clone(),
        objects: Some(ArrivingObjects {
            objects,
            server: cluster.server.clone(),
        }),
        stream: streamed.map(|_| PageStream(receiver)),
    };
    let inventory = collect_with(&cluster, first, &progress).await?;
    let scope =
        crate::cluster::NamespaceScope::resolve(&common.scope, Some(&cluster.default_namespace));
    Ok(Staged {
        first: Acquired {
            inventory,
            scope,
            cluster: Some(cluster),
        },
        rest: Some(rest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"{"kind":"RoleBindingList","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"resourceVersion":"2765","continue":"eyJydiI6Mjc2NX0","remainingItemCount":60},"items":[{"metadata":{"name":"a","continue":"not this one"}}]}"#;

    #[test]
    fn the_next_page_is_known_from_the_head_of_the_body() {
        let head_end = PAGE.find(r#","items""#).expect("items") + 1;
        for cut in 0..PAGE.len() {
            let expected = if cut < head_end - 1 {
                ListHead::Incomplete
            } else {
                ListHead::Continue(Some("eyJydiI6Mjc2NX0".into()))
            };
            assert_eq!(
                read_list_head(&PAGE.as_bytes()[..cut]),
                expected,
                "{cut} bytes"
            );
        }
    }

    #[test]
    fn the_last_page_says_so_from_its_head() {
        for page in [
            r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":["#,
            r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"9","continue":""},"#,
        ] {
            assert_eq!(
                read_list_head(page.as_bytes()),
                ListHead::Continue(None),
                "{page}"
            );
        }
    }

    /// Nothing is assumed of the field order: without the metadata first, the whole page
    /// tells (as it did before the head was read early).
    #[test]
    fn items_before_metadata_or_no_list_leave_it_to_the_whole_page() {
        for body in [
            r#"{"kind":"PodList","items":[],"metadata":{"continue":"x"}}"#,
            r#"{"kind":"PodList","apiVersion":"v1"}"#,
            r#"[1,2]"#,
            "not json",
        ] {
            assert_eq!(read_list_head(body.as_bytes()), ListHead::Unknown, "{body}");
        }
    }
}
