#!/bin/sh
# atas_config from the shell: a good config with --set prints the resolved value;
# a typo exits non-zero with a suggestion; a syntax error names file:line.
set -u
BIN="$1"; SRC="$2"; TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$BIN" "$SRC/configs/tiny.cfg" --set optim.lr=2e-4 --world 2 > "$TMP/out.cfg" || fail "tiny.cfg did not load"
grep -q '^  lr = 0.0002;$' "$TMP/out.cfg" || fail "--set optim.lr not in the resolved output"
"$BIN" "$TMP/out.cfg" > "$TMP/out2.cfg" || fail "resolved output does not load"
cmp -s "$TMP/out.cfg" "$TMP/out2.cfg" || fail "resolved output is not a fixed point"
if "$BIN" "$SRC/configs/tiny.cfg" --set optim.lrr=1 2> "$TMP/err.txt"; then fail "typo accepted"; fi
grep -q -- '--set: optim.lrr: unknown key (did you mean optim.lr?)' "$TMP/err.txt" || fail "message: $(cat "$TMP/err.txt")"
if "$BIN" "$SRC/configs/tiny.cfg" --set batch.round_up=false --world 3 2> "$TMP/err.txt"; then fail "groups 2 on 3 ranks accepted"; fi
grep -q 'batch.groups = 2: must be a multiple of the number of ranks (3)' "$TMP/err.txt" || fail "world message"
printf 'data = { corpus = "x"; };\nrun = { steps = 10 \n  name = ; };\n' > "$TMP/syn.cfg"
if "$BIN" "$TMP/syn.cfg" 2> "$TMP/err.txt"; then fail "syntax error accepted"; fi
grep -q "$TMP/syn.cfg:3: syntax error" "$TMP/err.txt" || fail "syntax message: $(cat "$TMP/err.txt")"
echo "config_cli: all checks passed"
