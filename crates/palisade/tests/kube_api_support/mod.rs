//! A Kubernetes API server on 127.0.0.1 that answers with recorded responses, framed as the API
//! server frames them (JSON bodies, chunked watch streams), for tests of the webhook's client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// What the server answers to one request.
pub enum Reply {
    /// A JSON body with a status line such as `200 OK`.
    Json(&'static str, String),
    /// A watch: `events` (one JSON object per line) in a chunked stream that then stays open.
    Watch(String),
}

/// The API server's 404 `Status`, as it answers for an object that does not exist.
pub fn not_found(kind: &str, name: &str) -> Reply {
    Reply::Json(
        "404 Not Found",
        format!(
            r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{kind} \"{name}\" not found","reason":"NotFound","details":{{"name":"{name}","kind":"{kind}"}},"code":404}}"#
        ),
    )
}

/// Serves `answer(path)` for every request; returns the base URL.
pub fn serve(answer: impl Fn(&str) -> Reply + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let answer = answer.clone();
            std::thread::spawn(move || connection(stream, &*answer));
        }
    });
    url
}

fn connection(stream: TcpStream, answer: &dyn Fn(&str) -> Reply) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                break;
            }
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("");
        match answer(path) {
            Reply::Json(status, body) => {
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if stream.write_all(response.as_bytes()).is_err() {
                    return;
                }
            }
            Reply::Watch(events) => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                let chunk = if events.is_empty() {
                    String::new()
                } else {
                    format!("{:x}\r\n{events}\r\n", events.len())
                };
                let _ = stream.write_all(format!("{head}{chunk}").as_bytes());
                // A watch stays open until the server ends it.
                std::thread::sleep(Duration::from_secs(60));
                return;
            }
        }
    }
}
