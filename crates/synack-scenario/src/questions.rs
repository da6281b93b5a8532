//! The sixteen questions learners and interviewers ask about the
//! handshake, each with the scenarios that answer it by demonstration.
//! `explain --help` and the README list them from here.

/// One question, in Chinese as it is usually asked and in English, and
/// the scenarios (by name) that show the answer.
pub struct Question {
    pub zh: &'static str,
    pub en: &'static str,
    pub scenarios: &'static [&'static str],
}

pub static QUESTIONS: [Question; 16] = [
    Question {
        zh: "为什么是三次握手而不是两次？",
        en: "Why three segments, not two?",
        scenarios: &["old-duplicate"],
    },
    Question {
        zh: "每次握手的 seq/ack 怎么算？SYN 为什么占一个序列号？",
        en: "How are seq and ack computed? Why does a SYN take a sequence number?",
        scenarios: &["normal", "data"],
    },
    Question {
        zh: "ISN 为什么要随机？怎么生成？",
        en: "Why is the ISN random, and how is it made?",
        scenarios: &["isn"],
    },
    Question {
        zh: "第一次握手 SYN 丢失会怎样？",
        en: "What if the SYN is lost?",
        scenarios: &["syn-lost", "filtered"],
    },
    Question {
        zh: "第二次握手 SYN-ACK 丢失会怎样？",
        en: "What if the SYN-ACK is lost?",
        scenarios: &["synack-lost"],
    },
    Question {
        zh: "第三次握手 ACK 丢失会怎样？",
        en: "What if the third ACK is lost?",
        scenarios: &["ack-lost"],
    },
    Question {
        zh: "握手时能携带数据吗？第三次可以吗？",
        en: "Can the handshake carry data? The third segment?",
        scenarios: &["third-ack-data", "fast-open"],
    },
    Question {
        zh: "半连接队列、全连接队列是什么？满了会怎样？",
        en: "What are the SYN queue and the accept queue, and what if they are full?",
        scenarios: &["accept-queue", "syn-flood"],
    },
    Question {
        zh: "什么是 SYN 洪泛攻击？SYN cookie 怎么工作？",
        en: "What is a SYN flood, and how do SYN cookies work?",
        scenarios: &["syn-flood"],
    },
    Question {
        zh: "服务端不调用 accept() 能建立连接吗？没有监听呢？",
        en: "Does a connection complete without accept()? Without a listener?",
        scenarios: &["accept-queue", "refused"],
    },
    Question {
        zh: "端口关闭和被过滤有什么区别？",
        en: "What is the difference between a closed port and a filtered one?",
        scenarios: &["refused", "filtered", "unreachable"],
    },
    Question {
        zh: "为什么挥手是四次？什么时候变成三次？",
        en: "Why does closing take four segments, and when only three?",
        scenarios: &["close", "three-way-close"],
    },
    Question {
        zh: "TIME_WAIT 为什么等 2MSL？Linux 为什么是 60 秒？",
        en: "Why does TIME-WAIT last 2·MSL, and 60 s on Linux?",
        scenarios: &["time-wait", "last-ack-lost"],
    },
    Question {
        zh: "两端同时发起连接、同时关闭会怎样？",
        en: "What if both ends open, or close, at the same time?",
        scenarios: &["simultaneous-open", "simultaneous-close"],
    },
    Question {
        zh: "已建立的连接又收到 SYN 会怎样？",
        en: "What if an established connection receives a SYN?",
        scenarios: &["half-open"],
    },
    Question {
        zh: "最大报文段长度、窗口扩大、SACK、时间戳选项何时生效？",
        en: "When do MSS, window scale, SACK and timestamps take effect?",
        scenarios: &["options"],
    },
];

/// The list as `explain --help` shows it: the question in English, in
/// Chinese, then the scenarios; within 80 columns.
pub fn listing() -> String {
    let mut s = String::new();
    for (i, q) in QUESTIONS.iter().enumerate() {
        s.push_str(&format!(
            "  {:>2}. {}\n      {}\n      → {}\n",
            i + 1,
            q.en,
            q.zh,
            q.scenarios.join(", ")
        ));
    }
    s
}

/// The list as a Markdown table, for the README.
pub fn table() -> String {
    let mut s = String::from("| # | question | 问题 | `--scenario` |\n| --- | --- | --- | --- |\n");
    for (i, q) in QUESTIONS.iter().enumerate() {
        let names: Vec<String> = q.scenarios.iter().map(|n| format!("`{n}`")).collect();
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            i + 1,
            q.en,
            q.zh,
            names.join(", ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_question_names_scenarios_that_exist() {
        for q in &QUESTIONS {
            assert!(!q.scenarios.is_empty(), "{}", q.en);
            for s in q.scenarios {
                assert!(crate::by_name(s).is_some(), "{s} ({})", q.en);
            }
        }
    }
}
