/* /my-reports: the reports this browser filed (localStorage), each with its status from the
 * public incident API (GET /api/v1/incidents/<id>: no personal data). textContent only. */
(function () {
  "use strict";
  var urls = JSON.parse(document.getElementById("mine-data").textContent);
  var store = window.gridmap.myReports;
  var list = document.getElementById("mine-list");

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function when(iso) { return iso ? String(iso).slice(0, 16).replace("T", " ") : ""; }  // local time of the jurisdiction

  function render() {
    var mine = store.all();
    list.textContent = "";
    document.getElementById("mine-empty").hidden = mine.length > 0;
    mine.forEach(function (r) {
      var li = el("li");
      li.setAttribute("data-id", r.id);
      var a = el("a", "", "#" + r.id);
      a.href = urls.status + encodeURIComponent(r.id);
      var badge = el("span", "gm-badge", "…");
      var what = el("span", "", "");
      var at = el("span", "gm-when", "");
      var drop = el("button", "", "移除 Remove");
      drop.type = "button";
      drop.setAttribute("aria-label", "从列表移除 " + r.id + " Remove from this list");
      drop.addEventListener("click", function () { store.forget(r.id); render(); });
      li.append(a, badge, what, drop, at);
      list.appendChild(li);
      fetch(urls.incident + encodeURIComponent(r.id), {headers: {Accept: "application/json"}})
        .then(function (res) { return res.ok ? res.json() : Promise.reject(res.status); })
        .then(function (inc) {
          badge.textContent = inc.status_label + " " + inc.status;
          what.textContent = inc.category_name;
          at.textContent = "上报 Reported " + when(inc.reported_at) + (inc.closed_at ? " · 办结 Closed " + when(inc.closed_at) : "");
        })
        .catch(function (status) {
          badge.textContent = status === 404 ? "未找到 not found" : "暂不可用 unavailable";
        });
    });
  }
  render();
})();
