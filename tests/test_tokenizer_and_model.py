"""Tokenizer and model: what transformers sees when it opens our files."""

from transformers import AutoModelForCausalLM, AutoTokenizer

from alignkit.models import load
from alignkit.models.tokenizer import EOS, IM_END, PAD, save_atomically, train_tokenizer
from tests.conftest import make_documents


def test_trained_tokenizer_opens_with_autotokenizer_and_has_a_chat_template(tmp_path):
    tokenizer = train_tokenizer(make_documents(100), vocab_size=400)
    save_atomically(tokenizer, tmp_path / "tok")
    opened = AutoTokenizer.from_pretrained(tmp_path / "tok")
    assert opened.pad_token == PAD and opened.eos_token == EOS
    assert opened.pad_token_id != opened.eos_token_id
    text = opened.apply_chat_template(
        [{"role": "user", "content": "我不能登录我的账号，我该怎么办？"}], add_generation_prompt=True, tokenize=False
    )
    assert text == "<|im_start|>user\n我不能登录我的账号，我该怎么办？<|im_end|>\n<|im_start|>assistant\n"
    ids = opened(text, add_special_tokens=False)["input_ids"]
    assert opened.convert_tokens_to_ids(IM_END) in ids
    # byte-level: any text round-trips, including characters never seen in training
    for sample in ["Hello, world!", "退货运费由谁承担？", "emoji 🙂 and ü"]:
        assert opened.decode(opened(sample, add_special_tokens=False)["input_ids"]) == sample


def test_training_the_tokenizer_is_deterministic():
    documents = make_documents(80)
    assert train_tokenizer(documents, 300).get_vocab() == train_tokenizer(documents, 300).get_vocab()


def test_named_sizes_build_llama_models_in_their_size_class(tmp_path):
    tokenizer = train_tokenizer(make_documents(50), vocab_size=300)
    tiny = load.build_causal_lm("tiny", tokenizer, max_length=64)
    assert tiny.config.model_type == "llama"
    assert tiny.config.pad_token_id == tokenizer.pad_token_id != tokenizer.eos_token_id

    # sizes with the default 8k vocabulary: the embedding count scales with the vocabulary
    def size(name):
        shape = load.NAMED_CONFIGS[name]
        h, n, f = shape["hidden_size"], shape["num_hidden_layers"], shape["intermediate_size"]
        return 8192 * h + n * (4 * h * h + 3 * h * f + 2 * h) + h

    assert 1e6 <= size("tiny") <= 5e6
    assert 20e6 <= size("small") <= 30e6
    gpt2 = load.NAMED_CONFIGS["gpt2-124m"]
    h, n, f = gpt2["hidden_size"], gpt2["num_hidden_layers"], gpt2["intermediate_size"]
    assert abs(50257 * h + n * (4 * h * h + 3 * h * f + 2 * h) - 124e6) < 3e6
    # the formula matches the real model
    assert tiny.num_parameters() == len(tokenizer) * 192 + 4 * (4 * 192 * 192 + 3 * 192 * 512 + 2 * 192) + 192
    tiny.save_pretrained(tmp_path / "m")
    assert type(AutoModelForCausalLM.from_pretrained(tmp_path / "m")).__name__ == "LlamaForCausalLM"
