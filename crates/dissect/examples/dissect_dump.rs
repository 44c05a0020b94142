//! Prints one line per frame of a capture: number, protocol, source,
//! destination, ports and TCP flags, tab-separated (compare with
//! `tshark -n -r FILE -T fields -e frame.number -e _ws.col.Protocol
//! -e _ws.col.Source -e _ws.col.Destination`).
//!
//! `cargo run -p netanom-dissect --example dissect_dump -- FILE`

#[path = "../tests/support/frames.rs"]
mod frames;

use netanom_records::Packet;
use std::io::Write;

fn main() {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for path in std::env::args().skip(1) {
        let frames = match frames::load(std::path::Path::new(&path)) {
            Ok(frames) => frames,
            Err(e) => {
                eprintln!("{e}");
                continue;
            }
        };
        let mut pkt = Packet::default();
        for (i, frame) in frames.iter().enumerate() {
            netanom_dissect::dissect(frame.linktype, &frame.data, &mut pkt);
            let port = |p: Option<u16>| p.map(|p| p.to_string()).unwrap_or_default();
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                i + 1,
                pkt.protocol,
                pkt.src,
                pkt.dst,
                port(pkt.sport),
                port(pkt.dport),
                pkt.tcp_flags
                    .map(|f| format!("0x{f:03x}"))
                    .unwrap_or_default()
            );
        }
    }
}
