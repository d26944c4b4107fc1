// Draws the analytics charts from the page's JSON block (no inline script: CSP-clean).
(function () {
  "use strict";
  var block = document.getElementById("analytics-data");
  if (!block || !window.Chart) { return; }
  var charts = JSON.parse(block.textContent);
  var colours = ["#4f46e5", "#22c55e", "#f59e0b", "#0ea5e9", "#ef4444", "#a855f7"];
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var spec = charts[canvas.getAttribute("data-chart")];
    if (!spec) { return; }
    var names = Object.keys(spec.series);
    new window.Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: names.map(function (name, index) {
          return { label: name, data: spec.series[name], borderColor: colours[index % colours.length],
                   backgroundColor: colours[index % colours.length], tension: 0.2 };
        }),
      },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
                 scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  });
})();
