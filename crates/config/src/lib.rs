//! The pipeline file: its model ([`Pipeline`]), loading with `--set`
//! overrides, and validation that reports every problem at once as
//! `FILE:LINE:COL: ID: message`.
#![deny(missing_docs)]

pub mod budget;
pub mod position;

use netanom_operators::OperatorConfig;
use netanom_records::doc::ConfigProblem;
use netanom_records::{Field, Packet, RecordKind};
use netanom_sinks::SinkConfig;
use netanom_sources::SourceConfig;
use position::{Pos, PosIndex};
use serde_yaml::{Mapping, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::Path;

/// Largest pipeline file read (a config is a few KB; this bounds memory).
pub const MAX_FILE_BYTES: u64 = 4 << 20;
/// Most components in one pipeline.
pub const MAX_COMPONENTS: usize = 1000;

/// One problem in a pipeline file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// The pipeline file.
    pub file: String,
    /// Where (line 0 when unknown).
    pub pos: Pos,
    /// The component id, or `pipeline` for the file as a whole.
    pub id: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file,
            self.pos.line.max(1),
            self.pos.col.max(1),
            self.id,
            self.message
        )
    }
}

/// All the problems of a pipeline file, sorted by position.
#[derive(Clone, Debug)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// A configured component: its id, where it is, its inputs and options.
#[derive(Clone, Debug)]
pub struct Component<C> {
    /// The user's name for it.
    pub id: String,
    /// Ids of the components it reads from (empty for sources).
    pub inputs: Vec<String>,
    /// The plugin's options.
    pub config: C,
    /// Where it is defined.
    pub pos: Pos,
}

/// A validated pipeline.
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// The file it came from (for messages).
    pub file: String,
    /// Sources, in file order.
    pub sources: Vec<Component<SourceConfig>>,
    /// Operators, ordered so that each comes after its inputs.
    pub operators: Vec<Component<OperatorConfig>>,
    /// Sinks, in file order.
    pub sinks: Vec<Component<SinkConfig>>,
}

impl Pipeline {
    /// The record kind component `id` produces.
    pub fn kind_of(&self, id: &str) -> Option<RecordKind> {
        self.kind_within(id, MAX_COMPONENTS)
    }

    /// [`Pipeline::kind_of`], following at most `depth` inputs (an
    /// operator like `anonymize` produces its first input's kind).
    fn kind_within(&self, id: &str, depth: usize) -> Option<RecordKind> {
        if let Some(s) = self.sources.iter().find(|c| c.id == id) {
            return Some(s.config.output_kind());
        }
        let c = self.operators.iter().find(|c| c.id == id)?;
        let input = match (&c.config, c.inputs.first()) {
            (OperatorConfig::Anonymize(_), Some(first)) if depth > 0 => {
                self.kind_within(first, depth - 1)
            }
            _ => None,
        };
        c.config.output_kind(input)
    }

    /// The columns of the records component `id` produces.
    pub fn fields_of(&self, id: &str) -> Vec<Field> {
        // Indexed once per call: a chain of pass-through operators is
        // followed link by link, and a scan per link made validating a
        // long chain cubic in its length.
        let sources: HashSet<&str> = self.sources.iter().map(|c| c.id.as_str()).collect();
        let operators: HashMap<&str, &Component<OperatorConfig>> =
            self.operators.iter().map(|c| (c.id.as_str(), c)).collect();
        fields_within(&sources, &operators, id, MAX_COMPONENTS)
    }

    /// A hash of everything that decides the outputs (components, their
    /// inputs and options), not of comments or layout: a checkpoint is
    /// only applied to the pipeline that wrote it.
    pub fn fingerprint(&self) -> u64 {
        let mut text = String::new();
        for s in &self.sources {
            text.push_str(&format!("source {} {}\n", s.id, s.config.identity()));
        }
        for o in &self.operators {
            text.push_str(&format!(
                "operator {} {:?} {:?}\n",
                o.id, o.inputs, o.config
            ));
        }
        for s in &self.sinks {
            text.push_str(&format!("sink {} {:?} {:?}\n", s.id, s.inputs, s.config));
        }
        netanom_records::hash::stable_hash(&text)
    }

    /// The Timely tick in nanoseconds: the smallest multiple of the
    /// greatest common divisor of all window sizes and slides that is at
    /// least [`MIN_TICK`]. Timely times are multiples of it: every distinct
    /// time costs progress tracking, so many small windows are emitted
    /// together, at the first tick at or after their end.
    pub fn tick(&self) -> u64 {
        let g = self
            .operators
            .iter()
            .flat_map(|c| c.config.durations())
            .map(|d| d.nanos())
            .filter(|&n| n > 0)
            .fold(0, gcd);
        if g == 0 {
            MIN_TICK
        } else {
            g.saturating_mul(MIN_TICK.div_ceil(g))
        }
    }
}

/// The shortest Timely tick, in nanoseconds (1 s). Finer ticks cost more
/// in progress tracking than they gain in latency.
pub const MIN_TICK: u64 = 1_000_000_000;

/// [`Pipeline::fields_of`], following at most `depth` inputs.
fn fields_within(
    sources: &HashSet<&str>,
    operators: &HashMap<&str, &Component<OperatorConfig>>,
    id: &str,
    depth: usize,
) -> Vec<Field> {
    if sources.contains(id) {
        return Packet::FIELDS.to_vec();
    }
    let input = |c: &Component<OperatorConfig>| match c.inputs.first() {
        Some(first) if depth > 0 => fields_within(sources, operators, first, depth - 1),
        _ => Vec::new(),
    };
    match operators.get(id) {
        Some(c) => match &c.config {
            // Same records as its (first) input.
            OperatorConfig::Anonymize(_) => input(c),
            OperatorConfig::Window(w) => w.fields(),
            OperatorConfig::Degree(_) => netanom_records::DegreeRecord::FIELDS.to_vec(),
            OperatorConfig::Motif(_) => netanom_records::MotifRecord::FIELDS.to_vec(),
            OperatorConfig::Kmeans(_) => netanom_records::scored::fields(&input(c)),
        },
        None => Vec::new(),
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Reads, overrides and validates a pipeline file.
pub fn load(path: &Path, sets: &[String]) -> Result<Pipeline, Problems> {
    let file = path.display().to_string();
    let whole = |message: String| {
        Problems(vec![Problem {
            file: file.clone(),
            pos: Pos::default(),
            id: "pipeline".into(),
            message,
        }])
    };
    let meta = std::fs::metadata(path)
        .map_err(|e| whole(format!("cannot read the pipeline file: {e}")))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(whole(format!(
            "the pipeline file is {} bytes; at most {MAX_FILE_BYTES} are read",
            meta.len()
        )));
    }
    // Read at most one byte over the limit: a device or pipe (`/dev/zero`,
    // `<(...)`) has no size to check beforehand.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_FILE_BYTES + 1), &mut bytes)
        })
        .map_err(|e| whole(format!("cannot read the pipeline file: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(whole(format!(
            "the pipeline file is over {MAX_FILE_BYTES} bytes; at most {MAX_FILE_BYTES} are read"
        )));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        whole(format!(
            "cannot read the pipeline file: not UTF-8 text: {e}"
        ))
    })?;
    parse(&text, &file, sets)
}

const SECTIONS: &[&str] = &["sources", "operators", "sinks"];

struct Checker<'a> {
    file: &'a str,
    index: PosIndex,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn problem(&mut self, path: &[&str], id: &str, message: impl Into<String>) {
        let pos = self.index.find(path).unwrap_or_default();
        self.problems.push(Problem {
            file: self.file.to_owned(),
            pos,
            id: id.to_owned(),
            message: message.into(),
        });
    }

    fn plugin_problem(&mut self, section: &str, id: &str, p: ConfigProblem) {
        let key = p
            .key
            .as_deref()
            .map(|k| k.split(['.', '[']).next().unwrap_or(k));
        let mut path = vec![section, id];
        if let Some(key) = key {
            path.push(key);
        }
        self.problem(&path, id, p.message);
    }
}

/// Parses and validates pipeline text; `file` names it in messages.
pub fn parse(text: &str, file: &str, sets: &[String]) -> Result<Pipeline, Problems> {
    if let Err(message) = budget::check(text) {
        return Err(Problems(vec![Problem {
            file: file.to_owned(),
            pos: Pos::default(),
            id: "pipeline".into(),
            message,
        }]));
    }
    let mut ck = Checker {
        file,
        index: PosIndex::scan(text),
        problems: Vec::new(),
    };
    let mut doc: Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let pos = e
                .location()
                .map(|l| Pos {
                    line: l.line(),
                    col: l.column(),
                })
                .unwrap_or_default();
            let message = e.to_string();
            let message = match message.find(" at line ") {
                Some(i) => message[..i].to_string(),
                None => message,
            };
            return Err(Problems(vec![Problem {
                file: file.to_owned(),
                pos,
                id: "pipeline".into(),
                message: format!("not valid YAML: {message}"),
            }]));
        }
    };
    if let Value::Null = doc {
        doc = Value::Mapping(Mapping::new());
    }
    let Value::Mapping(top) = &mut doc else {
        ck.problem(
            &[],
            "pipeline",
            "expected a mapping with `sources`, `operators` and `sinks`",
        );
        return Err(finish(ck));
    };
    apply_sets(&mut ck, top, sets);
    for key in top.keys() {
        let name = key.as_str().unwrap_or("");
        if !SECTIONS.contains(&name) {
            ck.problem(
                &[name],
                "pipeline",
                format!(
                    "unknown key `{}`; expected sources, operators, sinks",
                    display_key(key)
                ),
            );
        }
    }
    let mut raw: BTreeMap<&str, Vec<(String, Mapping)>> = BTreeMap::new();
    let mut seen: HashMap<String, &str> = HashMap::new();
    let mut total = 0;
    for section in SECTIONS {
        let entries = match top.get(*section) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Mapping(m)) => m.iter().collect(),
            Some(_) => {
                ck.problem(
                    &[section],
                    "pipeline",
                    format!("`{section}` must be a mapping from ids to components"),
                );
                Vec::new()
            }
        };
        let mut list = Vec::new();
        for (key, value) in entries {
            total += 1;
            let Some(id) = key.as_str().map(str::to_owned) else {
                ck.problem(
                    &[section],
                    "pipeline",
                    format!("component ids must be text, found `{}`", display_key(key)),
                );
                continue;
            };
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                ck.problem(
                    &[section, &id],
                    &id,
                    "ids may only use letters, digits, `_` and `-`",
                );
            }
            if let Some(other) = seen.insert(id.clone(), section) {
                ck.problem(
                    &[section, &id],
                    &id,
                    format!("id `{id}` is used twice (also in `{other}`)"),
                );
                continue;
            }
            match value {
                Value::Mapping(m) => list.push((id, m.clone())),
                _ => ck.problem(
                    &[section, &id],
                    &id,
                    "expected a mapping with `type` and options",
                ),
            }
        }
        raw.insert(section, list);
    }
    if total > MAX_COMPONENTS {
        ck.problem(
            &[],
            "pipeline",
            format!("{total} components; at most {MAX_COMPONENTS} are supported"),
        );
        return Err(finish(ck));
    }
    let sources = build_components(
        &mut ck,
        "sources",
        raw.remove("sources").unwrap_or_default(),
        false,
        SourceConfig::parse,
    );
    let operators = build_components(
        &mut ck,
        "operators",
        raw.remove("operators").unwrap_or_default(),
        true,
        OperatorConfig::parse,
    );
    let sinks = build_components(
        &mut ck,
        "sinks",
        raw.remove("sinks").unwrap_or_default(),
        true,
        SinkConfig::parse,
    );
    if sources.is_empty() && !top.contains_key("sources") {
        ck.problem(
            &[],
            "pipeline",
            "no source: add a `sources` section (see `netanom plugins`)",
        );
    }
    if sinks.is_empty() && !top.contains_key("sinks") {
        ck.problem(
            &[],
            "pipeline",
            "no sink: add a `sinks` section, or nothing would come out",
        );
    }
    for c in &sources {
        for p in c.config.validate() {
            ck.plugin_problem("sources", &c.id, p);
        }
    }
    for c in &operators {
        for p in c.config.validate() {
            ck.plugin_problem("operators", &c.id, p);
        }
    }
    for c in &sinks {
        for p in c.config.validate() {
            ck.plugin_problem("sinks", &c.id, p);
        }
    }
    let declared: std::collections::HashSet<String> = seen.into_keys().collect();
    let operators = check_graph(&mut ck, &declared, &sources, operators, &sinks);
    if !ck.problems.is_empty() {
        return Err(finish(ck));
    }
    let pipeline = Pipeline {
        file: file.to_owned(),
        sources,
        operators,
        sinks,
    };
    check_checkpoints(&mut ck, &pipeline);
    // Options that depend on the input's columns (kmeans features).
    for c in &pipeline.operators {
        let input = c
            .inputs
            .first()
            .map(|first| pipeline.fields_of(first))
            .unwrap_or_default();
        for p in c.config.check_fields(&input) {
            ck.plugin_problem("operators", &c.id, p);
        }
    }
    for c in &pipeline.sinks {
        let input = c
            .inputs
            .first()
            .map(|first| pipeline.fields_of(first))
            .unwrap_or_default();
        for p in c.config.check_fields(&input) {
            ck.plugin_problem("sinks", &c.id, p);
        }
    }
    if !ck.problems.is_empty() {
        return Err(finish(ck));
    }
    Ok(pipeline)
}

/// With a `state_dir`, every source must keep checkpoints in the same
/// one, and every component must be one whose state a replay rebuilds.
fn check_checkpoints(ck: &mut Checker<'_>, pipeline: &Pipeline) {
    let Some((first, dir)) = pipeline
        .sources
        .iter()
        .find_map(|s| s.config.state_dir().map(|d| (s.id.clone(), d.to_owned())))
    else {
        return;
    };
    for s in &pipeline.sources {
        match s.config.state_dir() {
            Some(d) if d == dir => {}
            Some(_) => ck.problem(
                &["sources", &s.id, "state_dir"],
                &s.id,
                format!("state_dir: every source of a pipeline keeps its checkpoints in one state_dir (`{first}` uses `{}`)", dir.display()),
            ),
            None => ck.problem(
                &["sources", &s.id],
                &s.id,
                format!("source `{first}` keeps checkpoints (state_dir), so every source must: use type capture_dir with the same state_dir"),
            ),
        }
    }
    for o in &pipeline.operators {
        if let OperatorConfig::Degree(d) = &o.config {
            if d.window == netanom_operators::degree::DegreeWindow::All {
                ck.problem(
                    &["operators", &o.id, "window"],
                    &o.id,
                    "window: `all` keeps the graph since the start, which a restart cannot rebuild from a checkpoint: give a window length, or remove state_dir",
                );
            }
        }
    }
    for s in &pipeline.sinks {
        if let SinkConfig::File(f) = &s.config {
            if f.parallel {
                ck.problem(
                    &["sinks", &s.id, "parallel"],
                    &s.id,
                    "parallel: part files are not checkpointed; with state_dir, file sinks gather into one file",
                );
            }
        }
        if let SinkConfig::Graph(_) = s.config {
            ck.problem(
                &["sinks", &s.id],
                &s.id,
                "graph sinks do not support checkpoints yet: remove state_dir or this sink",
            );
        }
    }
}

fn finish(mut ck: Checker<'_>) -> Problems {
    ck.problems.sort();
    ck.problems.dedup();
    Problems(ck.problems)
}

fn display_key(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// Applies `ID.KEY=VALUE` overrides; VALUE is read as YAML (`5`, `1s`,
/// `[src, dst]`). KEY may be a dotted path into nested maps.
fn apply_sets(ck: &mut Checker<'_>, top: &mut Mapping, sets: &[String]) {
    for set in sets {
        let Some((lhs, value)) = set.split_once('=') else {
            ck.problem(
                &[],
                "pipeline",
                format!("--set `{set}`: expected ID.KEY=VALUE"),
            );
            continue;
        };
        let Some((id, key)) = lhs.split_once('.') else {
            ck.problem(
                &[],
                "pipeline",
                format!("--set `{set}`: expected ID.KEY=VALUE"),
            );
            continue;
        };
        if let Err(message) = budget::check(value) {
            ck.problem(&[], "pipeline", format!("--set `{lhs}=...`: {message}"));
            continue;
        }
        let value: Value =
            serde_yaml::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        let section = SECTIONS
            .iter()
            .find(|s| matches!(top.get(**s), Some(Value::Mapping(m)) if m.contains_key(id)));
        let target = section
            .and_then(|s| top.get_mut(*s))
            .and_then(|m| m.get_mut(id));
        let Some(Value::Mapping(component)) = target else {
            ck.problem(
                &[],
                "pipeline",
                format!("--set `{set}`: no component `{id}` in the pipeline"),
            );
            continue;
        };
        let parts: Vec<&str> = key.split('.').collect();
        if let Err(part) = set_path(component, &parts, value) {
            ck.problem(&[], id, format!("--set `{set}`: `{part}` is not a mapping"));
        }
    }
}

fn set_path(map: &mut Mapping, parts: &[&str], value: Value) -> Result<(), String> {
    match parts {
        [] => Ok(()),
        [last] => {
            map.insert(Value::String((*last).to_owned()), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = map
                .entry(Value::String((*first).to_owned()))
                .or_insert_with(|| Value::Mapping(Mapping::new()));
            match entry {
                Value::Mapping(inner) => set_path(inner, rest, value),
                _ => Err((*first).to_owned()),
            }
        }
    }
}

fn build_components<C>(
    ck: &mut Checker<'_>,
    section: &str,
    raw: Vec<(String, Mapping)>,
    takes_inputs: bool,
    parse: fn(&str, Value) -> Result<C, ConfigProblem>,
) -> Vec<Component<C>> {
    let mut out = Vec::new();
    for (id, mut map) in raw {
        let pos = ck.index.find(&[section, &id]).unwrap_or_default();
        let ty = match map.remove("type") {
            Some(Value::String(t)) => t,
            Some(other) => {
                ck.problem(
                    &[section, &id, "type"],
                    &id,
                    format!(
                        "type: expected a plugin name, found `{}`",
                        display_key(&other)
                    ),
                );
                continue;
            }
            None => {
                ck.problem(
                    &[section, &id],
                    &id,
                    "missing `type` (see `netanom plugins` for the list)",
                );
                continue;
            }
        };
        let inputs = match map.remove("inputs") {
            None if takes_inputs => {
                ck.problem(
                    &[section, &id],
                    &id,
                    "missing `inputs`: a list of the ids it reads from",
                );
                Vec::new()
            }
            None => Vec::new(),
            Some(_) if !takes_inputs => {
                ck.problem(&[section, &id, "inputs"], &id, "sources take no `inputs`");
                Vec::new()
            }
            Some(Value::String(s)) => vec![s],
            Some(Value::Sequence(items)) => {
                let mut list = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) => list.push(s),
                        other => ck.problem(
                            &[section, &id, "inputs"],
                            &id,
                            format!(
                                "inputs: expected component ids, found `{}`",
                                display_key(&other)
                            ),
                        ),
                    }
                }
                if list.is_empty() {
                    ck.problem(&[section, &id, "inputs"], &id, "inputs: the list is empty");
                }
                list
            }
            Some(other) => {
                ck.problem(
                    &[section, &id, "inputs"],
                    &id,
                    format!(
                        "inputs: expected a list of ids, found `{}`",
                        display_key(&other)
                    ),
                );
                Vec::new()
            }
        };
        match parse(&ty, Value::Mapping(map)) {
            Ok(config) => out.push(Component {
                id,
                inputs,
                config,
                pos,
            }),
            Err(p) => ck.plugin_problem(section, &id, p),
        }
    }
    out
}

/// Checks that inputs exist, that operators form no cycle, and that each
/// component can take its inputs' record kind. Returns the operators in an
/// order where each follows its inputs.
fn check_graph(
    ck: &mut Checker<'_>,
    declared: &std::collections::HashSet<String>,
    sources: &[Component<SourceConfig>],
    operators: Vec<Component<OperatorConfig>>,
    sinks: &[Component<SinkConfig>],
) -> Vec<Component<OperatorConfig>> {
    let mut kinds: HashMap<String, RecordKind> = sources
        .iter()
        .map(|s| (s.id.clone(), s.config.output_kind()))
        .collect();
    let op_ids: HashMap<&str, usize> = operators
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let sink_ids: Vec<&str> = sinks.iter().map(|s| s.id.as_str()).collect();
    let producers: std::collections::HashSet<String> = kinds
        .keys()
        .cloned()
        .chain(op_ids.keys().map(|k| k.to_string()))
        .collect();
    let known = |ck: &mut Checker<'_>, section: &str, id: &str, input: &str| -> bool {
        if producers.contains(input) {
            true
        } else {
            if declared.contains(input) && !sink_ids.contains(&input) {
                // Declared but invalid: its own problem is reported already.
                return false;
            }
            let why = if sink_ids.contains(&input) {
                format!("input `{input}` is a sink; sinks produce no records")
            } else {
                format!("unknown input `{input}`")
            };
            ck.problem(&[section, id, "inputs"], id, why);
            false
        }
    };
    // Operators whose output kind is unknown (it follows an input that is
    // itself invalid, already reported): not checked further.
    let mut unknown_kind: std::collections::HashSet<String> = std::collections::HashSet::new();
    // Kahn's algorithm over operators.
    let mut pending: Vec<usize> = (0..operators.len()).collect();
    let mut ordered: Vec<usize> = Vec::new();
    for c in &operators {
        for input in &c.inputs {
            known(ck, "operators", &c.id, input);
        }
    }
    loop {
        let ready: Vec<usize> = pending
            .iter()
            .copied()
            .filter(|&i| {
                operators[i].inputs.iter().all(|input| {
                    !op_ids.contains_key(input.as_str())
                        || kinds.contains_key(input)
                        || unknown_kind.contains(input)
                })
            })
            .collect();
        if ready.is_empty() {
            break;
        }
        for i in ready {
            pending.retain(|&p| p != i);
            ordered.push(i);
            let c = &operators[i];
            let input_kinds: Vec<(String, RecordKind)> = c
                .inputs
                .iter()
                .filter_map(|input| kinds.get(input).map(|k| (input.clone(), *k)))
                .collect();
            check_inputs(ck, "operators", &c.id, &input_kinds, |k| {
                c.config.accepts(k)
            });
            match c.config.output_kind(input_kinds.first().map(|(_, k)| *k)) {
                Some(kind) => {
                    kinds.insert(c.id.clone(), kind);
                }
                None => {
                    unknown_kind.insert(c.id.clone());
                }
            }
        }
    }
    for &i in &pending {
        let c = &operators[i];
        let cycle: Vec<&str> = pending.iter().map(|&j| operators[j].id.as_str()).collect();
        ck.problem(
            &["operators", &c.id, "inputs"],
            &c.id,
            format!("inputs form a cycle (among {})", cycle.join(", ")),
        );
    }
    for s in sinks {
        let mut input_kinds = Vec::new();
        for input in &s.inputs {
            if known(ck, "sinks", &s.id, input) {
                if let Some(k) = kinds.get(input) {
                    input_kinds.push((input.clone(), *k));
                }
            }
        }
        if s.config.keeps_inputs_apart() {
            // Each input is its own stream: kinds may differ.
            for input in &input_kinds {
                check_inputs(ck, "sinks", &s.id, std::slice::from_ref(input), |k| {
                    s.config.accepts(k)
                });
            }
        } else {
            check_inputs(ck, "sinks", &s.id, &input_kinds, |k| s.config.accepts(k));
        }
    }
    let mut slots: Vec<Option<Component<OperatorConfig>>> =
        operators.into_iter().map(Some).collect();
    ordered
        .into_iter()
        .filter_map(|i| slots[i].take())
        .collect()
}

fn check_inputs(
    ck: &mut Checker<'_>,
    section: &str,
    id: &str,
    inputs: &[(String, RecordKind)],
    accepts: impl Fn(RecordKind) -> bool,
) {
    for (input, kind) in inputs {
        if !accepts(*kind) {
            ck.problem(
                &[section, id, "inputs"],
                id,
                format!("input `{input}` gives {kind} records, which this plugin cannot take"),
            );
        }
    }
    if let Some((first, kind)) = inputs.first() {
        if let Some((other, other_kind)) = inputs.iter().find(|(_, k)| k != kind) {
            ck.problem(
                &[section, id, "inputs"],
                id,
                format!(
                    "inputs mix record kinds: `{first}` gives {kind}, `{other}` gives {other_kind}"
                ),
            );
        }
    }
}
