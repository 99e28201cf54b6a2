// Offline search over the index annals writes to search/ (see src/search.rs).
// Index files are scripts that call annalsSearch(name, data), loaded by
// <script> tags on demand: a query loads the manifest, one shard per word
// and the documents shown; no server, no third party, and it works from
// file:// too. Results are built with textContent only.
(function () {
  "use strict";
  var script = document.currentScript;
  var root = script.src.replace(/search\.js(\?.*)?$/, "search/");
  var loaded = {};
  var waiting = {};

  window.annalsSearch = function (name, data) {
    loaded[name] = data;
    (waiting[name] || []).forEach(function (resolve) { resolve(data); });
    delete waiting[name];
  };

  // One index file, once; null when it does not exist (a word no page has).
  function load(name) {
    if (name in loaded) return Promise.resolve(loaded[name]);
    return new Promise(function (resolve) {
      if (waiting[name]) { waiting[name].push(resolve); return; }
      waiting[name] = [resolve];
      var tag = document.createElement("script");
      tag.src = root + name + ".js";
      tag.async = true;
      tag.onerror = function () { window.annalsSearch(name, null); };
      document.head.appendChild(tag);
    });
  }

  // As src/search.rs: lowercase runs of letters and digits.
  function tokens(text) {
    return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  }

  function fileKey(key) {
    if (/^[a-z0-9]+$/.test(key)) return key;
    var hex = "_";
    new TextEncoder().encode(key).forEach(function (b) { hex += (b < 16 ? "0" : "") + b.toString(16); });
    return hex;
  }

  // Documents matching every word (by prefix from three letters on), with
  // scores: weight times rarity, exact words counting double.
  function match(words, meta) {
    var keyChars = meta.key_chars;
    return Promise.all(words.map(function (word) {
      var key = Array.from(word).slice(0, keyChars).join("");
      return load("t/" + fileKey(key)).then(function (shard) {
        var scores = new Map();
        if (!shard) return scores;
        var prefix = Array.from(word).length >= keyChars;
        Object.keys(shard).forEach(function (term) {
          if (term !== word && !(prefix && term.indexOf(word) === 0)) return;
          var postings = shard[term];
          var rarity = Math.log(1 + meta.documents / (postings.length / 2));
          var boost = term === word ? 2 : 1;
          for (var i = 0, doc = 0; i < postings.length; i += 2) {
            doc += postings[i];
            scores.set(doc, Math.max(scores.get(doc) || 0, postings[i + 1] * rarity * boost));
          }
        });
        return scores;
      });
    })).then(function (perWord) {
      var total = perWord[0] || new Map();
      perWord.slice(1).forEach(function (scores) {
        total.forEach(function (score, doc) {
          if (scores.has(doc)) total.set(doc, score + scores.get(doc));
          else total.delete(doc);
        });
      });
      return total;
    });
  }

  // The documents allowed by the chosen filters: within a taxonomy any
  // chosen term, across taxonomies all of them. null: no filter chosen.
  function allowed(chosen, meta) {
    var names = Object.keys(chosen).filter(function (n) { return chosen[n].length; });
    if (!names.length) return Promise.resolve(null);
    return Promise.all(names.map(function (name) {
      return load(meta.filters[name].file).then(function (lists) {
        var set = new Set();
        chosen[name].forEach(function (term) {
          var doc = 0;
          ((lists || {})[term] || []).forEach(function (delta) { doc += delta; set.add(doc); });
        });
        return set;
      });
    })).then(function (sets) {
      return new Set(Array.from(sets[0]).filter(function (d) {
        return sets.every(function (s) { return s.has(d); });
      }));
    });
  }

  // A stretch of the text around the first word found, with each found
  // word marked; built as nodes, never as HTML.
  function snippet(text, words) {
    var lower = text.toLowerCase();
    var first = -1;
    words.forEach(function (w) {
      var at = lower.search(new RegExp("(^|[^\\p{L}\\p{N}])" + escapeRegExp(w), "u"));
      if (at >= 0 && (first < 0 || at < first)) first = at;
    });
    var start = Math.max(0, first - 60);
    var end = Math.min(text.length, Math.max(first, 0) + 180);
    if (start > 0) start = text.indexOf(" ", start) + 1;
    var piece = (start > 0 ? "…" : "") + text.slice(start, end) + (end < text.length ? "…" : "");
    var p = document.createElement("p");
    p.className = "search-snippet";
    var pattern = new RegExp("(" + words.map(escapeRegExp).join("|") + ")[\\p{L}\\p{N}]*", "giu");
    var last = 0;
    piece.replace(pattern, function (found, _w, at) {
      var before = at > 0 ? piece[at - 1] : "";
      if (before && /[\p{L}\p{N}]/u.test(before)) return found;
      p.appendChild(document.createTextNode(piece.slice(last, at)));
      var mark = document.createElement("mark");
      mark.textContent = found;
      p.appendChild(mark);
      last = at + found.length;
      return found;
    });
    p.appendChild(document.createTextNode(piece.slice(last)));
    return p;
  }

  function escapeRegExp(s) {
    return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  function setup(form) {
    var input = form.querySelector("input[type=search]");
    var status = document.getElementById("search-status");
    var list = document.getElementById("search-results");
    var more = document.getElementById("search-more");
    var filters = document.getElementById("search-filters");
    var shown = 0;
    var ranked = [];
    var words = [];
    var generation = 0;
    var chosen = {};
    var index = null;

    load("meta").then(function (meta) {
      if (!meta) { status.textContent = "The search index is missing."; return; }
      index = meta;
      buildFilters(meta);
      var params = new URLSearchParams(location.search);
      input.value = params.get("q") || "";
      run(meta);
      var timer;
      input.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(function () { run(meta); }, 120);
      });
      form.addEventListener("submit", function (e) { e.preventDefault(); run(meta); });
      filters.addEventListener("change", function () { readFilters(); run(meta); });
      more.addEventListener("click", function () { show(10, true); });
    });

    function buildFilters(meta) {
      Object.keys(meta.filters).forEach(function (name) {
        var box = document.createElement("fieldset");
        var legend = document.createElement("legend");
        legend.textContent = name.replace(/_/g, " ");
        box.appendChild(legend);
        var terms = meta.filters[name].terms;
        Object.keys(terms).forEach(function (term) {
          var label = document.createElement("label");
          var check = document.createElement("input");
          check.type = "checkbox";
          check.name = name;
          check.value = term;
          label.appendChild(check);
          label.appendChild(document.createTextNode(" " + term + " (" + terms[term] + ")"));
          box.appendChild(label);
        });
        filters.appendChild(box);
      });
    }

    function readFilters() {
      chosen = {};
      filters.querySelectorAll("input:checked").forEach(function (c) {
        (chosen[c.name] = chosen[c.name] || []).push(c.value);
      });
    }

    function run(meta) {
      var mine = ++generation;
      words = tokens(input.value);
      var url = new URL(location.href);
      if (input.value) url.searchParams.set("q", input.value); else url.searchParams.delete("q");
      try { history.replaceState(null, "", url); } catch (e) { /* file:// may refuse */ }
      var any = Object.keys(chosen).some(function (n) { return chosen[n].length; });
      if (!words.length && !any) {
        list.textContent = "";
        status.textContent = "";
        more.hidden = true;
        return;
      }
      var everything = new Map();
      if (!words.length) for (var d = 0; d < meta.documents; d++) everything.set(d, 0);
      Promise.all([words.length ? match(words, meta) : Promise.resolve(everything), allowed(chosen, meta)])
        .then(function (r) {
          if (mine !== generation) return;
          var scores = r[0];
          var filter = r[1];
          ranked = Array.from(scores.keys())
            .filter(function (d) { return !filter || filter.has(d); })
            .sort(function (a, b) { return scores.get(b) - scores.get(a) || a - b; });
          status.textContent = ranked.length === 1 ? "1 result" : ranked.length + " results";
          list.textContent = "";
          shown = 0;
          show(10, false);
        });
    }

    function show(count, focus) {
      var batch = ranked.slice(shown, shown + count);
      var mine = generation;
      var first = null;
      var items = batch.map(function (doc) {
        var li = document.createElement("li");
        list.appendChild(li);
        return load("d/" + Math.floor(doc / index.chunk)).then(function (chunk) {
          var d = chunk && chunk[doc % index.chunk];
          if (mine !== generation || !d) return;
          var a = document.createElement("a");
          a.href = d.url;
          a.textContent = d.title;
          var h = document.createElement("h2");
          h.appendChild(a);
          li.appendChild(h);
          var where = [d.collection, d.year].filter(function (x) { return x !== null && x !== undefined; });
          if (where.length) {
            var p = document.createElement("p");
            p.className = "search-meta";
            p.textContent = where.join(" · ");
            li.appendChild(p);
          }
          li.appendChild(snippet(d.text, words));
          if (!first) first = a;
        });
      });
      shown += batch.length;
      more.hidden = shown >= ranked.length;
      if (focus) Promise.all(items).then(function () { if (first) first.focus(); });
    }

    // Arrow keys move between the box and the results; Escape goes back.
    form.parentNode.addEventListener("keydown", function (e) {
      var links = Array.from(list.querySelectorAll("h2 a"));
      var at = links.indexOf(document.activeElement);
      if (e.key === "ArrowDown" && (document.activeElement === input || at >= 0)) {
        if (links[at + 1]) { links[at + 1].focus(); e.preventDefault(); }
      } else if (e.key === "ArrowUp" && at >= 0) {
        (at > 0 ? links[at - 1] : input).focus();
        e.preventDefault();
      } else if (e.key === "Escape" && at >= 0) {
        input.focus();
      }
    });
  }

  var form = document.getElementById("search-form");
  if (form) setup(form);
})();
