// The dashboard's small helpers (no inline scripts: the CSP forbids them).
document.addEventListener("click", (e) => {
  // <button data-confirm="…">: ask before a step that cannot be undone.
  const b = e.target.closest("[data-confirm]");
  if (b && !window.confirm(b.dataset.confirm)) e.preventDefault();
});
