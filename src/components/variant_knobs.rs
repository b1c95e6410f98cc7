//! Knob-by-knob editor of one run's variant, shown in a disclosure under the
//! variant select.
//!
//! Each knob gets a select. An option that would make an invalid variant
//! stays in the list but is disabled, with the reason from the model crate's
//! validator ([`Variant::parse`]) in its text. Choosing gate position "none"
//! also returns the gate knobs to their defaults, because they do not apply
//! without a gate.

use gatelab_model::{AttnNorm, ConfigError, GateAct, GateForm, GatePos, Granularity, Sharing, Variant};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::use_strings;
use crate::i18n::Strings;

/// The six knobs of a variant, in the order [`Variant::parse`] numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Knob {
    GatePosition,
    Granularity,
    Sharing,
    Form,
    Activation,
    Normaliser,
}

impl Knob {
    pub const ALL: [Knob; 6] =
        [Knob::GatePosition, Knob::Granularity, Knob::Sharing, Knob::Form, Knob::Activation, Knob::Normaliser];

    /// Returns the name used in `data-testid` and in the select's `name`.
    pub fn key(self) -> &'static str {
        match self {
            Knob::GatePosition => "gate",
            Knob::Granularity => "granularity",
            Knob::Sharing => "sharing",
            Knob::Form => "form",
            Knob::Activation => "activation",
            Knob::Normaliser => "normaliser",
        }
    }

    /// Returns the knob values as [`Variant::parse`] spells them.
    pub fn tokens(self) -> &'static [&'static str] {
        match self {
            Knob::GatePosition => &["none", "g1", "g2", "g3", "g4", "g5"],
            Knob::Granularity => &["elementwise", "headwise"],
            Knob::Sharing => &["head-specific", "head-shared"],
            Knob::Form => &["multiplicative", "additive"],
            Knob::Activation => &["sigmoid", "silu"],
            Knob::Normaliser => &["softmax", "softmax1", "sink-logit", "sigmoid-attn"],
        }
    }

    /// Whether the knob belongs to the gate and so needs a gate position.
    pub fn is_gate_knob(self) -> bool {
        !matches!(self, Knob::GatePosition | Knob::Normaliser)
    }

    fn label(self, strings: &Strings) -> &'static str {
        match self {
            Knob::GatePosition => strings.knob_gate_position,
            Knob::Granularity => strings.knob_granularity,
            Knob::Sharing => strings.knob_sharing,
            Knob::Form => strings.knob_form,
            Knob::Activation => strings.knob_activation,
            Knob::Normaliser => strings.knob_normaliser,
        }
    }
}

/// Returns the token of every knob of `variant`, in [`Knob::ALL`] order.
pub fn knob_tokens(variant: &Variant) -> [&'static str; 6] {
    [
        match variant.gate_pos {
            GatePos::None => "none",
            GatePos::G1 => "g1",
            GatePos::G2 => "g2",
            GatePos::G3 => "g3",
            GatePos::G4 => "g4",
            GatePos::G5 => "g5",
        },
        match variant.granularity {
            Granularity::Elementwise => "elementwise",
            Granularity::Headwise => "headwise",
        },
        match variant.sharing {
            Sharing::HeadSpecific => "head-specific",
            Sharing::HeadShared => "head-shared",
        },
        match variant.form {
            GateForm::Multiplicative => "multiplicative",
            GateForm::Additive => "additive",
        },
        match variant.act {
            GateAct::Sigmoid => "sigmoid",
            GateAct::Silu => "silu",
        },
        match variant.attn {
            AttnNorm::Softmax => "softmax",
            AttnNorm::Softmax1 => "softmax1",
            AttnNorm::SinkLogit => "sink-logit",
            AttnNorm::Sigmoid => "sigmoid-attn",
        },
    ]
}

/// Returns `variant` with `knob` set to `token`, checked by the model
/// crate's parser and validator.
///
/// Setting the gate position to `none` also resets the gate knobs, which
/// apply only with a gate.
pub fn with_knob(variant: &Variant, knob: Knob, token: &str) -> Result<Variant, ConfigError> {
    let base = if knob == Knob::GatePosition && token == "none" {
        Variant { attn: variant.attn, ..Variant::BASELINE }
    } else {
        *variant
    };
    let mut tokens = knob_tokens(&base).map(str::to_string);
    let index = Knob::ALL.iter().position(|k| *k == knob).unwrap_or_default();
    tokens[index] = token.to_string();
    Variant::parse(&tokens.join("+"))
}

fn option_label(strings: &Strings, token: &str) -> &'static str {
    match token {
        "none" => strings.knob_gate_none,
        "g1" => strings.knob_g1,
        "g2" => strings.knob_g2,
        "g3" => strings.knob_g3,
        "g4" => strings.knob_g4,
        "g5" => strings.knob_g5,
        "elementwise" => strings.knob_elementwise,
        "headwise" => strings.knob_headwise,
        "head-specific" => strings.knob_head_specific,
        "head-shared" => strings.knob_head_shared,
        "multiplicative" => strings.knob_multiplicative,
        "additive" => strings.knob_additive,
        "sigmoid" => strings.knob_sigmoid,
        "silu" => strings.knob_silu,
        "softmax" => strings.knob_softmax,
        "softmax1" => strings.knob_softmax1,
        "sink-logit" => strings.knob_sink_logit,
        _ => strings.knob_sigmoid_attn,
    }
}

/// Returns the page's text for a validator error about a knob combination.
fn reason(strings: &Strings, error: &ConfigError) -> String {
    match error {
        ConfigError::KnobWithoutGate => strings.knob_needs_gate.to_string(),
        ConfigError::NotApplicableAtG5 { .. } => strings.knob_not_at_g5.to_string(),
        other => other.to_string(),
    }
}

#[derive(Properties, PartialEq)]
pub struct VariantKnobsProps {
    /// The run's variant as `Variant::name` writes it.
    pub variant: String,
    /// Called with the new variant's name.
    pub on_change: Callback<String>,
}

/// Renders one select per knob inside a "customise" disclosure.
#[function_component(VariantKnobs)]
pub fn variant_knobs(props: &VariantKnobsProps) -> Html {
    let strings = use_strings();
    let variant = Variant::parse(&props.variant).unwrap_or_default();
    let current = knob_tokens(&variant);

    let selects = Knob::ALL.into_iter().zip(current).map(|(knob, selected_token)| {
        let without_gate = knob.is_gate_knob() && !variant.has_gate();
        let onchange = {
            let on_change = props.on_change.clone();
            Callback::from(move |event: Event| {
                let token = event.target_unchecked_into::<HtmlSelectElement>().value();
                // A disabled option cannot be chosen, so an error here means
                // the name reaches the settings, whose validator reports it.
                let name = match with_knob(&variant, knob, &token) {
                    Ok(changed) => changed.name(),
                    Err(_) => format!("{}+{token}", variant.name()),
                };
                on_change.emit(name);
            })
        };
        let options = knob.tokens().iter().map(|&token| {
            let check = with_knob(&variant, knob, token);
            let text = match &check {
                Ok(_) => option_label(strings, token).to_string(),
                Err(error) => format!("{} ({})", option_label(strings, token), reason(strings, error)),
            };
            html! {
                <option value={token} selected={token == selected_token} disabled={check.is_err()}>{ text }</option>
            }
        });
        html! {
            <label class="control knob">
                <span>{ knob.label(strings) }</span>
                <select name={knob.key()} data-testid={format!("knob-{}", knob.key())} disabled={without_gate} {onchange}>
                    { for options }
                </select>
            </label>
        }
    });

    html! {
        <details class="variant-knobs" data-testid="variant-knobs">
            <summary>{ strings.knob_customise }</summary>
            <div class="knobs">{ for selects }</div>
            if !variant.has_gate() {
                <p class="note knob-hint">{ strings.knob_needs_gate_note }</p>
            }
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_every_named_variant() {
        for name in gatelab_model::NAMED_VARIANTS {
            let variant = Variant::parse(name).unwrap();
            let joined = knob_tokens(&variant).join("+");
            assert_eq!(Variant::parse(&joined).unwrap(), variant, "{name}");
        }
    }

    #[test]
    fn knob_change_gives_parseable_name() {
        let changed = with_knob(&Variant::G1, Knob::Activation, "silu").unwrap();
        assert_eq!(changed.name(), "g1-silu");
        let changed = with_knob(&changed, Knob::Granularity, "headwise").unwrap();
        assert_eq!(Variant::parse(&changed.name()).unwrap(), changed);
        assert_eq!(changed.name(), "g1+headwise+silu");
    }

    #[test]
    fn gate_none_resets_gate_knobs() {
        let variant = Variant::parse("g3+headwise+additive+softmax1").unwrap();
        let changed = with_knob(&variant, Knob::GatePosition, "none").unwrap();
        assert_eq!(changed, Variant { attn: AttnNorm::Softmax1, ..Variant::BASELINE });
    }

    #[test]
    fn gate_knob_without_gate_rejected() {
        let error = with_knob(&Variant::BASELINE, Knob::Form, "additive").unwrap_err();
        assert!(matches!(error, ConfigError::KnobWithoutGate), "{error:?}");
    }

    #[test]
    fn headwise_at_g5_rejected() {
        let g5 = Variant::parse("g5").unwrap();
        let error = with_knob(&g5, Knob::Granularity, "headwise").unwrap_err();
        assert!(matches!(error, ConfigError::NotApplicableAtG5 { .. }), "{error:?}");
        let error = with_knob(&g5, Knob::Sharing, "head-shared").unwrap_err();
        assert!(matches!(error, ConfigError::NotApplicableAtG5 { .. }), "{error:?}");
    }

    #[test]
    fn g5_rejected_for_headwise_gate() {
        let headwise = Variant::parse("g1-headwise").unwrap();
        assert!(with_knob(&headwise, Knob::GatePosition, "g5").is_err());
        assert!(with_knob(&headwise, Knob::GatePosition, "g2").is_ok());
    }
}
