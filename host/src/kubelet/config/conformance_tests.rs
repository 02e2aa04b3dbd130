//! Table test over the "config" list of the shared conformance vectors: each case is written to
//! a temporary file or directory and loaded with [`super::load`], then checked for validity, the
//! kubelet's error text and the config hash. A case field or stage this test does not know
//! fails it, so new vectors cannot be skipped silently.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::{FeatureGates, load};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/spec/conformance-vectors.json"
);

const KNOWN_FIELDS: &[&str] = &[
    "id",
    "stage",
    "input",
    "expected",
    "error",
    "configHash",
    "note",
    "source",
    "featureGate_KubeletServiceAccountTokenForCredentialProviders",
];

/// Writes the case's input under `dir` and returns the path to load.
fn materialise(case: &Value, dir: &std::path::Path) -> Result<PathBuf, String> {
    let stage = case["stage"].as_str().ok_or("no stage")?;
    let input = &case["input"];
    match stage {
        // Files as the kubelet reads them.
        "read" => {
            let files = input["files"].as_array().ok_or("input.files")?;
            let write = |file: &Value, into: &std::path::Path| -> Result<PathBuf, String> {
                let name = file["name"].as_str().ok_or("file name")?;
                let content = file["content"].as_str().ok_or("file content")?;
                let path = into.join(name);
                std::fs::write(&path, content).map_err(|e| e.to_string())?;
                Ok(path)
            };
            match input["path"].as_str() {
                Some("directory") => {
                    let config_dir = dir.join("config.d");
                    std::fs::create_dir(&config_dir).map_err(|e| e.to_string())?;
                    for file in files {
                        write(file, &config_dir)?;
                    }
                    Ok(config_dir)
                }
                Some("file") => match files.as_slice() {
                    [file] => write(file, dir),
                    _ => Err("a file case needs exactly one file".into()),
                },
                other => Err(format!("unknown input.path {other:?}")),
            }
        }
        // The internal struct, rendered as kubelet.config.k8s.io/v1 JSON: one JSON file.
        "validate" => {
            let path = dir.join("config.json");
            std::fs::write(&path, input.to_string()).map_err(|e| e.to_string())?;
            Ok(path)
        }
        other => Err(format!("unknown stage {other:?}: teach this test about it")),
    }
}

fn check(case: &Value) -> Result<(), String> {
    let object = case.as_object().ok_or("case is not an object")?;
    if let Some(unknown) = object.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "unknown case field {unknown:?}: teach this test about it"
        ));
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = materialise(case, dir.path())?;
    let gates = FeatureGates {
        service_account_token_for_credential_providers:
            case["featureGate_KubeletServiceAccountTokenForCredentialProviders"]
                .as_bool()
                .unwrap_or(true),
    };
    let loaded = if case["stage"] == "validate" {
        // validateCredentialProviderConfig on the decoded struct, without the file merge (which
        // would report a duplicate name with its own message first).
        let data = std::fs::read(&path).map_err(|e| e.to_string())?;
        let config = super::decode_config(&data).map_err(|e| format!("decoding: {e}"));
        let mut loaded = super::LoadedConfig::default();
        match config {
            Ok(config) => loaded.problems = super::validate(&config, gates),
            Err(e) => loaded.problems.push(super::ConfigProblem::general(e)),
        }
        loaded
    } else {
        load(&path, gates)
    };
    let messages: Vec<&str> = loaded.problems.iter().map(|p| p.message.as_str()).collect();
    match case["expected"].as_str() {
        Some("valid") => {
            if !loaded.is_valid() {
                return Err(format!("expected valid, got {messages:?}"));
            }
        }
        Some("invalid") => {
            let expected = case["error"].as_str().ok_or("invalid case without error")?;
            if !messages.iter().any(|m| m.contains(expected)) {
                return Err(format!(
                    "expected an error containing {expected:?}, got {messages:?}"
                ));
            }
        }
        other => return Err(format!("unknown expected {other:?}")),
    }
    if let Some(hash) = case.get("configHash") {
        let expected = hash.as_str().ok_or("configHash")?;
        if loaded.hash.as_deref() != Some(expected) {
            return Err(format!(
                "config hash {:?}, expected {expected}",
                loaded.hash
            ));
        }
    }
    Ok(())
}

fn run(cases: &[Value]) {
    assert!(!cases.is_empty(), "no cases");
    let failures: Vec<String> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, case)| {
            let id = case["id"]
                .as_str()
                .map_or_else(|| format!("#{i}"), str::to_owned);
            check(case).err().map(|why| format!("{id}: {why}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn shared_config_vectors() {
    let text =
        std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("reading {VECTORS}: {e}"));
    let vectors: Value = serde_json::from_str(&text).expect("vectors are JSON");
    run(vectors["config"].as_array().expect("a \"config\" list"));
}

#[test]
fn unknown_stage_or_field_fails() {
    let case = json!({"id": "X", "stage": "somethingNew", "input": {}, "expected": "valid"});
    assert!(check(&case).unwrap_err().contains("unknown stage"));
    let case =
        json!({"id": "X", "stage": "validate", "input": {}, "expected": "valid", "newField": 1});
    assert!(check(&case).unwrap_err().contains("unknown case field"));
}

const HEAD: &str = "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\n";

fn file(name: &str, content: &str) -> Value {
    json!({"name": name, "content": content})
}

fn provider(name: &str) -> String {
    format!(
        "- name: {name}\n  matchImages: [r.io]\n  defaultCacheDuration: 1m\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n"
    )
}

/// Rules of spec §9 the shared sample does not cover.
#[test]
fn extra_config_cases() {
    let one = |content: String| json!({"path": "file", "files": [file("c.yaml", &content)]});
    let dir = |files: Vec<Value>| json!({"path": "directory", "files": files});
    let cases = vec![
        // Directory: other extensions ignored, *.yml and *.json read, providers concatenated.
        json!({"id": "X001", "stage": "read", "expected": "valid", "input": dir(vec![
            file("a.yml", &format!("{HEAD}providers:\n{}", provider("a"))),
            file("b.json", r#"{"kind":"CredentialProviderConfig","apiVersion":"kubelet.config.k8s.io/v1beta1","providers":[{"name":"b","matchImages":["r.io"],"defaultCacheDuration":"1m","apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1"}]}"#),
            file("c.txt", "not a config"),
        ])}),
        // Directory with only ignored files: the empty-directory error.
        json!({"id": "X002", "stage": "read", "expected": "invalid", "error": "no configuration files found in directory", "input": dir(vec![file("notes.txt", "x")])}),
        // A duplicate inside one file is caught by the merge, before validation.
        json!({"id": "X003", "stage": "read", "expected": "invalid", "error": "duplicate provider name \"a\" found in configuration file(s)", "input": one(format!("{HEAD}providers:\n{}{}", provider("a"), provider("a")))}),
        // One undecodable file fails the load.
        json!({"id": "X004", "stage": "read", "expected": "invalid", "error": "error decoding config", "input": dir(vec![
            file("a.yaml", &format!("{HEAD}providers:\n{}", provider("a"))),
            file("b.yaml", "{{ not yaml"),
        ])}),
        // Duplicate YAML keys.
        json!({"id": "X005", "stage": "read", "expected": "invalid", "error": "line 5: key \"name\" already set in map", "input": one(format!("{HEAD}providers:\n- name: a\n  name: b\n"))}),
        // Empty providers.
        json!({"id": "X006", "stage": "read", "expected": "invalid", "error": "providers: Required value: at least 1 item in plugins is required", "input": one(format!("{HEAD}providers: []\n"))}),
        // Name with a space; negative duration; missing duration and apiVersion.
        json!({"id": "X007", "stage": "validate", "expected": "invalid", "error": "providers.name: Invalid value: \"a b\": provider name cannot contain spaces",
            "input": {"kind": "CredentialProviderConfig", "apiVersion": "kubelet.config.k8s.io/v1", "providers": [{"name": "a b", "matchImages": ["r.io"], "defaultCacheDuration": "1m", "apiVersion": "credentialprovider.kubelet.k8s.io/v1"}]}}),
        json!({"id": "X008", "stage": "validate", "expected": "invalid", "error": "providers.defaultCacheDuration: Invalid value: \"-1m0s\": must be greater than or equal to 0",
            "input": {"kind": "CredentialProviderConfig", "apiVersion": "kubelet.config.k8s.io/v1", "providers": [{"name": "a", "matchImages": ["r.io"], "defaultCacheDuration": "-1m", "apiVersion": "credentialprovider.kubelet.k8s.io/v1"}]}}),
        json!({"id": "X009", "stage": "validate", "expected": "invalid", "error": "providers.defaultCacheDuration: Required value",
            "input": {"kind": "CredentialProviderConfig", "apiVersion": "kubelet.config.k8s.io/v1", "providers": [{"name": "a", "matchImages": ["r.io"], "apiVersion": "credentialprovider.kubelet.k8s.io/v1"}]}}),
        json!({"id": "X010", "stage": "validate", "expected": "invalid", "error": "providers.apiVersion: Required value",
            "input": {"kind": "CredentialProviderConfig", "apiVersion": "kubelet.config.k8s.io/v1", "providers": [{"name": "a", "matchImages": ["r.io"], "defaultCacheDuration": "0s"}]}}),
        // Audience required; unsupported cacheType; both-required-and-optional.
        json!({"id": "X011", "stage": "validate", "expected": "invalid", "error": "providers.tokenAttributes.serviceAccountTokenAudience: Required value",
            "input": {"kind": "CredentialProviderConfig", "apiVersion": "kubelet.config.k8s.io/v1", "providers": [{"name": "a", "matchImages": ["r.io"], "defaultCacheDuration": "1m", "apiVersion": "credentialprovider.kubelet.k8s.io/v1", "tokenAttributes": {"cacheType": "Token", "requireServiceAccount": true}}]}}),
        json!({"id": "X012", "stage": "validate", "expected": "invalid", "error": "providers.tokenAttributes.cacheType: Unsupported value: \"Pod\": supported values: \"ServiceAccount\", \"Token\"",
            "input": {"kind": "CredentialProviderConfig", "apiVersion": "kubelet.config.k8s.io/v1", "providers": [{"name": "a", "matchImages": ["r.io"], "defaultCacheDuration": "1m", "apiVersion": "credentialprovider.kubelet.k8s.io/v1", "tokenAttributes": {"serviceAccountTokenAudience": "x", "cacheType": "Pod", "requireServiceAccount": true}}]}}),
        json!({"id": "X013", "stage": "validate", "expected": "invalid", "error": "providers.tokenAttributes: Invalid value: [\"k.io/a\"]: annotation keys cannot be both required and optional",
            "input": {"kind": "CredentialProviderConfig", "apiVersion": "kubelet.config.k8s.io/v1", "providers": [{"name": "a", "matchImages": ["r.io"], "defaultCacheDuration": "1m", "apiVersion": "credentialprovider.kubelet.k8s.io/v1", "tokenAttributes": {"serviceAccountTokenAudience": "x", "cacheType": "Token", "requireServiceAccount": true, "requiredServiceAccountAnnotationKeys": ["k.io/a"], "optionalServiceAccountAnnotationKeys": ["k.io/a"]}}]}}),
        // A full v1 config with token attributes is valid (gate on by default).
        json!({"id": "X014", "stage": "validate", "expected": "valid",
            "input": {"kind": "CredentialProviderConfig", "apiVersion": "kubelet.config.k8s.io/v1", "providers": [{"name": "a", "matchImages": ["r.io"], "defaultCacheDuration": "1m", "apiVersion": "credentialprovider.kubelet.k8s.io/v1", "tokenAttributes": {"serviceAccountTokenAudience": "x", "cacheType": "ServiceAccount", "requireServiceAccount": false, "optionalServiceAccountAnnotationKeys": ["k.io/a"]}}]}}),
        // Wrong type.
        json!({"id": "X015", "stage": "validate", "expected": "invalid", "error": "cannot unmarshal string into Go struct field CredentialProvider.providers.matchImages of type []string",
            "input": {"kind": "CredentialProviderConfig", "apiVersion": "kubelet.config.k8s.io/v1", "providers": [{"name": "a", "matchImages": "r.io", "defaultCacheDuration": "1m", "apiVersion": "credentialprovider.kubelet.k8s.io/v1"}]}}),
    ];
    run(&cases);
}

/// Every problem is listed, not only the first.
#[test]
fn every_problem_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(
        &path,
        format!("{HEAD}providers:\n- name: a/b\n  matchImages: []\n  apiVersion: v9\n"),
    )
    .unwrap();
    let loaded = load(&path, FeatureGates::default());
    let messages: Vec<&str> = loaded.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert!(
        loaded
            .problems
            .iter()
            .all(|p| p.provider.as_deref() == Some("a/b"))
    );
}
