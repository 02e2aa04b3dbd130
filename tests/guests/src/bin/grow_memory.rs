//! Attacks memory: allocates and touches 1 MiB chunks up to 1 GiB, printing nothing.
//! The test expects the host's memory limit to stop it: either the allocation fails
//! (exit 3, `denied:` line on stderr) or the growth traps. Reaching 1 GiB prints a
//! valid response with `ESCAPED:memory` and exits 0.

const MIB: usize = 1 << 20;
const CHUNKS: usize = 1024;

fn main() {
    let request = test_guests::read_request();
    let mut chunks: Vec<Vec<u8>> = Vec::with_capacity(CHUNKS);
    for i in 0..CHUNKS {
        let mut chunk = Vec::new();
        if chunk.try_reserve_exact(MIB).is_err() {
            test_guests::denied(&format!("memory allocation failed after {i} MiB"));
        }
        // Touch every byte so the pages are really committed.
        chunk.resize(MIB, 0xA5);
        chunks.push(std::hint::black_box(chunk));
    }
    test_guests::escaped(&request, &format!("memory {} MiB", chunks.len()));
}
