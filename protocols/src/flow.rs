//! The contract between a protocol's per-flow state machine and the sensor that drives it:
//! stream bytes per direction, gaps, datagrams, the end of the flow; what is still unanswered;
//! when to give up on a flow that is not the protocol after all.

use crate::Direction;

/// One protocol's per-flow parser.
pub trait FlowParser: Default + Send + 'static {
    /// What the parser reports (PDUs with their pairing, problems), borrowing the bytes fed.
    type Event<'a>;

    /// The next stream bytes of one direction, captured at `now_ns`; events go to `f` in
    /// stream order.
    fn feed(
        &mut self,
        dir: Direction,
        data: &[u8],
        now_ns: i64,
        f: &mut dyn FnMut(Self::Event<'_>),
    );

    /// Bytes are missing in `dir` before the next data.
    fn gap(&mut self, dir: Direction);

    /// One datagram; `Err` with a reason when the protocol does not run over datagrams.
    fn datagram(
        &mut self,
        dir: Direction,
        data: &[u8],
        now_ns: i64,
        f: &mut dyn FnMut(Self::Event<'_>),
    ) -> Result<(), &'static str>;

    /// The flow ended: what is still open counts as unanswered.
    fn finish(&mut self);

    /// Running totals the sensor counts per protocol (unanswered requests, incomplete
    /// fragments), by name; they only grow.
    fn tallies(&self, f: &mut dyn FnMut(&'static str, u64));

    /// Why this flow is not the protocol after all, once that is clear: the sensor stops
    /// feeding it and counts the reason.
    fn give_up(&self) -> Option<&'static str>;
}
