//! The vocabulary every other netanom crate speaks: the records that flow
//! through a pipeline ([`Packet`], [`WindowRecord`]), their field values and
//! output formats, event time and durations, and the plugin documentation
//! model behind `netanom plugins`.
#![deny(missing_docs)]

pub mod addr;
pub mod batch;
pub mod checkpoint;
pub mod degree;
pub mod doc;
pub mod duration;
pub mod field;
pub mod hash;
pub mod intern;
pub mod kind;
mod line;
pub mod motif;
pub mod packet;
pub mod protocol;
pub mod scored;
pub mod shutdown;
pub mod sortkey;
pub mod stats;
pub mod time;
pub mod window;
pub mod write;

pub use addr::{Addr, NameId};
pub use degree::DegreeRecord;
pub use duration::Duration;
pub use field::{Field, Value};
pub use kind::RecordKind;
pub use motif::{MotifPattern, MotifRecord};
pub use packet::{Info, Packet};
pub use protocol::Protocol;
pub use scored::Scored;
pub use time::{Time, Ts};
pub use window::{GroupKey, WindowRecord};
pub use write::Record;
