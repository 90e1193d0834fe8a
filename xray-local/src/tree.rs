//! [`Trace::from_documents`]: the tree of one trace from its documents, whatever order they arrived in.

use std::collections::{HashMap, VecDeque, hash_map::Entry};

use serde_json::Value;

use crate::collect::is_finished;
use crate::problem::{Problem, ProblemKind};
use crate::trace::{EntityKind, MAX_NESTING, Node, Trace, label};
use crate::trace_check::check_trace;

/// One entity taken out of its document, with the parent it names or is nested in.
struct Flat {
    kind: EntityKind,
    id: String,
    parent: Option<String>,
    doc: Value,
}

impl Trace {
    /// Builds the tree of one trace from its documents and checks how the pieces fit.
    ///
    /// Nested subsegments stay under their segment; standalone subsegments and downstream
    /// segments attach to the entity their `parent_id` names, whatever the arrival order.
    /// Entities whose parent never arrived become extra roots, reported as orphans.
    pub fn from_documents(trace_id: &str, docs: &[Value]) -> Trace {
        let mut problems = Vec::new();
        let flats = flatten(docs, trace_id, &mut problems);
        let index: HashMap<&str, usize> = (flats.iter().enumerate()).map(|(i, f)| (f.id.as_str(), i)).collect();
        let mut children = vec![Vec::new(); flats.len()];
        let mut roots = Vec::new();
        for (i, flat) in flats.iter().enumerate() {
            let Some(parent) = flat.parent.as_deref() else {
                roots.push(i);
                continue;
            };
            match index.get(parent) {
                Some(&p) if p != i => children[p].push(i),
                _ => {
                    roots.push(i);
                    problems.push(orphan(flat, parent, trace_id));
                }
            }
        }
        let start = |i: &usize| flats[*i].doc.get("start_time").and_then(Value::as_f64);
        let by_start = |a: &usize, b: &usize| {
            let key = |i| start(i).unwrap_or(f64::INFINITY);
            key(a).total_cmp(&key(b)).then(a.cmp(b))
        };
        roots.sort_by(by_start);
        for list in &mut children {
            list.sort_by(by_start);
        }
        let mut tree = TreeBuilder {
            built: vec![false; flats.len()],
            docs: flats.into_iter().map(|f| (f.kind, f.doc)).collect(),
            children,
            too_deep: Vec::new(),
        };
        let built = tree.build_all(roots, trace_id, &mut problems);
        problems.extend(check_trace(&built, trace_id));
        Trace { trace_id: trace_id.to_owned(), roots: built, problems, documents: docs.len() }
    }
}

fn orphan(flat: &Flat, parent: &str, trace_id: &str) -> Problem {
    let who = label(flat.kind, &flat.doc);
    let problem = if flat.id == parent {
        Problem::error(
            ProblemKind::OrphanParent,
            format!("{who} names itself as its parent: parent_id must be the caller's id"),
        )
    } else if flat.kind == EntityKind::Subsegment {
        Problem::error(
            ProblemKind::OrphanParent,
            format!(
                "{who} names parent {parent} which never arrived: send the parent segment too \
                 (is it still open, or was it too large?); until then X-Ray cannot place it"
            ),
        )
    } else {
        Problem::warning(
            ProblemKind::OrphanParent,
            format!(
                "{who} names parent {parent} which never arrived: expected if the caller is not \
                 instrumented (a browser, a load balancer); otherwise make the caller send its \
                 segments to this daemon too"
            ),
        )
    };
    problem.in_trace(Some(trace_id)).about(Some(&flat.id))
}

/// Takes every entity out of the documents, dropping superseded and duplicate copies.
fn flatten(docs: &[Value], trace_id: &str, problems: &mut Vec<Problem>) -> Vec<Flat> {
    let mut out: Vec<Flat> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut stack: Vec<(&Value, EntityKind, Option<String>, usize)> = (docs.iter().rev())
        .map(|doc| {
            let kind = match doc.get("type").and_then(Value::as_str) {
                Some("subsegment") => EntityKind::Subsegment,
                _ => EntityKind::Segment,
            };
            let parent = doc.get("parent_id").and_then(Value::as_str).map(str::to_owned);
            (doc, kind, parent, 0)
        })
        .collect();
    while let Some((value, kind, parent, depth)) = stack.pop() {
        let Some(fields) = value.as_object() else {
            continue;
        };
        // Children become nodes of their own, so the node keeps every field but those.
        let doc: Value = (fields.iter())
            .filter(|(key, _)| *key != "subsegments")
            .map(|(key, v)| (key.clone(), v.clone()))
            .collect::<serde_json::Map<_, _>>()
            .into();
        let id = match doc.get("id").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            // Entities without an id still show up, under an id no SDK can produce.
            None => format!("(no id #{})", out.len() + 1),
        };
        let flat = Flat { kind, id: id.clone(), parent, doc };
        match index.entry(id.clone()) {
            Entry::Vacant(slot) => {
                slot.insert(out.len());
                out.push(flat);
            }
            Entry::Occupied(slot) => {
                let old = &mut out[*slot.get()];
                match (is_finished(&old.doc), is_finished(&flat.doc)) {
                    (false, _) => *old = flat,
                    (true, false) => {}
                    (true, true) => {
                        let message = format!(
                            "{} arrived twice: ids must be unique within a trace, so X-Ray \
                             keeps one copy; check for an SDK resending or an id generator \
                             repeating itself",
                            label(flat.kind, &flat.doc)
                        );
                        problems.push(
                            Problem::error(ProblemKind::DuplicateId, message).in_trace(Some(trace_id)).about(Some(&id)),
                        );
                        continue;
                    }
                }
            }
        }
        if let Some(Value::Array(children)) = value.get("subsegments")
            && depth < MAX_NESTING
        {
            // Pushed in reverse so they come off the stack in document order.
            for child in children.iter().rev() {
                let child = (child, EntityKind::Subsegment, Some(id.clone()), depth + 1);
                stack.push(child);
            }
        }
    }
    out
}

/// Turns parent links into nested [`Node`]s without unbounded recursion.
struct TreeBuilder {
    docs: Vec<(EntityKind, Value)>,
    children: Vec<Vec<usize>>,
    built: Vec<bool>,
    too_deep: Vec<usize>,
}

impl TreeBuilder {
    fn build_all(&mut self, roots: Vec<usize>, trace_id: &str, problems: &mut Vec<Problem>) -> Vec<Node> {
        let mut out = Vec::new();
        let mut queue: VecDeque<usize> = roots.into();
        loop {
            while let Some(i) = queue.pop_front() {
                if !self.built[i] {
                    out.push(self.build(i, 0));
                }
                for deep in std::mem::take(&mut self.too_deep) {
                    let (kind, doc) = &self.docs[deep];
                    let message = format!(
                        "{} sits more than {MAX_NESTING} levels deep, shown here as a separate \
                         root: flatten the nesting",
                        label(*kind, doc)
                    );
                    problems.push(Problem::warning(ProblemKind::BadNesting, message).in_trace(Some(trace_id)));
                    queue.push_back(deep);
                }
            }
            // Whatever is left was never reached from a root: its parent_ids form a loop.
            let Some(i) = self.built.iter().position(|done| !done) else {
                break;
            };
            let (kind, doc) = &self.docs[i];
            let message = format!(
                "{} is part of a parent_id loop (A names B, B names A): each parent_id must \
                 name the caller, which started earlier",
                label(*kind, doc)
            );
            problems.push(Problem::error(ProblemKind::BadNesting, message).in_trace(Some(trace_id)));
            queue.push_back(i);
        }
        out
    }

    fn build(&mut self, i: usize, depth: usize) -> Node {
        self.built[i] = true;
        let (kind, doc) = std::mem::replace(&mut self.docs[i], (EntityKind::Subsegment, Value::Null));
        let mut children = Vec::new();
        for child in std::mem::take(&mut self.children[i]) {
            if self.built[child] {
                continue;
            }
            if depth + 1 >= MAX_NESTING {
                self.too_deep.push(child);
            } else {
                children.push(self.build(child, depth + 1));
            }
        }
        Node { kind, doc, children }
    }
}
