//! `anonymize`: Crypto-PAn on the IP addresses of packets or window
//! records, before anything is written.
//!
//! The mapping depends only on the key, so it needs no exchange: every
//! worker maps its own records with its own caches, and every worker,
//! process, file and run with the same key agrees. The key is read when
//! the pipeline is validated (to report problems) and again when each
//! worker builds the operator; it is never printed, logged or kept in the
//! config.

use crate::cryptopan::{parse_key, Anonymizer, KEY_LEN};
use netanom_records::doc::ConfigProblem;
use netanom_records::field::Field;
use netanom_records::stats::{ComponentStats, Stats};
use netanom_records::{Addr, Packet, Time, WindowRecord};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::Stream;

/// Replaces IP addresses with Crypto-PAn's prefix-preserving
/// anonymization (IPv4 and IPv6): two addresses sharing an n-bit prefix
/// map to two sharing exactly an n-bit prefix, so subnets stay subnets.
/// The same key gives the same mapping in every worker, process and run.
/// MAC addresses, names and ports pass unchanged. Takes packet or window
/// records and produces the same kind. Give the 32-byte key (an AES-128
/// key, then 16 pad bytes) with exactly one of `key_file` and `key_env`;
/// the key is never printed.
#[derive(Clone, Debug, Serialize, Deserialize, netanom_derive::Describe)]
#[serde(deny_unknown_fields)]
pub struct AnonymizeConfig {
    /// A file holding the key: exactly 32 raw bytes, or 64 hex characters
    /// (a final newline is fine). Make it readable by its owner only
    /// (`chmod 600`): with it, anonymized addresses can be mapped back.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The name of an environment variable holding the key as 64 hex
    /// characters.
    #[serde(default)]
    pub key_env: Option<String>,
    /// The address fields to rewrite: src, dst (for window records, the
    /// grouped addresses). Only IP addresses change.
    #[serde(default = "default_fields")]
    pub fields: Vec<Field>,
    /// Empty the packets' `info` field, which can contain addresses.
    #[serde(default = "default_true")]
    pub redact_info: bool,
}

fn default_fields() -> Vec<Field> {
    vec![Field::Src, Field::Dst]
}

fn default_true() -> bool {
    true
}

/// The fields `anonymize` can rewrite.
pub const ADDRESS_FIELDS: &[Field] = &[Field::Src, Field::Dst];

impl AnonymizeConfig {
    /// Reads the key from `key_file` or `key_env`. The problem names the
    /// option and the file or variable, never the key's content.
    pub fn load_key(&self) -> Result<[u8; KEY_LEN], ConfigProblem> {
        match (&self.key_file, &self.key_env) {
            (Some(_), Some(_)) => Err(ConfigProblem::at(
                "key_env",
                "key_env: give only one of key_file and key_env",
            )),
            (None, None) => Err(ConfigProblem {
                key: None,
                message: "missing key: give key_file (a file of 32 raw bytes or 64 hex \
                          characters) or key_env (a variable holding 64 hex characters)"
                    .into(),
            }),
            (Some(path), None) => {
                let shown = path.display();
                let meta = std::fs::metadata(path).map_err(|e| {
                    ConfigProblem::at("key_file", format!("key_file: cannot read `{shown}`: {e}"))
                })?;
                if !meta.is_file() {
                    return Err(ConfigProblem::at(
                        "key_file",
                        format!("key_file: `{shown}` is not a regular file"),
                    ));
                }
                // A key is 65 bytes at most (hex and a newline); allow
                // some whitespace, but never read a large file.
                if meta.len() > 256 {
                    return Err(ConfigProblem::at(
                        "key_file",
                        format!(
                            "key_file: `{shown}`: a key is 32 raw bytes or 64 hex characters; \
                             found {} bytes",
                            meta.len()
                        ),
                    ));
                }
                let bytes = std::fs::read(path).map_err(|e| {
                    ConfigProblem::at("key_file", format!("key_file: cannot read `{shown}`: {e}"))
                })?;
                parse_key(&bytes)
                    .map_err(|e| ConfigProblem::at("key_file", format!("key_file: `{shown}`: {e}")))
            }
            (None, Some(var)) => {
                let value = match std::env::var_os(var) {
                    None => {
                        return Err(ConfigProblem::at(
                            "key_env",
                            format!("key_env: environment variable `{var}` is not set"),
                        ))
                    }
                    Some(v) if v.is_empty() => {
                        return Err(ConfigProblem::at(
                            "key_env",
                            format!("key_env: environment variable `{var}` is empty"),
                        ))
                    }
                    Some(v) => v,
                };
                let text = value.as_encoded_bytes().trim_ascii();
                if text.len() != 2 * KEY_LEN {
                    return Err(ConfigProblem::at(
                        "key_env",
                        format!(
                            "key_env: `{var}` must hold 64 hex characters; found {} bytes",
                            text.len()
                        ),
                    ));
                }
                parse_key(text)
                    .map_err(|e| ConfigProblem::at("key_env", format!("key_env: `{var}`: {e}")))
            }
        }
    }

    /// Checks the key (present, readable, well-formed) and the fields.
    /// Warns on stderr when the key file is readable by group or others.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        match self.load_key() {
            Ok(_) => {
                if let Some(path) = &self.key_file {
                    warn_if_shared(path);
                }
            }
            Err(p) => problems.push(p),
        }
        if self.fields.is_empty() {
            problems.push(ConfigProblem::at(
                "fields",
                "fields: the list is empty; expected src, dst or both",
            ));
        }
        for (i, field) in self.fields.iter().enumerate() {
            if !ADDRESS_FIELDS.contains(field) {
                problems.push(ConfigProblem::at(
                    "fields",
                    format!("fields: `{field}` is not an address field; expected src or dst"),
                ));
            } else if self.fields[..i].contains(field) {
                problems.push(ConfigProblem::at(
                    "fields",
                    format!("fields: `{field}` is listed twice"),
                ));
            }
        }
        problems
    }

    /// Builds the operator on `input` (packets or window records): a
    /// per-worker map, no exchange. If the key cannot be read now (it was
    /// at validation), the run fails and no record passes.
    pub fn build<'s, R: Anonymize + 'static>(
        &self,
        name: &str,
        input: Stream<'s, Time, Vec<R>>,
        stats: &Arc<Stats>,
    ) -> Stream<'s, Time, Vec<R>> {
        let spec = Spec {
            src: self.fields.contains(&Field::Src),
            dst: self.fields.contains(&Field::Dst),
            redact_info: self.redact_info,
        };
        let mut anonymizer = match self.load_key() {
            Ok(key) => Some(Anonymizer::new(&key)),
            Err(p) => {
                let message = format!("{name}: {}", p.message);
                if !stats.failures().contains(&message) {
                    stats.fail(message);
                }
                None
            }
        };
        let counts: Arc<ComponentStats> = stats.component(name);
        input.unary::<timely::container::CapacityContainerBuilder<Vec<R>>, _, _, _>(
            Pipeline,
            name,
            move |_cap, _info| {
                move |input, output| {
                    input.for_each(|cap, batch| {
                        let Some(anonymizer) = anonymizer.as_mut() else {
                            // Fail closed: nothing unanonymized goes on.
                            batch.clear();
                            return;
                        };
                        for record in batch.iter_mut() {
                            record.anonymize(&spec, anonymizer);
                        }
                        ComponentStats::add(&counts.records_out, batch.len() as u64);
                        output.session(&cap).give_container(batch);
                    });
                }
            },
        )
    }
}

/// Warns when `path` is readable by group or others (Unix only).
fn warn_if_shared(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                eprintln!(
                    "netanom: warning: key file `{}` is readable by group or others \
                     (mode {mode:03o}); `chmod 600` it",
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Which parts of a record to rewrite.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Rewrite the source address.
    pub src: bool,
    /// Rewrite the destination address.
    pub dst: bool,
    /// Empty the packet's `info`.
    pub redact_info: bool,
}

/// Records whose addresses `anonymize` rewrites.
pub trait Anonymize {
    /// Rewrites the record's addresses in place.
    fn anonymize(&mut self, spec: &Spec, anonymizer: &mut Anonymizer);
}

/// An IP address anonymized; any other address as it is.
#[inline]
pub fn anonymize_addr(addr: Addr, anonymizer: &mut Anonymizer) -> Addr {
    match addr {
        Addr::V4(a) => Addr::V4(anonymizer.anonymize_v4(a)),
        Addr::V6(a) => Addr::V6(anonymizer.anonymize_v6(a)),
        other => other,
    }
}

impl Anonymize for Packet {
    #[inline]
    fn anonymize(&mut self, spec: &Spec, anonymizer: &mut Anonymizer) {
        if spec.src {
            self.src = anonymize_addr(self.src, anonymizer);
        }
        if spec.dst {
            self.dst = anonymize_addr(self.dst, anonymizer);
        }
        if spec.redact_info {
            self.info.clear();
        }
    }
}

impl Anonymize for WindowRecord {
    #[inline]
    fn anonymize(&mut self, spec: &Spec, anonymizer: &mut Anonymizer) {
        if spec.src {
            self.key.src = anonymize_addr(self.key.src, anonymizer);
        }
        if spec.dst {
            self.key.dst = anonymize_addr(self.key.dst, anonymizer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const KEY_HEX: &str = "1522178d33a4cf80130a5b1649907d10d8988f837979652762574c2d2a842202";

    fn config(key_file: Option<PathBuf>, key_env: Option<&str>) -> AnonymizeConfig {
        AnonymizeConfig {
            key_file,
            key_env: key_env.map(str::to_owned),
            fields: default_fields(),
            redact_info: true,
        }
    }

    fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("netanom-anon-unit-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).expect("write temp key");
        path
    }

    #[test]
    fn options_parse_with_defaults() {
        let yaml = "key_file: k.key";
        let value: serde_yaml::Value = serde_yaml::from_str(yaml).expect("yaml");
        let c: AnonymizeConfig = netanom_records::doc::parse_options(value).expect("valid options");
        assert_eq!(c.fields, vec![Field::Src, Field::Dst]);
        assert!(c.redact_info);
        assert!(c.key_env.is_none());
        let value: serde_yaml::Value = serde_yaml::from_str("key: abc").expect("yaml");
        let err =
            netanom_records::doc::parse_options::<AnonymizeConfig>(value).expect_err("unknown key");
        assert!(err.message.contains("unknown field `key`"), "{err:?}");
    }

    #[test]
    fn key_problems_are_reported_without_the_key() {
        let good = temp_file("good", KEY_HEX.as_bytes());
        assert!(config(Some(good.clone()), None).validate().is_empty());
        let short = temp_file("short", &KEY_HEX.as_bytes()[..40]);
        let bad_hex = temp_file("badhex", KEY_HEX.replace('d', "x").as_bytes());
        let cases = [
            config(None, None),
            config(Some(good.clone()), Some("NETANOM_UNIT_KEY")),
            config(Some(PathBuf::from("/nonexistent/netanom.key")), None),
            config(Some(short.clone()), None),
            config(Some(bad_hex.clone()), None),
            config(None, Some("NETANOM_UNIT_SURELY_UNSET_VARIABLE")),
        ];
        for c in &cases {
            let problems = c.validate();
            assert_eq!(problems.len(), 1, "{c:?}: {problems:?}");
            assert!(!problems[0].message.contains(&KEY_HEX[..8]), "{problems:?}");
            assert!(
                !problems[0].message.contains(&KEY_HEX[40..48]),
                "{problems:?}"
            );
        }
        for p in [good, short, bad_hex] {
            let _ = std::fs::remove_file(p);
        }
    }

    #[test]
    fn fields_must_be_address_fields() {
        let good = temp_file("fields", KEY_HEX.as_bytes());
        let mut c = config(Some(good.clone()), None);
        c.fields = vec![Field::Src, Field::Sport, Field::Src];
        assert_eq!(c.validate().len(), 2);
        c.fields = vec![];
        assert_eq!(c.validate().len(), 1);
        let _ = std::fs::remove_file(good);
    }

    #[test]
    fn packets_keep_ports_and_non_ip_addresses() {
        let key = crate::cryptopan::parse_key(KEY_HEX.as_bytes()).expect("key");
        let mut anonymizer = Anonymizer::new(&key);
        let spec = Spec {
            src: true,
            dst: false,
            redact_info: true,
        };
        let mut p = Packet {
            src: Addr::V4(Ipv4Addr::new(128, 11, 68, 132)),
            dst: Addr::V4(Ipv4Addr::new(129, 118, 74, 4)),
            sport: Some(1234),
            dport: Some(80),
            info: "GET / from 128.11.68.132".into(),
            ..Packet::default()
        };
        p.anonymize(&spec, &mut anonymizer);
        assert_eq!(p.src, Addr::V4(Ipv4Addr::new(135, 242, 180, 132)));
        assert_eq!(p.dst, Addr::V4(Ipv4Addr::new(129, 118, 74, 4)));
        assert_eq!((p.sport, p.dport), (Some(1234), Some(80)));
        assert!(p.info.is_empty());
        let mac = Addr::Mac([2, 0, 0, 0, 0, 1]);
        assert_eq!(anonymize_addr(mac, &mut anonymizer), mac);
        assert_eq!(anonymize_addr(Addr::None, &mut anonymizer), Addr::None);
        let mut w = WindowRecord::default();
        w.key.dst = Addr::V4(Ipv4Addr::new(10, 185, 25, 118));
        w.anonymize(
            &Spec {
                src: true,
                dst: true,
                redact_info: true,
            },
            &mut anonymizer,
        );
        assert_eq!(w.key.dst, Addr::V4(Ipv4Addr::new(117, 161, 29, 118)));
        assert_eq!(w.key.src, Addr::None);
    }
}
