//! YAML-to-JSON conversion cases, each checked against go-yaml v2.4 + sigs.k8s.io/yaml v1.6.
