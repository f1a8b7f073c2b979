/* The analytics admin page's charts: the day series of #analytics-data drawn with the vendored Chart.js.
   Without JavaScript the page's tables show the same figures. */
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("analytics-data");
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var labels = data.labels;
    var palette = ["#417690", "#79aec8", "#e2a03f", "#5b8c5a", "#ba2121", "#8e6bbf"];

    function series(keys, type, extra) {
      return keys.map(function (key, index) {
        return Object.assign(
          {
            label: labels[key],
            data: data[key],
            type: type,
            borderColor: palette[index % palette.length],
            backgroundColor: palette[index % palette.length],
            spanGaps: true,
          },
          extra || {}
        );
      });
    }

    function chart(id, title, datasets, options) {
      var canvas = document.getElementById(id);
      if (!canvas) {
        return;
      }
      new window.Chart(canvas, {
        type: "bar",
        data: { labels: data.days, datasets: datasets },
        options: Object.assign(
          {
            responsive: true,
            maintainAspectRatio: false,
            animation: false,
            interaction: { mode: "index", intersect: false },
            plugins: { title: { display: true, text: title } },
            scales: { y: { beginAtZero: true } },
          },
          options || {}
        ),
      });
      canvas.setAttribute("data-drawn", "1");
    }

    var titles = data.titles;
    chart("chart-funnel", titles.funnel, series(["trials", "locks", "paid"], "bar"));
    chart("chart-conversion", titles.conversion, series(["lock_rate", "pay_rate", "form_rate"], "line"), {
      scales: { y: { beginAtZero: true, suggestedMax: 100 } },
    });
    chart(
      "chart-teams",
      titles.teams,
      series(["teams_formed", "teams_formed_virtual", "teams_failed", "teams_in_progress"], "bar", { stack: "teams" })
        .concat(series(["teams_opened"], "line", { borderColor: "#333", backgroundColor: "#333" })),
      { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }
    );
    chart("chart-money", titles.money, series(["revenue", "refunded", "net_revenue"], "bar"));
    chart("chart-fill", titles.fill, series(["fill_median_seconds", "fill_p90_seconds"], "line"));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
