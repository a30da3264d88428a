// tableau-scim admin console: the only script (served from the binary; the CSP allows no
// other). While the first page of Operations is open, its rows are fetched again every few
// seconds, so new operations appear without reloading. The rows are server-rendered HTML in
// which every value is escaped.
(function () {
  "use strict";
  var rows = document.querySelector("tbody[data-live='rows']");
  if (!rows) { return; }
  var every = 2000;
  function refresh() {
    var url = new URL(window.location.href);
    url.searchParams.set("fragment", "rows");
    fetch(url.toString(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (res) {
        if (!res.ok) { throw new Error("HTTP " + res.status); }
        return res.text();
      })
      .then(function (html) {
        rows.innerHTML = html;
        var empty = document.getElementById("empty");
        if (empty) { empty.hidden = rows.children.length > 0; }
      })
      .catch(function () { /* signed out or server gone: keep the rows shown */ })
      .then(function () { window.setTimeout(refresh, every); });
  }
  window.setTimeout(refresh, every);
})();
