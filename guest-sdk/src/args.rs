//! A plugin's guest arguments (the host's `--arg`), read with `lexopt` (ripgrep's parser).
//!
//! The grammar is the GNU/pflag one the vendors' Go plugins get from cobra: `--name value`,
//! `--name=value`, `-n value`, `-nvalue`, `-n=value`, short flags clustered (`-ab`), and `--`
//! ending the options. A plugin matches on [`Arg`] and asks for the value of the option it just
//! saw; every error is one line naming the option, never a value.
//!
//! ```
//! use credential_provider_sdk::args::{Arg, Args};
//!
//! let mut registry = None;
//! let mut args = Args::new(["get-credentials", "--registry=r.example", "-v", "3"]);
//! while let Some(arg) = args.next()? {
//!     match arg {
//!         Arg::Long("registry") => registry = Some(args.value()?),
//!         Arg::Short('v') | Arg::Long("v") => drop(args.value()?),
//!         Arg::Positional(word) if word == "get-credentials" => {}
//!         other => return Err(other.unexpected()),
//!     }
//! }
//! assert_eq!(registry.as_deref(), Some("r.example"));
//! # Ok::<(), credential_provider_sdk::args::ArgError>(())
//! ```

use std::ffi::OsString;

/// One command-line argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg<'a> {
    /// `--name` or `--name=value` (ask for the value with [`Args::value`]).
    Long(&'a str),
    /// `-n`, `-nvalue` or `-n=value`.
    Short(char),
    /// Anything that is not an option (also everything after `--`).
    Positional(String),
}

impl Arg<'_> {
    /// The error for an argument the plugin does not take.
    pub fn unexpected(&self) -> ArgError {
        ArgError(match self {
            Arg::Long(name) => format!("unknown option --{name}"),
            Arg::Short(name) => format!("unknown option -{name}"),
            Arg::Positional(word) => format!("unexpected argument {word:?}"),
        })
    }
}

/// A bad command line: one line saying which argument and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError(String);

impl ArgError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        ArgError(message.into())
    }
}

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgError {}

impl From<ArgError> for String {
    fn from(err: ArgError) -> String {
        err.0
    }
}

/// The arguments, read one at a time.
pub struct Args {
    parser: lexopt::Parser,
    /// The option last returned by [`Args::next`], as written (`--name`, `-n`), for messages.
    last: String,
}

impl Args {
    /// The arguments `args` (without the program name).
    pub fn new<I>(args: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<OsString>,
    {
        Args {
            parser: lexopt::Parser::from_args(args),
            last: String::new(),
        }
    }

    /// The process's own arguments (the host's `--arg` values), without the program name.
    pub fn from_env() -> Self {
        Args::new(std::env::args_os().skip(1))
    }

    /// The next argument, or `None` at the end.
    // Not `Iterator::next`: the `Arg` borrows the parser (a lending iterator), as lexopt's own
    // `Parser::next`, and errors are items of their own.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Arg<'_>>, ArgError> {
        // An `--name=value` whose value the plugin did not ask for is an error here.
        let Args { parser, last } = self;
        let arg = parser.next().map_err(|e| describe(last, e))?;
        Ok(match arg {
            None => None,
            Some(lexopt::Arg::Long(name)) => {
                *last = format!("--{name}");
                Some(Arg::Long(name))
            }
            Some(lexopt::Arg::Short(name)) => {
                *last = format!("-{name}");
                Some(Arg::Short(name))
            }
            Some(lexopt::Arg::Value(word)) => Some(Arg::Positional(
                word.into_string()
                    .map_err(|_| ArgError::new("an argument is not UTF-8"))?,
            )),
        })
    }

    /// The value of the option just returned: attached (`--name=value`, `-nvalue`) or the
    /// next argument.
    pub fn value(&mut self) -> Result<String, ArgError> {
        let value = self.parser.value().map_err(|e| describe(&self.last, e))?;
        self.utf8(value)
    }

    /// The value of the option just returned only if attached (`--name=value`): for options
    /// whose value is optional, such as a boolean `--flag[=false]`.
    pub fn attached_value(&mut self) -> Result<Option<String>, ArgError> {
        self.parser
            .optional_value()
            .map(|value| self.utf8(value))
            .transpose()
    }

    /// [`Args::value`] converted by `parse`, whose error is prefixed with the option's name.
    pub fn parse<T>(
        &mut self,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ArgError> {
        let value = self.value()?;
        parse(&value).map_err(|why| ArgError(format!("{}: {why}", self.last)))
    }

    fn utf8(&self, value: OsString) -> Result<String, ArgError> {
        value
            .into_string()
            .map_err(|_| ArgError(format!("{}: the value is not UTF-8", self.last)))
    }
}

/// lexopt's error as one line naming the option (`last` when lexopt does not) but never the
/// value.
fn describe(last: &str, err: lexopt::Error) -> ArgError {
    ArgError(match err {
        lexopt::Error::MissingValue { option } => format!(
            "{} needs a value",
            option.unwrap_or_else(|| last.to_owned())
        ),
        lexopt::Error::UnexpectedValue { option, .. } => {
            format!("{option} does not take a value")
        }
        lexopt::Error::NonUnicodeValue(_) => "an argument is not UTF-8".to_owned(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (kind, name-or-word, value) the parser yields when each option takes a value.
    fn read(list: &[&str]) -> Result<Vec<(char, String, String)>, ArgError> {
        let mut args = Args::new(list.iter().copied());
        let mut seen = Vec::new();
        while let Some(arg) = args.next()? {
            seen.push(match arg {
                Arg::Long(name) => {
                    let name = name.to_owned();
                    ('L', name, args.value()?)
                }
                Arg::Short(name) => ('S', name.to_string(), args.value()?),
                Arg::Positional(word) => ('P', word, String::new()),
            });
        }
        Ok(seen)
    }

    fn row(kind: char, name: &str, value: &str) -> (char, String, String) {
        (kind, name.to_owned(), value.to_owned())
    }

    #[test]
    fn reads_the_pflag_grammar() {
        assert_eq!(
            read(&[
                "get-credentials",
                "--authFlow=gcr",
                "--project-id",
                "p",
                "-a",
                "dockercfg",
                "-v=3",
                "-v4",
                "--",
                "--not-an-option",
            ])
            .unwrap(),
            [
                row('P', "get-credentials", ""),
                row('L', "authFlow", "gcr"),
                row('L', "project-id", "p"),
                row('S', "a", "dockercfg"),
                row('S', "v", "3"),
                row('S', "v", "4"),
                row('P', "--not-an-option", ""),
            ]
        );
    }

    #[test]
    fn a_single_dash_word_is_a_short_option_and_its_value() {
        // As pflag reads `-authFlow=gcr`: `-a` with the value `uthFlow=gcr`.
        assert_eq!(
            read(&["-authFlow=gcr"]).unwrap(),
            [row('S', "a", "uthFlow=gcr")]
        );
    }

    #[test]
    fn errors_name_the_option() {
        assert_eq!(
            read(&["--registry"]).unwrap_err().to_string(),
            "--registry needs a value"
        );
        let mut args = Args::new(["--flag=secret-value"]);
        assert_eq!(args.next().unwrap(), Some(Arg::Long("flag")));
        let err = args.next().unwrap_err().to_string();
        assert_eq!(err, "--flag does not take a value");
        let mut args = Args::new(["--cache-duration=1d"]);
        args.next().unwrap();
        let err = args
            .parse(|v| v.parse::<u32>().map_err(|_| "not a number".to_owned()))
            .unwrap_err();
        assert_eq!(err.to_string(), "--cache-duration: not a number");
        assert_eq!(
            Arg::Positional("x".into()).unexpected().to_string(),
            "unexpected argument \"x\""
        );
        assert_eq!(
            Arg::Short('z').unexpected().to_string(),
            "unknown option -z"
        );
    }

    #[test]
    fn attached_values_are_optional() {
        let mut args = Args::new(["--use-managed-identity", "--flag=false", "next"]);
        assert_eq!(
            args.next().unwrap(),
            Some(Arg::Long("use-managed-identity"))
        );
        assert_eq!(args.attached_value().unwrap(), None);
        assert_eq!(args.next().unwrap(), Some(Arg::Long("flag")));
        assert_eq!(args.attached_value().unwrap().as_deref(), Some("false"));
        assert_eq!(args.next().unwrap(), Some(Arg::Positional("next".into())));
    }
}
