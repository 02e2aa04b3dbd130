//! Helper: panics with `deliberate panic from test guest`. In wasm (panic=abort) this
//! ends in a trap after the message is written to stderr; natively it exits 101. The
//! test expects the host to report a guest failure and to show the panic message.

fn main() {
    panic!("deliberate panic from test guest");
}
