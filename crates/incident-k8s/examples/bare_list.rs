//! The floor for `scripts/bench-triage`: a bare paginated LIST of the objects triage reads (pods, nodes,
//! events in all namespaces), each page decoded as raw JSON and dropped. No conversion, no analysis.
//!
//! `cargo run --release -p incident-k8s --example bare_list -- KUBECONFIG`

use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: bare_list KUBECONFIG")?;
    let kc = kube::config::Kubeconfig::read_from(path)?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await?;
    let client = kube::Client::try_from(cfg)?;
    let mut total = 0usize;
    for (kind, plural) in [("Pod", "pods"), ("Node", "nodes"), ("Event", "events")] {
        let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", kind), plural);
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        let mut lp = ListParams::default().limit(500);
        loop {
            let page = api.list(&lp).await?;
            total += page.items.len();
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(c) => lp = lp.continue_token(&c),
                None => break,
            }
        }
    }
    println!("{total} objects");
    Ok(())
}
