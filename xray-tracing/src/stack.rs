//! What each thread's entered spans displaced from xray-core's current-entity slot.
//!
//! A span may be entered on several threads at once and re-entered on one, so what it
//! displaced cannot live in the span: each thread keeps a stack of `(span, displaced entity)`
//! for the recorded spans entered on it. Exits normally come in reverse order; when one does
//! not (tracing allows it), the exiting span's record is taken out of the middle and the span
//! entered after it inherits what it had displaced, so the last exit still restores the entity
//! that was current before the first enter.

use std::cell::RefCell;

use tracing::span;
use xray_core::Entity;
use xray_core::integration::replace_current;

thread_local! {
    static DISPLACED: RefCell<Vec<(span::Id, Entity)>> = const { RefCell::new(Vec::new()) };
}

/// Makes `entity` current for span `id` on this thread.
#[inline]
pub(crate) fn enter(id: &span::Id, entity: Entity) {
    let previous = replace_current(entity);
    // A torn-down thread-local (a span entered from a thread-local destructor) records nothing;
    // the slot is then put back at once so that nothing leaks past this span.
    let mut previous = Some(previous);
    let _ = DISPLACED.try_with(|d| {
        if let Ok(mut d) = d.try_borrow_mut()
            && let Some(previous) = previous.take()
        {
            d.push((id.clone(), previous));
        }
    });
    if let Some(previous) = previous {
        replace_current(previous);
    }
}

/// Puts back what span `id`'s latest enter on this thread displaced; nothing for a span that
/// this layer did not enter here.
#[inline]
pub(crate) fn exit(id: &span::Id) {
    let restore = DISPLACED.try_with(|d| {
        let Ok(mut d) = d.try_borrow_mut() else { return None };
        let at = d.iter().rposition(|(entered, _)| entered == id)?;
        let (_, displaced) = d.remove(at);
        if at == d.len() {
            // The common case: the innermost span exits; its displaced entity becomes current.
            Some(displaced)
        } else {
            // Out of order: the span entered next now displaces what this one did.
            d[at].1 = displaced;
            None
        }
    });
    if let Ok(Some(entity)) = restore {
        // Dropped outside the borrow: the entity we take out may be the last handle to a node.
        drop(replace_current(entity));
    }
}

/// How many recorded spans are entered on this thread (for tests).
#[cfg(test)]
pub(crate) fn depth() -> usize {
    DISPLACED.with(|d| d.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use xray_core::integration::current_quiet;

    #[test]
    fn nested_and_out_of_order_exits_restore_what_was_current_first() {
        let capture = xray_core::test::Capture::new();
        let segment = capture.recorder().new_segment("svc");
        let a = segment.begin_subsegment("a");
        let b = segment.begin_subsegment("b");
        let (ia, ib) = (span::Id::from_u64(1), span::Id::from_u64(2));

        let _outer = segment.entity().enter();
        enter(&ia, a.entity());
        enter(&ib, b.entity());
        assert_eq!(current_quiet().id(), b.id());
        // `a` exits first: `b` stays current, and inherits what `a` displaced.
        exit(&ia);
        assert_eq!(current_quiet().id(), b.id());
        exit(&ib);
        assert_eq!(current_quiet().id(), segment.id());
        assert_eq!(depth(), 0);

        // Re-entering a span on the same thread nests like any other enter.
        enter(&ia, a.entity());
        enter(&ia, a.entity());
        exit(&ia);
        assert_eq!(current_quiet().id(), a.id());
        exit(&ia);
        assert_eq!(current_quiet().id(), segment.id());

        // Exiting a span that was never entered here changes nothing.
        exit(&ib);
        assert_eq!(current_quiet().id(), segment.id());
    }
}
