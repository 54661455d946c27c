"""How fast the playground answers: the seed's solve round trip, and the page becoming ready.

Starts `handgrad serve` on a free loopback port, times 50 POST /api/solve round trips for the
seed homework (median), then loads the page five times in Debian's chromium (Playwright) and
times navigation until the page has drawn its first solution (median, by the page's own
clock and as the test driver sees it, polling included). Never run as a test.

    python bench/playground.py
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
import tomllib
import urllib.request

from handgrad.problem import default_problem_path


def main() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "handgrad", "serve", "--port", str(port)],
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/api/capabilities", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        seed = tomllib.loads(default_problem_path().read_text(encoding="utf-8"))
        body = json.dumps({"problem": seed}).encode()
        times = []
        for _ in range(55):
            request = urllib.request.Request(base + "/api/solve", body,
                                             {"Content-Type": "application/json"})
            start = time.perf_counter()
            urllib.request.urlopen(request).read()
            times.append(time.perf_counter() - start)
        print(f"solve round trip (seed): median {statistics.median(times[5:]) * 1e3:.1f} ms, "
              f"best {min(times[5:]) * 1e3:.1f} ms over 50")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            loads, walls = [], []
            for _ in range(6):
                page = browser.new_page()
                start = time.perf_counter()
                page.goto(base + "/")
                page.wait_for_selector("body[data-ready=true]")
                walls.append(time.perf_counter() - start)
                # the page's own clock: from navigation start to the first solution drawn
                loads.append(float(page.get_attribute("body", "data-ready-at") or "nan") / 1e3)
                page.close()
            browser.close()
        print(f"page ready (first solution drawn, the page's clock): median "
              f"{statistics.median(loads[1:]) * 1e3:.0f} ms over 5 (first, cold: "
              f"{loads[0] * 1e3:.0f} ms); as Playwright sees it "
              f"{statistics.median(walls[1:]) * 1e3:.0f} ms")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
