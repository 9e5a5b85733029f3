//! The `.npy` header parser on arbitrary bytes: a result or an error, never a panic (run by
//! fuzz/run.sh; what it finds is kept under tests/data/fuzz/).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = specsim::npyio::NpyArray::from_bytes(data, "fuzz");
});
