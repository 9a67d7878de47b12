//! A file server for the guest (QEMU's user network reaches the host at 10.0.2.2): plain
//! HTTP/1.0 `GET /<name>` of the files a test names, with `Content-Length`, on an ephemeral
//! port of 127.0.0.1, from a thread that lives as long as the test process. Enough for
//! busybox `wget`; what it served is counted so a test can see the guest fetched it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub struct FileServer {
    pub port: u16,
    /// Files served whole so far.
    pub served: Arc<AtomicUsize>,
}

/// Serves `files` (URL name → file on the host) until the process ends.
pub fn serve_files(files: HashMap<String, PathBuf>) -> FileServer {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the file server");
    let port = listener.local_addr().expect("file server address").port();
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let files = files.clone();
            let count = count.clone();
            std::thread::spawn(move || {
                if let Err(e) = answer(conn, &files, &count) {
                    eprintln!("file server: {e}");
                }
            });
        }
    });
    FileServer { port, served }
}

fn answer(conn: TcpStream, files: &HashMap<String, PathBuf>, served: &AtomicUsize) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // the headers up to the empty line
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let mut out = conn;
    let name = match request.split_whitespace().collect::<Vec<_>>()[..] {
        ["GET", path, _] => path.trim_start_matches('/').to_string(),
        _ => {
            out.write_all(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")?;
            return Ok(());
        }
    };
    let Some(bytes) = files.get(&name).and_then(|p| std::fs::read(p).ok()) else {
        out.write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    };
    write!(
        out,
        "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        bytes.len()
    )?;
    out.write_all(&bytes)?;
    out.flush()?;
    served.fetch_add(1, Ordering::SeqCst);
    Ok(())
}
