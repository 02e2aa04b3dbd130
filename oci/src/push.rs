//! Publishing a module as a Wasm OCI artifact: config blob, module layer, manifest.

use oci_client::RegistryOperation;

use crate::artifact::{MANIFEST_MEDIA_TYPE, sha256_digest, wasm_artifact};
use crate::error::OciError;
use crate::reference::Reference;
use crate::registry::{Registry, RegistryOptions};

/// What was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The manifest, by digest (what to sign and pin).
    pub reference: Reference,
    /// `sha256:<hex>` of the manifest.
    pub manifest_digest: String,
    /// `sha256:<hex>` of the module.
    pub module_digest: String,
}

/// Publishes `module` (named `title` in the layer's annotation) at `reference`.
pub fn push_module(
    module: &[u8],
    title: &str,
    reference: &Reference,
    options: &RegistryOptions,
) -> Result<Pushed, OciError> {
    if !module.starts_with(b"\0asm") {
        return Err(OciError::NotAModule(title.to_owned()));
    }
    let (config, manifest) = wasm_artifact(module, title);
    let manifest_digest = sha256_digest(&manifest);
    if let Some(pinned) = reference.digest()
        && pinned != manifest_digest
    {
        return Err(OciError::Usage(format!(
            "{reference}: the manifest for this module is {manifest_digest}; push to a tag"
        )));
    }
    crate::block_on(async {
        let registry = Registry::connect(reference, options, RegistryOperation::Push).await?;
        registry.push_blob(reference, &config).await?;
        registry.push_blob(reference, module).await?;
        registry
            .push_manifest(reference, &manifest, MANIFEST_MEDIA_TYPE)
            .await?;
        Ok(Pushed {
            reference: reference.with_digest(&manifest_digest),
            manifest_digest: manifest_digest.clone(),
            module_digest: sha256_digest(module),
        })
    })
}
