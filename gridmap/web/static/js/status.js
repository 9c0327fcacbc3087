/* The status page (/status/<id>): a small map of the point and its grid, and, with the reporter's
 * token (from the link's #token=..., or this browser's localStorage, or typed in), rating and
 * reopening through POST /api/v1/incidents/<id>/actions. Text is written with textContent only. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("status-data").textContent);
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var $ = function (id) { return document.getElementById(id); };
  var store = window.gridmap.myReports;

  // -- the map: the grid's outline and the point; no tiles, nothing fetched
  var map = L.map("status-map", {attributionControl: false, zoomControl: true, maxZoom: 19});
  var here = L.latLng(data.lat, data.lon);
  L.circleMarker(here, {radius: 8, color: "#c0392b", weight: 3, fillOpacity: 0.6}).addTo(map);
  if (data.grid) {
    var grid = L.geoJSON(data.grid, {style: {color: "#1f4e79", weight: 2, fillOpacity: 0.06}}).addTo(map);
    map.fitBounds(grid.getBounds().extend(here), {padding: [12, 12], animate: false});
  } else {
    map.setView(here, 16);
  }
  window.gridmap.statusMap = map;

  // -- the token: the link's fragment wins, then this browser's list
  var m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash || "");
  if (m) {
    store.remember(data.id, decodeURIComponent(m[1]));
    history.replaceState(null, "", window.location.pathname + window.location.search);  // not left in the address bar
  }
  var token = store.tokenOf(data.id);

  function show() {
    $("token-known").hidden = !token;
    $("token-ask").hidden = !!token;
    $("rate-form").hidden = !(token && data.can_rate);
    $("reopen-form").hidden = !(token && data.can_reopen);
    $("reopen-closed").hidden = !(token && data.reopen_closed);
    $("not-yet").hidden = !(token && !data.can_rate);
  }
  show();

  $("token-save").addEventListener("click", function () {
    var t = $("token-input").value.trim();
    if (!t) { message("请填写凭证。Enter the token first.", true); return; }
    store.remember(data.id, t);
    token = t;
    message("", false);
    show();
  });

  function message(text, bad) {
    var el = $("action-msg");
    el.textContent = text;
    el.className = "gm-msg " + (bad ? "gm-err" : "gm-ok");
  }

  function act(body, button) {
    button.disabled = true;
    body.reporter_token = token;
    return window.gridmap.callJSON("POST", data.urls.act, body, csrf).then(function (res) {
      if (res.status === 200) {
        message(body.action === "rate" ? "谢谢您的评价！Thank you for rating." : "已重新打开，将重新派遣处理。Reopened: it goes back to the grid.", false);
        window.setTimeout(function () { window.location.reload(); }, 900);
        return;
      }
      if (res.status === 403) {
        message("凭证不正确，无法操作。The token does not match this report.", true);
        store.forget(data.id);
        token = null;
        show();
      } else {
        message("未完成 Not done (" + res.status + "): " + (res.out.detail || res.out.title || ""), true);
      }
      button.disabled = false;
    }).catch(function () {
      message("网络错误，请重试。Network error: please try again.", true);
      button.disabled = false;
    });
  }

  $("rate-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var picked = document.querySelector('input[name="rating"]:checked');
    if (!picked) { message("请选择 1-5 星。Pick 1 to 5 stars.", true); return; }
    act({action: "rate", rating: parseInt(picked.value, 10), note: $("rate-note").value.trim()}, $("rate-submit"));
  });
  $("reopen-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var note = $("reopen-note").value.trim();
    if (!note) { message("请说明为什么要重新打开。Say why it is not fixed.", true); return; }
    act({action: "reopen", note: note}, $("reopen-submit"));
  });
})();
