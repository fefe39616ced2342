//! Computes a fingerprint of the migration sources, so the test harness can tell when its
//! migrated template database is out of date.

use std::{fs, path::Path};

fn main() {
    let dir = Path::new("src");
    println!("cargo:rerun-if-changed=src");
    let mut files: Vec<_> = fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    // FNV-1a over every file's name and contents: stable across toolchains.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let contents = fs::read(&file).unwrap_or_default();
        for byte in name.as_bytes().iter().chain(contents.iter()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=GRAPHHOOK_MIGRATIONS_FINGERPRINT={hash:016x}");
}
