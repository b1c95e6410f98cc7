//! A small static file server for dist/, bound to 127.0.0.1 only.
//!
//! It serves GET and HEAD requests with the file under the folder, or with
//! `index.html` for a folder, and closes the connection after each response. It is meant for
//! looking at the built page and for browser tests on this machine, not for
//! production use.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::thread;
use std::time::Duration;

use crate::command::Error;

/// Maximum bytes of request line and headers that the server reads.
const MAX_REQUEST_HEAD: u64 = 16 * 1024;

/// Read timeout for a client's request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `dir` on http://127.0.0.1:PORT/ until the process is stopped.
///
/// Prints the address as the last line before it starts accepting.
pub fn serve_dir(dir: &Path, port: u16) -> Result<(), Error> {
    if !dir.join("index.html").is_file() {
        return Err(Error::new(format!(
            "{} has no index.html; build the page with `trunk build --release` first",
            dir.display()
        )));
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|error| {
        Error::new(format!(
            "failed to listen on 127.0.0.1:{port}: {error}; pick another port with --port"
        ))
    })?;

    println!("Serving {} (stop with Ctrl+C) at", dir.display());
    println!("http://127.0.0.1:{port}/");

    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                eprintln!("serve: failed to accept a connection: {error}");
                continue;
            }
        };
        let dir = dir.to_path_buf();
        thread::spawn(move || {
            if let Err(error) = handle_connection(stream, &dir) {
                eprintln!("serve: connection failed: {error}");
            }
        });
    }
    Ok(())
}

fn handle_connection(stream: TcpStream, dir: &Path) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?.take(MAX_REQUEST_HEAD));
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The headers are not used, but are read so that the client does not see
    // a reset connection for a request that it is still sending.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }

    let response = respond(request_line.trim_end(), dir);
    eprintln!("serve: {} -> {}", request_line.trim_end(), response.status);
    response.write_to(stream)
}

/// An HTTP response, ready to be written.
struct Response {
    status: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    /// Whether the body is sent: false for HEAD, which sends headers only.
    send_body: bool,
}

impl Response {
    fn text(status: &'static str, message: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{message}\n").into_bytes(),
            send_body: true,
        }
    }

    fn write_to(&self, mut stream: TcpStream) -> io::Result<()> {
        let head = format!(
            "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
             Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        );
        stream.write_all(head.as_bytes())?;
        if self.send_body {
            stream.write_all(&self.body)?;
        }
        stream.flush()
    }
}

/// Builds the response to one request line, such as `GET /index.html HTTP/1.1`.
fn respond(request_line: &str, dir: &Path) -> Response {
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(_version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Response::text("400 Bad Request", "invalid request line");
    };
    if method != "GET" && method != "HEAD" {
        return Response::text("405 Method Not Allowed", "only GET and HEAD are supported");
    }

    let Some(file) = resolve(dir, target) else {
        return Response::text("400 Bad Request", "invalid path");
    };
    let mut response = match fs::read(&file) {
        Ok(body) => Response {
            status: "200 OK",
            content_type: content_type(&file),
            body,
            send_body: true,
        },
        Err(_) => Response::text("404 Not Found", "not found"),
    };
    response.send_body = method == "GET";
    response
}

/// Maps a request target to a file under `dir`, or returns `None` for a
/// path that is not valid or that would leave `dir`.
fn resolve(dir: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    let path = percent_decode(path.strip_prefix('/')?)?;

    let relative = Path::new(&path);
    let is_plain = relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)));
    if !is_plain {
        return None;
    }

    let file = dir.join(relative);
    if file.is_dir() {
        Some(file.join("index.html"))
    } else {
        Some(file)
    }
}

/// Decodes `%XX` escapes, or returns `None` for an invalid escape, a NUL
/// byte or a result that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;

    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }

    if decoded.contains(&0) {
        return None;
    }
    String::from_utf8(decoded).ok()
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|extension| extension.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        // `WebAssembly.instantiateStreaming` accepts only this type.
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("wgsl") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_maps_root_to_index() {
        let dir = std::env::temp_dir();
        assert_eq!(resolve(&dir, "/"), Some(dir.join("index.html")));
    }

    #[test]
    fn resolve_drops_query() {
        let dir = Path::new("/srv/dist");
        assert_eq!(resolve(dir, "/app.js?v=1"), Some(dir.join("app.js")));
    }

    #[test]
    fn resolve_rejects_escapes() {
        let dir = Path::new("/srv/dist");
        assert_eq!(resolve(dir, "/../secret"), None);
        assert_eq!(resolve(dir, "/%2e%2e/secret"), None);
        assert_eq!(resolve(dir, "/a/../../secret"), None);
        assert_eq!(resolve(dir, "//etc/passwd"), None);
        assert_eq!(resolve(dir, "/a%00b"), None);
        assert_eq!(resolve(dir, "no-leading-slash"), None);
    }

    #[test]
    fn percent_decode_cases() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("%E6%97%A5").as_deref(), Some("日"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%2"), None);
    }

    #[test]
    fn wasm_has_streaming_content_type() {
        assert_eq!(content_type(Path::new("app_bg.wasm")), "application/wasm");
    }

    #[test]
    fn respond_rejects_post() {
        let response = respond("POST / HTTP/1.1", Path::new("/srv/dist"));
        assert_eq!(response.status, "405 Method Not Allowed");
    }

    #[test]
    fn respond_serves_files() {
        let dir = std::env::temp_dir().join(format!("xtask-serve-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("index.html"), "<p>hello</p>").unwrap();

        let get = respond("GET / HTTP/1.1", &dir);
        assert_eq!(get.status, "200 OK");
        assert_eq!(get.body, b"<p>hello</p>");
        assert!(get.send_body);

        let head = respond("HEAD /index.html HTTP/1.1", &dir);
        assert_eq!(head.status, "200 OK");
        assert!(!head.send_body);

        let missing = respond("GET /missing.js HTTP/1.1", &dir);
        assert_eq!(missing.status, "404 Not Found");

        fs::remove_dir_all(&dir).unwrap();
    }
}
