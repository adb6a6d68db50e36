//! `cargo xtask serve`: builds the page, then serves the site (the top-level `index.html`,
//! `www/` and `models/`, nothing else of the repository) on a local port, with the MIME types
//! browsers insist on (`application/wasm` for streaming compilation, JS modules as JavaScript).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, anyhow};
use clap::Args;
use tiny_http::{Header, Method, Request, Response, Server};

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
    let server = Server::http((args.host.as_str(), args.port))
        .map_err(|e| anyhow!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let address = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| anyhow!("not an IP listener"))?;
    // Tests read this line to find the port.
    println!("serving http://{address}/");
    eprintln!("open http://{address}/ in a browser; Ctrl-C stops");
    let server = Arc::new(server);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (server, root) = (server.clone(), root.clone());
            std::thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    respond(&root, request);
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}

fn respond(root: &Path, request: Request) {
    let response = match (request.method(), site_path(root, request.url())) {
        (Method::Get | Method::Head, Some(path)) if path.is_file() => match std::fs::read(&path) {
            Ok(bytes) => {
                Response::from_data(bytes).with_header(header("Content-Type", content_type(&path)))
            }
            Err(e) => text(500, &format!("cannot read {}: {e}", path.display())),
        },
        (Method::Get | Method::Head, _) => text(404, "not found"),
        _ => text(405, "only GET and HEAD"),
    };
    // A development server: always serve what was just built. The policy travels as a header
    // too: the model thread (a Web Worker) takes its policy from its own response, not the page's.
    let _ = request.respond(
        response
            .with_header(header("Cache-Control", "no-store"))
            .with_header(header("Content-Security-Policy", CONTENT_SECURITY_POLICY)),
    );
}

/// The site's Content-Security-Policy, as index.html's meta tag states it: nothing beyond this
/// origin may be fetched, so nothing a visitor drops can leave the browser.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; img-src 'self' blob: data:; style-src 'self'; base-uri 'none'; form-action 'none'";

fn text(status: u16, message: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(message)
        .with_status_code(status)
        .with_header(header("Content-Type", "text/plain; charset=utf-8"))
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("ASCII header")
}

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
