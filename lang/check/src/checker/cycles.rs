//! Cycles among the references: a depth-first search over the definitions, each cycle reported
//! once (by its set of members), naming each definition on it and where it uses the next.

use exp_diag::Span;

use super::Checker;
use crate::check_error::CheckError;
use crate::hash::HashSet;

impl Checker<'_> {
    /// Reports every cycle among the references, once each.
    pub(super) fn cycles(&mut self) {
        let mut state = vec![0u8; self.defs.len()];
        let mut reported: HashSet<Vec<usize>> = HashSet::default();
        let mut found = Vec::new();
        for start in 0..self.defs.len() {
            if state[start] == 0 {
                let mut stack = Vec::new();
                let mut uses = Vec::new();
                self.visit(
                    start,
                    &mut state,
                    &mut stack,
                    &mut uses,
                    &mut reported,
                    &mut found,
                );
            }
        }
        self.errors.extend(found);
    }

    fn visit(
        &self,
        node: usize,
        state: &mut [u8],
        stack: &mut Vec<usize>,
        uses: &mut Vec<Span>,
        reported: &mut HashSet<Vec<usize>>,
        found: &mut Vec<CheckError>,
    ) {
        state[node] = 1;
        stack.push(node);
        for &(next, span) in &self.edges[node] {
            uses.push(span);
            if state[next] == 1 {
                let from = stack.iter().position(|idx| *idx == next).unwrap_or(0);
                let mut members: Vec<usize> = stack[from..].to_vec();
                members.sort_unstable();
                if reported.insert(members) {
                    let mut names: Vec<String> = stack[from..]
                        .iter()
                        .map(|idx| self.defs[*idx].0.name.name.clone())
                        .collect();
                    names.push(self.defs[next].0.name.name.clone());
                    found.push(CheckError::Cycle {
                        names,
                        uses: uses[from..].to_vec(),
                        span: self.defs[next].0.name.span,
                    });
                }
            } else if state[next] == 0 {
                self.visit(next, state, stack, uses, reported, found);
            }
            uses.pop();
        }
        stack.pop();
        state[node] = 2;
    }
}
