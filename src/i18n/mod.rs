//! User-visible text, one table per language.
//!
//! Every string that the app renders comes from a [`Strings`] table, and
//! index.html carries only the brand as the title shown before the app
//! starts. Each language fills in every field, so a language that misses a
//! key fails to compile. The tests below check the tables for empty strings and for
//! Japanese entries that were left in English.

mod en;
mod ja;

pub use en::EN;
pub use ja::JA;

/// Declares the `Strings` table type and `Strings::entries`, both from one
/// field list, so the tests see every field that a language must fill in.
macro_rules! define_strings {
    ($($(#[doc = $doc:literal])* $field:ident,)*) => {
        /// The text of the page in one language.
        #[derive(Debug)]
        pub struct Strings {
            $($(#[doc = $doc])* pub $field: &'static str,)*
        }

        impl Strings {
            /// Returns every `(field name, text)` pair, in declaration order.
            #[cfg(test)]
            pub fn entries(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($field), self.$field),)*]
            }
        }
    };
}

define_strings! {
    /// Document title shown in the browser tab.
    document_title,
    /// Project name shown in the header.
    brand,
    /// One-line summary under the project name.
    tagline,
    /// Label of the language switch, read by screen readers.
    language_switch_label,
    /// Name of English on the language switch.
    language_english,
    /// Name of Japanese on the language switch.
    language_japanese,
    /// Heading of the introduction.
    intro_heading,
    /// First introduction paragraph: what gatelab trains and where.
    intro_body,
    /// Second introduction paragraph: what an attention sink is.
    intro_sink,
    /// Notice that training is not available yet.
    intro_status,
    /// Heading of the side-by-side comparison.
    comparison_heading,
    /// Title of the baseline model's card.
    baseline_title,
    /// Description of the baseline model.
    baseline_body,
    /// Expected outcome for the baseline once training runs.
    baseline_expectation,
    /// Title of the gated model's card.
    gated_title,
    /// Description of the gate.
    gated_body,
    /// Expected outcome for the gated model once training runs.
    gated_expectation,
    /// Short name of the first-token attention metric.
    metric_name,
    /// Definition of the first-token attention metric.
    metric_definition,
    /// Heading of the compute backend section.
    backend_heading,
    /// Explanation of the WebGPU path and the CPU fallback.
    backend_body,
    /// Result of the WebGPU check when `navigator.gpu` exists.
    backend_webgpu_found,
    /// Result of the WebGPU check when `navigator.gpu` is missing.
    backend_webgpu_missing,
    /// Lead-in before the footer's reference to Qiu et al. 2025.
    footer_source,
    /// Authors and year of Qiu et al. 2025, as cited in the footer.
    paper_authors,
    /// Title of Qiu et al. 2025, as cited in the footer.
    paper_title,
    /// arXiv identifier of Qiu et al. 2025, the text of the link to it.
    paper_reference,
    /// Heading of the training playground.
    playground_heading,
    /// Title of run A.
    run_a_title,
    /// Title of run B.
    run_b_title,
    /// Label of a run's variant select.
    variant_label,
    /// Play button.
    play,
    /// Pause button.
    pause,
    /// Button that trains one chunk of steps.
    single_step,
    /// Reset button: same seed, same initial weights.
    reset,
    /// Button that draws a new seed and restarts.
    new_seed,
    /// Label of the steps-per-frame setting.
    steps_per_frame,
    /// Label of the learning-rate setting.
    learning_rate,
    /// Label of the batch-size setting.
    batch_label,
    /// Label of the layer-count setting.
    layers_label,
    /// Label of the head-count setting.
    heads_label,
    /// Label of the model-width setting.
    width_label,
    /// Label of the sequence-length setting.
    seq_len_label,
    /// Label of the task select.
    task_label,
    /// Label that shows the seed.
    seed_label,
    /// Label of the training-length setting.
    steps_label,
    /// Name of the Bigram-Backcopy task.
    task_bigram,
    /// Name of the English text task.
    task_text_en,
    /// Name of the Japanese text task.
    task_text_ja,
    /// Name of the copy task.
    task_copy,
    /// Step counter; {step} and {total} are replaced.
    step_counter,
    /// Training speed; {steps} and {tokens} are replaced.
    speed,
    /// Lead-in of the backend badge.
    backend_label,
    /// Badge text while the backend is being chosen.
    backend_detecting,
    /// Badge text of the CPU fallback; {reason} is replaced.
    backend_cpu,
    /// Fallback reason: no navigator.gpu.
    reason_no_webgpu,
    /// Fallback reason: no adapter; {error} is replaced.
    reason_no_adapter,
    /// Fallback reason: a GPU error; {error} is replaced.
    reason_error,
    /// Why the CPU fallback uses a smaller lesson.
    cpu_lesson_note,
    /// Notice after a GPU error; {error} is replaced.
    gpu_failed,
    /// Notice for a rejected URL value; {field}, {value} and {allowed} are replaced.
    url_rejected,
    /// Notice when a run stops; {run} and {error} are replaced.
    run_failed,
    /// Title of the attention heatmaps of every layer and head.
    chart_attention,
    /// Title of the zoomed attention map; {layer} and {head} are replaced.
    chart_zoom,
    /// Name of the query axis in the read-out.
    axis_query,
    /// Name of the key axis in the read-out.
    axis_key,
    /// Label of the step axis.
    axis_step,
    /// Title of the F-Attn chart.
    chart_f_attn,
    /// Legend of the F-Attn line.
    series_f_attn,
    /// Legend of the sink-head share line.
    series_sink_heads,
    /// Legend of the uniform-attention reference.
    series_uniform,
    /// Title of the gate histogram.
    chart_gate_hist,
    /// Legend of the gate histogram bars.
    series_gate_share,
    /// Label of the gate-value axis.
    axis_gate,
    /// Title of the gate map.
    chart_gate_map,
    /// Name of the head axis in the read-out.
    axis_head,
    /// Name of the position axis in the read-out.
    axis_position,
    /// Title of the gate-at-copy-queries chart.
    chart_gate_copy,
    /// Legend of the gate at copy queries.
    series_gate_copy,
    /// Legend of the gate at the other queries.
    series_gate_other,
    /// Legend of the BOS value norm.
    series_bos_norm,
    /// What the gate chart shows.
    gate_copy_note,
    /// Title of the maximum-activation chart.
    chart_m_act,
    /// Legend of one layer's line; {layer} is replaced.
    series_layer,
    /// Title of the loss chart.
    chart_loss,
    /// Legend of the training loss.
    series_train_loss,
    /// Legend of the held-out loss.
    series_val_loss,
    /// Text in place of the gate panels for a variant without a gate.
    no_gate,
    /// Note that the loss does not separate the two runs.
    loss_note,
    /// Text shown before a run has reported.
    waiting,
    /// Summary of the disclosure with a run's knob selects.
    knob_customise,
    /// Label of the gate-position knob.
    knob_gate_position,
    /// Label of the gate-granularity knob.
    knob_granularity,
    /// Label of the gate-sharing knob.
    knob_sharing,
    /// Label of the gate-form knob.
    knob_form,
    /// Label of the gate-activation knob.
    knob_activation,
    /// Label of the attention-normaliser knob.
    knob_normaliser,
    /// Gate position: none.
    knob_gate_none,
    /// Gate position G1.
    knob_g1,
    /// Gate position G2.
    knob_g2,
    /// Gate position G3.
    knob_g3,
    /// Gate position G4.
    knob_g4,
    /// Gate position G5.
    knob_g5,
    /// Granularity: one gate value per channel.
    knob_elementwise,
    /// Granularity: one gate value per head.
    knob_headwise,
    /// Sharing: every head has its own gate weights.
    knob_head_specific,
    /// Sharing: all heads share one gate.
    knob_head_shared,
    /// Form: output times the gate.
    knob_multiplicative,
    /// Form: output plus the gate.
    knob_additive,
    /// Gate activation: sigmoid.
    knob_sigmoid,
    /// Gate activation: SiLU.
    knob_silu,
    /// Normaliser: softmax.
    knob_softmax,
    /// Normaliser: softmax with a null key.
    knob_softmax1,
    /// Normaliser: softmax with a learned sink logit per head.
    knob_sink_logit,
    /// Normaliser: sigmoid attention.
    knob_sigmoid_attn,
    /// Reason a gate knob is disabled without a gate position.
    knob_needs_gate,
    /// Reason headwise and shared gates are disabled at G5.
    knob_not_at_g5,
    /// Speed of both runs together; {speed} is the filled-in speed text.
    speed_total,
    /// Screen-reader summary of a heatmap; {title}, {rows}, {cols} and {cell} are replaced.
    heatmap_summary,
    /// Screen-reader summary of a line chart; {title}, {step} and {values} are replaced.
    chart_summary,
    /// Screen-reader summary of a chart without data; {title} is replaced.
    chart_summary_empty,
    /// Screen-reader summary of the gate histogram; {title}, {bins} and {shares} are replaced.
    histogram_summary,
    /// How to move the zoom with the keyboard.
    attention_keys_hint,
    /// Generic name of a heatmap's row axis.
    heatmap_rows,
    /// Generic name of a heatmap's column axis.
    heatmap_cols,
    /// Note under the knob selects of a variant without a gate.
    knob_needs_gate_note,
    // Lessons, the explanation panel and classroom links.
    /// Heading of the lesson list.
    lessons_heading,
    /// Explanation of what clicking a lesson does.
    lessons_intro,
    /// Lead-in of the note on what to watch in the chosen lesson.
    lessons_watch,
    /// Lead-in of the follow-up lessons of the chosen one.
    lessons_follow_up,
    /// Lesson: the baseline in both runs forms a sink.
    lesson_sink,
    /// Note on what to watch in the sink lesson.
    lesson_sink_watch,
    /// Lesson: baseline against G1.
    lesson_gate,
    /// Note on what to watch in the gate lesson.
    lesson_gate_watch,
    /// Lesson: G1 against G2.
    lesson_where_g2,
    /// Note on what to watch in the G1 against G2 lesson.
    lesson_where_g2_watch,
    /// Lesson: G1 against G5.
    lesson_where_g5,
    /// Note on what to watch in the G1 against G5 lesson.
    lesson_where_g5_watch,
    /// Lesson: G3 against G4.
    lesson_where_g3_g4,
    /// Note on what to watch in the G3 against G4 lesson.
    lesson_where_g3_g4_watch,
    /// Lesson: elementwise against headwise G1.
    lesson_headwise,
    /// Note on what to watch in the headwise lesson.
    lesson_headwise_watch,
    /// Lesson: head-specific against head-shared G1.
    lesson_shared,
    /// Note on what to watch in the head-shared lesson.
    lesson_shared_watch,
    /// Lesson: baseline against softmax1.
    lesson_softmax1,
    /// Note on what to watch in the softmax1 lesson.
    lesson_softmax1_watch,
    /// Lesson: baseline against a learned sink logit.
    lesson_sink_logit,
    /// Note on what to watch in the sink-logit lesson.
    lesson_sink_logit_watch,
    /// Lesson: baseline against sigmoid attention.
    lesson_sigmoid,
    /// Note on what to watch in the sigmoid-attention lesson.
    lesson_sigmoid_watch,
    /// Lesson: baseline against G1 on character text.
    lesson_text,
    /// Note on what to watch in the text lesson.
    lesson_text_watch,
    /// Heading of the explanation panel.
    explain_heading,
    /// Subheading: what an attention sink is.
    explain_sink_heading,
    /// What an attention sink is.
    explain_sink,
    /// Why softmax must put its weight somewhere; a formula follows.
    explain_softmax,
    /// Subheading: what the gate computes.
    explain_gate_heading,
    /// Lead-in of the gate formula.
    explain_gate,
    /// The symbols of the gate formula.
    explain_gate_terms,
    /// Subheading: why the gate is sparse.
    explain_sparse_heading,
    /// Why the gate is input-dependent and mostly near 0.
    explain_sparse,
    /// Subheading: the paper's numbers at scale.
    explain_scale_heading,
    /// The paper's numbers at scale.
    explain_scale,
    /// Lead-in of the explanation's source.
    explain_source,
    /// Heading of the classroom panel.
    classroom_heading,
    /// What the classroom panel does.
    classroom_intro,
    /// Checkbox: hide the lesson sentences.
    hide_lessons,
    /// Checkbox: hide the variant selects.
    hide_variants,
    /// Checkbox: hide the model and batch sizes.
    hide_sizes,
    /// Checkbox: hide the learning rate.
    hide_lr,
    /// Checkbox: hide the task select.
    hide_task,
    /// Checkbox: hide the training length and steps per frame.
    hide_length,
    /// Checkbox: hide the New seed button.
    hide_seed,
    /// Button that copies the link to this view.
    copy_link,
    /// Label of the read-only field holding the link.
    link_label,
    /// Status after the link was copied.
    link_copied,
    /// Status when the clipboard is not available and the link is selected instead.
    link_select_manually,
    /// Note shown to a student when a link hides controls.
    classroom_hidden_note,
    /// Heading of the probe panel.
    probe_heading,
    /// What the probe panel shows.
    probe_intro,
    /// Label of the probe sequence field.
    probe_input_label,
    /// Button that fills the field with probe sequence 0.
    probe_use_batch,
    /// How to type a sequence on a text task.
    probe_hint_text,
    /// How to type a sequence on an id task; {max} is replaced.
    probe_hint_ids,
    /// Caption of the prediction table; {token} is replaced.
    probe_predictions,
    /// Column head: a token.
    probe_token,
    /// Column head: a probability.
    probe_probability,
    /// Rejection: the field is empty.
    probe_error_empty,
    /// Rejection: too long; {len} and {max} are replaced.
    probe_error_too_long,
    /// Rejection: unknown tokens; {items} is replaced.
    probe_error_unknown,
    /// Heading of the error view shown after an internal error (a panic).
    fatal_title,
    /// What the error view means and what its button does.
    fatal_body,
    /// Button of the error view: load the page again without its settings.
    fatal_reset,
    /// Notice when a run diverges; {run}, {step}, {what}, {value} and {lr} are replaced.
    diverged,
    /// {what} of the divergence notice for the loss.
    diverged_loss,
    /// {what} of the divergence notice for the gradient norm.
    diverged_grad_norm,
    /// Notice after the GPU device was lost or failed and was recreated; {error} and {step} are replaced.
    device_lost_resumed,
    // Saving, restoring, downloads and imports.
    /// Banner after a reload: a saved session exists.
    restore_offer,
    /// Under the restore banner: why saving waits.
    restore_note,
    /// Button that restores the saved runs.
    restore_button,
    /// Button that deletes the saved runs.
    discard_button,
    /// Note after a restore.
    restored_note,
    /// Saving to or reading from the browser's storage failed.
    save_failed,
    /// Status line after a save.
    saved_status,
    /// Label before a run's download buttons.
    downloads_label,
    /// Button: the run's JSON.
    export_run,
    /// Button: the metric history as CSV.
    export_csv,
    /// Button: the metric history as JSON.
    export_metrics,
    /// Button: the model as safetensors with its config.
    export_model,
    /// Button under a chart: download it as PNG.
    export_png,
    /// Tooltip of the PNG button.
    export_png_title,
    /// Label of the file input for a run's JSON.
    import_label,
    /// A run's JSON over the size limit.
    import_too_large,
    /// An imported file that is not JSON.
    import_not_json,
    /// An imported JSON that is not a gatelab run.
    import_not_run,
    /// An imported run of another format version.
    import_version,
    /// An imported run whose config the page refuses.
    import_invalid,
    /// Title of an imported run's panel.
    imported_title,
    /// Button that closes an imported run.
    imported_close,
    /// In place of the attention maps of an imported run.
    imported_no_attention,
    /// Task option: the user's own text.
    task_text_custom,
    /// Heading of the own-text panel.
    text_heading,
    /// Size limit of the own text.
    text_limit,
    /// Button that trains both runs on the pasted text.
    text_use,
    /// Label of the .txt file input.
    text_upload,
    /// A refused own text.
    text_rejected,
    /// Characters of the own text and how many became UNK.
    text_summary,
    /// Next to the copied link when the own text is too long to go into it.
    link_text_left_out,
    /// Badge tooltip when WebGPU offered no adapter; `{error}` is wgpu's
    /// English message, kept as a detail.
    badge_no_adapter_title,
    // Engine errors (`crate::engine_error::EngineError`), each the {error} of a notice.
    /// The engine rejected the settings; {field}, {value} and {allowed} are replaced.
    engine_config,
    /// A part of the run exceeds a GPU limit; {part}, {needed}, {unit}, {allowed}, {limit} and {adapter} are replaced.
    engine_gpu_limit,
    /// {unit} of a GPU buffer limit.
    unit_bytes,
    /// {unit} of a GPU dispatch limit.
    unit_workgroups,
    /// Unit word after a character count in a rejected setting's value or range.
    unit_characters,
    /// {part}: the parameter buffer.
    gpu_part_parameters,
    /// {part}: the attention weights.
    gpu_part_attention,
    /// {part}: the MLP activations.
    gpu_part_mlp,
    /// {part}: the logits.
    gpu_part_logits,
    /// {part}: the workgroups of a matrix product.
    gpu_part_matmul,
    /// {part}: the workgroups of an elementwise pass.
    gpu_part_elementwise,
    /// A saved run whose parameter count does not match; {found} and {expected} are replaced.
    engine_saved_size,
    /// A saved run whose step and AdamW update count differ; {step} and {updates} are replaced.
    engine_saved_steps,
    /// A saved run that cannot be decoded; {detail} is the decoder's message.
    engine_saved_unreadable,
    /// The CPU engine panicked; {detail} is the panic message.
    engine_worker_panic,
    /// The GPU device was lost; {detail} is the browser's message.
    engine_device_lost,
    /// Reading data back from the GPU failed; {detail} is the GPU error.
    engine_gpu_read_back,
    /// Requesting a GPU device failed; {detail} is the GPU error.
    engine_gpu_device,
    /// Any other GPU engine error; {detail} is the error.
    engine_gpu_failed,
    /// The link chooses the user's own text, which this browser has not kept.
    text_missing,
}

/// A language that the page can be shown in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    /// Every supported language, in the order the switch lists them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ja];

    /// Returns the string table of this language.
    pub fn strings(self) -> &'static Strings {
        match self {
            Lang::En => &EN,
            Lang::Ja => &JA,
        }
    }

    /// Returns the BCP 47 tag for the `lang` attribute of `<html>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// Picks the page language for a browser language tag such as `ja-JP`.
    ///
    /// A tag whose primary subtag is `ja` (any case) selects Japanese, and
    /// every other tag, an empty one included, selects English.
    pub fn from_language_tag(tag: &str) -> Lang {
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("ja") {
            Lang::Ja
        } else {
            Lang::En
        }
    }

    /// Reads `navigator.language` and picks the page language from it.
    ///
    /// Returns English outside a browser, where there is no `window`.
    pub fn from_browser() -> Lang {
        web_sys::window()
            .and_then(|window| window.navigator().language())
            .map(|tag| Lang::from_language_tag(&tag))
            .unwrap_or(Lang::En)
    }
}

#[cfg(test)]
mod tests;
