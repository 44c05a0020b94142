//! Record kinds, which the config validator checks along every edge.

use std::fmt;

/// What kind of record a stream carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// One captured frame ([`crate::Packet`]).
    Packet,
    /// One window and group ([`crate::WindowRecord`]).
    Window,
    /// An input record with its k-means score ([`crate::Scored`]).
    Scored,
    /// One address's degrees in one window ([`crate::DegreeRecord`]).
    Degree,
    /// One match of a graph pattern in one window ([`crate::MotifRecord`]).
    Motif,
}

impl RecordKind {
    /// The name used in messages and docs.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Packet => "packet",
            RecordKind::Window => "window",
            RecordKind::Scored => "scored",
            RecordKind::Degree => "degree",
            RecordKind::Motif => "motif",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
