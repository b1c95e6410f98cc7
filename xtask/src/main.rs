//! Build and test tasks for the gatelab workspace, run as `cargo xtask TASK`.
//!
//! Plain std Rust on purpose: this binary installs the rest of the tool chain,
//! so it must build before anything else is there.

mod browser;
mod command;
mod csp;
mod phase;
mod pins;
mod serve;
mod setup;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use command::Error;
use phase::Phases;

const USAGE: &str = "\
Usage: cargo xtask TASK [OPTIONS]

Tasks:
  setup               Install the pinned build tools that are missing
  serve [--port N]    Set up, build the page with `trunk build --release`, and
                      serve dist/ on http://127.0.0.1:N/ (default port 8080)
  test                Set up, run `cargo test --workspace --release`,
                      `trunk build --release`, the GPU engine's test in
                      headless Chromium, and the Playwright tests in e2e/
  e2e                 Set up, run `trunk build --release`, then every test
                      in e2e/, including those of the training page
  help                Print this message
";

const DEFAULT_PORT: u16 = 8080;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();

    let result = match args.first().map(String::as_str) {
        Some("setup") => expect_no_options("setup", &args[1..]).and_then(|()| setup::run(&root)),
        Some("serve") => parse_port(&args[1..]).and_then(|port| serve(&root, port)),
        Some("test") => expect_no_options("test", &args[1..]).and_then(|()| test(&root)),
        Some("e2e") => expect_no_options("e2e", &args[1..]).and_then(|()| e2e(&root)),
        Some("help" | "--help" | "-h") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(Error::new(format!("unknown task `{other}`\n\n{USAGE}"))),
        None => Err(Error::new(format!("missing task\n\n{USAGE}"))),
    };

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Returns the workspace root, the parent folder of this crate.
///
/// `cargo run` sets `CARGO_MANIFEST_DIR` for the process too, and that value
/// wins over the one compiled in. A target folder shared by two checkouts
/// can hold an xtask binary built in the other checkout, and its compiled-in
/// path would send every task there.
fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .expect("the xtask crate lies inside the workspace root")
        .to_path_buf()
}

fn expect_no_options(task: &str, options: &[String]) -> Result<(), Error> {
    match options.first() {
        None => Ok(()),
        Some(option) => Err(Error::new(format!(
            "`{task}` takes no options, but got `{option}`\n\n{USAGE}"
        ))),
    }
}

/// Parses the options of `serve`: `--port N` or `--port=N`.
fn parse_port(options: &[String]) -> Result<u16, Error> {
    let mut port = DEFAULT_PORT;
    let mut rest = options.iter();

    while let Some(option) = rest.next() {
        let value = if option == "--port" {
            rest.next()
                .ok_or_else(|| Error::new("`--port` needs a value, for example `--port 8081`"))?
                .as_str()
        } else if let Some(value) = option.strip_prefix("--port=") {
            value
        } else {
            return Err(Error::new(format!(
                "unknown option `{option}` for `serve`\n\n{USAGE}"
            )));
        };

        port = value.parse().map_err(|_| {
            Error::new(format!(
                "invalid port `{value}`: expected a number from 1 to 65535"
            ))
        })?;
        if port == 0 {
            return Err(Error::new(
                "invalid port `0`: expected a number from 1 to 65535",
            ));
        }
    }
    Ok(port)
}

/// Runs `cargo xtask serve`: setup, a release build, then the static server.
fn serve(root: &Path, port: u16) -> Result<(), Error> {
    setup::run(root)?;
    trunk_build(root)?;
    serve::serve_dir(&root.join("dist"), port)
}

/// Runs `cargo xtask test`: every phase in order, stopping at the first
/// failure, and prints how long each phase took.
fn test(root: &Path) -> Result<(), Error> {
    let mut phases = Phases::new();

    phases.run("setup", || setup::run(root))?;
    phases.run("cargo test", || {
        command::cargo()
            .args(["test", "--workspace", "--release"])
            .current_dir(root)
            .run()
    })?;
    phases.run("trunk build", || trunk_build(root))?;
    phases.run("trunk build test-hooks", || trunk_build_test(root))?;
    let path = setup::tool_path(root)?;
    phases.run("gpu browser", || browser::gpu_test(root, &path))?;
    phases.run("page e2e", || {
        browser::page_tests(root, browser::ALL_TESTS, &path)
    })?;

    phases.print_summary();
    Ok(())
}

/// Runs `cargo xtask e2e`: setup, a release build of the page, and every
/// Playwright test in e2e/.
fn e2e(root: &Path) -> Result<(), Error> {
    let mut phases = Phases::new();

    phases.run("setup", || setup::run(root))?;
    phases.run("trunk build", || trunk_build(root))?;
    phases.run("trunk build test-hooks", || trunk_build_test(root))?;
    let path = setup::tool_path(root)?;
    phases.run("e2e", || {
        browser::page_tests(root, browser::ALL_TESTS, &path)
    })?;

    phases.print_summary();
    Ok(())
}

/// Runs `trunk build --release` in the workspace root, with the tools that
/// setup installed on PATH, and writes the Content-Security-Policy into
/// dist/index.html.
fn trunk_build(root: &Path) -> Result<(), Error> {
    command::Command::new("trunk")
        .args(["build", "--release"])
        .current_dir(root)
        .env("PATH", setup::tool_path(root)?)
        .run()?;
    csp::apply(&root.join("dist"))
}

/// Builds the page with the `test-hooks` feature into dist-test/, for the
/// e2e tests that break the page on purpose (see src/test_hooks.rs). dist/
/// stays free of the hooks.
fn trunk_build_test(root: &Path) -> Result<(), Error> {
    command::Command::new("trunk")
        .args(["build", "--release", "--features", "test-hooks", "--dist", "dist-test"])
        .current_dir(root)
        .env("PATH", setup::tool_path(root)?)
        .run()?;
    csp::apply(&root.join("dist-test"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    #[test]
    fn port_defaults_to_8080() {
        assert_eq!(parse_port(&[]).unwrap(), 8080);
    }

    #[test]
    fn port_option_forms() {
        assert_eq!(parse_port(&strings(&["--port", "9000"])).unwrap(), 9000);
        assert_eq!(parse_port(&strings(&["--port=9001"])).unwrap(), 9001);
    }

    #[test]
    fn port_rejects_invalid_values() {
        assert!(parse_port(&strings(&["--port"])).is_err());
        assert!(parse_port(&strings(&["--port", "0"])).is_err());
        assert!(parse_port(&strings(&["--port", "70000"])).is_err());
        assert!(parse_port(&strings(&["--port", "http"])).is_err());
        assert!(parse_port(&strings(&["--verbose"])).is_err());
    }
}
