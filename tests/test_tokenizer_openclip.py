#!/usr/bin/env python3
"""atas_text's tokenizer against OpenCLIP's own SimpleTokenizer (PyPI
open_clip_torch, its bundled bpe_simple_vocab_16e6.txt.gz): the same 77 ids for
a few hundred strings with punctuation, digits, accents, emoji, HTML entities,
whitespace runs and non-Latin scripts, plus truncation. Then the same ids from
the vocabulary in Hugging Face form (vocab.json + merges.txt, tokenizer.json
with both merge spellings) written from OpenCLIP's tables.

atas does not run ftfy (docs/text.md): every string here is one that
ftfy.fix_text leaves unchanged, asserted, so the comparison is exact.

Usage: test_tokenizer_openclip.py ATAS_TEXT PYDEPS_DIR
Exits 77 when open_clip_torch (and its ftfy/regex) is not installed (tools/setup.sh)."""
import importlib.util
import atexit
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

EXE, DEPS = sys.argv[1], sys.argv[2]
sys.path.insert(0, DEPS)
tok_py = os.path.join(DEPS, "open_clip", "tokenizer.py")
try:
    import ftfy  # noqa: F401
    import regex  # noqa: F401
    if not os.path.exists(tok_py):
        raise ImportError(tok_py + " missing")
    # open_clip/__init__ wants a newer torch than Debian's: load tokenizer.py alone
    spec = importlib.util.spec_from_file_location("open_clip_tokenizer", tok_py)
    oc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oc)
except Exception as e:  # noqa: BLE001
    print(f"skip: OpenCLIP's tokenizer is not importable from {DEPS} ({e}); run tools/setup.sh")
    sys.exit(77)

# under the build tree: other suites sweep /tmp/atas_*
TMP = tempfile.mkdtemp(prefix="atas_tok_", dir=os.environ.get("ATAS_BINARY_DIR") or None)
atexit.register(shutil.rmtree, TMP, True)
GZ = os.path.join(DEPS, "open_clip", "bpe_simple_vocab_16e6.txt.gz")
ref = oc.SimpleTokenizer(GZ)
failures = 0


def check(name, ok, detail=""):
    global failures
    failures += not ok
    print(f"  {name:<60} {'PASS' if ok else 'FAIL'} {detail}")


HAND = [
    "a photo of a cat.", "A PHOTO OF A DOG!", "a photo of the {}.", "itap of a toilet seat",
    "Hello, World!!! How's it going? I'm fine; you'll see - they'd've", "don't stop",
    "1234567890 3.14159 -42 +7 1e-5 2024-06-01 12:30", "$100.00 / 50% off #hashtag @user",
    "e-mail: someone@example.com, url: https://example.org/a?b=c&d=e",
    "café naïve résumé façade jalapeño Ångström Øresund Ærø", "ÉCOLE ÜBER STRASSE Straße",
    "東京タワーの写真", "一只猫的照片", "고양이 사진", "фотография кошки", "ФОТОГРАФИЯ",
    "صورة قطة", "תמונה של חתול", "बिल्ली की तस्वीर", "ภาพถ่ายของแมว", "γάτα φωτογραφία",
    "😀 😃 😄 😁 😆 🐱 🐶 🚗 ✈️ 👍🏽", "👨‍👩‍👧‍👦 family", "I ❤ NY ★★★☆☆", "→ ← ↑ ↓ ∑ ∫ √ ∞ ≈ ≠",
    "  leading and   trailing   spaces  ", "tabs\tand\tnewline-free\tlines", "a\u00a0non-breaking space",
    # ftfy unescapes HTML itself unless a literal '<' is present: these keep one
    "<p> &amp; &lt;tag&gt; &quot;quoted&quot; &#39;apos&#39; &#x263A; &copy; 2024", "<b> &amp;amp; double",
    "<i> &notin; &notit; &ampx &Aacute &nosuch; &#128; &#0; &#xD800; &#1114112; &#x110000;",
    "<br> &AMP &lt &gtx &hellip &NotNestedGreaterGreater; &#65 &#x41;", "AT&T R&D",
    "<start_of_text> and <end_of_text> inside", "<|endoftext|>", "", " ", "...", "!!!???",
    "'s 't 're 've 'm 'll 'd 'S 'T", "O'Neil's dog's toy", "C++ C# F# .NET node.js",
    "x" * 300, "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "١٢٣ ٤٥٦ Ⅻ ½ ² ³ ① Ⓐ", "İstanbul İZMİR", "ΟΔΟΣ ΣΟΦΙΑΣ Σ", "ẞ",
    "mixed日本語English中文한국어", "the quick brown fox jumps over the lazy dog " * 12,
    "東京 " * 80, "😀" * 100, "1234567890" * 10, "a, " * 76, "a " * 75, "a " * 76,
]

# random strings from a pool of scripts, seeded: words, punctuation, digits, emoji
rng = random.Random(12)
POOL = ["cat", "dog", "photo", "a", "the", "of", "café", "Zürich", "naïve", "東京", "猫", "사진",
        "кошка", "Москва", "γάτα", "قطة", "חתול", "बिल्ली", "แมว", "😀", "🐱", "✈", "★", "€", "£",
        "¥", "©", "®", "™", "…", "—", "-", "_", ",", ".", "!", "?", ";", ":", "'", "\"", "(",
        ")", "[", "]", "{", "}", "/", "\\", "&", "*", "+", "=", "<", ">", "#", "%", "@", "^",
        "~", "`", "|", "0", "1", "7", "42", "2024", "3.5", "x86_64", "ÀÉÎÕÜ", "ÇA", "İstanbul",
        "ﬀ", "ǅ", "ß", "ΣΟΦΙΑ", "ÿ", "\u0301", "e\u0301", "&amp;", "&gt;", "&#169;", "&hellip;"]
GEN = []
while len(GEN) < 500:
    n = rng.randint(1, 14)
    s = "".join(rng.choice(POOL) + rng.choice(["", " ", " ", "  ", "\t"]) for _ in range(n))
    GEN.append(s)

# keep what ftfy leaves alone (atas has no ftfy); hand strings must all qualify
hand_changed = [s for s in HAND if ftfy.fix_text(s) != s]
check("every hand-written string is ftfy-invariant", not hand_changed, repr(hand_changed[:3]))
gen = [s for s in GEN if ftfy.fix_text(s) == s]
print(f"  {len(GEN) - len(gen)} of {len(GEN)} generated strings changed by ftfy, left out")


# every HTML5 named reference and a spread of numeric ones (a literal '<' keeps ftfy's
# own unescaping out, so OpenCLIP's html.unescape x2 is what is compared)
import html.entities  # noqa: E402
names = sorted(html.entities.html5)
ENT = ["<e> " + " x".join("&" + n for n in names[i:i + 6]) for i in range(0, len(names), 6)]
nums = [0, 9, 13, 65, 127, 128, 129, 141, 150, 159, 160, 0xD7FF, 0xD800, 0xDFFF, 0xFDD0, 0xFFFE,
        0x1F600, 0x10FFFF, 0x110000, 10 ** 30] + [rng.randrange(0x110000) for _ in range(60)]
ENT += ["<n> " + " ".join(f"&#{v};" if k % 3 == 0 else f"&#x{v:X}" if k % 3 == 1 else f"&#{v}"
                          for k, v in enumerate(nums[i:i + 5])) for i in range(0, len(nums), 5)]
ENT = [e for e in ENT if ftfy.fix_text(e) == e]
check(f"HTML reference strings ({len(ENT)}) are ftfy-invariant", len(ENT) > 380)

strings = HAND + gen + ENT
check(f"a few hundred strings to compare ({len(strings)})", len(strings) >= 600)


def atas_ids(vocab, texts):
    tf = os.path.join(TMP, "texts.txt")
    with open(tf, "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in texts))
    p = subprocess.run([EXE, "--vocab", vocab, "--text-file", tf], capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stderr)
        raise SystemExit("atas_text failed")
    return [json.loads(l)["ids"] for l in p.stdout.splitlines()]


check("no HTML reference string is cut (every reference reaches the comparison)",
      all(len(ref.encode(e)) + 2 <= 77 for e in ENT))
ref_ids = ref(strings).tolist()
got = atas_ids(GZ, strings)
bad = [(s, g, r) for s, g, r in zip(strings, got, ref_ids) if g != r]
check(f"gz vocabulary: ids equal OpenCLIP's on {len(strings)} strings", not bad and len(got) == len(strings),
      f"{len(bad)} differ" if bad else "")
for s, g, r in bad[:8]:
    print(f"    {s!r}\n      atas {g[:24]}\n      ref  {r[:24]}")
long_ok = [g for s, g in zip(strings, got) if len(ref.encode(s)) + 2 > 77]
check(f"truncation: {len(long_ok)} long strings end with 49407 at slot 76",
      long_ok and all(g[76] == 49407 and len(g) == 77 for g in long_ok))

# ---- the same vocabulary in Hugging Face form
hf_tokens = dict(ref.encoder)
del hf_tokens["<start_of_text>"], hf_tokens["<end_of_text>"]
hf_tokens["<|startoftext|>"], hf_tokens["<|endoftext|>"] = ref.sot_token_id, ref.eot_token_id
merges = sorted(ref.bpe_ranks, key=ref.bpe_ranks.get)
d1 = os.path.join(TMP, "hf_vocab")
os.makedirs(d1)
with open(os.path.join(d1, "vocab.json"), "w", encoding="utf-8") as f:
    json.dump(hf_tokens, f, ensure_ascii=False)
with open(os.path.join(d1, "merges.txt"), "w", encoding="utf-8") as f:
    f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
plain = [s for s in strings if "<" not in s]  # the special tokens are spelt differently in HF
g_gz = [g for s, g in zip(strings, got) if "<" not in s]
check(f"HF vocab.json + merges.txt: same ids as the gz ({len(plain)} strings)",
      atas_ids(os.path.join(d1, "vocab.json"), plain) == g_gz)
for spelling in ("string", "pair"):
    d = os.path.join(TMP, "hf_" + spelling)
    os.makedirs(d)
    m = [f"{a} {b}" for a, b in merges] if spelling == "string" else [[a, b] for a, b in merges]
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump({"version": "1.0", "model": {"type": "BPE", "vocab": hf_tokens, "merges": m}}, f,
                  ensure_ascii=False)
    check(f"HF tokenizer.json (merges as {spelling}s): same ids as the gz", atas_ids(d, plain) == g_gz)

if failures:
    print(f"test_tokenizer_openclip: {failures} check(s) failed")
    sys.exit(1)
print("test_tokenizer_openclip: all checks passed")
