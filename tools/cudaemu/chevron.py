#!/usr/bin/env python3
"""cudaemu's source step: copies a .cu file to a .cc file g++ compiles against
tools/cudaemu/include, rewriting the two things no header can express:
  kernel<<<grid, block[, smem[, stream]]>>>(args)  ->  cudaemu_launch(grid, block, smem, stream, kernel, args)
  (also templated kernels: k<F, true><<<...>>>(...))
  extern __shared__ [__align__(n)] T name[];        ->  T *name = (T *)cudaemu::dyn_smem();
Line numbers are kept (a #line names the original file), so compiler messages
and findings point into src/. Usage: chevron.py IN.cu OUT.cc"""
import re
import sys

OPEN = {'(': ')', '[': ']', '{': '}'}


def match_close(s, i):
    """index of the bracket closing s[i] (one of ( [ {)"""
    stack = [OPEN[s[i]]]
    j = i + 1
    while stack:
        c = s[j]
        if c in OPEN:
            stack.append(OPEN[c])
        elif c in ')]}':
            if c != stack.pop():
                raise SystemExit(f"unbalanced bracket near offset {j}")
        j += 1
    return j - 1


def split_top(s):
    """split at commas outside brackets"""
    parts, depth, cur = [], 0, ''
    for c in s:
        if c in '([{':
            depth += 1
        elif c in ')]}':
            depth -= 1
        if c == ',' and depth == 0:
            parts.append(cur)
            cur = ''
        else:
            cur += c
    parts.append(cur)
    return parts


def kernel_start(s, i):
    """start of the kernel expression ending just before s[i] (`name` or `name<...>`)"""
    j = i
    while j > 0 and s[j - 1] in ' \t':
        j -= 1
    if s[j - 1] == '>':
        depth = 0
        while True:
            j -= 1
            if s[j] == '>':
                depth += 1
            elif s[j] == '<':
                depth -= 1
                if depth == 0:
                    break
    while j > 0 and (s[j - 1].isalnum() or s[j - 1] in '_:'):
        j -= 1
    return j


def rewrite_launches(s):
    out, pos = [], 0
    while True:
        i = s.find('<<<', pos)
        if i < 0:
            out.append(s[pos:])
            return ''.join(out)
        k0 = kernel_start(s, i)
        kernel = s[k0:i].strip()
        end = s.find('>>>', i)
        cfg = split_top(s[i + 3:end])
        if not 2 <= len(cfg) <= 4:
            raise SystemExit(f"launch of {kernel}: {len(cfg)} configuration arguments")
        cfg += ['0', '0'][:4 - len(cfg)]
        j = end + 3
        while s[j] in ' \t':
            j += 1
        if s[j] != '(':
            raise SystemExit(f"launch of {kernel}: no argument list")
        close = match_close(s, j)
        args = s[j + 1:close]
        call = 'cudaemu_launch(' + ','.join(cfg) + ', ' + kernel + (', ' + args if args.strip() else '') + ')'
        out.append(s[pos:k0])
        out.append(call)
        pos = close + 1


SHARED = re.compile(r'extern\s+__shared__\s+(?:__align__\s*\(\s*\d+\s*\)\s+)?([A-Za-z_][\w\s]*?)\s+(\w+)\s*\[\s*\]\s*;')


def main():
    src, dst = sys.argv[1], sys.argv[2]
    s = open(src).read()
    s = SHARED.sub(lambda m: f'{m.group(1)} *{m.group(2)} = ({m.group(1)} *)cudaemu::dyn_smem();', s)
    s = rewrite_launches(s)
    with open(dst, 'w') as f:
        f.write('#include <cuda_runtime.h>\n#line 1 "%s"\n' % src)
        f.write(s)


main()
