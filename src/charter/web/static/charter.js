/* Charter dashboard helpers. No inline scripts anywhere (CSP script-src 'self'): pages carry data in
   <script type="application/json"> blocks and this file turns them into charts; buttons use data attributes. */
(function () {
  "use strict";
  function init(root) {
    if (window.CharterCharts) { window.CharterCharts.render(root || document); }
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (ev) { init(ev.target); });
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest ? ev.target.closest("[data-copy]") : null;
    if (!btn) { return; }
    var source = document.querySelector(btn.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var label = btn.textContent;
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = label; }, 1500);
    });
  });
})();
