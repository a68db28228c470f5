//! SecureNN behind the protocol interface ([`crate::protocol`]), as tf-encrypted runs it: Pond's
//! linear layers and SecureNN's exact ReLU, MaxPool and argmax, the crypto producer as the
//! helper P2 (`PondParty` dispatches them by [`Nonlinear`]). Three registered protocol objects,
//! one per [`Variant`]: [`SECURENN`] (the default, secure), and the insecure teaching variants
//! [`SECURENN_SHORTCUT`] and [`SECURENN_AS_PUBLISHED`].

use super::Variant;
use crate::context::{PartyId, RingKind};
use crate::pond::protocol as family;
use crate::pond::Nonlinear;
use crate::program::Op;
use crate::protocol::{
    Approximation, CostModel, Explanation, Held, Party, Probe, Protocol, Remark, Role, Seats,
    Security, Settings, StepFacts, ViewFacts, ViewGrid,
};

/// One SecureNN variant as a protocol.
#[derive(Debug, Clone, Copy)]
pub struct SecureNN {
    variant: Variant,
}

/// tf-encrypted's SecureNN (Wagh, Gupta, Chandran, PETS 2019), with the re-randomisation of
/// PrivateCompare's pair. Registered as `SecureNN`.
pub const SECURENN: SecureNN = SecureNN {
    variant: Variant::Secure,
};
/// **Insecure**: tf-encrypted's shortcut (no ShareConvert, no permutation). `SecureNNShortcut`.
pub const SECURENN_SHORTCUT: SecureNN = SecureNN {
    variant: Variant::Shortcut,
};
/// **Insecure**: PrivateCompare as published. `SecureNNAsPublished`.
pub const SECURENN_AS_PUBLISHED: SecureNN = SecureNN {
    variant: Variant::AsPublished,
};

impl SecureNN {
    /// The variant this protocol object runs.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    fn nonlinear(&self) -> Nonlinear {
        match self.variant {
            Variant::Secure => Nonlinear::SecureNN,
            Variant::Shortcut => Nonlinear::SecureNNShortcut,
            Variant::AsPublished => Nonlinear::SecureNNAsPublished,
        }
    }
}

impl Protocol for SecureNN {
    fn name(&self) -> &'static str {
        match self.variant {
            Variant::Secure => "SecureNN",
            Variant::Shortcut => "SecureNNShortcut",
            Variant::AsPublished => "SecureNNAsPublished",
        }
    }
    fn short_name(&self) -> String {
        match self.variant {
            Variant::Secure => "securenn",
            Variant::Shortcut => "securenn-shortcut",
            Variant::AsPublished => "securenn-as-published",
        }
        .into()
    }
    fn about(&self) -> &'static str {
        match self.variant {
            Variant::Secure => {
                "tf-encrypted's SecureNN: Pond's linear layers with SecureNN's exact ReLU, \
                 MaxPool and argmax (Wagh, Gupta, Chandran, PETS 2019), the producer as the \
                 helper P2 (docs/securenn.md)."
            }
            Variant::Shortcut => {
                "INSECURE tf-encrypted shortcut of SecureNN (no ShareConvert, no permutation in \
                 PrivateCompare): shows what the helper learns and when DReLU is wrong. \
                 Teaching only."
            }
            Variant::AsPublished => {
                "INSECURE SecureNN with PrivateCompare exactly as published (Alg. 3 steps 6–7, no \
                 re-randomisation): the helper recovers every DReLU/ReLU/MaxPool input from its \
                 own view (docs/securenn.md, \"The PrivateCompare flaw\"). Teaching only."
            }
        }
    }
    fn security(&self) -> Security {
        match self.variant {
            Variant::Secure => Security::SemiHonest { corrupt: 1 },
            Variant::Shortcut => Security::Insecure(
                "INSECURE variant securenn-shortcut (tf-encrypted's shortcut): no ShareConvert \
                 (DReLU is wrong when the shares wrap) and no permutation or re-randomisation in \
                 PrivateCompare (the helper learns every compared value)",
            ),
            Variant::AsPublished => Security::Insecure(
                "INSECURE variant securenn-as-published: PrivateCompare as in the paper sends the \
                 helper s·⟨c⟩₀ and s·⟨c⟩₁, whose ratio gives away every compared value \
                 (docs/securenn.md, the PrivateCompare flaw)",
            ),
        }
    }
    fn roles(&self) -> &'static [Role] {
        family::ROLES
    }
    fn share_layout(&self) -> (RingKind, &'static [usize]) {
        (RingKind::Z64, family::LAYOUT)
    }
    fn supports(&self, op: &Op) -> std::result::Result<(), String> {
        family::supports(self.nonlinear(), op)
    }
    fn truncates(&self, op: &Op) -> bool {
        family::truncates(self.nonlinear(), op)
    }
    fn party(&self, me: PartyId, seats: &Seats, settings: &Settings) -> Box<dyn Party> {
        family::party(me, seats, settings, self.nonlinear())
    }
    fn reconstruct(&self, seats: &Seats, held: &[Held]) -> Option<crate::encoded::Encoded> {
        family::reconstruct(seats, held)
    }
    fn cost_model(&self, settings: &Settings) -> Box<dyn CostModel> {
        Box::new(family::Costs::new(family::config(
            settings,
            self.nonlinear(),
        )))
    }
    fn explain(&self, step: &str) -> Option<&'static str> {
        self.explanation(step).map(|e| e.computes)
    }
    fn explanation(&self, step: &str) -> Option<Explanation> {
        family::explanation(step, self.variant)
    }
    fn remarks(&self, step: &StepFacts<'_>) -> Vec<Remark> {
        crate::pond::explain::remarks(step)
    }
    fn view_note(&self, item: &ViewFacts<'_>) -> Option<Remark> {
        super::view_notes::note(item, self.variant)
    }
    fn view_grid(&self, item: &ViewFacts<'_>, values: &[u64], cols: usize) -> ViewGrid {
        super::view_notes::grid(item, values, cols, self.variant)
    }
    fn approximation(&self, op: &Op) -> Option<&'static Approximation> {
        family::approximation(self.nonlinear(), op)
    }
    fn probe(&self) -> Option<Probe> {
        Some(Probe {
            attacker: 2,
            servers: [0, 1],
            at_step: "PrivateCompare 1–13",
        })
    }
}
