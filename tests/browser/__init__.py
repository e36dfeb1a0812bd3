"""A real-browser test harness: JupyterLab on 127.0.0.1 driven by Debian's chromium.

Reusable pieces, each usable on its own:

- `server.start_jupyter(notebook_dir, log_path)` starts an isolated JupyterLab server (its
  own config, settings, workspaces, runtime and data dirs under a temporary folder; news
  pop-up, update check and autosave off; the venv's python as the kernel).
- `browser.launch_chromium(playwright)` launches /usr/bin/chromium headless with software
  WebGL; `browser.attach_log(page)` collects console messages, page errors and dialogs;
  `browser.screenshot(page, name)` saves a PNG under `test-artifacts/` in the repo root.
- `notebook.open_and_run_notebook(page, server, nb_path)` opens a notebook, runs
  "Restart Kernel and Run All Cells" from the Kernel menu, waits until every cell is done
  and returns what the browser and the cells reported.
- `assertions.painted_pixels(page, locator, ...)` counts coloured pixels of an element as
  actually shown on screen (so it works for any WebGL canvas, whatever its
  preserveDrawingBuffer); `assertions.assert_text_not_injected(page, locator, text)` is
  the pattern for untrusted text: the literal text is visible and none of its markup ran.
- `webgl` reads the number of points the page's WebGL drew.

No dependency beyond Playwright and the standard library.
"""
