//! Kubernetes knowledge that every layer may use and that depends on no other kiln module.

pub mod applyset;
pub mod names;
