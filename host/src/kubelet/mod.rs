//! The kubelet side of the protocol: config files (placeholder).
