//! Finds libseqpacker through `pkg-config --libs seqpacker` (PKG_CONFIG_PATH
//! may point at the Python wheel's copy: `python -m seqpacker.config
//! --pkg-config-path`) and links it, with an rpath so the binary runs.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let out = Command::new("pkg-config")
        .args(["--libs", "seqpacker"])
        .output()
        .expect("pkg-config must be installed");
    if !out.status.success() {
        panic!(
            "pkg-config cannot find seqpacker: {}\nset PKG_CONFIG_PATH, e.g. to \
             $(python -m seqpacker.config --pkg-config-path)",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for flag in String::from_utf8(out.stdout).unwrap().split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        } else if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={lib}");
        }
    }
}
