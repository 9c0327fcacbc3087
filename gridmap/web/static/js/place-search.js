/* The search box of the report page and /map: GET /api/v1/places?q= (units' names and codes,
 * then the offline gazetteer), results as a list of buttons (keyboard: Enter searches, Tab/arrows
 * move, Enter picks). textContent only. */
(function () {
  "use strict";
  var KIND = {county: "区县", town: "镇街", zone: "管区/社区", grid: "网格", micro: "微网格",
              town_seat: "镇街驻地", service_centre: "党群服务中心", village: "村", place: "地点"};

  function placeSearch(opts) {
    var input = document.getElementById(opts.input), list = document.getElementById(opts.list);
    var msg = document.getElementById(opts.message);
    var form = document.getElementById(opts.form);
    function say(text) { if (msg) { msg.textContent = text; } }
    function pick(hit) {
      list.textContent = "";
      say("已定位到 Showing: " + hit.name);
      opts.onPick(hit);
    }
    function run() {
      var q = input.value.trim();
      list.textContent = "";
      if (!q) { say("请输入地名、社区、网格名称或编码。Type a place, community or grid name, or a code."); return; }
      say("查找中… Searching…");
      fetch(opts.url + "?limit=8&q=" + encodeURIComponent(q), {headers: {Accept: "application/json"}})
        .then(function (r) { return r.json().then(function (out) { return {ok: r.ok, out: out}; }); })
        .then(function (res) {
          if (!res.ok) { say("未能查找 Not searched: " + (res.out.detail || "")); return; }
          var hits = res.out.results || [];
          say(hits.length ? "找到 " + hits.length + " 个结果 Found " + hits.length + ":" : "没有找到 “" + q + "”。Nothing found.");
          hits.forEach(function (hit, i) {
            var li = document.createElement("li");
            var b = document.createElement("button");
            b.type = "button";
            b.className = "gm-place";
            var name = document.createElement("strong");
            name.textContent = hit.name;
            var kind = document.createElement("small");
            kind.textContent = " " + (KIND[hit.kind] || hit.kind) + (hit.code ? " " + hit.code : "");
            b.append(name, kind);
            b.addEventListener("click", function () { pick(hit); });
            b.addEventListener("keydown", function (e) {
              var items = list.querySelectorAll("button");
              if (e.key === "ArrowDown" && items[i + 1]) { items[i + 1].focus(); e.preventDefault(); }
              if (e.key === "ArrowUp") { (items[i - 1] || input).focus(); e.preventDefault(); }
            });
            li.appendChild(b);
            list.appendChild(li);
          });
        })
        .catch(function () { say("网络错误，请重试。Network error: try again."); });
    }
    form.addEventListener("submit", function (e) { e.preventDefault(); run(); });
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown" && list.querySelector("button")) { list.querySelector("button").focus(); e.preventDefault(); }
    });
    return {run: run};
  }
  window.gridmap = Object.assign(window.gridmap || {}, {placeSearch: placeSearch});
})();
