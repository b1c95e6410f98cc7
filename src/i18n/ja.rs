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
        Transformer を、同じデータで同時に、WebGPU を通じてあなたの GPU 上で学習させる\
        予定です。WebGPU が使えない環境では、WebAssembly にコンパイルした CPU エンジンが\
        代わりに動きます（速度は落ちます）。",
    intro_sink: "softmax アテンションでは、各ヘッドが前のトークンに割り当てる重みの合計が\
        必ず 1 になります。参照すべきトークンが無いときも同じです。そのため多くのヘッドは、\
        重みの大半を先頭トークンに置くように学習します。このパターンをアテンション・シンクと\
        呼びます。",
    intro_status: "このページは初期版です。学習機能はまだ使えません。",
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
    backend_body: "GPU では、演算ごとに1つの WGSL コンピュートカーネルを実行する予定です。\
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
};
