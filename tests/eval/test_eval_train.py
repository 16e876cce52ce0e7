"""Region classification during training (eval.* keys).

A tiny random-init run (configs/tiny.cfg, 4 steps, eval.every = 2) on generated
COCO panoptic data: metrics.jsonl carries "eval" objects at steps 0 and 2 and an
eval-only record at step 4 (after the last update), with the protocol's metric
names; the progress line shows the eval; the step-4 numbers equal what the
standalone atas_eval reports on the final checkpoint's student; step 0 is the
same on 2 MPI ranks as on 1; eval.every without eval.data is refused by name.
Usage: test_eval_train.py ATAS_EVAL
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import numpy as np
    import trainlib as T
    from evaldata import STUFF, THINGS, make_data, write_classes
except ImportError as e:
    print("skip: %s" % e)
    sys.exit(77)

EVAL = sys.argv[1]
E = 32  # configs/tiny.cfg: model.embed


def main():
    d = T.workdir("eval_train")
    corpus = T.make_corpus(d, n=16)
    rng = np.random.default_rng(5)
    data = os.path.join(d, "coco")
    os.makedirs(data)
    make_data(data, rng)
    # 12 distractor classes the data never uses: top-5 is not trivially right
    cats = THINGS + STUFF + [(200 + k, "distractor%d" % k) for k in range(12)]
    cls = rng.standard_normal((len(cats), E))
    cls /= np.linalg.norm(cls, axis=1, keepdims=True)
    classes = os.path.join(d, "classes.h5")
    write_classes(classes, [c for c, _ in cats], [1] * len(THINGS) + [0] * len(STUFF) + [k % 2 for k in range(12)],
                  [n for _, n in cats], cls)
    ev = dict(run__steps=4, optim__warmup_steps=1, eval__every=2, eval__size=64,
              eval__data='"%s"' % os.path.join(data, "panoptic.json"), eval__images='"%s"' % os.path.join(data, "images"),
              eval__classes='"%s"' % classes)
    names = sorted("%s.%s.macc%d" % (m, k, t) for m in ("rois", "maskpool") for k in ("thing", "stuff") for t in (1, 5))

    rc, out, err, _ = T.run(0, T.sets_for(d, corpus, "one", **ev), timeout=300)
    T.check(rc == 0, "a 4-step run with eval.every = 2 (rc %d)%s" % (rc, "" if rc == 0 else T.tail(out + err)))
    run1 = os.path.join(d, "runs", "one")
    recs = T.metrics(run1)
    evs = {r["step"]: r["eval"] for r in recs if "eval" in r}
    T.check(sorted(evs) == [0, 2, 4], "eval records at steps %s (want 0, 2, 4)" % sorted(evs))
    T.check(all(sorted(v) == names for v in evs.values()), "metric names %s" % sorted(evs.get(0, {})))
    T.check(all(0 <= x <= 100 for v in evs.values() for x in v.values() if x is not None), "values are percentages")
    last = [r for r in recs if r["step"] == 4]
    T.check(len(last) == 1 and set(last[0]) == {"step", "eval"}, "the final record is eval-only: %s" % last)
    T.check(len([r for r in recs if "g2l" in r]) == 4, "4 training records")
    T.check("eval@0 rois thing@1" in out + err and "eval@2 rois thing@1" in out + err, "the progress line shows the eval")

    # resumed at the end: no second eval record for the final step
    rc, out, err, _ = T.run(0, T.sets_for(d, corpus, "one", **ev), args=("--resume", "auto"), timeout=300)
    n4 = len([r for r in T.metrics(run1) if r["step"] == 4])
    T.check(rc == 0 and n4 == 1, "resume at the end: %d record(s) of step 4 (rc %d)" % (n4, rc))

    # the hook and the standalone tool agree on the final student
    ck = T.ckpt_path(run1, 4)
    res = os.path.join(d, "final.json")
    p = subprocess.run([EVAL, "-q", "--weights", ck, "--which", "student", "--data", os.path.join(data, "panoptic.json"),
                        "--images", os.path.join(data, "images"), "--classes", classes, "--size", "64", "--no-crops",
                        "-o", res], capture_output=True, text=True, env=T.ENV)
    got = json.load(open(res))["metrics"] if p.returncode == 0 else {}
    T.check(p.returncode == 0 and got.keys() == evs.get(4, {}).keys() and
            all(abs(got[k] - evs[4][k]) < 1e-3 for k in got if got[k] is not None),
            "atas_eval on the final checkpoint = the step-4 record (%s vs %s)%s" % (got, evs.get(4), p.stderr[-500:]))

    # 2 ranks: the same starting weights -> the same step-0 eval
    rc, out, err, _ = T.run(2, T.sets_for(d, corpus, "two", **dict(ev, run__steps=2)), timeout=300)
    evs2 = {r["step"]: r["eval"] for r in T.metrics(os.path.join(d, "runs", "two")) if "eval" in r}
    T.check(rc == 0 and evs2.get(0) == evs[0] and sorted(evs2) == [0, 2],
            "2 ranks: step-0 eval equals 1 rank's, records at 0 and 2 (rc %d)%s" % (rc, "" if rc == 0 else T.tail(out + err)))

    # a device-style backend (inputs uploaded, maps downloaded: cpu-staged) gives the same eval
    rc, out, err, _ = T.run(0, T.sets_for(d, corpus, "staged", **dict(ev, run__steps=2, run__backend='"cpu-staged"')),
                            timeout=300)
    evs3 = {r["step"]: r["eval"] for r in T.metrics(os.path.join(d, "runs", "staged")) if "eval" in r}
    T.check(rc == 0 and evs3.get(0) == evs[0], "run.backend = cpu-staged: the same step-0 eval (rc %d)%s"
            % (rc, "" if rc == 0 else T.tail(out + err)))

    # eval.every without data: refused, naming the key
    bad = {k: v for k, v in ev.items() if k != "eval__data"}
    rc, out, err, _ = T.run(0, T.sets_for(d, corpus, "bad", **bad), timeout=60)
    T.check(rc != 0 and "eval.every" in err and "eval.data" in err, "eval.every without eval.data: %s" % err.strip()[-300:])
    # an eval.data that cannot be read stops the run at setup, naming the file
    rc, out, err, _ = T.run(0, T.sets_for(d, corpus, "bad2", **dict(ev, eval__data='"%s"' % os.path.join(d, "nope.json"))),
                            timeout=60)
    T.check(rc != 0 and "nope.json" in err and "cannot open" in err, "unreadable eval.data: %s" % err.strip()[-300:])
    T.finish()


main()
