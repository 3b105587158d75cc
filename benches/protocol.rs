//! Micro-benchmarks of the per-callback work: verify + decrypt, XML parse, command parse.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use staffhome::booking::Catalog;
use staffhome::config::Config;
use staffhome::wecom::{xml, WeComCrypto};

fn protocol(c: &mut Criterion) {
    let crypto = WeComCrypto::new("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
        .expect("crypto");
    let inner = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1409659813</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[预约 健身房 明天 18:30]]></Content><MsgId>4561255354251345929</MsgId><AgentID>218</AgentID></xml>";
    let encrypt = crypto.encrypt(inner);
    let signature = crypto.sign("1409659813", "1372623149", &encrypt);
    let envelope = format!("<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>");
    c.bench_function("verify + decrypt", |b| {
        b.iter(|| crypto.open(black_box(&signature), "1409659813", "1372623149", black_box(&encrypt)).expect("opens"))
    });
    c.bench_function("encrypt reply", |b| b.iter(|| crypto.encrypt(black_box(inner))));
    c.bench_function("parse envelope + inner XML", |b| {
        b.iter(|| {
            xml::parse_envelope(black_box(&envelope)).expect("envelope");
            xml::parse_inbound(black_box(inner)).expect("inner")
        })
    });
    let catalog = Catalog::from_config(&Config::from_toml(staffhome::demo::DEMO_CONFIG, |_| None).expect("config"));
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    c.bench_function("parse command", |b| {
        b.iter(|| staffhome::chat::parse(black_box("明天晚上七点半 预约 羽毛球 17:30-19:30"), &catalog, today))
    });
}

criterion_group!(benches, protocol);
criterion_main!(benches);
