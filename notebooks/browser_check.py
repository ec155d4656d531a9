#!/usr/bin/env python3
"""Opens notebooks the way a learner does after a fresh clone, and fails unless every plot shows.

A fresh clone's notebooks are untrusted, and JupyterLab does not render the SVG outputs of an
untrusted notebook (the plot area stays empty); the lab's plots therefore carry a PNG beside the
SVG. This check proves it in a real browser: it starts JupyterLab on 127.0.0.1 (its own empty
Jupyter data dir, so no notebook is trusted and no kernel starts), loads each notebook in headless
Chromium, and compares the images in the rendered page with the plot outputs in the file.

    python3 notebooks/browser_check.py notebooks/05_training.ipynb [...]

Needs JupyterLab (`bash notebooks/setup.sh --lab`) and Chromium (`apt-get install chromium`).
Bounded in time; the server is stopped by its process group whatever happens.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def plots(path):
    """Plot outputs of a notebook: outputs with an image/png or image/svg+xml representation."""
    nb = json.load(open(path))
    return sum(
        1
        for c in nb["cells"] if c["cell_type"] == "code"
        for o in c.get("outputs", [])
        if any(k in o.get("data", {}) for k in ("image/png", "image/svg+xml"))
    )


def rendered_images(dom):
    """Images JupyterLab rendered into output areas (PNG and, when trusted, SVG renderers)."""
    blocks = re.findall(r'class="[^"]*jp-Rendered(?:Image|SVG)[^"]*"[^>]*>(.*?)</div>', dom, flags=re.S)
    return sum(1 for b in blocks if "<img" in b or "<svg" in b)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(paths):
    jupyter = os.path.join(ROOT, ".venv/bin/jupyter")
    jupyter = jupyter if os.access(jupyter, os.X_OK) else (shutil.which("jupyter") or "jupyter")
    browser = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if browser is None:
        sys.exit("browser_check: no chromium on PATH (apt-get install chromium)")
    work = tempfile.mkdtemp(prefix="alexnet-lab-browser-")
    env = dict(os.environ)
    for var in ("JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR"):
        env[var] = os.path.join(work, var.lower())
        os.makedirs(env[var])
    # Every cell rendered, not only those in view (JupyterLab 4 windows long notebooks).
    settings = os.path.join(work, "settings", "@jupyterlab", "notebook-extension")
    os.makedirs(settings)
    json.dump({"windowingMode": "none"}, open(os.path.join(settings, "tracker.jupyterlab-settings"), "w"))
    for p in paths:
        shutil.copy(p, work)  # a fresh copy, as a clone has it
    port = free_port()
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen(
        [jupyter, "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.token=",
         "--ServerApp.password=", f"--ServerApp.root_dir={work}",
         f"--LabApp.user_settings_dir={os.path.join(work, 'settings')}"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    failed = []
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2)
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    sys.exit(f"browser_check: JupyterLab did not start (log: {log.name})")
                time.sleep(1)
        # One fresh workspace per notebook: JupyterLab restores the tabs of a workspace, which
        # would put one notebook's outputs into the next one's page.
        for i, p in enumerate(paths):
            name = os.path.basename(p)
            expected = plots(p)
            cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,3000",
                   "--virtual-time-budget=30000", "--dump-dom", f"http://127.0.0.1:{port}/lab/workspaces/check-{i}/tree/{name}?reset"]
            dom = subprocess.run(cmd, capture_output=True, text=True, timeout=180).stdout
            got = rendered_images(dom)
            cells = dom.count("jp-Cell ")
            status = "ok" if got == expected and expected > 0 else "FAIL"
            print(f"{status:4} {name}: {got} of {expected} plots rendered as images ({cells} cells in the page)")
            open(os.path.join(work, name + ".dom.html"), "w").write(dom)
            if status != "ok":
                failed.append(name)
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except ProcessLookupError:
            pass  # already gone
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    if failed:
        sys.exit(f"browser_check: plots missing in {', '.join(failed)} (pages saved in {work})")
    if not os.environ.get("BROWSER_CHECK_KEEP"):
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:] or [os.path.join(ROOT, "notebooks", "05_training.ipynb")])
