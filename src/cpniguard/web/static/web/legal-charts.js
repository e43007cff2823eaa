// Draws the transparency report's chart with uPlot: one stacked bar per kind of process, a
// layer per outcome. The data reach it as JSON in a <script type="application/json"> element
// (id = the slot's data-chart-for), so the page carries no inline code and the
// Content-Security-Policy stays strict. The table beside it holds the exact numbers; the
// chart adds nothing the table does not say.
(function () {
  "use strict";

  function draw(slot) {
    var source = document.getElementById(slot.getAttribute("data-chart-for"));
    if (!source || typeof uPlot === "undefined") { return; }
    var chart = JSON.parse(source.textContent);
    var x = chart.labels.map(function (_, n) { return n; });
    // Stacking: each layer is the running total up to its outcome, drawn from the tallest
    // down, so every outcome shows as its own band of the bar.
    var totals = x.map(function () { return 0; });
    var layers = chart.outcomes.map(function (outcome) {
      totals = totals.map(function (sum, n) { return sum + outcome.values[n]; });
      return { label: outcome.label, color: outcome.color, values: totals.slice() };
    }).reverse();
    var bars = uPlot.paths.bars({ size: [0.6, 80] });
    var series = [{ label: "kind" }].concat(layers.map(function (layer) {
      return { label: layer.label, fill: layer.color, stroke: layer.color, paths: bars,
               points: { show: false } };
    }));
    var width = Math.max(320, slot.clientWidth || 640);
    new uPlot({
      width: width, height: 220, series: series,
      legend: { show: false }, cursor: { show: false },
      scales: { x: { time: false, range: [-0.5, x.length - 0.5] },
                y: { range: [0, Math.max(1, chart.max)] } },
      axes: [{ splits: function () { return x; },
               values: function (_, splits) {
                 return splits.map(function (n) { return chart.labels[n] || ""; });
               } },
             { label: "requests" }]
    }, [x].concat(layers.map(function (layer) { return layer.values; })), slot);
    slot.setAttribute("data-drawn", "true");
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-chart-for]").forEach(draw);
  });
}());
