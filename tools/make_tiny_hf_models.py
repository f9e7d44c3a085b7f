#!/usr/bin/env python3
"""Writes two tiny random Hugging Face models with transformers' save_pretrained, for the
safetensors import path (ReckonImportTests.ParityTests; docs/import.md):

  Tests/ReckonImportTests/Fixtures/tiny-llama   LlamaForCausalLM, untied classifier, GQA (4 heads,
                                                 2 KV), RoPE base 50000, saved in shards with
                                                 model.safetensors.index.json
  Tests/ReckonImportTests/Fixtures/tiny-qwen2   Qwen2ForCausalLM, q/k/v biases, tied, one file

Both share a byte-level BPE tokenizer of 320 tokens trained here with `tokenizers`.
Weights are drawn at std 0.2 (not the 0.02 default) so logits are far from uniform and
greedy decoding has clear winners. Deterministic (torch seed 22). Then run
`python3 tools/make_parity_reference.py tiny` for the reference logits.
"""
import os
import shutil
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, PreTrainedTokenizerFast

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ReckonImportTests", "Fixtures")
CORPUS = ["hello world", "the cat sat on the mat", "what is 9 plus 7?", "47+8 = 55", "once upon a time",
          "def f(x): return x * 2", "numbers like 12, 345 and 6789"] * 20


def tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|im_end|>")


def main():
    torch.manual_seed(22)
    tok = tokenizer()
    V = len(tok)
    common = dict(vocab_size=V, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6, initializer_range=0.2)
    specs = [("tiny-llama", LlamaForCausalLM(LlamaConfig(rope_theta=50000.0, tie_word_embeddings=False, **common)), "60KB"),
             ("tiny-qwen2", Qwen2ForCausalLM(Qwen2Config(rope_theta=10000.0, tie_word_embeddings=True, **common)), None)]
    for name, model, shard in specs:
        folder = os.path.join(FIXTURES, name)
        shutil.rmtree(folder, ignore_errors=True)
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n.endswith("norm.weight"):
                    p.copy_(1 + 0.1 * torch.randn_like(p))
                elif n.endswith("bias"):
                    p.copy_(0.5 * torch.randn_like(p))
        kwargs = {"max_shard_size": shard} if shard else {}
        model.save_pretrained(folder, safe_serialization=True, **kwargs)
        tok.save_pretrained(folder)
        size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
        print(name, sorted(os.listdir(folder)), f"{size} bytes")


if __name__ == "__main__":
    main()
