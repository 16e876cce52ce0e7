# awk -f check_maps.awk -v bundle=DIR [-v note=FILE] /proc/PID/maps copies...
# Every shared object a running rank mapped must come from the bundle, except the GPU machine's
# driver / cuBLAS / NCCL (bin/atas-hostlibs links those). Fails on any other origin, or when
# MPI, HDF5, libconfig, OpenBLAS, libc or the loader are not among the bundle's mappings.
BEGIN { need = "libmpi.so libhdf5_openmpi.so libconfig.so libopenblas.so libc.so.6 ld-linux-x86-64.so.2" }
FNR == 1 { files++ }
$6 ~ /\.so(\.[0-9]+)*$/ || $6 ~ /\.so\./ {
    p = $6; if (p in done) next; done[p] = 1
    n = split(p, parts, "/"); base = parts[n]
    if (index(p, bundle "/") == 1) { origin = "bundle"; sub("^" bundle "/", "", p); inb[base] = 1 }
    else if (base ~ /^lib(cuda|cublas|cublasLt|nccl|nvidia-)/) origin = "gpu machine"
    else { origin = "HOST (not allowed)"; bad++ }
    printf "%-20s %s\n", origin, p
}
END {
    if (files == 0) { print "no maps given"; exit 1 }
    k = split(need, N, " ")
    for (i = 1; i <= k; i++) {
        hit = 0; for (b in inb) if (index(b, N[i]) == 1) hit = 1
        if (!hit) { printf "%s was not mapped from the bundle\n", N[i]; bad++ }
    }
    msg = sprintf("%d rank(s): %d libraries from outside the bundle", files, bad)
    print msg
    if (note != "") print msg > note
    exit bad > 0
}
