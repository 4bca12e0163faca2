/* Health history: asks the staff-only data endpoint for one range and draws it with uPlot (served by the portal).
   Every visible string comes translated from the page (#dashboard-messages) or from the data itself. */
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  var M = JSON.parse(document.getElementById("dashboard-messages").textContent);
  var statusLine = document.getElementById("dashboard-status");
  var COLORS = ["#2b6cb0", "#d97706", "#059669", "#9333ea", "#0891b2", "#65a30d", "#db2777", "#4b5563"];
  var STATUS_COLORS = ["#2e9e4f", "#e0a800", "#d33"];
  var BIN_SECONDS = {raw: 60, hour: 3600, day: 86400};
  var plots = [];
  var LANGUAGE = document.documentElement.lang || undefined;

  // Month and weekday names for the time axis in the page's language (uPlot's own are English).
  function dateNames() {
    function names(count, make, options) {
      var formatter = new Intl.DateTimeFormat(LANGUAGE, options);
      var list = [];
      for (var i = 0; i < count; i += 1) { list.push(formatter.format(make(i))); }
      return list;
    }
    function month(i) { return new Date(2026, i, 1); }
    function weekday(i) { return new Date(2026, 1, 1 + i); }  // 1 February 2026 is a Sunday
    return {
      MMMM: names(12, month, {month: "long"}), MMM: names(12, month, {month: "short"}),
      WWWW: names(7, weekday, {weekday: "long"}), WWW: names(7, weekday, {weekday: "short"})
    };
  }
  var NAMES = dateNames();

  // Time axis and legend in the page's locale (uPlot's own templates are US: "8pm", "11/30/26"): Japanese reads
  // 20:00 and 2026/11/30. Ticks within a day show the time, and the date under the first tick of each day.
  var DAY = 86400;
  var TIME = new Intl.DateTimeFormat(LANGUAGE, {hour: "2-digit", minute: "2-digit"});
  var DATE = new Intl.DateTimeFormat(LANGUAGE, {year: "numeric", month: "2-digit", day: "2-digit"});
  var YEAR_MONTH = new Intl.DateTimeFormat(LANGUAGE, {year: "numeric", month: "short"});
  var DATE_TIME = new Intl.DateTimeFormat(LANGUAGE, {year: "numeric", month: "2-digit", day: "2-digit",
                                                     hour: "2-digit", minute: "2-digit"});

  function timeTicks(u, splits, _axis, _space, step) {
    var days = splits.map(function (t) { return DATE.format(new Date(t * 1000)); });
    // The date goes under the first tick of each new day; under the first tick only if the range has no new day
    // (two dates on neighbouring ticks would run into each other).
    var changes = days.some(function (day, index) { return index > 0 && day !== days[index - 1]; });
    return splits.map(function (t, index) {
      var moment = new Date(t * 1000);
      if (step >= 28 * DAY) { return YEAR_MONTH.format(moment); }
      if (step >= DAY) { return days[index]; }
      var newDay = index === 0 ? !changes : days[index] !== days[index - 1];
      return TIME.format(moment) + (newDay ? "\n" + days[index] : "");
    });
  }

  function timeLegend(u, t) { return t === null || t === undefined ? "—" : DATE_TIME.format(new Date(t * 1000)); }

  // A value axis as wide as its widest label (a 2 GB database reads "1,999.95 MB", not ".999.2 MB").
  function axisSize(u, values, axisIndex, cycle) {
    var axis = u.axes[axisIndex];
    if (cycle > 1) { return axis._size; }
    var size = axis.ticks.size + axis.gap;
    var longest = (values || []).reduce(function (widest, value) {
      return String(value).length > widest.length ? String(value) : widest;
    }, "");
    if (longest) {
      u.ctx.font = axis.font[0];
      size += u.ctx.measureText(longest).width / (window.devicePixelRatio || 1);
    }
    return Math.ceil(size) + 4;
  }
  window.opsDashboard = {plots: plots, colors: COLORS, data: null};

  // Decimals enough to tell neighbouring axis ticks apart (a 2 GB database growing by megabytes).
  function decimalsFor(step) {
    if (!step || !isFinite(step)) { return 1; }
    return Math.max(0, Math.min(4, Math.ceil(-Math.log10(Math.abs(step)) - 1e-9)));
  }

  // The unit follows the tick step when one is given, so ticks 50 kB apart on a 2 GB axis read 1999.95 MB, 2000.00 MB.
  function humanBytes(value, step) {
    var units = ["B", "kB", "MB", "GB", "TB"];
    var index = 0;
    var size = step ? Math.abs(step) * 100 : Math.abs(value);
    while (size >= 1000 && index < units.length - 1 && Math.abs(value) >= 1000) {
      value /= 1000; size /= 1000; step = step ? step / 1000 : step; index += 1;
    }
    var decimals = step ? decimalsFor(step) : (index > 0 && Math.abs(value) < 10 ? 1 : 0);
    return value.toFixed(index === 0 ? 0 : decimals) + " " + units[index];
  }

  function format(unit, value, step) {
    if (value === null || value === undefined) { return "—"; }
    if (unit === "bytes") { return humanBytes(value, step); }
    var decimals = step ? decimalsFor(step) : 1;
    if (unit === "%") { return value.toFixed(decimals) + " %"; }
    if (unit === "ms") { return value.toFixed(step ? decimals : 0) + " ms"; }
    if (unit === "s") { return value.toFixed(decimals) + " s"; }
    return value.toFixed(step ? decimals : (Math.abs(value) < 100 ? 1 : 0));
  }

  function say(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle("error", Boolean(isError));
  }

  // Markers keep out of the status colours (ok green, warning amber, critical red): a failed backup is fuchsia, a
  // firing alert orange (dashed), so neither reads as "critical". The legend in the page uses the same colours.
  var MARKER_COLORS = {backup: "#555", backupFailed: "#c026d3", alertFiring: "#f97316", alert: "#8a2be2"};
  window.opsDashboard.markerColors = MARKER_COLORS;
  function markerColor(marker) {
    if (marker.kind === "backup") { return marker.state === "failed" ? MARKER_COLORS.backupFailed : MARKER_COLORS.backup; }
    return marker.state === "firing" ? MARKER_COLORS.alertFiring : MARKER_COLORS.alert;
  }

  // Over a long range every nightly backup would paint the charts solid: there only failures and firings show.
  function chartMarkers(markers) {
    if (markers.length <= 120) { return markers; }
    return markers.filter(function (m) { return m.state === "failed" || m.state === "firing"; });
  }

  function markersPlugin(markers) {
    return {hooks: {draw: [function (u) {
      var ctx = u.ctx;
      ctx.save();
      ctx.lineWidth = window.devicePixelRatio || 1;
      ctx.globalAlpha = 0.45;
      markers.forEach(function (marker) {
        var x = Math.round(u.valToPos(marker.t, "x", true));
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) { return; }
        ctx.strokeStyle = markerColor(marker);
        ctx.setLineDash(marker.kind === "alert" ? [4, 3] : []);
        ctx.beginPath();
        ctx.moveTo(x, u.bbox.top);
        ctx.lineTo(x, u.bbox.top + u.bbox.height);
        ctx.stroke();
      });
      ctx.restore();
    }]}};
  }

  function card(container, chart) {
    var element = document.createElement("div");
    element.className = "chart-card";
    element.id = "chart-" + chart.id;
    var title = document.createElement("h3");
    title.textContent = chart.title;
    element.appendChild(title);
    container.appendChild(element);
    return element;
  }

  function pointsOf(chart) {
    var count = 0;
    chart.series.forEach(function (series) {
      if (series.budget) { return; }
      series.values.forEach(function (value) { if (value !== null) { count += 1; } });
    });
    return count;
  }

  function drawChart(container, chart, range, markers, options) {
    var element = card(container, chart);
    var points = pointsOf(chart);
    element.dataset.points = String(points);
    if (!points) {
      var empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = M.noData;
      element.appendChild(empty);
      return 0;
    }
    var unit = chart.unit;
    var sparse = chart.x.length < 60;
    var series = [{label: M.time, value: timeLegend}].concat(chart.series.map(function (item, index) {
      var spec = {
        label: item.label,
        stroke: item.budget ? "#d33" : COLORS[index % COLORS.length],
        width: item.budget ? 1 : 1.5,
        dash: item.budget ? [6, 4] : undefined,
        spanGaps: Boolean(options.spanGaps),
        scale: item.scale || "y",
        points: {show: sparse && !item.budget},
        value: function (u, value) { return format(item.scale || unit, value); }
      };
      if (item.failure) {  // a failed backup, in the markers' colour for it (not the red of "critical")
        spec.stroke = MARKER_COLORS.backupFailed;
        spec.fill = undefined;
        spec.paths = function () { return null; };
        spec.points = {show: true, size: 9, stroke: MARKER_COLORS.backupFailed, fill: MARKER_COLORS.backupFailed};
        spec.value = function (u, value) { return value === null ? "" : "✕"; };
      }
      return spec;
    }));
    function ticks(scaleUnit) {
      return function (u, values, _axis, _space, step) {
        return values.map(function (v) { return format(scaleUnit, v, step); });
      };
    }
    // Ticks at least 80 px apart leave room for a whole date ("2026/11/30") under each.
    var axes = [{values: timeTicks, size: 44, space: 80}, {size: axisSize, values: ticks(unit)}];
    var scales = {x: {time: true, min: range.start, max: range.end}};
    if (chart.series.some(function (item) { return item.scale === "s"; })) {
      axes.push({scale: "s", side: 1, size: axisSize, grid: {show: false}, values: ticks("s")});
      scales.s = {auto: true};
    }
    var width = Math.max(320, element.clientWidth - 12);
    var plot = new window.uPlot({
      width: width, height: 200, series: series, axes: axes, scales: scales,
      fmtDate: function (template) { return window.uPlot.fmtDate(template, NAMES); },
      legend: {live: true}, cursor: {drag: {x: true, y: false}},
      plugins: [markersPlugin(markers)]
    }, [chart.x].concat(chart.series.map(function (item) { return item.values; })), element);
    plots.push({id: chart.id, plot: plot});
    return points;
  }

  function drawTimeline(timeline, range, markers) {
    var canvas = document.getElementById("status-timeline");
    var ratio = window.devicePixelRatio || 1;
    var labelWidth = 170, rowHeight = 14, laneHeight = 14;
    var width = canvas.parentElement.clientWidth - 12;
    var height = laneHeight + Math.max(1, timeline.length) * rowHeight + 4;
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    var ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    ctx.font = "11px sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillStyle = getComputedStyle(root).color;
    if (!timeline.length) { ctx.fillText(M.noChecks, 4, laneHeight + rowHeight / 2); }
    var span = range.end - range.start;
    var plotWidth = width - labelWidth;
    function position(t) { return labelWidth + (t - range.start) / span * plotWidth; }
    var bin = range.step || BIN_SECONDS[range.resolution];
    timeline.forEach(function (row, index) {
      var y = laneHeight + index * rowHeight;
      ctx.fillStyle = getComputedStyle(root).color;
      ctx.fillText(row.check, 2, y + rowHeight / 2, labelWidth - 6);
      row.bands.forEach(function (band, at) {
        if (band[1] === null) { return; }
        var next = at + 1 < row.bands.length ? Math.min(row.bands[at + 1][0], band[0] + bin) : band[0] + bin;
        var x0 = Math.max(labelWidth, position(band[0]));
        var x1 = Math.min(width, position(next));
        // A day with one warning minute is mostly ok: the worst status shows, fainter the rarer it was.
        var share = band.length > 2 ? band[2] : 1;
        ctx.fillStyle = STATUS_COLORS[0];
        ctx.fillRect(x0, y + 1, Math.max(1, x1 - x0), rowHeight - 2);
        if (band[1] > 0) {
          ctx.globalAlpha = 0.35 + 0.65 * Math.min(1, share * 10);
          ctx.fillStyle = STATUS_COLORS[band[1]];
          ctx.fillRect(x0, y + 1, Math.max(1, x1 - x0), rowHeight - 2);
          ctx.globalAlpha = 1;
        }
      });
    });
    markers.forEach(function (marker) {
      var x = position(marker.t);
      if (x < labelWidth || x > width) { return; }
      ctx.fillStyle = markerColor(marker);
      ctx.fillRect(Math.round(x) - 1, marker.kind === "backup" ? 1 : laneHeight / 2, 2, laneHeight / 2 - 1);
    });
    canvas.dataset.rows = String(timeline.length);
  }

  function query() {
    var params = new URLSearchParams(window.location.search);
    var wanted = new URLSearchParams();
    if (params.get("start")) {
      wanted.set("start", params.get("start"));
      if (params.get("end")) { wanted.set("end", params.get("end")); }
    } else {
      wanted.set("range", params.get("range") || "24h");
    }
    return wanted;
  }

  function interpolate(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_match, key) { return values[key]; });
  }

  // The custom range typed last stays in its inputs (in the browser's local time, as it was typed).
  function localInputValue(iso) {
    var moment = new Date(iso);
    if (isNaN(moment.getTime())) { return ""; }
    moment.setMinutes(moment.getMinutes() - moment.getTimezoneOffset());
    return moment.toISOString().slice(0, 16);
  }
  (function keepCustomRange() {
    var params = new URLSearchParams(window.location.search);
    if (params.get("start")) { document.getElementById("range-start").value = localInputValue(params.get("start")); }
    if (params.get("end")) { document.getElementById("range-end").value = localInputValue(params.get("end")); }
  })();

  document.getElementById("custom-range").addEventListener("submit", function (event) {
    event.preventDefault();
    var start = document.getElementById("range-start").value;
    var end = document.getElementById("range-end").value;
    var params = new URLSearchParams();
    params.set("start", new Date(start).toISOString());
    if (end) { params.set("end", new Date(end).toISOString()); }
    window.location.search = params.toString();
  });

  say(M.loading);
  var started = performance.now();
  fetch(root.dataset.url + "?" + query().toString(), {credentials: "same-origin", headers: {"Accept": "application/json"}})
    .then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body.error || String(response.status)); }
        return body;
      });
    })
    .then(function (data) {
      var elapsed = Math.round(performance.now() - started);
      window.opsDashboard.data = data;
      var charts = document.getElementById("charts");
      var onCharts = chartMarkers(data.markers);
      var total = 0;
      data.charts.forEach(function (chart) {
        total += drawChart(charts, chart, data.range, onCharts, {spanGaps: chart.id === "probes"});
      });
      total += drawChart(document.getElementById("backup-charts"), data.backups, data.range, [], {});
      drawTimeline(data.timeline, data.range, data.markers);
      say(interpolate(M["loaded_" + data.range.resolution + (data.range.step === 300 ? "300" : "")], {points: total, ms: elapsed}));
      root.dataset.loaded = "1";
    })
    .catch(function (error) {
      say(interpolate(M.failed, {error: error.message}), true);
      root.dataset.loaded = "error";
    });
})();
