#!/usr/bin/env python3
"""The layer order, checked: every #include in src/ and include/ may name only
public headers of its own layer or of a layer below it, and private src/ headers
of its own layer (README "Layout"). Exit 1 naming file:line for each violation.
usage: check_layers.py [SOURCE_DIR]"""
import os
import re
import sys

# low to high; backend-cuda (src/backend/cuda, the run-time module) sits above
# backend and may use backend's private registry headers (it fills the same table)
ORDER = ["core", "backend", "backend-cuda", "model", "objective", "data", "comm", "io", "train", "infer"]
RANK = {l: i for i, l in enumerate(ORDER)}
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of_src(rel):
    """the layer of a file under src/ (None for programs: they may use everything)"""
    parts = rel.split("/")
    if parts[0] == "apps":
        return None
    if parts[0] == "backend" and len(parts) > 2 and parts[1] == "cuda":
        return "backend-cuda"
    return parts[0] if parts[0] in RANK else None


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    public = {}  # "atas/x.h" -> layer
    bad = []
    for layer in os.listdir(os.path.join(root, "include")):
        d = os.path.join(root, "include", layer, "atas")
        if layer not in RANK or not os.path.isdir(d):
            bad.append("include/%s: not a layer (expected one of %s)" % (layer, ", ".join(ORDER)))
            continue
        for f in os.listdir(d):
            if "atas/" + f in public:
                bad.append("include/%s/atas/%s: also in include/%s" % (layer, f, public["atas/" + f]))
            public["atas/" + f] = layer
    files = []
    for base, layer_fn in (("src", layer_of_src), ("include", lambda rel: rel.split("/")[0])):
        for dp, _, fs in os.walk(os.path.join(root, base)):
            for f in fs:
                if f.endswith((".c", ".h", ".cu", ".cuh", ".def", ".inc")):
                    p = os.path.join(dp, f)
                    rel = os.path.relpath(p, os.path.join(root, base))
                    files.append((base + "/" + rel, layer_fn(rel)))
    for path, layer in sorted(files):
        if layer is None:
            continue
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                m = INC.match(line)
                if not m:
                    continue
                inc = m.group(1)
                if inc.startswith("atas/"):
                    owner = public.get(inc)
                    if owner is None:
                        bad.append('%s:%d: "%s" is no public header' % (path, n, inc))
                    elif RANK[owner] > RANK[layer if layer != "backend-cuda" else "backend-cuda"]:
                        bad.append('%s:%d: layer %s includes "%s" of the higher layer %s' % (path, n, layer, inc, owner))
                elif "/" in inc:
                    owner = layer_of_src(inc)
                    ok = owner == layer or (layer == "backend-cuda" and owner == "backend")
                    if owner is not None and not ok:
                        bad.append('%s:%d: layer %s includes "%s", a private header of layer %s' % (path, n, layer, inc, owner))
    if bad:
        print("check_layers: %d violation(s) of the layer order (README \"Layout\"):" % len(bad))
        for b in bad:
            print("  " + b)
        return 1
    print("check_layers: %d files keep the layer order %s" % (len(files), " < ".join(ORDER)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
