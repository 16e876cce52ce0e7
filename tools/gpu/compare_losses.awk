# awk -f compare_losses.awk -v tol=1e-4 [-v keys="total"] [-v note=FILE] RUN.jsonl REFERENCE.jsonl
# (keys: the losses compared, default all four)
# Compares the losses (g2l, l2l, g2g, total) of two metrics.jsonl step by step. Error of a loss =
# |a - b| / max(|b|, 1e-3 |total_b|): relative, except that a component far below the objective
# (g2g is ~1e-17 at step 0, teacher = student) is measured against a thousandth of the total.
# Fails when a step is missing from either file, a loss is null in one only, or an error > tol.
function val(line, key,    m) {
    if (match(line, "\"" key "\": *[-+0-9.eE]+")) {
        m = substr(line, RSTART, RLENGTH); sub(/^[^:]*: */, "", m); return m + 0
    }
    if (match(line, "\"" key "\": *null")) return "null"
    return "absent"
}
function abs(x) { return x < 0 ? -x : x }
BEGIN { if (tol == "") tol = 1e-4; if (keys == "") keys = "g2l l2l g2g total"; nk = split(keys, K, " ") }
FNR == 1 { f++ }
{
    s = val($0, "step"); if (s == "absent" || s == "null") next
    for (i = 1; i <= nk; i++) V[f, s, K[i]] = val($0, K[i])
    seen[f, s] = 1; steps[s] = 1
}
END {
    bad = 0; worst = 0; nsteps = 0
    printf "%5s", "step"
    for (i = 1; i <= nk; i++) printf " %13s %13s %9s", K[i] "(run)", K[i] "(ref)", "rel"
    printf "\n"
    maxs = -1; for (s in steps) if (s + 0 > maxs) maxs = s + 0
    for (s = 0; s <= maxs; s++) {
        if (!(s in steps)) continue
        nsteps++
        if (!seen[1, s] || !seen[2, s]) { printf "step %d is in one file only\n", s; bad = 1; continue }
        printf "%5d", s
        tb = V[2, s, "total"]
        for (i = 1; i <= nk; i++) {
            a = V[1, s, K[i]]; b = V[2, s, K[i]]
            if (a == "null" || b == "null" || a == "absent" || b == "absent") {
                ok = (a == b); printf " %13s %13s %9s", a, b, ok ? "same" : "DIFFER"
                if (!ok) bad = 1
                continue
            }
            d = abs(b); if (tb != "null" && 1e-3 * abs(tb) > d) d = 1e-3 * abs(tb); if (d < 1e-30) d = 1e-30
            r = abs(a - b) / d
            if (r > worst) worst = r
            if (r > tol) bad = 1
            printf " %13.7g %13.7g %9.2e%s", a, b, r, (r > tol ? " !" : "")
        }
        printf "\n"
    }
    if (nsteps == 0) { print "no steps in the metrics files"; bad = 1 }
    msg = sprintf("%d steps, worst loss error %.2e (bound %.0e)", nsteps, worst, tol)
    print msg
    if (note != "") print msg > note
    exit bad
}
