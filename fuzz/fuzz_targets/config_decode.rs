//! The kubelet's `CredentialProviderConfig` (YAML or JSON), decoded strictly and validated with
//! every kubelet rule, as `check-config`, `simulate` and `install` read it.
//! Property: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_credential_provider::kubelet::config::{FeatureGates, decode_config, validate};

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = decode_config(data) {
        let _ = validate(&config, FeatureGates::default());
        let _ = validate(
            &config,
            FeatureGates {
                service_account_token_for_credential_providers: false,
            },
        );
    }
});
