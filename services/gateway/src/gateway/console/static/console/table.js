// Tables with a caption and an "Export CSV" button that writes exactly the rows shown.
import { t } from "./i18n.js";
import { horizon } from "./api.js";

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// A text starting with = + - @ (or a tab or carriage return before one) is a formula to a
// spreadsheet (CSV injection): titles and names come from anyone's imported releases, so such
// a text cell starts with ' (shown as text). Numbers are written as they are.
function csvCell(value) {
  let text = String(value ?? "");
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n;]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(columns, rows) {
  return [columns.map((c) => csvCell(c.label)).join(","), ...rows.map((r) => columns.map((c) => csvCell(c.csv ? c.csv(r) : r[c.key])).join(","))].join("\r\n") + "\r\n";
}

export function dataTable(name, caption, columns, rows) {
  const table = el("table", { "data-table": name },
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c.label)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, columns.map((c) => el("td", {}, c.render ? c.render(r) : r[c.key] ?? ""))))),
  );
  const button = el("button", {
    type: "button",
    "data-export": name,
    onclick: () => {
      const h = horizon();
      const stamp = [h.asOf && `asof-${h.asOf}`, h.knownAt && `knownat-${h.knownAt.slice(0, 19).replace(/:/g, "")}`].filter(Boolean).join("-");
      const blob = new Blob([toCsv(columns, rows)], { type: "text/csv;charset=utf-8" });
      const link = el("a", { href: URL.createObjectURL(blob), download: `${name}${stamp ? "-" + stamp : ""}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
    },
  }, `${t("exportCsv")}: ${caption}`);
  return el("div", {}, table, button);
}
