/* Draws the charts of /-/charts (archive/web/charts.py) with the ECharts served beside this file.
   The numbers and each bar's link come from the page's JSON (#zwdc-chart-data); a click on a bar
   opens the rows behind it. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("zwdc-chart-data").textContent);
  var labels = data.labels;
  var charts = {};

  function follow(chart, links) {
    chart.on("click", function (params) {
      var url = links(params);
      if (url) { window.location.href = url; }
    });
  }

  function stacked(element, periods, horizontal) {
    var chart = echarts.init(element);
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, type: "scroll" },
      grid: { left: 8, right: 16, top: 36, bottom: periods.x.length > 24 ? 56 : 8, containLabel: true },
      xAxis: { type: "category", data: periods.x },
      yAxis: { type: "value", name: labels.count, minInterval: 1 },
      dataZoom: periods.x.length > 24 ? [{ type: "slider", height: 18, bottom: 8 }, { type: "inside" }] : [],
      series: periods.series.map(function (s) {
        return { name: s.name, type: "bar", stack: "all", data: s.data, emphasis: { focus: "series" },
                 cursor: "pointer" };
      })
    }, true);
    return chart;
  }

  function drawBulletins(period) {
    var element = document.getElementById("chart-bulletins");
    var periods = data.bulletins[period];
    if (charts.bulletins) { charts.bulletins.dispose(); }
    charts.bulletins = stacked(element, periods);
    follow(charts.bulletins, function (p) { return periods.series[p.seriesIndex].links[p.dataIndex]; });
    document.querySelectorAll("[data-period]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.period === period));
    });
    element.dataset.period = period;
  }

  function drawUnits() {
    var units = data.units;
    var chart = echarts.init(document.getElementById("chart-units"));
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 32, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: units.y, inverse: true, axisLabel: { interval: 0 } },
      series: [{ name: labels.open_items, type: "bar", data: units.data, cursor: "pointer",
                 itemStyle: { color: "#c4320a" }, label: { show: true, position: "right" } }]
    });
    follow(chart, function (p) { return units.links[p.dataIndex]; });
    charts.units = chart;
  }

  function drawStatus() {
    var status = data.status;
    var chart = stacked(document.getElementById("chart-status"), status);
    var colors = { pending: "#c4320a", mostly_done: "#b08800", done: "#1a7f37", other: "#8c959f" };
    chart.setOption({ color: status.series.map(function (s) { return colors[s.status]; }) });
    follow(chart, function (p) { return status.series[p.seriesIndex].links[p.dataIndex]; });
    charts.status = chart;
  }

  drawBulletins(data.bulletins.month.x.length > 36 ? "year" : "month");
  drawUnits();
  drawStatus();
  document.querySelectorAll("[data-period]").forEach(function (button) {
    button.addEventListener("click", function () { drawBulletins(button.dataset.period); });
  });
  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (name) { charts[name].resize(); });
  });
  window.zwdcCharts = charts;  /* for tests and the curious: the ECharts instances */
})();
