//! The kubelet's side of the protocol, reproduced for the tooling subcommands: its config file
//! ([`config`]), its field-error texts ([`field`]), how it execs a provider ([`exec`]), caches
//! answers ([`provider_cache`]) and assembles the credentials for a pull ([`simulate`]).

pub mod config;
pub mod exec;
pub mod field;
pub mod provider_cache;
pub mod simulate;
