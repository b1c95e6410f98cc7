//! The page's Content-Security-Policy, written into the built index.html.
//!
//! Trunk puts an inline module script into index.html that loads the wasm.
//! Rather than allow inline scripts in general (`'unsafe-inline'`), the
//! policy allows exactly that script by its SHA-256 hash, which can only be
//! known after the build. So every `trunk build` of xtask is followed by
//! [`apply`], which hashes each inline script and inserts the policy as a
//! `<meta http-equiv>` tag at the top of `<head>`, before any script.

use std::fs;
use std::path::Path;

use crate::command::Error;

/// Marks the policy tag, so that applying twice replaces it.
const META_START: &str = "<meta http-equiv=\"Content-Security-Policy\"";

/// Writes the policy into `dist/index.html`.
pub fn apply(dist: &Path) -> Result<(), Error> {
    let path = dist.join("index.html");
    let html = fs::read_to_string(&path)
        .map_err(|error| Error::new(format!("failed to read {}: {error}", path.display())))?;
    let with_policy = insert_policy(&html)?;
    fs::write(&path, with_policy)
        .map_err(|error| Error::new(format!("failed to write {}: {error}", path.display())))?;
    println!("csp: wrote the Content-Security-Policy into {}", path.display());
    Ok(())
}

/// Style attributes that the page may set, allowed by hash. plotters 0.3.7
/// measures the text of a chart legend (`MultiLineText`) by adding a `<span>`
/// with this style for the legend font, `(FONT, 11)` in src/charts.rs. Every
/// other text is measured on the canvas (src/canvas_backend.rs). Blocking the
/// span's style would log a policy violation per legend line and mis-size the
/// legend box.
const ALLOWED_STYLE_ATTRIBUTES: &[&str] =
    &["display: inline-block; font-family:sans-serif; font-style:normal; font-size: 11px; position: fixed; top: 100%"];

/// Returns the policy that allows the inline scripts with `hashes` (each
/// `sha256-BASE64`) and nothing inline besides.
///
/// `'wasm-unsafe-eval'` lets the page compile WebAssembly without allowing
/// JavaScript `eval`. `worker-src 'self'` allows the CPU engine's worker,
/// which starts from a file of the page's origin. `img-src data:` is for
/// the empty `data:,` favicon in index.html.
pub fn policy(hashes: &[String]) -> String {
    let script_hashes: String = hashes.iter().map(|hash| format!(" '{hash}'")).collect();
    let style_hashes: String =
        ALLOWED_STYLE_ATTRIBUTES.iter().map(|style| format!(" 'sha256-{}'", base64(&sha256(style.as_bytes())))).collect();
    [
        "default-src 'self'".to_string(),
        format!("script-src 'self' 'wasm-unsafe-eval'{script_hashes}"),
        "worker-src 'self'".to_string(),
        "style-src 'self'".to_string(),
        format!("style-src-attr 'unsafe-hashes'{style_hashes}"),
        "img-src 'self' data:".to_string(),
        "connect-src 'self'".to_string(),
        "object-src 'none'".to_string(),
        "base-uri 'self'".to_string(),
        "form-action 'none'".to_string(),
    ]
    .join("; ")
}

/// Returns `html` with the policy tag for its inline scripts at the start of
/// `<head>`, replacing an earlier policy tag.
pub fn insert_policy(html: &str) -> Result<String, Error> {
    let html = remove_policy(html);
    let hashes: Vec<String> =
        inline_scripts(&html).iter().map(|script| format!("sha256-{}", base64(&sha256(script.as_bytes())))).collect();
    let head = html.find("<head>").ok_or_else(|| Error::new("index.html has no <head> tag"))?;
    let insert_at = head + "<head>".len();
    let tag = format!("\n    {META_START} content=\"{}\">", policy(&hashes));
    Ok(format!("{}{tag}{}", &html[..insert_at], &html[insert_at..]))
}

fn remove_policy(html: &str) -> String {
    let Some(start) = html.find(META_START) else {
        return html.to_string();
    };
    let end = html[start..].find('>').map_or(html.len(), |offset| start + offset + 1);
    let line_start = html[..start].trim_end_matches([' ', '\t']).trim_end_matches('\n').len();
    format!("{}{}", &html[..line_start], &html[end..])
}

/// Returns the text of every `<script>` without a `src` attribute: the text
/// that browsers hash for `'sha256-…'` sources.
pub fn inline_scripts(html: &str) -> Vec<String> {
    let mut scripts = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let Some(tag_end) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start..start + tag_end];
        let body_start = start + tag_end + 1;
        let Some(body_len) = rest[body_start..].find("</script>") else {
            break;
        };
        if !tag.contains(" src=") {
            scripts.push(rest[body_start..body_start + body_len].to_string());
        }
        rest = &rest[body_start + body_len + "</script>".len()..];
    }
    scripts
}

/// SHA-256 (FIPS 180-4) of `data`. xtask has no dependencies, and this is
/// the one digest it needs.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut state: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

    // Padding: a 1 bit, zeros up to 56 bytes mod 64, the bit length.
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());

    for block in message.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = state;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let choice = (e & f) ^ (!e & g);
            let t1 = h.wrapping_add(s1).wrapping_add(choice).wrapping_add(K[i]).wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let majority = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(majority);
            h = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (word, add) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
            *word = word.wrapping_add(add);
        }
    }

    let mut digest = [0u8; 32];
    for (chunk, word) in digest.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

/// Standard base64 (RFC 4648) with padding, as CSP hash sources use.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::new();
    for chunk in data.chunks(3) {
        let bytes = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let bits = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                encoded.push(ALPHABET[((bits >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha256_known_vectors() {
        assert_eq!(hex(&sha256(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(hex(&sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let two_blocks = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(hex(&sha256(two_blocks)), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }

    #[test]
    fn base64_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }

    const PAGE: &str = "<!DOCTYPE html><html><head>\n<script src=\"./a.js\"></script>\n<script type=\"module\">\nimport init from './a.js';\nawait init();\n</script></head><body></body></html>";

    #[test]
    fn policy_hashes_inline_script() {
        let html = insert_policy(PAGE).unwrap();
        let expected = format!("'sha256-{}'", base64(&sha256(b"\nimport init from './a.js';\nawait init();\n")));
        assert!(html.contains(&expected), "{html}");
        let script_src = html.split("; ").find(|directive| directive.starts_with("script-src")).expect("a script-src directive");
        assert_eq!(script_src.matches("sha256-").count(), 1, "the script with src is not hashed: {html}");
    }

    #[test]
    fn policy_precedes_scripts() {
        let html = insert_policy(PAGE).unwrap();
        let policy_at = html.find(META_START).unwrap();
        assert!(policy_at < html.find("<script").unwrap());
    }

    #[test]
    fn policy_forbids_inline_and_eval() {
        let text = policy(&["sha256-x".to_string()]);
        assert!(text.contains("'wasm-unsafe-eval'"));
        assert!(!text.contains("'unsafe-eval'"));
        assert!(!text.contains("'unsafe-inline'"));
        assert!(text.contains("worker-src 'self'"));
        assert!(text.contains("style-src 'self';"), "{text}");
    }

    #[test]
    fn applying_twice_keeps_one_policy() {
        let once = insert_policy(PAGE).unwrap();
        let twice = insert_policy(&once).unwrap();
        assert_eq!(once, twice);
    }

    /// Checks the built page when there is one: its policy must list the
    /// hash of each inline script as it is now.
    #[test]
    fn built_page_hash_matches() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for dist in ["dist", "dist-test"] {
            let Ok(html) = fs::read_to_string(root.join(dist).join("index.html")) else {
                continue;
            };
            if !html.contains(META_START) {
                continue;
            }
            for script in inline_scripts(&html) {
                let source = format!("'sha256-{}'", base64(&sha256(script.as_bytes())));
                assert!(html.contains(&source), "{dist}/index.html lacks {source} for its inline script");
            }
        }
    }
}
