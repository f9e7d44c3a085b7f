#!/usr/bin/env python3
"""Checks a running `reckon serve` with the official `openai` Python client: what users of
vLLM, llama.cpp and OpenAI clients expect from a thinking model (docs/http-api.md,
"Thinking-model compatibility").

    reckon serve &                                  # the shipped default model
    python3 tools/openai_client_check.py [--base-url http://127.0.0.1:8088/v1]

Prints one PASS/FAIL line per check and exits 1 if any failed. Reasoning tokens are counted
as bytes: the shipped checkpoints are byte-level (one token per UTF-8 byte).
"""
import argparse
import sys

import openai

DEFAULT_CLOSE = "... I have run out of thinking budget; answering now."
# docs/http-api.md, "reasoning_effort": the sampled-token caps of low and medium.
LOW_CAP, MEDIUM_CAP = 32, 128
THINK_PROMPT = "What is 47 * 6?"   # the default model thinks on it and checks its work
SHORT_PROMPT = "What is 3 + 4?"    # and answers this one at once

results = []


def check(name, ok, detail):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")


def extra(obj, key):
    """A field the client's types do not declare (Reckon's `mode`, `reasoning`, ...)."""
    return (obj.model_extra or {}).get(key)


def chat(client, prompt, **kw):
    return client.chat.completions.create(model=client.model, messages=[{"role": "user", "content": prompt}],
                                          temperature=0, **kw)


def reasoning_of(message):
    return extra(message, "reasoning") or ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", default="http://127.0.0.1:8088/v1")
    ap.add_argument("--api-key", default="none", help="the server's --api-key, if it has one")
    ap.add_argument("--close-text", default=DEFAULT_CLOSE, help="the server's --think-close-text")
    ap.add_argument("--max-tokens", type=int, default=200)
    args = ap.parse_args()

    client = openai.OpenAI(base_url=args.base_url, api_key=args.api_key)
    client.model = client.models.list().data[0].id
    close_tokens = len(args.close_text.encode())
    print(f"server {args.base_url}, model {client.model}, openai {openai.__version__}")
    mt = args.max_tokens

    # --- reasoning_effort -------------------------------------------------------------
    none = chat(client, THINK_PROMPT, reasoning_effort="none", max_tokens=mt)
    check("reasoning_effort=none answers short", extra(none, "mode") == "short"
          and none.usage.completion_tokens_details.reasoning_tokens == 0,
          f"mode={extra(none, 'mode')} reasoning_tokens={none.usage.completion_tokens_details.reasoning_tokens} "
          f"answer={none.choices[0].message.content!r}")

    high = chat(client, SHORT_PROMPT, reasoning_effort="high", max_tokens=mt)
    check("reasoning_effort=high thinks even where the model would not", extra(high, "mode") == "think"
          and high.usage.completion_tokens_details.reasoning_tokens > 0,
          f"p_think={extra(high, 'p_think'):.3f} mode={extra(high, 'mode')} "
          f"reasoning_tokens={high.usage.completion_tokens_details.reasoning_tokens}")

    for prompt in (THINK_PROMPT, SHORT_PROMPT):
        low = chat(client, prompt, reasoning_effort="low", max_tokens=mt)
        p, mode = extra(low, "p_think"), extra(low, "mode")
        n = low.usage.completion_tokens_details.reasoning_tokens
        want = "think" if p >= 0.9 else "short"
        check(f"reasoning_effort=low thinks iff p_think >= 0.9 ({prompt!r})",
              mode == want and n <= LOW_CAP + close_tokens, f"p_think={p:.3f} mode={mode} reasoning_tokens={n}")

    low_forced = chat(client, THINK_PROMPT, reasoning_effort="low", max_tokens=mt, extra_body={"routing": "think"})
    n = low_forced.usage.completion_tokens_details.reasoning_tokens
    r = reasoning_of(low_forced.choices[0].message)
    cut = extra(low_forced, "think_truncated")
    check("reasoning_effort=low caps sampled thinking at 32 tokens",
          n <= LOW_CAP + close_tokens and (not cut or n == LOW_CAP + close_tokens),
          f"think_truncated={cut} reasoning_tokens={n} (at most {LOW_CAP} sampled + {close_tokens} closing, exactly that when cut)")

    # One seed for both: under `model` routing the seed draws the mode.
    medium = chat(client, THINK_PROMPT, reasoning_effort="medium", max_tokens=mt, seed=7)
    default = chat(client, THINK_PROMPT, max_tokens=mt, seed=7)
    check("reasoning_effort=medium routes as the server does by default",
          extra(medium, "mode") == extra(default, "mode")
          and medium.usage.completion_tokens_details.reasoning_tokens <= MEDIUM_CAP + close_tokens,
          f"medium mode={extra(medium, 'mode')} default mode={extra(default, 'mode')} "
          f"reasoning_tokens={medium.usage.completion_tokens_details.reasoning_tokens}")

    for bad in ("minimal", "extreme"):
        try:
            chat(client, SHORT_PROMPT, reasoning_effort=bad, max_tokens=8)
            check(f"reasoning_effort={bad} is refused", False, "the server accepted it")
        except openai.BadRequestError as e:
            body = e.body if isinstance(e.body, dict) else {}
            check(f"reasoning_effort={bad} is refused with a 400 naming the field",
                  e.status_code == 400 and body.get("param") == "reasoning_effort",
                  f"status={e.status_code} param={body.get('param')} message={body.get('message')!r}")

    # --- reasoning_content and reasoning_tokens --------------------------------------
    think = chat(client, THINK_PROMPT, reasoning_effort="high", max_tokens=mt)
    m = think.choices[0].message
    reasoning = reasoning_of(m)
    check("message.reasoning_content equals message.reasoning", reasoning != ""
          and extra(m, "reasoning_content") == reasoning, f"{len(reasoning)} characters: {reasoning[:40]!r}...")
    n = think.usage.completion_tokens_details.reasoning_tokens
    check("usage.completion_tokens_details.reasoning_tokens counts the reasoning",
          n == len(reasoning.encode()), f"reasoning_tokens={n}, reasoning bytes={len(reasoning.encode())}")

    stream = chat(client, THINK_PROMPT, reasoning_effort="high", max_tokens=mt, stream=True,
                  stream_options={"include_usage": True})
    streamed, streamed_alt, content, usage = "", "", "", None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for c in chunk.choices:
            streamed += extra(c.delta, "reasoning_content") or ""
            streamed_alt += extra(c.delta, "reasoning") or ""
            content += c.delta.content or ""
    check("streamed delta.reasoning_content adds up to the reasoning", streamed == reasoning == streamed_alt
          and content == m.content, f"{len(streamed)} characters, answer {content!r}")
    su = usage.completion_tokens_details.reasoning_tokens if usage and usage.completion_tokens_details else None
    check("the include_usage chunk carries completion_tokens_details.reasoning_tokens", su == n,
          f"streamed {su}, not streamed {n}")

    comp = client.completions.create(model=client.model, prompt=THINK_PROMPT, max_tokens=mt, temperature=0,
                                     extra_body={"reasoning_effort": "high"})
    c = comp.choices[0]
    check("/v1/completions: reasoning_content and reasoning_tokens", extra(c, "reasoning_content") == extra(c, "reasoning")
          == reasoning and comp.usage.completion_tokens_details.reasoning_tokens == n,
          f"reasoning_tokens={comp.usage.completion_tokens_details.reasoning_tokens}")

    # --- the graceful close of a cut think ---------------------------------------------
    natural = extra(think, "think_truncated")
    # "Not at the end" rather than "nowhere": a short closing text such as "|=" also occurs in traces.
    check("an uncut think has no closing text", natural is False and not reasoning.endswith(args.close_text),
          f"think_truncated={natural}, ends {reasoning[-30:]!r}")
    for budget in (0, 12):
        cut = chat(client, THINK_PROMPT, reasoning_effort="high", max_tokens=mt,
                   extra_body={"thinking_token_budget": budget})
        r = reasoning_of(cut.choices[0].message)
        n = cut.usage.completion_tokens_details.reasoning_tokens
        check(f"a think cut at thinking_token_budget={budget} ends with the closing text",
              extra(cut, "think_truncated") is True and r.endswith(args.close_text)
              and n == budget + close_tokens and bool(cut.choices[0].message.content),
              f"reasoning={r!r} reasoning_tokens={n} answer={cut.choices[0].message.content!r}")

    failed = results.count(False)
    print(f"{len(results) - failed}/{len(results)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
