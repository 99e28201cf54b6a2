/* annals live reload */
(() => {
  const es = new EventSource("/__annals/events");
  es.addEventListener("reload", () => location.reload());
  es.addEventListener("css", () => {
    for (const l of document.querySelectorAll('link[rel="stylesheet"]')) {
      const u = new URL(l.href);
      u.searchParams.set("annals", Date.now());
      l.href = u.href;
    }
  });
  es.addEventListener("errors", (e) => {
    let o = document.getElementById("annals-errors");
    if (!o) {
      o = document.createElement("pre");
      o.id = "annals-errors";
      o.style.cssText = "position:fixed;inset:0;margin:0;padding:1.5rem;overflow:auto;background:rgba(30,0,0,.94);color:#fff;font:14px/1.5 ui-monospace,monospace;z-index:2147483647;white-space:pre-wrap";
      document.body.appendChild(o);
    }
    o.textContent = e.data;
  });
})();
