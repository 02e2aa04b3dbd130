//! The Wasm OCI artifact layout (CNCF TAG Runtime's "Wasm OCI Artifact" spec, as `wkg` and
//! `oras` publish components): an image manifest whose config has media type
//! `application/vnd.wasm.config.v0+json` and whose one layer is the module, `application/wasm`.

use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The manifest media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The config media type of a Wasm artifact.
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The layer media type of a Wasm artifact.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A descriptor (media type, digest, size) of a blob or manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// The artifact type (in referrers indexes).
    #[serde(default)]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// An image manifest, as far as pulling reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's media type, if stated.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The artifact type, if stated.
    #[serde(default)]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// An image index (the referrers list).
#[derive(Debug, Clone, Deserialize)]
pub struct Index {
    /// The listed manifests.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// Why a manifest is not a Wasm artifact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// Not a JSON image manifest.
    #[error("the manifest is not an OCI image manifest ({0})")]
    NotManifest(String),
    /// A manifest, but not of a Wasm module.
    #[error("the manifest is not a Wasm artifact: {0}")]
    NotWasm(String),
}

impl Manifest {
    /// Parses manifest JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, ArtifactError> {
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| ArtifactError::NotManifest(e.to_string()))?;
        if manifest.schema_version != 2 {
            return Err(ArtifactError::NotManifest(format!(
                "schemaVersion {}",
                manifest.schema_version
            )));
        }
        if let Some(media_type) = &manifest.media_type
            && media_type != MANIFEST_MEDIA_TYPE
        {
            return Err(ArtifactError::NotManifest(format!(
                "media type {media_type}"
            )));
        }
        Ok(manifest)
    }

    /// The module's layer, if this is a Wasm artifact: the Wasm config media type and exactly
    /// one `application/wasm` layer.
    pub fn wasm_layer(&self) -> Result<&Descriptor, ArtifactError> {
        if self.config.media_type != WASM_CONFIG_MEDIA_TYPE {
            return Err(ArtifactError::NotWasm(format!(
                "its config is {:?}, not {WASM_CONFIG_MEDIA_TYPE}",
                self.config.media_type
            )));
        }
        match self.layers.as_slice() {
            [layer] if layer.media_type == WASM_LAYER_MEDIA_TYPE => Ok(layer),
            layers => Err(ArtifactError::NotWasm(format!(
                "it has {} layer(s) [{}], a Wasm artifact has one {WASM_LAYER_MEDIA_TYPE} layer",
                layers.len(),
                layers
                    .iter()
                    .map(|l| l.media_type.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// The config and manifest bytes `push` writes for `module`: the config records the module's
/// WASI target, layer digest and (for a component) its kind, as the spec's config does.
pub fn wasm_artifact(module: &[u8], title: &str) -> (Vec<u8>, Vec<u8>) {
    let layer_digest = sha256_digest(module);
    // A component's version field (bytes 4..8) is 0x0d 0x00 0x01 0x00; a core module's 1.
    let is_component = module.get(4..8) == Some(&[0x0d, 0x00, 0x01, 0x00][..]);
    let config = json!({
        "architecture": "wasm",
        "os": if is_component { "wasip2" } else { "wasip1" },
        "layerDigests": [layer_digest],
        "component": if is_component { json!({}) } else { serde_json::Value::Null },
    });
    let config = serde_json::to_vec(&config).unwrap_or_default();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": WASM_CONFIG_MEDIA_TYPE,
        "config": {
            "mediaType": WASM_CONFIG_MEDIA_TYPE,
            "digest": sha256_digest(&config),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": WASM_LAYER_MEDIA_TYPE,
            "digest": layer_digest,
            "size": module.len(),
            "annotations": {"org.opencontainers.image.title": title},
        }],
    });
    (config, serde_json::to_vec(&manifest).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_layout_is_a_wasm_artifact() {
        let module = b"\0asm\x0d\x00\x01\x00rest";
        let (config, manifest) = wasm_artifact(module, "m.wasm");
        let parsed = Manifest::from_json(&manifest).unwrap();
        let layer = parsed.wasm_layer().unwrap();
        assert_eq!(layer.digest, sha256_digest(module));
        assert_eq!(layer.size, module.len() as u64);
        assert_eq!(parsed.config.digest, sha256_digest(&config));
        let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(config["os"], "wasip2");
    }

    #[test]
    fn an_image_is_not_a_wasm_artifact() {
        let manifest = json!({"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:00", "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:11", "size": 3}]});
        let parsed = Manifest::from_json(manifest.to_string().as_bytes()).unwrap();
        assert!(matches!(
            parsed.wasm_layer(),
            Err(ArtifactError::NotWasm(_))
        ));
    }
}
