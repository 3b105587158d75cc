//! The outer envelope and the decrypted inner XML: any text, no panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = staffhome::wecom::xml::parse_envelope(text);
        if let Ok(msg) = staffhome::wecom::xml::parse_inbound(text) {
            let _ = msg.dedupe_key();
            // What we parse, we can write back and parse again to the same message.
            let again = staffhome::wecom::xml::parse_inbound(&staffhome::wecom::sim::inbound_xml(&msg));
            assert_eq!(again.ok(), Some(msg));
        }
        let _ = staffhome::wecom::sim::parse_encrypted_reply(text);
        let _ = staffhome::wecom::sim::parse_plain_reply(text);
    }
});
