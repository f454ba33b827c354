// The dashboard's small helpers (no inline scripts: the CSP forbids them).
document.addEventListener("click", (e) => {
  // <button data-confirm="…">: ask before a step that cannot be undone.
  const b = e.target.closest("[data-confirm]");
  if (b && !window.confirm(b.dataset.confirm)) e.preventDefault();
});

// Inbox: j / k move to the next / previous item's link, "/" goes to the search box (not while typing);
// the "select all" box shows only where this script runs.
const TYPING = new Set(["text", "search", "email", "number", "password", "date", "tel", "url"]);
function typing(el) {
  if (!el || !el.tagName) return false;
  if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
  return el.tagName === "INPUT" && TYPING.has((el.getAttribute("type") || "text").toLowerCase());
}
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented || typing(e.target)) return;
  if (e.key === "/") {
    const q = document.getElementById("q");
    if (q) { e.preventDefault(); q.focus(); q.select(); }
    return;
  }
  if (e.key !== "j" && e.key !== "k") return;
  const links = Array.from(document.querySelectorAll("#inbox-table tbody tr[data-code] a.code"));
  if (!links.length) return;
  e.preventDefault();
  const row = e.target.closest ? e.target.closest("#inbox-table tbody tr") : null;
  const at = row ? links.findIndex((a) => row.contains(a)) : -1;
  const next = e.key === "j" ? Math.min(at + 1, links.length - 1) : Math.max(at - 1, 0);
  links[next].focus();
});
document.addEventListener("change", (e) => {
  if (e.target.id !== "select-all") return;
  document.querySelectorAll('#inbox-table tbody input[name="code"]').forEach((box) => { box.checked = e.target.checked; });
});
function revealJsOnly() {
  document.querySelectorAll("[data-js-only][hidden]").forEach((el) => { el.hidden = false; });
}
document.addEventListener("DOMContentLoaded", revealJsOnly);
document.addEventListener("htmx:afterSettle", revealJsOnly);

document.addEventListener("change", (e) => {
  // Item page: <select data-template-for="textarea-id"> fills the textarea with the chosen answer template
  // (its text in the option's data-body), asking first when something is already written there.
  const s = e.target.closest("select[data-template-for]");
  if (!s) return;
  const option = s.selectedOptions[0];
  const area = document.getElementById(s.dataset.templateFor);
  if (!area || !option || option.dataset.body === undefined) return;
  if (area.value.trim() && area.value !== option.dataset.body && !window.confirm("Thay nội dung đang soạn bằng mẫu này?")) {
    s.value = "";
    return;
  }
  area.value = option.dataset.body;
  area.focus();
});
