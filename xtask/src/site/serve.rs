//! `cargo xtask serve`: builds the page, then serves the site (the top-level `index.html`,
//! `www/` and `models/`, nothing else of the repository) on a local port, with the MIME types
//! browsers insist on (`application/wasm` for streaming compilation, JS modules as JavaScript).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::Args;

use crate::site::web::{self, SITE_ENTRIES, WebArgs};

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub web: WebArgs,
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port; 0 picks a free one (the URL is printed on stdout).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Serve what `www/pkg` already holds instead of building first.
    #[arg(long)]
    pub no_build: bool,
    /// Serve this folder (one `cargo xtask dist` wrote) instead of the repository; builds nothing.
    #[arg(long)]
    pub root: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let root = match &args.root {
        Some(dir) => dir.clone(),
        None => {
            let root = web::root();
            if !args.no_build {
                web::build(&root, &args.web)?;
            }
            root
        }
    };
    if !root.join("www/pkg/build.json").is_file() {
        return Err(anyhow!(
            "{} holds no built page (www/pkg/build.json): run `cargo xtask web` or `cargo xtask dist` first",
            root.display()
        ));
    }
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .map_err(|e| anyhow!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let address = listener.local_addr()?;
    // Tests read this line to find the port.
    println!("serving http://{address}/");
    eprintln!("open http://{address}/ in a browser; Ctrl-C stops");
    // A thread per connection, each connection closed after its one response. tiny_http 0.12
    // served this page before: its pool gives each connection a thread for as long as it stays
    // open, and a connection accepted while idle threads were still waking up was queued behind
    // the open ones, so with the page's ES modules the browser's burst of connections left some
    // module requests unanswered until a keep-alive connection closed (the browser test timed
    // out loading the page in 2 of 5 runs).
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let root = root.clone();
        std::thread::spawn(move || {
            let _ = serve_connection(&root, stream);
        });
    }
    Ok(())
}

/// The most of a request's line and headers that is read: a GET of a static file needs a few
/// hundred bytes, and an endless header must not grow a buffer without bound.
const MAX_REQUEST_HEAD: u64 = 64 * 1024;

/// Reads one request from `stream` and answers it.
fn serve_connection(root: &Path, mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?.take(MAX_REQUEST_HEAD));
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The headers are read and dropped: a GET or HEAD of a static file needs none of them.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, url) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let response = respond(root, method, url);
    stream.write_all(&response.head())?;
    if method != "HEAD" {
        stream.write_all(&response.body)?;
    }
    stream.flush()
}

/// An answer: status, type and bytes.
struct Answer {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Answer {
    fn text(status: u16, message: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: message.as_bytes().to_vec(),
        }
    }

    /// The status line and headers. A development server: always serve what was just built.
    /// The policy travels as a header too: the model thread (a Web Worker) takes its policy
    /// from its own response, not the page's.
    fn head(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            404 => "Not Found",
            405 => "Method Not Allowed",
            _ => "Internal Server Error",
        };
        format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nContent-Security-Policy: {CONTENT_SECURITY_POLICY}\r\nConnection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        )
        .into_bytes()
    }
}

fn respond(root: &Path, method: &str, url: &str) -> Answer {
    let readable = matches!(method, "GET" | "HEAD");
    match site_path(root, url) {
        Some(path) if readable && path.is_file() => match std::fs::read(&path) {
            Ok(body) => Answer {
                status: 200,
                content_type: content_type(&path),
                body,
            },
            Err(e) => Answer::text(500, &format!("cannot read {}: {e}", path.display())),
        },
        _ if readable => Answer::text(404, "not found"),
        _ => Answer::text(405, "only GET and HEAD"),
    }
}

/// The site's Content-Security-Policy, as index.html's meta tag states it: nothing beyond this
/// origin may be fetched, so nothing a visitor drops can leave the browser.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; img-src 'self' blob: data:; style-src 'self'; base-uri 'none'; form-action 'none'";

/// The file a URL names inside the site, or None for anything outside it.
pub fn site_path(root: &Path, url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let path = percent_decode(path)?;
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() {
        "index.html"
    } else {
        relative
    };
    let first = relative.split('/').next()?;
    if !SITE_ENTRIES.contains(&first)
        || relative
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        || relative.contains('\\')
    {
        return None;
    }
    Some(root.join(relative))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "svg" => "image/svg+xml",
        "md" => "text/markdown; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_states_the_policy_the_server_sends() {
        let index =
            std::fs::read_to_string(crate::provenance::repository_root().join("index.html"))
                .unwrap();
        assert!(
            index.contains(&format!(
                "<meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">"
            )),
            "index.html's policy differs from serve's"
        );
        assert!(CONTENT_SECURITY_POLICY.contains("connect-src 'self'"));
    }

    #[test]
    fn only_the_site_is_served() {
        let root = Path::new("/repo");
        assert_eq!(site_path(root, "/"), Some(root.join("index.html")));
        assert_eq!(
            site_path(root, "/?backend=cpu"),
            Some(root.join("index.html"))
        );
        assert_eq!(
            site_path(root, "/www/pkg/build.json"),
            Some(root.join("www/pkg/build.json"))
        );
        assert_eq!(
            site_path(root, "/models/a%20b/model.json"),
            Some(root.join("models/a b/model.json"))
        );
        for outside in [
            "/Cargo.toml",
            "/.git/config",
            "/www/../Cargo.toml",
            "/models/%2e%2e/Cargo.toml",
            "/www//x",
            "/%zz",
        ] {
            assert_eq!(site_path(root, outside), None, "{outside}");
        }
        assert_eq!(
            content_type(Path::new("x/lran_cpu_bg.wasm")),
            "application/wasm"
        );
        assert_eq!(
            content_type(Path::new("x/lran.js")),
            "text/javascript; charset=utf-8"
        );
    }
}
