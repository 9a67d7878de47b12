//! The fleet's update server for the guest (QEMU's user network reaches the host at
//! 10.0.2.2): Python's `http.server`, a real HTTP/1.1 server we did not write, on an
//! ephemeral port of 127.0.0.1, serving a temporary directory that holds links to the files a
//! test names and the files it writes (the update manifest). Its access log tells which
//! files the guest fetched. Stopped when the [`FileServer`] is dropped.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

pub struct FileServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
    log: Arc<Mutex<String>>,
}

/// Serves `files` (URL name → file on the host) until the server is dropped.
pub fn serve_files(files: HashMap<String, PathBuf>) -> FileServer {
    let dir = tempfile::Builder::new().prefix("hw-http").tempdir().expect("temp dir");
    for (name, path) in &files {
        std::os::unix::fs::symlink(path, dir.path().join(name)).expect("link a served file");
    }
    let mut child = Command::new("python3")
        .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0", "--directory"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 -m http.server");
    // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
    let mut first = String::new();
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    out.read_line(&mut first).expect("http.server's first line");
    let port = first.split_whitespace().nth(5).and_then(|p| p.parse().ok());
    let port = port.unwrap_or_else(|| panic!("http.server said {first:?}"));
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let log = Arc::new(Mutex::new(String::new()));
    let (mut err, sink) = (child.stderr.take().expect("stderr"), log.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap_or_else(|p| p.into_inner()).push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    FileServer { port, dir, child, log }
}

impl FileServer {
    /// Writes (or replaces, atomically) a served file.
    pub fn put(&self, name: &str, bytes: &[u8]) {
        let tmp = self.dir.path().join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).expect("write a served file");
        std::fs::rename(&tmp, self.dir.path().join(name)).expect("rename a served file");
    }

    /// How many times `name` was answered 200 (from the server's access log).
    pub fn fetched(&self, name: &str) -> usize {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner()).clone();
        log.lines().filter(|l| l.contains(&format!("\"GET /{name} HTTP/")) && l.contains("\" 200 ")).count()
    }

    /// The server's access log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
