//! Japanese text of the page.
//!
//! Technical terms stay recognisable: アテンション・シンク (attention sink),
//! ゲート (gate), and softmax, sigmoid, F-Attn and WebGPU in Latin letters.

use super::Strings;

pub static JA: Strings = Strings {
    document_title: "gatelab：アテンション・シンクとゲート付きアテンション",
    brand: "gatelab",
    tagline: "アテンション・シンクが生まれる様子と、ゲートがそれを取り除く様子を観察します。",
    language_switch_label: "言語",
    language_english: "English",
    language_japanese: "日本語",
    intro_heading: "2つの小さな Transformer を、ブラウザの中で並べて学習",
    intro_body: "gatelab では、ベースラインの Transformer と、ゲート付きアテンションの \
        Transformer を、同じデータで同時に、WebGPU を通じてあなたの GPU 上で学習させます。\
        WebGPU が使えない環境では、WebAssembly にコンパイルした CPU エンジンが Web Worker \
        の中で代わりに動きます（速度は落ちます）。",
    intro_sink: "softmax アテンションでは、各ヘッドが前のトークンに割り当てる重みの合計が\
        必ず 1 になります。参照すべきトークンが無いときも同じです。そのため多くのヘッドは、\
        重みの大半を先頭トークンに置くように学習します。このパターンをアテンション・シンクと\
        呼びます。",
    intro_status: "「再生」を押すと、2つの実行が同じシードから学習を始めます。設定はすべてページのアドレスに入るので、リンクで同じ表示を再現できます。",
    comparison_heading: "比較する2つのモデル",
    baseline_title: "ベースライン",
    baseline_body: "標準的なマルチヘッド softmax アテンションです。各ヘッドの出力は value \
        ベクトルのアテンション重み付き和で、そのまま出力射影に渡されます。",
    baseline_expectation: "学習が進むにつれて先頭トークンへのアテンションの割合が増え、\
        アテンション・シンクが形成されます。",
    gated_title: "ゲート付きアテンション",
    gated_body: "違いは1点だけです。各ヘッドのアテンション出力に、現在のトークンから計算した \
        sigmoid ゲートを要素ごとに掛けます。これによりヘッドは、アテンションを先頭トークンに\
        逃がさなくても、ほぼゼロを出力できます。",
    gated_expectation: "先頭トークンへのアテンションの割合は低いままです。ゲートがあるので、\
        シンクが必要なくなります。",
    metric_name: "F-Attn",
    metric_definition: "先頭トークンへのアテンション：クエリが先頭トークンに割り当てる\
        アテンション重みを、全クエリで平均した値です。",
    backend_heading: "GPU と CPU",
    backend_body: "GPU では、演算ごとに1つの WGSL コンピュートカーネルを実行します。\
        Rust で書かれた CPU エンジンは同じモデルを実行し、GPU の結果を検証する基準になります。",
    backend_webgpu_found: "このブラウザは WebGPU API を提供しているため、学習はまず GPU で\
        試みます。",
    backend_webgpu_missing: "このブラウザでは WebGPU が使えないため、学習には CPU \
        フォールバックを使います。",
    footer_source: "出典：",
    paper_authors: "Qiu ほか、2025年。",
    paper_title: "Gated Attention for Large Language Models: Non-linearity, \
        Sparsity, and Attention-Sink-Free",
    paper_reference: "arXiv:2505.06708",
    playground_heading: "2つの実行を学習させる",
    run_a_title: "実行Ａ",
    run_b_title: "実行Ｂ",
    variant_label: "バリアント",
    play: "再生",
    pause: "一時停止",
    single_step: "1ステップ",
    reset: "リセット",
    new_seed: "新しいシード",
    steps_per_frame: "フレームごとのステップ数",
    learning_rate: "学習率",
    batch_label: "バッチサイズ",
    layers_label: "層数",
    heads_label: "ヘッド数",
    width_label: "モデル幅",
    seq_len_label: "系列長",
    task_label: "タスク",
    seed_label: "シード",
    steps_label: "学習ステップ数",
    task_bigram: "バイグラム・バックコピー",
    task_text_en: "テキスト（英語）",
    task_text_ja: "テキスト（日本語）",
    task_copy: "コピー",
    step_counter: "ステップ {step} / {total}",
    speed: "毎秒 {steps} ステップ、毎秒 {tokens} トークン",
    backend_label: "エンジン：",
    backend_detecting: "WebGPU を確認しています…",
    backend_cpu: "CPU（Web Worker）：{reason}",
    reason_no_webgpu: "このブラウザには navigator.gpu がありません",
    reason_no_adapter: "WebGPU の GPU アダプタが見つかりません",
    reason_error: "GPU エンジンでエラーが起きました（{error}）",
    cpu_lesson_note: "CPU では、1500 ステップが現実的な時間で終わるよう、通常のレッスンの半分のバッチサイズ（64 本ではなく 32 本の系列）で始めます。ベースラインでは同じようにアテンション・シンクが生まれ、ゲートはそれを消します。",
    gpu_failed: "GPU エンジンでエラーが起きました（{error}）。CPU で学習を続けます。",
    url_rejected: "リンクの {field} = {value} は使えません（使える値：{allowed}）。代わりに既定値を使います。",
    run_failed: "{run} が停止しました：{error}",
    chart_attention: "プローブ系列でのアテンション：全ての層とヘッド（クリックで拡大）",
    chart_zoom: "層 {layer}、ヘッド {head}：行がクエリ、列がキー",
    axis_query: "クエリ",
    axis_key: "キー",
    axis_step: "ステップ",
    chart_f_attn: "F-Attn とシンク・ヘッド",
    series_f_attn: "F-Attn",
    series_sink_heads: "シンク・ヘッドの割合",
    series_uniform: "一様なアテンション",
    chart_gate_hist: "ゲートの値",
    series_gate_share: "ゲート値の割合",
    axis_gate: "ゲートの値",
    chart_gate_map: "ヘッド（行）と位置（列）ごとの平均ゲート",
    axis_head: "ヘッド",
    axis_position: "位置",
    chart_gate_copy: "コピー位置とそれ以外でのゲート、BOS の value ノルム",
    series_gate_copy: "コピー位置のゲート",
    series_gate_other: "それ以外のゲート",
    series_bos_norm: "BOS の value ノルム",
    gate_copy_note: "ゲート付きのヘッドは、コピーするものがない位置ではゲートで自分の出力を止めるので、シンクを必要としません。ベースラインは、その分のアテンションを最初のトークンに置き、その value を小さくします。",
    chart_m_act: "層ごとの最大活性値",
    series_layer: "層 {layer}",
    chart_loss: "損失",
    series_train_loss: "学習損失",
    series_val_loss: "検証損失",
    no_gate: "このバリアントにはゲートがありません。",
    loss_note: "このタスクでは、損失はゲートの有無でほぼ変わりません。見てほしいのは点数ではなく、仕組みです。",
    waiting: "開始しています…",
    fatal_title: "内部エラーでページが止まりました",
    fatal_body: "ページ内部で処理が失敗したため、表示を更新できなくなりました。何が失敗したかを下に示します。「リセット」を押すと、既定の設定でページを読み込み直します。",
    fatal_reset: "リセット",
    diverged: "{run} はステップ {step} で発散しました：{what}が {value} になりました。学習を一時停止し、それまでのステップのグラフは残しています。学習率（現在 {lr}）を下げて「リセット」を押してください。",
    diverged_loss: "損失",
    diverged_grad_norm: "勾配ノルム",
    device_lost_resumed: "GPU デバイスが失われました（{error}）。新しいデバイスに切り替え、GPU から最後にコピーしたステップ {step} から学習を続けます。",
};
