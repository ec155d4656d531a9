//! Parameter gradients handed straight to the optimizer's store.
//!
//! candle's autograd gives every gradient a zero-filled buffer and adds each contribution into
//! it (`backprop.rs`: `or_insert`, then `add`): for a parameter with one contribution, a full
//! write of zeros and a read-read-write pass that only copy it. For d2l's AlexNet that is
//! 86 MB of parameters twice over, ~12 ms a step on 2 cores of an AMD EPYC (Zen 4), about 8% of
//! a 96x96 step at batch 16 (docs/performance.md). Inside [`GradSink::scope`] the lab's
//! convolution and linear ops hand their variables' gradients to the sink instead of returning
//! them to candle; [`GradSink::drain_into`] then moves them into the [`GradStore`] that
//! `backward()` returned (adding where candle has a contribution of its own, e.g. a weight
//! penalty in the loss). The result is the same store, with the same values.
//!
//! Opt-in: outside a scope every op returns its gradients to candle as usual, so
//! `loss.backward()` alone still gives every gradient. The lab's training loop and step
//! benchmark use it (`train::optim::loss_and_gradients`).

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor};

thread_local! {
    static CURRENT: RefCell<Option<GradSink>> = const { RefCell::new(None) };
}

/// Where the ops built inside [`GradSink::scope`] put their variables' gradients.
#[derive(Clone, Default)]
pub struct GradSink(Arc<Mutex<Vec<(Tensor, Tensor)>>>);

impl std::fmt::Debug for GradSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map_or(0, |v| v.len());
        write!(f, "GradSink({n} gradients)")
    }
}

impl GradSink {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` (a forward pass) with this sink installed on this thread: the lab's ops built
    /// in it send their variables' gradients here when the backward pass runs.
    pub fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
        let r = f();
        CURRENT.with(|c| c.replace(previous));
        r
    }

    /// The sink installed on this thread, for an op being built.
    pub(crate) fn current() -> Option<GradSink> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// An op's gradient `grad` for its operand `param`: kept here when there is a sink and
    /// `param` is a variable (None goes back to candle), else handed back.
    pub(crate) fn route(sink: Option<&GradSink>, param: &Tensor, grad: Option<Tensor>) -> Result<Option<Tensor>> {
        match (sink, grad) {
            (Some(sink), Some(grad)) if param.is_variable() => {
                sink.put(param, grad)?;
                Ok(None)
            }
            (_, grad) => Ok(grad),
        }
    }

    /// Adds `grad` to `param`'s entry (a layer used twice contributes twice).
    fn put(&self, param: &Tensor, grad: Tensor) -> Result<()> {
        let mut v = self.0.lock().map_err(|_| candle_core::Error::Msg("gradient sink: poisoned by a panic in another op".into()))?;
        match v.iter_mut().find(|(p, _)| p.id() == param.id()) {
            Some((_, g)) => *g = g.add(&grad)?,
            None => v.push((param.clone(), grad)),
        }
        Ok(())
    }

    /// Moves every gradient into `grads` (added to an entry candle made for the same
    /// variable); the sink is empty afterwards.
    pub fn drain_into(&self, grads: &mut GradStore) -> Result<()> {
        let taken = std::mem::take(&mut *self.0.lock().map_err(|_| candle_core::Error::Msg("gradient sink: poisoned by a panic in an op".into()))?);
        for (param, grad) in taken {
            let grad = match grads.remove(&param) {
                Some(other) => other.add(&grad)?,
                None => grad,
            };
            grads.insert(&param, grad);
        }
        Ok(())
    }

    /// How many variables' gradients the sink holds.
    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |v| v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
