// The pure Tendermint core (issue 5): Algorithm 1 of Buchman, Kwon, Milosevic, "The latest gossip
// on BFT consensus" (arXiv:1807.04938), shaped like malachite: types → vote keeper → round state
// machine → driver. No I/O, no clock, no randomness: the host feeds `Driver.Input`s and performs
// the returned `Driver.Effect`s in order.
//
//   Types/         Height, Round (−1 = none), ValueID, Value, Proposal, Vote, SignedMessage,
//                  Evidence, Validator, ValidatorSet (CometBFT proposer priorities),
//                  CommitCertificate; canonical `WireMessage` encodings and sign-bytes.
//   VoteKeeper/    per (round, type) vote sets with 128-bit tallies and the thresholds.
//   StateMachine/  `RoundState.apply(_:address:)`: one case per rule, each citing its line.
//   Driver/        `Driver`: detects the "upon" conditions, runs the state machine to a fixed
//                  point, turns outputs into effects (WAL rule, double-sign guard), buffers the
//                  next height, restores after a crash.
//
// Where this differs from the letter of Algorithm 1, and why:
// - Lines 52–54: after a decision the driver waits for the host's `.newHeight(validatorSet)`
//   (the host commits the block and computes the next set) instead of moving on by itself.
// - Line 18: the proposer also schedules timeoutPropose while it waits for `getValue()` (as
//   malachite and CometBFT do), so an application that never answers costs one round.
// - Line 55: `f + 1` counts the distinct validators that sent a vote (prevote or precommit) in
//   the round; proposals are not counted (as malachite).
// - Line 58: the step condition is `propose` (the paper); malachite's pseudo-code.md has a typo.
// - An equivocator's conflicting vote counts toward its own value's tally (see `VoteSet`), and a
//   whole `CommitCertificate` can stand for line 49's 2f + 1 precommits (block sync).
// - `proposer(h, r)` is the winner after r more elections computed in one batch from the
//   height's set, so it does not depend on the path by which a node reached round r.
// - Restart (`Driver.restore`) rebuilds from the node's own signed messages only: the lock and
//   the valid value come back from its last precommit for a value (whose record carries the
//   value); everything else it learns again from its peers' gossip.
