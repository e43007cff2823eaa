// Draws the service-quality plots with uPlot. Each plot's data is a JSON <script> element
// (type application/json, id = the chart slot's data-chart-for), so the page carries no inline
// code and the Content-Security-Policy stays strict. Suppressed figures (null) are gaps.
(function () {
  "use strict";
  var COLORS = ["#1f5fa8", "#b8432f", "#2e7d32", "#8e5bb5", "#a07700"];
  var charts = {};

  function paths(kind) {
    if (kind === "bars") { return uPlot.paths.bars({ size: [0.8, 40] }); }
    if (kind === "step") { return uPlot.paths.stepped({ align: 1 }); }
    return undefined;
  }

  // The incident timeline: each incident shaded over the active-sessions series, at least a
  // few pixels wide so that an instant (a NAS restart) still shows.
  function shadeSpans(spans) {
    return function (u) {
      var ctx = u.ctx;
      ctx.save();
      ctx.fillStyle = "rgba(184, 67, 47, 0.35)";
      spans.forEach(function (span) {
        var left = u.valToPos(span.start, "x", true);
        var right = u.valToPos(span.end, "x", true);
        var width = Math.max(4, right - left);
        ctx.fillRect(left - (right - left < 4 ? 2 : 0), u.bbox.top, width, u.bbox.height);
      });
      ctx.restore();
    };
  }

  function draw(slot) {
    var id = slot.getAttribute("data-chart-for");
    var source = document.getElementById(id);
    if (!source) { return; }
    var plot = JSON.parse(source.textContent);
    var series = [{ label: plot.x_label || "time (UTC)" }];  // x_label: not a time axis
    plot.series.forEach(function (s, n) {
      var options = { label: s.label, stroke: COLORS[n % COLORS.length], spanGaps: false };
      if (plot.kind === "points") {
        options.paths = function () { return null; };
        options.points = { show: true, size: 6, fill: COLORS[n % COLORS.length] };
      } else if (plot.kind === "bars") {
        options.fill = COLORS[n % COLORS.length] + "55";
        options.paths = paths("bars");
      } else if (plot.kind === "step" || plot.kind === "timeline") {
        options.paths = paths("step");
      }
      series.push(options);
    });
    var width = Math.max(320, slot.clientWidth || 800);
    charts[id] = new uPlot({
      width: width, height: 240, series: series, tzDate: function (ts) {
        return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC");
      },
      scales: { x: { time: !plot.x_label } }, legend: { live: false },
      hooks: plot.kind === "timeline" ? { draw: [shadeSpans(plot.spans || [])] } : {}
    }, [plot.x].concat(plot.series.map(function (s) { return s.values; })), slot);
    slot.setAttribute("data-drawn", "true");
  }

  function png(button) {
    var chart = charts[button.getAttribute("data-png-for")];
    if (!chart) { return; }
    var link = document.createElement("a");
    link.href = chart.ctx.canvas.toDataURL("image/png");
    link.download = (button.getAttribute("data-name") || "plot") + ".png";
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-chart-for]").forEach(draw);
    document.querySelectorAll("[data-png-for]").forEach(function (button) {
      button.addEventListener("click", function () { png(button); });
    });
  });
}());
