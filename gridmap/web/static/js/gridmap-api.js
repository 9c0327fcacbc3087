/* gridmap's own pages calling its JSON API: same-origin cookies, the CSRF header, a JSON body when
 * given, and the answer as {status, out} whatever it is (out is {} when the body is not JSON).
 * Loaded before board.js, report.js and planner.js. */
(function () {
  "use strict";
  function callJSON(method, url, body, csrf, accept) {
    var opts = {method: method, credentials: "same-origin",
                headers: {"Accept": accept || "application/json", "X-CSRFToken": csrf || ""}};
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (out) { return {status: r.status, out: out}; });
    });
  }
  window.gridmap = Object.assign(window.gridmap || {}, {callJSON: callJSON});
})();
