//! Kubernetes knowledge that every layer may use and that depends on no other kiln module.

pub mod apis;
pub mod applyset;
pub mod names;
pub mod pointer;
pub mod strict;
pub mod version;

pub use version::KubeVersion;
