"""The classroom game under a class's load: N simulated students on the loopback address.

Starts ``commnet classroom`` (the real server, its default limits) on a free 127.0.0.1 port,
then N students (asyncio + httpx, each its own client and seat token) join with the code and
play: each long-polls its screen (``/api/me?v=``) as the page does, and decides (effort,
meetings, a tie) whenever a month is open.  A facilitator opens each month, waits until every
student has decided, and closes it.  Measures:

* join time per student (the ``/api/join`` round trip, all N at once);
* month-advance latency: from the facilitator's click (the close request is sent) until
  **every** student's long poll has delivered the new month (target ≤ 1 s);
* the server's resident memory (VmRSS) before the students, after they joined and after the
  last month; (after − before) / N = memory per student.

Bounded: ``--months`` months (default 8), every wait has a timeout, the whole run stops after
``--timeout`` seconds (default 300) and the server is terminated at the end.  Only
127.0.0.1 is contacted.

Usage::

    python benchmarks/classroom_load.py                    # 40 students, 8 months
    python benchmarks/classroom_load.py --students 40 --months 8 --json results/classroom_load.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (from ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(students: int, months: int, out: Path) -> tuple[subprocess.Popen, str, str, str]:
    port = free_port()
    log = out / "server.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    cmd = [sys.executable, "-m", "simulation.cli", "classroom",
           str(ROOT / "scenarios" / "teaching.yaml"), "--host", "127.0.0.1", "--port", str(port),
           "--seats", str(students), "--months", str(months), "--out", str(out / "session")]
    proc = subprocess.Popen(cmd, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        text = log.read_text()
        key = re.search(r"#key=(\S+)", text)
        code = re.search(r"code: (\w+)", text)
        if key and code:
            break
        if proc.poll() is not None:
            raise RuntimeError("server exited:\n" + text)
        time.sleep(0.2)
    else:
        proc.terminate()
        raise RuntimeError("server did not start:\n" + log.read_text())
    base = f"http://127.0.0.1:{port}"
    return proc, base, key.group(1), code.group(1)


async def wait_up(client, base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (await client.get(base + "/")).status_code == 200:
                return
        except Exception:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("server not answering")


async def run(args) -> dict:
    import httpx

    out = Path(tempfile.mkdtemp(prefix="classroom_load_"))
    proc, base, key, code = start_server(args.students, args.months, out)
    result: dict = {"students": args.students, "months": args.months}
    hub_headers = {"X-Facilitator-Key": key}
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    try:
        async with httpx.AsyncClient(timeout=30) as fac:
            await wait_up(fac, base)
            await asyncio.sleep(1.0)
            result["rss_before_mb"] = rss_mb(proc.pid)
            seen: dict[int, dict[int, float]] = {}  # month -> student -> time seen
            stop = asyncio.Event()
            refused: dict[int, int] = {}  # status -> count of refused requests

            async def student(i: int, client) -> float:
                t0 = time.perf_counter()
                r = await client.post(base + "/api/join", json={"code": code, "name": f"S{i:02d}"})
                join_s = time.perf_counter() - t0
                r.raise_for_status()
                h = {"Authorization": "Bearer " + r.json()["token"]}
                rng = random.Random(i)
                v = None
                decided = -1

                async def loop():
                    nonlocal v, decided
                    while not stop.is_set():
                        q = "" if v is None else f"?v={v}"
                        r = await client.get(base + "/api/me" + q, headers=h)
                        if r.status_code != 200:
                            refused[r.status_code] = refused.get(r.status_code, 0) + 1
                            await asyncio.sleep(0.2)
                            continue
                        st = r.json()
                        v = st["version"]
                        seen.setdefault(st["month"], {}).setdefault(i, time.perf_counter())
                        if st["finished"]:
                            return
                        if st["phase"] == "open" and decided != st["month"]:
                            ch = {"effort": round(rng.random(), 2)}
                            e = st["entitled"]
                            if e["locality"] and e["locality_meets"]:
                                ch["attend_locality"] = rng.random() < 0.6
                            if st["candidates"]:
                                ch["ties"] = [rng.choice(st["candidates"])["id"]]
                            r = await client.post(base + "/api/choices", json=ch, headers=h)
                            if r.status_code == 200:
                                decided = st["month"]

                return join_s, asyncio.create_task(loop())

            clients = [httpx.AsyncClient(timeout=40, limits=limits) for _ in range(args.students)]
            joined = await asyncio.gather(*(student(i, c) for i, c in enumerate(clients)))
            joins = [j for j, _ in joined]
            tasks = [t for _, t in joined]
            await asyncio.sleep(1.0)
            result["rss_joined_mb"] = rss_mb(proc.pid)
            latencies, advance = [], []
            for month in range(args.months):
                r = await fac.post(base + "/api/hub/control", json={"action": "open"},
                                   headers=hub_headers)
                r.raise_for_status()
                deadline = time.monotonic() + 60
                hv = None
                while time.monotonic() < deadline:  # every student decided (long polls)
                    q = "" if hv is None else f"?v={hv}"
                    r = await fac.get(base + "/api/hub" + q, headers=hub_headers)
                    if r.status_code != 200:
                        refused[r.status_code] = refused.get(r.status_code, 0) + 1
                        await asyncio.sleep(0.2)
                        continue
                    hub = r.json()
                    hv = hub["version"]
                    if sum(s["decided"] for s in hub["students"]) == args.students:
                        break
                click = time.perf_counter()
                r = await fac.post(base + "/api/hub/control", json={"action": "close"},
                                   headers=hub_headers)
                r.raise_for_status()
                advance.append(time.perf_counter() - click)
                deadline = time.monotonic() + 30
                while len(seen.get(month + 1, {})) < args.students and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
                got = seen.get(month + 1, {})
                if len(got) < args.students:
                    raise RuntimeError(f"month {month + 1}: {len(got)} of {args.students} saw it")
                latencies.append(max(got.values()) - click)
            result["rss_after_mb"] = rss_mb(proc.pid)
            stop.set()
            await asyncio.wait(tasks, timeout=30)
            for c in clients:
                await c.aclose()
        result.update({
            "join_s": {"median": statistics.median(joins), "max": max(joins)},
            "close_request_s": {"median": statistics.median(advance), "max": max(advance)},
            "month_to_every_student_s": {"median": statistics.median(latencies),
                                         "max": max(latencies), "all": latencies},
            "memory_per_student_mb": (result["rss_after_mb"] - result["rss_before_mb"])
            / args.students,
            "refused": refused,
            "target_met": max(latencies) <= 1.0,
        })
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, default=40)
    p.add_argument("--months", type=int, default=8)
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    res = asyncio.run(asyncio.wait_for(run(args), args.timeout))
    lat = res["month_to_every_student_s"]
    print(f"{res['students']} students, {res['months']} months on 127.0.0.1")
    j = res["join_s"]
    print(f"join: median {j['median'] * 1000:.0f} ms, max {j['max'] * 1000:.0f} ms")
    c = res["close_request_s"]
    print(f"facilitator's close request (runs the month): median {c['median'] * 1000:.0f} ms, "
          f"max {c['max'] * 1000:.0f} ms")
    print(f"click → every student's screen has the new month: median {lat['median'] * 1000:.0f} ms, "
          f"max {lat['max'] * 1000:.0f} ms (target ≤ 1000 ms: {'met' if res['target_met'] else 'NOT met'})")
    print(f"server RSS: {res['rss_before_mb']:.0f} MB before, {res['rss_joined_mb']:.0f} MB joined, "
          f"{res['rss_after_mb']:.0f} MB after; {res['memory_per_student_mb'] * 1024:.0f} kB per student")
    print(f"refused requests: {res['refused'] or 'none'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2))
    return 0 if res["target_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
