//! `src/stacks.toml` (the built-in stack entries, the single source) is turned into JSON
//! here: reading TOML at every start cost about 2 M instructions, JSON a fraction of that.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/stacks.toml");
    println!("cargo:rerun-if-changed=build.rs");
    let text = std::fs::read_to_string("src/stacks.toml").expect("src/stacks.toml is readable");
    // An error in the file is reported at run time, with the entry (`stack::parse`), and by
    // tests/stacks.rs: here it only leaves the JSON empty.
    let json = match text.parse::<toml::Table>() {
        Ok(t) => serde_json::to_string(&t).expect("a TOML table serializes"),
        Err(_) => String::new(),
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("stacks.json"), json).expect("OUT_DIR is writable");
}
