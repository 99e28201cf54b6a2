/* annals live reload */
(() => {
  "use strict";
  // Browsers allow six connections per host. One event stream per page would
  // stall the seventh tab, and pages kept in the back/forward cache would keep
  // theirs: so one tab (holding a Web Lock) keeps the only stream and relays
  // its events to the others over a BroadcastChannel, and a page lets go of
  // everything when it is hidden, taking it up again when it is shown. Each
  // page that loads takes the lock over (`steal`), so that a lock granted to a
  // page just as it went into the back/forward cache cannot hold it for ever;
  // the page it took the lock from waits for its turn again.
  const EVENTS = "/__annals/events";
  const NAME = "annals-live-reload";
  let source = null;
  let channel = null;
  let abort = null;
  let release = null;
  // Bumped when the page is hidden: a lock granted to an older generation is handed back.
  let generation = 0;
  // Held by the tab with the stream: the errors on show, for tabs opened later.
  let errors = null;
  // The errors this page has shown (or been told of), so that a replay of them
  // (a new stream or tab) does not bring back an overlay the reader closed.
  let seen = null;

  const receive = ({ type, data, replay }) => {
    if (type === "errors") {
      if (replay && data === seen) return;
      seen = data;
      showErrors(data);
      return;
    }
    seen = null;
    if (type === "reload") {
      location.reload();
    } else if (type === "css") {
      hideErrors();
      for (const link of document.querySelectorAll('link[rel="stylesheet"]')) {
        const url = new URL(link.href);
        url.searchParams.set("annals", Date.now());
        link.href = url.href;
      }
    }
  };

  // `onEvent(type, data, first)`: `first` for the first event of the stream
  // (the server starts a stream with the errors of a failed build, if any).
  const listen = (onEvent) => {
    source = new EventSource(EVENTS);
    let first = true;
    for (const type of ["reload", "css", "errors"]) {
      source.addEventListener(type, (e) => {
        onEvent(type, e.data, first);
        first = false;
      });
    }
  };

  const closeSource = () => {
    source?.close();
    source = null;
  };

  const start = () => {
    const gen = ++generation;
    if (!("locks" in navigator) || typeof BroadcastChannel !== "function") {
      // Not a secure context (e.g. --bind 0.0.0.0 seen from another machine): a stream per page.
      listen((type, data, first) => receive({ type, data, replay: first }));
      return;
    }
    channel = new BroadcastChannel(NAME);
    channel.onmessage = ({ data: m }) => {
      if (m.type === "hello") {
        if (source && errors !== null) channel.postMessage({ type: "errors", data: errors, replay: true });
      } else {
        receive(m);
      }
    };
    const lead = (steal) => {
      abort = steal ? null : new AbortController();
      navigator.locks
        .request(NAME, steal ? { steal: true } : { signal: abort.signal }, () => {
          if (gen !== generation) return undefined;
          return new Promise((resolve) => {
            release = resolve;
            listen((type, data, first) => {
              const m = { type, data, replay: first && type === "errors" };
              errors = type === "errors" ? data : null;
              channel?.postMessage(m);
              receive(m);
            });
          });
        })
        .catch(() => {
          // Taken over by a newer page (or given up when hidden): wait for a turn.
          if (gen !== generation) return;
          closeSource();
          release = null;
          lead(false);
        });
    };
    lead(true);
    channel.postMessage({ type: "hello" });
  };

  const stop = () => {
    generation += 1;
    closeSource();
    release?.();
    release = null;
    abort?.abort();
    abort = null;
    channel?.close();
    channel = null;
  };

  addEventListener("pagehide", stop);
  addEventListener("pageshow", (e) => {
    if (e.persisted) start();
  });

  // The error overlay: a modal dialog in its own shadow root, so that the
  // site's styles neither break it nor are broken by it. Escape or the close
  // button dismisses it; the next failed rebuild shows it again.
  const STYLE = `
    dialog { box-sizing: border-box; width: min(60rem, calc(100vw - 2rem)); max-height: calc(100vh - 2rem); padding: 0;
      border: 0; border-radius: 8px; background: #1e1e24; color: #f2f2f2; box-shadow: 0 12px 40px rgba(0,0,0,.5);
      font: 14px/1.5 system-ui, sans-serif; }
    dialog::backdrop { background: rgba(20, 0, 0, .6); }
    header { position: sticky; top: 0; display: flex; gap: 1rem; align-items: start; justify-content: space-between;
      padding: 1rem 1.25rem .75rem; background: #3a1114; border-bottom: 1px solid #5c1f24; }
    h2 { margin: 0; font-size: 1.15rem; color: #fff; }
    header p { margin: .2rem 0 0; color: #f3c4c4; }
    button { font: inherit; color: #fff; background: #5c1f24; border: 1px solid #e08a8a; border-radius: 4px; padding: .2rem .7rem; cursor: pointer; }
    button:focus-visible { outline: 3px solid #ffb86b; outline-offset: 2px; }
    ol { list-style: none; margin: 0; padding: .75rem 1.25rem 1.25rem; }
    li { margin: 0 0 .75rem; padding: .6rem .8rem; background: #2a2a32; border-left: 4px solid #ff6b6b; border-radius: 4px; }
    .where { font-family: ui-monospace, monospace; color: #ffb4b4; overflow-wrap: anywhere; }
    .message { margin: .2rem 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
    pre { margin: .4rem 0 0; font: 13px/1.45 ui-monospace, monospace; color: #d0d0d8; white-space: pre; overflow-x: auto; }
  `;

  // The report's lines: `path:line:col: error: message`, then an optional
  // snippet and `help:` line, and a closing count.
  const parse = (text) => {
    const blocks = [];
    let count = "";
    for (const line of text.split("\n")) {
      const head = /^(\S.*?): error: (.*)$/.exec(line);
      if (head) {
        blocks.push({ where: head[1], message: head[2], rest: [] });
      } else if (/^\d+ errors?$/.test(line.trim())) {
        count = line.trim();
      } else if (line.trim() && blocks.length) {
        blocks[blocks.length - 1].rest.push(line);
      } else if (line.trim()) {
        blocks.push({ where: "", message: line, rest: [] });
      }
    }
    return { blocks, count };
  };

  const hideErrors = () => {
    document.getElementById("annals-errors")?.remove();
  };

  const el = (tag, props = {}, ...children) => {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  };

  const showErrors = (text) => {
    hideErrors();
    const { blocks, count } = parse(text);
    const host = el("div", { id: "annals-errors" });
    const root = host.attachShadow({ mode: "open" });
    const close = el("button", { type: "button", textContent: "Close" });
    const list = el("ol");
    for (const b of blocks) {
      const item = el("li");
      if (b.where) item.append(el("div", { className: "where", textContent: b.where }));
      item.append(el("p", { className: "message", textContent: b.message }));
      if (b.rest.length) item.append(el("pre", { textContent: b.rest.join("\n") }));
      list.append(item);
    }
    const title = `The last change did not build${count ? `: ${count}` : ""}`;
    const dialog = el(
      "dialog",
      { className: "annals-errors" },
      el(
        "header",
        {},
        el("div", {}, el("h2", { id: "title", textContent: title }),
          el("p", { textContent: "The preview still shows the last good build. Fix these and save; it reloads on its own." })),
        close,
      ),
      list,
    );
    dialog.setAttribute("aria-labelledby", "title");
    close.addEventListener("click", hideErrors);
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault(); // Escape: gone at once, not after the close event
      hideErrors();
    });
    dialog.addEventListener("close", hideErrors);
    root.append(el("style", { textContent: STYLE }), dialog);
    document.body.append(host);
    dialog.showModal(); // Escape closes it
  };

  start();
})();
