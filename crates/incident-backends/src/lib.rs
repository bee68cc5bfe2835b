#![doc = include_str!("../README.md")]

mod eks;
mod kube;
mod realtime;
mod set;
mod spec;

pub use eks::EksContext;
pub use incident_aws::{AwsConfig, StaticCredentials};
pub use incident_datastores::{ConnectionString, RedisUrl};
pub use incident_k8s::KubeconfigSpec;
pub use set::BackendSet;
pub use spec::{BackendSpec, SimSource, SimSpec, StoreSpec};
