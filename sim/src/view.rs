//! A party's **view**: everything it received (each message's payload decoded in its ring), what
//! it dealt or drew (seeds, keys, masks, the bits it shared out) and what was opened to it, step
//! by step. What secure computation promises is that this view's distribution does not depend
//! on the other parties' secrets; `leak`, the view tests and the debugger's view pane read it
//! from here.

use crate::trace::{MessageRecord, Trace, ValueRecord};

/// Where a view item came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Source<'a> {
    /// Part `part` of a message received from `from`.
    Received {
        /// The message.
        message: &'a MessageRecord,
        /// Which part of its payload.
        part: usize,
    },
    /// Something the party dealt or drew itself.
    Dealt,
    /// A value opened to the party.
    Opened,
}

/// One item of a view: a recorded value with where and when it entered the view.
#[derive(Debug, Clone, Copy)]
pub struct ViewItem<'a> {
    /// Global step index.
    pub step: usize,
    /// Op index.
    pub op: usize,
    /// Where it came from.
    pub source: Source<'a>,
    /// The value (label, ring, shape, elements).
    pub value: &'a ValueRecord,
}

impl ViewItem<'_> {
    /// A label for the item: the value's label, or for a message part the message's label
    /// (with the part number when the message has several).
    pub fn label(&self) -> String {
        match self.source {
            Source::Received { message, part } if message.payload.len() > 1 => {
                format!("{} [part {}]", message.label, part + 1)
            }
            Source::Received { message, .. } => message.label.clone(),
            Source::Dealt | Source::Opened => self.value.label.clone(),
        }
    }
}

/// The view of `party` over steps `..end_step` (all steps with `usize::MAX`), in step order;
/// within a step: messages received, then values dealt, then values opened.
pub fn view(trace: &Trace, party: usize, end_step: usize) -> Vec<ViewItem<'_>> {
    let mut items = Vec::new();
    for s in trace.steps.iter().take(end_step) {
        for m in s.messages().filter(|m| m.to == party) {
            for (part, value) in m.payload.iter().enumerate() {
                items.push(ViewItem {
                    step: s.index,
                    op: s.op,
                    source: Source::Received { message: m, part },
                    value,
                });
            }
        }
        if let Some(ps) = s.parties.get(party) {
            for (src, list) in [(Source::Dealt, &ps.dealt), (Source::Opened, &ps.opened)] {
                for value in list {
                    items.push(ViewItem {
                        step: s.index,
                        op: s.op,
                        source: src,
                        value,
                    });
                }
            }
        }
    }
    items
}
