//! Attacks CPU time: spins forever in pure wasm, never calling the host. The test
//! expects the host to interrupt it (epoch/fuel deadline) and fail with a timeout.

fn main() {
    let mut counter = 0u64;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}
