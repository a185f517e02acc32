//! `lvs-test-httpd NAME ADDR:PORT`: a tiny HTTP server for the end-to-end
//! tests and the demo. Every request (any method, any path) is answered
//! with `200 OK` and the body `NAME\n`, so a client can tell which real
//! server answered. HTTP/1.1 connections are kept open between requests
//! (unless the client asks `Connection: close`), HTTP/1.0 ones are closed
//! after the reply unless the client asks `Connection: keep-alive`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, addr] = args.as_slice() else {
        eprintln!("usage: lvs-test-httpd NAME ADDR:PORT");
        return ExitCode::from(2);
    };
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("lvs-test-httpd: bind {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let name = name.clone();
        std::thread::spawn(move || serve(conn, &name));
    }
    ExitCode::SUCCESS
}

/// Answers requests on one connection until the client closes it, asks for
/// the close, or stays silent for a minute.
fn serve(conn: TcpStream, name: &str) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let version = if request_line.trim_end().ends_with("HTTP/1.1") {
            "HTTP/1.1"
        } else {
            "HTTP/1.0"
        };
        let mut keep_alive = version == "HTTP/1.1";
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let h = header.trim_end().to_ascii_lowercase();
            if h.is_empty() {
                break;
            }
            if let Some(v) = h.strip_prefix("connection:") {
                keep_alive = v.trim() == "keep-alive";
            }
        }
        let body = format!("{name}\n");
        let reply = format!(
            "{version} 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
             Connection: {}\r\n\r\n{body}",
            body.len(),
            if keep_alive { "keep-alive" } else { "close" }
        );
        if out.write_all(reply.as_bytes()).is_err() || !keep_alive {
            return;
        }
    }
}
