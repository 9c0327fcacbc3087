/* The reports this browser filed, kept in localStorage only (never sent anywhere but to the
 * incident actions API when the reporter rates or reopens): [{id, token, saved}], newest first.
 * Used by report.js (after a report), status.js and my-reports.js. */
(function () {
  "use strict";
  var KEY = "gridmap.myReports";
  var MAX = 100;
  function all() {
    try {
      var list = JSON.parse(window.localStorage.getItem(KEY) || "[]");
      return Array.isArray(list) ? list.filter(function (r) { return r && typeof r.id === "string"; }) : [];
    } catch (e) { return []; }  // private mode, or a damaged entry: behave as if empty
  }
  function save(list) {
    try { window.localStorage.setItem(KEY, JSON.stringify(list.slice(0, MAX))); return true; } catch (e) { return false; }
  }
  function remember(id, token) {
    var list = all().filter(function (r) { return r.id !== String(id); });
    list.unshift({id: String(id), token: token ? String(token) : null, saved: new Date().toISOString()});
    return save(list);
  }
  function tokenOf(id) {
    var hit = all().filter(function (r) { return r.id === String(id); })[0];
    return hit ? hit.token : null;
  }
  function forget(id) { return save(all().filter(function (r) { return r.id !== String(id); })); }
  window.gridmap = Object.assign(window.gridmap || {}, {myReports: {all: all, remember: remember, tokenOf: tokenOf, forget: forget}});
})();
