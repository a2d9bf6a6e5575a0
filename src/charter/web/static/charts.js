/* Charter charts: uPlot line charts from <script type="application/json" class="chart-data"> blocks.
   Data contract (built server-side by charter.web.charts.split):
   {"id": "...", "title": "...", "x": [unix seconds, window starts], "step": seconds per window,
    "series": [{"label": "...", "values": [number|null]}],
    "thresholds": [{"label": "breach", "value": 0.25, "kind": "breach"|"warn"}],
    "breaches": [{"x": unix seconds, "y": number, "label": "..."}]}
   Thresholds are dashed horizontal lines; breaches are ringed markers on the series.
   Times are shown in UTC like the rest of the dashboard. The time axis ticks once per window or a multiple of it
   (daily windows get daily ticks), and the legend always shows values: the latest window's, or the hovered one's. */
(function () {
  "use strict";
  var PALETTE = ["#1f4e79", "#2f9e8f", "#7b5ea7", "#c06c2b", "#4a7fb5", "#8a6d3b"];
  var THRESHOLD = { warn: "#c98a1a", breach: "#b42318" };
  var MULTIPLES = [1, 2, 3, 4, 6, 7, 12, 14, 24, 28, 30, 48, 60, 90, 180, 365, 730];
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var DAY = 86400;

  function pad(n) { return n < 10 ? "0" + n : "" + n; }

  function day(d) { return MONTHS[d.getUTCMonth()] + " " + d.getUTCDate(); }

  function clock(d) { return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()); }

  /* A window's time as a person reads it: the day for day-long windows, else the day and the time. */
  function when(ts, step) {
    if (ts == null) { return "--"; }
    var d = new Date(ts * 1000);
    return step >= DAY ? day(d) + " " + d.getUTCFullYear() : day(d) + " " + clock(d) + " UTC";
  }

  /* Tick labels: days for day-or-longer increments; otherwise the time, with the day where it changes. */
  function tickLabels(holder, step) {
    return function (u, splits, axisIdx, space, incr) {
      var last = null;
      var labels = splits.map(function (ts) {
        var d = new Date(ts * 1000);
        if (incr >= DAY) { return day(d); }
        var label = (last === null || day(d) !== last) ? day(d) + " " + clock(d) : clock(d);
        last = day(d);
        return label;
      });
      holder.setAttribute("data-x-incr", String(incr));
      holder.setAttribute("data-x-ticks", labels.join("|"));
      return labels;
    };
  }

  function fmt(v) {
    if (v == null) { return "--"; }
    var a = Math.abs(v);
    return a !== 0 && (a < 0.001 || a >= 1e6) ? v.toExponential(2) : String(Math.round(v * 1000) / 1000);
  }

  function seriesFor(spec) {
    var step = spec.step || 3600;
    var series = [{ label: "window", value: function (u, v) { return when(v, step); } }];
    var data = [spec.x];
    spec.series.forEach(function (s, i) {
      series.push({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true,
        points: { show: true, size: 5 }, value: function (u, v) { return fmt(v); } });
      data.push(s.values);
    });
    (spec.thresholds || []).forEach(function (t) {
      series.push({ label: t.label, stroke: THRESHOLD[t.kind] || "#8a97a6", width: 1.5, dash: [6, 4],
        points: { show: false }, value: function () { return fmt(t.value); } });
      data.push(spec.x.map(function () { return t.value; }));
    });
    var breaches = spec.breaches || [];
    if (breaches.length) {
      var byX = {};
      breaches.forEach(function (b) { byX[b.x] = b.y; });
      var n = Object.keys(byX).length;
      series.push({ label: "breach", stroke: "#b42318", width: 0, fill: "#b42318",
        points: { show: true, size: 11, width: 2, stroke: "#b42318", fill: "#ffffff" }, paths: function () { return null; },
        value: function () { return n + (n === 1 ? " window" : " windows"); } });
      data.push(spec.x.map(function (x) { return Object.prototype.hasOwnProperty.call(byX, x) ? byX[x] : null; }));
    }
    return { series: series, data: data };
  }

  /* Per series, the newest window that has a value (what the legend shows when nothing is hovered). */
  function latest(data) {
    return data.map(function (values) {
      for (var i = values.length - 1; i >= 0; i--) { if (values[i] != null) { return i; } }
      return values.length - 1;
    });
  }

  function draw(block) {
    if (block.dataset.rendered) { return; }
    var spec;
    try { spec = JSON.parse(block.textContent); } catch (e) { return; }
    var holder = document.getElementById(block.dataset.target);
    if (!holder || !window.uPlot || !spec.x || !spec.x.length) { return; }
    block.dataset.rendered = "1";
    var step = spec.step || 3600;
    var built = seriesFor(spec);
    var resting = latest(built.data);
    var width = Math.max(320, holder.clientWidth || 600);
    var pin = function (u) { if (u.legend.idx == null) { u.setLegend({ idxs: resting }, false); } };
    var opts = {
      width: width,
      height: 260,
      series: built.series,
      tzDate: function (ts) { return window.uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      scales: { x: { time: true } },
      axes: [
        { stroke: "#5d6b7a", grid: { stroke: "#eef1f4" }, space: 70,
          incrs: MULTIPLES.map(function (m) { return m * step; }), values: tickLabels(holder, step) },
        { stroke: "#5d6b7a", grid: { stroke: "#eef1f4" }, size: 60 }
      ],
      legend: { show: true, live: true },
      cursor: { drag: { x: true, y: false } },
      hooks: { ready: [pin], setLegend: [pin] }
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
