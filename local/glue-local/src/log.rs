//! The twin's log: one line per call and state change, to stderr, with the time.

/// One line to stderr, with the time (never panics if stderr is gone). Declared with
/// `#[macro_use]` before the other modules, so every module below main.rs can use it.
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log::line(format_args!($($arg)*))
    };
}

pub(crate) fn line(args: std::fmt::Arguments<'_>) {
    let time = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
    #[cfg(test)]
    eprintln!("{time} glue-local: {args}"); // captured by the test harness
    #[cfg(not(test))]
    {
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "{time} glue-local: {args}");
    }
}
