/* Charter dashboard helpers. No inline scripts anywhere (CSP script-src 'self'): pages carry data in
   <script type="application/json"> blocks and this file turns them into charts. */
(function () {
  "use strict";
  function init(root) {
    if (window.CharterCharts) { window.CharterCharts.render(root || document); }
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (ev) { init(ev.target); });
})();
