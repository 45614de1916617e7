#!/usr/bin/env python3
"""Writes BENCHMARKS.md from the results of bench/run (see there); not meant to be run alone.

Reads: hyperfine's JSON exports, criterion's `new/estimates.json` files, the JSON lines of the
custom benches (latency percentiles, memory), peak resident sets from GNU time, and an strace
summary.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess

# What share of the machine's CPU time others (processes and hypervisor) may take before a run
# is reported as made on a busy machine.
BUSY_SHARE = 0.05

# ------------------------------------------------------------------------------------- reading


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_text(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def hyperfine(results, name):
    """{command name: result} of one hyperfine export."""
    data = load_json(os.path.join(results, name + ".json"))
    if not data:
        return {}
    return {r["command"]: r for r in data["results"]}


def criterion(crit_dir, bench_id):
    """Median of a criterion benchmark, in seconds, or None."""
    data = load_json(os.path.join(crit_dir, *bench_id.split("/"), "new", "estimates.json"))
    if not data:
        return None
    return data["median"]["point_estimate"] / 1e9


def custom(results):
    out = {"latency": {}, "memory": {}}
    try:
        with open(os.path.join(results, "custom.jsonl"), encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                r = json.loads(line)
                if r["bench"] == "latency":
                    out["latency"][(r["path"], r["size"])] = r
                elif r["bench"] == "memory":
                    # The core guest's rows are the target's; the component's are shown beside.
                    if r.get("guest", "echo") == "echo":
                        out["memory"][r["instances"]] = r
                    else:
                        out.setdefault("memory_component", {})[r["instances"]] = r
    except OSError:
        pass
    return out


def peak_mib(results, name):
    text = read_text(os.path.join(results, name))
    return int(text) / 1024 if text and text.isdigit() else None


# ---------------------------------------------------------------------------------- formatting


def fmt_time(s):
    if s is None:
        return "–"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms" if s < 0.1 else f"{s * 1e3:.0f} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.1f} µs"
    return f"{s * 1e9:.0f} ns"


def fmt_run(r):
    """A hyperfine result: median, with the mean's spread and the CPU time."""
    if not r:
        return "–"
    return f"{fmt_time(r['median'])} (±{fmt_time(r['stddev'] or 0)}; CPU {fmt_time(r['user'] + r['system'])})"


def fmt_mib(m):
    return "–" if m is None else f"{m:.1f} MiB"


def fmt_rate(per_s):
    return "–" if per_s is None else f"{per_s:,.0f}/s"


def verdict(value, target, lower_is_better=True):
    if value is None:
        return "not measured"
    ok = value <= target if lower_is_better else value >= target
    return "**meets**" if ok else "**misses**"


def growth(values):
    """'×r' between consecutive sizes."""
    out = []
    prev = None
    for v in values:
        out.append("" if prev in (None, 0) or v is None else f"×{v / prev:.1f}")
        prev = v
    return out


# ------------------------------------------------------------------------------------- machine


def _clock_secs(text):
    """Seconds from one `times` field such as `1m2.345s`."""
    m = re.fullmatch(r"(\d+)m([\d.]+)s", text)
    return int(m.group(1)) * 60 + float(m.group(2)) if m else None


def _times_secs(path):
    """CPU seconds of the shell and its waited-for children, from bash's `times` output."""
    text = read_text(path)
    if text is None:
        return None
    secs = [_clock_secs(field) for field in text.split()]
    return None if len(secs) != 4 or None in secs else sum(secs)


def _proc_stat_secs(path):
    """User + system CPU seconds of a process, itself and its waited-for children, from a copy
    of its `/proc/PID/stat`."""
    text = read_text(path)
    if not text or ")" not in text:
        return 0.0
    # After the command name, which may hold spaces: fields 3.. of proc(5); utime is field 14.
    fields = text.rsplit(")", 1)[1].split()
    try:
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (ValueError, IndexError):
        return 0.0


def cpu_share(results, cores):
    """What share of the machine's CPU capacity (cores × wall time of the run) others took: other
    processes (all busy time on the machine less this run's own) and the hypervisor (steal time).
    None when the samples are missing."""
    hz = os.sysconf("SC_CLK_TCK")

    def counters(name):
        line = read_text(os.path.join(results, f"cpu-{name}")) or ""
        parts = line.split()
        if not parts or parts[0] != "cpu":
            return None
        v = [int(x) for x in parts[1:]] + [0] * 10
        # user nice system idle iowait irq softirq steal (guest time is inside user).
        return (v[0] + v[1] + v[2] + v[5] + v[6]) / hz, v[7] / hz

    def clock(name):
        text = read_text(os.path.join(results, f"clock-{name}"))
        return float(text) if text else None

    try:
        start, end = counters("start"), counters("end")
        clocks = [clock("start"), clock("end")]
    except ValueError:
        return None
    ours = [_times_secs(os.path.join(results, f"times-{n}")) for n in ("start", "end")]
    if None in (start, end) or None in clocks or None in ours or not cores:
        return None
    capacity = cores * (clocks[1] - clocks[0])
    if capacity <= 0:
        return None
    own = ours[1] - ours[0] + _proc_stat_secs(os.path.join(results, "daemon-stat"))
    return {
        "others": max(0.0, (end[0] - start[0]) - own) / capacity,
        "steal": (end[1] - start[1]) / capacity,
        "own": own / capacity,
    }


def machine(results):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            kib = int(f.readline().split()[1])
            mem = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass

    def cmd(*args):
        try:
            return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = cmd("git", "-C", repo, "rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = cmd("git", "-C", repo, "status", "--porcelain", "--untracked-files=no")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem": mem,
        "kernel": platform.release(),
        "rustc": cmd("rustc", "--version") or "unknown",
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "hyperfine": cmd("hyperfine", "--version") or "unknown",
        "load_start": (read_text(os.path.join(results, "load-start")) or "").split()[:3],
        "load_end": (read_text(os.path.join(results, "load-end")) or "").split()[:3],
        "cpu_share": cpu_share(results, os.cpu_count()),
    }


# -------------------------------------------------------------------------------------- report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--criterion", required=True)
    ap.add_argument("--sizes", required=True)
    ap.add_argument("--turbo", default="")
    ap.add_argument("--daemon-sizes", default="")
    ap.add_argument("--morphir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--elapsed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    res, crit = a.results, a.criterion
    sizes = [int(s) for s in a.sizes.split()]
    m = machine(res)
    c = custom(res)
    turbo_version = None
    if a.turbo:
        try:
            turbo_version = subprocess.run(
                [a.turbo, "--version"], capture_output=True, text=True
            ).stdout.strip()
        except OSError:
            pass

    L = []
    w = L.append
    w("# Benchmarks")
    w("")
    w(
        f"Generated by `bench/run` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC "
        f"in {a.elapsed // 60} min {a.elapsed % 60} s; do not edit by hand (run `bench/run` again). "
        "Issue #6 asked for these figures; the targets are its own."
    )
    w("")
    if a.quick:
        w("> **Quick run** (`bench/run --quick`): few sizes and runs, short criterion times. "
          "Not figures to quote.")
        w("")
    share = m["cpu_share"]
    if share is not None:
        # Kernel threads and the odd cron job take a percent or two of a quiet machine.
        busy = share["others"] + share["steal"] > BUSY_SHARE
        taken = (
            f"other processes took {share['others']:.0%} of the machine's CPU time during the run "
            f"and the hypervisor {share['steal']:.0%}"
        )
    else:
        # Samples missing (an older run): the load average at the start, before this run's own work.
        try:
            busy = max(float(x) for x in m["load_start"]) > 0.5 * (m["cores"] or 1)
        except ValueError:
            busy = False
        taken = f"load average {' '.join(m['load_start'])} at the start"
    if busy:
        w(
            f"> **The machine was busy** ({taken}, on {m['cores']} cores), so wall times are "
            "pessimistic and noisy. CPU times (user + system, given beside each whole-process "
            "figure) suffer less. Re-run on a quiet machine before quoting."
        )
        w("")

    # ---- the targets
    lat = c["latency"]
    mem = c["memory"]
    actor_p50 = lat.get(("pool-run", 100), {}).get("p50_us")
    tokio_p50 = lat.get(("pool-run-from-tokio", 100), {}).get("p50_us")
    thr = {
        k: (1 / t if t else None)
        for k, t in (
            ("runtime", criterion(crit, "throughput/runtime-2-threads/100")),
            ("actors", criterion(crit, "throughput/pool-run-2-in-flight/100")),
            ("tokio", criterion(crit, "throughput/pool-run-2-tokio-tasks/100")),
            ("queued", criterion(crit, "throughput/pool-run-64-in-flight/100")),
        )
    }
    inst = criterion(crit, "startup/instantiate-compiled-core")
    per_instance = None
    if 10 in mem and 100 in mem:
        per_instance = (mem[100]["called_kib"] - mem[100]["base_kib"] - (mem[10]["called_kib"] - mem[10]["base_kib"])) / 90 / 1024
    elif mem:
        last = mem[max(mem)]
        per_instance = last["per_instance_mib"]
    graph10k = criterion(crit, "graph/build/10000")
    cached1000 = hyperfine(res, "cached-1000")
    ratio1000 = None
    if "morphir 1000" in cached1000 and "turbo 1000" in cached1000:
        ratio1000 = cached1000["turbo 1000"]["median"] / cached1000["morphir 1000"]["median"]
    mb2 = 2e6 / 2**20
    w("## Targets")
    w("")
    w("| target | measured | verdict |")
    w("|---|---|---|")
    w(
        f"| ≤ 20 µs p50 per call, 100-byte envelope, through an actor | `InstancePool::run`, as "
        f"`build` runs a miss: {'–' if actor_p50 is None else f'{actor_p50:.1f} µs'}; awaited "
        f"from a tokio task instead: {'–' if tokio_p50 is None else f'{tokio_p50:.1f} µs'} | "
        f"{verdict(actor_p50, 20)} (as `build` does), {verdict(tokio_p50, 20)} (from tokio) |"
    )
    w(
        f"| ≥ 100,000 calls/s on 2 cores | runtime alone {fmt_rate(thr['runtime'])}; two actors "
        f"(pool of 2, two calls in flight, as `build -j 2`) {fmt_rate(thr['actors'])}; 64 calls "
        f"in flight (waiting in the pool's queue) {fmt_rate(thr['queued'])}; from two tokio tasks "
        f"(an async embedder's setup, not a path of `morphir build` or the daemon) "
        f"{fmt_rate(thr['tokio'])} | "
        f"{verdict(thr['runtime'], 1e5, False)} (runtime), {verdict(thr['actors'], 1e5, False)} "
        f"(actors, 2 in flight), {verdict(thr['queued'], 1e5, False)} (actors, 64 in flight), "
        f"{verdict(thr['tokio'], 1e5, False)} (two tokio tasks) |"
    )
    w(f"| ≤ 1 ms to instantiate from a compiled module | {fmt_time(inst)} | {verdict(inst, 1e-3)} |")
    w(
        f"| ≤ 2 MB (1.91 MiB) resident per extra live instance | "
        f"{'–' if per_instance is None else f'{per_instance:.2f} MiB'} (from 10 to 100 live instances) | "
        f"{verdict(per_instance, mb2)} |"
    )
    w(
        f"| fully cached 1,000-step build ≥ 10× faster than Turborepo's 1,000 cached tasks | "
        f"{'–' if ratio1000 is None else f'{ratio1000:.1f}× faster'} (median wall, whole process"
        f"{'; a busy machine flatters this, see below' if busy else ''}) | "
        f"{verdict(ratio1000, 10, False)} |"
    )
    w(f"| graph construction for 10,000 steps ≤ 50 ms | {fmt_time(graph10k)} (`StepGraph::build`) | {verdict(graph10k, 0.05)} |")
    w("")

    # ---- machine
    w("## Machine")
    w("")
    w(f"- CPU: {m['cpu']}, {m['cores']} cores (`nproc`); memory {m['mem']}; Linux {m['kernel']}")
    if share is not None:
        w(
            f"- CPU time during the run, as shares of the machine's (cores × wall time): this run "
            f"{share['own']:.0%}, other processes {share['others']:.1%}, hypervisor steal "
            f"{share['steal']:.1%} (from `/proc/stat` and the run's own `times`; busy above "
            f"{BUSY_SHARE:.0%} for the last two together)"
        )
    w(f"- load average (1, 5, 15 min): {' '.join(m['load_start']) or '?'} at the start, {' '.join(m['load_end']) or '?'} at the end "
      "(the end's is mostly this run's own work)")
    w(f"- {m['rustc']}; morphir at {m['commit']}; {m['hyperfine']}; turbo {turbo_version or '(not run)'}; "
      f"Node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip() if a.turbo else '–'}")
    w("")

    # ---- calls
    w("## Extension calls")
    w("")
    w("The `echo` guest returns its input; the envelope size is its whole wire form. *Runtime*: "
      "`Instance::call` on the calling thread. *Pool run*: `InstancePool::run`, as `morphir "
      "build` runs a step that misses: an idle `InstanceActor` (a Kameo actor owning a warm "
      "instance on a thread of its own) taken from the pool, the call queued and run, the "
      "actor back in the pool, "
      "including the copy of the request the build makes; awaited with `lane::block_on`, as "
      "the CLI and the daemon await a build (both sides spin up to 10 µs before parking, "
      "ARCHITECTURE.md; a build polls its misses on that thread). *From tokio*: the same awaited "
      "from a tokio task, as an async host would; `InstancePool::run` spins the same 10 µs "
      "inside its own future before the worker parks (`lane::spin_first`). Percentiles: `benches/latency.rs` (20,000 timed "
      "calls for 100 B, 300 for 1 MiB); median: criterion's median over its samples of each "
      "sample's mean, which includes time lost to preemption, unlike p50.")
    w("")
    w("| path | envelope | p50 | p90 | p99 | max | criterion median |")
    w("|---|---|---|---|---|---|---|")
    crit_ids = {
        "runtime": "call/echo-transform-core/{}",
        "pool-run": "actor-call/pool-run/{}",
        "pool-run-from-tokio": "actor-call/pool-run-from-tokio/{}",
    }
    names = {
        "runtime": "runtime",
        "pool-run": "pool run (as `build` runs a miss)",
        "pool-run-from-tokio": "pool run, from a tokio task",
    }
    for size in (100, 1 << 20):
        for path in ("runtime", "pool-run", "pool-run-from-tokio"):
            r = lat.get((path, size))
            us = lambda k: fmt_time(r[k] / 1e6) if r else "–"  # noqa: E731
            w(
                f"| {names[path]} | {'100 B' if size == 100 else '1 MiB'} | {us('p50_us')} | {us('p90_us')} | "
                f"{us('p99_us')} | {us('max_us')} | {fmt_time(criterion(crit, crit_ids[path].format(size)))} |"
            )
    w("")
    w("Throughput, 100-byte envelopes (criterion median; one call per iteration):")
    w("")
    w("| setup | calls per second | target |")
    w("|---|---|---|")
    one = criterion(crit, "call/echo-transform-core/100")
    one_actor = criterion(crit, "actor-call/pool-run/100")
    w(f"| one instance, runtime alone | {fmt_rate(1 / one if one else None)} | |")
    w(f"| one instance, through its actor (`InstancePool::run`, one call at a time) | {fmt_rate(1 / one_actor if one_actor else None)} | |")
    w(f"| two instances, runtime alone, one thread each | {fmt_rate(thr['runtime'])} | ≥ 100,000/s: {verdict(thr['runtime'], 1e5, False)} |")
    w(f"| two instances through their actors, two calls in flight on one thread (a build with `-j 2`) | {fmt_rate(thr['actors'])} | {verdict(thr['actors'], 1e5, False)} |")
    w(f"| the same, 64 calls in flight on one thread (a wide layer; calls wait in the pool's queue and each actor runs them back to back) | {fmt_rate(thr['queued'])} | {verdict(thr['queued'], 1e5, False)} |")
    w(
        f"| two calls in flight from two tokio tasks (an async embedder's setup, not the build's: "
        f"four threads on two cores, two callers and two actors, each spinning between calls) | "
        f"{fmt_rate(thr['tokio'])} | {verdict(thr['tokio'], 1e5, False)} |"
    )
    w("")

    # ---- startup
    st = hyperfine(res, "startup")
    stc = hyperfine(res, "startup-cold")
    w("## Startup")
    w("")
    w("| what | time | target |")
    w("|---|---|---|")
    w(f"| compile `echo` cold (`Runtime::load`, compile cache disabled; criterion) | {fmt_time(criterion(crit, 'startup/load-cold-compile-core'))} | |")
    w(f"| load `echo` from the compile cache (criterion) | {fmt_time(criterion(crit, 'startup/load-from-compile-cache-core'))} | |")
    w(f"| instantiate from a compiled module (`Module::instantiate`, idle lane; criterion) | {fmt_time(inst)} | ≤ 1 ms: {verdict(inst, 1e-3)} |")
    w(f"| process: `morphir --version` | {fmt_run(st.get('morphir --version'))} | |")
    w(f"| process: `morphir build --no-cache`, one step, compile cache warm | {fmt_run(st.get('build 1 step, compile cache warm'))} | |")
    w(f"| process: the same, compile cache empty (`XDG_CACHE_HOME` emptied before each run) | {fmt_run(stc.get('build 1 step, compile cache cold'))} | |")
    w("")
    w("Whole-process figures: hyperfine median (± standard deviation; CPU = user + system).")
    w("")
    # ---- components beside core modules (issue 7): the same echo behaviour, both protocols
    w("## Core modules and components side by side")
    w("")
    w("`benches/runtime.rs` (criterion medians): `echo` (a core module, through Extism) and "
      "`echo-component` (a component built from a core module and WIT by `wit-component`, "
      "through wasmtime's component API), the same behaviour behind the same runtime API.")
    w("")
    w("| what | core module | component | component / core |")
    w("|---|---|---|---|")
    rows = [
        ("call, 100-byte envelope", "call/echo-transform-{}/100"),
        ("call, 1 MiB envelope", f"call/echo-transform-{{}}/{1 << 20}"),
        ("instantiate from a compiled module", "startup/instantiate-compiled-{}"),
        ("load from the compile cache", "startup/load-from-compile-cache-{}"),
        ("compile cold", "startup/load-cold-compile-{}"),
    ]
    for label, pattern in rows:
        core_t = criterion(crit, pattern.format("core"))
        comp_t = criterion(crit, pattern.format("component"))
        ratio = f"{comp_t / core_t:.2f}×" if core_t and comp_t else "–"
        w(f"| {label} | {fmt_time(core_t)} | {fmt_time(comp_t)} | {ratio} |")
    w("")

    # ---- memory
    w("## Memory per live instance")
    w("")
    w("Resident set (`VmRSS`) of a fresh process per count, after loading `echo` from a warm "
      "compile cache, after creating the instances, and after one 100-byte call on each "
      "(`benches/memory.rs`). Every instance but the first holds a compiled lane of its own "
      "(ARCHITECTURE.md, \"One engine per live instance\").")
    w("")
    w("| live instances | added after creating | added after one call each | per instance | target ≤ 2 MB |")
    w("|---|---|---|---|---|")
    if not mem:
        w("| – | | | (not measured) | |")
    for k in sorted(mem):
        r = mem[k]
        w(
            f"| {k} | {fmt_mib((r['created_kib'] - r['base_kib']) / 1024)} | {fmt_mib((r['called_kib'] - r['base_kib']) / 1024)} | "
            f"{r['per_instance_mib']:.2f} MiB | {verdict(r['per_instance_mib'], mb2) if k > 1 else '(reuses the idle lane)'} |"
        )
    if per_instance is not None and 10 in mem and 100 in mem:
        w(f"| each of the 90 instances from 10 to 100 | | | {per_instance:.2f} MiB | {verdict(per_instance, mb2)} |")
    w("")
    cmem = c.get("memory_component", {})
    if cmem:
        w("The same for `echo-component`: components share one compiled component (no lanes), "
          "so an instance adds only its store and memory.")
        w("")
        w("| live instances | added after creating | added after one call each | per instance |")
        w("|---|---|---|---|")
        for k in sorted(cmem):
            r = cmem[k]
            w(
                f"| {k} | {fmt_mib((r['created_kib'] - r['base_kib']) / 1024)} | "
                f"{fmt_mib((r['called_kib'] - r['base_kib']) / 1024)} | {r['per_instance_mib']:.2f} MiB |"
            )
        w("")

    # ---- cache
    w("## The cache, per step (in process)")
    w("")
    w("`benches/cache.rs`, criterion medians; a store in a temporary directory, small entries "
      "(one output of ~200 bytes). *Cached step* = key + lookup hit + last-run refresh: the "
      "cache's share of one step of a fully cached build.")
    w("")
    w("| operation | median |")
    w("|---|---|")
    for bid, label in (
        ("key/frontend", "key of a frontend (one input file)"),
        ("key/transform", "key of a transform (one upstream envelope)"),
        ("store/lookup-hit", "`lookup`, hit (verified; the record file read)"),
        ("store/lookup-miss", "`lookup`, miss"),
        ("store/set-last-run-unchanged", "`set_last_run`, unchanged (after every hit)"),
        ("store/put-new", "`put` of a new entry"),
        ("cached-step", "cached step (key + `lookup_step`: hit from the last-run index, verified, and last run)"),
    ):
        w(f"| {label} | {fmt_time(criterion(crit, bid))} |")
    w("")

    # ---- graph
    w("## Graph construction")
    w("")
    w("In process (`benches/graph.rs`, criterion medians), on the workspaces `bench/gen.py` makes:")
    w("")
    w("| steps | load `morphir.toml` | `StepGraph::build` | walk with a `ReadySet` | `to_json` | target (build) ≤ 50 ms at 10,000 |")
    w("|---|---|---|---|---|---|")
    for n in (1000, 10000):
        b = criterion(crit, f"graph/build/{n}")
        w(
            f"| {n:,} | {fmt_time(criterion(crit, f'graph/config-load/{n}'))} | {fmt_time(b)} | "
            f"{fmt_time(criterion(crit, f'graph/ready-set-walk/{n}'))} | {fmt_time(criterion(crit, f'graph/to-json/{n}'))} | "
            f"{verdict(b, 0.05) if n == 10000 else ''} |"
        )
    w("")

    # ---- scale
    w("## Build executor at scale (whole process)")
    w("")
    w("Each cell: hyperfine median wall time (± standard deviation; CPU = user + system). "
      "*Graph*: `morphir graph --format json` (load, build, print). *Cold*: empty build cache "
      "(`cache/` and `out/` moved aside before each run, not deleted: ext4 scans past inodes "
      "deleted in the last ~30 s when it allocates new ones, which made a cold build right after "
      "deleting the previous one's files ten times slower), warm compile cache. *Fully cached*: "
      "nothing changed since the last build. *One input changed*: the first pipeline's input "
      "edited to new content before each run; its four steps run again, and so does the frontend "
      "of the next task in its `depends_on` chain (it receives the changed IR), whose output is "
      "unchanged, so everything after it stays cached (early cutoff).")
    w("")
    w("| steps | graph | cold build | fully cached | one input changed | steps run |")
    w("|---|---|---|---|---|---|")
    rows = {}
    for n in sizes:
        g = hyperfine(res, f"graph-{n}").get(f"graph {n}")
        cold = hyperfine(res, f"cold-{n}").get(f"cold {n}")
        cached = hyperfine(res, f"cached-{n}").get(f"morphir {n}")
        changed = hyperfine(res, f"changed-{n}").get(f"changed {n}")
        rep = load_json(os.path.join(res, f"changed-{n}.report.json"))
        ran = f"{rep['executed']} of {len(rep['steps'])}" if rep else "–"
        rows[n] = (g, cold, cached, changed)
        w(f"| {n:,} | {fmt_run(g)} | {fmt_run(cold)} | {fmt_run(cached)} | {fmt_run(changed)} | {ran} |")
    w("")
    w("Growth with the number of steps (median wall time, ratio to the row before) and cost per step:")
    w("")
    w("| steps | graph | cold | cold per step | fully cached | cached per step | one changed | peak RSS cold | peak RSS cached |")
    w("|---|---|---|---|---|---|---|---|---|")
    med = lambda r: r["median"] if r else None  # noqa: E731
    cols = [growth([med(rows[n][i]) for n in sizes]) for i in range(4)]
    for j, n in enumerate(sizes):
        g, cold, cached, changed = rows[n]
        w(
            f"| {n:,} | {fmt_time(med(g))} {cols[0][j]} | {fmt_time(med(cold))} {cols[1][j]} | "
            f"{fmt_time(med(cold) / n) if cold else '–'} | {fmt_time(med(cached))} {cols[2][j]} | "
            f"{fmt_time(med(cached) / n) if cached else '–'} | {fmt_time(med(changed))} {cols[3][j]} | "
            f"{fmt_mib(peak_mib(res, f'peak-cold-{n}'))} | {fmt_mib(peak_mib(res, f'peak-cached-{n}'))} |"
        )
    w("")

    # ---- turbo
    w("## Fully cached build: morphir and Turborepo")
    w("")
    w("Both in one hyperfine invocation per size (one after the other), on workspaces "
      "of the same shape and number of tasks (see below). Ratio = turbo's median / morphir's. "
      "Both spread a fully cached run over the cores (morphir prepares ready hits in batches, "
      "one thread per core; turbo runs tasks on a pool), so CPU time exceeds wall time for both; "
      "turbo spends about eight times the CPU. Where a cached step's time goes and what is left "
      "to cut: ARCHITECTURE.md, \"The cached path\".")
    w("")
    w("| tasks | morphir | turbo | turbo / morphir | target | peak RSS morphir | peak RSS turbo |")
    w("|---|---|---|---|---|---|---|")
    any_turbo = False
    for n in sizes:
        r = hyperfine(res, f"cached-{n}")
        mo, tu = r.get(f"morphir {n}"), r.get(f"turbo {n}")
        if not tu:
            continue
        any_turbo = True
        ratio = tu["median"] / mo["median"]
        cpu_ratio = (tu["user"] + tu["system"]) / max(mo["user"] + mo["system"], 1e-9)
        w(
            f"| {n:,} | {fmt_run(mo)} | {fmt_run(tu)} | **{ratio:.1f}×** (CPU {cpu_ratio:.1f}×) | "
            f"{'≥ 10×: ' + verdict(ratio, 10, False) if n == 1000 else ''} | "
            f"{fmt_mib(peak_mib(res, f'peak-cached-{n}'))} | {fmt_mib(peak_mib(res, f'peak-turbo-{n}'))} |"
        )
    if not any_turbo:
        w("| – | | (not run) | | | | |")
    w("")

    # ---- daemon
    dsizes = [int(x) for x in (a.daemon_sizes or "").split()]
    if any(hyperfine(res, f"daemon-cached-{n}") for n in dsizes):
        w("## Rebuilds through the daemon")
        w("")
        w("`morphir build` in process (`--no-daemon`) and through a running daemon "
          "(docs/daemon.md) whose pools are warm, one after the other in one hyperfine run per "
          "row, on the workspaces above. *Changed*: one frontend's input edited before each run "
          "(`gen.py touch`), so that step and its backend run; in process this loads the module "
          "(from the compile cache) and instantiates it, the daemon has both ready. The client "
          "still starts a process, finds `morphir.toml` and renders the same progress.")
        w("")
        w("| steps | fully cached, in process | fully cached, daemon | ratio | one input changed, in process | one input changed, daemon | ratio |")
        w("|---|---|---|---|---|---|---|")
        for n in dsizes:
            c = hyperfine(res, f"daemon-cached-{n}")
            ch = hyperfine(res, f"daemon-changed-{n}")
            ci, cd = c.get(f"in process {n}"), c.get(f"daemon {n}")
            hi, hd = ch.get(f"in process {n}"), ch.get(f"daemon {n}")

            def ratio(a, b):
                return f"{a['median'] / b['median']:.2f}×" if a and b else "–"

            w(f"| {n:,} | {fmt_run(ci)} | {fmt_run(cd)} | {ratio(ci, cd)} | "
              f"{fmt_run(hi)} | {fmt_run(hd)} | {ratio(hi, hd)} |")
        w("")
        w("Ratio = in process / daemon (above 1: the daemon is faster). CPU is the client "
          "process's only: the daemon's work is not in it.")
        w("")

    # ---- syscalls
    st_text = read_text(os.path.join(res, "strace-cached-1000.txt"))
    if st_text:
        w("## Syscalls of a fully cached 1,000-step build")
        w("")
        w("`strace -f -c` (counts only; strace's times are its own overhead):")
        w("")
        w("| syscall | calls | per step |")
        w("|---|---|---|")
        rows_sc = []
        for line in st_text.splitlines():
            parts = line.split()
            if len(parts) >= 5 and re.match(r"^[0-9.]+$", parts[0]) and parts[-1] != "total":
                try:
                    rows_sc.append((parts[-1], int(parts[3])))
                except ValueError:
                    pass
        for name, calls in sorted(rows_sc, key=lambda x: -x[1])[:12]:
            w(f"| {name} | {calls:,} | {calls / 1000:.1f} |")
        w("")

    # ---- method
    w("## How these were measured")
    w("")
    w("Reproduce everything (about 15 minutes on two cores; installs hyperfine, GNU time and "
      "turbo if missing):")
    w("")
    w("```sh")
    w("bench/run                                   # all of the below, then writes this file")
    w("BENCH_SIZES='10 100 1000' bench/run         # fewer sizes")
    w("bench/run --quick                           # a smoke run")
    w("```")
    w("")
    w("The parts, by hand (`RUST_LIB_BACKTRACE=0` for comparable figures):")
    w("")
    w("```sh")
    w("cargo bench -p morphir-runtime --bench runtime        # calls and startup, runtime alone")
    w("cargo bench -p morphir-host --bench actor             # calls through actors, throughput")
    w("cargo bench -p morphir-host --bench latency           # p50/p90/p99 per call")
    w("cargo bench -p morphir-host --bench memory            # resident memory per live instance")
    w("cargo bench -p morphir-cache --bench cache            # keys, lookups, puts")
    w("cargo bench -p morphir-graph --bench graph            # config load and graph build, 1k/10k steps")
    w("bench/gen.py morphir /tmp/w 1000 --echo extensions/dist/echo.wasm   # a workspace")
    w("bench/gen.py turbo /tmp/t 1000                                       # its Turborepo twin")
    w("hyperfine -N --warmup 3 'morphir build --config /tmp/w/morphir.toml' \\")
    w("  'bench/.tools/node_modules/@turbo/linux-64/bin/turbo run backend --cwd /tmp/t'")
    w("```")
    w("")
    w("(`cargo bench` needs `--bench NAME`: the library targets' test harness rejects criterion's "
      "options.)")
    w("")
    w("- **Workspaces** (`bench/gen.py`): N steps = N/4 pipelines of frontend → transform → "
      "transform → backend (plus one shorter pipeline for a remainder), each reading one "
      "~100-byte input file of its own; `depends_on` chains of ten pipelines. Every step is the "
      "`echo` guest (the backend in `mode = \"files\"`, writing its input to `out/pNNNNN/`).")
    w("- **Turborepo twin**: one npm workspace package per pipeline, four scripts chained in "
      "`turbo.json` (`frontend` depends on `^transform2`, like `depends_on`), each a `cp` of one "
      "file with its output declared, so a cached run restores files as morphir's cached backends "
      "write theirs; a git repository with a lockfile, as turbo expects. turbo runs as its "
      "platform binary (not the node launcher in `node_modules/.bin`, which adds ~0.2 s), with "
      "default options (full log replay, no daemon is started by `turbo run` in 2.x), telemetry "
      "off. Its cache is filled once per generator version through a stand-in for `npm run` "
      "(`sh -c` of the script, printing npm's header lines) because npm's own startup made the "
      "fill take minutes; turbo hashes neither, and a fully cached run starts no task.")
    w("- **Output**: both tools' stdout and stderr go to /dev/null (hyperfine), so morphir prints "
      "one plain line per step (non-terminal mode) and turbo replays every task's log.")
    w("- **Compile cache**: `XDG_CACHE_HOME` points at a directory of the run, warm after the first "
      "load; the cold-compile row empties another one before each run.")
    w("")

    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
