//! `cargo xtask setup`: installs the pinned build tools that are missing.
//!
//! Every step first checks whether its tool is already there at the pinned
//! version, so running setup again installs nothing. Downloads come from
//! crates.io (`cargo install`), the npm registry, Debian's apt, and rustup's
//! distribution server for the wasm32 standard library.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::browser;
use crate::command::{self, Command, Error};
use crate::pins::{Pins, TRUNK_VERSION};

/// The Rust target that the page compiles to.
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Project-local folder for npm tools, relative to the workspace root. It is
/// git-ignored.
const TOOLS_DIR: &str = ".tools";

/// A Debian package that setup installs when it is missing.
struct AptPackage {
    name: &'static str,
    /// A program that the package provides. When it is on PATH, the package
    /// counts as present even if it came from somewhere else.
    program: Option<&'static str>,
}

/// Debian packages that setup installs when they are missing.
const APT_PACKAGES: &[AptPackage] = &[
    // npm installs binaryen's wasm-opt, and pulls in Node.js, which runs it.
    AptPackage {
        name: "npm",
        program: Some("npm"),
    },
    // The browser tests run Debian's /usr/bin/chromium and
    // /usr/bin/chromedriver by path, so only the packages count.
    AptPackage {
        name: "chromium",
        program: None,
    },
    AptPackage {
        name: "chromium-driver",
        program: None,
    },
    // Vulkan drivers: lavapipe for the native GPU tests.
    AptPackage {
        name: "mesa-vulkan-drivers",
        program: None,
    },
    // A CJK font, so Japanese text in the browser tests' screenshots renders
    // as characters rather than empty boxes.
    AptPackage {
        name: "fonts-noto-cjk",
        program: None,
    },
];

/// npm packages that setup installs into .tools, as (name, exact version),
/// besides binaryen, whose version Trunk.toml sets. The browser tests' own
/// packages are pinned in e2e/package-lock.json instead.
const NPM_PACKAGES: &[(&str, &str)] = &[];

/// Installs every missing tool.
pub fn run(root: &Path) -> Result<(), Error> {
    println!("setup: checking the build tools");
    let pins = Pins::read(root)?;
    let path = tool_path(root)?;

    install_apt_packages(APT_PACKAGES, &path)?;
    add_rust_target()?;
    install_trunk(&path)?;
    install_wasm_bindgen(&pins.wasm_bindgen, &path)?;
    install_npm_packages(root, &npm_packages(&pins), &path)?;
    check_wasm_opt(&pins, &path)?;
    browser::install_packages(root, &path)?;

    println!("setup: all build tools are installed");
    Ok(())
}

/// Returns the PATH for the build tools: .tools/node_modules/.bin first, so
/// that Trunk finds the pinned wasm-opt before any other one, then Cargo's
/// bin folder, then the inherited PATH.
pub fn tool_path(root: &Path) -> Result<OsString, Error> {
    let mut dirs = vec![root.join(TOOLS_DIR).join("node_modules").join(".bin")];
    dirs.extend(cargo_bin_dir());
    if let Some(inherited) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&inherited));
    }
    std::env::join_paths(dirs)
        .map_err(|error| Error::new(format!("failed to build PATH for the build tools: {error}")))
}

/// Returns the folder that `cargo install` writes programs to.
fn cargo_bin_dir() -> Option<PathBuf> {
    if let Some(root) = std::env::var_os("CARGO_INSTALL_ROOT") {
        return Some(PathBuf::from(root).join("bin"));
    }
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return Some(PathBuf::from(home).join("bin"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo").join("bin"))
}

fn install_apt_packages(packages: &[AptPackage], path: &OsString) -> Result<(), Error> {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|package| !is_apt_package_present(package, path))
        .map(|package| package.name)
        .collect();
    if missing.is_empty() {
        println!("setup: Debian packages present");
        return Ok(());
    }

    let list = missing.join(" ");
    if !command::is_on_path("apt-get", path) {
        return Err(Error::new(format!(
            "missing packages: {list}; apt-get was not found, so install them \
             with this system's package manager"
        )));
    }
    if !is_root() {
        return Err(Error::new(format!(
            "missing Debian packages: {list}; run setup as root, or install them \
             with `sudo apt-get install {list}`"
        )));
    }

    println!("setup: installing missing Debian packages: {list}");
    Command::new("apt-get").arg("update").run()?;
    Command::new("apt-get")
        .args(["install", "--yes", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()
}

fn is_apt_package_present(package: &AptPackage, path: &OsString) -> bool {
    if let Some(program) = package.program {
        if command::is_on_path(program, path) {
            return true;
        }
    }
    Command::new("dpkg-query")
        .args(["--show", "--showformat=${Status}", package.name])
        .output_text()
        .is_some_and(|status| status == "install ok installed")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output_text()
        .is_some_and(|uid| uid.trim() == "0")
}

fn add_rust_target() -> Result<(), Error> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output_text()
        .ok_or_else(|| {
            Error::new(format!(
                "`rustup target list --installed` failed; without rustup, install the \
                 {WASM_TARGET} standard library for this Rust toolchain by hand"
            ))
        })?;

    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        println!("setup: Rust target {WASM_TARGET} present");
        return Ok(());
    }
    println!("setup: adding Rust target {WASM_TARGET}");
    Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .run()
}

fn install_trunk(path: &OsString) -> Result<(), Error> {
    let expected = format!("trunk {TRUNK_VERSION}");
    if installed_version("trunk", path).as_deref() == Some(expected.as_str()) {
        println!("setup: {expected} present");
        return Ok(());
    }

    println!("setup: installing {expected} from crates.io");
    command::cargo()
        .args(["install", "--locked", "trunk", "--version", TRUNK_VERSION])
        .run()
}

fn install_wasm_bindgen(version: &str, path: &OsString) -> Result<(), Error> {
    let expected = format!("wasm-bindgen {version}");
    if installed_version("wasm-bindgen", path).as_deref() == Some(expected.as_str()) {
        println!("setup: {expected} present");
        return Ok(());
    }

    println!("setup: installing wasm-bindgen-cli {version} from crates.io");
    // Installed without --locked: the Cargo.lock published with
    // wasm-bindgen-cli 0.2.130 locks webpki-roots 1.0.11, which the crates.io
    // index does not list (1.0.10 is the newest there), so
    // `cargo install --locked` fails to resolve. Without --locked, cargo picks
    // the newest semver-compatible dependencies. With rustc 1.95 those built,
    // webpki-roots 1.0.10 and ureq 3.5.2 among them.
    // NOTE: a later dependency release that needs a newer rustc would break
    // this install. Re-locking the crate's own Cargo.lock would avoid that,
    // but needs a fix-up for each wasm-bindgen version.
    command::cargo()
        .args(["install", "wasm-bindgen-cli", "--version", version])
        .run()
}

/// Returns the npm packages that setup installs into .tools.
fn npm_packages(pins: &Pins) -> Vec<(String, String)> {
    let mut packages = vec![("binaryen".to_owned(), format!("{}.0.0", pins.binaryen))];
    for (name, version) in NPM_PACKAGES {
        packages.push((name.to_string(), version.to_string()));
    }
    packages
}

fn install_npm_packages(
    root: &Path,
    packages: &[(String, String)],
    path: &OsString,
) -> Result<(), Error> {
    let tools_dir = root.join(TOOLS_DIR);
    let missing: Vec<String> = packages
        .iter()
        .filter(|(name, version)| {
            installed_npm_version(&tools_dir, name).as_deref() != Some(version.as_str())
        })
        .map(|(name, version)| format!("{name}@{version}"))
        .collect();
    if missing.is_empty() {
        println!("setup: npm packages in {TOOLS_DIR}/ present");
        return Ok(());
    }

    println!(
        "setup: installing npm packages into {TOOLS_DIR}/: {}",
        missing.join(" ")
    );
    fs::create_dir_all(&tools_dir).map_err(|error| {
        Error::new(format!("failed to create {}: {error}", tools_dir.display()))
    })?;
    // npm removes packages that .tools/package.json does not list, so every
    // install is saved there, with the exact version.
    Command::new("npm")
        .args([
            "install",
            "--save-exact",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(&tools_dir)
        .args(&missing)
        .env("PATH", path)
        .run()
}

/// Returns the version in `.tools/node_modules/NAME/package.json`.
fn installed_npm_version(tools_dir: &Path, name: &str) -> Option<String> {
    let manifest = tools_dir
        .join("node_modules")
        .join(name)
        .join("package.json");
    let text = fs::read_to_string(manifest).ok()?;
    json_string_field(&text, "version")
}

/// Returns the first string value of `"field"` in a JSON text. This is
/// enough for the top-level `"version"` of an npm package.json, where it
/// comes before any nested object with the same key.
fn json_string_field(json: &str, field: &str) -> Option<String> {
    let key = format!("\"{field}\"");
    let after_key = &json[json.find(&key)? + key.len()..];
    let value = after_key
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    Some(value[..value.find('"')?].to_owned())
}

/// Checks that the wasm-opt that Trunk will find on PATH is the pinned one.
fn check_wasm_opt(pins: &Pins, path: &OsString) -> Result<(), Error> {
    let expected = format!("wasm-opt version {}", pins.binaryen);
    let found = installed_version("wasm-opt", path);
    let matches = found.as_deref().is_some_and(|found| {
        found
            .strip_prefix(expected.as_str())
            .is_some_and(|rest| rest.starts_with(' '))
    });

    if matches {
        println!("setup: {expected} present");
        Ok(())
    } else {
        Err(Error::new(format!(
            "expected `{expected}` from wasm-opt on PATH, found {}; \
             delete {TOOLS_DIR}/ and run `cargo xtask setup` again",
            found.map_or("no wasm-opt".to_owned(), |found| format!("`{found}`"))
        )))
    }
}

/// Returns the first line of `PROGRAM --version`, or `None` when the program
/// is not on PATH or fails.
fn installed_version(program: &str, path: &OsString) -> Option<String> {
    let output = Command::new(program)
        .arg("--version")
        .env("PATH", path)
        .output_text()?;
    output.lines().next().map(|line| line.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_field_reads_top_level_version() {
        let manifest = r#"{
  "name": "binaryen",
  "version": "132.0.0",
  "engines": { "version": "ignored" }
}"#;
        assert_eq!(
            json_string_field(manifest, "version").as_deref(),
            Some("132.0.0")
        );
        assert_eq!(json_string_field(manifest, "license"), None);
    }

    #[test]
    fn npm_packages_start_with_binaryen() {
        let pins = Pins {
            wasm_bindgen: "0.2.130".to_owned(),
            binaryen: 132,
        };
        let packages = npm_packages(&pins);
        assert_eq!(packages[0], ("binaryen".to_owned(), "132.0.0".to_owned()));
    }
}
