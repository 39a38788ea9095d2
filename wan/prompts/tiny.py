"""A tiny random Qwen2 chat model, built with the real transformers and tokenizers classes.

It is what tests and install checks use in place of a Qwen instruct model (`tiny-qwen`): a
byte-level BPE tokenizer trained here on a few English and Chinese sentences, with Qwen's
special tokens and a ChatML chat template, and a 2-layer Qwen2ForCausalLM with random weights,
saved with save_pretrained and loaded through from_pretrained like the real ones. Its answers
are random text, so the enhancer's cleaning and fallback paths see what a broken model gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# ChatML, as Qwen's chat models use it.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
_CORPUS = [
    "a misty forest at dawn, the camera slowly pans left across tall pine trees",
    "an ancient castle on a hill, golden light, cinematic, highly detailed",
    "You write prompts for Wan, a text-to-video model. Answer in English only.",
    "the camera moves forward through a quiet street, soft rain, neon reflections",
    "镜头缓缓向左平移，薄雾笼罩的森林，清晨的阳光穿过高大的松树。",
    "一座古老的城堡矗立在山丘上，金色的光线，电影感，细节丰富。",
    "只用简体中文回答。只输出提示词本身。",
]


def build_tiny_tokenizer() -> Any:
    """A byte-level BPE tokenizer with Qwen's special tokens and a ChatML chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
        padding_side="left",
    )


def build_tiny_qwen(seed: int = 0) -> tuple[Any, Any]:
    """(model, tokenizer): a 2-layer Qwen2ForCausalLM with random weights and its tokenizer."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_tiny_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        initializer_range=0.5,  # wide random weights: varied tokens rather than one repeated
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).eval()
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, max_new_tokens=64
    )
    return model, tokenizer


def ensure_tiny_qwen(folder: Path) -> Path:
    """Build and save the tiny Qwen model into `folder` unless it is there already."""
    from ..models.tiny import build_once

    def save(staging: Path) -> None:
        model, tokenizer = build_tiny_qwen()
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)

    return build_once(folder, "config.json", save)
