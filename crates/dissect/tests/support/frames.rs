//! Loads the frames of a pcap or pcapng file with pcap-parser, for tests and
//! examples (the product's reader lives in netanom-capture).

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};
use std::fs::File;
use std::path::Path;

/// One frame: its link type, captured bytes and length on the wire.
pub struct Frame {
    pub linktype: u32,
    pub data: Vec<u8>,
    #[allow(dead_code)]
    pub wire_len: u32,
}

/// Every packet record of the file in order (EPB, SPB and pcap records);
/// stops quietly at the first structural error.
pub fn load(path: &Path) -> Result<Vec<Frame>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader =
        create_reader(1 << 20, file).map_err(|e| format!("{}: {e:?}", path.display()))?;
    let mut frames = Vec::new();
    let mut legacy_linktype = 1u32;
    let mut interfaces: Vec<u32> = Vec::new();
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(header) => {
                        legacy_linktype = (header.network.0 as u32) & 0xffff;
                    }
                    PcapBlockOwned::Legacy(b) => frames.push(Frame {
                        linktype: legacy_linktype,
                        data: b.data.to_vec(),
                        wire_len: b.origlen,
                    }),
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        interfaces.push(idb.linktype.0 as u32)
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => frames.push(Frame {
                        linktype: interfaces
                            .get(epb.if_id as usize)
                            .copied()
                            .unwrap_or(u32::MAX),
                        data: epb.packet_data().to_vec(),
                        wire_len: epb.origlen,
                    }),
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => frames.push(Frame {
                        linktype: interfaces.first().copied().unwrap_or(u32::MAX),
                        data: spb.packet_data().to_vec(),
                        wire_len: spb.origlen,
                    }),
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    Ok(frames)
}
