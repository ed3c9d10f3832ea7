// otsensor console: refreshes the page's main part in place every few seconds (one request
// at a time, paused while the tab is hidden or a form field has focus).
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !main.dataset.live) { return; }
  var every = Math.max(2, parseInt(main.dataset.live, 10) || 5) * 1000;
  var busy = false;
  function refresh() {
    var a = document.activeElement;
    if (busy || document.hidden || (a && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName))) { return; }
    busy = true;
    fetch(location.href, { headers: { "X-Partial": "1" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401 || r.redirected) { location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) { if (html !== null && html !== undefined) { main.innerHTML = html; } })
      .catch(function () {})
      .then(function () { busy = false; });
  }
  setInterval(refresh, every);
})();
