//! The tool versions that the repository pins, read from Cargo.lock and
//! Trunk.toml so that each version is written down in one place.

use std::fs;
use std::path::Path;

use crate::command::Error;

/// The Trunk version that setup installs. Trunk 0.22.1 declares
/// rust-version 1.96.1, newer than the rustc 1.95 that this project uses.
pub const TRUNK_VERSION: &str = "0.21.14";

/// Tool versions pinned by the repository.
#[derive(Debug, PartialEq, Eq)]
pub struct Pins {
    /// Version of the `wasm-bindgen` crate in Cargo.lock, which the
    /// wasm-bindgen CLI must match exactly.
    pub wasm_bindgen: String,
    /// Binaryen release number from Trunk.toml's `wasm_opt = "version_N"`.
    pub binaryen: u32,
}

impl Pins {
    /// Reads the pins from Cargo.lock and Trunk.toml in `root`, and checks
    /// that Trunk.toml pins the same wasm-bindgen version as Cargo.lock.
    pub fn read(root: &Path) -> Result<Pins, Error> {
        let lockfile = read_file(&root.join("Cargo.lock"))?;
        let trunk_toml = read_file(&root.join("Trunk.toml"))?;
        Pins::parse(&lockfile, &trunk_toml)
    }

    fn parse(lockfile: &str, trunk_toml: &str) -> Result<Pins, Error> {
        let wasm_bindgen = match locked_versions(lockfile, "wasm-bindgen").as_slice() {
            [version] => version.clone(),
            [] => {
                return Err(Error::new(
                    "Cargo.lock has no `wasm-bindgen` package; \
                     run `cargo generate-lockfile` in the workspace root",
                ))
            }
            several => {
                return Err(Error::new(format!(
                    "Cargo.lock has `wasm-bindgen` at several versions ({}), but the \
                     wasm-bindgen CLI can match only one; pin one version in Cargo.toml",
                    several.join(", ")
                )))
            }
        };

        let trunk_wasm_bindgen =
            toml_string(trunk_toml, "tools", "wasm_bindgen").ok_or_else(|| {
                Error::new(format!(
                    "missing `wasm_bindgen` in Trunk.toml's [tools]; \
                     add wasm_bindgen = \"{wasm_bindgen}\", the version in Cargo.lock"
                ))
            })?;
        if trunk_wasm_bindgen != wasm_bindgen {
            return Err(Error::new(format!(
                "Trunk.toml pins wasm_bindgen = \"{trunk_wasm_bindgen}\", but Cargo.lock has \
                 wasm-bindgen {wasm_bindgen}; set [tools] wasm_bindgen = \"{wasm_bindgen}\""
            )));
        }

        let wasm_opt = toml_string(trunk_toml, "tools", "wasm_opt").ok_or_else(|| {
            Error::new(
                "missing `wasm_opt` in Trunk.toml's [tools]; \
                 add wasm_opt = \"version_N\" for binaryen release N",
            )
        })?;
        let binaryen = wasm_opt
            .strip_prefix("version_")
            .and_then(|number| number.parse().ok())
            .ok_or_else(|| {
                Error::new(format!(
                    "invalid [tools] wasm_opt = \"{wasm_opt}\" in Trunk.toml: \
                     expected \"version_N\", for example \"version_132\""
                ))
            })?;

        Ok(Pins {
            wasm_bindgen,
            binaryen,
        })
    }
}

fn read_file(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path)
        .map_err(|error| Error::new(format!("failed to read {}: {error}", path.display())))
}

/// Returns every version of package `name` in a Cargo.lock.
fn locked_versions(lockfile: &str, name: &str) -> Vec<String> {
    let name_line = format!("name = \"{name}\"");
    let mut versions = Vec::new();

    for block in lockfile.split("[[package]]").skip(1) {
        let mut lines = block.lines().map(str::trim);
        if !lines.any(|line| line == name_line) {
            continue;
        }
        let version = block
            .lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix("version = \"")?.strip_suffix('"'));
        versions.extend(version.map(str::to_owned));
    }
    versions
}

/// Returns the string value of `key` in table `[table]` of a TOML file.
///
/// Reads only the simple `key = "value"` form, with an optional comment
/// after the value, which is all Trunk.toml's [tools] table uses.
fn toml_string(toml: &str, table: &str, key: &str) -> Option<String> {
    let header = format!("[{table}]");
    let mut in_table = false;

    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == header;
            continue;
        }
        if !in_table {
            continue;
        }
        let Some((line_key, value)) = line.split_once('=') else {
            continue;
        };
        if line_key.trim() != key {
            continue;
        }
        let value = value.trim().strip_prefix('"')?;
        let end = value.find('"')?;
        return Some(value[..end].to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCKFILE: &str = r#"
version = 4

[[package]]
name = "wasm-bindgen"
version = "0.2.130"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = [
 "wasm-bindgen-macro",
]

[[package]]
name = "wasm-bindgen-macro"
version = "0.2.130"
"#;

    const TRUNK_TOML: &str = r#"
[build]
wasm_opt = "not this one"

[tools]
# comment
wasm_bindgen = "0.2.130"
wasm_opt = "version_132" # trailing comment
"#;

    #[test]
    fn pins_read_from_both_files() {
        let pins = Pins::parse(LOCKFILE, TRUNK_TOML).unwrap();
        assert_eq!(pins.wasm_bindgen, "0.2.130");
        assert_eq!(pins.binaryen, 132);
    }

    #[test]
    fn pins_reject_mismatched_wasm_bindgen() {
        let trunk_toml = TRUNK_TOML.replace("0.2.130", "0.2.129");
        let error = Pins::parse(LOCKFILE, &trunk_toml).unwrap_err();
        assert!(
            error.to_string().contains("wasm_bindgen = \"0.2.130\""),
            "{error}"
        );
    }

    #[test]
    fn pins_reject_invalid_wasm_opt() {
        let trunk_toml = TRUNK_TOML.replace("version_132", "132");
        assert!(Pins::parse(LOCKFILE, &trunk_toml).is_err());
    }

    #[test]
    fn locked_versions_match_whole_name() {
        assert_eq!(locked_versions(LOCKFILE, "wasm-bindgen"), ["0.2.130"]);
        assert!(locked_versions(LOCKFILE, "wasm").is_empty());
    }

    #[test]
    fn pins_reject_several_wasm_bindgen_versions() {
        let lockfile =
            format!("{LOCKFILE}\n[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.100\"\n");
        let error = Pins::parse(&lockfile, TRUNK_TOML).unwrap_err();
        assert!(error.to_string().contains("0.2.130, 0.2.100"), "{error}");
    }

    #[test]
    fn toml_string_reads_only_named_table() {
        assert_eq!(
            toml_string(TRUNK_TOML, "tools", "wasm_opt").as_deref(),
            Some("version_132")
        );
        assert_eq!(
            toml_string(TRUNK_TOML, "build", "wasm_opt").as_deref(),
            Some("not this one")
        );
        assert_eq!(toml_string(TRUNK_TOML, "tools", "sass"), None);
    }

    #[test]
    fn workspace_pins_are_consistent() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        if let Err(error) = Pins::read(root) {
            panic!("{error}");
        }
    }
}
