//! End-to-end tests: the built `wasm-credential-provider` binary, executed the way the kubelet
//! executes a credential provider plugin, running real wasm guests for both WASI targets.

mod cache;
mod cloud_servers;
mod config_vectors;
mod docker_helper;
mod egress_edges;
mod escapes;
mod exec_path;
mod host_state;
mod http;
mod http_servers;
mod install;
mod limits;
mod modules;
#[cfg(feature = "oci")]
mod oci_conformance;
#[cfg(feature = "oci")]
mod oci_registry;
#[cfg(feature = "oci")]
mod oci_sigstore;
mod plugin_acr;
mod plugin_ecr;
mod plugin_gcp;
mod registry;
mod responses;
mod secrets;
mod support;
mod token_exchange;
mod tooling_commands;
mod tooling_simulate;

/// Every hostile or helper guest in `tests/guests` is exercised by some test here.
#[test]
fn every_test_guest_has_a_test() {
    test_artifacts::assert_every_guest_is_tested(&[
        include_str!("cache.rs"),
        include_str!("egress_edges.rs"),
        include_str!("escapes.rs"),
        include_str!("exec_path.rs"),
        include_str!("host_state.rs"),
        include_str!("http.rs"),
        include_str!("limits.rs"),
        include_str!("modules.rs"),
        include_str!("responses.rs"),
        include_str!("secrets.rs"),
    ]);
}
