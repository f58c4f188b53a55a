//! A real SMTP sink for `mailto:` notifications: a server on 127.0.0.1:0 that speaks enough
//! SMTP for a relay client (greeting, EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and
//! keeps every mail it accepts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One mail as accepted: its envelope and its data (headers and body, dot-unstuffed).
#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl Mail {
    /// A header's value (the first of that name), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.data.split_once("\r\n\r\n")?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            match (&mut value, line.starts_with([' ', '\t'])) {
                (Some(v), true) => v.push_str(line.trim_start()),
                (Some(_), false) => break,
                (None, _) => {
                    if let Some((n, v)) = line.split_once(':') {
                        if n.eq_ignore_ascii_case(name) {
                            value = Some(v.trim().to_owned());
                        }
                    }
                }
            }
        }
        value
    }

    /// The body after the headers, soft line breaks of quoted-printable undone.
    pub fn body(&self) -> String {
        let body = self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        match self.header("Content-Transfer-Encoding").as_deref() {
            Some(e) if e.eq_ignore_ascii_case("quoted-printable") => unquote(body),
            _ => body.replace("\r\n", "\n"),
        }
    }
}

/// Decodes quoted-printable text.
fn unquote(text: &str) -> String {
    let joined = text.replace("=\r\n", "");
    let mut out = Vec::with_capacity(joined.len());
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = joined.get(i + 1..i + 3).filter(|_| bytes[i] == b'=');
        if let Some(b) = escaped.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}

/// The sink; it stops with its task when dropped.
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let kept = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, kept.clone()));
            }
        });
        SmtpSink { port, mails, task }
    }

    /// `smtp://127.0.0.1:PORT`, for the server's settings.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Waits (at most `within`) until `n` mails have arrived; all of them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + within;
        loop {
            let mails = self.mails.lock().unwrap().clone();
            if mails.len() >= n {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "{} mails of {n}: {mails:#?}",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One client's conversation.
async fn session(stream: TcpStream, mails: Arc<Mutex<Vec<Mail>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut mail = Mail::default();
    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let answer: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250 sink\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            mail = Mail {
                from: address(&line["MAIL FROM:".len()..]),
                ..Mail::default()
            };
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(address(&line["RCPT TO:".len()..]));
            b"250 OK\r\n"
        } else if upper == "DATA" {
            let _ = write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await;
            while let Ok(Some(data)) = lines.next_line().await {
                if data == "." {
                    break;
                }
                mail.data.push_str(data.strip_prefix('.').unwrap_or(&data));
                mail.data.push_str("\r\n");
            }
            mails.lock().unwrap().push(std::mem::take(&mut mail));
            b"250 OK queued\r\n"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 Bye\r\n").await;
            return;
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 OK\r\n"
        } else {
            b"502 Not implemented\r\n"
        };
        if write.write_all(answer).await.is_err() {
            return;
        }
    }
}

/// The address of a `MAIL FROM:` or `RCPT TO:` argument, without its brackets.
fn address(argument: &str) -> String {
    let argument = argument.trim();
    let end = argument.find('>').map_or(argument.len(), |i| i + 1);
    argument[..end]
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}
