//! Every size, time and memory cap the host enforces, with the threat each one answers.

use std::time::Duration;

/// Largest request accepted on stdin. The kubelet sends an image name and perhaps a
/// service-account token (a few KiB); a larger input is hostile or broken, and is refused without
/// being read into memory whole.
pub const MAX_REQUEST_BYTES: u64 = 1024 * 1024;

/// Largest module file loaded. Real provider plugins are a few MiB; this bounds the memory and
/// compile time an operator's typo (pointing at a huge file) can cost.
pub const MAX_MODULE_BYTES: u64 = 128 * 1024 * 1024;

/// Default cap on the guest's linear memory (all memories together) and the operator's override.
pub const DEFAULT_MEMORY_BYTES: u64 = 64 * 1024 * 1024;
/// Smallest `--memory` accepted: a Rust guest needs a few pages to start at all.
pub const MIN_MEMORY_BYTES: u64 = 1024 * 1024;
/// Largest `--memory` accepted: 4 GiB, the 32-bit address space.
pub const MAX_MEMORY_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Table elements a guest may allocate (function tables of large Rust programs hold a few
/// thousand entries); bounds host memory spent on tables.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;
/// Core instances, memories and tables per guest. A Rust `wasm32-wasip2` component holds a
/// handful of core instances; these bound what a crafted component can make the host allocate.
pub const MAX_INSTANCES: usize = 64;
/// See [`MAX_INSTANCES`].
pub const MAX_MEMORIES: usize = 16;
/// See [`MAX_INSTANCES`].
pub const MAX_TABLES: usize = 64;

/// Default wall-clock limit for one run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The kubelet kills a plugin after 60 s; our limit must fire first so the kubelet gets our
/// specific error rather than a kill, hence strictly below this.
pub const KUBELET_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the engine's epoch advances: a spinning guest is checked this often against the
/// deadline.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Default cap on the guest's stdout (the response). Responses are a few KiB.
pub const DEFAULT_MAX_OUTPUT_BYTES: u64 = 1024 * 1024;
/// Cap on the guest's stderr, which is forwarded into the kubelet's log.
pub const MAX_STDERR_BYTES: usize = 64 * 1024;
/// Cap on what the host writes when forwarding that stderr, line prefixes included: 64 KiB of
/// empty lines under a long provider name would otherwise become megabytes of log.
pub const MAX_FORWARDED_LOG_BYTES: usize = 128 * 1024;

/// Function bodies one module (all core modules of a component together) may hand the
/// compiler. Compile time and memory grow with the code; see [`crate::policy::complexity`].
/// The largest real plugins (the JavaScript and Python components) hold about 13,500; 400,000
/// empty functions took 61 s and 2.2 GB to compile here, 60,000 about a seventh of that.
pub const MAX_COMPILE_FUNCTIONS: u64 = 60_000;
/// Locals declared in all function bodies together: what made a 240 KB module of 30,000
/// functions with 50,000 locals each take 52 s to compile.
pub const MAX_COMPILE_TOTAL_LOCALS: u64 = 4_000_000;
/// Locals one function body declares (also wasmparser's and the web engines' limit).
pub const MAX_COMPILE_LOCALS_PER_FUNCTION: u64 = 50_000;
/// Size of one function body: the compiler holds a whole function's IR at once, so its memory
/// grows with the largest body.
pub const MAX_COMPILE_FUNCTION_BODY_BYTES: u64 = 2 * 1024 * 1024;
/// Nesting of blocks, loops and ifs in one function body.
pub const MAX_COMPILE_BLOCK_NESTING: u64 = 4_096;

/// Smallest budget for what the host holds on a guest's behalf outside its linear memory
/// (`wasi:http` fields, bodies, streams, handles; see `sandbox/host_state.rs`). The budget is
/// `max(--memory, this)` plus one response body (`--http-max-response-bytes`): TLS setup and
/// a request or two need a few MiB of host memory whatever the guest's own size.
pub const MIN_HOST_STATE_BYTES: u64 = 16 * 1024 * 1024;
/// Resource handles (fields, requests, responses, bodies, streams, pollables) a guest may hold
/// at once. A plugin holds a few dozen; wasmtime's own default is 1,000,000.
pub const MAX_RESOURCE_TABLE_ENTRIES: usize = 4096;

/// Largest wasm stack. A bounded stack turns runaway recursion into a trap, not a host crash.
pub const MAX_WASM_STACK_BYTES: usize = 1024 * 1024;

/// Longest wait for a guest's outgoing TCP connection (and TLS handshake) to be established,
/// unless the guest asks for less. A black-holed address must not eat the whole run.
pub const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the response head of a guest's outgoing request, unless the guest asks for
/// less; always bounded by what is left of the run's `--timeout` as well.
pub const HTTP_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(20);
/// Default cap on one response body a guest receives. Token and credential endpoints answer
/// with a few KiB; a hostile or broken server must not make the host buffer without bound.
pub const DEFAULT_HTTP_MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;
/// Cap on one request body a guest sends (a token exchange posts a few KiB).
pub const HTTP_MAX_REQUEST_BODY_BYTES: u64 = 1024 * 1024;
/// Largest `--ca-file` read. The system bundle of a distribution is about 200 KiB.
pub const MAX_CA_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Default number of outgoing requests one run may make: enough for a token exchange and a
/// few redirects, not enough to use the node as a scanner.
pub const DEFAULT_HTTP_MAX_REQUESTS: u32 = 16;
/// Audit lines (refused requests) one run writes; further refusals are counted in one summary
/// line, so a guest asking in a loop for what it is refused cannot flood the kubelet's log.
pub const MAX_AUDIT_LINES: usize = 32;
/// Cap on the total size of the header fields a guest may build (wasi-http's field limit).
pub const HTTP_MAX_FIELD_BYTES: usize = 64 * 1024;

/// Deepest nesting of a credential-provider config's YAML the tools read. Real configs nest
/// about six levels; the bound keeps a hostile file from exhausting the stack of `check-config`
/// or `install` (go-yaml itself has none, so a file nested deeper is refused by us alone).
pub const MAX_CONFIG_NESTING: usize = 512;

/// Largest credential-provider config file the tools read. Real ones are a few KiB; the bound
/// keeps a mistaken path (a log, a disk image) from being read into memory whole.
pub const MAX_CONFIG_FILE_BYTES: u64 = 16 * 1024 * 1024;
