//! The `log` import: a helper's log lines on credbox's stderr, redacted and
//! capped.

use std::io::Write;

use crate::redact::{Redactor, one_line};

/// Most lines one run may log; past it one notice is printed and the rest
/// dropped.
pub const MAX_LINES: usize = 50;
/// Longest single line, in bytes (after redaction).
pub const MAX_LINE_LEN: usize = 1024;

/// Severity, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Detail for debugging a helper.
    Debug,
    /// Progress worth seeing with `--verbose`.
    Info,
    /// Something the user should know.
    Warn,
    /// Something failed.
    Error,
    /// Above every level: as a minimum, prints nothing. For `credbox gcp`,
    /// whose clients read stderr as part of its answer.
    Off,
}

impl LogLevel {
    fn label(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Off => "off",
        }
    }
}

/// Writes a helper's log lines to a sink (stderr in the binary).
pub struct GuestLog {
    helper: String,
    redactor: Redactor,
    min_level: LogLevel,
    lines: usize,
    sink: Box<dyn Write + Send>,
}

impl GuestLog {
    /// A log for `helper` that prints lines at `min_level` and above.
    pub fn new(
        helper: &str,
        redactor: Redactor,
        min_level: LogLevel,
        sink: Box<dyn Write + Send>,
    ) -> Self {
        GuestLog {
            helper: one_line(helper, 128),
            redactor,
            min_level,
            lines: 0,
            sink,
        }
    }

    /// Logs one line from the helper.
    pub fn log(&mut self, level: LogLevel, message: &str) {
        if level < self.min_level {
            return;
        }
        self.lines += 1;
        if self.lines > MAX_LINES {
            if self.lines == MAX_LINES + 1 {
                let notice = format!(
                    "credbox: {}: more than {MAX_LINES} log lines; the rest are dropped\n",
                    self.helper
                );
                let _ = self.sink.write_all(notice.as_bytes());
            }
            return;
        }
        // Cut before it is processed: only the first MAX_LINE_LEN bytes
        // (and the longest secret's length past them) are read.
        let text = self.redactor.line(message, MAX_LINE_LEN);
        let line = format!("credbox: {}: {}: {text}\n", self.helper, level.label());
        // A closed stderr must not fail the run.
        let _ = self.sink.write_all(line.as_bytes());
    }

    /// Masks `secret` in every later line too (a state value the helper
    /// read or wrote during the run).
    pub fn add_secret(&mut self, secret: &str) {
        self.redactor.add(secret);
    }

    /// Shows a message to the user of `credbox login` (a verification URL
    /// and code), whatever the log level: redacted, one line, capped, and
    /// counted with the log lines. It reads `credbox: NAME says: …`, so
    /// that a helper cannot pass its words off as credbox's own lines
    /// (`credbox: NAME: logged in; …`).
    pub fn show(&mut self, message: &str) {
        self.lines += 1;
        if self.lines > MAX_LINES {
            return;
        }
        let text = self.redactor.line(message, MAX_LINE_LEN);
        let line = format!("credbox: {} says: {text}\n", self.helper);
        let _ = self.sink.write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_filtered_redacted_and_capped() {
        let sink = Sink::default();
        let mut log = GuestLog::new(
            "h",
            Redactor::new(["topsecret"]),
            LogLevel::Info,
            Box::new(sink.clone()),
        );
        log.log(LogLevel::Debug, "hidden");
        log.log(LogLevel::Info, "token=topsecret\nforged");
        for _ in 0..MAX_LINES + 10 {
            log.log(LogLevel::Warn, &"x".repeat(5000));
        }
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "credbox: h: info: token=[redacted]\\nforged");
        assert!(!text.contains("hidden"));
        assert_eq!(lines.len(), MAX_LINES + 1);
        assert!(lines[MAX_LINES].contains("the rest are dropped"));
        assert!(lines[1].len() < MAX_LINE_LEN + 40);
    }

    #[test]
    fn shown_lines_are_marked_as_the_helpers() {
        let sink = Sink::default();
        let mut log = GuestLog::new(
            "h",
            Redactor::default(),
            LogLevel::Warn,
            Box::new(sink.clone()),
        );
        log.show("credbox: h: logged in; keeps token in the OS keystore");
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "credbox: h says: credbox: h: logged in; keeps token in the OS keystore\n"
        );
    }
}
