//! Summing attempts up where they end (a summary), on one thread or on
//! several: a [`Fold`] is given each attempt as it is over, and may take an
//! attempt of one SYN without its [`Attempt`] being made.

use crate::attempt::Attempt;
use crate::first_syn::LoneSyn;
use crate::reader::{self, CaptureError, Source};
use crate::track::Hand;
use crate::{Live, Pass, Totals};

/// How attempts are summed up into a state `S` (one per thread).
pub trait Fold<S>: Sync {
    fn attempt(&self, state: &mut S, a: &Attempt);

    /// `n` attempts of one SYN of `syn`'s kind (`n` is 1 unless the fold
    /// [`counts_lone`](Fold::counts_lone)), taken as they are if the fold
    /// can (`true`; one that counts them must); otherwise it is made and
    /// given to [`Fold::attempt`].
    fn lone_syn(&self, _state: &mut S, _syn: &mut LoneSyn<'_>, _n: u64) -> bool {
        false
    }

    /// Whether attempts of one SYN may come counted by kind, many at once
    /// (what each adds does not depend on its ends or order).
    fn counts_lone(&self) -> bool {
        false
    }

    /// The thread's attempts are all in: the state is handed back after.
    fn end(&self, _state: &mut S) {}
}

impl<S, F: Fn(&mut S, &Attempt) + Sync> Fold<S> for F {
    fn attempt(&self, state: &mut S, a: &Attempt) {
        self(state, a);
    }
}

/// A thread's attempts folded into its state, their box kept.
pub(crate) struct Folding<'f, S, F> {
    state: S,
    fold: &'f F,
}

impl<'f, S: Default, F: Fold<S>> Folding<'f, S, F> {
    pub(crate) fn new(fold: &'f F) -> Self {
        Folding {
            state: S::default(),
            fold,
        }
    }

    /// The state, its attempts all in.
    pub(crate) fn into_state(mut self) -> S {
        self.fold.end(&mut self.state);
        self.state
    }
}

impl<S, F: Fold<S>> Hand for Folding<'_, S, F> {
    fn hand(&mut self, a: Box<Attempt>) -> Option<Box<Attempt>> {
        self.fold.attempt(&mut self.state, &a);
        Some(a)
    }

    fn lone(&mut self, syn: &mut LoneSyn<'_>, n: u64) -> bool {
        self.fold.lone_syn(&mut self.state, syn, n)
    }

    fn counts_lone(&self) -> bool {
        self.fold.counts_lone()
    }
}

/// Every attempt of `input` folded with `fold`: on `threads` threads (see
/// [`crate::fold_parallel`]) or on this one, where the one state comes
/// back alone. `progress` is told how far the reading has come now and
/// then. Conversations are not numbered (`tcp_stream` is `None`): a sum
/// has no use for it.
pub fn fold<'a, S: Default + Send>(
    input: impl Into<Source<'a>>,
    name: &str,
    pass: Pass,
    threads: usize,
    mut progress: impl FnMut(u64),
    fold: &impl Fold<S>,
) -> Result<(Totals, Vec<S>), CaptureError> {
    if threads > 1 {
        return crate::fold_parallel(input, name, pass, threads, progress, fold);
    }
    let mut live = Live::new(pass.max_live).unnumbered();
    live.checksums = pass.checksums;
    let mut hand = Folding::new(fold);
    live.count_lone_syns(&hand);
    let summary = reader::read(input, name, |f| {
        if f.number.is_multiple_of(4096) {
            progress(f.end);
        }
        live.frame_to(&f, &mut hand);
    })?;
    let mut t = live.finish_to(&mut hand);
    t.summary = summary;
    Ok((t, vec![hand.into_state()]))
}
