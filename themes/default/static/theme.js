// annals default theme: progressive enhancement only. Without it every table
// is whole and every chart has its data as a table.
(() => {
  "use strict";

  // Sortable tables: each column heading becomes a button; sorting again reverses.
  const cellValue = (row, index) => {
    const cell = row.children[index];
    if (!cell) return "";
    return cell.dataset.sort ?? cell.textContent.trim();
  };
  for (const table of document.querySelectorAll("table[data-sortable]")) {
    const body = table.tBodies[0];
    const heads = [...table.tHead.rows[0].cells];
    table.classList.add("js-sortable");
    // Where the headings are hidden (a card per row on narrow screens), a
    // "Sort by" menu in the table's tools does the same.
    const tools = document.querySelector(`form.table-tools[data-table="${table.id}"]`);
    let menu = null;
    if (tools) {
      menu = document.createElement("select");
      menu.append(new Option("date", ""));
      heads.forEach((th, i) => {
        const name = th.textContent.trim();
        menu.append(new Option(`${name}, ascending`, `${i}:a`), new Option(`${name}, descending`, `${i}:d`));
      });
      const label = document.createElement("label");
      label.className = "sort";
      label.append("Sort by ", menu);
      tools.insertBefore(label, tools.querySelector(".table-status"));
      menu.addEventListener("change", () => {
        const [i, dir] = (menu.value || "0:a").split(":");
        sortBy(Number(i), dir === "a");
      });
    }
    const sortBy = (index, ascending) => {
      for (const h of heads) h.removeAttribute("aria-sort");
      heads[index].setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const rows = [...body.rows];
      const values = rows.map((r) => cellValue(r, index));
      const numeric = values.every((v) => v === "" || !Number.isNaN(Number(v)));
      const key = (v) => (v === "" ? null : numeric ? Number(v) : v.toLowerCase());
      const order = rows.map((row, i) => ({ row, k: key(values[i]), i }));
      order.sort((a, b) => {
        if (a.k === b.k) return a.i - b.i;
        if (a.k === null) return 1; // blank cells last, either way
        if (b.k === null) return -1;
        const c = numeric ? a.k - b.k : a.k.localeCompare(b.k);
        return ascending ? c : -c;
      });
      body.append(...order.map((o) => o.row));
      if (menu) menu.value = `${index}:${ascending ? "a" : "d"}`;
    };
    tools?.addEventListener("reset", () => setTimeout(() => sortBy(0, true)));
    heads.forEach((th, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.append(...th.childNodes);
      th.append(button);
      button.addEventListener("click", () => sortBy(index, th.getAttribute("aria-sort") !== "ascending"));
    });
  }

  // Filters: a form of <select data-filter="taxonomy"> over rows carrying
  // data-taxonomy="term|term".
  for (const form of document.querySelectorAll("form.table-tools[data-table]")) {
    const table = document.getElementById(form.dataset.table);
    if (!table) continue;
    const status = form.querySelector(".table-status");
    const selects = [...form.querySelectorAll("select[data-filter]")];
    const apply = () => {
      let shown = 0;
      const rows = [...table.tBodies[0].rows];
      for (const row of rows) {
        const ok = selects.every((s) => !s.value || (row.getAttribute(`data-${s.dataset.filter}`) ?? "").split("|").includes(s.value));
        row.hidden = !ok;
        if (ok) shown += 1;
      }
      status.textContent = shown === rows.length ? "" : `Showing ${shown} of ${rows.length} rows.`;
    };
    form.addEventListener("change", apply);
    form.addEventListener("reset", () => setTimeout(apply));
    form.addEventListener("submit", (e) => e.preventDefault());
    form.hidden = false;
    apply();
  }

  // Printing shows the data behind each chart.
  addEventListener("beforeprint", () => {
    for (const d of document.querySelectorAll("details.chart-data:not([open])")) {
      d.dataset.printOpened = "";
      d.open = true;
    }
  });
  addEventListener("afterprint", () => {
    for (const d of document.querySelectorAll("details[data-print-opened]")) {
      delete d.dataset.printOpened;
      d.open = false;
    }
  });
})();
