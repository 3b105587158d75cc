//! The fuzz targets' entry points as property tests, so every CI run covers them: any input,
//! no panic, and what parses round-trips.

use proptest::prelude::*;
use staffhome::booking::Catalog;
use staffhome::config::Config;
use staffhome::wecom::xml;

fn catalog() -> Catalog {
    Catalog::from_config(&Config::from_toml(staffhome::demo::DEMO_CONFIG, |_| None).expect("demo config"))
}

/// Strings that look a bit like WeCom XML, so the parser's deeper paths are reached.
fn xmlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<xml>".to_string()),
        Just("</xml>".to_string()),
        Just("<MsgType>text</MsgType>".to_string()),
        Just("<MsgType><![CDATA[event]]></MsgType>".to_string()),
        Just("<Event>click</Event>".to_string()),
        Just("<FromUserName>u</FromUserName>".to_string()),
        Just("<CreateTime>1</CreateTime>".to_string()),
        Just("<MsgId>18446744073709551615</MsgId>".to_string()),
        Just("<Encrypt>abc</Encrypt>".to_string()),
        Just(
            "<SelectedItems><SelectedItem><OptionIds><OptionId>1</OptionId></OptionIds></SelectedItem></SelectedItems>"
                .to_string()
        ),
        "\\PC{0,12}",
        "[<>/&;!\\[\\]]{1,4}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn xml_parsers_never_panic_and_round_trip(text in xmlish()) {
        let _ = xml::parse_envelope(&text);
        let _ = staffhome::wecom::sim::parse_encrypted_reply(&text);
        if let Ok(msg) = xml::parse_inbound(&text) {
            let _ = msg.dedupe_key();
            prop_assert_eq!(xml::parse_inbound(&staffhome::wecom::sim::inbound_xml(&msg)).ok(), Some(msg));
        }
    }

    #[test]
    fn the_command_parser_never_panics(text in "\\PC{0,60}") {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        let _ = staffhome::chat::parse(&text, &catalog(), today);
    }

    #[test]
    fn the_command_parser_handles_booking_like_noise(
        words in proptest::collection::vec(
            prop_oneof![
                Just("预约"), Just("健身房"), Just("明天"), Just("18:30"), Just("第9节"), Just("#12"), Just("取消"),
                Just("下周三"), Just("17:30-19:30"), Just("晚上7点半"), Just("２５号"), Just("候补"), Just("通知"), Just("99:99"),
            ],
            0..6,
        )
    ) {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        let _ = staffhome::chat::parse(&words.join(" "), &catalog(), today);
        let _ = staffhome::chat::parse(&words.concat(), &catalog(), today);
    }
}
