//! Terminal styling: ANSI colour when asked for, plain text otherwise.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// ANSI colour.
    pub color: bool,
    /// Fit the output into this many columns (a terminal's width); `None`
    /// leaves narration lines whole, for files and pipes.
    pub width: Option<usize>,
    /// Repeat every detail at every step (`-v`): the options on both ends
    /// of a segment, the ISN's origin and each rule's text each time. By
    /// default a thing is said once per run.
    pub verbose: bool,
}

impl Style {
    /// No colour, no width.
    pub const PLAIN: Style = Style {
        color: false,
        width: None,
        verbose: false,
    };

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn client(&self, s: &str) -> String {
        self.paint("36", s)
    }
    pub fn server(&self, s: &str) -> String {
        self.paint("35", s)
    }
    pub fn strong(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn bad(&self, s: &str) -> String {
        self.paint("31", s)
    }
}
