#!/usr/bin/python3
"""The monitor dashboard at several window widths in headless Chromium
(selenium + chromedriver): no two visible pieces of text overlap, and a
screenshot of each width is saved.

    dashboard_layout.py URL OUTDIR WIDTH...

Exit 0 when no width shows overlapping text; otherwise prints each overlap
(the two texts and their boxes) and exits 1."""
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

# Boxes of every visible text run (a Range over each non-blank text node;
# one box per line it wraps to), cut by the ancestors that clip overflow,
# then every pair of runs from different text nodes that overlaps by more
# than a pixel in both directions.
OVERLAPS_JS = r"""
const runs = [];
const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walk.nextNode(), id = 0; n; n = walk.nextNode(), id++) {
  if (!n.textContent.trim()) continue;
  const el = n.parentElement, cs = getComputedStyle(el);
  if (cs.visibility === 'hidden' || cs.display === 'none') continue;
  const r = document.createRange(); r.selectNodeContents(n);
  for (const b of r.getClientRects()) {
    let x0 = b.left, y0 = b.top, x1 = b.right, y1 = b.bottom;
    for (let a = el; a && a !== document.body; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
      const c = a.getBoundingClientRect();
      x0 = Math.max(x0, c.left); y0 = Math.max(y0, c.top);
      x1 = Math.min(x1, c.right); y1 = Math.min(y1, c.bottom);
    }
    if (x1 - x0 > 1 && y1 - y0 > 1)
      runs.push({id, text: n.textContent.trim().slice(0, 40), x0, y0, x1, y1});
  }
}
const out = [];
for (let i = 0; i < runs.length; i++)
  for (let j = i + 1; j < runs.length; j++) {
    const a = runs[i], b = runs[j];
    if (a.id === b.id) continue;
    const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
    const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
    if (w > 1 && h > 1) out.push([a, b]);
  }
return {runs: runs.length, overlaps: out.slice(0, 20), count: out.length};
"""


def main():
    url, outdir, widths = sys.argv[1], sys.argv[2], [int(w) for w in sys.argv[3:]]
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--hide-scrollbars"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    bad = 0
    try:
        for w in widths:
            drv.set_window_size(w, 1000)
            drv.get(url)
            deadline = time.time() + 20
            while "monitor " not in drv.find_element("id", "updated").text:
                if time.time() > deadline:
                    raise SystemExit("the page never drew /status at %d px" % w)
                time.sleep(0.2)
            time.sleep(0.3)  # let the layout settle after the redraw
            vw = drv.execute_script("return document.documentElement.clientWidth")
            h = drv.execute_script("return document.documentElement.scrollHeight")
            drv.set_window_size(w, max(h + 150, 600))
            res = drv.execute_script(OVERLAPS_JS)
            drv.save_screenshot("%s/dashboard-%d.png" % (outdir, w))
            print("%d px (viewport %d): %d text runs, %d overlapping pairs"
                  % (w, vw, res["runs"], res["count"]))
            for a, b in res["overlaps"]:
                print("  overlap: %r (%.0f,%.0f-%.0f,%.0f) and %r (%.0f,%.0f-%.0f,%.0f)"
                      % (a["text"], a["x0"], a["y0"], a["x1"], a["y1"],
                         b["text"], b["x0"], b["y0"], b["x1"], b["y1"]))
            bad += res["count"]
    finally:
        drv.quit()
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
