#!/usr/bin/env bash
# Greedy tokens of the shipped SmolLM2 adapter, forced to think and to answer directly, through
# the CLI (the adapter merged into its base at load). Writes the fixture that
# Tests/ReckonImportTests/AdapterGoldenTests.swift compares the library's decode against.
#   tools/make_adapter_golden.sh [RECKON]     (default .build/release/reckon; needs checkpoints/base/smollm2-135m.h5)
set -euo pipefail
R="${1:-.build/release/reckon}"
OUT=Tests/ReckonImportTests/Fixtures/smollm2_selfroute_golden.json
prompts=("There are 67 stamps on a shelf. Keisha adds 9 more. How many stamps are on the shelf now?" "Abeg, wetin be 8 times 7?")
{
  for q in "${prompts[@]}"; do
    for m in think short; do
      printf '%s\t' "$q"
      "$R" generate --checkpoint checkpoints/smollm2-selfroute.h5 --routing "$m" --max-tokens 100 --threads 1 "$q" 2>/dev/null | head -1
    done
  done
} | python3 -c '
import json, sys
cases = []
for line in sys.stdin:
    prompt, result = line.rstrip("\n").split("\t", 1)
    d = json.loads(result)
    cases.append({"prompt": prompt, "mode": d["mode"], "tokens": d["tokens"], "answer": d["answer"]})
json.dump({"checkpoint": "checkpoints/smollm2-selfroute.h5", "max_tokens": 100, "made_by": "tools/make_adapter_golden.sh", "cases": cases},
          open(sys.argv[1], "w"), indent=1)
print(f"wrote {sys.argv[1]}: {len(cases)} cases")
' "$OUT"
