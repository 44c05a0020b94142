//! The interner's limits on names read from CSV exports. A test binary of
//! its own: the limits and the table are process-wide.

use netanom_records::intern;
use netanom_sources::csv::read_bytes;

const HEADER: &str =
    "\"No.\",\"Time\",\"Source\",\"Destination\",\"Protocol\",\"Length\",\"Info\"\n";

fn row(n: usize, src: &str, protocol: &str) -> String {
    format!("\"{n}\",\"0.{n:03}\",\"{src}\",\"10.0.0.2\",\"{protocol}\",\"60\",\"\"\n")
}

#[test]
fn rows_with_names_past_the_limits_are_reported_with_their_line_and_not_kept() {
    // Room for three more names, as many bytes as they need.
    let (names, bytes) = intern::usage();
    intern::set_limits(names + 3, usize::MAX);
    let mut text = String::from(HEADER);
    for n in 0..6 {
        text += &row(n, "10.0.0.1", &format!("LimitProto{n}"));
    }
    // A name interned before the limit was reached is still fine.
    text += &row(6, "10.0.0.1", "LimitProto0");
    // A new address name is held to the same limit.
    text += &row(7, "some-host-name", "TCP");
    let read = read_bytes(text.as_bytes());
    assert_eq!(read.len(), 8, "{read:?}");
    let kept: Vec<String> = read
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|p| p.protocol.name().to_owned())
        .collect();
    assert_eq!(
        kept,
        ["LimitProto0", "LimitProto1", "LimitProto2", "LimitProto0"]
    );
    let bad: Vec<_> = read.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(bad.len(), 4);
    for (report, line) in bad.iter().zip([5, 6, 7, 9]) {
        assert_eq!(report.kind, "bad_row");
        assert_eq!(report.line, Some(line), "{report:?}");
        assert!(
            report.message.contains("too many distinct names"),
            "{report:?}"
        );
    }
    assert!(
        bad[0].message.contains("protocol `LimitProto3`"),
        "{:?}",
        bad[0]
    );
    assert!(
        bad[3].message.contains("source `some-host-name`"),
        "{:?}",
        bad[3]
    );
    assert_eq!(intern::usage().0, names + 3);

    // The bytes limit: room for 12 more bytes, whatever the count.
    let (names, bytes_now) = intern::usage();
    assert!(bytes_now >= bytes);
    intern::set_limits(usize::MAX, bytes_now + 12);
    let mut text = String::from(HEADER);
    text += &row(0, "10.0.0.1", "Short12Bytes");
    text += &row(1, "10.0.0.1", "X");
    let read = read_bytes(text.as_bytes());
    assert!(read[0].is_ok(), "{read:?}");
    assert!(
        read[1].as_ref().is_err_and(|b| b.line == Some(3)),
        "{read:?}"
    );
    assert_eq!(intern::usage(), (names + 1, bytes_now + 12));
}
