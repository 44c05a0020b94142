//! A small HTTP/1.1 endpoint on std threads, and a client for the push.
//!
//! Written on `std::net` rather than a server crate so that every request
//! is bounded: the request head is at most [`MAX_HEAD`] bytes (431 beyond),
//! reads and writes time out, a fixed pool of [`HANDLERS`] threads answers
//! (so a flood of clients costs at most that many cores' worth of work and
//! never a thread per connection), and connections beyond [`QUEUE`]
//! waiting ones are closed at once. Every response closes its connection.
//! Scrapes close together share one rendering (`Shared::scrape`), and
//! each handler answers at most one request per [`PACE`].

use super::exporter::Shared;
use super::HttpUrl;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Largest request head (request line and headers) read.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// Threads answering requests.
pub(crate) const HANDLERS: usize = 2;
/// Accepted connections waiting for a handler.
pub(crate) const QUEUE: usize = 512;
/// Read and write timeout per connection.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Least time between two requests answered by one handler thread: the
/// endpoint answers at most `HANDLERS / PACE` requests per second (400),
/// plenty for scrapers, and a flood of clients waits instead of taking
/// CPU from the dataflow.
const PACE: Duration = Duration::from_millis(5);
/// How often idle threads look at the stop flag.
const POLL: Duration = Duration::from_millis(20);

/// The running endpoint.
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` and starts the threads.
    pub(crate) fn start(addr: SocketAddr, shared: Arc<Shared>) -> io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = sync_channel::<TcpStream>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        for i in 0..HANDLERS {
            let rx = rx.clone();
            let shared = shared.clone();
            let stop = stop.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("metrics-http-{i}"))
                    .spawn(move || handle_loop(&rx, &shared, &stop))?,
            );
        }
        let accept_stop = stop.clone();
        threads.push(
            std::thread::Builder::new()
                .name("metrics-accept".into())
                .spawn(move || {
                    while !accept_stop.load(Ordering::Relaxed) {
                        match listener.accept() {
                            // A full queue: close at once rather than pile up.
                            Ok((stream, _)) => drop(tx.try_send(stream)),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                std::thread::sleep(POLL)
                            }
                            Err(_) => std::thread::sleep(POLL),
                        }
                    }
                })?,
        );
        Ok(Server {
            addr,
            stop,
            threads,
        })
    }

    /// The bound address (with the port chosen for port 0).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets the handlers finish, joins the threads.
    pub(crate) fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn handle_loop(rx: &Mutex<Receiver<TcpStream>>, shared: &Shared, stop: &AtomicBool) {
    loop {
        let next = rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .recv_timeout(POLL);
        match next {
            Ok(stream) => {
                let started = std::time::Instant::now();
                let _ = handle(stream, shared);
                if let Some(rest) = PACE.checked_sub(started.elapsed()) {
                    std::thread::sleep(rest);
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// The end of the request head in `buf`, if it is complete.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn handle(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_len = loop {
        if let Some(end) = head_end(&buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            respond(
                &mut stream,
                431,
                "text/plain",
                b"request head too large\n",
                false,
            )?;
            // Read a little of what is still coming, so that the client
            // sees the answer rather than a reset.
            let _ = stream.shutdown(Shutdown::Write);
            stream.set_read_timeout(Some(Duration::from_millis(200)))?;
            let mut drained = 0usize;
            while drained < 1 << 20 {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
            return Ok(());
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_len]);
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let method = words.next().unwrap_or("");
    let target = words.next().unwrap_or("");
    let path = target.split('?').next().unwrap_or("");
    let head_only = method == "HEAD";
    let known = matches!(path, "/metrics" | "/-/healthy" | "/-/ready" | "/");
    if known && method != "GET" && method != "HEAD" {
        return respond(
            &mut stream,
            405,
            "text/plain",
            b"method not allowed\n",
            false,
        );
    }
    match path {
        "/metrics" => match shared.scrape() {
            Ok(body) => respond(&mut stream, 200, prometheus::TEXT_FORMAT, &body, head_only),
            Err(e) => respond(
                &mut stream,
                500,
                "text/plain",
                format!("{e}\n").as_bytes(),
                head_only,
            ),
        },
        "/-/healthy" => respond(
            &mut stream,
            200,
            "text/plain",
            b"netanom is Healthy.\n",
            head_only,
        ),
        "/-/ready" if shared.is_ready() => respond(
            &mut stream,
            200,
            "text/plain",
            b"netanom is Ready.\n",
            head_only,
        ),
        "/-/ready" => respond(
            &mut stream,
            503,
            "text/plain",
            b"netanom is not ready yet.\n",
            head_only,
        ),
        "/" => respond(
            &mut stream,
            200,
            "text/plain",
            b"netanom: metrics at /metrics\n",
            head_only,
        ),
        _ => respond(&mut stream, 404, "text/plain", b"not found\n", head_only),
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

fn respond(
    stream: &mut TcpStream,
    code: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reason(code),
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    stream.write_all(&out)?;
    stream.flush()
}

/// `PUT`s `body` (text format) to `path` on `url`'s host; an error unless
/// the answer is 2xx.
pub(crate) fn put(url: &HttpUrl, path: &str, body: &[u8]) -> Result<(), String> {
    let addrs: Vec<SocketAddr> = url
        .authority
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .collect();
    let mut last = String::from("no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e.to_string(),
        }
    }
    let mut stream = stream.ok_or(last)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let path = if path.is_empty() { "/" } else { path };
    let mut request = format!(
        "PUT {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        url.authority,
        prometheus::TEXT_FORMAT,
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request).map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let _ = stream.take(64 * 1024).read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text.lines().next().unwrap_or("");
    let code = status.split_whitespace().nth(1).unwrap_or("");
    if code.starts_with('2') && code.len() == 3 {
        Ok(())
    } else if status.is_empty() {
        Err("no answer".into())
    } else {
        Err(format!("answered `{status}`"))
    }
}
