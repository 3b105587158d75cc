//! The demo, driven through its prompt as a person would: book, get a card, click it as an
//! approver. So the demo cannot silently rot.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run_demo(script: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_staffhome"))
        .args(["demo", "--port", "0"])
        .env("STAFFHOME_NOW", "2026-11-23T10:00:00+08:00")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start staffhome demo");
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("write script");
    // /quit ends the demo; the deadline only guards against a hang.
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "demo did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut out).expect("read");
    out
}

/// Every line of `expected` is somewhere in the demo's output.
fn shows(out: &str, expected: &[&str]) {
    for line in expected {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}

#[test]
fn book_get_a_card_and_approve_it_through_the_prompt() {
    let out = run_demo(
        "预约 健身房 明天 18:30\n\
         预约 会议室 明天 第3节\n\
         /sync\n\
         /as dept_head\n\
         /click 1\n\
         /sync\n\
         /as office_admin\n\
         /click 1\n\
         /sync\n\
         /as zhangsan\n\
         我的\n\
         /scan gym\n\
         /quit\n",
    );
    shows(
        &out,
        &[
            "看板 board: http://127.0.0.1:",
            "预约成功！\n#1 健身房 11月24日 周二 18:30-19:30",
            "[凭证 → zhangsan] 预约凭证 #1 健身房",
            "[日程 → zhangsan] 健身房 11-24 18:30-19:30",
            "已提交预约申请，等待审批",
            "[卡片 → dept_head] 会议室预约审批",
            "/click 1 通过   /click 2 驳回",
            "（点击「通过」）[按钮] 已通过",
            "[卡片 → office_admin] 会议室预约审批",
            "[卡片 → zhangsan] 预约审批已通过",
            "#2 会议室 11月24日 周二 10:30-11:30【已预约】",
            "你今天在健身房没有可签到的预约",
            "再见。",
        ],
    );
}

#[test]
fn the_demo_shows_cards_to_tap_and_the_members_page() {
    let out = run_demo(
        "空闲 健身房 明天\n\
         /click 3\n\
         我的\n\
         /click 1\n\
         /page\n\
         /as admin1\n\
         发布 下周\n\
         /quit\n",
    );
    shows(
        &out,
        &[
            "成员页 member page: http://127.0.0.1:",
            "[卡片 → zhangsan] 健身房 11月24日 周二 — 点一下即预约",
            "/click 1 08:30 剩10   /click 2 09:30 剩10   /click 3 10:30 剩10",
            "（点击「10:30 剩10」）[按钮] 已预约 #1 10:30",
            "[凭证 → zhangsan] 预约凭证 #1 健身房",
            "[卡片 → zhangsan] #1 健身房 11月24日 周二 10:30-11:30 — 我的预约",
            "/click 1 改约   /click 2 取消预约",
            "（点击「改约」）打开页面：http://127.0.0.1:",
            "/m?facility=gym&week=this&moving=1",
            "/m?signin=1  （在浏览器中以 zhangsan 登录）",
            "[群机器人 → 全员群] **职工之家 11月30日 周一 至 12月6日 周日 的预约已开放**",
        ],
    );
}

#[test]
fn the_demo_shows_a_move_and_a_waitlist_offer() {
    let out = run_demo(
        "预约 跑步机 今天 12:00\n\
         /as lisi\n\
         候补 跑步机 今天 12:00\n\
         /as zhangsan\n\
         改约 1 13:00\n\
         /as lisi\n\
         /sync\n\
         /click 1\n\
         /quit\n",
    );
    shows(
        &out,
        &[
            "已改约：原 #1 跑步机 11月23日 周一 12:00-13:00 已释放。",
            "[日程改期 → zhangsan] 跑步机 11-23 13:00-14:00",
            "[卡片 → lisi] 候补名额为你保留 — 跑步机 11月23日 周一 12:00-13:00",
            "/click 1 接受   /click 2 放弃",
            "（点击「接受」）[按钮] 已接受",
            "[推送 → lisi] 已为你候补成功：跑步机 11月23日 周一 12:00-13:00",
        ],
    );
}

#[test]
fn the_demo_shows_a_recurring_booking() {
    let out = run_demo("预约 羽毛球 每周三 18:30 3周\n/as admin1\n发布 下周\n/quit\n");
    shows(
        &out,
        &[
            "周期预约：羽毛球 每周三 18:30，3 周",
            "#1 羽毛球 11月25日 周三 18:30-19:30",
            "待开放周，开放时优先为你预约：12月2日 周三、12月9日 周三",
            "[凭证 → zhangsan] 预约凭证 #2 羽毛球",
        ],
    );
}

#[test]
fn the_demo_books_with_a_colleague() {
    let out = run_demo("预约 乒乓球 明天 18:30 和 lisi\n/as lisi\n接受\n/quit\n");
    shows(
        &out,
        &[
            "同事：lisi wangwu",
            "同伴：lisi（已发邀请，TA 接受或拒绝时会告诉你）",
            "[卡片 → lisi] zhangsan 约你一起去 — 乒乓球 11月24日 周二 18:30-19:30",
            "已接受：#2 乒乓球 11月24日 周二 18:30-19:30",
            "[推送 → zhangsan] lisi 接受了你的邀请",
        ],
    );
}

#[test]
fn tick_moves_the_demos_time_on() {
    let out = run_demo("预约 乒乓球 今天 12:00\n签到\n/tick 11:55\n签到\n/quit\n");
    shows(&out, &["还没到签到时间", "定时任务 @ 11-23 11:55", "签到成功！乒乓球 11月23日 周一 12:00-13:00（#1）"]);
}
