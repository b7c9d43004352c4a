//! Just enough of QMP (QEMU's JSON control protocol) to press
//! Ctrl-Alt-Del.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Connects, negotiates capabilities and sends Ctrl-Alt-Del.
pub fn ctrl_alt_del(socket: &Path) -> std::io::Result<()> {
    let stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    reader.read_line(&mut line)?; // greeting
    command(&mut writer, &mut reader, r#"{"execute":"qmp_capabilities"}"#)?;
    command(
        &mut writer,
        &mut reader,
        r#"{"execute":"send-key","arguments":{"keys":[{"type":"qcode","data":"ctrl"},{"type":"qcode","data":"alt"},{"type":"qcode","data":"delete"}]}}"#,
    )
}

fn command(writer: &mut UnixStream, reader: &mut impl BufRead, json: &str) -> std::io::Result<()> {
    writer.write_all(json.as_bytes())?;
    writer.write_all(b"\n")?;
    // Skip asynchronous events until the command's answer.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "QMP closed"));
        }
        let value: serde_json::Value = serde_json::from_str(&line).map_err(std::io::Error::other)?;
        if let Some(err) = value.get("error") {
            return Err(std::io::Error::other(format!("QMP: {err}")));
        }
        if value.get("return").is_some() {
            return Ok(());
        }
    }
}
