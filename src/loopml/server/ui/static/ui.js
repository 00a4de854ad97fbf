// Charts: every <figure data-chart> holds its data in a JSON script block (aligned columns
// from the server: x = steps, windows or quantile levels, named by `xlabel`; one y column
// per series); uPlot draws it, sized to the figure. A series named "threshold" or
// "band …" is drawn dashed: it is a limit, not a measurement.
(function () {
  "use strict";
  var COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c",
                 "#0891b2", "#be185d", "#4d7c0f", "#7c3aed", "#b45309"];

  function draw(figure) {
    var block = figure.querySelector("script[type='application/json']");
    if (!block) { return; }
    var chart = JSON.parse(block.textContent);
    var xlabel = chart.xlabel || "step";
    var series = [{ label: xlabel }];
    var data = [chart.x];
    chart.series.forEach(function (s, i) {
      var limit = s.label === "threshold" || s.label.indexOf("band") === 0;
      series.push({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 1.5,
                    dash: limit ? [5, 4] : undefined,
                    spanGaps: true, points: { show: !limit && chart.x.length < 60 } });
      data.push(s.y);
    });
    var width = Math.max(240, figure.clientWidth - 8);
    var options = {
      width: width, height: 220, series: series,
      scales: { x: { time: false } },
      axes: [{ label: xlabel }, {}],
      legend: { live: true }
    };
    var plot = new uPlot(options, data, figure);
    figure.setAttribute("data-drawn", String(chart.series.length));
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(240, figure.clientWidth - 8), height: 220 });
    });
  }

  function start() {
    if (typeof uPlot === "undefined") { return; }
    document.querySelectorAll("figure[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
