//! Table-driven: what people type, and the Command it must become.

use chrono::{NaiveDate, NaiveTime};
use staffhome::booking::Catalog;
use staffhome::chat::dates::{DayPart, SlotSpec};
use staffhome::chat::{parse, Command, Parsed, SlotRequest};
use staffhome::config::Config;

fn catalog() -> Catalog {
    let text = crate::common::config_text("http://127.0.0.1:1", std::path::Path::new("unused.db"));
    Catalog::from_config(&Config::from_toml(&text, |_| None).expect("config"))
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).expect("date") // a Monday
}

fn d(month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(2026, month, day)
}

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("time")
}

fn req(facility: Option<&str>, date: Option<NaiveDate>, slot: Option<SlotSpec>, part: Option<DayPart>) -> SlotRequest {
    SlotRequest { facility: facility.map(str::to_string), date, slot, part, repeat: None, partners: vec![] }
}

fn book(facility: &str, date: Option<NaiveDate>, slot: Option<SlotSpec>) -> Command {
    Command::Book(req(Some(facility), date, slot, None))
}

#[test]
fn what_people_type_becomes_the_right_command() {
    use SlotSpec::{Number, Range, Time};
    let cases: Vec<(&str, Command)> = vec![
        ("帮助", Command::Help),
        ("help", Command::Help),
        ("HELP", Command::Help),
        ("？", Command::Help),
        ("菜单", Command::Help),
        ("设施", Command::Facilities),
        ("facilities", Command::Facilities),
        ("我的", Command::Mine),
        ("我的预约", Command::Mine),
        ("mine", Command::Mine),
        ("状态", Command::Board),
        ("看板", Command::Board),
        ("发布 下周", Command::Publish),
        ("发布", Command::Publish),
        ("审批", Command::Approvals),
        ("待审批", Command::Approvals),
        ("待我审批", Command::Approvals),
        ("空闲", Command::Free(SlotRequest::default())),
        ("free", Command::Free(SlotRequest::default())),
        ("空闲 健身房", Command::Free(req(Some("gym"), None, None, None))),
        ("空闲 健身房 明天", Command::Free(req(Some("gym"), d(11, 24), None, None))),
        ("明天健身房有空吗", Command::Free(req(Some("gym"), d(11, 24), None, None))),
        ("明天晚上羽毛球还有空吗", Command::Free(req(Some("badminton"), d(11, 24), None, Some(DayPart::Evening)))),
        ("今晚乒乓球有空位吗？", Command::Free(req(Some("pingpong"), d(11, 23), None, Some(DayPart::Evening)))),
        ("free gym tomorrow", Command::Free(req(Some("gym"), d(11, 24), None, None))),
        ("空闲 周五", Command::Free(req(None, d(11, 27), None, None))),
        ("预约 健身房 明天 18:30", book("gym", d(11, 24), Some(Time(t(18, 30))))),
        ("预约健身房明天18:30", book("gym", d(11, 24), Some(Time(t(18, 30))))),
        ("明天 18:30 预约 健身房", book("gym", d(11, 24), Some(Time(t(18, 30))))),
        ("预约　健身房　明天　１８：３０", book("gym", d(11, 24), Some(Time(t(18, 30))))),
        ("预约   健身房    明天   18:30", book("gym", d(11, 24), Some(Time(t(18, 30))))),
        ("预约 健身房 明天 18：30", book("gym", d(11, 24), Some(Time(t(18, 30))))),
        ("预约 健身 明天 18点半", book("gym", d(11, 24), Some(Time(t(18, 30))))),
        ("预约 健身房 明天 18点", book("gym", d(11, 24), Some(Time(t(18, 0))))),
        ("预约 健身房 明天 晚上7点半", book("gym", d(11, 24), Some(Time(t(19, 30))))),
        ("预约 健身房 后天 下午3点", book("gym", d(11, 25), Some(Time(t(15, 0))))),
        ("预约 会议室 11-25 第3节", book("room", d(11, 25), Some(Number(3)))),
        ("预约 会议室 11/25 #3", book("room", d(11, 25), Some(Number(3)))),
        ("预约 会议室 11月25日 第三节", book("room", d(11, 25), Some(Number(3)))),
        ("预约 会议室 2026-11-25 9:30", book("room", d(11, 25), Some(Time(t(9, 30))))),
        ("预约 会议室 25号 10:30", book("room", d(11, 25), Some(Time(t(10, 30))))),
        ("预约 会议室 周三 14:30", book("room", d(11, 25), Some(Time(t(14, 30))))),
        ("预约 会议室 星期四 14:30", book("room", d(11, 26), Some(Time(t(14, 30))))),
        ("预约 会议室 礼拜五 14:30", book("room", d(11, 27), Some(Time(t(14, 30))))),
        ("预约 会议室 下周三 14:30", book("room", d(12, 2), Some(Time(t(14, 30))))),
        ("预约 健身房 明天 17:30-19:30", book("gym", d(11, 24), Some(Range(t(17, 30), t(19, 30))))),
        ("预约 健身房 明天 17点半到19点半", book("gym", d(11, 24), Some(Range(t(17, 30), t(19, 30))))),
        ("预约 健身房 明天 17:30~19:30", book("gym", d(11, 24), Some(Range(t(17, 30), t(19, 30))))),
        ("预约 健身房 明天 9", book("gym", d(11, 24), Some(Number(9)))),
        ("book gym tomorrow 18:30", book("gym", d(11, 24), Some(Time(t(18, 30))))),
        ("预定 乒乓 周五 19:30", book("pingpong", d(11, 27), Some(Time(t(19, 30))))),
        ("我想预约明天晚上七点的羽毛球", book("badminton", d(11, 24), Some(Time(t(19, 0))))),
        ("帮我订一下周五的跑步机 第10节", book("treadmill", d(11, 27), Some(Number(10)))),
        ("预约 健身房", book("gym", None, None)),
        ("预约 明天 18:30", Command::Book(req(None, d(11, 24), Some(Time(t(18, 30))), None))),
        ("预约", Command::Book(SlotRequest::default())),
        ("候补 乒乓球 周五 19:30", Command::Waitlist(req(Some("pingpong"), d(11, 27), Some(Time(t(19, 30))), None))),
        (
            "waitlist pingpong tomorrow 19:30",
            Command::Waitlist(req(Some("pingpong"), d(11, 24), Some(Time(t(19, 30))), None)),
        ),
        ("排队 乒乓 明天 第11节", Command::Waitlist(req(Some("pingpong"), d(11, 24), Some(Number(11)), None))),
        ("取消 12", Command::Cancel(Some(12))),
        ("取消 #12", Command::Cancel(Some(12))),
        ("取消#12", Command::Cancel(Some(12))),
        ("取消预约 12", Command::Cancel(Some(12))),
        ("取消我的预约 ＃１２", Command::Cancel(Some(12))),
        ("cancel 12", Command::Cancel(Some(12))),
        ("取消", Command::Cancel(None)),
        ("确认 12", Command::Confirm(Some(12))),
        ("confirm #7", Command::Confirm(Some(7))),
    ];
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let catalog = catalog();
    for (input, want) in cases {
        assert_eq!(parse(input, &catalog, today()), Parsed::Command(want), "input {input:?}");
    }
}

#[test]
fn fragments_continue_a_dialogue() {
    let catalog = catalog();
    let cases = vec![
        ("18:30", req(None, None, Some(SlotSpec::Time(t(18, 30))), None)),
        ("明天", req(None, d(11, 24), None, None)),
        ("健身房", req(Some("gym"), None, None, None)),
        ("第9节", req(None, None, Some(SlotSpec::Number(9)), None)),
        ("明天 晚上", req(None, d(11, 24), None, Some(DayPart::Evening))),
    ];
    for (input, want) in cases {
        assert_eq!(parse(input, &catalog, today()), Parsed::Fragment(want), "input {input:?}");
    }
}

#[test]
fn what_cannot_be_understood_is_refused_politely() {
    let catalog = catalog();
    let refusals = [
        "",
        "   ",
        "asdf qwerty",
        "你是谁",
        "今天天气怎么样",
        "预约 游泳池 明天 18:30",
        "空闲 篮球场",
        "预约 健身房 2026-02-30 18:30",
        "预约 健身房 明天 25:00",
        "hepl",
        "cancle 12",
        "预约 健身房 明天 18:30 顺便订个外卖",
        "健身房 随便什么时候",
    ];
    assert!(refusals.len() >= 10);
    for input in refusals {
        match parse(input, &catalog, today()) {
            Parsed::Unknown { suggestion, .. } => assert!(!suggestion.is_empty(), "{input:?}"),
            other => panic!("{input:?} should be refused, got {other:?}"),
        }
    }
    // The closest command is suggested for a typo.
    let Parsed::Unknown { suggestion, .. } = parse("hepl", &catalog, today()) else { unreachable!() };
    assert_eq!(suggestion, "帮助");
    let Parsed::Unknown { problem, .. } = parse("预约 游泳池 明天 18:30", &catalog, today()) else {
        unreachable!()
    };
    assert!(problem.unwrap_or_default().contains("游泳池"));
}

/// The command table is the one place a command is declared: each row is reached by its own
/// example (in Chinese and by its English word), is in the help, and is read-only exactly when
/// it changes nothing.
#[test]
fn every_command_in_the_table_is_reachable_has_help_and_is_classified() {
    use staffhome::chat::command::{help_lines, TABLE};
    let catalog = catalog();
    let help = help_lines(true, true);
    for entry in TABLE {
        for text in [entry.example.to_string(), entry.example.replacen(entry.words[0], entry.english, 1)] {
            let Parsed::Command(command) = parse(&text, &catalog, today()) else {
                panic!("{text:?} is not understood");
            };
            let reached = command.entry().unwrap_or_else(|| panic!("{text:?} reached no row"));
            assert!(std::ptr::eq(reached, entry), "{text:?} reached {:?}", reached.english);
        }
        assert!(!entry.what.is_empty(), "{} has no help text", entry.english);
        assert!(help.iter().any(|(words, _, what)| words.contains(entry.english) && *what == entry.what));
    }
    // The commands a row builds only from what follows its word are that row's too (取消 12 全部
    // was once taken for 帮助, so answered on a reader: its calendar deletions were lost).
    for (text, english) in [("取消 12 全部", "cancel"), ("取消 系列 12", "cancel"), ("取消 12 13", "cancel")]
    {
        let Parsed::Command(command) = parse(text, &catalog, today()) else { panic!("{text:?} is not understood") };
        assert_eq!(command.entry().map(|e| e.english), Some(english), "{text:?}");
        assert!(!command.is_read_only(), "{text:?} changes something");
    }
    let read_only: Vec<&str> = TABLE.iter().filter(|e| e.read_only).map(|e| e.english).collect();
    assert_eq!(read_only, ["help", "facilities", "free", "mine", "board", "settings", "approvals", "report"]);
}

/// 你好, 谢谢, 好的 are what staff say to a colleague: answered in kind, never "not understood";
/// a thanks or a 麻烦 around a command leaves the command as it was.
#[test]
fn small_talk_is_answered_in_kind_and_politeness_around_a_command_is_ignored() {
    use staffhome::chat::SmallTalk;
    let catalog = catalog();
    for (input, talk) in [
        ("你好", SmallTalk::Hello),
        ("您好！", SmallTalk::Hello),
        ("在吗", SmallTalk::Hello),
        ("Hello", SmallTalk::Hello),
        ("谢谢啊", SmallTalk::Thanks),
        ("thanks!", SmallTalk::Thanks),
        ("好的", SmallTalk::Noted),
        ("收到", SmallTalk::Noted),
    ] {
        assert_eq!(parse(input, &catalog, today()), Parsed::SmallTalk(talk), "{input:?}");
    }
    let plain = parse("预约 健身房 明天 18:30", &catalog, today());
    for polite in ["预约 健身房 明天 18:30 谢谢", "麻烦预约 健身房 明天 18:30", "预约 健身房 明天 18:30 thanks"]
    {
        assert_eq!(parse(polite, &catalog, today()), plain, "{polite:?}");
    }
    let free = parse("空闲 健身房 明天", &catalog, today());
    assert_eq!(parse("麻烦帮我查一下 空闲 健身房 明天", &catalog, today()), free);
}

#[tokio::test]
async fn a_greeting_gets_the_welcome_and_thanks_a_reply_through_the_protocol() {
    let app = crate::common::TestApp::spawn().await;
    let hello = app.say("zhang", "你好").await;
    assert!(hello.starts_with("你好，欢迎使用职工之家预约") && !hello.contains("没太明白"), "{hello}");
    assert!(app.say("zhang", "谢谢").await.starts_with("不客气"));
    // Not understood with 帮助 as the suggestion: 帮助 is named once.
    let unknown = app.say("zhang", "asdf").await;
    assert_eq!(unknown.matches("帮助").count(), 1, "{unknown}");
}
