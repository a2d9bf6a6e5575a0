/* Charter charts: uPlot line charts from <script type="application/json" class="chart-data"> blocks.
   Data contract (built server-side by charter.web.views.monitoring):
   {"id": "...", "title": "...", "x": [unix seconds], "series": [{"label": "...", "values": [number|null]}],
    "thresholds": [{"label": "breach", "value": 0.25, "kind": "breach"|"warn"}],
    "breaches": [{"x": unix seconds, "y": number, "label": "..."}]}
   Thresholds are dashed horizontal lines; breaches are red markers on the series. */
(function () {
  "use strict";
  var PALETTE = ["#1f4e79", "#2f9e8f", "#7b5ea7", "#c06c2b", "#4a7fb5", "#8a6d3b"];
  var THRESHOLD = { warn: "#c98a1a", breach: "#b42318" };

  function seriesFor(spec) {
    var series = [{ label: "window" }];
    var data = [spec.x];
    spec.series.forEach(function (s, i) {
      series.push({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true,
        points: { show: true, size: 5 } });
      data.push(s.values);
    });
    (spec.thresholds || []).forEach(function (t) {
      series.push({ label: t.label, stroke: THRESHOLD[t.kind] || "#8a97a6", width: 1.5, dash: [6, 4],
        points: { show: false } });
      data.push(spec.x.map(function () { return t.value; }));
    });
    if (spec.breaches && spec.breaches.length) {
      var byX = {};
      spec.breaches.forEach(function (b) { byX[b.x] = b.y; });
      series.push({ label: "breach", stroke: "#b42318", width: 0, fill: "#b42318",
        points: { show: true, size: 11, width: 2, stroke: "#b42318", fill: "#ffffff" }, paths: function () { return null; } });
      data.push(spec.x.map(function (x) { return Object.prototype.hasOwnProperty.call(byX, x) ? byX[x] : null; }));
    }
    return { series: series, data: data };
  }

  function draw(block) {
    if (block.dataset.rendered) { return; }
    var spec;
    try { spec = JSON.parse(block.textContent); } catch (e) { return; }
    var holder = document.getElementById(block.dataset.target);
    if (!holder || !window.uPlot || !spec.x || !spec.x.length) { return; }
    block.dataset.rendered = "1";
    var built = seriesFor(spec);
    var width = Math.max(320, holder.clientWidth || 600);
    var opts = {
      width: width,
      height: 260,
      series: built.series,
      scales: { x: { time: true } },
      axes: [{ stroke: "#5d6b7a", grid: { stroke: "#eef1f4" } }, { stroke: "#5d6b7a", grid: { stroke: "#eef1f4" }, size: 60 }],
      legend: { show: true },
      cursor: { drag: { x: true, y: false } }
    };
    var chart = new window.uPlot(opts, built.data, holder);
    holder.setAttribute("data-chart-ready", "1");
    window.addEventListener("resize", function () {
      chart.setSize({ width: Math.max(320, holder.clientWidth || width), height: 260 });
    });
  }

  window.CharterCharts = {
    render: function (root) {
      var blocks = (root || document).querySelectorAll("script.chart-data");
      Array.prototype.forEach.call(blocks, draw);
    }
  };
})();
