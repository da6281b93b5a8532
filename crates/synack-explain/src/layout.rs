//! Text that fits the terminal: display columns (a CJK character takes two,
//! colour codes none), wrapping between words in English and between
//! characters in Chinese, without starting a line with closing punctuation
//! or ending one with an opening bracket (the usual CJK line-breaking
//! rules), and with a hanging indent for narration lines.

/// Punctuation a Chinese line must not start with.
const NO_START: &str = "，。、；：！？）」』》〉】”’…";
/// Punctuation a Chinese line must not end with.
const NO_END: &str = "（「『《〈【“‘";

/// Columns `c` takes: two for East Asian wide and fullwidth characters.
fn char_cols(c: char) -> usize {
    let u = u32::from(c);
    let wide = matches!(u,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD);
    if wide { 2 } else { 1 }
}

/// Columns a string takes on a terminal; ANSI colour sequences take none.
pub fn cols(s: &str) -> usize {
    let mut n = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // ESC [ … m
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
            continue;
        }
        n += char_cols(c);
    }
    n
}

/// Words, spaces and single wide characters.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        if c == ' ' || char_cols(c) == 2 {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            out.push(c.to_string());
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

fn is_in(t: &str, set: &str) -> bool {
    let mut c = t.chars();
    matches!((c.next(), c.next()), (Some(x), None) if set.contains(x))
}

/// Wrap `s` (one paragraph): the first line at `first` columns, the others
/// at `rest`. A token longer than a line is kept whole.
pub fn wrap_with(s: &str, first: usize, rest: usize) -> Vec<String> {
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    let mut col = 0;
    for t in tokens(s) {
        let width = if lines.is_empty() { first } else { rest };
        let w = cols(&t);
        if col + w > width && col > 0 {
            // Move what may not end a line, or what the next line may not
            // start with, down with the break.
            let mut carry: Vec<String> = Vec::new();
            if is_in(&t, NO_START) {
                // Down with it goes the token before, and before that while
                // the new line would still start with closing punctuation.
                while cur.len() > 1 {
                    let Some(x) = cur.pop() else { break };
                    let done = !is_in(&x, NO_START);
                    carry.push(x);
                    if done {
                        break;
                    }
                }
            }
            while cur.len() > 1 && cur.last().is_some_and(|x| is_in(x, NO_END)) {
                carry.extend(cur.pop());
            }
            carry.reverse();
            while cur.last().is_some_and(|x| x == " ") {
                cur.pop();
            }
            lines.push(std::mem::take(&mut cur));
            cur = carry;
            col = cur.iter().map(|x| cols(x)).sum();
            if t == " " && cur.is_empty() {
                continue;
            }
        }
        col += w;
        cur.push(t);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines.into_iter().map(|l| l.concat()).collect()
}

/// Wrap a paragraph at `width` columns.
pub fn wrap(s: &str, width: usize) -> String {
    wrap_with(s, width, width).join("\n")
}

/// Fit every line of `text` into `width` columns; a wrapped line goes on
/// indented two more than it began.
pub fn fit(text: &str, width: usize) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        if cols(body) <= width {
            out.push_str(line);
            continue;
        }
        let indent = body.len() - body.trim_start_matches(' ').len();
        let pad = " ".repeat(indent + 2);
        let parts = wrap_with(
            &body[indent..],
            width.saturating_sub(indent).max(10),
            width.saturating_sub(indent + 2).max(10),
        );
        for (i, p) in parts.iter().enumerate() {
            out.push_str(if i == 0 { &body[..indent] } else { &pad });
            out.push_str(p);
            if i + 1 < parts.len() {
                out.push('\n');
            }
        }
        out.push_str(nl);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_cjk_twice_and_colour_not_at_all() {
        assert_eq!(cols("SYN"), 3);
        assert_eq!(cols("半连接"), 6);
        assert_eq!(cols("\x1b[1mSYN\x1b[0m"), 3);
        assert_eq!(cols("2·MSL → µs"), 10);
    }

    #[test]
    fn chinese_lines_follow_the_breaking_rules() {
        let s =
            "客户端在十秒后放弃（超时），报告错误。服务器什么也没有回复，所以这是被过滤的端口。";
        for width in 6..40 {
            for line in wrap_with(s, width, width) {
                assert!(cols(&line) <= width + 2, "{width}: {line}");
                assert!(
                    !line.starts_with(|c| NO_START.contains(c)),
                    "{width}: {line}"
                );
                assert!(!line.ends_with(|c| NO_END.contains(c)), "{width}: {line}");
            }
        }
    }

    #[test]
    fn long_lines_hang_indented() {
        let t = "    receives SYN [S] seq=1000 win=64240 options: MSS 1460, SACK permitted\n";
        let f = fit(t, 40);
        assert!(f.lines().all(|l| cols(l) <= 40), "{f}");
        assert!(f.lines().skip(1).all(|l| l.starts_with("      ")), "{f}");
        assert_eq!(
            f.split_whitespace().collect::<Vec<_>>(),
            t.split_whitespace().collect::<Vec<_>>()
        );
    }
}
