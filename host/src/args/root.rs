//! A node's file system seen from elsewhere (`--root`): node paths re-rooted beneath a folder.
//!
//! `install --root /host` writes a node's files from a container that mounts the node at
//! `/host`; `simulate --root DIR` runs a node's providers from a folder holding its files. Both
//! read provider args written for the node, whose absolute paths (`--module`, `--cache-dir`,
//! `--ca-file`) must then lead beneath the root, never to this machine's own `/var/cache`.

use std::path::{Component, Path, PathBuf};

use super::run_args::PATH_OPTIONS;

/// A node path seen from here: `root` joined with `path` (made relative; `..` kept, so a path
/// that climbs out is refused by the directory handles that later open it).
pub fn rooted(root: &Path, path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_) | Component::ParentDir))
        .collect();
    root.join(rel)
}

/// A path beneath `root` as the node sees it.
pub fn strip_root(root: &Path, path: &Path) -> PathBuf {
    match path.strip_prefix(root) {
        Ok(rel) => Path::new("/").join(rel),
        Err(_) => path.to_owned(),
    }
}

/// A provider's args with the absolute values of the run mode's path options re-rooted
/// beneath `root`, in both spellings (`--module=/p` and `--module /p`). A value that follows
/// another option taking a value (`--arg --module=/p` passes `--module=/p` to the guest) is
/// left alone, as are relative paths (they are relative to the kubelet's working directory).
pub fn reroot_args(args: &[String], root: &Path) -> Vec<String> {
    let reroot = |value: &str| -> String {
        let path = Path::new(value);
        if path.is_absolute() {
            rooted(root, path).display().to_string()
        } else {
            value.to_owned()
        }
    };
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if PATH_OPTIONS.contains(&arg.as_str()) {
            out.push(arg.clone());
            if let Some(value) = iter.next() {
                out.push(reroot(value));
            }
            continue;
        }
        if let Some((option, value)) = arg.split_once('=')
            && PATH_OPTIONS.contains(&option)
        {
            out.push(format!("{option}={}", reroot(value)));
            continue;
        }
        out.push(arg.clone());
        if takes_separate_value(arg)
            && let Some(value) = iter.next()
        {
            out.push(value.clone());
        }
    }
    out
}

/// Whether `arg` is a run-mode option written without `=` whose value is the next argument.
fn takes_separate_value(arg: &str) -> bool {
    use std::sync::OnceLock;
    static OPTIONS: OnceLock<Vec<String>> = OnceLock::new();
    let options = OPTIONS.get_or_init(|| {
        let command = super::parse::run_only_command();
        command
            .find_subcommand("run")
            .map(|run| {
                run.get_arguments()
                    .filter(|a| a.get_action().takes_values())
                    .filter_map(|a| a.get_long().map(|long| format!("--{long}")))
                    .collect()
            })
            .unwrap_or_default()
    });
    options.iter().any(|o| o == arg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn path_options_move_beneath_the_root() {
        let args = strings(&[
            "--module=/usr/libexec/p/m.wasm",
            "--cache-dir",
            "/var/cache/wcp",
            "--ca-file=relative.pem",
            "--arg",
            "--module=/not/a/host/path",
            "--memory",
            "--module",
            "--env=X=/etc/x",
        ]);
        assert_eq!(
            reroot_args(&args, Path::new("/node")),
            strings(&[
                "--module=/node/usr/libexec/p/m.wasm",
                "--cache-dir",
                "/node/var/cache/wcp",
                "--ca-file=relative.pem",
                "--arg",
                "--module=/not/a/host/path",
                "--memory",
                "--module",
                "--env=X=/etc/x",
            ])
        );
    }

    #[test]
    fn rooting_and_unrooting() {
        assert_eq!(
            rooted(Path::new("/host"), Path::new("/etc/x")),
            PathBuf::from("/host/etc/x")
        );
        assert_eq!(
            strip_root(Path::new("/host"), Path::new("/host/etc/x")),
            PathBuf::from("/etc/x")
        );
    }
}
