//! The tests that run in headless Chromium: the GPU engine's WebAssembly test
//! (crates/gpu/tests/browser.rs) through wasm-bindgen-test-runner and
//! chromedriver, and the Playwright tests of the built page in e2e/.

use std::ffi::OsString;
use std::fs;
use std::path::Path;

use crate::command::{self, Command, Error};

/// Debian's chromedriver, from the package chromium-driver.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Chromium's capabilities for wasm-bindgen-test-runner, relative to the
/// workspace root. The runner looks for webdriver.json in its working
/// folder, which cargo sets to the package folder, so the path is passed in
/// WASM_BINDGEN_TEST_WEBDRIVER_JSON.
const WEBDRIVER_JSON: &str = "webdriver.json";

/// Seconds that wasm-bindgen-test-runner waits for the tests to finish. Its
/// default of 20 s leaves little room on a busy 2-core machine, where
/// SwiftShader compiles every kernel on the CPU.
const WASM_TEST_TIMEOUT_S: &str = "120";

/// Folder of the Playwright tests, relative to the workspace root.
const E2E_DIR: &str = "e2e";

/// Every Playwright test file, which both `cargo xtask test` and `cargo xtask
/// e2e` run. robustness.test.js breaks the page on purpose through the hooks
/// of the dist-test/ build.
pub const ALL_TESTS: &[&str] = &[
    "page.test.js",
    "training.test.js",
    "teach.test.js",
    "variant-knobs.test.js",
    "keyboard.test.js",
    "offline.test.js",
    "robustness.test.js",
    "data.test.js",
];

/// Runs crates/gpu/tests/browser.rs in headless Chromium on WebGPU.
pub fn gpu_test(root: &Path, path: &OsString) -> Result<(), Error> {
    command::cargo()
        .args([
            "test",
            "--package",
            "gatelab-gpu",
            "--target",
            "wasm32-unknown-unknown",
            "--release",
            "--test",
            "browser",
        ])
        .current_dir(root)
        .env("PATH", path)
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )
        .env("CHROMEDRIVER", CHROMEDRIVER)
        .env(
            "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
            root.join(WEBDRIVER_JSON),
        )
        .env("WASM_BINDGEN_TEST_TIMEOUT", WASM_TEST_TIMEOUT_S)
        .run()
}

/// Runs the given test files of e2e/ with Node's test runner, against the
/// page in dist/.
pub fn page_tests(root: &Path, files: &[&str], path: &OsString) -> Result<(), Error> {
    Command::new("node")
        .args(["--test", "--test-concurrency=1"])
        .args(files)
        .current_dir(root.join(E2E_DIR))
        .env("PATH", path)
        .env("GATELAB_DIST", root.join("dist"))
        .env("GATELAB_TEST_DIST", root.join("dist-test"))
        .run()
}

/// Installs e2e/'s npm packages with `npm ci`, unless e2e/node_modules
/// already has every package at the version in e2e/package-lock.json.
pub fn install_packages(root: &Path, path: &OsString) -> Result<(), Error> {
    let e2e_dir = root.join(E2E_DIR);
    let lock_path = e2e_dir.join("package-lock.json");
    let lock = fs::read_to_string(&lock_path)
        .map_err(|error| Error::new(format!("failed to read {}: {error}", lock_path.display())))?;
    let locked = locked_packages(&lock);

    let mismatched = locked.iter().find(|(package_dir, version)| {
        installed_version(&e2e_dir.join(package_dir)) != Some(version.clone())
    });
    match mismatched {
        None => {
            println!("setup: npm packages in {E2E_DIR}/ match its package-lock.json");
            Ok(())
        }
        Some((package_dir, version)) => {
            println!(
                "setup: {E2E_DIR}/{package_dir} is not at version {version}; running `npm ci`"
            );
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&e2e_dir)
                .env("PATH", path)
                .run()
        }
    }
}

/// Returns each `"node_modules/..."` package folder of an npm lockfile
/// (lockfileVersion 2 or 3) with its version.
///
/// Reads the formatting that npm writes: each entry's key on its own line,
/// and its `"version"` as the first line of that form below it.
fn locked_packages(lock: &str) -> Vec<(String, String)> {
    let mut packages = Vec::new();
    let mut current: Option<String> = None;

    for line in lock.lines().map(str::trim) {
        if let Some(key) = line.strip_prefix("\"node_modules/") {
            current = key
                .strip_suffix("\": {")
                .map(|name| format!("node_modules/{name}"));
            continue;
        }
        if let Some(version) = line.strip_prefix("\"version\": \"") {
            if let (Some(package_dir), Some(version)) = (
                current.take(),
                version.strip_suffix("\",").or(version.strip_suffix('"')),
            ) {
                packages.push((package_dir, version.to_owned()));
            }
        }
    }
    packages
}

/// Returns the `"version"` of `package_dir/package.json`.
fn installed_version(package_dir: &Path) -> Option<String> {
    let manifest = fs::read_to_string(package_dir.join("package.json")).ok()?;
    manifest
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix("\"version\": \"")?.split('"').next())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"{
  "name": "gatelab-e2e",
  "version": "0.1.0",
  "lockfileVersion": 3,
  "packages": {
    "": {
      "name": "gatelab-e2e",
      "version": "0.1.0"
    },
    "node_modules/playwright-core": {
      "version": "1.65.2",
      "license": "Apache-2.0"
    },
    "node_modules/a/node_modules/b": {
      "version": "2.0.0"
    }
  }
}"#;

    #[test]
    fn lockfile_packages_with_versions() {
        assert_eq!(
            locked_packages(LOCK),
            [
                (
                    "node_modules/playwright-core".to_owned(),
                    "1.65.2".to_owned()
                ),
                (
                    "node_modules/a/node_modules/b".to_owned(),
                    "2.0.0".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn e2e_lockfile_pins_playwright_core() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let lock = fs::read_to_string(root.join(E2E_DIR).join("package-lock.json")).unwrap();
        let packages = locked_packages(&lock);
        assert!(
            packages
                .iter()
                .any(|(dir, _)| dir == "node_modules/playwright-core"),
            "{packages:?}"
        );
    }
}
