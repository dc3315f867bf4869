#!/usr/bin/env python3
"""Communication and scaling model for kmpi's solvers (bench/COMM_MODEL.md explains the terms).

Per-step bytes and messages as formulas in n, p, d, c, m, s, q, P; alpha-beta costs of ring
allreduce / allgather on typical cluster networks; predicted time per epoch and parallel efficiency
for P = 1..1024 nodes on a problem the size of EigenPro 4's largest (n = 5e6, d = 1280, p = 1e6),
and a check against the measured 1 and 2 rank figures on this machine (optional JSON from
bench/run_eigenpro2_fmnist.sh). Writes a table to stdout, JSON and an SVG plot.

    python3 bench/comm_model.py [--measured 1rank.json 2rank.json] [--out scaling]
        [--collectives ring|tree] [--network NAME ALPHA BETA]...
    python3 bench/comm_model.py --check cluster_net.jsonl [--out cluster_net_model]

--check takes bench/run_cluster_net.sh's measurements (2 ranks over TCP between two namespace
"nodes" and over shared memory on one): the measured alpha-beta and GEMM rate go into the model,
its communication share is compared with the measured one, and it predicts 64 and 1024 nodes.
"""
import argparse, json, math

NETWORKS = {  # latency alpha (s), inverse bandwidth beta (s/byte)
    "InfiniBand HDR 200 Gb/s": (1.5e-6, 1 / 24e9),
    "100 GbE (RoCE)": (5e-6, 1 / 11e9),
    "25 GbE (TCP)": (25e-6, 1 / 2.8e9),
}
WORD = 8  # kmpi sends float64 (batch rows, residuals, reductions)


# How the collectives' latency grows with P: "ring" (the model's default: P-1 steps per phase)
# or "tree" (recursive halving/doubling, Rabenseifner: log2 P steps per phase, the same bytes;
# what MPI libraries pick for small messages and at power-of-two P). --collectives sets it.
COLLECTIVES = "ring"


def latency_steps(P):
    return (P - 1) if COLLECTIVES == "ring" else math.ceil(math.log2(P))


def allreduce(P, nbytes, alpha, beta):
    """Ring allreduce (reduce-scatter + allgather): 2 (P-1) messages of nbytes / P (tree: 2 log2 P
    messages, the same bytes)."""
    if P == 1:
        return 0.0
    return 2 * latency_steps(P) * alpha + 2 * (P - 1) / P * nbytes * beta


def allgather(P, nbytes_total, alpha, beta):
    """Ring allgather of nbytes_total spread over P ranks (tree: log2 P messages)."""
    if P == 1:
        return 0.0
    return latency_steps(P) * alpha + (P - 1) / P * nbytes_total * beta


def eigenpro2_epoch(n, d, c, m, q, P, R, alpha, beta):
    """One epoch = n/m steps. Per step: allgather X_B (m d), allreduce g (m c), allreduce V^T K g
    (q c); compute 2 m (n/P)(d + c) flops (the kernel block and its product with alpha)."""
    steps = n / m
    compute = 2 * m * (n / P) * (d + c) / R
    comm = allgather(P, m * d * WORD, alpha, beta) + allreduce(P, m * c * WORD, alpha, beta) \
        + allreduce(P, q * c * WORD, alpha, beta)
    return steps * compute, steps * comm


def eigenpro4_epoch(n, p, d, c, m, s, q, P, R, alpha, beta, mstar=2000.0):
    """Per batch: allgather X_B, allreduce g (m c) and the data-preconditioner term (q c); compute
    over centers, temporaries (about p on average with capacity 2p) and the data Nystrom points:
    2 m d (p + p + s)/P for f(X_B) and 2 m d p/P for h. Every T = p/m* batches a projection: one
    EigenPro 2 epoch over the p centers (p/m2 steps, m2 = m)."""
    batches = n / m
    compute = batches * 2 * m * d * (3 * p + s) / P / R
    comm = batches * (allgather(P, m * d * WORD, alpha, beta) + allreduce(P, m * c * WORD, alpha, beta)
                      + allreduce(P, q * c * WORD, alpha, beta))
    T = max(1.0, p / mstar)
    projections = batches / T
    pc, pm = eigenpro2_epoch(p, d, c, m, q, P, R, alpha, beta)
    return compute + projections * pc, comm + projections * pm


def falkon_iteration(n, p, d, c, P, R, alpha, beta, nb=64):
    """Per CG iteration: K_nZ^T (K_nZ v): 2 kernel passes 2 * 2 n p d / P, one allreduce of p c;
    the preconditioner's 4 distributed triangular solves (p^2 c / P flops, ~ (p/nb) log P messages)."""
    compute = 4 * n * p * d / P / R + 4 * p * p * c / P / R
    comm = allreduce(P, p * c * WORD, alpha, beta) + (4 * (p / nb) * math.log2(P) * alpha if P > 1 else 0.0)
    return compute, comm


def bytes_per_step_eigenpro2(m, d, c, q, P):
    """What one rank sends per step (as counted by kmpi's MPI layer: its own contribution)."""
    if P == 1:
        return 0
    return (m / P) * d * WORD * (P - 1) + m * c * WORD + q * c * WORD


def median(v):
    v = sorted(v)
    k = len(v) // 2
    return v[k] if len(v) % 2 else 0.5 * (v[k - 1] + v[k])


def span(v, fmt="{:.3g}"):
    """'median (min-max)' of a list."""
    return f"{fmt.format(median(v))} ({fmt.format(min(v))}-{fmt.format(max(v))})"


# The networks of --check's predictions at 64 and 1024 nodes (alpha s, beta s/byte). 25 GbE:
# 3.1 GB/s payload, 10 us MPI latency over TCP (kernel stack both ends; NETWORKS' 25 us is the
# pessimistic end); HDR InfiniBand: 200 Gb/s = 25 GB/s, 1 us (RDMA, no kernel in the path).
ASSUMED = {
    "25 GbE (TCP, 10 us, 3.1 GB/s)": (10e-6, 1 / 3.1e9),
    "25 GbE (TCP, 25 us, 2.8 GB/s)": NETWORKS["25 GbE (TCP)"],
    "HDR InfiniBand (1 us, 25 GB/s)": (1e-6, 1 / 25e9),
}


def check(path, out, node_gflops, print_fn=print):
    """The model against bench/run_cluster_net.sh's JSONL: the alpha-beta of both transports
    (ping-pong fits), the GEMM rate, and EigenPro 2 / eigenpro4 at 2 ranks over TCP (2 nodes) and
    shared memory (1 node). Predicted communication per epoch from the measured alpha (all-sizes
    fit) and beta (the >= 1 MiB fit: kmpi's steps send megabytes), against the measured share:
    EigenPro 2's time in its collectives (comm_s) and, for both solvers, the epoch time over TCP
    minus that over shared memory in the same round. Then the model's predictions at 64 and 1024
    nodes (ring and tree collectives) on the networks of ASSUMED and on the measured veth TCP."""
    global COLLECTIVES
    rows = [json.loads(l) for l in open(path) if l.strip()]
    P, d, c = 2, 784, 10
    net = {}
    for t in ("tcp", "shm"):
        f = [r for r in rows if r.get("bench") == "pingpong_fit" and r.get("transport") == t]
        net[t] = dict(alpha=[r["alpha_s"] for r in f], beta=[r["bulk_beta_s_per_byte"] for r in f],
                      beta_all=[r["beta_s_per_byte"] for r in f], latency=[r["latency_s"] for r in f],
                      hosts=sorted({f"{r['host0']}/{r['host1']}" for r in f}))
    gemm = [r["gflops_total"] for r in rows if r.get("run") == "gemm"]
    R_rank = median(gemm) * 1e9 / P
    result = {"network": {}, "gemm_gflops_total": gemm, "solvers": [], "predictions": []}
    print_fn(f"check against {path}: {len(gemm)} rounds")
    print_fn(f"float32 GEMM rate of the 2 ranks at once, GFLOP/s: {span(gemm, '{:.1f}')}")
    print_fn(f"{'transport':>9} {'ranks on':>12} {'alpha us':>18} {'1/beta GB/s (>=1 MiB)':>24} "
             f"{'1/beta GB/s (all)':>20} {'8 B one-way us':>18}")
    for t, v in net.items():
        if not v["alpha"]:
            continue
        print_fn(f"{t:>9} {','.join(v['hosts']):>12} {span([a * 1e6 for a in v['alpha']], '{:.2f}'):>18} "
                 f"{span([1e-9 / b for b in v['beta']], '{:.2f}'):>24} "
                 f"{span([1e-9 / b for b in v['beta_all']], '{:.2f}'):>20} "
                 f"{span([a * 1e6 for a in v['latency']], '{:.2f}'):>18}")
        result["network"][t] = dict(alpha_s=median(v["alpha"]), beta_s_per_byte=median(v["beta"]),
                                    alpha_range=[min(v["alpha"]), max(v["alpha"])],
                                    beta_range=[min(v["beta"]), max(v["beta"])])
    sizes = sorted({r["bytes"] for r in rows if r.get("bench") == "pingpong"})
    if sizes:
        print_fn("ping-pong, one-way time (median over rounds of each round's median) and bandwidth:")
        print_fn(f"{'bytes':>10} {'tcp us':>10} {'tcp GB/s':>9} {'shm us':>10} {'shm GB/s':>9}")
        table = []
        for b in sizes:
            line, row = f"{b:>10}", {"bytes": b}
            for t in ("tcp", "shm"):
                v = [r["one_way_s_median"] for r in rows
                     if r.get("bench") == "pingpong" and r.get("transport") == t and r["bytes"] == b]
                tv = median(v) if v else float("nan")
                line += f" {tv * 1e6:>10.2f} {b / tv / 1e9:>9.3f}"
                row[t + "_one_way_s"] = v
            print_fn(line)
            table.append(row)
        result["pingpong"] = table
    # The step's collectives timed alone (kmpi_bench_pingpong m,d,c,q): the model's per-step
    # cost with the measured alpha-beta, without the solver's compute and its noise around it.
    for t in ("tcp", "shm"):
        sc = [r for r in rows if r.get("bench") == "step_collectives" and r.get("transport") == t]
        if not sc or t not in result["network"]:
            continue
        a_, b_ = result["network"][t]["alpha_s"], result["network"][t]["beta_s_per_byte"]
        m, d_, c_, q = sc[0]["m"], sc[0]["d"], sc[0]["c"], sc[0]["q"]
        parts = (("allgather X_B", "allgather_xb_s", allgather(P, m * d_ * WORD, a_, b_)),
                 ("allreduce g", "allreduce_g_s", allreduce(P, m * c_ * WORD, a_, b_)),
                 ("allreduce q x c", "allreduce_qc_s", allreduce(P, q * c_ * WORD, a_, b_)))
        print_fn(f"{t}: one EigenPro 2 step's collectives (m = {m}, d = {d_}, c = {c_}, q = {q}), "
                 f"median of 30 calls, measured vs model:")
        entry = dict(transport=t, m=m, d=d_, c=c_, q=q)
        for name, key, model in parts:
            meas = [r[key] for r in sc]
            print_fn(f"  {name:>16}: {span([x * 1e3 for x in meas], '{:.3f}')} ms vs {model * 1e3:.3f} ms")
            entry[key] = meas
            entry[key + "_model"] = model
        result.setdefault("step_collectives", []).append(entry)
        ratio = sum(median(entry[key]) for _, key, _ in parts) / sum(mo for _, _, mo in parts)
        print_fn(f"  the step's three together: measured / model = {ratio:.2f}")
        result.setdefault("step_ratio", {})[t] = ratio
    groups = sorted({(r["run"], r["rows"]) for r in rows
                     if r.get("run") in ("eigenpro2", "eigenpro4") and "rows" in r})
    for solver, n in groups:
        setup = [r for r in rows if r.get("run") == solver and r.get("rows") == n
                 and r.get("event") == "setup"]
        epochs = [r for r in rows if r.get("run") == solver and r.get("rows") == n
                  and "epoch" in r and "event" not in r]
        if not setup or not epochs:
            continue
        m = int(setup[0]["batch_size"])
        q = int(setup[0]["q"])
        steps = math.ceil(n / m)
        mb = n / steps  # the average batch: the epoch's last one is n - (steps - 1) m rows
        pred = {}
        for t in ("tcp", "shm"):
            a_, b_ = result["network"][t]["alpha_s"], result["network"][t]["beta_s_per_byte"]
            per_step = allgather(P, mb * d * WORD, a_, b_) + allreduce(P, mb * c * WORD, a_, b_) \
                + allreduce(P, q * c * WORD, a_, b_)
            pred[t] = steps * per_step
        if solver == "eigenpro2":
            compute = steps * 2 * mb * (n / P) * (d + c) / R_rank
            what = f"n = {n}, m = {m}, q = {q}, {steps} steps/epoch"
        else:
            p = int(setup[0]["centers"])
            s = int(setup[0]["nystrom_samples"])
            # The model's per-batch compute (eigenpro4_epoch); the projections here are exact
            # (Cholesky solves, p^2 c flops, ScaLAPACK messages), not modelled.
            compute = steps * 2 * mb * d * (3 * p + s) / P / R_rank
            what = f"n = {n}, p = {p}, m = {m}, s = {s}, q = {q}, {steps} batches/epoch"
        ep = {t: [e["epoch_s"] for e in epochs if e["transport"] == t] for t in ("tcp", "shm")}
        rounds = sorted({e["round"] for e in epochs})
        diffs, fast_diffs = [], []
        for r in rounds:
            tt = [e["epoch_s"] for e in epochs if e["round"] == r and e["transport"] == "tcp"]
            ts = [e["epoch_s"] for e in epochs if e["round"] == r and e["transport"] == "shm"]
            if tt and ts:
                diffs.append(median(tt) - median(ts))
                fast_diffs.append(min(tt) - min(ts))
        # The fastest epoch of each transport: the one least disturbed by the machine's other work.
        diff_min = min(ep["tcp"]) - min(ep["shm"])
        bytes_measured = sorted({round(e["bytes_per_step"]) for e in epochs})
        bytes_pred = bytes_per_step_eigenpro2(mb, d, c, q, P)
        print_fn(f"\n{solver}: {what}")
        print_fn(f"  bytes sent per step per rank: predicted {bytes_pred:.0f} at the average batch "
                 f"{mb:.0f} (full batch: X_B {m // P * d * WORD}, g {m * c * WORD}, q x c "
                 f"{q * c * WORD}), counted by kmpi {bytes_measured}")
        print_fn(f"  epoch s, median (min-max) of {len(ep['tcp'])}: tcp {span(ep['tcp'])}, shm "
                 f"{span(ep['shm'])}; model compute {compute:.3g} s at the median GEMM rate")
        print_fn(f"  model communication per epoch: tcp {pred['tcp']:.3g} s, shm {pred['shm']:.3g} s; "
                 f"tcp - shm {pred['tcp'] - pred['shm']:.3g} s")
        print_fn(f"  measured tcp - shm: per round, median epochs {', '.join(f'{x:+.4f}' for x in diffs)} s, "
                 f"fastest epochs {', '.join(f'{x:+.4f}' for x in fast_diffs)} s; fastest of all {diff_min:+.4f} s")
        share_pred = pred["tcp"] / (compute + pred["tcp"])
        share_meas = [x / median(ep["tcp"]) for x in diffs]
        print_fn(f"  communication share of the TCP epoch: model {share_pred:.3f} (model comm / "
                 f"measured TCP epoch {pred['tcp'] / median(ep['tcp']):.3f}), measured (tcp - shm) / tcp "
                 f"per round {', '.join(f'{x:+.3f}' for x in share_meas)}, fastest epochs "
                 f"{diff_min / min(ep['tcp']):+.3f}")
        entry = dict(solver=solver, n=n, m=m, q=q, steps=steps, bytes_predicted=bytes_pred,
                     bytes_measured=bytes_measured, epoch_s_tcp=ep["tcp"], epoch_s_shm=ep["shm"],
                     model_compute_s=compute, model_comm_s_tcp=pred["tcp"], model_comm_s_shm=pred["shm"],
                     measured_diff_s=diffs, measured_diff_round_fastest_s=fast_diffs,
                     measured_diff_fastest_s=diff_min, model_share_tcp=share_pred,
                     measured_share_tcp=share_meas)
        if solver == "eigenpro2":
            cs = {t: [e["comm_s"] for e in epochs if e["transport"] == t] for t in ("tcp", "shm")}
            print_fn(f"  time in the step's collectives (comm_s: waits for the slower rank included; "
                     f"X_B's allgather overlaps the previous step): tcp {span(cs['tcp'])} s, shm "
                     f"{span(cs['shm'])} s")
            entry["comm_s_tcp"], entry["comm_s_shm"] = cs["tcp"], cs["shm"]
        result["solvers"].append(entry)
    # What the model predicts at scale, on the assumed networks and on the measured veth TCP.
    n, p, d, c, m, s, q = 5_000_000, 1_000_000, 1280, 10, 10_000, 3000, 150
    R = node_gflops * 1e9
    nets = dict(ASSUMED)
    if "tcp" in result["network"]:
        nets["veth TCP measured here"] = (result["network"]["tcp"]["alpha_s"],
                                          result["network"]["tcp"]["beta_s_per_byte"])
    print_fn(f"\npredictions: n = {n:.0e}, p = {p:.0e}, d = {d}, c = {c}, m = {m}, s = {s}, q = {q}, "
             f"{node_gflops:.0f} GFLOP/s per node (float32 GEMM)")
    # The model's communication times the ratio measured on the veth TCP for the step's collectives
    # (what a straight alpha-beta line misses there: a pairwise exchange in both directions at once,
    # the reduction's arithmetic, the sizes below 1 MiB), as a second, corrected column.
    k = result.get("step_ratio", {}).get("tcp", 1.0)
    print_fn(f"(eff x{k:.2f}: the efficiency with the communication times {k:.2f}, the measured / model "
             f"ratio of the step's collectives over TCP)")
    print_fn(f"{'solver':>10} {'network':>32} {'coll':>5} {'P':>5} {'time s':>9} {'comm s':>9} "
             f"{'comm share':>10} {'efficiency':>10} {f'eff x{k:.2f}':>10}")
    saved = COLLECTIVES
    for solver in ("eigenpro2", "eigenpro4", "falkon"):
        for name, (a_, b_) in nets.items():
            for coll in ("ring", "tree"):
                COLLECTIVES = coll
                for Pn in (64, 1024):
                    if solver == "eigenpro2":
                        comp, comm = eigenpro2_epoch(n, d, c, m, q, Pn, R, a_, b_)
                    elif solver == "eigenpro4":
                        comp, comm = eigenpro4_epoch(n, p, d, c, m, s, q, Pn, R, a_, b_)
                    else:
                        comp, comm = falkon_iteration(n, p, d, c, Pn, R, a_, b_)
                    t = comp + comm
                    eff_k = comp / (comp + k * comm)
                    print_fn(f"{solver:>10} {name:>32} {coll:>5} {Pn:>5} {t:>9.2f} {comm:>9.3f} "
                             f"{comm / t:>10.3f} {comp / t:>10.3f} {eff_k:>10.3f}")
                    result["predictions"].append(dict(solver=solver, network=name, alpha_s=a_,
                                                      beta_s_per_byte=b_, collectives=coll, P=Pn,
                                                      seconds=t, comm_s=comm, efficiency=comp / t,
                                                      efficiency_comm_x_ratio=eff_k, ratio=k))
    COLLECTIVES = saved
    json.dump(result, open(out, "w"), indent=1)
    print_fn(f"\nwritten {out}")


def svg_plot(series, path, title):
    W, H, L, B = 720, 440, 70, 50
    xs = [x for s in series for x, _ in s["points"]]
    xmax = math.log2(max(xs))
    def X(p): return L + (W - L - 20) * math.log2(p) / xmax
    def Y(e): return H - B - (H - B - 30) * e
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<text x="{W/2}" y="18" text-anchor="middle" font-size="14">{title}</text>',
           f'<line x1="{L}" y1="{H-B}" x2="{W-20}" y2="{H-B}" stroke="black"/>',
           f'<line x1="{L}" y1="{H-B}" x2="{L}" y2="30" stroke="black"/>',
           f'<text x="{W/2}" y="{H-10}" text-anchor="middle">nodes P (log scale)</text>',
           f'<text x="15" y="{H/2}" transform="rotate(-90 15 {H/2})" text-anchor="middle">parallel efficiency</text>']
    for k in range(0, int(xmax) + 1):
        out.append(f'<text x="{X(2**k)}" y="{H-B+16}" text-anchor="middle">{2**k}</text>')
    for e in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<text x="{L-8}" y="{Y(e)+4}" text-anchor="end">{e:.2f}</text>')
        out.append(f'<line x1="{L}" y1="{Y(e)}" x2="{W-20}" y2="{Y(e)}" stroke="#ddd"/>')
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
    for i, s in enumerate(series):
        col = colors[i % len(colors)]
        pts = " ".join(f"{X(p):.1f},{Y(e):.1f}" for p, e in s["points"])
        if s.get("measured"):
            for p, e in s["points"]:
                out.append(f'<circle cx="{X(p):.1f}" cy="{Y(e):.1f}" r="5" fill="{col}"/>')
        else:
            out.append(f'<polyline points="{pts}" fill="none" stroke="{col}" stroke-width="2"/>')
        out.append(f'<text x="{L+10}" y="{40+15*i}" fill="{col}">{s["label"]}</text>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--measured", nargs="*", default=[], help="bench/run_eigenpro2_fmnist.sh JSON files")
    ap.add_argument("--node-gflops", type=float, default=3000.0,
                    help="float32 GEMM rate of one node (default 3 TFLOP/s: a 64-core AVX-512 node)")
    ap.add_argument("--out", default="scaling")
    ap.add_argument("--collectives", choices=("ring", "tree"), default="ring",
                    help="latency of the collectives: ring (P-1 steps per phase) or tree (log2 P)")
    ap.add_argument("--network", nargs=3, action="append", default=[], metavar=("NAME", "ALPHA", "BETA"),
                    help="one more network for the tables: latency ALPHA (s), BETA (s/byte), e.g. the "
                         "ping-pong fit of bench/run_cluster_net.sh")
    ap.add_argument("--check", metavar="JSONL",
                    help="bench/run_cluster_net.sh's output: the model against the 2-rank TCP and shared "
                         "memory measurements, then predictions at 64 and 1024 nodes (writes OUT.json "
                         "only, OUT defaulting to cluster_net_model)")
    a = ap.parse_args()
    global COLLECTIVES
    COLLECTIVES = a.collectives
    for name, alpha, beta in a.network:
        NETWORKS[name] = (float(alpha), float(beta))
    if a.check:
        out = a.out if a.out != "scaling" else "cluster_net_model"
        check(a.check, out + ".json", a.node_gflops)
        return
    R = a.node_gflops * 1e9
    n, p, d, c, m, s, q = 5_000_000, 1_000_000, 1280, 10, 10_000, 3000, 150
    Ps = [2 ** k for k in range(0, 11)]
    result = {"problem": dict(n=n, p=p, d=d, c=c, m=m, s=s, q=q, node_gflops=a.node_gflops), "predicted": []}
    series = []
    print(f"problem n={n:.0e} p={p:.0e} d={d} c={c} m={m} s={s} q={q}; node float32 GEMM {a.node_gflops:.0f} GFLOP/s")
    for solver in ("eigenpro4", "falkon", "eigenpro2"):
        for net, (alpha, beta) in NETWORKS.items():
            pts, rows = [], []
            for P in Ps:
                if solver == "eigenpro2":
                    comp, comm = eigenpro2_epoch(n, d, c, m, q, P, R, alpha, beta)
                    unit = "epoch"
                elif solver == "eigenpro4":
                    comp, comm = eigenpro4_epoch(n, p, d, c, m, s, q, P, R, alpha, beta)
                    unit = "epoch"
                else:
                    comp, comm = falkon_iteration(n, p, d, c, P, R, alpha, beta)
                    unit = "CG iteration"
                t = comp + comm
                t1 = comp * P  # P = 1 has no communication
                eff = t1 / (P * t)
                pts.append((P, eff))
                rows.append(dict(P=P, seconds=t, compute_s=comp, comm_s=comm, efficiency=eff))
            result["predicted"].append(dict(solver=solver, network=net, unit=unit, rows=rows))
            series.append(dict(label=f"{solver}, {net}", points=pts))
            print(f"\n{solver} per {unit}, {net}")
            print(f"{'P':>6} {'time s':>12} {'compute s':>12} {'comm s':>10} {'efficiency':>11}")
            for r in rows:
                print(f"{r['P']:>6} {r['seconds']:>12.2f} {r['compute_s']:>12.2f} {r['comm_s']:>10.4f} {r['efficiency']:>11.3f}")
    # The model against this machine: Fashion-MNIST 60000, EigenPro 2, shared memory (vader):
    # alpha ~ 1 us, beta ~ 1 / 5 GB/s; R per rank from the benchmark's GEMM measurement.
    measured = [json.load(open(f)) for f in a.measured]
    if measured:
        print("\nmeasured on this machine (EigenPro 2, Fashion-MNIST 60000 x 784, c = 10):")
        pts = []
        base = None
        for mjs in sorted(measured, key=lambda j: j["ranks"]):
            P = mjs["ranks"]
            Rm = mjs["gemm"]["gflops_total"] * 1e9
            batch = mjs["setup"]["batch_size"]
            qq = mjs["setup"]["q"]
            comp, comm = eigenpro2_epoch(60000, 784, 10, batch, qq, P, Rm / P, 1e-6, 1 / 5e9)
            best = min(e["epoch_s"] for e in mjs["epochs"])
            base = base or best * P
            pts.append((P, base / (P * best)))
            print(f"  P={P}: predicted {comp + comm:.2f} s/epoch (compute {comp:.2f}, comm {comm:.4f}), "
                  f"measured {best:.2f} s, bytes/step/rank predicted {bytes_per_step_eigenpro2(batch, 784, 10, qq, P):.0f}"
                  f" measured {mjs['epochs'][-1].get('bytes_per_step', float('nan')):.0f}")
            result.setdefault("measured", []).append(dict(P=P, predicted_s=comp + comm, measured_s=best))
        series.append(dict(label="measured here: EigenPro 2, Fashion-MNIST (2 cores)", points=pts, measured=True))
    json.dump(result, open(a.out + ".json", "w"), indent=1)
    svg_plot(series, a.out + ".svg", f"Predicted parallel efficiency, n={n:.0e}, p={p:.0e}, d={d}")
    print(f"\nwritten {a.out}.json and {a.out}.svg")


if __name__ == "__main__":
    main()
