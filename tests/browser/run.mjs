// The browser tests: Debian's Chromium, driven by puppeteer-core, over the
// shipped site as `annals build` makes it and over the live preview of
// `annals serve`. Run by .ci/run after `cargo test`; see README, "Browser tests".
//
//   node tests/browser/run.mjs [--only static|preview]
//
// Environment: CHROMIUM (default /usr/bin/chromium), ANNALS (default
// target/release/annals), ARTIFACTS (default target/browser-artifacts).
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, extname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import puppeteer from "puppeteer-core";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const started = Date.now();
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : null;

const chromium = process.env.CHROMIUM || ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
if (!chromium || !existsSync(chromium)) {
  if (process.env.CI === "true") {
    console.error("browser tests: no Chromium found (install Debian's `chromium`); failing on CI");
    console.log("0 passed, 1 failed");
    process.exit(1);
  }
  console.log("browser tests: SKIPPED: no Chromium at /usr/bin/chromium (apt-get install chromium, or set CHROMIUM)");
  process.exit(0);
}
const annals = resolve(repo, process.env.ANNALS || "target/release/annals");
if (!existsSync(annals)) {
  console.error(`browser tests: no annals binary at ${annals} (cargo build --release)`);
  process.exit(1);
}
const artifacts = resolve(repo, process.env.ARTIFACTS || "target/browser-artifacts");
rmSync(artifacts, { recursive: true, force: true });
mkdirSync(artifacts, { recursive: true });
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

let passed = 0;
let failed = 0;
const failures = [];
const check = (name, ok, detail = "") => {
  if (ok) {
    passed += 1;
  } else {
    failed += 1;
    failures.push(`${name}${detail ? `: ${detail}` : ""}`);
    console.log(`FAIL ${name}${detail ? `\n  ${detail.replaceAll("\n", "\n  ")}` : ""}`);
  }
};
const withTimeout = (promise, ms, what) =>
  Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms))]);

const work = mkdtempSync(join(tmpdir(), "annals-browser-"));
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  protocolTimeout: 30000, // a stalled page fails its check instead of hanging the run
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions"],
});

try {
  if (only !== "preview") await staticSite();
  if (only !== "static") await preview();
} catch (e) {
  check("harness", false, e.stack || String(e));
} finally {
  await browser.close().catch(() => {});
  rmSync(work, { recursive: true, force: true });
}

const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`browser tests: screenshots in ${artifacts}; ${seconds} s`);
if (failures.length) console.log(`failures:\n- ${failures.join("\n- ")}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

// ---------------------------------------------------------------------------
// The built site: every page type, 390 and 1280 px, light and dark.

async function staticSite() {
  const out = join(work, "public");
  const build = spawnSync(annals, ["build", "--root", repo, "-o", out], { encoding: "utf8" });
  check("annals build", build.status === 0, build.stderr);
  if (build.status !== 0) return;
  const { server, origin } = await serveFolder(out);
  try {
    const first = (folder) => {
      const dir = join(out, folder);
      const names = existsSync(dir) ? readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory()).sort() : [];
      return names.length ? `/${folder}/${names[0]}/` : null;
    };
    const pages = [
      ["home", "/"],
      ["section", "/studies/"],
      ["era", first("eras")],
      ["study", existsSync(join(out, "studies/zarate-2006")) ? "/studies/zarate-2006/" : first("studies")],
      ["evidence", "/evidence/"],
      ["references", "/references/"],
      ["about", "/about/"],
      ["taxonomy", "/drug/"],
      ["term", first("drug")],
      ["404", "/no-such-page/"],
    ];
    if (existsSync(join(out, "search/index.html"))) pages.push(["search", "/search/"]);
    for (const [kind, path] of pages) {
      check(`${kind} page exists`, Boolean(path));
    }
    noRepeats(out);
    const page = await browser.newPage();
    const problems = watch(page, origin);
    for (const [kind, path] of pages.filter(([, p]) => p)) {
      problems.expected404 = kind === "404" ? origin + path : null;
      for (const width of [390, 1280]) {
        for (const scheme of ["light", "dark"]) {
          const name = `${kind} ${width}px ${scheme}`;
          problems.length = 0;
          await page.setViewport({ width, height: 900 });
          await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: scheme }]);
          const response = await page.goto(origin + path, { waitUntil: "load" });
          check(`${name}: status`, response.status() === (kind === "404" ? 404 : 200), `got ${response.status()}`);
          await page.addScriptTag({ content: axeSource });
          const result = await page.evaluate(() =>
            // eslint-disable-next-line no-undef
            axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] } }),
          );
          check(`${name}: axe`, result.violations.length === 0, result.violations
            .map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("\n    ")}`)
            .join("\n"));
          const overflow = await page.evaluate(() => {
            const w = document.documentElement.clientWidth;
            if (document.documentElement.scrollWidth <= w) return null;
            const wide = [...document.querySelectorAll("body *")].find((e) => e.getBoundingClientRect().right > w + 1 && !e.closest(".chart-scroll, .table-scroll"));
            return `${document.documentElement.scrollWidth} > ${w}${wide ? ` (${wide.tagName.toLowerCase()}.${wide.className})` : ""}`;
          });
          check(`${name}: no horizontal overflow`, overflow === null, overflow ?? "");
          check(`${name}: no console errors or requests to other hosts`, problems.length === 0, problems.join("\n"));
          await page.screenshot({ path: join(artifacts, `${kind}-${width}-${scheme}.png`), fullPage: true });
        }
      }
    }
    for (const path of ["/", "/evidence/", pages.find(([k]) => k === "study")[1]]) {
      await page.setViewport({ width: 320, height: 800 });
      await page.goto(origin + path, { waitUntil: "load" });
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      check(`${path} at 320px: no horizontal overflow`, wide <= 0, `${wide} px too wide`);
    }
    await interactions(page, origin);
    await searching(page, origin, out);
    await page.close();
  } finally {
    server.close();
  }
}

// On every entry page, each related page is listed once: across its lists
// (related, an era's studies, references, cited or linked by), no link twice.
function noRepeats(out) {
  const repeats = [];
  let pages = 0;
  for (const folder of ["studies", "eras"]) {
    if (!existsSync(join(out, folder))) continue;
    for (const name of readdirSync(join(out, folder))) {
      const file = join(out, folder, name, "index.html");
      if (!existsSync(file)) continue;
      pages += 1;
      const html = readFileSync(file, "utf8");
      const lists = html.match(/<section class="(related|era-studies|referenced-by|references|backlinks)">[\s\S]*?<\/section>/g) ?? [];
      const hrefs = lists.flatMap((l) => [...l.matchAll(/<li><a href="([^"]+)"/g)].map((m) => m[1]));
      const twice = hrefs.filter((h, i) => hrefs.indexOf(h) !== i);
      if (twice.length) repeats.push(`/${folder}/${name}/: ${[...new Set(twice)].join(", ")}`);
    }
  }
  check(`each related page once on all ${pages} entry pages`, pages > 0 && repeats.length === 0, repeats.join("\n"));
}

// Keyboard, the evidence table's enhancements, and print.
// Search, as a reader uses it: from the header's box, with a filter, by
// keyboard, and from the folder opened as files (file://), with no server.
async function searching(page, origin, out) {
  await page.setViewport({ width: 1280, height: 900 });
  const titles = () => page.$$eval("#search-results a", (as) => as.map((a) => a.textContent));
  const results = async (what) => {
    try {
      await page.waitForSelector("#search-results a", { timeout: 5000 });
      return await titles();
    } catch {
      check(`search: results for ${what}`, false, "none within 5 s");
      return [];
    }
  };
  await page.goto(origin + "/", { waitUntil: "load" });
  await page.type("#site-search-q", "zarate");
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.keyboard.press("Enter")]);
  await results("an author");
  const hrefs = await page.$$eval("#search-results a", (as) => as.map((a) => a.getAttribute("href")));
  check("search: the header's box finds a study by its author", hrefs.some((h) => /zarate-2006/.test(h)), hrefs.join(" "));
  const snippet = await page.$eval("#search-results", (l) => l.querySelector("mark")?.textContent || "");
  check("search: a result's snippet marks the match", /zarate/i.test(snippet), snippet);
  await page.goto(origin + "/search/?q=mindfulness", { waitUntil: "load" });
  const byWord = await results("a word of the text");
  check("search: a word of a page's text finds it", byWord.length > 0, byWord.join(" | "));
  await page.focus("#search-input");
  await page.keyboard.press("ArrowDown");
  const focused = await page.evaluate(() => document.activeElement?.closest("#search-results") !== null);
  check("search: the arrow key moves from the box to the results", focused);
  // A folder built with its own absolute path as base_url opens from disk.
  const disk = join(work, "on-disk");
  const build = spawnSync(annals, ["build", "--root", repo, "-o", disk, "--base-url", `${disk}/`], { encoding: "utf8" });
  check("annals build for file://", build.status === 0, build.stderr);
  const local = await browser.newPage();
  await local.goto(`file://${join(disk, "search/index.html")}?q=esketamine`, { waitUntil: "load" });
  let offline = [];
  try {
    await local.waitForSelector("#search-results a", { timeout: 5000 });
    offline = await local.$$eval("#search-results a", (as) => as.map((a) => a.textContent));
  } catch {}
  check("search: works from file:// with no server", offline.length > 0, "no results");
  await local.close();
}

async function interactions(page, origin) {
  // Printed on A4 (210 mm less 12 mm margins each side = 186 mm = 703 px):
  // no navigation, and the evidence table with every column on the page.
  await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
  await page.setViewport({ width: 703, height: 1000 });
  await page.emulateMediaType("print");
  await page.goto(`${origin}/evidence/`, { waitUntil: "load" });
  const printed = await page.evaluate(() => ({
    nav: getComputedStyle(document.querySelector(".site-header")).display,
    table: document.querySelector("#evidence-table").getBoundingClientRect().right,
    cells: [...document.querySelectorAll("#evidence-table tr:first-child > *")].every((c) => c.getBoundingClientRect().width > 20),
    header: getComputedStyle(document.querySelector("#evidence-table thead")).display,
  }));
  check("print: no navigation", printed.nav === "none", printed.nav);
  check("print: the evidence table fits A4 with every column shown", printed.table <= 705 && printed.cells && printed.header === "table-header-group", JSON.stringify(printed));
  await page.pdf({ path: join(artifacts, "evidence-print-a4.pdf"), format: "A4" });
  await page.emulateMediaType("screen");

  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(`${origin}/studies/`, { waitUntil: "load" });
  await page.keyboard.press("Tab");
  const first = await page.evaluate(() => document.activeElement.className);
  check("the skip link is the first thing Tab reaches", first === "skip-link", `got .${first}`);
  const ring = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  check("the focused link shows a focus outline", ring !== "none", ring);
  await page.keyboard.press("Enter");
  const target = await page.evaluate(() => document.activeElement.id || location.hash);
  check("the skip link moves to the main content", target === "main" || target === "#main", target);

  await page.goto(`${origin}/evidence/`, { waitUntil: "load" });
  const rows = () => page.$$eval("#evidence-table tbody tr:not([hidden])", (r) => r.length);
  const total = await rows();
  check("the evidence table has rows", total > 0);
  const buttons = await page.$$("#evidence-table thead th button");
  check("every evidence column is sortable", buttons.length > 0 && buttons.length === (await page.$$("#evidence-table thead th")).length);
  const participants = await page.$$eval("#evidence-table thead th", (ths) => ths.findIndex((t) => /participants/i.test(t.textContent)));
  if (participants >= 0) {
    await buttons[participants].click();
    await buttons[participants].click(); // descending
    const numbers = await page.$$eval(`#evidence-table tbody tr td:nth-child(${participants + 1}), #evidence-table tbody tr th:nth-child(${participants + 1})`,
      (cells) => cells.map((c) => Number(c.textContent.trim())).filter((n) => !Number.isNaN(n) && n > 0));
    const sorted = [...numbers].sort((a, b) => b - a);
    check("sorting by participants (descending) orders the rows", numbers.length > 1 && numbers.join() === sorted.join(), numbers.join());
  }
  const select = await page.$("select[data-filter]");
  check("the evidence table has filters", Boolean(select));
  if (select) {
    const value = await page.$eval("select[data-filter]", (s) => s.options[1].value);
    await page.select("select[data-filter]", value);
    const shown = await rows();
    check("filtering by a term hides the other rows", shown > 0 && shown < total, `${shown} of ${total}`);
    const status = await page.$eval(".table-status", (s) => s.textContent);
    check("the filter says how many rows it shows", status.includes(String(shown)), status);
  }
}

// ---------------------------------------------------------------------------
// The live preview: `annals serve --port 0` on a copy of the site.

async function preview() {
  const site = join(work, "site");
  for (const name of ["site.yaml", "content", "themes", "templates", "static"]) {
    if (existsSync(join(repo, name))) cpSync(join(repo, name), join(site, name), { recursive: true });
  }
  const serve = spawn(annals, ["serve", "--root", site, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  serve.stderr.on("data", (d) => { log += d; });
  try {
    const origin = await withTimeout(new Promise((ok, fail) => {
      let text = "";
      serve.stdout.on("data", (d) => {
        text += d;
        const m = /Serving at (http:\/\/[^\s/]+)\//.exec(text);
        if (m) ok(m[1]);
      });
      serve.on("exit", (code) => fail(new Error(`annals serve exited (${code}): ${log}`)));
    }), 20000, "annals serve to start");
    await previewChecks(site, origin);
  } finally {
    serve.kill("SIGINT");
  }
}

async function previewChecks(site, origin) {
  const context = await browser.createBrowserContext();
  try {
    // 20 navigations by clicking links, in one tab (pages pile up in the
    // back/forward cache): each must load.
    const tab = await context.newPage();
    const problems = watch(tab, origin);
    await tab.goto(`${origin}/`, { waitUntil: "load" });
    const clicks = ['.site-nav a[href$="/studies/"]', ".entry-list a"];
    for (let i = 0; i < 18; i += 1) clicks.push(".prevnext a.next");
    let loaded = 0;
    for (const selector of clicks) {
      try {
        await withTimeout(Promise.all([tab.waitForNavigation({ waitUntil: "load" }), tab.click(selector)]), 10000, `click ${selector}`);
        loaded += 1;
      } catch (e) {
        check(`navigation ${loaded + 1} (${selector}) loads`, false, e.message);
        break;
      }
    }
    check("20 navigations by clicking all load", loaded === 20, `${loaded} loaded`);
    check("the preview logs no console errors while navigating", problems.length === 0, problems.join("\n"));

    // 10 tabs, all open at once: each must load.
    const urls = ["/", "/eras/", "/studies/", "/evidence/", "/references/", "/about/", "/drug/", "/design/", "/route/", "/indications/"];
    const tabs = [tab];
    for (const url of urls) {
      const t = await context.newPage();
      try {
        await withTimeout(t.goto(origin + url, { waitUntil: "load" }), 10000, `tab ${url}`);
        tabs.push(t);
      } catch (e) {
        check(`tab ${url} loads`, false, e.message);
      }
    }
    check("10 more tabs all load", tabs.length === urls.length + 1, `${tabs.length - 1} loaded`);
    // Give every tab's script a moment to settle which one holds the stream.
    await Promise.all(tabs.map((t) => t.evaluate(() => new Promise((r) => setTimeout(r, 100)))));

    // A save reloads every open tab.
    const about = join(site, "content/about.md");
    const original = readFileSync(about, "utf8");
    const reloads = tabs.map((t) => withTimeout(t.waitForNavigation({ waitUntil: "load" }), 15000, `reload of ${t.url()}`).then(() => true, () => false));
    writeFileSync(about, `${original}\nSaved by the browser test.\n`);
    const results = await Promise.all(reloads);
    const reloaded = results.filter(Boolean).length;
    if (reloaded !== tabs.length) {
      for (const [i, t] of tabs.entries()) {
        const q = await withTimeout(t.evaluate(() => navigator.locks.query().then((q) => JSON.stringify({ held: q.held.length, pending: q.pending.length }))), 3000, "lock query").catch((e) => e.message);
        console.log(`tab ${i} ${t.url()} reloaded=${results[i]} locks=${q}`);
      }
    }
    check("a save reloads every open tab", reloaded === tabs.length, `${reloaded} of ${tabs.length} reloaded`);

    // A broken save shows the overlay in every tab; it closes with its button
    // or Escape; the next broken save shows it again; the fix removes it.
    const overlay = (t) => t.waitForFunction(() => {
      const host = document.getElementById("annals-errors");
      return host?.shadowRoot?.querySelector("dialog[open]") ? true : false;
    }, { timeout: 15000, polling: 100 }).then(() => true, () => false);
    const shows = tabs.map(overlay);
    writeFileSync(about, `${original}\nSee [@no-such-study] and [missing](@/no-such-page.md).\n`);
    const shown = (await Promise.all(shows)).filter(Boolean).length;
    check("a broken save shows the error overlay in every tab", shown === tabs.length, `${shown} of ${tabs.length}`);
    const t0 = tabs[0];
    const parts = await t0.evaluate(() => {
      const root = document.getElementById("annals-errors")?.shadowRoot;
      return root ? { title: root.querySelector("h2")?.textContent ?? "", blocks: root.querySelectorAll("li").length, close: Boolean(root.querySelector("button")) } : null;
    });
    check("the overlay has a title, a block per error and a close button",
      parts && /did not build/.test(parts.title) && parts.blocks >= 2 && parts.close, JSON.stringify(parts));
    await t0.screenshot({ path: join(artifacts, "preview-error-overlay.png") });
    const closed = (t) => t.waitForFunction(() => !document.getElementById("annals-errors"), { timeout: 3000, polling: 100 }).then(() => true, () => false);
    await t0.evaluate(() => document.getElementById("annals-errors").shadowRoot.querySelector("button").click());
    check("the close button closes the overlay", await closed(t0));
    const t1 = tabs[1];
    await t1.bringToFront();
    await t1.keyboard.press("Escape");
    check("Escape closes the overlay", await closed(t1));
    const again = [t0, t1].map(overlay);
    writeFileSync(about, `${original}\nSee [@no-such-study-either].\n`);
    const returned = await Promise.all(again);
    if (!returned.every(Boolean)) {
      for (const [i, t] of tabs.entries()) {
        const st = await t.evaluate(() => document.getElementById("annals-errors")?.shadowRoot?.textContent.slice(0, 300) ?? "none");
        console.log(`tab ${i}: ${st}`);
      }
    }
    check("the overlay returns on the next failed rebuild", returned.every(Boolean), returned.join());
    const fixed = tabs.map((t) => withTimeout(t.waitForNavigation({ waitUntil: "load" }), 15000, "reload").then(() => true, () => false));
    writeFileSync(about, original);
    const back = (await Promise.all(fixed)).filter(Boolean).length;
    const gone = (await Promise.all(tabs.map((t) => t.evaluate(() => !document.getElementById("annals-errors"))))).filter(Boolean).length;
    check("the fix reloads every tab, without the overlay", back === tabs.length && gone === tabs.length, `${back} reloaded, ${gone} clear`);
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------------------

// Records console errors, uncaught exceptions and requests to any other host.
function watch(page, origin) {
  const problems = [];
  const host = new URL(origin).host;
  page.on("console", (m) => {
    // The 404 page's own status is expected; nothing else may fail.
    if (m.type() === "error" && !(problems.expected404 && m.location()?.url === problems.expected404)) {
      problems.push(`console error: ${m.text()} (${m.location()?.url ?? ""})`);
    }
  });
  page.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
  page.on("request", (r) => {
    const url = new URL(r.url());
    if (["data:", "blob:", "about:"].includes(url.protocol)) return;
    if (url.host !== host) problems.push(`request to another host: ${r.url()}`);
  });
  return problems;
}

// A static file server over `folder`, as any static host would serve it,
// with the site's 404.html for what is missing.
function serveFolder(folder) {
  const types = { ".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json", ".xml": "application/xml", ".txt": "text/plain" };
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    let file = join(folder, path);
    if (!file.startsWith(folder)) file = folder + "/nope";
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
    if (existsSync(file)) {
      res.writeHead(200, { "Content-Type": types[extname(file)] || "application/octet-stream" });
      res.end(readFileSync(file));
    } else {
      res.writeHead(404, { "Content-Type": types[".html"] });
      res.end(existsSync(join(folder, "404.html")) ? readFileSync(join(folder, "404.html")) : "not found");
    }
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok({ server, origin: `http://127.0.0.1:${server.address().port}` })));
}
